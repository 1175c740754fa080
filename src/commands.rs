//! The `serve` and `sig` subcommands: each returns the exit code (see [`crate::cli::exit`]).

use std::io::Write;

use crate::cli::{exit, SigGenArgs, SigVerifyArgs};
use crate::{server, usersig};

pub fn serve(args: crate::cli::ServeArgs) -> anyhow::Result<u8> {
    let metrics_listen = args.metrics_listen;
    let config = args.into_config()?;
    // Sessions come and go with no plan: grow the descriptor table up front (see reserve_fds).
    crate::reserve_fds(crate::raise_fd_limit().min(1 << 16));
    for w in config.warnings() {
        eprintln!("{w}");
    }
    let handle = server::start(config)?;
    if let Some(addr) = metrics_listen {
        let bound = crate::live_metrics::serve_server(addr, handle.stats())?;
        eprintln!("metrics on http://{bound}/metrics");
    }
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

pub fn sig_gen(a: SigGenArgs) -> anyhow::Result<u8> {
    crate::protocol::check_user_id(&a.user)?;
    let time = a.time.unwrap_or_else(crate::unix_now);
    let sig = usersig::generate(
        a.app.sdkappid,
        &a.app.key,
        &a.user,
        time,
        a.expire,
        a.userbuf.as_deref().map(str::as_bytes),
    );
    println!("{sig}");
    Ok(exit::OK)
}

pub fn sig_verify(a: SigVerifyArgs) -> anyhow::Result<u8> {
    let now = a.now.unwrap_or_else(crate::unix_now);
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
    match usersig::verify(&a.sig, a.app.sdkappid, &a.app.key, &a.user, now) {
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
