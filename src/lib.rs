//! loginstorm: a load tester for chat backends in the style of Tencent Cloud Chat.
//!
//! The pure core ([`usersig`], [`policy`], [`protocol`], [`units`]) has no sockets or clocks;
//! [`server`] is the reference server built on it.

pub mod cli;
pub mod engine;
pub mod policy;
pub mod progress;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod server;
pub mod units;
pub mod usersig;

/// Seconds since the Unix epoch, by the wall clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Raise the soft open-file limit to the hard limit, so many sockets can be open at once.
/// Returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}
