//! Command-line interface: raw arguments become one validated configuration before work starts.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

mod search;
mod serve;
mod sig;
mod trace;
pub use search::SearchArgs;
pub use serve::{ConfigError, ServeArgs};
pub use sig::{SigApp, SigCommand, SigGenArgs, SigVerifyArgs};
pub use trace::{trace, TraceArgs};

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Everything passed.
    pub const OK: u8 = 0;
    /// The run (or check) completed and failed: thresholds, violations, an invalid UserSig.
    pub const FAILED: u8 = 1;
    /// The tool could not do its job: bad arguments or scenario, unreachable target, I/O error.
    pub const CANNOT_RUN: u8 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "loginstorm",
    version,
    about = "Load tester for chat backends: login storms, multi-instance kicks, session promises under load",
    long_about = "loginstorm drives many simulated chat-SDK instances through login -> sdkStateReady -> logout \
cycles, makes logins of one account collide on purpose, and checks that the backend kept its \
multi-instance kick policy. It ships a reference server (`loginstorm serve`) that speaks the same \
protocol and is the embedded default target.\n\n\
Exit codes: 0 passed; 1 ran but failed (a policy violation, a threshold, a regression against a \
baseline, an interrupted run, or the backend's health: no login succeeded, the target refused or \
dropped connections, protocol errors, failures past the error budget; or an invalid UserSig); \
2 could not run; 130 after a second Ctrl-C (the first winds the run down and writes its reports, \
the second exits at once without them). The last line of a run names every reason."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario: drive simulated SDK instances, print a summary, write CSV reports.
    ///
    /// With no target (neither --target nor `target.url` in the scenario), the scenario's
    /// `[server]` settings start the reference server in-process on a free loopback port.
    /// Reports go to OUT/<UTC time>-<scenario>/.
    #[command(after_help = "Examples:
  loginstorm run scenarios/smoke.toml                       # against the embedded server
  loginstorm run scenarios/kick-storm.toml --target ws://10.0.0.5:9090/ws
  loginstorm run s.toml --set accounts.count=5000 --threshold 'login.p99 < 150ms'
  loginstorm run s.toml --baseline reports/<earlier run>    # fail on a regression
  loginstorm run s.toml --summary-json - | jq .verdict
  loginstorm run s.toml --target wss://chat.example.com/ws --protocol my-backend.toml
  loginstorm run s.toml --processes 12                      # shards on this machine, merged
  loginstorm run s.toml --shard 1/4 --report-dir r/shard-1  # one shard; then `loginstorm merge`

