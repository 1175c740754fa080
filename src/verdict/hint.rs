//! A hint beside a FAIL: when the kicks missed the policy's prediction by the same amount in
//! every wave, the server's limits are likelier wrong than its kicking.

/// When every account with a predicted kick count was kicked the same number of times more (or
/// fewer) per wave than its policy predicts, the likeliest cause is a server enforcing other
/// limits than the scenario's policy (a server started with its defaults): say so, with the
/// difference, so the FAIL points at the configuration as well as the kicks.
/// `reference`: the target speaks the reference protocol (or a JSON profile), so the hint may
/// name `loginstorm serve --limits`; a real server (MQTT, XMPP) is pointed at its own setting.
pub fn limits_hint(
    accounts: &[crate::model::AccountReport],
    limits: &str,
    reference: bool,
) -> Option<String> {
    let mut per_wave: Option<i64> = None;
    for a in accounts {
        let (Some((lo, hi)), true) = (a.expected, a.waves > 0) else {
            continue;
        };
        let kicks = a.kicks.iter().fold(0u64, |s, k| s.saturating_add(*k)) as i64;
        let off = if kicks > hi as i64 {
            kicks - hi as i64
        } else if kicks < lo as i64 {
            kicks - lo as i64
        } else {
            return None; // an account the policy explains: not a configuration mismatch
        };
        let waves = a.waves as i64;
        if off % waves != 0 || per_wave.is_some_and(|d| d != off / waves) {
            return None;
        }
        per_wave = Some(off / waves);
    }
    let d = per_wave?;
    let (more, enforce) = if d > 0 {
        ("more", "stricter")
    } else {
        ("fewer", "looser")
    };
    let shown = if limits.is_empty() {
        "1 per platform (the default)".to_string()
    } else {
        format!("{limits:?}")
    };
    let fix = if reference {
        format!(
            "start it with the scenario's limits (loginstorm serve --limits {})",
            if limits.is_empty() { "\"\"" } else { limits }
        )
    } else {
        "check the server's own setting (its per-account session limit, or how it resolves a second login of one session)".to_string()
    };
    Some(format!(
        "every account's waves were kicked {} time(s) {more} each than policy.limits = {shown} predicts: the server appears to enforce {enforce} limits than the scenario's policy; {fix}",
        d.abs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uniform_over_or_under_kick_points_at_the_servers_limits() {
        let acct =
            |kicks: u64, waves: u64, expected: Option<(u64, u64)>| crate::model::AccountReport {
                index: 0,
                user: "u".into(),
                logins: 0,
                kicks: [kicks, 0, 0, 0],
                waves,
                expected,
                violations: vec![],
            };
        // Two waves each, one kick predicted a wave: 4 kicks is +1 a wave on every account.
        let over = [acct(4, 2, Some((2, 2))), acct(6, 3, Some((3, 3)))];
        let h = limits_hint(&over, "Web=2", true).unwrap();
        assert!(
            h.contains("1 time(s) more") && h.contains("--limits Web=2"),
            "{h}"
        );
        let under = [acct(0, 2, Some((2, 2)))];
        assert!(limits_hint(&under, "Web=2", true)
            .unwrap()
            .contains("fewer"));
        // Uneven, or one account the policy explains: no hint (it would mislead).
        assert!(limits_hint(
            &[acct(4, 2, Some((2, 2))), acct(5, 3, Some((3, 3)))],
            "Web=2",
            true
        )
        .is_none());
        assert!(limits_hint(
            &[acct(4, 2, Some((2, 2))), acct(2, 2, Some((2, 2)))],
            "Web=2",
            true
        )
        .is_none());
        assert!(limits_hint(&[acct(4, 2, None)], "Web=2", true).is_none());
        // A real server is pointed at its own setting, and default limits are named as such.
        let h = limits_hint(&under, "", false).unwrap();
        assert!(
            h.contains("1 per platform (the default)") && !h.contains("loginstorm serve"),
            "{h}"
        );
        assert!(h.contains("the server's own setting"), "{h}");
    }
}
