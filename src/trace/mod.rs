//! Replayed traces (`load.model = "trace"`): a CSV of what real clients did — when, who, on
//! which platform, log in, log out or drop — turned into a schedule of the instances' actions.
//!
//! The schedule is a pure function of the file: each userID is an account (in order of first
//! appearance), each (userID, platform) login takes the lowest instance of that platform not
//! online, a logout or drop ends the oldest one online. The same file therefore gives the same
//! per-account sequence of actions at any replay speed; only the times are divided by the
//! speed (docs/scenarios.md, "Replayed traces"). `shapes.rs` generates realistic traces.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::policy::Platform;

pub mod shapes;

/// What a trace row asks of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Connect (if need be), log in and stay until told otherwise.
    Login,
    /// Log out.
    Logout,
    /// The connection dies without a word (a ghost for the server); the user is gone — the
    /// instance does not reconnect (a later login row brings it back).
    Drop,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Logout => "logout",
            Action::Drop => "drop",
        }
    }
}

/// One row, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub at: Duration,
    pub user: String,
    pub platform: Platform,
    pub action: Action,
}

/// One scheduled action of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// From the trace's start, at ×1.
    pub at: Duration,
    pub account: u32,
    pub slot: u8,
    pub action: Action,
}

/// A trace, read and scheduled.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The userID of each account.
    pub users: Vec<String>,
    /// Every account's instances: the platforms' instances side by side, as many of each as
    /// any user of the trace had online at once.
    pub platforms: Vec<Platform>,
    /// In time order.
    pub events: Vec<Event>,
}

/// Most instances of one platform one user may have online at once in a trace.
const MAX_PER_PLATFORM: usize = 10;
/// Most instances of one account, as `accounts.instances` allows.
const MAX_SLOTS: usize = 64;

impl Trace {
    /// Read a trace's text; errors name the line.
    pub fn parse(text: &str) -> Result<Trace, String> {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if rows.is_empty() && line.to_ascii_lowercase().starts_with("offset") {
                continue;
            }
            rows.push(parse_row(line).map_err(|e| format!("line {n}: {e}"))?);
        }
        Trace::schedule(&rows)
    }

    /// Schedule rows (in time order): accounts, instance layout and events.
    pub fn schedule(rows: &[Row]) -> Result<Trace, String> {
        if rows.is_empty() {
            return Err("the trace has no row".into());
        }
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut users = Vec::new();
        // Per (account, platform): for each instance index, when it logged in (None: free).
        let mut online: HashMap<(u32, Platform), Vec<Option<usize>>> = HashMap::new();
        let mut raw = Vec::with_capacity(rows.len());
        let mut widest = [0usize; Platform::ALL.len()];
        let mut last = Duration::ZERO;
        for (r_i, r) in rows.iter().enumerate() {
            let what = || {
                format!(
                    "row {} ({} {} {})",
                    r_i + 1,
                    r.user,
                    r.platform,
                    r.action.name()
                )
            };
            if r.at < last {
                return Err(format!(
                    "{}: its offset is before the previous row's (sort the trace by time)",
                    what()
                ));
            }
            last = r.at;
            let next = users.len() as u32;
            let account = *index.entry(r.user.as_str()).or_insert_with(|| {
                users.push(r.user.clone());
                next
            });
            let slots = online.entry((account, r.platform)).or_default();
            let k = match r.action {
                Action::Login => {
                    let k = slots
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or(slots.len());
                    if k >= MAX_PER_PLATFORM {
                        return Err(format!("{}: more than {MAX_PER_PLATFORM} instances of one platform online at once", what()));
                    }
                    if k == slots.len() {
                        slots.push(None);
                    }
                    slots[k] = Some(r_i);
                    k
                }
                Action::Logout | Action::Drop => {
                    let oldest = slots
                        .iter()
                        .enumerate()
                        .filter_map(|(k, s)| s.map(|at| (at, k)))
                        .min()
                        .map(|(_, k)| k);
                    let Some(k) = oldest else {
                        return Err(format!(
                            "{}: no session of this user on this platform is online",
                            what()
                        ));
                    };
                    slots[k] = None;
                    k
                }
            };
            let p = Platform::ALL
                .iter()
                .position(|x| *x == r.platform)
                .unwrap_or(0);
            widest[p] = widest[p].max(k + 1);
            raw.push((r.at, account, p, k, r.action));
        }
        let mut first = [0usize; Platform::ALL.len()];
        let mut platforms = Vec::new();
        for (p, w) in widest.iter().enumerate() {
            first[p] = platforms.len();
            platforms.extend(std::iter::repeat_n(Platform::ALL[p], *w));
        }
        if platforms.len() > MAX_SLOTS {
            return Err(format!(
                "its users have up to {} instances online at once across platforms; an account has at most {}",
                platforms.len(),
                MAX_SLOTS
            ));
        }
        let events = raw
            .into_iter()
            .map(|(at, account, p, k, action)| Event {
                at,
                account,
                slot: (first[p] + k) as u8,
                action,
            })
            .collect();
        Ok(Trace {
            users,
            platforms,
            events,
        })
    }

    /// How long the trace lasts at ×1.
    pub fn span(&self) -> Duration {
        self.events.last().map_or(Duration::ZERO, |e| e.at)
    }
}

