//! `idc_server`: serves `idc.Indicator` and `idc.IndicatorGraph` on one port until SIGINT or
//! SIGTERM, or with `--render-chart` writes one chart and exits; `idc_server import` loads a file
//! catalog into a PostgreSQL one. Parses flags into a library
//! [`Config`](idc::config::Config), sets up logging, and hands over to the library; the flags
//! themselves are declared in `src/config/`.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use idc::config::cli::ServerArgs;
use idc::server;

/// glibc's malloc, with the columns of long histories on huge pages (idc_core::memory).
#[global_allocator]
static ALLOCATOR: idc_core::memory::Allocator = idc_core::memory::Allocator;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("import") {
        let args = <idc::config::ImportArgs as clap::Parser>::parse_from(std::env::args().skip(1));
        let _logs = cli::init_logs("info", "error");
        return match import(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                cli::report("idc_server import", format_args!("{e:#}"));
                ExitCode::FAILURE
            }
        };
    }
    let matches = ServerArgs::command().get_matches();
    let args = match ServerArgs::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    // Before any thread starts (the logging thread first).
    server::memory::cap_malloc_arenas(args.config.threads.completion_queues);
    let thresholds_fixed = idc_core::memory::fix_malloc_thresholds();
    let _logs = cli::init_logs("info", "error");
    if !thresholds_fixed {
        log::warn!("glibc refused malloc's mmap or trim threshold; long histories may compute slower");
    }
    match run(&args, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, with the causes, and no backtrace even when RUST_BACKTRACE is set.
            cli::report("idc_server", format_args!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(args: &ServerArgs, matches: &ArgMatches) -> anyhow::Result<()> {
    let config = &args.config;
    config.validate()?;
    if let Some(out) = &args.render.render_chart {
        idc::signals::remove_partial_files_on_signal("--render-chart", || {});
        let (start, end) = (&args.render.start_date, &args.render.end_date);
        let bytes = idc::data::render_chart_file(config, start, end, out)?;
        let shown = if out.as_os_str() == "-" { "stdout".into() } else { out.display().to_string() };
        log::info!("wrote {shown} ({bytes} bytes)");
        return Ok(());
    }
    args.warn_about_ignored_flags(matches);
    log::info!("configuration: {config}");

    let shutdown = server::shutdown::signal().context("cannot install the SIGINT/SIGTERM handler")?;
    let running = server::start(config)?;
    // SIGHUP rereads the catalog at once, as nginx does, instead of ending the process.
    let _sighup = idc::catalog::reload_on_sighup(running.reloader()).context("cannot install the SIGHUP handler")?;

    // The reference prints exactly this line; scripts wait for it to know the port.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "Server started, listening on {}", running.port())?;
    stdout.flush()?;
    drop(stdout);

    running.serve_until(shutdown);
    Ok(())
}

fn import(args: &idc::config::ImportArgs) -> anyhow::Result<()> {
    let source = idc::catalog::Source::parse(&args.data.to_string_lossy());
    let catalog = idc::catalog::load_with(&source, args.csv_delimiter)?;
    let password = args.pg_password_file.as_deref().map(idc::pg::read_password_file).transpose()?;
    let target = idc::pg::Target::new(&args.into, password)?;
    let count = idc::pg::import(&target, &catalog)?;
    log::info!("imported {count} instruments from {} into {target}", args.data.display());
    Ok(())
}
