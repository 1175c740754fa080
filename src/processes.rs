//! `run --processes N`: one scenario as N shard processes on this machine, one live display,
//! one merged report.
//!
//! Each child is this binary running `run --shard I/N --report-dir <report>/shards/shard-I`
//! (with its own embedded reference server when there is no target, so it owns its accounts end
//! to end), in its own process group: a terminal's Ctrl-C reaches only this parent, which
//! forwards it once to every child (each then winds down and writes its report) and forwards a
//! second one too (each exits at once). The live display adds up the children's
//! `intervals.jsonl` as they grow; at the end `merge` judges the whole run. Each child's own
//! output goes to `shards/shard-I.log`.

use anyhow::Context as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cli::RunArgs;
use crate::model::{Snapshot, Tick};
use crate::progress::Progress;
use crate::report::records;
use crate::shard::Shard;

/// One child and how far its `intervals.jsonl` has been read.
struct Shardling {
    shard: Shard,
    dir: PathBuf,
    child: Child,
    read: u64,
    live: i64,
    exit: Option<std::process::ExitStatus>,
    /// When its `intervals.jsonl` last grew (or it started).
    progressed: tokio::time::Instant,
    /// Why it was killed as hung, if it was.
    hung: Option<String>,
}

/// How long a child may go without handing in an interval, and how long past the planned end
/// it may run, before it is taken for hung and killed (a stopped or deadlocked child would
/// otherwise hold the run forever). A live child writes an interval every second; the silent
/// stretches are its start (creating its accounts), its wind-down (at most
/// `timeouts.graceful_stop`) and its reports, so the bound is the graceful stop plus a margin
/// that grows with the accounts it runs (15 s + 1 ms an account).
pub struct Deadline {
    /// No interval for this long: hung.
    pub stall: Duration,
    /// Still running this long after it started: hung (only when the run's length is planned).
    pub total: Option<Duration>,
}

impl Deadline {
    pub fn of(r: &crate::scenario::Resolved, accounts_per_child: u32) -> Deadline {
        let margin = Duration::from_secs(15) + Duration::from_millis(u64::from(accounts_per_child));
        let stall = r.scenario.timeouts.graceful_stop.0 + margin;
        Deadline {
            stall,
            total: r.planned_duration().map(|p| p + stall),
        }
    }
}

/// The directory of the merged report: `--report-dir`, or a new one under `--out`.
fn report_dir(args: &RunArgs, scenario: &str) -> PathBuf {
    match &args.report_dir {
        Some(d) => d.clone(),
        None => {
            crate::report::new_dir_under(&args.common.out, scenario, std::time::SystemTime::now())
        }
    }
}

fn spawn(args: &RunArgs, shard: Shard, dir: &Path, log: &Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the loginstorm binary to start")?;
    let log =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg(&args.scenario)
        .arg("--quiet")
        .arg("--shard")
        .arg(shard.to_string())
        .arg("--report-dir")
        .arg(dir);
    if let Some(t) = &args.common.target {
        cmd.arg("--target").arg(t);
    }
    if let Some(seed) = args.common.seed {
        cmd.arg("--seed").arg(seed.to_string());
    }
    if let Some(p) = &args.common.protocol {
        // A file named from here: children start here too, but say it absolutely anyway.
        let path = std::path::Path::new(p);
        let spec = if path.exists() {
            std::fs::canonicalize(path).map_or_else(|_| p.clone(), |a| a.display().to_string())
        } else {
            p.clone()
        };
        cmd.arg("--protocol").arg(spec);
    }
    if let Some(ca) = &args.common.ca_file {
        cmd.arg("--ca-file")
            .arg(std::fs::canonicalize(ca).unwrap_or_else(|_| ca.clone()));
    }
    if args.common.insecure {
        cmd.arg("--insecure");
    }
    // The key travels in the environment, never in a child's arguments.
    if let Some(k) = &args.common.key {
        cmd.env("LOGINSTORM_KEY", k);
    }
    for s in &args.common.set {
        // A `--set target.key=…` too: it goes to the child as LOGINSTORM_KEY (which --key,
        // when given, already set and takes precedence over).
        match s.split_once('=') {
            Some((k, v)) if k.trim() == "target.key" => {
                if args.common.key.is_none() {
                    cmd.env("LOGINSTORM_KEY", v.trim().trim_matches('"'));
                }
            }
            _ => {
                cmd.arg("--set").arg(s);
            }
        }
    }
    // The run's first instance is shard 0's first: that shard traces it, into its own
    // report directory (shards/shard-0/frames.log).
    if args.trace_frames && shard.index == 0 {
        cmd.arg("--trace-frames");
    }
    for t in &args.thresholds {
        cmd.arg("--threshold").arg(t.to_string());
    }
    // The parent writes the job summary once, for the merged run.
    cmd.env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // A child whose parent dies (killed outright) is told to stop too.
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
    cmd.spawn().context("cannot start a shard process")
}

