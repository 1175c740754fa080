//! The wave coordinator of one account, as a plain state machine: which instances start a
//! cycle, when a barrier wave's logins are released, when a wave is over, and what comes next.
//! The account feeds it events and carries out what it answers; it holds no sockets,
//! clocks or actors, so it is tested directly.

use std::collections::VecDeque;

/// Open-model arrivals an account may queue while busy before further ones are dropped.
pub const MAX_QUEUED_ARRIVALS: usize = 64;

/// How an account's instances cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Instances of the account.
    pub slots: usize,
    /// Cycles each instance does (closed model); 0 = until the run ends.
    pub cycles: u32,
    /// Cycles come in waves (barrier/jitter alignment, or any open-model arrival).
    pub waves: bool,
    /// A wave's instances connect first and log in together when released.
    pub barrier: bool,
    /// Open model: waves start at arrivals; closed: after a think time.
    pub open: bool,
}

/// A wave to start: these slots begin a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Go {
        slots: Vec<usize>,
        barrier: bool,
    },
    /// Every instance has stopped: the account is done.
    Done,
}

/// What follows an instance's cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<T> {
    /// Nothing yet (others are still in the wave, or the account is idle).
    Wait,
    /// Release these slots' logins (a barrier wave whose last straggler just left).
    Release(Vec<usize>),
    /// Independent cycling: this slot starts its next cycle after a think time.
    Again(usize),
    /// The wave is over: the next one starts after a think time (closed model).
    Think,
    /// The wave is over: the next one starts now, at this queued arrival (open model).
    Arrival(T),
    /// The account has done all its cycles.
    Done,
}

/// What became of an open-model arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    StartNow,
    Queued,
    Dropped,
}

/// One account's cycle bookkeeping; `T` is the arrival's intended start.
#[derive(Debug)]
pub struct Waves<T> {
    shape: Shape,
    cycles: Vec<u32>,
    stopped: Vec<bool>,
    in_wave: usize,
    /// Slots of the current barrier wave connected and waiting (`None` once released).
    arrived: Option<Vec<bool>>,
    queue: VecDeque<T>,
    /// Waves started so far.
    pub waves: u64,
}

impl<T> Waves<T> {
    pub fn new(shape: Shape) -> Waves<T> {
        Waves {
            cycles: vec![0; shape.slots],
            stopped: vec![false; shape.slots],
            shape,
            in_wave: 0,
            arrived: None,
            queue: VecDeque::new(),
            waves: 0,
        }
    }

    /// Start a wave of every instance that has not stopped.
    pub fn start(&mut self) -> Start {
        let slots: Vec<usize> = (0..self.shape.slots)
            .filter(|&i| !self.stopped[i])
            .collect();
        if slots.is_empty() {
            return Start::Done;
        }
        self.waves += 1;
        self.in_wave = slots.len();
        let barrier = self.shape.barrier;
        self.arrived = barrier.then(|| vec![false; self.shape.slots]);
        Start::Go { slots, barrier }
    }

    /// An instance of a barrier wave is connected; the slots to release when all are.
    pub fn arrived(&mut self, slot: usize) -> Option<Vec<usize>> {
        if let Some(a) = &mut self.arrived {
            a[slot] = true;
        }
        self.release()
    }

    fn release(&mut self) -> Option<Vec<usize>> {
        let a = self.arrived.as_ref()?;
        let waiting: Vec<usize> = (0..a.len()).filter(|&i| a[i]).collect();
        if self.in_wave == 0 || waiting.len() < self.in_wave {
            return None;
        }
        self.arrived = None;
        Some(waiting)
    }

    /// An open-model arrival: start a wave now if idle, else queue it (within bounds).
    pub fn arrival(&mut self, intended: T) -> Arrival {
        if self.in_wave == 0 {
            Arrival::StartNow
        } else if self.queue.len() < MAX_QUEUED_ARRIVALS {
            self.queue.push_back(intended);
            Arrival::Queued
        } else {
            Arrival::Dropped
        }
    }

    fn all_cycles_done(&self) -> bool {
        let want = self.shape.cycles;
        !self.shape.open
            && want > 0
            && (0..self.shape.slots).all(|i| self.stopped[i] || self.cycles[i] >= want)
    }

