//! What the policy expects of a wave: the kicks caused when a set of logins meets an empty
//! account, over every order the backend may decide them in.

use super::{Platform, Policy, VictimOrder};

impl Policy {
    /// Kicks caused when `logins` (platforms) all log in from an empty account: the (min, max)
    /// over every order the server might decide them in. Orders are enumerated up to 8 logins;
    /// beyond that, one same-platform set is exact and mixed sets are sampled.
    pub fn expected_kicks(&self, logins: &[Platform]) -> (u64, u64) {
        let count = |order: &[Platform]| -> u64 {
            let mut live: Vec<Platform> = Vec::new();
            let mut kicks = 0u64;
            for &p in order {
                let k = self.decide(&live, p, VictimOrder::Oldest);
                kicks += k.len() as u64;
                for kick in k.iter().rev() {
                    live.remove(kick.index);
                }
                live.push(p);
            }
            kicks
        };
        let mut order = logins.to_vec();
        order.sort();
        if order.windows(2).all(|w| w[0] == w[1]) || order.len() > 8 {
            let first = count(&order);
            let (mut lo, mut hi) = (first, first);
            if !order.windows(2).all(|w| w[0] == w[1]) {
                let mut rng = fastrand::Rng::with_seed(7);
                for _ in 0..5000 {
                    rng.shuffle(&mut order);
                    let c = count(&order);
                    lo = lo.min(c);
                    hi = hi.max(c);
                }
            }
            return (lo, hi);
        }
        // Every distinct permutation, in lexicographic order.
        let (mut lo, mut hi) = (u64::MAX, 0);
        loop {
            let c = count(&order);
            lo = lo.min(c);
            hi = hi.max(c);
            let Some(i) = (0..order.len() - 1)
                .rev()
                .find(|&i| order[i] < order[i + 1])
            else {
                break;
            };
            let j = (i + 1..order.len())
                .rev()
                .find(|&j| order[j] > order[i])
                .expect("exists");
            order.swap(i, j);
            order[i + 1..].reverse();
        }
        (lo, hi)
    }
}
