"""Python client that learns idc's API from the server's reflection service
alone, then calls GetMACD with message classes built from what it learnt.

    reflection_client.py [--version v1|v1alpha] [--describe SERVICE]
                         [--target HOST:PORT] [--start-date D] [--end-date D] [--timeout S]
                         [--tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME]]
                         [--auth-token-file FILE]

--version          reflection service to ask: "v1"
                   (grpc.reflection.v1.ServerReflection) or "v1alpha"
                   (grpc.reflection.v1alpha.ServerReflection, the default)
--describe         service to describe and call (default "idc.Indicator");
                   a service without a GetMACD method is described only
--start-date       MACDRequest.start_date (default "2023-01-01")
--end-date         MACDRequest.end_date (default "2023-12-31")
--timeout          deadline of each call, reflection ones included, in
                   seconds (default 10)
--tls-ca, --tls-cert, --tls-key, --tls-server-name, --auth-token-file
                   TLS, mTLS and the bearer token: see secure_channel.py.
                   The token goes with every call, reflection ones included.

It prints, in this order:

    services: NAME, NAME, ...          (list_services, sorted, ", " between)
    service idc.Indicator (FILE)       (FILE: the .proto file that defines it)
    method GetMACD(idc.MACDRequest) returns (idc.MACDReply)
    ...                                (one line per method; a streaming side
                                        reads "stream idc.X", as in .proto)
    message idc.MACDRequest            (each message the methods use, and the
      string start_date = 1             messages those use, first seen first;
      ...                               "repeated " before repeated fields)
    indicator client received:
    <print(response)>                  (exactly as the article's client)

No generated idc stub is imported: the request and response classes come
from the descriptors reflection returned (a DescriptorPool over the
reflection database, then message_factory.GetMessageClass), and the call is a
generic channel.unary_unary on "/idc.Indicator/GetMACD".

Reflection versions. grpcio-reflection (1.85.1, as pinned) ships only
grpc_reflection.v1alpha: its reflection_pb2 / reflection_pb2_grpc, its
server (enable_server_reflection serves v1alpha only) and its
ProtoReflectionDescriptorDatabase, whose stub calls
/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo. There is no
grpc_reflection.v1 module. grpc.reflection.v1's reflection.proto is the
v1alpha one with the package renamed (same messages, fields and numbers;
compare protos/grpc/reflection/), so the two are the same on the wire and
differ only in the method path. --version v1 therefore uses the same
database through a client interceptor that rewrites that path to
/grpc.reflection.v1.ServerReflection/ServerReflectionInfo: every reflection
request (list_services, file_containing_symbol, ...) then goes to v1 only,
and a server without v1 fails the first of them with UNIMPLEMENTED.

On an RPC error: one stderr line "METHOD failed: CODE: details" (METHOD is
the full reflection method path, or GetMACD) and exit 1. A service that
reflection does not know, or an error_response to list_services: one stderr
line and exit 1. Bad flags, or
an unreadable certificate, key or token file, exit 2.
"""

import os
import sys

# gRPC C-core itself logs some failures to stderr (a refused TLS handshake,
# at INFO level), beside the one line a failed call prints: keep it to
# errors unless the caller chose a level. C-core reads the variable once,
# when grpc is first imported, hence before any import of grpc or peer.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402
from google.protobuf import descriptor_pool  # noqa: E402
from google.protobuf import message_factory  # noqa: E402
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # noqa: E402
    ProtoReflectionDescriptorDatabase,
)

import peer  # noqa: E402
import secure_channel  # noqa: E402

V1ALPHA_PREFIX = "/grpc.reflection.v1alpha.ServerReflection/"
V1_PREFIX = "/grpc.reflection.v1.ServerReflection/"
REFLECTION_METHOD = "ServerReflectionInfo"
CALLED_METHOD = "GetMACD"


class ReflectionError(Exception):
    """Reflection answered, but not with what we asked for: an unknown
    service, or an error_response to list_services."""


