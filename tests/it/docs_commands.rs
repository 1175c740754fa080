//! Every command README.md and docs/*.md show, run as written — in a scratch directory where
//! `target/release/loginstorm` and `loginstorm` are this build, through `bash`, shortened only
//! by `--set`s (and search flags) appended for test-sized runs, with the fixed ports of the text
//! swapped for free ones and its `<placeholders>` for report directories made here. A line of a
//! `sh` block this test does not know fails it: a new documented command comes with its check.
//! What cannot run here says why (a benchmark, a network install, a tool the project does not
//! install, an example host), and its script at least parses.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::util::{free_port, TempDir};

/// Each command line of the `sh` blocks of README.md and docs/*.md: where, and the line.
fn documented() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.strip_prefix(root).unwrap().display().to_string();
        let mut in_sh = false;
        for (i, line) in text.lines().enumerate() {
            if let Some(lang) = line.strip_prefix("```") {
                in_sh = !in_sh && matches!(lang.trim(), "sh" | "bash" | "shell" | "console");
                continue;
            }
            let t = line.trim();
            // Comments (an expected output line), and what is typed into a client, not run.
            if in_sh && !t.is_empty() && !t.starts_with('#') && !t.starts_with('{') {
                out.push((format!("{name}:{}", i + 1), t.to_string()));
            }
        }
    }
    out
}

/// The command without its trailing `# comment`.
fn bare(line: &str) -> &str {
    let mut quote = None;
    let b = line.as_bytes();
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i > 0 && b[i - 1].is_ascii_whitespace() => return line[..i].trim_end(),
            _ => {}
        }
    }
    line.trim_end()
}

/// The scratch directory the commands run in, and what they made there.
struct Ctx {
    dir: TempDir,
    /// The report directories made, by scenario, oldest first.
    runs: HashMap<String, Vec<PathBuf>>,
    servers: Vec<Child>,
    sig: String,
}

