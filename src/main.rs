//! The `loginstorm` binary: parse arguments, dispatch, map outcomes to exit codes.

use clap::Parser;
use std::process::ExitCode;

use loginstorm::cli::{exit, Cli, Command, SigCommand};
use loginstorm::commands;

/// mimalloc, not the system allocator: glibc's per-thread arenas grow a page range at a time
/// (an `mprotect` each — four a cycle on fresh connections, tens of thousands while 40,000
/// accounts are created), and a fresh cycle's allocations are all small and short-lived
/// (docs/performance.md, "The leanest bare client as the yardstick": why mimalloc, and why
/// without transparent huge pages).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Merge(args) => merge(args),
        Command::Serve(args) => commands::serve(args),
        Command::Search(args) => search(args),
        Command::Sig(SigCommand::Gen(args)) => commands::sig_gen(args),
        Command::Sig(SigCommand::Verify(args)) => commands::sig_verify(args),
        Command::Trace(args) => loginstorm::cli::trace(args),
        Command::Docs { topic } => match topic {
            None => {
                print!("{}", loginstorm::docs::index());
                Ok(exit::OK)
            }
            Some(t) => loginstorm::docs::topic(&t)
                .map(|text| {
                    print!("{text}");
                    exit::OK
                })
                .map_err(anyhow::Error::from),
        },
        Command::Man => man(),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "loginstorm",
                &mut std::io::stdout(),
            );
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "error: {}",
                loginstorm::clip_message(&loginstorm::error_message(&e))
            );
            ExitCode::from(exit::CANNOT_RUN)
        }
    }
}

/// The man page (roff): the main page, then each subcommand's, one after another in one file
/// (`man -l FILE` reads it whole).
fn man() -> anyhow::Result<u8> {
    use clap::CommandFactory;
    use std::io::Write;
    let cmd = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // clap names a command with a `'static` string; this process prints and exits.
        let name: &'static str =
            Box::leak(format!("loginstorm-{}", sub.get_name()).into_boxed_str());
        clap_mangen::Man::new(sub.clone().name(name)).render(&mut page)?;
    }
    std::io::stdout().write_all(&page)?;
    Ok(exit::OK)
}

fn run(args: loginstorm::cli::RunArgs) -> anyhow::Result<u8> {
    let ov = &args.common.overrides;
    if let Some(n) = args.processes {
        let o = args.options();
        let finished = if o.summary_json.as_deref() == Some(std::path::Path::new("-")) {
            loginstorm::processes::run(&args.scenario, ov, &o, n, &mut std::io::stderr())?
        } else {
            loginstorm::processes::run(&args.scenario, ov, &o, n, &mut std::io::stdout())?
        };
        return Ok(exit_code(&finished));
    }
    let resolved = loginstorm::scenario::load(&args.scenario, ov)?;
    let options = args.options();
    // `--summary-json -` owns stdout: the run's text goes to stderr.
    let finished = if options.summary_json.as_deref() == Some(std::path::Path::new("-")) {
        loginstorm::run::execute(resolved, options, &mut std::io::stderr())?
    } else {
        loginstorm::run::execute(resolved, options, &mut std::io::stdout())?
    };
    Ok(exit_code(&finished))
}

fn merge(args: loginstorm::cli::MergeArgs) -> anyhow::Result<u8> {
    let options = args.options();
    let finished = if options.summary_json.as_deref() == Some(std::path::Path::new("-")) {
        loginstorm::merge::merge(&options, &mut std::io::stderr())?
    } else {
        loginstorm::merge::merge(&options, &mut std::io::stdout())?
    };
    Ok(exit_code(&finished))
}

/// PASS exits 0; FAIL and INCOMPLETE exit 1.
fn exit_code(f: &loginstorm::run::Finished) -> u8 {
    match f.verdict.status {
        loginstorm::verdict::Status::Pass => exit::OK,
        _ => exit::FAILED,
    }
}

fn search(args: loginstorm::cli::SearchArgs) -> anyhow::Result<u8> {
    let found = loginstorm::search::search(&args.options()?, &mut std::io::stdout())?;
    Ok(if found.best.is_some() && !found.interrupted {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn compare(args: loginstorm::cli::CompareArgs) -> anyhow::Result<u8> {
    use loginstorm::compare;
    let o = args.tolerance.options();
    let rows = compare::compare_dirs(&args.current, &args.baseline, &o)?;
    compare::render(&mut std::io::stdout().lock(), &rows, o.max_regression)?;
    // Beside the current run's reports, as `run --baseline` leaves them; and on a CI job's
    // summary page when there is one.
    compare::write_csv(&args.current.join("comparison.csv"), &rows)?;
    let doc = serde_json::to_string_pretty(&compare::to_json(&rows, o.max_regression))? + "\n";
    loginstorm::report::write_atomic(&args.current.join("comparison.json"), doc.as_bytes())?;
    loginstorm::report::append_step_summary(&compare::markdown(&rows, o.max_regression));
    println!(
        "wrote {} and comparison.json",
        args.current.join("comparison.csv").display()
    );
    Ok(if compare::regressions(&rows) == 0 {
        exit::OK
    } else {
        exit::FAILED
    })
}
