"""What the secure Python peers (secure_client.py, reflection_client.py)
share: the TLS and bearer-token flags, the channel they describe, and a
client interceptor that decorates every call made on a channel.

    --tls-ca FILE           PEM roots that the server's certificate must chain
                            to; turns TLS on (without it the channel is
                            plaintext)
    --tls-cert FILE         PEM client certificate chain, for mTLS (needs
    --tls-key FILE          --tls-key and --tls-ca; --tls-key needs --tls-cert)
    --tls-server-name NAME  name checked against the server's certificate
                            instead of the host of --target (channel option
                            grpc.ssl_target_name_override; needs --tls-ca)
    --auth-token-file FILE  file holding a bearer token; trailing whitespace
                            (the newline) is stripped, and every call sends
                            the metadata "authorization: Bearer TOKEN"
    --gzip                  compress every request with gzip

Imports no generated stub, so a peer may import it before
stubs.ensure_stubs().
"""

import collections

import grpc


def add_security_flags(parser):
    """Add the flags above to the argparse parser."""
    parser.add_argument("--tls-ca", metavar="FILE")
    parser.add_argument("--tls-cert", metavar="FILE")
    parser.add_argument("--tls-key", metavar="FILE")
    parser.add_argument("--tls-server-name", metavar="NAME")
    parser.add_argument("--auth-token-file", metavar="FILE")
    parser.add_argument("--gzip", action="store_true", help="compress every request with gzip")
    return parser


def check_security_flags(parser, args):
    """Reject flag combinations that would silently do something else than
    asked (parser.error exits 2): a client certificate or a server name
    without TLS would otherwise be ignored on a plaintext channel."""
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_ca is None:
        if args.tls_cert is not None:
            parser.error("--tls-cert needs --tls-ca (mTLS runs over TLS)")
        if args.tls_server_name is not None:
            parser.error("--tls-server-name needs --tls-ca")


def _read(parser, path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        parser.error("cannot read %s %s: %s" % (what, path, err.strerror))


def auth_metadata(parser, args):
    """The metadata every call sends: (("authorization", "Bearer TOKEN"),)
    with --auth-token-file, else None. An empty token file is an error
    rather than an empty bearer, which a test would not mean to send."""
    if args.auth_token_file is None:
        return None
    token = _read(parser, args.auth_token_file, "token file").decode("utf-8").rstrip()
    if not token:
        parser.error("token file %s is empty" % args.auth_token_file)
    return (("authorization", "Bearer " + token),)


def open_channel(parser, args):
    """A channel to args.target: TLS (with a client certificate for mTLS)
    when --tls-ca is given, plaintext otherwise."""
    # --gzip: the channel compresses what it sends, and says it accepts gzip back.
    compression = grpc.Compression.Gzip if getattr(args, "gzip", False) else None
    if args.tls_ca is None:
        return grpc.insecure_channel(args.target, compression=compression)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(parser, args.tls_ca, "CA file"),
        private_key=_read(parser, args.tls_key, "key file") if args.tls_key else None,
        certificate_chain=_read(parser, args.tls_cert, "certificate file") if args.tls_cert else None,
    )
    options = []
    if args.tls_server_name is not None:
        options.append(("grpc.ssl_target_name_override", args.tls_server_name))
    return grpc.secure_channel(args.target, credentials, options=options, compression=compression)


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class CallDecorator(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Decorates every call on a grpc.intercept_channel: appends metadata
    (the bearer token), sets a deadline where the caller set none, and
    renames methods whose path starts with a key of rename_prefixes.

    It exists for callers that make calls we cannot pass metadata or a
    timeout to, such as grpc_reflection's ProtoReflectionDescriptorDatabase,
    which also hard-codes the v1alpha method path."""

    def __init__(self, metadata=None, timeout=None, rename_prefixes=None):
        self._metadata = tuple(metadata or ())
        self._timeout = timeout
        self._rename = dict(rename_prefixes or {})

    def _decorate(self, details):
        method = details.method
        for old, new in self._rename.items():
            if method.startswith(old):
                method = new + method[len(old):]
        metadata = tuple(details.metadata or ()) + self._metadata
        timeout = details.timeout if details.timeout is not None else self._timeout
        return _CallDetails(
            method,
            timeout,
            metadata or None,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._decorate(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._decorate(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._decorate(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._decorate(details), request_iterator)
