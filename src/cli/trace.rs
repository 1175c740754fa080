//! `loginstorm trace`: write a realistic trace for `load.model = "trace"` (and, with --svg, its
//! picture: logins per second and sessions online over the trace).

use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

use crate::policy::Platform;
use crate::trace::shapes::{self, Shape};
use crate::units::Dur;

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The shape of the day (or of the incident) the trace follows.
    #[arg(long, value_enum)]
    pub shape: Shape,
    /// Users (accounts) the sessions are dealt to.
    #[arg(long, default_value_t = 1000)]
    pub users: u32,
    /// How long the trace lasts at ×1.
    #[arg(long, default_value = "10m")]
    pub duration: Dur,
    /// Mean time a session stays logged in (drawn exponentially).
    #[arg(long, default_value = "2m")]
    pub session: Dur,
    /// The platform of every session.
    #[arg(long, default_value = "Web")]
    pub platform: Platform,
    /// userID of user n; must contain {n}.
    #[arg(long, default_value = "trace-{n}")]
    pub id_pattern: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the CSV here (default: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also draw its picture (SVG) here.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

pub fn trace(a: TraceArgs) -> anyhow::Result<u8> {
    if a.users == 0 || a.users > 1_000_000 {
        anyhow::bail!("--users must be within 1..=1000000");
    }
    if !a.id_pattern.contains("{n}") {
        anyhow::bail!("--id-pattern must contain {{n}}");
    }
    if a.duration.0.as_secs_f64() < 1.0 || a.duration.0.as_secs() > 7 * 86_400 {
        anyhow::bail!("--duration must be within 1s..=7d");
    }
    if a.session.0.is_zero() {
        anyhow::bail!("--session must be above 0");
    }
    let spec = shapes::Spec {
        shape: a.shape,
        users: a.users,
        duration: a.duration.0,
        session: a.session.0,
        platform: a.platform,
        id_pattern: a.id_pattern,
        seed: a.seed,
    };
    let rows = shapes::generate(&spec);
    let csv = crate::trace::to_csv(&rows);
    match &a.out {
        Some(p) => {
            std::fs::write(p, &csv).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => print!("{csv}"),
    }
    if let Some(p) = &a.svg {
        let svg =
            crate::report::trace_picture(a.shape.name(), &shapes::per_second(&rows, a.duration.0));
        std::fs::write(p, svg).with_context(|| format!("cannot write {}", p.display()))?;
    }
    eprintln!(
        "{} rows, {} users, {} at ×1 ({} shape)",
        rows.len(),
        a.users,
        crate::units::format_duration(a.duration.0),
        a.shape.name()
    );
    Ok(super::exit::OK)
}
