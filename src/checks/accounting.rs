//! Kick accounting: can one order of an account's logins explain all of its kicks together?
//!
//! Judging each kick alone ("some other login could have caused it") passes a backend that kicks
//! too much: a stricter limit, a second victim for one login, a kick of an account whose logins
//! were all explained already. Here the observed `multipleAccount`/`multipleDevice` kicks of one
//! *segment* of an account's history (between two settle points) must be produced, all at once,
//! by one linearization of the segment's operations under the policy:
//!
//! - a login takes effect somewhere between its send and its answer (unanswered: any time after
//!   its send); a logout between its send and its answer; a closed connection any time after the
//!   close; an expiry or admin kick before the victim saw it;
//! - at its decision a login kicks every live session on an excluded platform, and, when its own
//!   platform is full, one of the sessions there (any of them: victim order is only a warning);
//! - a kick may go unobserved (a lost notification is the `lost_kick` check's business), but an
//!   observed kick must be produced by a login sent before it was seen, and each login produces
//!   only the kicks the policy gives it.
//!
//! The search is Wing & Gong's linearizability search with memoization over (operations done,
//! live sessions, kicks produced), maximizing the kicks explained; the kicks left over are the
//! *excess*. It only ever relaxes timing constraints, so on a correct backend it finds the order
//! the backend used: it is sound under every interleaving. A segment too large to search within
//! the node budget is reported as not judged, never as passed or failed.

use std::collections::HashSet;

use crate::policy::{Platform, Policy};

/// More sessions or operations than this in one segment: not judged (masks are `u64`).
pub const MAX_ITEMS: usize = 64;
/// Search nodes one segment may cost before it is given up as not judged.
pub const NODE_BUDGET: usize = 200_000;

/// How a session ended, as far as the client saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Still live when the segment closed.
    Live,
    /// Its own logout or closed connection: decided in `[lo, hi]` (`None`: no upper bound).
    Own { lo: u64, hi: Option<u64> },
    /// An expiry or admin kick (or any cause other than a login) seen at `at`.
    Removed { at: u64 },
    /// A `multipleAccount`/`multipleDevice` kick seen at `at`: some login must produce it.
    Kicked { at: u64 },
}

/// One session of one instance within a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub slot: u8,
    pub platform: Platform,
    /// `None`: live when the segment began. Else the login's send and (successful) answer.
    pub login: Option<(u64, Option<u64>)>,
    pub end: End,
}

/// The answer for one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Indices of the observed kicks no order explains together (empty: all explained).
    Judged(Vec<usize>),
    /// Too large to search; nothing is concluded.
    NotJudged,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Login(usize),
    End(usize),
}

struct Search<'a> {
    policy: Policy,
    sessions: &'a [Session],
    ops: Vec<(Op, u64, u64)>,
    /// `Kicked` sessions.
    kicked: u64,
    seen: HashSet<(u64, u64, u64)>,
    nodes: usize,
    best: (u32, u64),
}

fn bit(i: usize) -> u64 {
    1u64 << i
}

/// Judge one segment: which observed kicks (indices into `sessions`) are excess.
pub fn judge(policy: Policy, sessions: &[Session]) -> Verdict {
    let mut ops = Vec::new();
    let mut live0 = 0u64;
    for (i, s) in sessions.iter().enumerate() {
        match s.login {
            None => live0 |= bit(i),
            Some((sent, answered)) => ops.push((Op::Login(i), sent, answered.unwrap_or(u64::MAX))),
        }
        match s.end {
            End::Own { lo, hi } => ops.push((Op::End(i), lo, hi.unwrap_or(u64::MAX))),
            End::Removed { at } => {
                let lo = s.login.map_or(0, |(sent, _)| sent);
                ops.push((Op::End(i), lo, at));
            }
            End::Live | End::Kicked { .. } => {}
        }
    }
    if sessions.len() > MAX_ITEMS || ops.len() > MAX_ITEMS {
        return Verdict::NotJudged;
    }
    let kicked = sessions
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.end, End::Kicked { .. }))
        .fold(0, |m, (i, _)| m | bit(i));
    let mut s = Search {
        policy,
        sessions,
        ops,
        kicked,
        seen: HashSet::new(),
        nodes: 0,
        best: (0, 0),
    };
    let complete = s.dfs(0, live0, 0);
    if !complete && s.best.0 < kicked.count_ones() {
        return Verdict::NotJudged;
    }
    let left = kicked & !s.best.1;
    Verdict::Judged(
        (0..sessions.len())
            .filter(|i| left & bit(*i) != 0)
            .collect(),
    )
}

