//! The classic Prometheus text format (version 0.0.4), converted from the OpenMetrics text that
//! `prometheus-client` writes.
//!
//! `prometheus-client` encodes OpenMetrics only, but a scraper that does not ask for OpenMetrics
//! (an older Prometheus, `curl`, Python's `prometheus_client.parser`) expects the classic format,
//! and reads a counter family named the OpenMetrics way (`# TYPE idc_calls counter` over samples
//! named `idc_calls_total`) as untyped samples. No well-kept crate converts between the two:
//! the `prometheus` crate writes the classic format from its own registry (and its default
//! features bring the protobuf 2 codec, which has an open advisory), and `prometheus-client` has
//! no classic encoder. So this is hand-written, as the smallest conversion of the text
//! `prometheus-client` 0.26 produces, the way Prometheus' Python client converts its own
//! OpenMetrics families (`prometheus_client.exposition.generate_latest`):
//!
//! * a counter family takes its samples' name, `_total` included, in `# HELP` and `# TYPE`;
//! * an info family becomes a gauge named `_info`, as its samples are; `unknown` is `untyped`;
//! * `# UNIT` and `# EOF` are not part of the classic format and are dropped;
//! * exemplars (`… # {trace_id="…"} 1.0`) are dropped, and so are `_created` samples, which the
//!   classic format has no place for;
//! * in `# HELP`, `\"` becomes `"`: the classic format escapes only `\\` and `\n` there.
//!
//! Sample lines are otherwise the same in both formats (names, label escaping, values).
//! `prometheus-client` writes no sample timestamps (OpenMetrics counts them in seconds, the
//! classic format in milliseconds), so none are converted.

/// The classic text format (0.0.4) of `openmetrics`, the text of a `prometheus-client` registry.
pub fn classic(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // The family whose descriptor was read last: its name as OpenMetrics wrote it, its type.
    let mut family: Option<(&str, &str)> = None;
    // A `# HELP` is written once the `# TYPE` that follows it says what the family is called.
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take());
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let (classic_name, classic_kind) = classic_type(name, kind);
            match help.take() {
                Some((help_name, text)) if help_name == name => write_help(&mut out, &classic_name, text),
                other => flush_help(&mut out, other),
            }
            out.push_str(&format!("# TYPE {classic_name} {classic_kind}\n"));
            family = Some((name, kind));
        } else if line.starts_with('#') {
            // `# UNIT`, `# EOF`, and any other comment.
            continue;
        } else if !line.is_empty() {
            flush_help(&mut out, help.take());
            let sample = without_exemplar(line);
            if !is_created(sample, family) {
                out.push_str(sample);
                out.push('\n');
            }
        }
    }
    flush_help(&mut out, help);
    out
}

/// A family's name and type in the classic format.
fn classic_type(name: &str, kind: &str) -> (String, &'static str) {
    match kind {
        "counter" => (format!("{name}_total"), "counter"),
        "info" => (format!("{name}_info"), "gauge"),
        "gauge" => (name.to_string(), "gauge"),
        "histogram" => (name.to_string(), "histogram"),
        "summary" => (name.to_string(), "summary"),
        // `unknown`, and the OpenMetrics types prometheus-client does not write.
        _ => (name.to_string(), "untyped"),
    }
}

/// A `# HELP` with no `# TYPE` after it keeps its name.
fn flush_help(out: &mut String, help: Option<(&str, &str)>) {
    if let Some((name, text)) = help {
        write_help(out, name, text);
    }
}

fn write_help(out: &mut String, name: &str, text: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    // `\\` and `\n` mean the same in both formats; `\"` only in OpenMetrics.
    out.push_str(&text.replace("\\\"", "\""));
    out.push('\n');
}

/// `line` without its exemplar: everything from a `#` that stands outside the label set.
fn without_exemplar(line: &str) -> &str {
    let mut in_value = false;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_value => escaped = true,
            '"' => in_value = !in_value,
            '#' if !in_value => return line[..at].trim_end(),
            _ => {}
        }
    }
    line
}

/// Whether `sample` is the `_created` sample of a counter, histogram or summary family.
fn is_created(sample: &str, family: Option<(&str, &str)>) -> bool {
    let Some((name, kind)) = family else { return false };
    let sample_name = sample.split(['{', ' ']).next().unwrap_or(sample);
    matches!(kind, "counter" | "histogram" | "summary") && sample_name.strip_prefix(name) == Some("_created")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OpenMetrics text of a counter, a gauge and a histogram is the classic text of the
    /// Prometheus exposition-format documentation's examples, counters named with `_total`.
    #[test]
    fn counters_take_their_samples_name_and_the_trailer_goes() {
        let openmetrics = "\
# HELP http_requests Requests handled.
# TYPE http_requests counter
http_requests_total{method=\"post\",code=\"200\"} 1027
http_requests_total{method=\"post\",code=\"400\"} 3
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 2
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_sum 53423.0
latency_seconds_count 144320
latency_seconds_bucket{le=\"0.05\"} 24054
latency_seconds_bucket{le=\"+Inf\"} 144320
# EOF
";
        let expected = "\
# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{method=\"post\",code=\"200\"} 1027
http_requests_total{method=\"post\",code=\"400\"} 3
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 2
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_sum 53423.0
latency_seconds_count 144320
latency_seconds_bucket{le=\"0.05\"} 24054
latency_seconds_bucket{le=\"+Inf\"} 144320
";
        assert_eq!(classic(openmetrics), expected);
    }

    #[test]
    fn exemplars_and_created_samples_go_and_a_hash_in_a_label_stays() {
        let openmetrics = "\
# HELP jobs Jobs \\\"run\\\".
# TYPE jobs counter
jobs_total{queue=\"a # b\",x=\"q\\\"#\"} 2 # {trace_id=\"7\"} 1.0 1520879607.789
jobs_created{queue=\"a # b\"} 1520879607.789
# TYPE build info
build_info{version=\"1.2\"} 1
# TYPE odd unknown
odd 1
# EOF
";
        let expected = "\
# HELP jobs_total Jobs \"run\".
# TYPE jobs_total counter
jobs_total{queue=\"a # b\",x=\"q\\\"#\"} 2
# TYPE build_info gauge
build_info{version=\"1.2\"} 1
# TYPE odd untyped
odd 1
";
        assert_eq!(classic(openmetrics), expected);
    }

    /// What the server's own registry writes converts, and keeps every sample but the trailer.
    #[test]
    fn the_servers_registry_converts_sample_for_sample() {
        let metrics = crate::metrics::Metrics::new();
        metrics.file_read();
        let openmetrics = metrics.encode();
        let converted = classic(&openmetrics);
        assert!(converted.contains("# TYPE idc_graph_file_reads_total counter\nidc_graph_file_reads_total 1\n"));
        assert!(converted.contains("# TYPE idc_calls_in_flight gauge\n"), "{converted}");
        assert!(!converted.contains("# EOF"), "{converted}");
        let samples = |text: &str| text.lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(samples(&converted), samples(&openmetrics));
    }
}
