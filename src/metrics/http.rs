//! The `/metrics` endpoint: hyper's HTTP/1 server on a tokio runtime of its own.
//!
//! The runtime is a current-thread one on a dedicated thread (`idc-metrics`), so a scrape never
//! runs on, or waits for, a gRPC completion-queue thread, and the endpoint costs one thread
//! however many scrapers connect. Connections are served concurrently (up to
//! [`MAX_CONNECTIONS`]), each answers one request and closes, and each has a deadline for all of
//! it ([`REQUEST_DEADLINE`]): a client that trickles its request a byte at a time is cut off then,
//! and holds no other scrape off meanwhile.
//!
//! `GET` (and `HEAD`) of `/metrics` answers in the format the `Accept` header asks for, as
//! Prometheus' own client libraries choose: OpenMetrics when it names
//! `application/openmetrics-text` (as Prometheus does), the classic text format 0.0.4 otherwise
//! (see [`super::text`]). Other methods get 405 with `Allow: GET, HEAD`, other paths 404.

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::pin;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{self, Either};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Metrics;

/// The most one connection may take, from its accept to its close: a scrape on this machine's
/// network takes milliseconds; a request that is not whole by then is not coming.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(3);
/// The most the request head may take (hyper closes the connection then).
const HEAD_DEADLINE: Duration = Duration::from_secs(2);
/// Connections served at once; further ones wait in the listen backlog, for at most one
/// [`REQUEST_DEADLINE`] each. Bounds what a flood of connections costs.
const MAX_CONNECTIONS: usize = 32;
/// The most of a request head that is buffered (hyper's smallest limit): a scraper sends a few
/// hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// The most of a request body that is read (and thrown away) before the answer; see
/// [`respond`].
const MAX_BODY: usize = 64 * 1024;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/metrics` endpoint. Stops when dropped, with the server that holds it.
pub struct MetricsEndpoint {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Listens on `address` (`HOST:PORT`) and serves `metrics` at `/metrics`. The port is bound
    /// before this returns, so a taken one is an error here, at start-up.
    pub fn start(address: &str, metrics: Arc<Metrics>) -> io::Result<MetricsEndpoint> {
        let addresses: Vec<SocketAddr> = address.to_socket_addrs()?.collect();
        let listener = std::net::TcpListener::bind(&addresses[..])?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let (stop, stopped) = oneshot::channel();
        let thread = thread::Builder::new()
            .name("idc-metrics".into())
            .spawn(move || runtime.block_on(serve(listener, metrics, stopped)))?;
        log::info!("metrics at http://{address}/metrics");
        Ok(MetricsEndpoint { address, stop: Some(stop), thread: Some(thread) })
    }

    /// The address it listens on (the real port when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for MetricsEndpoint {
    /// Stops accepting, and drops the connections still open with the runtime.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until `stop` resolves (or its sender is dropped).
async fn serve(listener: TcpListener, metrics: Arc<Metrics>, mut stop: oneshot::Receiver<()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = match future::select(pin!(Arc::clone(&slots).acquire_owned()), &mut stop).await {
            Either::Left((Ok(slot), _)) => slot,
            // Stopped (the semaphore is never closed).
            _ => return,
        };
        let accepted = match future::select(pin!(listener.accept()), &mut stop).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => return,
        };
        match accepted {
            Ok((stream, _)) => drop(tokio::spawn(connection(stream, Arc::clone(&metrics), slot))),
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to close rather than spin.
                log::debug!("metrics: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one connection: one request, then close; all of it within [`REQUEST_DEADLINE`].
async fn connection(stream: TcpStream, metrics: Arc<Metrics>, _slot: OwnedSemaphorePermit) {
    let service = hyper::service::service_fn(move |request| respond(request, Arc::clone(&metrics)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEAD_DEADLINE).keep_alive(false).max_buf_size(MAX_HEAD);
    match tokio::time::timeout(REQUEST_DEADLINE, http.serve_connection(TokioIo::new(stream), service)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::debug!("metrics: request failed: {e}"),
        Err(_) => log::debug!("metrics: a request took more than {REQUEST_DEADLINE:?}; its connection is closed"),
    }
}

/// Answers one request. What the client sent after the head is read first (up to [`MAX_BODY`],
/// within the connection's deadline): closing a socket with unread bytes makes the kernel send a
/// reset, which can reach the client before the answer does.
async fn respond(request: Request<Incoming>, metrics: Arc<Metrics>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (head, body) = request.into_parts();
    let _ = Limited::new(body, MAX_BODY).collect().await;
    Ok(answer(&head.method, head.uri.path(), head.headers.get(ACCEPT), &metrics))
}

fn answer(method: &Method, path: &str, accept: Option<&HeaderValue>, metrics: &Metrics) -> Response<Full<Bytes>> {
    if path != "/metrics" {
        return text_response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "only /metrics is served here\n".into(),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD are served at /metrics\n".into(),
        );
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    // hyper leaves the body out of the answer to a HEAD, and keeps its Content-Length.
    if wants_openmetrics(accept) {
        text_response(StatusCode::OK, OPENMETRICS, metrics.encode())
    } else {
        text_response(StatusCode::OK, CLASSIC, metrics.encode_classic())
    }
}

fn text_response(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Whether an `Accept` header asks for OpenMetrics: one of its media ranges names
/// `application/openmetrics-text` with a nonzero weight, and no `text/plain` range weighs more.
/// Prometheus sends `application/openmetrics-text;version=1.0.0;q=0.5,…,text/plain;
/// version=0.0.4;q=0.3,*/*;q=0.2` unless told to scrape the classic format only; `curl` sends
/// `*/*`, and gets the classic format, as from Prometheus' Go and Python clients.
fn wants_openmetrics(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|value| value.to_str().ok()) else { return false };
    let (mut openmetrics, mut classic) = (0.0_f32, 0.0_f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let weight = parts
            .filter_map(|parameter| parameter.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, q)| q.trim().parse().unwrap_or(0.0));
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            openmetrics = openmetrics.max(weight);
        } else if media.eq_ignore_ascii_case("text/plain") {
            classic = classic.max(weight);
        }
    }
    openmetrics > 0.0 && openmetrics >= classic
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(accept: &str) -> bool {
        wants_openmetrics(Some(&HeaderValue::from_str(accept).unwrap()))
    }

    #[test]
    fn openmetrics_only_when_asked_for_and_preferred() {
        // What Prometheus 2.x and 3.x send by default.
        assert!(wants(
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        ));
        assert!(wants("application/openmetrics-text; version=1.0.0; charset=utf-8"));
        assert!(wants("Application/OpenMetrics-Text"));
        // Prometheus told to scrape the classic format, curl, a browser, no header at all.
        assert!(!wants("text/plain;version=0.0.4;q=1,*/*;q=0.1"));
        assert!(!wants("*/*"));
        assert!(!wants("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(!wants_openmetrics(None));
        // Weights: refused outright, or preferred less than the classic format.
        assert!(!wants("application/openmetrics-text;q=0"));
        assert!(!wants("application/openmetrics-text;q=0.2,text/plain;q=0.8"));
        assert!(wants("text/plain;q=0.2,application/openmetrics-text;Q=0.8"));
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        let metrics = Metrics::new();
        let status = |method: Method, path: &str| answer(&method, path, None, &metrics).status();
        assert_eq!(status(Method::GET, "/metrics"), StatusCode::OK);
        assert_eq!(status(Method::HEAD, "/metrics"), StatusCode::OK);
        assert_eq!(status(Method::GET, "/"), StatusCode::NOT_FOUND);
        assert_eq!(status(Method::POST, "/other"), StatusCode::NOT_FOUND);
        let refused = answer(&Method::POST, "/metrics", None, &metrics);
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(refused.headers().get(ALLOW).unwrap(), "GET, HEAD");
        let classic = answer(&Method::GET, "/metrics", None, &metrics);
        assert_eq!(classic.headers().get(CONTENT_TYPE).unwrap(), CLASSIC);
    }
}
