//! `Config`'s defaults, its one-line description, and `validate` against the flags' own
//! refusals: each out-of-range value is given once as a flag (clap's parse) and once in code.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::cli::ServerArgs;
use super::*;
use crate::domain::chart::ChartSize;

#[test]
fn the_default_is_the_articles_server_and_valid() {
    let config = Config::default();
    config.validate().unwrap();
    assert_eq!((config.listen.host.as_str(), config.listen.port, config.chart.chunk_size), ("[::]", 50051, 1024));
    assert!(!config.listen.reuse_port && config.security.tls().is_none() && config.security.auth_token_file.is_none());
    assert!(!config.is_data_mode());
    // Today's values, which docs/configuration.md gives.
    assert_eq!((config.drain.drain_delay, config.drain.grace_period), (Duration::ZERO, Duration::from_secs(5)));
    let limits = &config.limits;
    assert_eq!(
        (limits.max_receive_message, limits.max_concurrent_streams, limits.memory_quota_mib),
        (1 << 20, 100, 64)
    );
    assert_eq!((limits.keepalive_time, limits.keepalive_timeout), (Duration::from_secs(60), Duration::from_secs(20)));
    assert_eq!(config.threads.max_blocking_queue, 256);
    assert!(config.threads.blocking_threads >= 2 && config.threads.completion_queues >= 1);
    assert!(config.tuning.write_batching && config.tuning.grpc_args.is_empty());
    assert_eq!((config.data.fast, config.data.slow, config.data.signal), (12, 26, 9));
}

#[test]
fn no_flags_parse_to_the_default() {
    assert_eq!(ServerArgs::try_parse_from(["idc_server"]).unwrap().config, Config::default());
}

/// What clap says of `flag value`, and what `validate` says of `config`: the second must be
/// the first's message, after the flag's name.
fn assert_same_refusal(flag: &str, value: &str, config: Config) {
    let parsed = ServerArgs::try_parse_from(["idc_server", &format!("--{flag}={value}")]);
    let from_flag = parsed.expect_err("the flag refuses the value").to_string();
    let from_code = config.validate().expect_err("validate refuses the value").to_string();
    let message = from_code.strip_prefix(&format!("--{flag} ")).unwrap_or_else(|| panic!("{from_code}"));
    assert!(from_flag.contains(&format!("'--{flag}")), "{from_flag}");
    assert!(from_flag.contains(&format!("': {message}\n")), "--{flag}={value}\nflag: {from_flag}\ncode: {from_code}");
}

#[test]
fn a_config_built_in_code_is_refused_with_the_flags_message() {
    let with = |change: &dyn Fn(&mut Config)| {
        let mut config = Config::default();
        change(&mut config);
        config
    };
    assert_same_refusal("chunk-size", "0", with(&|c| c.chart.chunk_size = 0));
    assert_same_refusal("chunk-size", "4194305", with(&|c| c.chart.chunk_size = MAX_CHUNK_SIZE + 1));
    assert_same_refusal("chart-size", "100x100", with(&|c| c.chart.chart_size = ChartSize { width: 100, height: 100 }));
    assert_same_refusal("completion-queues", "0", with(&|c| c.threads.completion_queues = 0));
    assert_same_refusal("blocking-threads", "1025", with(&|c| c.threads.blocking_threads = 1025));
    assert_same_refusal("max-blocking-queue", "0", with(&|c| c.threads.max_blocking_queue = 0));
    assert_same_refusal("drain-delay", "3601", with(&|c| c.drain.drain_delay = Duration::from_secs(3601)));
    assert_same_refusal("grace-period", "7200.5", with(&|c| c.drain.grace_period = Duration::from_secs_f64(7200.5)));
    assert_same_refusal("max-receive-message", "63", with(&|c| c.limits.max_receive_message = 63));
    assert_same_refusal("max-concurrent-streams", "0", with(&|c| c.limits.max_concurrent_streams = 0));
    assert_same_refusal("memory-quota-mib", "1048577", with(&|c| c.limits.memory_quota_mib = 1_048_577));
    assert_same_refusal("keepalive-time", "0.5", with(&|c| c.limits.keepalive_time = Duration::from_millis(500)));
    assert_same_refusal(
        "keepalive-timeout",
        "86401",
        with(&|c| c.limits.keepalive_timeout = Duration::from_secs(86401)),
    );
    let young = Some(Duration::from_millis(500));
    assert_same_refusal("max-connection-age", "0.5", with(&|c| c.limits.max_connection_age = young));
    assert_same_refusal("fast", "0", with(&|c| c.data.fast = 0));
    assert_same_refusal("signal", "10001", with(&|c| c.data.signal = 10_001));
    let not_grpc = GrpcArg { name: "http2.bdp_probe".into(), value: GrpcArgValue::Int(0) };
    assert_same_refusal("grpc-arg", "http2.bdp_probe=0", with(&|c| c.tuning.grpc_args = vec![not_grpc.clone()]));
}

