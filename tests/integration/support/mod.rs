//! Helpers shared by the test files, beyond starting a master and calling it (`harness`).

pub mod compose;
pub mod docker;
pub mod llama;
pub mod operations;
pub mod postgres;
pub mod volumes;
pub mod ws;
