//! Timing shared by the benches.

use std::time::{Duration, Instant};

/// Median time of `iterations` calls of `f` after `warmup` calls.
pub fn median<T>(warmup: usize, iterations: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..warmup).for_each(|_| drop(f()));
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            drop(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[iterations / 2]
}
