//! Logging set-up, in one place. What may never reach a log line: a code, a key, a full email
//! address (use [`crate::address::mask_email`]). Turns log under one span each, carrying the
//! session id, dialog and node.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. `RUST_LOG` wins over the configured level.
pub fn init(config: &LogConfig) -> Result<(), String> {
    init_with_writer(config, std::io::stderr)
}

/// Like [`init`], writing to `writer` (tests capture logs this way).
pub fn init_with_writer<W>(config: &LogConfig, writer: W) -> Result<(), String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .map_err(|error| format!("`log.level` is not a valid filter: {error}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let result = match config.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.map_err(|error| format!("cannot install the logger: {error}"))
}
