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
    let resolved =
        loginstorm::scenario::load(&args.scenario, &args.set).map_err(anyhow::Error::msg)?;
    let finished = loginstorm::run::execute(resolved, args.options(), &mut std::io::stdout())?;
    Ok(match finished.verdict.status {
        loginstorm::verdict::Status::Pass => exit::OK,
        _ => exit::FAILED,
    })
}

fn compare(args: loginstorm::cli::CompareArgs) -> anyhow::Result<u8> {
    use loginstorm::compare;
    let o = args.tolerance.options();
    let rows = compare::compare_dirs(&args.current, &args.baseline, &o)?;
    compare::render(&mut std::io::stdout().lock(), &rows, o.max_regression)?;
    Ok(if compare::regressions(&rows) == 0 {
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
