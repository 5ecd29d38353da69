//! colloquy: a dialog-task engine. See ARCHITECTURE.md for the map of this crate.

pub mod address;
pub mod app;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diagnostic;
pub mod dialog;
pub mod duration;
pub mod email;
pub mod engine;
pub mod glob;
pub mod hex;
pub mod http;
pub mod metrics;
pub mod net;
pub mod otp;
pub mod provider;
pub mod reader;
pub mod reload;
pub mod services;
pub mod sms;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod yaml;
