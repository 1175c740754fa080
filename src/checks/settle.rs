//! Judging an account once its logins have settled: victim order, the kicks of the segment
//! together (excess and late kicks), a wave's kick count, and — through settle probes — capacity
//! and lost kicks.

use super::accounting::{self, End, Finding, Stint};
use super::{Class, History, Violation, Wave};

impl History {
    /// Logins have settled (none pending, the kick timeout passed since the last answer).
    /// Judges the segment that ends here and returns what it found, and the instances to probe
    /// when the believed-ready set breaks the policy (empty when it does not).
    pub fn settle(&mut self) -> (Vec<Violation>, Vec<u8>) {
        let alive = self.believed_ready();
        let mut out = self.victim_order(&alive);
        // Capacity and lost kicks can be judged when the policy had to act on what is visible
        // now: the instances that believe they are ready together with those kicked since.
        let mut due = alive.clone();
        due.extend(
            self.seg
                .iter()
                .flatten()
                .filter(|s| matches!(s.end, End::Kicked { .. }))
                .map(|s| s.slot),
        );
        if !self.admits(&due) {
            self.judge(Class::Capacity);
            self.judge(Class::LostKick);
        }
        out.extend(self.close_segment(true));
        let probe = if self.capacity_reported || self.admits(&alive) {
            Vec::new()
        } else {
            alive
        };
        (out, probe)
    }

    /// The run is ending: judge the kicks of the open segment as far as they were seen.
    pub fn finish(&mut self) -> Vec<Violation> {
        self.close_segment(false)
    }

    /// A `multipleAccount` victim kicked while a same-platform instance that certainly entered
    /// the login state before it stayed.
    fn victim_order(&mut self, alive: &[u8]) -> Vec<Violation> {
        let mut out = Vec::new();
        for k in std::mem::take(&mut self.recent_kicks) {
            let p = self.platforms[k.slot as usize];
            // Judgeable only when a survivor's order against the victim is certain.
            let certain = alive.iter().any(|s| {
                let i = &self.inst[*s as usize];
                *s != k.slot
                    && self.platforms[*s as usize] == p
                    && (i.login_answered.is_some_and(|a| a < k.login_sent)
                        || k.login_answered
                            .zip(i.login_sent)
                            .is_some_and(|(a, b)| a < b))
            });
            if certain {
                self.judge(Class::VictimOrder);
            }
            let older = alive
                .iter()
                .copied()
                .filter(|s| *s != k.slot && self.platforms[*s as usize] == p)
                .find(|s| {
                    self.inst[*s as usize]
                        .login_answered
                        .is_some_and(|a| a < k.login_sent)
                });
            if let Some(s) = older {
                out.push(self.violation(
                    Class::VictimOrder,
                    &[k.slot, s],
                    vec![k.login_sent, k.at],
                    format!("the oldest instance (#{s}) kicked first"),
                    format!("#{} kicked while the older #{s} stayed", k.slot),
                ));
            }
        }
        out
    }

