//! docs/configuration.md is what the flags' declarations say: the page equals what
//! `idc::config::docs::markdown` renders from them now, and every long flag that the built
//! `idc_server --help` lists is on the page. And `--max-connection-age`, the setting added to
//! show that a flag is one declaration, does what it says.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use futures::executor::block_on;
use grpcio::ConnectivityState;
use idc::config::Config;

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md")
}

#[test]
fn the_page_is_rendered_from_the_declarations() {
    let rendered = idc::config::docs::markdown();
    let path = page_path();
    if std::env::var_os("IDC_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &rendered).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    if written != rendered {
        let line = written.lines().zip(rendered.lines()).position(|(a, b)| a != b);
        panic!(
            "{} differs from the flags' declarations (first at line {}); regenerate it with `{}`",
            path.display(),
            line.map_or_else(|| "the end".to_string(), |n| (n + 1).to_string()),
            idc::config::docs::REGENERATE
        );
    }
}

#[test]
fn every_flag_in_help_is_on_the_page() {
    let out = Command::new(env!("CARGO_BIN_EXE_idc_server")).arg("--help").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let help = String::from_utf8(out.stdout).unwrap();
    let page = std::fs::read_to_string(page_path()).unwrap_or_default();
    // Each flag's entry starts a line: `  -h, --help` or `      --chunk-size <CHUNK_SIZE>`.
    let flags: Vec<&str> = help
        .lines()
        .filter(|line| line.trim_start().starts_with('-'))
        .flat_map(|line| line.split([' ', ',']).filter(|word| word.starts_with("--")))
        .collect();
    assert!(flags.len() > 30, "{flags:?} from:\n{help}");
    for expected in ["--host", "--data", "--render-chart", "--memory-quota-mib", "--grpc-arg", "--help"] {
        assert!(flags.contains(&expected), "{expected} is not in --help:\n{help}");
    }
    for flag in flags {
        let row = format!("| `{flag}");
        assert!(page.contains(&row), "{flag} is in --help but has no row on {}", page_path().display());
    }
}

#[test]
fn an_old_connection_is_sent_away_and_a_young_one_kept() {
    let mut config = Config::default();
    config.limits.max_connection_age = Some(Duration::from_secs(1));
    let aged = common::InProcess::start(config);
    let ageless = common::InProcess::start(Config::default());
    let [aged_channel, ageless_channel] =
        [aged.port, ageless.port].map(|port| common::channel(&format!("127.0.0.1:{port}")));
    for channel in [&aged_channel, &ageless_channel] {
        assert!(block_on(channel.wait_for_connected(Duration::from_secs(10))), "no connection");
    }
    // The GOAWAY after about a second takes the aged connection out of READY; without the
    // setting, nothing would for the next 60 s (the keepalive).
    let ready = ConnectivityState::GRPC_CHANNEL_READY;
    assert!(block_on(aged_channel.wait_for_state_change(ready, Duration::from_secs(10))), "still connected");
    assert_eq!(ageless_channel.check_connectivity_state(false), ready);
}
