"""Opens Subscribe calls that are never read, for tests/v2_hostile.rs to abandon.

    abandon_subscribe.py TARGET COUNT REQUEST_HEX

Opens COUNT channels to TARGET (HOST:PORT), each with a connection of its own (a local
subchannel pool), and starts one `idc.v2.Indicators/Subscribe` call on each with the request
bytes REQUEST_HEX (the Rust test encodes the SubscribeRequest, so no stubs are needed). No reply
is ever read. Prints `opened COUNT` once every call has been started, then waits on stdin: the
test kills this process (SIGKILL) once the server counts the subscriptions, so the kernel drops
every connection at once, with no RST_STREAM and no GOAWAY, as when a client machine vanishes.
"""

import sys

import grpc


def main():
    target, count, request = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
    calls = []
    for _ in range(count):
        channel = grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        # Bytes in, bytes out: the identity (de)serializers.
        subscribe = channel.unary_stream("/idc.v2.Indicators/Subscribe")
        calls.append((channel, subscribe(request, timeout=600)))
    print("opened %d" % count, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