#[test]
fn what_the_flags_require_of_each_other_is_required_in_code_too() {
    let mut config = Config::default();
    config.security.tls_cert = Some("cert.pem".into());
    assert_eq!(config.validate().unwrap_err().to_string(), "--tls-cert needs --tls-key");
    config.security.tls_cert = None;
    config.security.tls_client_ca = Some("ca.pem".into());
    assert_eq!(config.validate().unwrap_err().to_string(), "--tls-client-ca needs --tls-cert");
    let mut config = Config::default();
    (config.data.fast, config.data.slow) = (30, 26);
    assert!(config.validate().unwrap_err().to_string().contains("shorter than the slow"));
    // A text value is not mistaken for a name holding '='.
    config.data.fast = 12;
    config.tuning.grpc_args = vec![GrpcArg { name: "grpc.x".into(), value: GrpcArgValue::Text("5".into()) }];
    config.validate().unwrap();
}

#[test]
fn the_description_is_one_line_of_paths_never_of_secrets() {
    let args = [
        "idc_server",
        "--data=prices.csv",
        "--completion-queues=3",
        "--blocking-threads=4",
        "--grace-period=0.25",
        "--tls-cert=/etc/idc/cert.pem",
        "--tls-key=/etc/idc/key.pem",
        "--auth-token-file=/etc/idc/token",
        "--push-token-file=/etc/idc/push-token",
        "--memory-quota-mib=0",
        "--grpc-arg=grpc.http2.bdp_probe=0",
    ];
    let config = ServerArgs::try_parse_from(args).unwrap().config;
    assert_eq!(
        config.to_string(),
        "host [::] port 50051 reuse-port false metrics-addr off data prices.csv csv-delimiter auto \
         instrument default convention cn macd 12,26,9 chart-size 1280x800 graph-file none chunk-size 1024 \
         completion-queues 3 blocking-threads 4 max-blocking-queue 256 drain-delay 0 s grace-period 0.25 s \
         tls cert /etc/idc/cert.pem key /etc/idc/key.pem client-ca none auth-token-file /etc/idc/token \
         push-token-file /etc/idc/push-token max-receive-message 1048576 max-concurrent-streams 100 memory-quota off \
         keepalive-time 60 s keepalive-timeout 20 s max-connection-age off max-subscriptions 10000 \
         subscriber-queue 1024 write-batching true grpc-args [grpc.http2.bdp_probe=0]"
    );
    assert_eq!(config.data.source, Some(DataSource::Csv(PathBuf::from("prices.csv"))));
}

#[test]
fn durations_read_as_seconds() {
    assert_eq!(seconds(Duration::ZERO), "0 s");
    assert_eq!(seconds(Duration::from_millis(250)), "0.25 s");
    assert_eq!(seconds(Duration::from_secs(5)), "5 s");
}
