//! Realistic traces for a user without production logs: a shape of the day (or of an incident)
//! turned into rows — each user logs in at times drawn from the shape's login rate, stays an
//! exponentially drawn while, and logs out (docs/traces.md, with a picture of each).

use std::time::Duration;

use super::{Action, Row};
use crate::policy::Platform;

/// The shapes `loginstorm trace` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// A day compressed into the trace: the night's trough at one sixth of it, the evening's
    /// crest at two thirds.
    Diurnal,
    /// A quiet start and the morning's sharp rise to a peak, then a plateau.
    MorningPeak,
    /// A steady background, then a push notification brings a burst of logins in seconds.
    PushBurst,
    /// Steady sessions, then at 60 % of the trace every connection drops and the users come
    /// back within seconds, the fastest first (a gateway restart, seen from the clients).
    GatewayRestart,
}

impl Shape {
    pub const ALL: [Shape; 4] = [
        Shape::Diurnal,
        Shape::MorningPeak,
        Shape::PushBurst,
        Shape::GatewayRestart,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Diurnal => "diurnal",
            Shape::MorningPeak => "morning-peak",
            Shape::PushBurst => "push-burst",
            Shape::GatewayRestart => "gateway-restart",
        }
    }

    /// The relative login rate at `x` ∈ [0, 1) of the trace (its largest value is 1).
    fn rate(self, x: f64) -> f64 {
        use std::f64::consts::PI;
        match self {
            // The night's trough at one sixth, the evening's crest at two thirds.
            Shape::Diurnal => 0.55 + 0.45 * (2.0 * PI * (x - 2.0 / 3.0)).cos(),
            Shape::MorningPeak => {
                let peak = (-((x - 0.35) / 0.07).powi(2)).exp();
                let plateau = if x > 0.35 {
                    0.45
                } else {
                    0.1 + 0.35 * x / 0.35
                };
                plateau.max(peak)
            }
            Shape::PushBurst => {
                let burst = if x >= 0.5 {
                    (-(x - 0.5) / 0.02).exp()
                } else {
                    0.0
                };
                (0.08 + burst).min(1.0)
            }
            Shape::GatewayRestart => 0.3,
        }
    }
}

/// What to make.
#[derive(Debug, Clone)]
pub struct Spec {
    pub shape: Shape,
    pub users: u32,
    pub duration: Duration,
    /// Mean time a session stays logged in.
    pub session: Duration,
    pub platform: Platform,
    pub id_pattern: String,
    pub seed: u64,
}

/// Most rows one trace may have.
pub const MAX_ROWS: usize = 10_000_000;

/// The rows of a trace of `spec`'s shape, in time order (at most [`MAX_ROWS`]).
///
/// Logins arrive as a Poisson process whose rate follows the shape, scaled so that at the
/// shape's crest the sessions online are 80 % of the users (Little's law: online = login rate
/// × mean session); each stays an exponential while and goes to a user free at that instant
/// (a login finding every user busy is skipped). The trace starts empty: its first session
/// length or so is a warm-up.
pub fn generate(spec: &Spec) -> Vec<Row> {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let span = spec.duration.as_secs_f64();
    let mean = spec.session.as_secs_f64().max(0.001);
    let peak_rate = 0.8 * f64::from(spec.users) / mean;
    let mut starts = Vec::new();
    let mut t = 0.0;
    loop {
        t += -(1.0 - rng.f64()).ln() / peak_rate;
        if t >= span || starts.len() >= MAX_ROWS / 4 {
            break;
        }
        if rng.f64() < spec.shape.rate(t / span) {
            starts.push(t);
        }
    }
    // Each login goes to a user free at that instant (the least recently busy first).
    let mut free_at = vec![0.0f64; spec.users as usize];
    let mut rows = Vec::new();
    let restart = (spec.shape == Shape::GatewayRestart).then_some(0.6 * span);
    for start in starts {
        let Some(u) = (0..free_at.len())
            .filter(|u| free_at[*u] <= start)
            .min_by(|a, b| free_at[*a].total_cmp(&free_at[*b]))
        else {
            continue;
        };
        let hold = -mean * (1.0 - rng.f64()).ln();
        let end = start + hold;
        let user = spec.id_pattern.replace("{n}", &u.to_string());
        let row = |at: f64, action| Row {
            at: Duration::from_secs_f64(at),
            user: user.clone(),
            platform: spec.platform,
            action,
        };
        match restart {
            // Online across the restart: dropped, and back within seconds (an SDK's backoff).
            Some(r) if start < r && end > r => {
                let back = r + 0.5 + 4.0 * rng.f64().powi(2);
                rows.push(row(start, Action::Login));
                rows.push(row(r, Action::Drop));
                rows.push(row(back, Action::Login));
                let end = end.max(back + 0.1).min(span);
                rows.push(row(end, Action::Logout));
                free_at[u] = end;
            }
            _ if end < span => {
                rows.push(row(start, Action::Login));
                rows.push(row(end, Action::Logout));
                free_at[u] = end;
            }
            // Still online at the end: logged out at the trace's end.
            _ => {
                rows.push(row(start, Action::Login));
                rows.push(row(span, Action::Logout));
                free_at[u] = f64::INFINITY;
            }
        }
    }
    // Millisecond offsets, as written: sorted on what the file will say, stable, so a
    // user's rows keep their order.
    for r in &mut rows {
        r.at = Duration::from_millis(r.at.as_millis() as u64);
    }
    rows.sort_by_key(|r| r.at);
    rows
}

