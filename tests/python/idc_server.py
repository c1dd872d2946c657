"""Python reference server for idc: the article's Indicator and IndicatorGraph
servers, both served on one port.

GetMACD and GetMACDGraph behave exactly as in the article; only the flags
below were added so tests can drive the server:

    idc_server.py [--host HOST] [--port PORT] [--graph-file PATH] [--chunk-size N]

--host        address to bind (default "[::]")
--port        port to bind (default 50051; 0 picks a free port, and the port
              actually bound is the one printed)
--graph-file  file streamed by GetMACDGraph, opened on every call
              (default "./macd.png", relative to the working directory)
--chunk-size  bytes per MACDGraphReply (default 1024)

On startup it prints exactly "Server started, listening on PORT" and flushes
stdout. SIGTERM or SIGINT stops the server (server.stop with a short grace)
and the process exits 0.
"""

from concurrent import futures

import grpc

import peer
import stubs

stubs.ensure_stubs()

import indicator_graph_pb2  # noqa: E402
import indicator_graph_pb2_grpc  # noqa: E402
import indicator_pb2  # noqa: E402
import indicator_pb2_grpc  # noqa: E402


class Indicator(indicator_pb2_grpc.IndicatorServicer):
    def GetMACD(self, request, context):
        macd = []
        for i in range(1, 5):
            data = indicator_pb2.MACDData(
                date=request.start_date,
                open=i * 1.1,
                close=i * 2.1,
                high=i * 3.1,
                low=i * 0.1,
                macd=i * 2.5,
            )
            macd.append(data)
        return indicator_pb2.MACDReply(macd=macd)


class IndicatorGraph(indicator_graph_pb2_grpc.IndicatorGraphServicer):
    def __init__(self, graph_file, chunk_size):
        self.graph_file = graph_file
        self.chunk_size = chunk_size

    def GetMACDGraph(self, request, context):
        chunk_size = self.chunk_size
        with open(self.graph_file, mode="rb") as f:
            while True:
                chunk = f.read(chunk_size)
                if not chunk:
                    return
                response = indicator_graph_pb2.MACDGraphReply(macd_chunk=chunk)
                yield response


def parse_args(argv=None):
    parser = peer.server_arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--graph-file", default="./macd.png")
    parser.add_argument("--chunk-size", type=int, default=1024)
    args = parser.parse_args(argv)
    if args.chunk_size <= 0:
        parser.error("--chunk-size must be positive")
    return args


def serve(args):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    indicator_pb2_grpc.add_IndicatorServicer_to_server(Indicator(), server)
    indicator_graph_pb2_grpc.add_IndicatorGraphServicer_to_server(
        IndicatorGraph(args.graph_file, args.chunk_size), server
    )
    peer.run_server(server, args.host, args.port)


if __name__ == "__main__":
    serve(parse_args())
