//! The victim-order search (`judge_order`): logins kick the oldest sessions of their platform,
//! ghosts included.

use super::*;
use crate::policy::PlatformMode;
use Platform::*;

fn web2() -> Policy {
    Policy {
        limits: "Web=2".parse().unwrap(),
        mode: PlatformMode::Multi,
    }
}

fn login(slot: u8, sent: u64, answered: u64, end: End) -> Stint {
    Stint {
        slot,
        platform: Web,
        login: Some((sent, Some(answered))),
        end,
    }
}

fn carried(slot: u8, end: End) -> Stint {
    Stint {
        slot,
        platform: Web,
        login: None,
        end,
    }
}

fn left(f: Finding) -> Vec<usize> {
    match f {
        Finding::Judged(v) => v,
        Finding::NotJudged => panic!("not judged"),
    }
}

/// After a gateway restart that kept the sessions: instances 0 and 1 were live (now ghosts
/// held until `until`), and both log in again, 0 first. `kicked` is how 0's new session ended.
fn restart(until: u64, kicked: Option<u64>) -> Vec<Stint> {
    let end0 = kicked.map_or(End::Live, |at| End::Kicked { at });
    vec![
        carried(0, End::Ghost { until }),
        carried(1, End::Ghost { until }),
        login(0, 1_000, 1_100, end0),
        login(1, 2_000, 2_100, End::Live),
    ]
}

#[test]
fn re_logins_replacing_their_ghosts_are_in_order() {
    assert!(left(judge_order(web2(), &restart(10_000, None))).is_empty());
}

#[test]
fn a_live_instance_kicked_while_a_ghost_stayed_is_out_of_order() {
    // The second re-login kicked the first one's new session: the second's ghost, older and
    // certainly still held, was the one to go. Any-victim accounting explains it.
    let s = restart(10_000, Some(2_150));
    assert!(left(judge(web2(), &s)).is_empty());
    assert_eq!(left(judge_order(web2(), &s)), vec![2]);
}

#[test]
fn a_live_instance_kicked_once_the_ghosts_are_replaced_is_in_order() {
    // A third instance logs in after both re-logins: the oldest live session is 0's new one.
    let mut s = restart(10_000, Some(3_150));
    s.push(login(2, 3_000, 3_100, End::Live));
    assert!(left(judge_order(web2(), &s)).is_empty());
}

#[test]
fn the_catch_does_not_lean_on_the_ghosts_bound() {
    // The ghosts' bound passed before the second re-login: they may be gone. Still no
    // oldest-first order kicks 0's new session there — with the second ghost held it goes
    // first, and without it the login has room.
    let s = restart(1_500, Some(2_150));
    assert!(left(judge(web2(), &s)).is_empty());
    assert_eq!(left(judge_order(web2(), &s)), vec![2]);
}

#[test]
fn logins_in_a_certain_order_kick_the_first_decided() {
    // Three logins one after another on Web=2: the third must kick the first.
    let seq = |kicked: u8| -> Vec<Stint> {
        (0..3u8)
            .map(|s| {
                let sent = 100 + 200 * u64::from(s);
                let end = if s == kicked {
                    End::Kicked { at: 560 }
                } else {
                    End::Live
                };
                login(s, sent, sent + 50, end)
            })
            .collect()
    };
    assert!(left(judge_order(web2(), &seq(0))).is_empty());
    assert_eq!(left(judge_order(web2(), &seq(1))), vec![1]);
    // Sent together, any order is possible: whichever was kicked was the first decided.
    let together: Vec<Stint> = (0..3u8)
        .map(|s| {
            let end = if s == 2 {
                End::Kicked { at: 560 }
            } else {
                End::Live
            };
            login(s, 100, 200 + u64::from(s), end)
        })
        .collect();
    assert!(left(judge_order(web2(), &together)).is_empty());
}
