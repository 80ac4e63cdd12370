//! Seeded random streams. Every random decision is drawn from a generator derived from
//! (run seed, purpose, two counters), never from a shared running generator, so any part
//! of the data stream (epoch order, one batch's augmentation) can be replayed on its own:
//! this is what makes resuming from a checkpoint exact.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a derived generator is used for; keeps the streams independent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// Class-balanced `limit:` subset (counter: split).
    Limit = 1,
    /// Sample order of one epoch (counter: epoch).
    Shuffle = 2,
    /// Augmentation of one batch (counters: epoch, batch index).
    Augment = 3,
}

/// A ChaCha8 generator seeded with (seed, purpose, a, b); ChaCha8 is portable and its
/// output is fixed by its specification, so streams are the same on every machine.
pub(crate) fn derive(seed: u64, purpose: Purpose, a: u64, b: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (chunk, word) in key.chunks_exact_mut(8).zip([seed, purpose as u64, a, b]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}
