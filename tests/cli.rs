//! What a new user trips over at the command line: closed pipes, paths, hosts and targets,
//! output folders, flags that do nothing, empty replies, and messages that say what to do.

mod common;

use std::fs;
use std::process::Command;

use common::{repo_root, run, rust_bin, rust_server, scratch, write_file};

fn client(target: &str, extra: &[&str]) -> common::Output {
    let mut cmd = rust_bin("idc_client");
    cmd.args(["--target", target]).args(extra);
    run(cmd)
}

fn server_fails(flags: &[&str]) -> common::Output {
    let mut cmd = rust_bin("idc_server");
    cmd.args(flags);
    let out = run(cmd);
    assert!(!out.status.success(), "{flags:?} was accepted");
    out
}

#[test]
fn a_closed_pipe_ends_the_client_quietly() {
    let server = rust_server(&[]);
    let script = format!(
        "{:?} --target {} 2>&1 | head -1; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_idc_client"),
        server.target()
    );
    // The reply is longer than a pipe's first line; `head` closes the pipe after one.
    let out = run({
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &script]);
        cmd
    });
    assert_eq!(out.status.code(), Some(0), "idc_client's exit status; output:\n{}{}", out.stdout_text(), out.stderr);
    assert_eq!(out.stdout_text(), "indicator client received: \n");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn serve_sh_resolves_paths_in_the_callers_directory() {
    let dir = scratch();
    // The parity server streams ./macd.png: the caller's, not the repository's.
    let png = write_file(dir.path(), "macd.png", b"the caller's own macd.png");
    let mut cmd = Command::new(repo_root().join("scripts/serve.sh"));
    cmd.current_dir(dir.path()).env("RUST_LOG", "warn").args(["--host", "127.0.0.1", "--port", "0"]);
    let server = common::Server::start(cmd);
    let received = dir.path().join("received.png");
    let mut graph = rust_bin("idc_graph_client");
    graph.args(["--target", &server.target(), "--output"]).arg(&received);
    run(graph).assert_success("idc_graph_client");
    assert_eq!(fs::read(&received).unwrap(), fs::read(&png).unwrap());
}