/// Per second of the trace: (logins, online sessions at the second's end) — the picture's data.
pub fn per_second(rows: &[Row], span: Duration) -> Vec<(f64, f64, f64)> {
    let secs = span.as_secs_f64().ceil() as usize + 1;
    let mut logins = vec![0.0; secs];
    let mut delta = vec![0i64; secs + 1];
    for r in rows {
        let s = (r.at.as_secs_f64() as usize).min(secs - 1);
        match r.action {
            Action::Login => {
                logins[s] += 1.0;
                delta[s] += 1;
            }
            Action::Logout | Action::Drop => delta[s] -= 1,
        }
    }
    let mut online = 0i64;
    (0..secs)
        .map(|s| {
            online += delta[s];
            (s as f64, logins[s], online as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shape: Shape) -> Spec {
        Spec {
            shape,
            users: 200,
            duration: Duration::from_secs(120),
            session: Duration::from_secs(20),
            platform: Platform::Web,
            id_pattern: "u-{n}".into(),
            seed: 5,
        }
    }

    #[test]
    fn every_shape_makes_a_trace_that_schedules() {
        for shape in Shape::ALL {
            let rows = generate(&spec(shape));
            assert!(rows.len() > 100, "{}: {} rows", shape.name(), rows.len());
            let t = super::super::Trace::schedule(&rows)
                .unwrap_or_else(|e| panic!("{}: {e}", shape.name()));
            assert!(t.users.len() <= 200);
            assert_eq!(
                t.platforms,
                [Platform::Web],
                "{}: one session a user",
                shape.name()
            );
        }
    }

    #[test]
    fn the_shapes_are_where_they_say() {
        // The start of the 5 s window with the most logins.
        let busiest = |shape| {
            let s = per_second(&generate(&spec(shape)), Duration::from_secs(120));
            let logins: Vec<f64> = s.iter().map(|p| p.1).collect();
            (0..logins.len() - 5)
                .max_by(|a, b| {
                    let sum = |i: usize| logins[i..i + 5].iter().sum::<f64>();
                    sum(*a).total_cmp(&sum(*b))
                })
                .unwrap() as f64
        };
        // A push burst at half time; a morning peak around 35 %; the restart's return at 60 %.
        assert!((56.0..=62.0).contains(&busiest(Shape::PushBurst)));
        assert!((30.0..=48.0).contains(&busiest(Shape::MorningPeak)));
        assert!((68.0..=76.0).contains(&busiest(Shape::GatewayRestart)));
        // A diurnal day: the evening's crowd (two thirds in) is several times the night's.
        let day = per_second(&generate(&spec(Shape::Diurnal)), Duration::from_secs(120));
        let online = |s: usize| day[s].2;
        assert!(
            online(85) > 3.0 * online(25),
            "{} vs {}",
            online(85),
            online(25)
        );
        let restart = generate(&spec(Shape::GatewayRestart));
        assert!(restart.iter().any(|r| r.action == Action::Drop));
        assert_eq!(
            generate(&spec(Shape::Diurnal)),
            generate(&spec(Shape::Diurnal))
        );
    }
}
