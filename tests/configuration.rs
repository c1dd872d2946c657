//! docs/configuration.md is what the flags' declarations say: the page equals what
//! `idc::config::docs::markdown` renders from them now, and every long flag that the built
//! `idc_server --help` lists is on the page.

use std::path::PathBuf;
use std::process::Command;

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
