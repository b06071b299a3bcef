//! Helpers the tests of every crate share (a dev-dependency only, never shipped):
//!
//! - [`TestRng`]: deterministic randomness, so a failing run repeats exactly;
//! - [`leaks`]: does a text or a `Debug` output show a secret (see SECURITY.md "How it
//!   is checked").

pub mod leaks;
mod rng;

pub use rng::TestRng;
