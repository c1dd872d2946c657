//! docs/configuration.md, rendered from the declarations that `idc_server --help` shows, so
//! that the two cannot drift apart (`tests/configuration.rs` checks the file against this).
//!
//! clap has no Markdown output of its own (`clap_mangen` writes man pages), and the page is a
//! table per help heading; a short walk over [`clap::Command`] is all it takes.

use clap::{Arg, ArgAction, CommandFactory};

use super::cli::ServerArgs;

/// The command that regenerates docs/configuration.md, as the page and the test name it.
pub const REGENERATE: &str = "IDC_BLESS=1 cargo test --release --test configuration";

/// docs/configuration.md: every flag of `idc_server`, grouped by its `--help` heading.
pub fn markdown() -> String {
    let mut command = ServerArgs::command();
    command.build();
    let mut page = format!(
        "# Configuration\n\n\
         <!-- Generated from the declarations in src/config/ by `{REGENERATE}`; do not edit. -->\n\n\
         Every flag of `idc_server`, as `idc_server --help` lists them. Each is declared once, in \
         `src/config/`: its default, range and help below, the field of the library's `Config` it \
         sets, and the check that `Config::validate` makes of a `Config` built in code.\n"
    );
    let args: Vec<&Arg> =
        command.get_arguments().filter(|arg| !arg.is_hide_set() && arg.get_long().is_some()).collect();
    let mut headings: Vec<Option<&str>> = Vec::new();
    for arg in &args {
        if !headings.contains(&arg.get_help_heading()) {
            headings.push(arg.get_help_heading());
        }
    }
    // As in `--help`, the flags without a heading (help, version) come first.
    headings.sort_by_key(|heading| heading.is_some());
    for heading in headings {
        page.push_str(&format!("\n## {}\n\n", heading.unwrap_or("Options")));
        page.push_str("| flag | default | meaning |\n| --- | --- | --- |\n");
        for arg in args.iter().filter(|arg| arg.get_help_heading() == heading) {
            page.push_str(&format!("| {} | {} | {} |\n", flag(arg), default(arg), cell(&help(arg))));
        }
    }
    page
}

/// `` `--chunk-size <CHUNK_SIZE>` `` or `` `--reuse-port` ``.
fn flag(arg: &Arg) -> String {
    let long = arg.get_long().expect("only long flags are listed");
    let takes_value = matches!(arg.get_action(), ArgAction::Set | ArgAction::Append);
    if !takes_value {
        return format!("`--{long}`");
    }
    let value = match arg.get_value_names() {
        Some(names) => names.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
        None => arg.get_id().as_str().to_uppercase(),
    };
    let repeat = if matches!(arg.get_action(), ArgAction::Append) { " ..." } else { "" };
    cell(&format!("`--{long} <{value}>{repeat}`"))
}

fn default(arg: &Arg) -> String {
    let values: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
    let takes_value = matches!(arg.get_action(), ArgAction::Set | ArgAction::Append);
    match values.as_slice() {
        _ if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) => "off".to_string(),
        // --help and --version.
        _ if !takes_value => String::new(),
        // A default that depends on the machine: the help says how.
        _ if arg.is_hide_default_value_set() => "see meaning".to_string(),
        [] => "none".to_string(),
        [value] if value.is_empty() => "empty".to_string(),
        values => cell(&format!("`{}`", values.join(","))),
    }
}

fn help(arg: &Arg) -> String {
    arg.get_long_help().or(arg.get_help()).map(ToString::to_string).unwrap_or_default()
}

/// Text made safe for one table cell: one line, and `|` not taken for a column.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_is_a_table_and_each_flag_a_row() {
        let page = markdown();
        for heading in
            ["Listen", "Data and analysis", "Chart", "Threads and queues", "Drain", "TLS and auth", "Limits", "Tuning"]
        {
            assert_eq!(page.matches(&format!("\n## {heading}\n")).count(), 1, "{heading}:\n{page}");
        }
        assert!(
            page.contains(
                "| `--chunk-size <CHUNK_SIZE>` | `1024` | Bytes per GetMACDGraph message, 1 to 4194304 (4 MiB) |"
            ),
            "{page}"
        );
        assert!(page.contains("| `--data <DIR\\|FILE\\|sample\\|postgres://...>` | none |"), "{page}");
        assert!(page.contains("| `--reuse-port` | off |"), "{page}");
        assert!(page.contains("| `--grpc-arg <NAME=VALUE> ...` | none |"), "{page}");
        // The machine's CPU count is no default to write down.
        assert!(
            page.contains("| `--completion-queues <COMPLETION_QUEUES>` | see meaning | gRPC completion queues"),
            "{page}"
        );
    }
}
