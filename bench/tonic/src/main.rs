//! idc_tonic_server: idc's two services (`idc.Indicator/GetMACD` and
//! `idc.IndicatorGraph/GetMACDGraph`) on tonic, as a peer to benchmark idc
//! against. It answers as the Python reference server in parity mode
//! (tests/python/idc_server.py) and takes the same flags:
//!
//!     idc_tonic_server [--host [::]] [--port 50051] [--graph-file ./macd.png] [--chunk-size 1024]
//!
//! On start-up it prints exactly "Server started, listening on PORT" (the
//! port bound, so `--port 0` can be used) and flushes stdout. SIGTERM or
//! SIGINT stops it, with a short grace for calls in flight, and it exits 0.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use tokio::signal::unix::{signal, SignalKind};
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

mod pb {
    tonic::include_proto!("idc");
}

use pb::indicator_graph_server::{IndicatorGraph, IndicatorGraphServer};
use pb::indicator_server::{Indicator, IndicatorServer};
use pb::{MacdData, MacdGraphReply, MacdGraphRequest, MacdReply, MacdRequest};

/// How long calls in flight may go on after SIGTERM/SIGINT, as the Python
/// reference's `server.stop(1.0)`.
const STOP_GRACE: Duration = Duration::from_secs(1);

const USAGE: &str = "usage: idc_tonic_server [--host [::]] [--port 50051] \
                     [--graph-file ./macd.png] [--chunk-size 1024]";

struct Args {
    host: String,
    port: u16,
    graph_file: String,
    chunk_size: usize,
}

/// Hand-parsed (`--flag VALUE` or `--flag=VALUE`): four flags do not need a
/// dependency.
fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args { host: "[::]".to_owned(), port: 50051, graph_file: "./macd.png".to_owned(), chunk_size: 1024 };
    while let Some(arg) = argv.next() {
        if arg == "-h" || arg == "--help" {
            return Err(String::new());
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg, None),
        };
        if !matches!(flag.as_str(), "--host" | "--port" | "--graph-file" | "--chunk-size") {
            return Err(format!("unknown argument {flag:?}"));
        }
        let value = match inline.or_else(|| argv.next()) {
            Some(value) => value,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag.as_str() {
            "--host" => args.host = value,
            "--port" => args.port = value.parse().map_err(|_| format!("--port must be 0 to 65535, not {value:?}"))?,
            "--graph-file" => args.graph_file = value,
            _ => {
                args.chunk_size = match value.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--chunk-size must be a positive integer, not {value:?}")),
                }
            }
        }
    }
    Ok(args)
}

struct IndicatorService;

#[tonic::async_trait]
impl Indicator for IndicatorService {
    async fn get_macd(&self, request: Request<MacdRequest>) -> Result<Response<MacdReply>, Status> {
        let date = request.into_inner().start_date;
        // Python computes i * 1.1 etc. as doubles and the proto `float` field
        // rounds them to the nearest f32: the same two steps give the same bits.
        let macd = (1..=4)
            .map(|i| {
                let i = i as f64;
                MacdData {
                    date: date.clone(),
                    open: (i * 1.1) as f32,
                    close: (i * 2.1) as f32,
                    high: (i * 3.1) as f32,
                    low: (i * 0.1) as f32,
                    macd: (i * 2.5) as f32,
                }
            })
            .collect();
        Ok(Response::new(MacdReply { macd }))
    }
}

struct IndicatorGraphService {
    /// The graph file, read once at start-up, or why it could not be read.
    ///
    /// Reading it once is the most favourable choice for this peer: the
    /// Python reference and idc open and read the file on every call, this
    /// server only slices memory. A benchmark that shows idc on par with it
    /// on GetMACDGraph is therefore not flattering idc.
    graph: Result<Bytes, String>,
    chunk_size: usize,
}

type ChunkStream = tokio_stream::Iter<std::vec::IntoIter<Result<MacdGraphReply, Status>>>;

#[tonic::async_trait]
impl IndicatorGraph for IndicatorGraphService {
    type GetMACDGraphStream = ChunkStream;