#[test]
fn hosts_that_cannot_be_listened_on_say_why_in_one_line() {
    for (host, says) in [
        ("0.0.0.0x", "does not resolve"),
        ("127.0.0.1:5000", "give the port with --port"),
        ("[::1", "ends with `]`"),
        ("", "is empty"),
    ] {
        let out = server_fails(&["--host", host, "--port", "0"]);
        assert!(out.stderr.contains(&format!("invalid --host {host:?}")) || out.stderr.contains(says), "{host}");
        assert!(out.stderr.contains(says), "{host:?}: {}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.contains(" INFO ")).collect();
        assert_eq!(lines.len(), 1, "{host:?}: one line, no C-core log: {}", out.stderr);
    }
}

#[test]
fn targets_without_a_port_or_host_say_what_is_wrong() {
    for (target, says) in [("127.0.0.1", "has no port"), ("", "is empty"), ("::1", "brackets")] {
        let out = client(target, &[]);
        assert!(!out.status.success());
        assert!(out.stderr.contains(says), "{target:?}: {}", out.stderr);
        assert!(!out.stderr.contains("secure") && !out.stderr.contains("port 0"), "{}", out.stderr);
        let mut graph = rust_bin("idc_graph_client");
        graph.args(["--target", target, "--output", "/nonexistent/x.png"]);
        let out = run(graph);
        assert!(out.stderr.contains(says), "{target:?}: {}", out.stderr);
    }
}

#[test]
fn output_paths_that_cannot_be_written_name_the_users_path_and_the_cause() {
    let dir = scratch();
    let server = rust_server(&[]);
    let missing_folder = dir.path().join("no-such-folder/out.png");
    let folder = format!("{}/", dir.path().display());
    for (output, says) in [(missing_folder.to_str().unwrap(), "does not exist"), (folder.as_str(), "is a folder")] {
        let mut cmd = rust_bin("idc_graph_client");
        cmd.args(["--target", &server.target(), "--output", output]);
        let out = run(cmd);
        assert!(!out.status.success());
        assert!(out.stderr.contains(&format!("cannot write {output}")), "{}", out.stderr);
        assert!(out.stderr.contains(says), "{output}: {}", out.stderr);
        assert!(!out.stderr.contains(".part") && !out.stderr.contains("left as it was"), "{}", out.stderr);
    }
}

#[test]
fn flags_that_parity_mode_ignores_are_warned_about_once() {
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--convention", "talib", "--fast", "5", "--instrument", "X"]);
    let server = common::Server::start(cmd);
    let (_, stderr) = server.stop_with("TERM");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("parity mode ignores")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    for flag in ["--convention", "--fast", "--instrument"] {
        assert!(warnings[0].contains(flag), "{}", warnings[0]);
    }
    // In data mode they apply, and nothing is said.
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--data", "sample", "--convention", "talib"]);
    let (_, stderr) = common::Server::start(cmd).stop_with("TERM");
    assert!(!stderr.contains("ignores"), "{stderr}");
}

#[test]
fn data_mode_with_a_graph_file_checks_dates_as_get_macd_does() {
    let dir = scratch();
    let png = write_file(dir.path(), "chart.png", b"a chart");
    let server = rust_server(&["--data", "sample", "--graph-file", png.to_str().unwrap()]);
    for (start, end) in
        [("2018-02-30", "2018-03-01"), ("2018-13-01", ""), ("2018/01/01", ""), ("2018-03-01", "2018-02-01")]
    {
        let mut cmd = rust_bin("idc_graph_client");
        cmd.args(["--target", &server.target(), "--start-date", start, "--end-date", end, "--output"])
            .arg(dir.path().join("out.png"));
        let graph = run(cmd);
        let rows = client(&server.target(), &["--start-date", start, "--end-date", end]);
        for out in [&graph, &rows] {
            assert!(!out.status.success(), "{start}..{end} accepted");
            assert!(out.stderr.contains("INVALID_ARGUMENT") && out.stderr.contains("YYYY-MM-DD"), "{}", out.stderr);
        }
    }
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", &server.target(), "--start-date", "2018-01-01", "--end-date", "2018-12-31", "--output"])
        .arg(dir.path().join("out.png"));
    run(cmd).assert_success("a valid range streams the file");
    assert_eq!(fs::read(dir.path().join("out.png")).unwrap(), b"a chart");
}

#[test]
fn an_empty_reply_prints_as_the_article_does_and_says_so_on_stderr() {
    let server = rust_server(&["--data", "sample"]);
    // The clients' default dates (2023) are after the sample (1999-2018).
    let out = client(&server.target(), &[]);
    out.assert_success("idc_client");
    assert_eq!(out.stdout_text(), "indicator client received: \n\n");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("no rows for 2023-01-01 to 2023-12-31"), "{}", out.stderr);
}

#[test]
fn the_readmes_client_calls_print_what_the_readme_shows() {
    // Every `idc_client` call of the README, made to the server of its first command
    // (`scripts/serve.sh --data sample`) with the flags as written: each prints the block shown
    // after it.
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let calls: Vec<&str> = readme.lines().filter(|line| line.starts_with("target/release/idc_client ")).collect();
    assert!(calls.len() >= 2, "the README shows a compute call and the article's call");
    let server = rust_server(&["--data", "sample"]);
    for line in calls {
        let command = line.split(" #").next().unwrap().trim_end();
        let (_, after) = readme.split_once(line).unwrap();
        let (_, shown) = after.split_once("```text\n").expect("a text block with the call's output after it");
        let (shown, _) = shown.split_once("```").unwrap();
        let words = shell_words(command);
        let flags: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
        assert!(!flags.contains(&"--target"), "the README's call uses the default target: {command}");
        // A subcommand takes --target after its name.
        let out = match flags.split_first() {
            Some((&sub, rest)) if !sub.starts_with('-') => {
                let mut cmd = rust_bin("idc_client");
                cmd.arg(sub).args(["--target", &server.target()]).args(rest);
                run(cmd)
            }
            _ => client(&server.target(), &flags),
        };
        out.assert_success("the README's call");
        assert_eq!(out.stdout_text().trim_end(), shown.trim_end(), "the README shows another output for `{command}`");
        assert_eq!(out.stderr, "", "{command}");
    }
}