#[cfg(unix)]
fn signal_all(kids: &mut [Shardling]) {
    for k in kids.iter().filter(|k| k.exit.is_none()) {
        // SAFETY: kill(2) on a child's pid (its own process group leader).
        unsafe {
            libc::kill(k.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }
}

#[cfg(not(unix))]
fn signal_all(kids: &mut [Shardling]) {
    for k in kids.iter_mut().filter(|k| k.exit.is_none()) {
        let _ = k.child.kill();
    }
}

/// The last lines of a child's log, to show why it could not run.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Run `args` as `n` shard processes and merge them.
pub fn run<W: Write>(args: &RunArgs, n: u32, out: &mut W) -> anyhow::Result<crate::run::Finished> {
    // The scenario is read here first, so a bad one is one clear error, not N.
    let mut resolved = crate::scenario::load(&args.scenario, &args.common.set)?;
    if let Some(seed) = args.common.seed {
        resolved.scenario.seed = seed;
    }
    if let Some(k) = &args.common.key {
        resolved.scenario.target.key = k.clone();
    }
    if let Some(p) = &args.common.protocol {
        resolved.use_profile(p, Path::new("."))?;
    }
    if n > resolved.scenario.accounts.count {
        anyhow::bail!(
            "--processes {n} is more than the scenario's {} account(s): each process runs whole accounts",
            resolved.scenario.accounts.count
        );
    }
    for i in 0..n {
        resolved.shard = Shard { index: i, count: n };
        resolved.check_process_size()?;
    }
    let dir = report_dir(args, &resolved.scenario.name);
    if dir.join("run.json").exists() {
        anyhow::bail!(
            "report directory {} already holds a report (run.json); give a new one",
            dir.display()
        );
    }
    let shards_dir = dir.join("shards");
    std::fs::create_dir_all(&shards_dir)
        .with_context(|| format!("cannot create {}", shards_dir.display()))?;
    let mut kids = Vec::new();
    for index in 0..n {
        let shard = Shard { index, count: n };
        let sdir = shards_dir.join(format!("shard-{index}"));
        let child = spawn(
            args,
            shard,
            &sdir,
            &shards_dir.join(format!("shard-{index}.log")),
        );
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                signal_all(&mut kids);
                return Err(e);
            }
        };
        kids.push(Shardling {
            shard,
            dir: sdir,
            child,
            read: 0,
            live: 0,
            exit: None,
            progressed: tokio::time::Instant::now(),
            hung: None,
        });
    }
    writeln!(
        out,
        "{n} shard processes started; their reports and logs go to {}",
        shards_dir.display()
    )?;
    resolved.shard = Shard::WHOLE;
    let mut progress = Progress::new(
        args.quiet,
        resolved.planned_duration(),
        resolved.cycles_planned(),
        resolved.own_stages(),
    );
    let per_child = resolved.scenario.accounts.count.div_ceil(n);
    let interrupted = watch(
        &mut kids,
        &mut progress,
        &Deadline::of(&resolved, per_child),
    )?;
    progress.finish();
    for k in kids.iter().filter(|k| k.hung.is_some()) {
        eprintln!(
            "warning: shard {} {}; killed, its report is missing or partial (the merged run is INCOMPLETE)",
            k.shard,
            k.hung.as_deref().unwrap_or_default()
        );
    }

    let mut dirs = Vec::new();
    let mut cannot_run = Vec::new();
    for k in &kids {
        let code = k.exit.and_then(|s| s.code());
        if k.dir.join("run.json").exists() {
            dirs.push(k.dir.clone());
        } else if code == Some(i32::from(crate::cli::exit::CANNOT_RUN)) {
            cannot_run.push(format!(
                "shard {} could not run:\n{}",
                k.shard,
                log_tail(&shards_dir.join(format!("shard-{}.log", k.shard.index)))
            ));
        }
    }
    if dirs.is_empty() {
        anyhow::bail!(
            "no shard process wrote a report{}",
            if cannot_run.is_empty() {
                String::new()
            } else {
                format!(": {}", cannot_run.join("\n"))
            }
        );
    }
    for c in &cannot_run {
        eprintln!("{c}");
    }
    if interrupted {
        writeln!(out, "interrupted: merging what the shards wrote")?;
    }
    crate::merge::merge(
        &crate::merge::Options {
            dirs,
            out: dir,
            thresholds: Vec::new(),
            quiet: true,
            summary_json: args.summary_json.clone(),
            baseline: args.baseline.clone(),
            compare: args.tolerance.options(),
        },
        out,
    )
}

