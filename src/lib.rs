//! loginstorm: a load tester for chat backends in the style of Tencent Cloud Chat.
//!
//! The pure core ([`usersig`], [`policy`], [`protocol`], [`units`]) has no sockets or clocks;
//! [`server`] is the reference server built on it.

pub mod checks;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod docs;
pub mod driver;
pub mod engine;
pub mod faults;
pub mod input;
pub mod interrupt;
pub mod live_metrics;
pub mod merge;
pub mod model;
pub mod policy;
pub mod processes;
pub mod profile;
pub mod progress;
pub mod protocol;
pub mod report;
pub mod run;
pub mod scenario;
pub mod search;
pub mod server;
pub mod shard;
mod test_hook;
pub mod thresholds;
pub mod trace;
pub mod units;
pub mod usersig;
pub mod verdict;

/// Seconds since the Unix epoch, by the wall clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Raise the open-file limit so many sockets can be open at once: up to the kernel's
/// `fs.nr_open` (at most 1,048,576) when the process may raise its hard limit (root,
/// CAP_SYS_RESOURCE), else the soft limit up to the hard one. Returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    const WANT: u64 = 1 << 20;
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(WANT);
    let target = nr_open.min(WANT);
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() {
        if soft >= target {
            return soft;
        }
        if hard < target && rlimit::Resource::NOFILE.set(target, target).is_ok() {
            return target;
        }
    }
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// Grow this process's descriptor table now to hold `n` descriptors (up to the open-file
/// limit), so it never grows during the load. The kernel grows the table by doubling, and in a
/// multi-threaded process each growth waits for an RCU grace period: the thread opening the
/// 257th, 513th, 1025th… socket stalls for ~10–25 ms, and every arrival on that thread with it
/// (seen as `schedule_lag` spikes at powers of two). Growing it once, before the clock starts,
/// takes that wait out of the run. Returns the size reserved.
pub fn reserve_fds(n: u64) -> u64 {
    let limit = rlimit::Resource::NOFILE
        .get()
        .map_or(1024, |(soft, _)| soft);
    let top = n.min(limit.saturating_sub(1)).min(1 << 20);
    if top < 64 {
        return top;
    }
    #[cfg(unix)]
    // SAFETY: F_DUPFD takes the lowest free descriptor at or above `top` (the table grows to
    // hold it) without touching any open one, so no other thread's descriptor can be closed;
    // the duplicate is closed again at once.
    unsafe {
        let fd = libc::fcntl(2, libc::F_DUPFD_CLOEXEC, top as libc::c_int);
        if fd >= 0 {
            libc::close(fd);
        }
    }
    top
}

/// An error and its causes on one line, each cause once: many of the typed errors already
/// name their source in their own message, and anyhow's `{:#}` would repeat it.
/// An error message as it is printed: at most 4 KiB (an error quoting a 50 MB line of a file
/// would echo it whole), cut at a character boundary with what was left out counted.
pub fn clip_message(msg: &str) -> String {
    const MAX: usize = 4096;
    if msg.len() <= MAX {
        return msg.to_string();
    }
    let mut end = MAX;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &msg[..end], msg.len() - end)
}

#[cfg(test)]
#[test]
fn a_huge_error_message_is_clipped_at_a_character_boundary() {
    let line = "é".repeat(25 << 20); // 50 MB
    let clipped = clip_message(&format!("line 1: {line}"));
    assert!(clipped.len() < 4200, "{}", clipped.len());
    assert!(
        clipped.ends_with("more bytes)"),
        "{}",
        &clipped[clipped.len() - 40..]
    );
    assert_eq!(clip_message("short"), "short");
}

pub fn error_message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}
