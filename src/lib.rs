//! idc: a gRPC indicator service, wire-compatible with the Python `grpcio` service of the
//! original article (`idc.Indicator/GetMACD`, `idc.IndicatorGraph/GetMACDGraph`).
//!
//! The binaries in `bin/` are thin: they parse flags (declared in [`config`]) into a
//! [`config::Config`], set up logging, and call [`server::start`] (or
//! [`data::render_chart_file`]); tests start the same complete server in process.
//!
//! # Layout
//!
//! Two crates in one workspace. **idc-core** (`core/`) is everything that needs no gRPC: the
//! protocol's messages, the domain and the text printer; it never depends on `grpcio`, so the
//! compiler keeps the domain free of transport concerns, and what needs only the domain (the fuzz
//! targets in `fuzz/`) builds without gRPC C-core. **idc** (this crate) adds the service, the
//! transport and the binaries, and re-exports idc-core's modules under the paths they always had
//! (`idc::domain`, `idc::text_format`, `idc::protocol::indicator`).
//!
//! From the wire inwards, each layer using only the ones below it
//! (protocol → domain → service → transport → bins):
//!
//! * [`protocol`]: the protobuf messages and grpcio service glue, generated from `protos/` into
//!   `OUT_DIR` and never edited by hand. The messages of the two idc services come from idc-core;
//!   this crate's `build.rs` adds their grpcio glue, and health and reflection.
//! * [`domain`] (idc-core): what the service computes, with no knowledge of gRPC: dates, daily
//!   bars and their CSV loader, MACD in two conventions, the chart, the embedded sample, and the
//!   article's placeholder rows for parity mode. The MACD and chart defaults live here.
//! * [`text_format`] (idc-core): prints a message exactly as Python's `print(message)` does with
//!   protobuf's default (upb) backend, so that `idc_client` prints what the article's client
//!   prints.
//! * [`config`]: everything the server can be told, each setting declared once (flag, default,
//!   range, help and `Config` field together, one file per group), the whole `idc_server`
//!   command line, and the Markdown of docs/configuration.md rendered from it.
//! * [`data`]: loads the bars a config names, and writes `--render-chart`'s file.
//! * [`service`]: the gRPC handlers. Each validates its request, calls the domain, and maps
//!   domain errors to a gRPC status. Blocking work (file reads, chart renders) runs on
//!   [`blocking::BlockingPool`], never on a completion-queue thread.
//! * [`server`]: transport: the listener (checked before gRPC binds it), channel arguments and
//!   limits, health, reflection, start-up from a config, and the graceful drain driven by a future
//!   that the caller passes in ([`server::shutdown::signal`] for the binary).
//! * [`tls`] and [`auth`]: TLS credentials from PEM files, and the bearer token, for the server
//!   and the clients alike.
//! * [`client`]: what the two client binaries share: a checked target, a channel, the calls, and
//!   writing a streamed file so that a failed stream never leaves a truncated file behind.
//! * [`metrics`]: one log line and the Prometheus counters per call, and the `/metrics` endpoint
//!   (hyper on a thread of its own; OpenMetrics or the classic text format, as the scraper asks).
//! * [`catalog`]: the instruments served, loaded from `--data` (a directory with one CSV or
//!   Parquet file an instrument, one file, or the sample), shared by every call, and swapped whole
//!   when a file changes (a scan twice a second) or on SIGHUP.
//! * [`live`]: live bars: `PushBars` journaled (fsynced before the reply), applied and written
//!   back into the instrument files, and the subscriptions with their shared indicator states
//!   and bounded queues.
//! * [`pg`]: PostgreSQL as the catalog several replicas share: the tables, the start-up load,
//!   pushes as transactions, and `LISTEN`/`NOTIFY` between replicas.
//! * [`blocking`]: a small fixed pool of threads for blocking work, with a bounded queue.
//! * [`output`]: files that appear whole or not at all (downloads, rendered charts).
//! * [`signals`]: removes those files' temporary parts when a signal ends the process.
//! * `bin/`: the three binaries, thin over [`config`], [`server`] and [`client`].

pub mod auth;
pub mod blocking;
pub mod catalog;
pub mod client;
pub mod config;
pub mod data;
pub mod live;
pub mod metrics;
pub mod output;
pub mod pg;
pub mod protocol;
pub mod server;
pub mod service;
pub mod signals;
pub mod tls;

pub use idc_core::{domain, text_format};