    /// An instance ended a cycle (`stopped`: it does no more).
    pub fn cycle_done(&mut self, slot: usize, stopped: bool) -> Next<T> {
        self.cycles[slot] += 1;
        self.stopped[slot] |= stopped;
        if !self.shape.waves {
            if self.all_cycles_done() {
                return Next::Done;
            }
            let want = self.shape.cycles;
            return if !self.stopped[slot] && (want == 0 || self.cycles[slot] < want) {
                Next::Again(slot)
            } else {
                Next::Wait
            };
        }
        self.in_wave = self.in_wave.saturating_sub(1);
        if let Some(a) = &mut self.arrived {
            // It left before the release (its connect failed): the others need not wait.
            a[slot] = false;
            if let Some(slots) = self.release() {
                return Next::Release(slots);
            }
        }
        if self.in_wave > 0 {
            return Next::Wait;
        }
        if self.shape.open {
            return self.queue.pop_front().map_or(Next::Wait, Next::Arrival);
        }
        if self.all_cycles_done() || self.stopped.iter().all(|s| *s) {
            Next::Done
        } else {
            Next::Think
        }
    }

    /// The run is ending: forget queued arrivals.
    pub fn finish(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(slots: usize, cycles: u32, barrier: bool, open: bool) -> Shape {
        Shape {
            slots,
            cycles,
            waves: barrier || open,
            barrier,
            open,
        }
    }

    #[test]
    fn a_barrier_wave_releases_when_every_instance_arrived() {
        let mut w: Waves<u32> = Waves::new(shape(3, 2, true, false));
        assert_eq!(
            w.start(),
            Start::Go {
                slots: vec![0, 1, 2],
                barrier: true
            }
        );
        assert_eq!(w.arrived(0), None);
        assert_eq!(w.arrived(2), None);
        assert_eq!(w.arrived(1), Some(vec![0, 1, 2]));
        assert_eq!(w.cycle_done(0, false), Next::Wait);
        assert_eq!(w.cycle_done(1, false), Next::Wait);
        assert_eq!(w.cycle_done(2, false), Next::Think);
        w.start();
        for s in 0..3 {
            w.arrived(s);
        }
        w.cycle_done(0, false);
        w.cycle_done(1, false);
        assert_eq!(w.cycle_done(2, false), Next::Done, "two cycles each");
        assert_eq!(w.waves, 2);
    }

    #[test]
    fn a_straggler_that_fails_to_connect_does_not_hold_the_wave() {
        let mut w: Waves<u32> = Waves::new(shape(3, 0, true, false));
        w.start();
        w.arrived(0);
        w.arrived(1);
        // #2's connect failed: its cycle ends before the release.
        assert_eq!(w.cycle_done(2, false), Next::Release(vec![0, 1]));
        assert_eq!(w.cycle_done(0, false), Next::Wait);
        assert_eq!(w.cycle_done(1, false), Next::Think);
    }

    #[test]
    fn stopped_instances_leave_later_waves_and_all_stopped_is_done() {
        let mut w: Waves<u32> = Waves::new(shape(2, 0, true, false));
        w.start();
        w.arrived(0);
        w.arrived(1);
        w.cycle_done(0, true);
        assert_eq!(w.cycle_done(1, false), Next::Think);
        assert_eq!(
            w.start(),
            Start::Go {
                slots: vec![1],
                barrier: true
            }
        );
        assert_eq!(w.arrived(1), Some(vec![1]));
        assert_eq!(w.cycle_done(1, true), Next::Done);
        assert_eq!(w.start(), Start::Done);
    }

    #[test]
    fn open_model_arrivals_start_queue_or_drop() {
        let mut w: Waves<u32> = Waves::new(shape(1, 0, false, true));
        assert_eq!(w.arrival(10), Arrival::StartNow);
        w.start();
        for i in 0..MAX_QUEUED_ARRIVALS as u32 {
            assert_eq!(w.arrival(11 + i), Arrival::Queued);
        }
        assert_eq!(w.arrival(999), Arrival::Dropped);
        assert_eq!(w.cycle_done(0, false), Next::Arrival(11));
        w.finish();
        w.start();
        assert_eq!(w.cycle_done(0, false), Next::Wait, "queue cleared");
    }

    #[test]
    fn independent_instances_cycle_on_their_own() {
        let mut w: Waves<u32> = Waves::new(shape(2, 2, false, false));
        assert_eq!(w.cycle_done(0, false), Next::Again(0));
        assert_eq!(w.cycle_done(0, false), Next::Wait, "#0 did its two");
        assert_eq!(w.cycle_done(1, false), Next::Again(1));
        assert_eq!(w.cycle_done(1, false), Next::Done);
    }
}