impl Ctx {
    fn new() -> Ctx {
        let dir = TempDir::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for d in ["scenarios", "benches", "profiles", "deploy"] {
            std::os::unix::fs::symlink(root.join(d), dir.path().join(d)).unwrap();
        }
        let bin = Path::new(env!("CARGO_BIN_EXE_loginstorm"));
        std::fs::create_dir_all(dir.path().join("target/release")).unwrap();
        std::os::unix::fs::symlink(bin, dir.path().join("target/release/loginstorm")).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(bin, dir.path().join("bin/loginstorm")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Ctx {
            dir,
            runs: HashMap::new(),
            servers: Vec::new(),
            sig: String::new(),
        }
    }

    fn shell(&self, cmd: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(cmd)
            .current_dir(self.dir.path())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.dir.path().join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("HOME", self.dir.path().join("home"))
            .env("KEY", loginstorm::server::DEV_KEY)
            .env("SIG", &self.sig)
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("LOGINSTORM_TARGET")
            .env_remove("LOGINSTORM_OUT");
        c
    }

    /// Run `cmd` with `extra` appended; the output, and the report directory it made, if any.
    fn run(&mut self, at: &str, cmd: &str, extra: &str) -> (Output, Option<PathBuf>) {
        let reports = self.dir.path().join("reports");
        let before = listing(&reports);
        let full = format!("{cmd} {extra}");
        let out = self.shell(&full).output().unwrap();
        let made = listing(&reports)
            .into_iter()
            .find(|d| !before.contains(d) && d.join("run.json").exists());
        eprintln!("{at}: {full} → {:?}", out.status.code());
        (out, made)
    }

    /// A run that must pass: its report directory, kept under `key`.
    fn pass(&mut self, at: &str, cmd: &str, extra: &str, key: &str) -> PathBuf {
        let (out, made) = self.run(at, cmd, extra);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("verdict: PASS"),
            "{at}: `{cmd}` did not pass: {:?}\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // `--report-dir DIR` puts it exactly there.
        let named = cmd
            .split_whitespace()
            .skip_while(|w| *w != "--report-dir")
            .nth(1)
            .map(|d| self.dir.path().join(d));
        let dir = named
            .or(made)
            .filter(|d| d.join("run.json").exists())
            .unwrap_or_else(|| panic!("{at}: `{cmd}` made no report directory"));
        self.runs.entry(key.into()).or_default().push(dir.clone());
        dir
    }

    /// Start a server (`serve` as documented, its port swapped), and the first line it printed.
    fn serve(&mut self, cmd: &str) -> String {
        let mut child = self
            .shell(&format!("exec {cmd}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.servers.push(child);
        line.trim_end().to_string()
    }

    /// Two report directories of `key`'s runs (the newest first).
    fn two(&self, key: &str) -> (String, String) {
        let r = &self.runs[key];
        assert!(
            r.len() >= 2,
            "two {key} runs are needed before this command"
        );
        let rel = |p: &PathBuf| {
            p.strip_prefix(self.dir.path())
                .unwrap()
                .display()
                .to_string()
        };
        (rel(&r[r.len() - 1]), rel(&r[0]))
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The `--set`s that make a shipped scenario test-sized.
fn short(cmd: &str) -> &'static str {
    if cmd.contains("kick-storm") {
        "--set accounts.count=30 --set cycle.cycles=2"
    } else if cmd.contains("capacity.toml") {
        "--set 'load.stages=60,1s;60,2s'"
    } else if cmd.contains("gateway-restart") {
        // The shape as written (shards, a restart, reconnects): 600 sessions, restarted at 3 s.
        "--set accounts.count=150 --set load.ramp=1000 --set chaos.0.at=3s --set cycle.hold=6s"
    } else if cmd.contains("trace-replay") {
        "--set load.speed=60"
    } else if cmd.contains("flaky-network") {
        "--set accounts.count=60 --set load.duration=7s"
    } else if cmd.contains("scale.toml") {
        "--set accounts.count=240 --set cycle.hold=1s --set load.ramp=1000"
    } else if cmd.contains("accounts.count=500") {
        // 500 accounts × 10 cycles as written: the same keys, fewer cycles.
        "--set cycle.cycles=2"
    } else {
        ""
    }
}

/// What cannot run here, and why.
fn not_here(cmd: &str) -> Option<&'static str> {
    let bench = "a benchmark: minutes on pinned CPUs, run by hand (docs/performance.md)";
    Some(match cmd {
        "bash .ci/run" => "the test command itself: this test is part of what it runs",
        c if c.starts_with("cargo build") => "builds the binary this test runs",
        c if c.starts_with("cargo install") => {
            "installs into ~/.cargo/bin with a fully optimised build (minutes); the installed binary is this one"
        }
        c if c.starts_with("websocat") => {
            "websocat is not installed by the project; the same exchange is tests/it/server_rules.rs"
        }
        c if c.contains("chat.example.com") => "an example: the reader's own backend and profile",
        c if c.contains("benches/") && c.contains(".sh") => bench,
        c if c.contains("deploy/k8s/validate.sh") => {
            "needs kubeconform and Kubernetes' schemas, which the project does not install; tests/it/deploy.rs checks the manifests"
        }
        _ => return None,
    })
}

#[test]
fn every_documented_command_runs_as_written() {
    let lines = documented();
    assert!(lines.len() > 30, "the docs' commands were not found");
    let mut ctx = Ctx::new();
    let port = free_port();
    // The reference server the `--target` walkthrough runs against, as the README starts it.
    let mut server_cmd = None;
    let mut deferred = Vec::new();
    for (at, line) in &lines {
        let cmd = bare(line);
        if let Some(why) = not_here(cmd) {
            eprintln!("{at}: not run here ({why}): {cmd}");
            // A script it names must exist and parse.
            if let Some(script) = cmd.split_whitespace().find(|w| w.ends_with(".sh")) {
                let ok = ctx.shell(&format!("bash -n {script}")).status().unwrap();
                assert!(ok.success(), "{at}: {script} does not parse");
            }
            continue;
        }
        let cmd = cmd.replace("127.0.0.1:9090", &format!("127.0.0.1:{port}"));
        // `cargo run --release --` is the README's first command: the same run through the
        // binary this build made (cargo is what made it).
        let cmd = match cmd.strip_prefix("cargo run --release -- ") {
            Some(rest) => format!("target/release/loginstorm {rest}"),
            None => cmd,
        };
        match cmd.as_str() {
            c if c.contains(" serve --listen") => {
                let first = ctx.serve(c);
                assert_eq!(
                    first,
                    format!("listening on ws://127.0.0.1:{port}/ws"),
                    "{at}: serve's first line"
                );
                server_cmd = Some(c.to_string());
            }
            c if c.contains(" serve --metrics-listen") => {
                let c = c.replace("127.0.0.1:9465", &format!("127.0.0.1:{}", free_port()));
                let first = ctx.serve(&format!("{c} --listen 127.0.0.1:0"));
                assert!(first.starts_with("listening on ws://127.0.0.1:"), "{at}: {first}");
            }
            c if c.contains("mqtt-takeover") => {
                // A broker of its own, as docs/real-servers.md starts it.
                let m = crate::real_servers::Mosquitto::start();
                let c = c.replace("ws://127.0.0.1:8080/mqtt", &m.url());
                ctx.pass(at, &c, "", "other");
            }
            c if c.contains("--target ws://") => deferred.push((at.clone(), c.to_string())),
            c if c.contains(" run ") && c.contains("--shard ") => {
                // One machine of several, as written; the others as it says, then the merge.
                ctx.pass(at, c, short(c), "shard");
            }
            c if c.contains(" merge ") => {
                if c.contains("reports/r1") {
                    // The README shows shard 1 of 4: the other three machines' runs first.
                    for i in [0, 2, 3] {
                        let run = lines
                            .iter()
                            .map(|(_, l)| bare(l))
                            .find(|l| l.contains("--shard 1/4"))
                            .unwrap()
                            .replace("--shard 1/4", &format!("--shard {i}/4"))
                            .replace("shard-1", &format!("shard-{i}"));
                        ctx.pass(at, &run, short(&run), "shard");
                    }
                }
                let (out, _) = ctx.run(at, c, "");
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success() && text.contains("verdict: PASS"),
                    "{at}: `{c}`: {:?}\n{text}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            c if c.contains(" compare ") => {
                let (new, base) = if c.contains("<new run>") {
                    ctx.two("kick-storm")
                } else {
                    ctx.two("smoke")
                };
                let c = c
                    .replace("reports/<new run>", &new)
                    .replace("reports/<baseline run>", &base)
                    .replace("reports/20261125T190928Z-smoke", &new)
                    .replace("reports/baseline-smoke", &base);
                let (out, _) = ctx.run(at, &c, "");
                // Two runs of a test-sized load may differ past 10 %: a regression (exit 1) is
                // the command working; exit 2 is not.
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    matches!(out.status.code(), Some(0 | 1)) && text.contains("baseline"),
                    "{at}: `{c}`: {:?}\n{text}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            c if c.contains("--baseline reports/baseline-kick-storm") => {
                let (_, base) = ctx.two("kick-storm");
                let c = c.replace("reports/baseline-kick-storm", &base);
                let (out, made) = ctx.run(at, &c, short(&c));
                assert!(matches!(out.status.code(), Some(0 | 1)), "{at}: {:?}", out.status);
                assert!(made.unwrap().join("comparison.csv").exists(), "{at}");
            }
            c if c.contains(" search ") => {
                let (out, _) = ctx.run(at, c, "--ramp 200ms --step 1s --max-steps 2");
                // Whether a latency SLO holds at the rates two steps try is the machine's
                // (a debug build on a loaded CI machine once missed `ready.p99 < 20ms` at
                // 50/s): the command must run its search to the end, found rate or none.
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    matches!(out.status.code(), Some(0 | 1)) && stdout.contains("search report: "),
                    "{at}: `{c}`: {:?}\n{stdout}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                let searched = listing(&ctx.dir.path().join("reports"))
                    .into_iter()
                    .any(|d| d.join("search.csv").exists());
                assert!(searched, "{at}: no search.csv");
            }
            c if c.contains(" run ") && c.contains("--metrics-listen") => {
                // The metrics stay up 20 s after the run by default (for a scraper): not here.
                let c = c.replace("127.0.0.1:9464", &format!("127.0.0.1:{}", free_port()));
                ctx.pass(at, &c, &format!("{} --metrics-linger 0", short(&c)), "other");
            }
            // A latency threshold holds or not by the machine (a debug build, a loaded CI
            // machine): the run must pass, or fail on that threshold alone.
            c if c.contains(" run ") && c.contains(".p99 < ") => {
                let (out, made) = ctx.run(at, c, short(c));
                let text = String::from_utf8_lossy(&out.stdout);
                let dir = made.unwrap_or_else(|| panic!("{at}: `{c}` made no report directory"));
                let verdict = text.lines().rfind(|l| l.starts_with("verdict: "));
                // Failed on thresholds alone, and each failed threshold a p99 one.
                let thresholds = std::fs::read_to_string(dir.join("thresholds.csv"));
                let latency_only = verdict == Some("verdict: FAIL — 1 threshold(s) failed (thresholds.csv)")
                    && thresholds.as_deref().is_ok_and(|t| {
                        t.lines()
                            .skip(1)
                            .filter(|l| l.ends_with(",false"))
                            .all(|l| l.contains(".p99 < "))
                    });
                assert!(
                    (out.status.code() == Some(0)
                        && verdict.is_some_and(|v| v.starts_with("verdict: PASS")))
                        || (out.status.code() == Some(1) && latency_only),
                    "{at}: `{c}`: {:?}\n{text}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                let key = if c.contains("kick-storm") { "kick-storm" } else { "other" };
                ctx.runs.entry(key.into()).or_default().push(dir);
            }
            c if c.contains(" run ") => {
                let key = if c.contains("kick-storm") {
                    "kick-storm"
                } else if c.contains("smoke") {
                    "smoke"
                } else {
                    "other"
                };
                let dir = ctx.pass(at, c, short(c), key);
                if c.contains("--trace-frames") {
                    assert!(dir.join("frames.log").exists(), "{at}: no frames.log");
                }
            }
            c if c.contains(" sig gen") || c.contains(" sig verify") => {
                let (out, _) = ctx.run(at, c, "");
                assert!(
                    out.status.success(),
                    "{at}: `{c}`: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                if c.starts_with("SIG=") || c.ends_with("sig gen --user alice") {
                    let gen = ctx
                        .shell("target/release/loginstorm sig gen --user alice")
                        .output()
                        .unwrap();
                    ctx.sig = String::from_utf8_lossy(&gen.stdout).trim().to_string();
                }
            }
            // A trace (and its picture) made as written: it must read back as a trace.
            c if c.contains("loginstorm trace ") => {
                let (out, _) = ctx.run(at, c, "");
                assert!(
                    out.status.success(),
                    "{at}: `{c}`: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let words: Vec<&str> = c.split_whitespace().collect();
                let after = |flag: &str| {
                    words
                        .iter()
                        .position(|w| *w == flag)
                        .map(|i| ctx.dir.path().join(words[i + 1]))
                };
                if let Some(csv) = after("--out") {
                    let text = std::fs::read_to_string(&csv).unwrap();
                    loginstorm::trace::Trace::parse(&text)
                        .unwrap_or_else(|e| panic!("{at}: `{c}` wrote a bad trace: {e}"));
                }
                if let Some(svg) = after("--svg") {
                    let text = std::fs::read_to_string(&svg).unwrap();
                    assert!(text.contains("<svg") && text.contains("</svg>"), "{at}");
                }
            }
            c if c.starts_with("loginstorm docs") => {
                let (out, _) = ctx.run(at, c, "");
                assert!(out.status.success() && !out.stdout.is_empty(), "{at}: `{c}`");
            }
            c if c.contains("loginstorm man >") => {
                let (out, _) = ctx.run(at, c, "");
                assert!(out.status.success(), "{at}: `{c}`: {:?}", out);
                let page = std::fs::read_to_string(
                    ctx.dir
                        .path()
                        .join("home/.local/share/man/man1/loginstorm.1"),
                )
                .unwrap();
                assert!(page.starts_with(".ie") || page.contains(".TH"), "{at}");
            }
            other => panic!(
                "{at}: a documented command this test does not know how to check: `{other}` — add it to tests/it/docs_commands.rs"
            ),
        }
    }
    // The walkthrough against the server the README started.
    assert!(
        server_cmd.is_some(),
        "the README's serve command was not found"
    );
    for (at, c) in deferred {
        ctx.pass(&at, &c, short(&c), "smoke");
    }
}