fn parse_row(line: &str) -> Result<Row, String> {
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    let [at, user, platform, action] = f[..] else {
        return Err(format!(
            "{} field(s); a row is offset,userID,platform,action",
            f.len()
        ));
    };
    let secs: f64 = at
        .parse()
        .map_err(|_| format!("offset {at:?} is not a number of seconds"))?;
    if !(0.0..=86_400.0 * 7.0).contains(&secs) {
        return Err(format!("offset {at:?} must be within 0..=604800 seconds"));
    }
    crate::protocol::check_user_id(user).map_err(|e| format!("userID {user:?}: {e}"))?;
    let platform = platform
        .parse::<Platform>()
        .map_err(|e| format!("platform {platform:?}: {e}"))?;
    let action = match action {
        "login" => Action::Login,
        "logout" => Action::Logout,
        "drop" => Action::Drop,
        a => return Err(format!("action {a:?} is not login, logout or drop")),
    };
    Ok(Row {
        at: Duration::from_secs_f64(secs),
        user: user.to_string(),
        platform,
        action,
    })
}

/// Rows as a trace file's text (with its header).
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from("offset,userID,platform,action\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{:.3},{},{},{}",
            r.at.as_secs_f64(),
            r.user,
            r.platform,
            r.action.name()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "offset,userID,platform,action\n\
        # two Web sessions of alice overlap; bob drops\n\
        0.0,alice,Web,login\n\
        0.5,bob,Android,login\n\
        1.0,alice,Web,login\n\
        2.0,alice,Web,logout\n\
        2.5,bob,Android,drop\n\
        3.0,alice,Web,login\n\
        4.0,alice,Web,logout\n";

    #[test]
    fn users_become_accounts_and_logins_take_the_lowest_free_instance() {
        let t = Trace::parse(TEXT).unwrap();
        assert_eq!(t.users, ["alice", "bob"]);
        // In Platform::ALL order: two Web instances side by side, one Android.
        assert_eq!(t.platforms.len(), 3);
        assert_eq!(
            t.platforms.iter().filter(|p| **p == Platform::Web).count(),
            2
        );
        let web = t
            .platforms
            .iter()
            .position(|p| *p == Platform::Web)
            .unwrap() as u8;
        let android = t
            .platforms
            .iter()
            .position(|p| *p == Platform::Android)
            .unwrap() as u8;
        let acts: Vec<(u32, u8, Action)> = t
            .events
            .iter()
            .map(|e| (e.account, e.slot, e.action))
            .collect();
        assert_eq!(
            acts,
            [
                (0, web, Action::Login),
                (1, android, Action::Login),
                (0, web + 1, Action::Login),
                (0, web, Action::Logout), // the oldest online
                (1, android, Action::Drop),
                (0, web, Action::Login), // the lowest free
                (0, web + 1, Action::Logout),
            ]
        );
        assert_eq!(t.span(), Duration::from_secs(4));
    }

    #[test]
    fn a_bad_trace_names_its_line() {
        for (text, want) in [
            ("0,a,Web,login\n1,a,Web,fly\n", "line 2: action \"fly\""),
            ("0,a,Web,logout\n", "no session"),
            ("1,a,Web,login\n0,a,Web,logout\n", "before the previous"),
            ("0,a,Web\n", "line 1: 3 field(s)"),
            ("x,a,Web,login\n", "is not a number"),
            ("0,a,Toaster,login\n", "platform \"Toaster\""),
            ("# nothing\n", "no row"),
        ] {
            let e = Trace::parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_csv_reads_back_as_written() {
        let t = Trace::parse(TEXT).unwrap();
        let rows: Vec<Row> = t
            .events
            .iter()
            .map(|e| Row {
                at: e.at,
                user: t.users[e.account as usize].clone(),
                platform: t.platforms[e.slot as usize],
                action: e.action,
            })
            .collect();
        assert_eq!(Trace::parse(&to_csv(&rows)).unwrap(), t);
    }
}
