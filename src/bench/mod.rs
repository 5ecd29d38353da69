//! `colloquy bench`: the load benchmark (simulated users doing whole OTP conversations over
//! HTTP, against the engine and against a bare axum baseline in the same run), FlowX's round
//! trips through a Kafka broker (`kafka.rs`) and the scale benchmark (a million idle sessions
//! in the memory store). BENCHMARKS.md has the results and
//! how to read them; the step benchmark is `benches/step.rs`.

pub mod baseline;
pub mod client;
pub mod driver;
pub mod histogram;
pub mod kafka;
pub mod load;
pub mod process;
pub mod report;
pub mod scale;

pub use client::ClientKind;
pub use driver::{Options, Report, Target};
