//! Helpers the commands share: formatting, files, JSON, randomness, and what is asked of
//! a person (the prompts and the login password).

pub mod files;
pub mod json;
pub mod password;
pub mod prompt;
pub mod rng;
pub mod text;