Environment: LOGINSTORM_TARGET, LOGINSTORM_OUT, LOGINSTORM_SEED, LOGINSTORM_SHARD,
LOGINSTORM_PROTOCOL, LOGINSTORM_KEY stand for their flags; CI=true gives plain status lines;
GITHUB_STEP_SUMMARY gets a Markdown summary.")]
    Run(RunArgs),
    /// Compare two runs' reports: a per-metric delta table (latency percentiles, rates, kick and
    /// violation counts) that fails (exit 1) on a regression beyond the tolerance.
    ///
    /// Regressions: a latency percentile beyond its noise — each gets a confidence interval
    /// from its run's one-second histograms; p50 regresses when the intervals do not overlap
    /// and it grew by more than --max-regression and --min-latency-delta, p90..p99.9 when the
    /// gap between the intervals exceeds both; logins/s or cycles/s down by more than
    /// --max-regression; any new violation; errors up by more than the tolerance; kick counts
    /// changed by more than it.
    /// Percentiles measured within under two seconds, or with under 10 samples beyond them, and
    /// the rates of runs without a planned duration, are shown but not judged.
    Compare(CompareArgs),
    /// Merge shard runs (`run --shard I/N`) into one report, judged as one run.
    ///
    /// Exact: histograms are added interval by interval (percentiles of the sum, never averaged
    /// percentiles), counters summed, intervals aligned on UTC time, accounts with their kicks,
    /// expectations and violations concatenated. The scenario's thresholds (and those each shard
    /// was given with --threshold, plus any given here) and the verdict are judged on the
    /// merged run. Shards of different scenarios or seeds are refused (exit 2); a missing,
    /// unfinished (killed) or duplicated shard makes the merged run INCOMPLETE (exit 1).
    ///
    /// Exit codes as `run`: 0 PASS; 1 FAIL or INCOMPLETE; 2 could not merge.
    #[command(after_help = "Examples:
  loginstorm merge reports/shard-0 reports/shard-1 reports/shard-2 --out reports/merged
  loginstorm merge /reports/run-42/shard-* --out /reports/run-42/merged --threshold 'login.p99 < 200ms'")]
    Merge(MergeArgs),
    /// Run the reference server (protocol v1 on GET /ws, admin REST API on POST /v4/...).
    ///
    /// The first line on stdout is `listening on ws://HOST:PORT/ws`. Ctrl-C or SIGTERM stops it.
    #[command(after_help = "Examples:
  loginstorm serve --listen 127.0.0.1:9090 --limits Web=3,Android=1 --mode dual
  loginstorm serve --listen 127.0.0.1:0 --ready-delay 20ms..200ms   # a free port
  loginstorm serve --fault-drop-kick 0.1      # a broken backend, for proving the checks")]
    Serve(ServeArgs),
    /// Find the highest open-model arrival rate at which the backend meets every SLO.
    ///
    /// Runs the scenario in steps at fixed arrival rates (open model: each arrival is one cycle
    /// of the next account), growing the rate by --factor from --start until a step breaks an
    /// SLO, then bisecting between the highest passing and the lowest failing rate until they
    /// are within --precision. A step passes when its verdict passes with the SLOs as
    /// thresholds (so policy violations and the backend's health count too), every arrival was
    /// delivered, and the generator kept its own schedule. Prints each step, the highest rate
    /// that met every SLO, the knee (where the SLO latency's p99 more than doubled), and whether
    /// the generator or the backend ran out first; writes OUT/<time>-search-<scenario>/search.csv
    /// and each step's reports under steps/. Stops after at most --max-steps steps.
    ///
    /// Example: loginstorm search scenarios/capacity-search.toml --slo "ready.p99 < 50ms"
    /// --slo "login.error_rate < 0.1%"
    ///
    /// Exit codes: 0 a rate met every SLO; 1 none did (or interrupted); 2 could not run.
    Search(SearchArgs),
    /// Mint or check UserSigs (TLSSigAPIv2).
    #[command(subcommand)]
    Sig(SigCommand),
    /// Write a realistic trace (CSV of offset,userID,platform,action) for `load.model =
    /// "trace"`, in a shape of the day or of an incident, and optionally its picture.
    ///
    /// Each user logs in at times drawn from the shape's login rate and stays an exponentially
    /// drawn while (--session on average). The shapes are pictured in docs/traces.md.
    #[command(after_help = "Examples:
  loginstorm trace --shape morning-peak --users 5000 --duration 10m --out morning.csv
  loginstorm trace --shape push-burst --users 1000 --duration 2m --session 30s --svg burst.svg
  # then, in a scenario: [load] model = \"trace\", trace = \"morning.csv\", speed = 10")]
    Trace(TraceArgs),
    /// Print the documentation built into this binary: the topics, or one of them (Markdown).
    ///
    /// e.g. `loginstorm docs`, `loginstorm docs scenarios | less`, `loginstorm docs checks`.
    Docs {
        /// A topic (`loginstorm docs` lists them): scenarios, checks, reports, ci, backends, …
        topic: Option<String>,
    },
    /// Print the man page (roff) of loginstorm and its subcommands.
    ///
    /// e.g. `loginstorm man > ~/.local/share/man/man1/loginstorm.1 && man loginstorm`.
    Man,
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    ///
    /// e.g. `loginstorm completions bash > ~/.local/share/bash-completion/completions/loginstorm`,
    /// `loginstorm completions zsh > ~/.zfunc/_loginstorm`,
    /// `loginstorm completions fish > ~/.config/fish/completions/loginstorm.fish`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario file (TOML); see `loginstorm docs scenarios` and the files in scenarios/.
    pub scenario: PathBuf,
    #[command(flatten)]
    pub common: Common,
    /// No live display (the summary is still printed).
    #[arg(long)]
    pub quiet: bool,
    /// A pass/fail limit, added to the scenario's [thresholds], e.g. `login.p99 < 150ms`,
    /// `ready.p99.9 < 1s`, `kick_propagation.max < 500ms`, `kicks.lost == 0`,
    /// `violations == 0`, `login.error_rate < 0.1%`. Repeatable. A failed one exits 1.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = parse_threshold)]
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// Compare this run with a baseline run's report directory; a regression exits 1
    /// (see `loginstorm compare --help`).
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Also write the results (`summary.json`, always in the report directory) to PATH; `-`
    /// writes them to stdout and moves the run's text to stderr, for `| jq`.
    #[arg(long, value_name = "PATH|-")]
    pub summary_json: Option<PathBuf>,
    /// Serve live metrics while the run lasts: OpenMetrics / Prometheus text on
    /// `GET http://ADDR/metrics` (`loginstorm docs reports` lists them, with queries for Grafana). ADDR is
    /// HOST:PORT, or :PORT for every interface.
    #[arg(long, value_name = "ADDR", value_parser = crate::live_metrics::parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    /// Keep the metrics up this long after the run ended, so a scraper sees the final figures
    /// (the default outlasts one 15 s scrape interval; Ctrl-C ends it early). 0 = stop at once.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "20s",
        requires = "metrics_listen"
    )]
    pub metrics_linger: crate::units::Dur,
    #[command(flatten)]
    pub tolerance: Tolerance,
    /// Run only shard I of N: the accounts whose index n has n % N == I, with their share of
    /// the open model's arrivals and the closed model's ramp, exactly as the unsharded run
    /// would run them (same seed, same userIDs). Merge the shards' reports with `loginstorm
    /// merge`. Kubernetes: `--shard $(JOB_COMPLETION_INDEX)/N` (deploy/k8s/).
    #[arg(
        long,
        value_name = "I/N",
        conflicts_with = "processes",
        env = "LOGINSTORM_SHARD"
    )]
    pub shard: Option<crate::shard::Shard>,
    /// Run the scenario as N shard processes on this machine (each with its own embedded
    /// server when there is no target), show one live display, and merge their reports into
    /// one report directory that holds the shards' under shards/. How one machine passes the
    /// per-process open-file limit and uses every core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub processes: Option<u32>,
    /// Write every frame the run's first instance sends and receives to frames.log in the
    /// report directory (milliseconds since the start, `>` sent / `<` received, the frame; each
    /// UserSig as its hash): to see a protocol profile at work (`loginstorm docs backends`). With
    /// --processes, shard 0's first instance, in shards/shard-0/frames.log.
    #[arg(long)]
    pub trace_frames: bool,
    /// Write the report exactly into DIR (made if absent; refused if it already holds one)
    /// instead of a new directory under --out.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

