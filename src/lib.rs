//! colloquy: a dialog-task engine. See ARCHITECTURE.md for the map of this crate.

pub mod address;
pub mod diagnostic;
pub mod dialog;
pub mod duration;
pub mod otp;
pub mod reader;
pub mod yaml;
