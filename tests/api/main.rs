//! The one integration-test binary: the real application over real HTTP on port 0.

// Test code may panic on a broken expectation; that is how it fails.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod bench;
mod browser;
mod check;
mod choices;
mod classifier;
mod connections;
mod dev;
mod email_send;
mod events;
pub mod handoff;
mod helpers;
mod idempotency;
mod kafka;
mod kore;
mod locales;
mod metrics;
mod otp_dialog;
mod otp_service;
mod ownership;
mod properties;
mod redis;
mod reload;
mod robustness;
mod runner;
mod schema;
mod sendgrid;
mod services;
mod subdialogs;
mod trust;
mod twilio;
mod understanding;
mod web;