/// Show the children's combined progress once a second until every child has exited;
/// forward Ctrl-C and SIGTERM. Returns whether the run was interrupted.
fn watch(
    kids: &mut [Shardling],
    progress: &mut Progress,
    deadline: &Deadline,
) -> anyhow::Result<bool> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let start = tokio::time::Instant::now();
        let mut tick =
            tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        #[cfg(unix)]
        let (mut int, mut term) = {
            use tokio::signal::unix::{signal, SignalKind};
            (
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            )
        };
        let mut signals = 0;
        let mut totals = Snapshot::default();
        let mut last = start;
        loop {
            #[cfg(unix)]
            let got_signal = tokio::select! {
                _ = tick.tick() => false,
                _ = int.recv() => true,
                _ = term.recv() => true,
            };
            #[cfg(not(unix))]
            let got_signal = tokio::select! {
                _ = tick.tick() => false,
                _ = tokio::signal::ctrl_c() => true,
            };
            if got_signal {
                signals += 1;
                signal_all(kids);
                if signals == 1 {
                    progress.stopping();
                } else {
                    eprintln!("second interrupt: the shards exit now, without their reports");
                }
                continue;
            }
            let mut interval = Snapshot::default();
            for k in kids.iter_mut() {
                let path = k.dir.join(records::INTERVALS_FILE);
                if path.exists() {
                    if let Ok((recs, at)) = records::read_intervals_from(&path, k.read) {
                        if at > k.read {
                            k.progressed = tokio::time::Instant::now();
                        }
                        k.read = at;
                        for r in recs {
                            k.live = r.live;
                            if let Ok(s) = r.snapshot() {
                                interval.add(&s);
                            }
                        }
                    }
                }
                if k.exit.is_none() {
                    k.exit = k.child.try_wait()?;
                }
                if k.exit.is_none() && k.hung.is_none() {
                    let now = tokio::time::Instant::now();
                    let why = if now - k.progressed > deadline.stall {
                        Some(format!(
                            "handed in no interval for {}",
                            crate::units::format_duration(deadline.stall)
                        ))
                    } else {
                        deadline.total.filter(|t| now - start > *t).map(|t| {
                            format!(
                                "was still running {} after it started (planned length + graceful stop + margin)",
                                crate::units::format_duration(t)
                            )
                        })
                    };
                    if let Some(why) = why {
                        // SIGKILL: a stopped process takes no other signal until continued.
                        let _ = k.child.kill();
                        k.hung = Some(why);
                    }
                }
            }
            totals.add(&interval);
            let now = tokio::time::Instant::now();
            progress.update(&Tick {
                at: now - start,
                span: now - last,
                live: kids.iter().map(|k| k.live).sum(),
                interval: &interval,
                totals: &totals,
            });
            last = now;
            if kids.iter().all(|k| k.exit.is_some()) {
                return Ok(signals > 0);
            }
        }
    })
}
