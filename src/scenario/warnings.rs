//! Settings that keep a check from judging: said up front, naming the key, so a scenario never
//! looks checked when it is not (the run's summary also counts each invariant's judgments).

use super::{Alignment, ConnectionMode, CycleEnd, OnKick, Resolved};
use crate::checks::Class;

/// One sentence per setting that makes an invariant impossible (or unlikely) to judge; one
/// whose checks the scenario lists in `checks.unjudged` (it leaves them unjudged knowingly) is
/// left out.
pub fn check_warnings(r: &Resolved) -> Vec<String> {
    let s = &r.scenario;
    let known = |blinds: &[Class]| {
        !blinds.is_empty()
            && blinds
                .iter()
                .all(|c| s.checks.unjudged.iter().any(|u| u == c.name()))
    };
    blinding(r)
        .into_iter()
        .filter(|(blinds, _)| !known(blinds))
        .map(|(_, text)| text)
        .collect()
}

/// Every warning that applies, with the checks it blinds (none: not about a check).
fn blinding(r: &Resolved) -> Vec<(Vec<Class>, String)> {
    use Class::*;
    let s = &r.scenario;
    let mut w: Vec<(Vec<Class>, String)> = Vec::new();
    // Protocol v1 has no heartbeat: a session holding this long says nothing, and a backend
    // with an idle bound (`loginstorm serve` keeps ten minutes) closes it. The embedded
    // server has none.
    if s.cycle.hold.max >= crate::server::DEFAULT_IDLE_TIMEOUT && !s.target.url.is_empty() {
        w.push((vec![], format!(
            "cycle.hold reaches {}: an instance sends nothing while it holds, and a backend with an idle bound of that or less (`loginstorm serve --idle-timeout`, ten minutes by default) closes it as gone",
            crate::units::format_duration(s.cycle.hold.max)
        )));
    }
    let (timeout, beat) = (s.server.session_timeout.0, s.reconnect.heartbeat.0);
    if !timeout.is_zero() && s.target.url.is_empty() && (beat.is_zero() || beat >= timeout) {
        w.push((vec![], format!(
            "server.session_timeout = {} with no reconnect.heartbeat shorter than it: the embedded server will close healthy instances that stay silent that long (connections_lost)",
            crate::units::format_duration(timeout)
        )));
    }
    if !s.checks.enabled {
        w.push((Class::ALL.to_vec(),
            "checks.enabled = false: no invariant is judged; the verdict rests on the backend's health and the thresholds alone".into(),
        ));
        return w;
    }
    let kicks = !r.policy.admits(&r.platforms);
    if !kicks {
        w.push((vec![Capacity, KickCount, VictimOrder, LateKick], format!(
            "accounts.instances = {:?} never exceeds policy.limits = {:?} (mode {}): no login kicks another, so capacity, kick_count, victim_order and late_kick have nothing to judge",
            s.accounts.instances, r.policy.limits.to_spec(), r.policy.mode
        )));
    }
    let independent = s.cycle.alignment == Alignment::Independent;
    if kicks && independent && s.cycle.hold.max < s.timeouts.kick.0 {
        w.push((vec![Capacity, LostKick], format!(
            "cycle.alignment = \"independent\" with cycle.hold (at most {}) shorter than timeouts.kick ({}): instances log out before their account settles, so capacity and lost_kick are rarely judged; use alignment \"barrier\" or \"jitter:…\" (a wave holds until it is judged)",
            crate::units::format_duration(s.cycle.hold.max),
            crate::units::format_duration(s.timeouts.kick.0),
        )));
    }
    if kicks && independent {
        w.push((vec![KickCount],
            "cycle.alignment = \"independent\": a wave's kicks are not fixed by the policy, so kick_count is not judged".into(),
        ));
    } else if kicks && matches!(s.cycle.on_kick, OnKick::Relogin(_)) {
        w.push((vec![KickCount],
            "cycle.on_kick = relogin: kicked instances log in again within the wave, so kick_count is not judged".into(),
        ));
    }
    // A gateway restart that keeps the sessions has re-logins meet ghosts: the ghost order is
    // judged there, whatever the waves' alignment.
    let ghost_order = s.chaos.iter().any(|d| d.keeps_sessions());
    if kicks && s.cycle.alignment == Alignment::Barrier && !ghost_order {
        w.push((vec![VictimOrder],
            "cycle.alignment = \"barrier\": every login of a wave overlaps the others, so any victim is the oldest by some order and victim_order is not judged; use \"jitter:…\" to judge it (or list it in checks.unjudged)".into(),
        ));
    }
    if s.checks.probe_after_kick == 0.0 && s.checks.probe_after_logout == 0.0 {
        w.push((vec![Zombie],
            "checks.probe_after_kick and checks.probe_after_logout are 0: no ended session is probed, so zombie sessions are seen only through repeatLogin".into(),
        ));
    } else if s.checks.probe_after_logout > 0.0
        && (s.cycle.end != CycleEnd::Logout || s.cycle.connection == ConnectionMode::Fresh)
    {
        w.push((vec![Zombie],
            "cycle.end / cycle.connection close the connection after a logout, so checks.probe_after_logout cannot probe (after-kick probes still run)".into(),
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(text: &str) -> Vec<String> {
        let s = super::super::parse(text, &[]).unwrap();
        check_warnings(&super::super::resolve(s, std::path::Path::new(".")).unwrap())
    }

    #[test]
    fn each_setting_that_blinds_a_check_is_named() {
        let base = "[accounts]\ncount = 2\ninstances = \"Web*2\"\n";
        let w = warnings(base);
        assert!(
            w.iter()
                .any(|w| w.contains("cycle.alignment = \"independent\" with cycle.hold")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|w| w.contains("kick_count is not judged")),
            "{w:?}"
        );
        let w = warnings(&format!("{base}[cycle]\nalignment = \"barrier\"\n"));
        assert!(
            w.iter().any(|w| w.contains("victim_order is not judged")),
            "{w:?}"
        );
        let w = warnings(&format!("{base}[cycle]\nalignment = \"jitter:100ms\"\n"));
        assert!(w.is_empty(), "{w:?}");
        // A check the scenario leaves unjudged knowingly is not warned about.
        let w = warnings(&format!(
            "{base}[cycle]\nalignment = \"barrier\"\n[checks]\nunjudged = [\"victim_order\"]\n"
        ));
        assert!(w.is_empty(), "{w:?}");
        let w = warnings("[accounts]\ncount = 2\ninstances = \"Web,Android\"\n");
        assert!(w[0].starts_with("accounts.instances"), "{w:?}");
        let w = warnings(&format!("{base}[checks]\nenabled = false\n"));
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("checks.enabled"));
        let w = warnings(&format!(
            "{base}[cycle]\nalignment = \"jitter:100ms\"\nconnection = \"fresh\"\n"
        ));
        assert!(w.iter().any(|w| w.contains("probe_after_logout")), "{w:?}");
    }
}
