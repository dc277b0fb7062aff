//! SplitMix64: a tiny, fast generator seeded per event, so any event can be generated on its own.

/// A pseudo-random sequence.
pub struct Random(u64);

impl Random {
    /// The sequence of event `n` of a run seeded with `seed`. The start is hashed from both, so the
    /// sequences of neighbouring events do not overlap (a plain `seed + n * step` start would make
    /// event `n + 1` draw what event `n` drew second).
    pub fn for_event(seed: u64, n: u64) -> Self {
        Random(mix(seed ^ mix(n.wrapping_add(0x6A09_E667_F3BC_C909))))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..bound` (0 when bound is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            ((self.next_u64() as u128 * bound as u128) >> 64) as u64
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// SplitMix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_events_draw_unrelated_sequences() {
        let draws = |n| {
            let mut r = Random::for_event(0, n);
            [r.next_u64(), r.next_u64(), r.next_u64()]
        };
        for n in 0..100 {
            let (a, b) = (draws(n), draws(n + 1));
            assert!(a.iter().all(|x| !b.contains(x)), "events {n} and {} share draws", n + 1);
        }
    }
}