    async fn get_macd_graph(
        &self,
        _request: Request<MacdGraphRequest>,
    ) -> Result<Response<Self::GetMACDGraphStream>, Status> {
        // As the Python reference, which opens the file inside the response
        // generator: a file it cannot read fails the call with UNKNOWN.
        let graph = self.graph.as_ref().map_err(|err| Status::unknown(err.clone()))?;
        // Bytes::slice shares the one buffer (a reference count, no copy);
        // an empty file gives an empty stream, as in Python.
        let chunks: Vec<_> = (0..graph.len())
            .step_by(self.chunk_size)
            .map(|start| {
                let end = graph.len().min(start + self.chunk_size);
                Ok(MacdGraphReply { macd_chunk: graph.slice(start..end) })
            })
            .collect();
        Ok(Response::new(tokio_stream::iter(chunks)))
    }
}

/// The addresses `--host` names, in resolver order: an IP literal, with or
/// without brackets (`[::]`, `::1`, `127.0.0.1`), or a host name.
fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Ok((bare, port).to_socket_addrs()?.collect())
}

fn bind(host: &str, port: u16) -> Result<TcpIncoming, String> {
    let fail = |err: &dyn std::fmt::Display| format!("could not bind {host}:{port}: {err}");
    let addrs = resolve(host, port).map_err(|err| fail(&err))?;
    let mut last = None;
    for addr in addrs {
        match TcpIncoming::bind(addr) {
            // Server::serve would set TCP_NODELAY on accepted sockets;
            // serve_with_incoming leaves it to the incoming stream, so set it
            // here as tonic's default does (small replies go out at once).
            Ok(incoming) => return Ok(incoming.with_nodelay(Some(true))),
            Err(err) => last = Some(err),
        }
    }
    Err(match last {
        Some(err) => fail(&err),
        None => fail(&"no address"),
    })
}

async fn serve(args: Args) -> Result<(), String> {
    let graph = std::fs::read(&args.graph_file)
        .map(Bytes::from)
        .map_err(|err| format!("could not read graph file {}: {err}", args.graph_file));
    if let Err(err) = &graph {
        // Not fatal: a benchmark of GetMACD alone needs no graph file.
        eprintln!("warning: {err}; GetMACDGraph will fail with UNKNOWN");
    }

    let incoming = bind(&args.host, args.port)?;
    let port = incoming.local_addr().map_err(|err| format!("local address: {err}"))?.port();

    // Installed before the start-up line, so that a signal sent as soon as
    // it is read takes the graceful path rather than the default action.
    let mut sigterm = signal(SignalKind::terminate()).map_err(|err| format!("SIGTERM handler: {err}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|err| format!("SIGINT handler: {err}"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();

    let server = Server::builder()
        .add_service(IndicatorServer::new(IndicatorService))
        .add_service(IndicatorGraphServer::new(IndicatorGraphService { graph, chunk_size: args.chunk_size }))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stop_rx.await;
        });
    let mut server = tokio::spawn(server);

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "Server started, listening on {port}")
        .and_then(|()| stdout.flush())
        .map_err(|err| format!("stdout: {err}"))?;
    drop(stdout);

    tokio::select! {
        _ = sigterm.recv() => {}
        _ = sigint.recv() => {}
        result = &mut server => {
            return match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(format!("server: {err}")),
                Err(err) => Err(format!("server task: {err}")),
            };
        }
    }
    let _ = stop_tx.send(());
    // Graceful shutdown waits for every stream and connection to end; a
    // client that keeps one open must not keep this process alive, hence
    // the bound. Tasks still running are dropped with the runtime.
    match tokio::time::timeout(STOP_GRACE, server).await {
        Ok(Ok(Err(err))) => Err(format!("server: {err}")),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("idc_tonic_server: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Default worker count: one per CPU, tokio's (and tonic users') default.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("idc_tonic_server: tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(args));
    // Don't wait for connections the grace period gave up on.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("idc_tonic_server: {err}");
            ExitCode::FAILURE
        }
    }
}
