//! The `loginstorm` binary: parse arguments, dispatch, map outcomes to exit codes.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

use loginstorm::cli::{exit, Cli, Command, SigCommand, SigGenArgs, SigVerifyArgs};
use loginstorm::{server, usersig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Serve(args) => serve(args),
        Command::Sig(SigCommand::Gen(args)) => sig_gen(args),
        Command::Sig(SigCommand::Verify(args)) => sig_verify(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::CANNOT_RUN)
        }
    }
}

fn run(args: loginstorm::cli::RunArgs) -> anyhow::Result<u8> {
    let mut resolved =
        loginstorm::scenario::load(&args.scenario, &args.set).map_err(anyhow::Error::msg)?;
    resolved.thresholds.extend(args.thresholds.iter().cloned());
    let thresholds = resolved.thresholds.clone();
    let scenario_name = resolved.scenario.name.clone();
    let error_budget = resolved.scenario.checks.error_budget;
    let result = loginstorm::engine::run(
        resolved,
        loginstorm::engine::RunOptions {
            target: args.target,
            out_dir: args.out,
            seed: args.seed,
            quiet: args.quiet,
            overrides: args.set,
        },
    )?;
    let mut out = std::io::stdout().lock();
    loginstorm::report::render_summary(
        &mut out,
        result.outcome,
        &result.totals,
        result.elapsed,
        &result.report_dir,
    )?;
    let judged: Vec<_> = thresholds
        .iter()
        .map(|t| t.judge(&result.totals, result.elapsed))
        .collect();
    loginstorm::report::write_thresholds(&mut out, &result.report_dir, &judged)?;
    let failed = judged.iter().filter(|j| !j.passed).count();
    let mut regressions = 0;
    if let Some(base) = &args.baseline {
        let rows = compare_dirs(&result.report_dir, base, &args.tolerance)?;
        writeln!(out, "compared with baseline {}", base.display())?;
        loginstorm::compare::render(&mut out, &rows, args.tolerance.max_regression)?;
        loginstorm::compare::write_csv(&result.report_dir.join("comparison.csv"), &rows)?;
        regressions = loginstorm::compare::regressions(&rows);
    }
    let verdict = loginstorm::verdict::judge(
        result.outcome,
        &result.totals,
        error_budget,
        failed,
        regressions,
    );
    loginstorm::report::write_junit(
        &result.report_dir,
        &scenario_name,
        &result.totals,
        &judged,
        &result.accounts,
        &verdict,
        result.started,
        result.elapsed,
    )?;
    loginstorm::report::render_verdict(&mut out, &verdict, &result.totals)?;
    Ok(match verdict.status {
        loginstorm::verdict::Status::Pass => exit::OK,
        _ => exit::FAILED,
    })
}

fn compare_dirs(
    current: &std::path::Path,
    baseline: &std::path::Path,
    t: &loginstorm::cli::Tolerance,
) -> anyhow::Result<Vec<loginstorm::compare::Row>> {
    let cur = loginstorm::compare::load(current)?;
    let base = loginstorm::compare::load(baseline)?;
    for w in loginstorm::compare::mismatches(&cur, &base) {
        eprintln!("{w}");
    }
    Ok(loginstorm::compare::compare(
        &cur,
        &base,
        t.max_regression,
        t.min_latency_delta.as_secs_f64() * 1e6,
        &t.filter(),
    ))
}

fn compare(args: loginstorm::cli::CompareArgs) -> anyhow::Result<u8> {
    let rows = compare_dirs(&args.current, &args.baseline, &args.tolerance)?;
    let mut out = std::io::stdout().lock();
    loginstorm::compare::render(&mut out, &rows, args.tolerance.max_regression)?;
    Ok(if loginstorm::compare::regressions(&rows) == 0 {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn serve(args: loginstorm::cli::ServeArgs) -> anyhow::Result<u8> {
    let config = args.into_config().map_err(anyhow::Error::msg)?;
    loginstorm::raise_fd_limit();
    for w in config.warnings() {
        eprintln!("{w}");
    }
    let handle = server::start(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Install the signal handlers before announcing the address: a script that reads the line
    // and stops the server at once must find them in place.
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        let _guard = rt.enter();
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", handle.url())?;
        out.flush()?;
    }
    rt.block_on(async {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        anyhow::Ok(())
    })?;
    eprintln!("shutting down");
    handle.stop();
    Ok(exit::OK)
}

fn sig_gen(a: SigGenArgs) -> anyhow::Result<u8> {
    loginstorm::protocol::check_user_id(&a.user).map_err(anyhow::Error::msg)?;
    let time = a.time.unwrap_or_else(loginstorm::unix_now);
    let sig = usersig::generate(
        a.sdkappid,
        &a.key,
        &a.user,
        time,
        a.expire,
        a.userbuf.as_deref().map(str::as_bytes),
    );
    println!("{sig}");
    Ok(exit::OK)
}

fn sig_verify(a: SigVerifyArgs) -> anyhow::Result<u8> {
    let now = a.now.unwrap_or_else(loginstorm::unix_now);
    match usersig::decode(&a.sig) {
        Ok(d) => {
            let f = &d.fields;
            println!("TLS.ver:        {}", f.ver);
            println!("TLS.identifier: {}", f.identifier);
            println!("TLS.sdkappid:   {}", f.sdkappid);
            println!("TLS.time:       {}", f.time);
            println!(
                "TLS.expire:     {} (expires after unix second {})",
                f.expire,
                f.expires_at()
            );
            if let Some(ub) = &f.userbuf {
                println!("TLS.userbuf:    {}", String::from_utf8_lossy(ub));
            }
            println!("TLS.sig:        {}", d.claimed_sig);
        }
        Err(e) => {
            println!("verdict: invalid ({}: {e})", e.code());
            return Ok(exit::FAILED);
        }
    }
    match usersig::verify(&a.sig, a.sdkappid, &a.key, &a.user, now) {
        Ok(_) => {
            println!("verdict: valid");
            Ok(exit::OK)
        }
        Err(e) => {
            println!("verdict: invalid ({}: {e})", e.code());
            Ok(exit::FAILED)
        }
    }
}