/// What a run (or each step of a search) goes against, and where its reports go.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Directory under which the report directory is made.
    #[arg(
        long,
        default_value = "reports",
        value_name = "DIR",
        env = "LOGINSTORM_OUT"
    )]
    pub out: PathBuf,
    #[command(flatten)]
    pub overrides: crate::scenario::Overrides,
}

/// How much worse than the baseline is still fine.
#[derive(Args, Debug, Clone)]
pub struct Tolerance {
    /// Largest accepted relative regression: latency percentiles growing or rates falling by
    /// more than this (e.g. `10%` or `0.1`) are regressions.
    #[arg(long, default_value = "10%", value_name = "PCT", value_parser = crate::compare::parse_tolerance)]
    pub max_regression: f64,
    /// Latency growth below this is never a regression (microsecond jitter).
    #[arg(long, default_value = "1ms", value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub min_latency_delta: std::time::Duration,
    /// Compare only these metrics (names or prefixes, comma-separated: `ready,login.p99,logins_per_sec`).
    #[arg(long, value_name = "METRICS", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Leave these metrics out (names or prefixes, comma-separated: `connect,message`).
    #[arg(long, value_name = "METRICS", value_delimiter = ',')]
    pub ignore: Vec<String>,
}

impl Tolerance {
    pub fn options(&self) -> crate::compare::Options {
        crate::compare::Options {
            max_regression: self.max_regression,
            floor_us: self.min_latency_delta.as_secs_f64() * 1e6,
            filter: crate::compare::Filter {
                only: self.only.clone(),
                ignore: self.ignore.clone(),
            },
        }
    }
}

impl RunArgs {
    /// The run options these flags ask for.
    pub fn options(&self) -> crate::run::Options {
        crate::run::Options {
            out_dir: self.common.out.clone(),
            report_dir: self.report_dir.clone(),
            trace_frames: self.trace_frames,
            shard: self.shard.unwrap_or_default(),
            quiet: self.quiet,
            thresholds: self.thresholds.clone(),
            baseline: self.baseline.clone(),
            compare: self.tolerance.options(),
            summary_json: self.summary_json.clone(),
            metrics_listen: self.metrics_listen,
            metrics_linger: self.metrics_linger.0,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// The shards' report directories (each made by `run --shard I/N`), or a directory that
    /// holds them (every subdirectory with a run.json is merged).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The merged report directory (made if absent; refused if it already holds a report).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A pass/fail limit judged on the merged run, added to the scenario's; repeatable.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = parse_threshold)]
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// Also write summary.json here (`-` = stdout; the text then goes to stderr).
    #[arg(long, value_name = "PATH|-")]
    pub summary_json: Option<PathBuf>,
}

impl MergeArgs {
    pub fn options(&self) -> crate::merge::Options {
        crate::merge::Options {
            dirs: self.dirs.clone(),
            out: self.out.clone(),
            thresholds: self.thresholds.clone(),
            quiet: false,
            summary_json: self.summary_json.clone(),
            ..Default::default()
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Report directory of the run to judge.
    pub current: PathBuf,
    /// Report directory of the baseline run.
    pub baseline: PathBuf,
    #[command(flatten)]
    pub tolerance: Tolerance,
}

pub(crate) fn parse_threshold(
    s: &str,
) -> Result<crate::thresholds::Threshold, crate::model::ThresholdError> {
    s.parse()
}
