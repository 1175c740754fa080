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

use crate::progress::Progress;
use crate::run::Options;
use crate::scenario::Overrides;
use crate::shard::Shard;

mod watch;
use watch::watch;
pub use watch::Deadline;

/// One child and how far its `intervals.jsonl` has been read.
pub(super) struct Shardling {
    pub(super) shard: Shard,
    pub(super) dir: PathBuf,
    pub(super) child: Child,
    pub(super) read: u64,
    pub(super) live: i64,
    pub(super) exit: Option<std::process::ExitStatus>,
    /// When its `intervals.jsonl` last grew (or it started).
    pub(super) progressed: tokio::time::Instant,
    /// Why it was killed as hung, if it was.
    pub(super) hung: Option<String>,
}

/// The directory of the merged report: `--report-dir`, or a new one under `--out`.
fn report_dir(o: &Options, scenario: &str) -> PathBuf {
    match &o.report_dir {
        Some(d) => d.clone(),
        None => crate::report::new_dir_under(&o.out_dir, scenario, std::time::SystemTime::now()),
    }
}

/// Start shard `shard` of the scenario as a child `run`, with the parent's overrides `o` (the
/// key in its environment) and its run options `run` (`--trace-frames` for shard 0 only).
fn spawn(
    scenario: &Path,
    o: &Overrides,
    run: &Options,
    shard: Shard,
    dir: &Path,
    log: &Path,
) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the loginstorm binary to start")?;
    let log =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg(scenario)
        .arg("--quiet")
        .arg("--shard")
        .arg(shard.to_string())
        .arg("--report-dir")
        .arg(dir);
    if let Some(t) = &o.target {
        cmd.arg("--target").arg(t);
    }
    if let Some(seed) = o.seed {
        cmd.arg("--seed").arg(seed.to_string());
    }
    if let Some(p) = &o.protocol {
        // A file named from here: children start here too, but say it absolutely anyway.
        let path = std::path::Path::new(p);
        let spec = if path.exists() {
            std::fs::canonicalize(path).map_or_else(|_| p.clone(), |a| a.display().to_string())
        } else {
            p.clone()
        };
        cmd.arg("--protocol").arg(spec);
    }
    if let Some(ca) = &o.ca_file {
        cmd.arg("--ca-file")
            .arg(std::fs::canonicalize(ca).unwrap_or_else(|_| ca.clone()));
    }
    if o.insecure {
        cmd.arg("--insecure");
    }
    // The key travels in the environment, never in a child's arguments.
    if let Some(k) = &o.key {
        cmd.env("LOGINSTORM_KEY", k);
    }
    for s in &o.sets {
        // A `--set target.key=…` too: it goes to the child as LOGINSTORM_KEY (which --key,
        // when given, already set and takes precedence over).
        match crate::report::key_override(s) {
            Some(key) => {
                if o.key.is_none() {
                    cmd.env("LOGINSTORM_KEY", key);
                }
            }
            None => {
                cmd.arg("--set").arg(s);
            }
        }
    }
    // The run's first instance is shard 0's first: that shard traces it, into its own
    // report directory (shards/shard-0/frames.log).
    if run.trace_frames && shard.index == 0 {
        cmd.arg("--trace-frames");
    }
    for t in &run.thresholds {
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
pub(super) fn signal_all(kids: &mut [Shardling]) {
    for k in kids.iter().filter(|k| k.exit.is_none()) {
        // SAFETY: kill(2) on a child's pid (its own process group leader).
        unsafe {
            libc::kill(k.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }
}

#[cfg(not(unix))]
pub(super) fn signal_all(kids: &mut [Shardling]) {
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
/// Run the scenario at `scenario` as `n` shard processes, with the run options `o` (the same a
/// single `run` takes), and merge them.
pub fn run<W: Write>(
    scenario: &Path,
    overrides: &Overrides,
    o: &Options,
    n: u32,
    out: &mut W,
) -> anyhow::Result<crate::run::Finished> {
    // The scenario is read here first, so a bad one is one clear error, not N.
    let mut resolved = crate::scenario::load(scenario, overrides)?;
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
    let dir = report_dir(o, &resolved.scenario.name);
    if dir.join("run.json").exists() {
        anyhow::bail!(
            "report directory {} already holds a report (run.json); give a new one",
            dir.display()
        );
    }
    // A Ctrl-C from here on is forwarded to the shards, even one that comes while they start
    // (interrupt.rs): it must not kill this process and leave them running.
    crate::interrupt::count();
    let shards_dir = dir.join("shards");
    std::fs::create_dir_all(&shards_dir)
        .with_context(|| format!("cannot create {}", shards_dir.display()))?;
    let mut kids = Vec::new();
    for index in 0..n {
        let shard = Shard { index, count: n };
        let sdir = shards_dir.join(format!("shard-{index}"));
        let child = spawn(
            scenario,
            overrides,
            o,
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
    // The window a Ctrl-C can fall in before the watch's own signal streams exist, held open
    // for the test that proves it is not fatal (test_hook.rs): a test build only.
    if let Some(ms) = crate::test_hook::number("LOGINSTORM_TEST_PARENT_WAITS_MS") {
        out.flush()?;
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    resolved.shard = Shard::WHOLE;
    let mut progress = Progress::new(
        o.quiet,
        resolved.planned_duration(),
        resolved.cycles_planned(),
        resolved.own_stages(),
    );
    let per_child = resolved.scenario.accounts.count.div_ceil(n);
    // One aggregate endpoint for the whole run: the children's intervals as the parent adds
    // them up for its display, then the merged run's final figures.
    let metrics = crate::live_metrics::RunMetrics::start(
        o.metrics_listen,
        &resolved.scenario.name,
        resolved.own_stages(),
    )?;
    let (interrupted, fed) = watch(
        &mut kids,
        &mut progress,
        &Deadline::of(&resolved, per_child),
        metrics.as_ref(),
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
    let finished = crate::merge::merge(
        &crate::merge::Options {
            dirs,
            out: dir,
            thresholds: Vec::new(),
            quiet: true,
            summary_json: o.summary_json.clone(),
            baseline: o.baseline.clone(),
            compare: o.compare.clone(),
        },
        out,
    )?;
    if let Some(m) = &metrics {
        m.catch_up(&fed, &finished.totals);
        m.linger(o.metrics_linger);
    }
    Ok(finished)
}