impl Search<'_> {
    /// Explore from this state; false when the node budget ran out.
    fn dfs(&mut self, done: u64, live: u64, produced: u64) -> bool {
        let n = produced.count_ones();
        if n > self.best.0 {
            self.best = (n, produced);
        }
        if self.best.0 == self.kicked.count_ones() {
            return true;
        }
        // Kicks still producible: their victims are live or not logged in yet.
        let not_in = self
            .ops
            .iter()
            .enumerate()
            .filter(|(k, _)| done & bit(*k) == 0)
            .filter_map(|(_, (op, ..))| match op {
                Op::Login(i) => Some(bit(*i)),
                Op::End(_) => None,
            })
            .fold(0, |m, b| m | b);
        let possible = (self.kicked & !produced & (live | not_in)).count_ones();
        if n + possible <= self.best.0 {
            return true;
        }
        if !self.seen.insert((done, live, produced)) {
            return true;
        }
        self.nodes += 1;
        if self.nodes > NODE_BUDGET {
            return false;
        }
        // Wing & Gong: an operation may go next unless another one still to go ended before it
        // began.
        let min_hi = self
            .ops
            .iter()
            .enumerate()
            .filter(|(k, _)| done & bit(*k) == 0)
            .map(|(_, o)| o.2)
            .min();
        let Some(min_hi) = min_hi else { return true };
        for k in 0..self.ops.len() {
            if done & bit(k) != 0 {
                continue;
            }
            let (op, lo, _) = self.ops[k];
            if lo > min_hi {
                continue;
            }
            let ok = match op {
                Op::End(i) => {
                    // After its own login.
                    let login_done = self.sessions[i].login.is_none()
                        || self.ops.iter().enumerate().any(|(j, o)| {
                            matches!(o.0, Op::Login(x) if x == i) && done & bit(j) != 0
                        });
                    login_done && self.dfs(done | bit(k), live & !bit(i), produced)
                }
                Op::Login(i) => self.login(done | bit(k), live, produced, i, lo),
            };
            if !ok {
                return false;
            }
            if self.best.0 == self.kicked.count_ones() {
                return true;
            }
        }
        true
    }

    /// Decide login `i` (sent at `sent`) on `live`: every choice of same-platform victim.
    fn login(&mut self, done: u64, live: u64, produced: u64, i: usize, sent: u64) -> bool {
        let p = self.sessions[i].platform;
        let mut excluded = 0u64;
        let mut same = Vec::new();
        for (j, s) in self.sessions.iter().enumerate() {
            if live & bit(j) == 0 {
                continue;
            }
            if s.platform == p {
                same.push(j);
            } else if self.policy.mode.excludes(p, s.platform) {
                excluded |= bit(j);
            }
        }
        let over = (same.len() + 1).saturating_sub(usize::from(self.policy.limits.get(p)));
        let mut ok = true;
        for_each_subset(&same, over, &mut |victims| {
            if !ok {
                return;
            }
            let victims = victims | excluded;
            // A victim's observed kick is this login's if it was seen after the login was sent.
            let mine = (0..self.sessions.len())
                .filter(|j| victims & self.kicked & bit(*j) != 0)
                .filter(|j| matches!(self.sessions[*j].end, End::Kicked { at } if at >= sent))
                .fold(0, |m, j| m | bit(j));
            ok = self.dfs(done, (live & !victims) | bit(i), produced | mine);
        });
        ok
    }
}

