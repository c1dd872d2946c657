// idc_cpp_server: the benchmark's C++ peer. It serves the same two protos as
// idc_server, in parity mode, on gRPC C-core's own C++ API (Debian's
// libgrpc++-dev), with the callback API: no thread of ours waits on a
// completion queue, gRPC runs the handlers on its own threads.
//
//   idc_cpp_server [--host [::]] [--port 50051] [--graph-file ./macd.png]
//                  [--chunk-size 1024]
//
// GetMACD answers exactly as the Python reference (tests/python/idc_server.py)
// does, byte for byte; GetMACDGraph streams the graph file in --chunk-size
// pieces. On start it prints "Server started, listening on PORT" and flushes;
// SIGTERM or SIGINT stops it (calls in flight get one second) and it exits 0.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <pthread.h>

#include "indicator.grpc.pb.h"
#include "indicator_graph.grpc.pb.h"

namespace {

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "idc_cpp_server: " << message << "\n"
              << "usage: idc_cpp_server [--host HOST] [--port PORT] [--graph-file PATH] "
                 "[--chunk-size N]\n";
    std::exit(2);
}

struct Options {
    std::string host = "[::]";
    int port = 50051;
    std::string graph_file = "./macd.png";
    size_t chunk_size = 1024;
};

// A whole decimal number in [min, max], or a usage error naming the flag.
long parse_number(const std::string& flag, const std::string& text, long min, long max) {
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value < min || value > max) {
        usage_error(flag + " must be a whole number from " + std::to_string(min) + " to " +
                    std::to_string(max) + ", got \"" + text + "\"");
    }
    return value;
}

Options parse_options(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        // Both "--flag value" and "--flag=value", as Python's argparse takes.
        size_t eq = arg.find('=');
        if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        } else if (arg == "--help" || arg == "-h") {
            std::cout << "usage: idc_cpp_server [--host [::]] [--port 50051] "
                         "[--graph-file ./macd.png] [--chunk-size 1024]\n";
            std::exit(0);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            usage_error("missing value for " + arg);
        }
        if (arg == "--host") {
            options.host = value;
        } else if (arg == "--port") {
            options.port = static_cast<int>(parse_number(arg, value, 0, 65535));
        } else if (arg == "--graph-file") {
            options.graph_file = value;
        } else if (arg == "--chunk-size") {
            // The range idc_server accepts (the Python reference only asks
            // for a positive size).
            options.chunk_size = static_cast<size_t>(parse_number(arg, value, 1, 4 << 20));
        } else {
            usage_error("unknown flag " + arg);
        }
    }
    return options;
}

class IndicatorService final : public idc::Indicator::CallbackService {
    grpc::ServerUnaryReactor* GetMACD(grpc::CallbackServerContext* context,
                                      const idc::MACDRequest* request,
                                      idc::MACDReply* reply) override {
        for (int i = 1; i <= 4; ++i) {
            idc::MACDData* row = reply->add_macd();
            row->set_date(request->start_date());
            // Python computes i * 1.1 in double and the float field rounds
            // it once; computing in float would round twice and differ in
            // the last bit for some values, so the reply bytes would too.
            row->set_open(static_cast<float>(i * 1.1));
            row->set_close(static_cast<float>(i * 2.1));
            row->set_high(static_cast<float>(i * 3.1));
            row->set_low(static_cast<float>(i * 0.1));
            row->set_macd(static_cast<float>(i * 2.5));
        }
        grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
        reactor->Finish(grpc::Status::OK);
        return reactor;
    }
};

// Streams one shared, immutable copy of the graph file. gRPC owns the
// reactor's lifetime until OnDone, where it deletes itself.
class GraphWriter final : public grpc::ServerWriteReactor<idc::MACDGraphReply> {
  public:
    GraphWriter(std::shared_ptr<const std::string> graph, size_t chunk_size)
        : graph_(std::move(graph)), chunk_size_(chunk_size) {
        NextWrite();
    }

    void OnWriteDone(bool ok) override {
        if (!ok) {
            // The client went away or cancelled: the write failed, and
            // gRPC still wants exactly one Finish.
            Finish(grpc::Status::CANCELLED);
            return;
        }
        NextWrite();
    }

    void OnDone() override { delete this; }

  private:
    void NextWrite() {
        if (offset_ >= graph_->size()) {
            // Only an empty file gets here: zero messages, then OK, as the
            // Python reference does.
            Finish(grpc::Status::OK);
            return;
        }
        size_t n = std::min(chunk_size_, graph_->size() - offset_);
        reply_.set_macd_chunk(graph_->data() + offset_, n);
        offset_ += n;
        if (offset_ >= graph_->size()) {
            // The last chunk goes out with the status (trailers), saving a
            // round of the reactor: the cheapest way the API offers.
            StartWriteAndFinish(&reply_, grpc::WriteOptions(), grpc::Status::OK);
        } else {
            StartWrite(&reply_);
        }
    }

    std::shared_ptr<const std::string> graph_;
    size_t chunk_size_;
    size_t offset_ = 0;
    idc::MACDGraphReply reply_;  // must live until its write is done
};

class IndicatorGraphService final : public idc::IndicatorGraph::CallbackService {
  public:
    IndicatorGraphService(std::shared_ptr<const std::string> graph, size_t chunk_size)
        : graph_(std::move(graph)), chunk_size_(chunk_size) {}

    grpc::ServerWriteReactor<idc::MACDGraphReply>* GetMACDGraph(
        grpc::CallbackServerContext*, const idc::MACDGraphRequest*) override {
        return new GraphWriter(graph_, chunk_size_);
    }

  private:
    std::shared_ptr<const std::string> graph_;
    size_t chunk_size_;
};

// The graph file is read into memory once, at start-up. This is the most
// favourable choice for this peer: idc_server and the Python reference open
// and read the file on every call, so in a benchmark this server does less
// work per GetMACDGraph than they do. A missing file is therefore an error at
// start-up here, where the others answer that call with an error.
std::shared_ptr<const std::string> read_graph_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "idc_cpp_server: cannot open --graph-file " << path << ": "
                  << std::strerror(errno) << "\n";
        std::exit(1);
    }
    std::ostringstream contents;
    contents << in.rdbuf();
    if (in.bad()) {
        std::cerr << "idc_cpp_server: cannot read --graph-file " << path << "\n";
        std::exit(1);
    }
    return std::make_shared<const std::string>(contents.str());
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse_options(argc, argv);
    std::shared_ptr<const std::string> graph = read_graph_file(options.graph_file);

    // Block SIGINT and SIGTERM before gRPC starts its threads, so that they
    // all inherit the mask and the signals wait for sigwait below: a signal
    // handler could not safely call Shutdown.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    IndicatorService indicator;
    IndicatorGraphService indicator_graph(graph, options.chunk_size);

    std::string address = options.host + ":" + std::to_string(options.port);
    int bound_port = 0;
    grpc::ServerBuilder builder;
    // gRPC C++ listens with SO_REUSEPORT by default: a second server on a
    // busy port would then start and share the connections, silently
    // skewing a benchmark. Like idc_server without --reuse-port, refuse.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &bound_port);
    builder.RegisterService(&indicator);
    builder.RegisterService(&indicator_graph);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server || bound_port == 0) {
        std::cerr << "idc_cpp_server: could not bind " << address << "\n";
        return 1;
    }
    std::cout << "Server started, listening on " << bound_port << std::endl;

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    // As the Python reference: calls in flight get one second, then are
    // cancelled.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server->Wait();
    return 0;
}