    /// Judge the current segment's kicks together, then start the next segment with the
    /// sessions still live (or still logging out).
    fn close_segment(&mut self, count_wave: bool) -> Vec<Violation> {
        let mut out = self.late_kicks();
        let (sessions, at): (Vec<Stint>, Vec<usize>) = self
            .seg
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (s, i)))
            .unzip();
        let logins = sessions.iter().filter(|s| s.login.is_some()).count();
        let kicks = sessions
            .iter()
            .filter(|s| matches!(s.end, End::Kicked { .. }))
            .count();
        if logins > 0 || kicks > 0 {
            if let Finding::Judged(excess) = accounting::judge(self.policy, &sessions) {
                if excess.is_empty() {
                    out.extend(self.ghost_order(&sessions, kicks > 0));
                }
                self.judge(Class::ExcessKick);
                for k in &excess {
                    let s = sessions[*k];
                    let End::Kicked { at: t } = s.end else {
                        continue;
                    };
                    let mut times: Vec<u64> = s.login.map(|(sent, _)| sent).into_iter().collect();
                    times.push(t);
                    out.push(self.violation(
                        Class::ExcessKick,
                        &[s.slot],
                        times,
                        format!(
                            "each login kicks only what the policy gives it ({}, mode {})",
                            self.policy.limits, self.policy.mode
                        ),
                        format!(
                            "{kicks} kicks while {logins} logins, in any order, explain at most {}",
                            kicks - excess.len()
                        ),
                    ));
                }
            }
        }
        if let Some(w) = self.wave.take().filter(|_| count_wave) {
            out.extend(self.kick_count(&w, &sessions));
        }
        self.carry(sessions.into_iter().zip(at).map(|(s, i)| (i, s)).collect());
        out
    }

    /// A segment with ghosts whose kicks are explained: were they explained only by kicking a
    /// live session while an older one — a ghost the server certainly still held — stayed?
    /// Judged wherever a login met another instance's ghost of its platform, certainly still
    /// held: the backend had to choose between the ghost and live sessions, and a live victim
    /// would show.
    fn ghost_order(&mut self, sessions: &[Stint], kicks: bool) -> Vec<Violation> {
        let met_ghost = sessions.iter().any(|l| {
            l.login.is_some_and(|(sent, _)| {
                sessions.iter().any(|g| {
                    g.platform == l.platform
                        && g.slot != l.slot
                        && matches!(g.end, End::Ghost { until } if until > sent)
                })
            })
        });
        if !met_ghost {
            return Vec::new();
        }
        self.judge(Class::VictimOrder);
        if !kicks {
            return Vec::new();
        }
        let Finding::Judged(left) = accounting::judge_order(self.policy, sessions) else {
            return Vec::new();
        };
        left.iter()
            .filter_map(|k| {
                let s = sessions[*k];
                let End::Kicked { at } = s.end else {
                    return None;
                };
                let older: Vec<u8> = sessions
                    .iter()
                    .filter(|g| g.platform == s.platform && g.slot != s.slot)
                    .filter(|g| matches!(g.end, End::Ghost { until } if until > at))
                    .map(|g| g.slot)
                    .collect();
                let mut slots = vec![s.slot];
                slots.extend(&older);
                let expected = if older.is_empty() {
                    "the oldest session of the platform kicked first".to_string()
                } else {
                    let ghosts: Vec<String> = older.iter().map(|g| format!("#{g}")).collect();
                    format!(
                        "the oldest session of the platform kicked first: a ghost ({}, its connection lost, its session held until the session timeout) before a live instance",
                        ghosts.join(", ")
                    )
                };
                let login = s.login.map(|(sent, _)| sent).unwrap_or(at);
                Some(self.violation(
                    Class::VictimOrder,
                    &slots,
                    vec![login, at],
                    expected,
                    format!("#{} kicked while older sessions stayed", s.slot),
                ))
            })
            .collect()
    }

    /// Start a new segment from what is still live, without judging this one (too large).
    pub(super) fn cut_segment(&mut self) {
        let sessions: Vec<(usize, Stint)> = self
            .seg
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .collect();
        self.carry(sessions);
        self.wave = None;
    }

    /// Make the sessions still live (or still logging out) the next segment's start.
    fn carry(&mut self, sessions: Vec<(usize, Stint)>) {
        let mut remap = vec![None; self.seg.len()];
        let mut next = Vec::new();
        for (i, s) in sessions {
            if matches!(
                s.end,
                End::Live | End::Own { hi: None, .. } | End::Ghost { .. }
            ) {
                remap[i] = Some(next.len());
                next.push(Some(Stint { login: None, ..s }));
            }
        }
        for inst in &mut self.inst {
            inst.seg = inst.seg.and_then(|i| remap[i]);
        }
        self.seg = next;
        self.seg_kicks = 0;
    }

    /// A kick whose only possible causes were answered before this segment began arrived more
    /// than `timeouts.kick` after them: a warning, and no longer a kick the segment must explain.
    fn late_kicks(&mut self) -> Vec<Violation> {
        let mut out = Vec::new();
        for k in 0..self.seg.len() {
            let Some(v) = self.seg[k] else { continue };
            let End::Kicked { at } = v.end else { continue };
            let victim_sent = v.login.map(|(sent, _)| sent);
            let caused = self.seg.iter().enumerate().any(|(j, c)| {
                let Some(c) = c else { return false };
                j != k
                    && c.slot != v.slot
                    && c.login.is_some_and(|(sent, answered)| {
                        sent <= at && victim_sent.is_none_or(|vs| answered.is_none_or(|a| a >= vs))
                    })
            });
            self.judge(Class::LateKick);
            if caused {
                continue;
            }
            if let Some(s) = &mut self.seg[k] {
                s.end = End::Removed { at };
            }
            out.push(self.violation(
                Class::LateKick,
                &[v.slot],
                vec![victim_sent.unwrap_or(at), at],
                "a kick within timeouts.kick of the login that caused it".into(),
                "kickedOut after every login that could have caused it had settled".into(),
            ));
        }
        out
    }

    /// A wave that began with the account empty: its kicks must lie in the policy's range for
    /// the logins that succeeded, over every order the backend might have decided them in.
    fn kick_count(&mut self, w: &Wave, sessions: &[Stint]) -> Option<Violation> {
        let wave = w.number;
        let first = sessions.iter().filter_map(|s| s.login).map(|l| l.0).min()?;
        let empty_before = sessions.iter().filter(|s| s.login.is_none()).all(|s| {
            matches!(s.end, End::Own { hi: Some(t), .. } | End::Removed { at: t } | End::Kicked { at: t } if t <= first)
        });
        let all_answered = sessions
            .iter()
            .filter_map(|s| s.login)
            .all(|(_, answered)| answered.is_some());
        // A session that ended otherwise during the wave (an admin kick, an expiry, a lost
        // connection) changes what the policy owes: not judged.
        let last = sessions
            .iter()
            .filter_map(|s| s.login.and_then(|l| l.1))
            .max()
            .unwrap_or(first);
        let cut = sessions.iter().filter(|s| s.login.is_some()).any(|s| {
            matches!(s.end, End::Removed { .. } | End::Ghost { .. })
                || matches!(s.end, End::Own { lo, .. } if lo <= last)
        });
        if !empty_before || !all_answered || cut {
            return None;
        }
        self.judge(Class::KickCount);
        let refused = &w.refused_in_use;
        let mut slots: Vec<u8> = sessions
            .iter()
            .filter(|s| s.login.is_some())
            .map(|s| s.slot)
            .collect();
        slots.extend(refused);
        let platforms: Vec<_> = slots.iter().map(|&s| self.platforms[s as usize]).collect();
        let (lo, hi) = self.policy.expected_kicks(&platforms);
        let seen = self.seg_kicks;
        if (lo..=hi).contains(&seen) {
            return None;
        }
        let range = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}..{hi}")
        };
        let refusals = match refused.len() {
            0 => String::new(),
            n => format!(
                "; {n} login(s) refused instead (code 2025: the session is in use), the older session kept"
            ),
        };
        Some(self.violation(
            Class::KickCount,
            &slots,
            vec![first],
            format!(
                "wave {wave}: {range} kicks for {} logins ({}, mode {})",
                platforms.len(),
                self.policy.limits,
                self.policy.mode
            ),
            format!("{seen} kicks{refusals}"),
        ))
    }

    /// The settle probes are in: `(slot, code)` each. A refused probe with no `kickedOut` seen is
    /// a lost kick notification; if the accepted ones still break the policy, it over-admitted.
    /// An answer of `None`: the instance could not probe, or its probe went unanswered.
    pub fn settle_probed(&mut self, answers: &[(u8, Option<u32>)], t: u64) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut accepted = Vec::new();
        for &(slot, code) in answers {
            let i = &self.inst[slot as usize];
            let Some(code) = code.filter(|_| i.kicked.is_none() && i.gone_at.is_none()) else {
                continue; // the kick arrived late, the instance moved on, or no answer: no verdict
            };
            let login_sent = i.login_sent.unwrap_or(0);
            if code == 0 {
                accepted.push(slot);
            } else if crate::protocol::code::ends_session(code) {
                // Reported once: the session is known gone from here on.
                self.inst[slot as usize].gone_at = Some(t);
                if let Some(s) = self.session(slot) {
                    s.end = End::Removed { at: t };
                }
                out.push(self.violation(
                    Class::LostKick,
                    &[slot],
                    vec![login_sent, t],
                    "kickedOut for an instance the policy removes".into(),
                    format!("no kickedOut, but its session is gone (probe answered {code})"),
                ));
            }
        }
        if !self.admits(&accepted) {
            self.capacity_reported = true;
            let times = accepted
                .iter()
                .map(|s| self.inst[*s as usize].login_sent.unwrap_or(0))
                .chain([t])
                .collect();
            let platforms: Vec<String> = accepted
                .iter()
                .map(|s| self.platforms[*s as usize].to_string())
                .collect();
            out.push(self.violation(
                Class::Capacity,
                &accepted,
                times,
                format!(
                    "at most the policy's limits live at once ({}, mode {})",
                    self.policy.limits, self.policy.mode
                ),
                format!("{} live: {}", accepted.len(), platforms.join(",")),
            ));
        }
        out
    }
}