/// Call `f` with every `k`-element subset of `items` (as a bit mask); `k == 0` gives the empty set.
fn for_each_subset(items: &[usize], k: usize, f: &mut dyn FnMut(u64)) {
    fn go(items: &[usize], k: usize, acc: u64, f: &mut dyn FnMut(u64)) {
        if k == 0 {
            return f(acc);
        }
        if items.len() < k {
            return;
        }
        go(&items[1..], k - 1, acc | bit(items[0]), f);
        go(&items[1..], k, acc, f);
    }
    go(items, k, 0, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PlatformMode;
    use Platform::*;

    fn policy(limits: &str, mode: PlatformMode) -> Policy {
        Policy {
            limits: limits.parse().unwrap(),
            mode,
        }
    }

    fn login(slot: u8, p: Platform, sent: u64, answered: u64, end: End) -> Session {
        Session {
            slot,
            platform: p,
            login: Some((sent, Some(answered))),
            end,
        }
    }

    fn excess(p: Policy, s: &[Session]) -> Vec<usize> {
        match judge(p, s) {
            Verdict::Judged(v) => v,
            Verdict::NotJudged => panic!("not judged"),
        }
    }

    /// A barrier wave: `n` Web logins sent together at 100, answered in order of slot.
    fn wave(n: u8, kicked: &[u8]) -> Vec<Session> {
        (0..n)
            .map(|s| {
                let end = if kicked.contains(&s) {
                    End::Kicked {
                        at: 500 + u64::from(s),
                    }
                } else {
                    End::Live
                };
                login(s, Web, 100, 200 + u64::from(s), end)
            })
            .collect()
    }

    #[test]
    fn a_correct_wave_is_explained_whichever_instances_were_kicked() {
        let p = policy("Web=2", PlatformMode::Multi);
        for kicked in [[0u8, 1], [2, 3], [0, 3], [1, 2]] {
            assert!(excess(p, &wave(4, &kicked)).is_empty(), "{kicked:?}");
        }
    }

    #[test]
    fn a_stricter_limit_leaves_excess_kicks() {
        // Web=1 behaviour against a Web=2 policy: three of four kicked.
        let p = policy("Web=2", PlatformMode::Multi);
        assert_eq!(excess(p, &wave(4, &[0, 1, 2])).len(), 1);
        // Two logins, one kicked: a limit of 1 where the policy admits 2.
        assert_eq!(excess(p, &wave(2, &[0])).len(), 1);
    }

    #[test]
    fn a_second_victim_for_one_login_is_excess() {
        let p = policy("Web=2", PlatformMode::Multi);
        // #0 and #1 live, then #2 logs in alone and both older ones are kicked.
        let s = [
            login(0, Web, 100, 110, End::Kicked { at: 320 }),
            login(1, Web, 150, 160, End::Kicked { at: 321 }),
            login(2, Web, 300, 310, End::Live),
        ];
        assert_eq!(excess(p, &s).len(), 1);
    }

    #[test]
    fn a_kick_with_every_login_already_explained_is_excess() {
        // Limit 1, two logins: one kick. A third kick of the survivor has no cause left.
        let p = policy("", PlatformMode::Multi);
        let s = [
            login(0, Web, 100, 110, End::Kicked { at: 250 }),
            login(1, Web, 200, 210, End::Kicked { at: 900 }),
        ];
        assert_eq!(excess(p, &s).len(), 1);
    }

    #[test]
    fn a_kick_seen_before_its_only_cause_was_sent_is_excess() {
        let p = policy("", PlatformMode::Multi);
        let s = [
            login(0, Web, 100, 110, End::Kicked { at: 150 }),
            login(1, Web, 200, 210, End::Live),
        ];
        assert_eq!(excess(p, &s), vec![0]);
    }

    #[test]
    fn logouts_and_closes_free_room_only_when_they_may_have_happened() {
        let p = policy("Web=2", PlatformMode::Multi);
        // #0 logged out (answered) before #2 was sent: #2 fits, #1 must not be kicked.
        let s = [
            login(
                0,
                Web,
                100,
                110,
                End::Own {
                    lo: 150,
                    hi: Some(160),
                },
            ),
            login(1, Web, 120, 130, End::Kicked { at: 320 }),
            login(2, Web, 300, 310, End::Live),
        ];
        assert_eq!(excess(p, &s), vec![1]);
        // The logout still in flight when #2 was decided: #2 may have found the platform full.
        let s = [
            login(0, Web, 100, 110, End::Own { lo: 290, hi: None }),
            login(1, Web, 120, 130, End::Kicked { at: 320 }),
            login(2, Web, 300, 310, End::Live),
        ];
        assert!(excess(p, &s).is_empty());
    }

    #[test]
    fn excluded_platforms_are_kicked_all_at_once() {
        let p = policy("Web=2,iPhone=2", PlatformMode::Three);
        // Two iPhones live; an Android login kicks both with multipleDevice.
        let s = [
            login(0, IPhone, 100, 110, End::Kicked { at: 330 }),
            login(1, IPhone, 120, 130, End::Kicked { at: 331 }),
            login(2, Android, 300, 310, End::Live),
            login(3, Web, 300, 310, End::Live),
        ];
        assert!(excess(p, &s).is_empty());
        // A Web login excludes nothing in `three` mode: a Web-only cause explains no kick.
        let s = [
            login(0, IPhone, 100, 110, End::Kicked { at: 330 }),
            login(3, Web, 300, 310, End::Live),
        ];
        assert_eq!(excess(p, &s), vec![0]);
    }

    #[test]
    fn sessions_live_at_the_start_count_and_other_removals_free_room() {
        let p = policy("", PlatformMode::Multi);
        let start = Session {
            slot: 0,
            platform: Web,
            login: None,
            end: End::Kicked { at: 220 },
        };
        assert!(excess(p, &[start, login(1, Web, 200, 210, End::Live)]).is_empty());
        // Expired before the new login: the new login had nothing to kick.
        let gone = Session {
            end: End::Removed { at: 150 },
            ..start
        };
        let s = [
            gone,
            login(1, Web, 200, 210, End::Live),
            login(2, Web, 100, 120, End::Live),
        ];
        // #2 was live, so #1 must kick it (unobserved: allowed) — nothing observed, nothing excess.
        assert!(excess(p, &s).is_empty());
    }

    #[test]
    fn unanswered_logins_may_have_taken_effect() {
        let p = policy("", PlatformMode::Multi);
        let s = [
            login(0, Web, 100, 110, End::Kicked { at: 400 }),
            Session {
                slot: 1,
                platform: Web,
                login: Some((300, None)),
                end: End::Own { lo: 5000, hi: None },
            },
        ];
        assert!(excess(p, &s).is_empty());
    }

    #[test]
    fn ten_overlapping_logins_are_searched_quickly() {
        let p = policy("Web=3", PlatformMode::Multi);
        let kicked: Vec<u8> = (0..7).collect();
        let s: Vec<Session> = (0..10u8)
            .map(|i| {
                let end = if kicked.contains(&i) {
                    End::Kicked { at: 900 }
                } else {
                    End::Live
                };
                login(i, Web, 100, 200, end)
            })
            .collect();
        assert!(excess(p, &s).is_empty());
        let mut over = s.clone();
        over[7].end = End::Kicked { at: 900 };
        assert_eq!(excess(p, &over).len(), 1);
    }
}
