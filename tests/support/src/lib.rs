//! Helpers the tests of every crate share (a dev-dependency only, never shipped):
//!
//! - [`TestRng`]: deterministic randomness, so a failing run repeats exactly.

mod rng;

pub use rng::TestRng;
