//! Orders from outside the account's own cycle: a trace's rows (`load.model = "trace"`) and a
//! `[[chaos]]` drop's dice, each handed to the instances they concern.

use tokio::time::Instant;

use super::Account;

impl Account {
    /// A trace row for instance `slot`, due at `at`.
    pub fn replay(&mut self, slot: u8, action: crate::trace::Action, at: Instant) {
        if self.finishing {
            return;
        }
        let i = self.instance(slot as usize);
        match action {
            crate::trace::Action::Login => i.do_send(crate::engine::instance::Replay::Login(at)),
            crate::trace::Action::Logout => i.do_send(crate::engine::instance::Replay::Logout),
            crate::trace::Action::Drop => i.do_send(crate::engine::instance::Replay::Drop),
        }
    }

    /// A `[[chaos]]` drop: each instance's dice (from the drop's seed and its global number)
    /// decide whether its connection is cut.
    pub fn cut(&mut self, fraction: f64, how: crate::scenario::Cut, seed: u64) {
        if self.finishing {
            return;
        }
        // An instance not started yet has no connection to cut.
        for (slot, i) in self.instances.started() {
            // The instance's global number, as the engine dealt it (`n × k + slot`).
            let global = u64::from(self.n) * self.instances.len() as u64 + slot as u64;
            let mut dice =
                fastrand::Rng::with_seed(seed ^ global.wrapping_mul(0xD134_2543_DE82_EF95));
            if dice.f64() < fraction {
                i.do_send(crate::engine::instance::Cut(how));
            }
        }
    }
}
