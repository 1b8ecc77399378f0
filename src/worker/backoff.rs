//! Capped exponential backoff with jitter, for reconnecting to the master and to Docker.

use std::time::Duration;

use rand::Rng;

/// Delays for successive failed attempts: the ceiling doubles from `min` up to `max`, and each
/// delay is drawn uniformly between `min` and the current ceiling ("full jitter" above a floor,
/// so a fleet that lost its master does not come back in lockstep, and never retries faster
/// than `min`). [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The ceiling of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt; each call counts one more failure.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let low = self.min.as_millis() as u64;
        let high = ceiling.as_millis() as u64;
        Duration::from_millis(rng.random_range(low..=high.max(low)))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut rng = StdRng::seed_from_u64(7);
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            ceilings.push(b.ceiling().as_secs());
            b.next_delay(&mut rng);
        }
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        // Far past the point where the factor would overflow, the cap still holds.
        for _ in 0..100 {
            assert!(b.next_delay(&mut rng) <= Duration::from_secs(60));
        }
    }

    #[test]
    fn delays_stay_between_min_and_ceiling_and_are_spread() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut seen = Vec::new();
        for _ in 0..200 {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
            for _ in 0..4 {
                b.next_delay(&mut rng);
            }
            // Fifth attempt: ceiling 16 s.
            let d = b.next_delay(&mut rng);
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(16),
                "{d:?}"
            );
            seen.push(d.as_millis());
        }
        let (lo, hi) = (seen.iter().min().unwrap(), seen.iter().max().unwrap());
        assert!(*lo < 5_000 && *hi > 12_000, "jitter too narrow: {lo}..{hi}");
    }

    #[test]
    fn first_delay_is_the_minimum_and_reset_starts_over() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut b = Backoff::new(Duration::from_millis(50), Duration::from_millis(400));
        assert_eq!(b.next_delay(&mut rng), Duration::from_millis(50));
        b.next_delay(&mut rng);
        b.next_delay(&mut rng);
        assert_eq!(b.attempts(), 3);
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.ceiling(), Duration::from_millis(50));
    }
}
