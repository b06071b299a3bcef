//! Helpers the commands share: formatting, files, JSON, randomness, and what is asked of
//! a person (the prompts and the login password), and how long to wait for the device.

pub mod files;
pub mod json;
pub mod password;
pub mod prompt;
pub mod rng;
pub mod text;
pub mod timeout;
