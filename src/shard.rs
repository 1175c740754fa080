//! Which share of a scenario's accounts one process runs: `--shard I/N` runs exactly the
//! accounts whose index `n` has `n % N == I`.
//!
//! Whole accounts, never parts of one: every per-account check, expectation and kick count stays
//! inside one shard, so shards merged (`loginstorm merge`) judge exactly as one process would.
//! Accounts keep their global index — their userID, their seed, their instances' numbers, their
//! place in the closed model's ramp and the open model's arrivals — so a shard does what the
//! unsharded run does for the same accounts.

use std::fmt;
use std::str::FromStr;

/// `index` of `count` (0-based). `Shard::WHOLE` (0/1) is an unsharded run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// At most this many shards (each is a process, a pod or a machine).
pub const MAX_SHARDS: u32 = 10_000;

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether account `n` belongs to this shard.
    pub fn owns(self, n: u32) -> bool {
        n % self.count == self.index
    }

    /// The accounts of `total` this shard runs, in order.
    pub fn accounts(self, total: u32) -> impl Iterator<Item = u32> {
        (self.index..total).step_by(self.count as usize)
    }

    /// How many of `total` accounts this shard runs.
    pub fn owned(self, total: u32) -> u32 {
        if self.index >= total {
            0
        } else {
            (total - self.index).div_ceil(self.count)
        }
    }

    /// Account `n`'s position among this shard's accounts (`n` must be owned).
    pub fn local(self, n: u32) -> usize {
        (n / self.count) as usize
    }

    /// Which of `workers` worker threads runs account `n` (dealt round-robin by local index):
    /// where it is made, paced and sent its orders.
    pub fn worker(self, n: u32, workers: usize) -> usize {
        self.local(n) % workers
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A `--shard` that is not `I/N` with `0 <= I < N <= MAX_SHARDS`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected I/N with 0 <= I < N <= {MAX_SHARDS}, e.g. 0/3")]
pub struct BadShard(pub String);

impl FromStr for Shard {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Shard, BadShard> {
        let usage = || BadShard(s.to_string());
        let (i, n) = s.trim().split_once('/').ok_or_else(usage)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| usage())?,
            n.trim().parse::<u32>().map_err(|_| usage())?,
        );
        if count == 0 || count > MAX_SHARDS || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_accounts_and_count_them() {
        for total in [0u32, 1, 2, 7, 10, 11] {
            for count in 1..=4u32 {
                let mut seen = vec![0; total as usize];
                for index in 0..count {
                    let s = Shard { index, count };
                    let mine: Vec<u32> = s.accounts(total).collect();
                    assert_eq!(mine.len() as u32, s.owned(total), "{s} of {total}");
                    for (j, n) in mine.iter().enumerate() {
                        assert!(s.owns(*n));
                        assert_eq!(s.local(*n), j);
                        seen[*n as usize] += 1;
                    }
                }
                assert!(seen.iter().all(|c| *c == 1), "{count} shards of {total}");
            }
        }
    }

    #[test]
    fn parses_i_of_n_and_names_bad_input() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard::WHOLE));
        for bad in ["3/3", "1/0", "x/2", "1", "-1/2", "0/10001", ""] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert_eq!(e, BadShard(bad.to_string()));
            assert!(e.to_string().contains("I/N"), "{bad}: {e}");
        }
    }
}
