//! When each person sends, and to which of its rooms: a Poisson process per person (random
//! gaps, exponentially distributed), so that people together offer the run's rate with the
//! bunching real traffic has, rather than one message every so many microseconds. Seeded
//! per person, so a run can be repeated send for send; the sending is [`super::person`]'s.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// One person's sends: times from the start of the run, in nanoseconds, and the room (its
/// own slot, `0..k`) of each.
#[derive(Debug)]
pub struct Schedule {
    /// This person's own generator.
    rng: StdRng,
    /// Mean nanoseconds between two sends: `1e9 ÷ rate`.
    mean_gap_ns: f64,
    /// The person's rooms, `k`.
    rooms: usize,
    /// When the next send is due.
    next_ns: f64,
    /// No send is due at or after this.
    end_ns: f64,
}

/// A send that is due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Due {
    /// When, in nanoseconds from the start of the run.
    pub at_ns: u64,
    /// To which of the person's rooms.
    pub slot: usize,
}

impl Schedule {
    /// Person `id`'s sends at `rate` messages a second on average, to its `rooms` rooms at
    /// random, for `duration_s` seconds; the run's `seed` and the id make its generator.
    pub fn new(seed: u64, id: usize, rate: f64, rooms: usize, duration_s: f64) -> Schedule {
        // The person's number in the top half, so that seeds 1, 2, 3 and people 0, 1, 2
        // never give two people one generator.
        let mut rng = StdRng::seed_from_u64(seed ^ ((id as u64 + 1) << 32));
        let mean_gap_ns = 1e9 / rate;
        let next_ns = gap(&mut rng, mean_gap_ns);
        Schedule {
            rng,
            mean_gap_ns,
            rooms: rooms.max(1),
            next_ns,
            end_ns: duration_s * 1e9,
        }
    }

    /// When the next send is due; `None` once the run's time is over.
    pub fn peek_ns(&self) -> Option<u64> {
        (self.next_ns < self.end_ns).then_some(self.next_ns as u64)
    }
}

impl Iterator for Schedule {
    type Item = Due;

    fn next(&mut self) -> Option<Due> {
        let at_ns = self.peek_ns()?;
        let slot = self.rng.random_range(0..self.rooms);
        self.next_ns += gap(&mut self.rng, self.mean_gap_ns);
        Some(Due { at_ns, slot })
    }
}

/// An exponentially distributed gap with mean `mean`: the time to a Poisson process's next
/// event.
fn gap(rng: &mut StdRng, mean: f64) -> f64 {
    // 1 - u is in (0, 1], so its logarithm is finite.
    let u: f64 = rng.random();
    -(1.0 - u).ln() * mean
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over many sends the rate is the one asked for, every room gets its share, and the
    /// gaps vary as a Poisson process's do (their spread about equal to their mean).
    #[test]
    fn sends_come_at_the_rate_with_random_gaps() {
        let sends: Vec<Due> = Schedule::new(1, 0, 1000.0, 4, 100.0).collect();
        let n = sends.len() as f64;
        assert!((n - 100_000.0).abs() < 1500.0, "{n}");
        let gaps: Vec<f64> = sends
            .windows(2)
            .map(|w| (w[1].at_ns - w[0].at_ns) as f64)
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((mean - 1e6).abs() < 2e4, "{mean}");
        assert!((sd / mean - 1.0).abs() < 0.05, "{sd} {mean}");
        for slot in 0..4 {
            let share = sends.iter().filter(|d| d.slot == slot).count() as f64 / n;
            assert!((share - 0.25).abs() < 0.01, "{slot}: {share}");
        }
        assert!(sends.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
        assert!(sends.last().unwrap().at_ns < 100_000_000_000);
    }

    /// A seed and a person give the same sends every time; another person other ones.
    #[test]
    fn a_seed_and_a_person_give_the_same_sends() {
        let a: Vec<Due> = Schedule::new(9, 3, 50.0, 3, 10.0).collect();
        let b: Vec<Due> = Schedule::new(9, 3, 50.0, 3, 10.0).collect();
        let c: Vec<Due> = Schedule::new(9, 4, 50.0, 3, 10.0).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
