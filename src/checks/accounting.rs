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
    /// Its connection vanished without the server knowing (a silent drop, a gateway restart
    /// that kept the sessions): a ghost the server certainly holds until `until` (the last
    /// request it answered, plus the server's session timeout) and ends any time after.
    Ghost { until: u64 },
}

/// One session of one instance within a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stint {
    pub slot: u8,
    pub platform: Platform,
    /// `None`: live when the segment began. Else the login's send and (successful) answer.
    pub login: Option<(u64, Option<u64>)>,
    pub end: End,
}

/// The answer for one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
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
    sessions: &'a [Stint],
    ops: Vec<(Op, u64, u64)>,
    /// `Kicked` sessions.
    kicked: u64,
    seen: HashSet<(u64, u64, u64, u64)>,
    nodes: usize,
    best: (u32, u64),
    /// Victims are the oldest of their platform (else any of them).
    oldest_first: bool,
    /// The segment's logins decided so far, in the order decided.
    decided: Vec<usize>,
}

fn bit(i: usize) -> u64 {
    1u64 << i
}

/// Judge one segment: which observed kicks (indices into `sessions`) are excess.
pub fn judge(policy: Policy, sessions: &[Stint]) -> Finding {
    search(policy, sessions, false)
}

/// Judge one segment's victim order: which observed kicks no order explains when every login
/// kicks the *oldest* sessions of its platform (those it must kick to stay within the limit).
/// Logins are ordered as the search decides them; sessions live when the segment began are
/// older than its logins and, among themselves, of any order. Meant for a segment whose kicks
/// [`judge`] explained: what is left here is a kick of a younger session while an older one —
/// a ghost the server certainly still held, say — stayed.
pub fn judge_order(policy: Policy, sessions: &[Stint]) -> Finding {
    search(policy, sessions, true)
}

fn search(policy: Policy, sessions: &[Stint], oldest_first: bool) -> Finding {
    let mut ops = Vec::new();
    let mut live0 = 0u64;
    for (i, s) in sessions.iter().enumerate() {
        match s.login {
            None => live0 |= bit(i),
            Some((sent, answered)) => ops.push((Op::Login(i), sent, answered.unwrap_or(u64::MAX))),
        }
        match s.end {
            End::Own { lo, hi } => ops.push((Op::End(i), lo, hi.unwrap_or(u64::MAX))),
            End::Ghost { until } => ops.push((Op::End(i), until, u64::MAX)),
            End::Removed { at } => {
                let lo = s.login.map_or(0, |(sent, _)| sent);
                ops.push((Op::End(i), lo, at));
            }
            End::Live | End::Kicked { .. } => {}
        }
    }
    if sessions.len() > MAX_ITEMS || ops.len() > MAX_ITEMS {
        return Finding::NotJudged;
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
        oldest_first,
        decided: Vec::new(),
    };
    let complete = s.dfs(0, live0, 0);
    if !complete && s.best.0 < kicked.count_ones() {
        return Finding::NotJudged;
    }
    let left = kicked & !s.best.1;
    Finding::Judged(
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
        if !self
            .seen
            .insert((done, live, produced, self.order_key(live)))
        {
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
        // Oldest first: the sessions live when the segment began (of any order among
        // themselves), then the segment's logins in the order decided.
        if over > same.len() {
            return true; // no choice of victims makes room (a limit of 0): no such order
        }
        let (pool, fixed, k) = if self.oldest_first {
            let (carried, mut young): (Vec<usize>, Vec<usize>) = same
                .iter()
                .partition(|j| self.sessions[**j].login.is_none());
            young.sort_by_key(|j| self.decided.iter().position(|d| d == j));
            if carried.len() >= over {
                (carried, 0, over)
            } else {
                let fixed = carried
                    .iter()
                    .chain(&young[..over - carried.len()])
                    .fold(0, |m, j| m | bit(*j));
                (Vec::new(), fixed, 0)
            }
        } else {
            (same, 0, over)
        };
        self.decided.push(i);
        let mut ok = true;
        for_each_subset(&pool, k, &mut |victims| {
            if !ok {
                return;
            }
            let victims = victims | fixed | excluded;
            // A victim's observed kick is this login's if it was seen after the login was sent.
            let mine = (0..self.sessions.len())
                .filter(|j| victims & self.kicked & bit(*j) != 0)
                .filter(|j| matches!(self.sessions[*j].end, End::Kicked { at } if at >= sent))
                .fold(0, |m, j| m | bit(j));
            ok = self.dfs(done, (live & !victims) | bit(i), produced | mine);
        });
        self.decided.pop();
        ok
    }

    /// With victims oldest first, the order of the live sessions decided in this segment is
    /// part of the state; otherwise it is not (0).
    fn order_key(&self, live: u64) -> u64 {
        if !self.oldest_first {
            return 0;
        }
        self.decided
            .iter()
            .filter(|j| live & bit(**j) != 0)
            .fold(0xcbf2_9ce4_8422_2325, |h, j| {
                (h ^ *j as u64).wrapping_mul(0x0100_0000_01b3)
            })
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
mod order_tests;
#[cfg(test)]
mod tests;
