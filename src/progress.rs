//! The live display: an indicatif bar on a terminal, a plain status line every few seconds
//! otherwise — in CI logs, or whenever `CI` is set (GitHub Actions, GitLab, … set it). Both go
//! to stderr; stdout keeps the summary. A plain line reports its whole interval (rates and the
//! login p99 over the last five seconds, not the last second's); violations are printed the
//! second they are found, in both modes.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

use crate::checks::Class;
use crate::model::{Counter, Metric, Snapshot, Tick};
use crate::scenario::Stage;

/// Plain status lines are printed this often when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    planned: Option<Duration>,
    planned_cycles: Option<u64>,
    /// The open model's plan, for the offered rate.
    stages: Vec<Stage>,
    /// What the plain line's interval has gathered so far, and how long it is.
    pending: Snapshot,
    pending_span: Duration,
}

/// Whether the environment asks for plain lines: `CI` set to anything but `false`/`0`.
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

impl Progress {
    pub fn new(
        quiet: bool,
        planned: Option<Duration>,
        planned_cycles: Option<u64>,
        stages: Vec<Stage>,
    ) -> Progress {
        let tty = std::io::stderr().is_terminal() && !ci();
        let bar = (!quiet && tty).then(|| {
            let (len, template) = match (planned_cycles, planned) {
                (Some(c), _) => (c, "{elapsed_precise} [{bar:30}] {pos}/{len} cycles  {msg}"),
                (None, Some(d)) => (
                    d.as_secs().max(1),
                    "{elapsed_precise} [{bar:30}] {pos}/{len}s  {msg}",
                ),
                (None, None) => (0, "{elapsed_precise} {spinner} {msg}"),
            };
            let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(template)
                    .expect("static template")
                    .progress_chars("=> "),
            );
            b
        });
        Progress {
            bar,
            plain: !quiet && !tty,
            planned,
            planned_cycles,
            stages,
            pending: Snapshot::default(),
            pending_span: Duration::ZERO,
        }
    }

    /// The status over `span` ending at `at`, from what was recorded in it.
    fn line(&self, s: &Snapshot, span: Duration, at: Duration, live: i64, errors: u64) -> String {
        let secs = span.as_secs_f64().max(1e-3);
        let login = s.hist(Metric::Login);
        let p99 = if login.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1}ms", login.value_at_quantile(0.99) as f64 / 1e3)
        };
        let offered = if self.stages.is_empty() {
            String::new()
        } else {
            let n = crate::scenario::arrivals_until(&self.stages, at)
                - crate::scenario::arrivals_until(&self.stages, at.saturating_sub(span));
            format!("offered/s {:.0}  ", n / secs)
        };
        // A reconnect storm under way shows as it goes: losses in disruptions, the instances
        // trying to come back, and those back.
        let storm = if crate::model::had_reconnects(s) {
            format!(
                "  lost {}  reconnecting/s {:.0}  back/s {:.0}",
                s.get(Counter::ConnectionsLostPlanned) + s.get(Counter::ConnectionsLost),
                s.get(Counter::ReconnectAttempts) as f64 / secs,
                s.get(Counter::Reconnects) as f64 / secs
            )
        } else {
            String::new()
        };
        format!(
            "live {}  {offered}logins/s {:.0}  kicks/s {:.0}  errors {}  p99 login {}{storm}",
            live.max(0),
            s.get(Counter::LoginsOk) as f64 / secs,
            s.kicks_total() as f64 / secs,
            errors,
            p99
        )
    }

    pub fn update(&mut self, t: &Tick) {
        self.violations_live(t);
        if let Some(b) = &self.bar {
            match self.planned_cycles {
                Some(_) => b.set_position(t.totals.get(Counter::CyclesCompleted)),
                None => b.set_position(t.at.as_secs()),
            }
            b.set_message(self.line(t.interval, t.span, t.at, t.live, t.totals.errors_total()));
        } else if self.plain {
            self.pending.add(t.interval);
            self.pending_span += t.span;
            if self.pending_span + Duration::from_millis(100) >= PLAIN_EVERY {
                let of = match (self.planned_cycles, self.planned) {
                    (Some(c), _) => {
                        format!("cycles {}/{}", t.totals.get(Counter::CyclesCompleted), c)
                    }
                    (None, Some(d)) => format!("{}s/{}s", t.at.as_secs(), d.as_secs()),
                    (None, None) => format!("{}s", t.at.as_secs()),
                };
                let line = self.line(
                    &self.pending,
                    self.pending_span,
                    t.at,
                    t.live,
                    t.totals.errors_total(),
                );
                eprintln!("[{}s] {of}  {line}", t.at.as_secs());
                self.pending = Snapshot::default();
                self.pending_span = Duration::ZERO;
            }
        }
    }

    /// Violations found in this interval, by class, printed at once.
    fn violations_live(&self, t: &Tick) {
        if self.bar.is_none() && !self.plain {
            return;
        }
        let found: Vec<String> = Class::ALL
            .iter()
            .filter(|c| t.interval.violations(**c) > 0)
            .map(|c| format!("{} {}", c.name(), t.interval.violations(*c)))
            .collect();
        if found.is_empty() {
            return;
        }
        let text = format!(
            "[{}s] {}: {}",
            t.at.as_secs(),
            if t.interval.violations_total() > 0 {
                "VIOLATIONS"
            } else {
                "warnings"
            },
            found.join(", ")
        );
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }

    pub fn stopping(&mut self) {
        if let Some(b) = &self.bar {
            b.set_message("stopping: logging instances out…");
        } else if self.plain {
            eprintln!("stopping: logging instances out…");
        }
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
