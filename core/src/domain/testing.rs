//! What the domain's unit tests share: a seeded source of uniform numbers for their random
//! walks (xorshift64: no dependency, the same numbers on every machine).

/// Numbers uniform in [0, 1), the same sequence for the same `seed` (which must not be 0).
pub(crate) fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}
