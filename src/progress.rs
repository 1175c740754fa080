//! The live display: an indicatif bar on a terminal, a plain status line every few seconds
//! otherwise (CI logs). Both go to stderr; stdout keeps the summary.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

use crate::model::{Counter, Metric, Tick};

/// Plain status lines are printed this often when stderr is not a terminal.
const PLAIN_EVERY: u64 = 5;

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    planned: Option<Duration>,
    planned_cycles: Option<u64>,
}

impl Progress {
    pub fn new(quiet: bool, planned: Option<Duration>, planned_cycles: Option<u64>) -> Progress {
        let tty = std::io::stderr().is_terminal();
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
        }
    }

    fn line(t: &Tick) -> String {
        let secs = t.span.as_secs_f64().max(1e-3);
        let p99 = t.interval.hist(Metric::Login);
        let p99 = if p99.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1}ms", p99.value_at_quantile(0.99) as f64 / 1e3)
        };
        format!(
            "live {}  logins/s {:.0}  kicks/s {:.0}  errors {}  p99 login {}",
            t.live.max(0),
            t.interval.get(Counter::LoginsOk) as f64 / secs,
            t.interval.kicks_total() as f64 / secs,
            t.totals.errors_total(),
            p99
        )
    }

    pub fn update(&mut self, t: &Tick) {
        if let Some(b) = &self.bar {
            match self.planned_cycles {
                Some(_) => b.set_position(t.totals.get(Counter::CyclesCompleted)),
                None => b.set_position(t.at.as_secs()),
            }
            b.set_message(Self::line(t));
        } else if self.plain && t.at.as_secs().is_multiple_of(PLAIN_EVERY) {
            let of = match (self.planned_cycles, self.planned) {
                (Some(c), _) => format!("cycles {}/{}", t.totals.get(Counter::CyclesCompleted), c),
                (None, Some(d)) => format!("{}s/{}s", t.at.as_secs(), d.as_secs()),
                (None, None) => format!("{}s", t.at.as_secs()),
            };
            eprintln!("[{}s] {of}  {}", t.at.as_secs(), Self::line(t));
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
