//! Chart: what `GetMACDGraph` streams and in what pieces, and `--render-chart`, which writes one
//! chart and exits. The chart's default size lives in [`crate::domain::chart`].

use std::path::PathBuf;

use super::bounds::Bounds;
use crate::domain::chart::ChartSize;

/// Bytes per `MACDGraphReply`: the article's 1024.
pub const DEFAULT_CHUNK_SIZE: usize = 1024;
/// The largest chunk size: 4 MiB. Clients with gRPC's default 4 MiB receive limit (Python's,
/// among others) reject chunks above 4 MiB − 5 bytes, as each reply adds a field tag and a length
/// to the chunk; `idc_graph_client` raises its limit to accept them.
pub const MAX_CHUNK_SIZE: usize = 4 * 1024 * 1024;
pub const CHUNK_SIZE: Bounds<usize> = Bounds::new(1, MAX_CHUNK_SIZE, "a number of bytes");
/// The reference's graph file, streamed in parity mode when no graph file is given.
pub const DEFAULT_GRAPH_FILE: &str = "./macd.png";
/// Graph files up to this size are kept in memory between calls, keyed by what identifies their
/// content (device, inode, size, modification and change times), so a replaced or rewritten file
/// is picked up by the next call as the reference does. Larger files are streamed from disk a
/// block at a time, as a 1 GiB file should be.
pub const GRAPH_FILE_CACHE_MAX: u64 = 16 * 1024 * 1024;
/// Rendered charts kept for repeated requests (data mode), least recently used first out: at most
/// this many, and at most [`CHART_CACHE_BYTES`] of PNG. A 250-bar 1280x800 chart is about 90 KB.
pub const CHART_CACHE_CHARTS: usize = 64;
/// The most PNG bytes the chart cache holds.
pub const CHART_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The graph that `GetMACDGraph` streams.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Chart")]
pub struct Chart {
    /// Chart size in pixels, `WIDTHxHEIGHT`.
    #[arg(long, default_value_t = ChartSize::default(),
          help = format!("Chart size in pixels, WIDTHxHEIGHT, from {} to {}.", ChartSize::MIN, ChartSize::MAX))]
    pub chart_size: ChartSize,

    /// PNG file streamed by GetMACDGraph, read anew for every call. Default: ./macd.png in
    /// parity mode, streaming the chart of the embedded sample while that file does not exist;
    /// in data mode, a chart of the requested range.
    #[arg(long)]
    pub graph_file: Option<PathBuf>,

    /// Bytes per `MACDGraphReply`.
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE, value_parser = CHUNK_SIZE.parser(),
          help = format!("Bytes per GetMACDGraph message, {CHUNK_SIZE} (4 MiB)"))]
    pub chunk_size: usize,
}

/// `chart-size 1280x800 graph-file none chunk-size 1024`, for the start-up log line.
impl std::fmt::Display for Chart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let graph_file = super::path_or_none(&self.graph_file);
        write!(f, "chart-size {} graph-file {graph_file} chunk-size {}", self.chart_size, self.chunk_size)
    }
}

impl Default for Chart {
    fn default() -> Self {
        super::defaults()
    }
}

impl Chart {
    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        // The flag's own parser knows the size's range; its message is the flag's.
        if let Err(message) = self.chart_size.to_string().parse::<ChartSize>() {
            return Err(super::ConfigError::Setting { flag: "chart-size", message });
        }
        CHUNK_SIZE.check("chunk-size", self.chunk_size)
    }
}

/// `--render-chart`: write one chart and exit, without serving. Not part of [`super::Config`]:
/// it is something the binary does once, not a setting of the server.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Chart")]
pub struct RenderChart {
    /// Write the chart of --start-date..--end-date to this PNG and exit, without serving. Uses
    /// --data, or the embedded sample. A symbolic link's target is replaced; `-` (stdout), a
    /// character device or a FIFO is written directly.
    #[arg(long, value_name = "OUT.png")]
    pub render_chart: Option<PathBuf>,

    /// With --render-chart: first day, YYYY-MM-DD (empty: the first bar).
    #[arg(long, default_value = "", requires = "render_chart")]
    pub start_date: String,

    /// With --render-chart: last day, YYYY-MM-DD (empty: the last bar).
    #[arg(long, default_value = "", requires = "render_chart")]
    pub end_date: String,
}
