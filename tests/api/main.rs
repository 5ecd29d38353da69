//! The one integration-test binary: the real application over real HTTP on port 0.

// Test code may panic on a broken expectation; that is how it fails.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
// Mock services (SendGrid, Twilio, classifiers, pages embedding the widget) build their own
// axum routers; only the server's routes must go through the OpenAPI registration.
#![allow(clippy::disallowed_methods)]

mod bad_numbers;
mod bench;
mod browser;
mod capillary;
mod check;
mod choices;
mod classifier;
mod connections;
mod dev;
mod digit;
mod email_send;
mod events;
pub mod handoff;
mod helpers;
mod idempotency;
mod kafka;
mod kore;
mod locales;
mod metrics;
mod openapi;
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
mod sms_gateway;
mod sms_guard;
mod subdialogs;
mod trust;
mod twilio;
mod understanding;
mod web;