def parse_args(argv=None):
    parser = peer.client_arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--version", choices=("v1", "v1alpha"), default="v1alpha")
    parser.add_argument("--describe", default="idc.Indicator", metavar="SERVICE")
    secure_channel.add_security_flags(parser)
    args = parser.parse_args(argv)
    secure_channel.check_security_flags(parser, args)
    # Read the token and certificates now, so that a bad file is a usage
    # error (exit 2) before any call is made.
    metadata = secure_channel.auth_metadata(parser, args)
    rename = {V1ALPHA_PREFIX: V1_PREFIX} if args.version == "v1" else {}
    # The database makes its calls itself, with no metadata and no
    # deadline: the interceptor adds the token and --timeout to each, and
    # points them at the version asked for.
    args.channel = grpc.intercept_channel(
        secure_channel.open_channel(parser, args),
        secure_channel.CallDecorator(metadata, args.timeout, rename),
    )
    prefix = V1_PREFIX if args.version == "v1" else V1ALPHA_PREFIX
    args.reflection_method = prefix + REFLECTION_METHOD
    return args


def scalar_type_name(field):
    # TYPE_STRING -> "string", as written in a .proto file.
    return descriptor_pb2.FieldDescriptorProto.Type.Name(field.type)[len("TYPE_"):].lower()


def field_line(field):
    if field.message_type is not None:
        type_name = field.message_type.full_name
    elif field.enum_type is not None:
        type_name = field.enum_type.full_name
    else:
        type_name = scalar_type_name(field)
    repeated = "repeated " if field.is_repeated else ""
    return "  %s%s %s = %d" % (repeated, type_name, field.name, field.number)


def method_line(method):
    streaming_in = "stream " if method.client_streaming else ""
    streaming_out = "stream " if method.server_streaming else ""
    return "method %s(%s%s) returns (%s%s)" % (
        method.name,
        streaming_in,
        method.input_type.full_name,
        streaming_out,
        method.output_type.full_name,
    )


def describe(service):
    """The lines describing service: itself, its methods, then every message
    they reach, each once, in the order first seen."""
    lines = ["service %s (%s)" % (service.full_name, service.file.name)]
    lines.extend(method_line(m) for m in service.methods)
    pending = []
    for method in service.methods:
        pending.extend((method.input_type, method.output_type))
    seen = set()
    while pending:
        message = pending.pop(0)
        if message.full_name in seen:
            continue
        seen.add(message.full_name)
        lines.append("message " + message.full_name)
        for field in message.fields:
            lines.append(field_line(field))
            if field.message_type is not None:
                pending.append(field.message_type)
    return lines


def list_services(database):
    # get_services raises KeyError on an error_response (and fails an
    # assert on one whose code is not NOT_FOUND): a server bug, reported as
    # one line rather than a traceback.
    try:
        return sorted(database.get_services())
    except (KeyError, AssertionError) as err:
        detail = " ".join(str(err).split())  # the repr of a message spans lines
        raise ReflectionError("list_services answered with an error_response: %s" % detail)


def find_service(pool, name):
    # The pool asks the database, which asks the server
    # (file_containing_symbol); a symbol the server does not know comes
    # back as KeyError.
    try:
        return pool.FindServiceByName(name)
    except KeyError:
        raise ReflectionError("reflection does not know the service %s" % name)


def call_get_macd(channel, service, args):
    """Call service's GetMACD with classes built from its descriptors and
    print the reply as the article's client does; a service without
    GetMACD (--describe idc.IndicatorGraph) is only described. Returns the
    exit code."""
    method = service.methods_by_name.get(CALLED_METHOD)
    if method is None:
        return 0
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        "/%s/%s" % (service.full_name, method.name),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    try:
        response = call(request_class(start_date=args.start_date, end_date=args.end_date))
    except grpc.RpcError as err:
        return peer.call_failed(CALLED_METHOD, err)
    print("indicator client received: ")
    print(response)
    return 0


def run(args):
    with args.channel as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        try:
            services = list_services(database)
            print("services: " + ", ".join(services), flush=True)
            service = find_service(descriptor_pool.DescriptorPool(database), args.describe)
            print("\n".join(describe(service)), flush=True)
        except grpc.RpcError as err:
            return peer.call_failed(args.reflection_method, err)
        except ReflectionError as err:
            print(err, file=sys.stderr)
            return 1
        return call_get_macd(channel, service, args)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