/// `command` split into words as a POSIX shell splits it, for the README's calls: blanks separate
/// words, and single quotes keep what they enclose.
fn shell_words(command: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in command.chars() {
        match c {
            '\'' => (quoted, any) = (!quoted, true),
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn messages_say_what_to_do() {
    let server = rust_server(&["--data", "sample"]);
    let reversed = client(&server.target(), &["--start-date", "2018-03-01", "--end-date", "2018-02-01"]);
    assert!(reversed.stderr.contains("YYYY-MM-DD"), "{}", reversed.stderr);

    let dir = scratch();
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", &server.target(), "--start-date", "2018-12-25", "--end-date", "2018-12-25", "--output"])
        .arg(dir.path().join("x.png"));
    let christmas = run(cmd);
    assert!(christmas.stderr.contains("no bars on those days"), "{}", christmas.stderr);
    assert!(!christmas.stderr.contains("ask for dates inside that span"), "{}", christmas.stderr);

    // One bar is "1 bar"; a grace period of 0 is "0 s", not "0ns".
    let csv = write_file(dir.path(), "one.csv", b"date,open,high,low,close\n2020-01-02,1,2,1,1.5\n");
    let mut cmd = rust_bin("idc_server");
    cmd.env("RUST_LOG", "info").args(["--host", "127.0.0.1", "--port", "0", "--grace-period", "0", "--data"]).arg(&csv);
    let (_, stderr) = common::Server::start(cmd).stop_with("TERM");
    assert!(stderr.contains("1 bar from"), "{stderr}");
    assert!(stderr.contains("waiting up to 0 s"), "{stderr}");
    assert!(!stderr.contains("0ns") && !stderr.contains("1 bars"), "{stderr}");
}

#[test]
fn help_shows_each_numeric_flags_range() {
    let out = run({
        let mut cmd = rust_bin("idc_server");
        cmd.arg("--help");
        cmd
    });
    out.assert_success("idc_server --help");
    let help = out.stdout_text();
    for range in [
        "0 to 65535",
        "1 to 4194304",
        "1 to 10000",
        "320x240 to 8192x8192",
        "0 to 3600",
        "64 to 4194304",
        "1 to 1000000",
        "1 to 86400",
        "1 to 1024",
    ] {
        assert!(help.contains(range), "--help lacks {range:?}:\n{help}");
    }
}

#[test]
fn an_empty_reply_inside_talibs_warm_up_names_the_warm_up() {
    // The sample starts on 1999-01-04: with TA-Lib's convention its first 33 bars (to 1999-02-19)
    // have no MACD value, so January 1999 has bars but no rows.
    let server = rust_server(&["--data", "sample", "--convention", "talib"]);
    let out = client(&server.target(), &["--start-date", "1999-01-04", "--end-date", "1999-01-29"]);
    out.assert_success("idc_client");
    assert_eq!(out.stdout_text(), "indicator client received: \n\n");
    assert_eq!(
        out.stderr,
        "idc_client: the server returned no rows for 1999-01-04 to 1999-01-29: a data-mode server has rows only \
         for the days of its data that have a MACD value; with --convention talib, the first bars of its data have \
         none (TA-Lib's warm-up: slow + signal - 2 bars, 33 for MACD(12,26,9))\n"
    );
    // The same days in the default convention have rows.
    let server = rust_server(&["--data", "sample"]);
    let out = client(&server.target(), &["--start-date", "1999-01-04", "--end-date", "1999-01-29"]);
    assert!(out.stdout_text().contains("date: \"1999-01-04\""), "{}", out.stdout_text());
    assert_eq!(out.stderr, "");
}

#[test]
fn render_chart_with_an_open_end_says_from_when_on() {
    let dir = scratch();
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--data", "sample", "--start-date", "2030-01-01", "--render-chart"]).arg(dir.path().join("x.png"));
    let out = run(cmd);
    assert!(!out.status.success(), "a chart after the data was written");
    assert_eq!(
        out.stderr.lines().last().unwrap_or(""),
        "idc_server: no chart from 2030-01-01 on: the data covers 1999-01-04 to 2018-12-31; ask for dates inside \
         that span"
    );
}
