//! The command line: `serve`, `check`, `chat`, `test`, `schema`, `openapi`, … Behaves like a Unix tool: exit 0 when
//! all is well, 1 when checks fail, 2 for usage and I/O errors; errors name their cause.

mod bench;
mod chat;
mod check;
mod counts;
mod graph;
mod serve;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "colloquy",
    version,
    about = "A dialog-task engine: YAML state machines behind a chat webhook"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve {
        /// Config file (default: ./config.yaml if present, else built-in defaults).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen address, overriding `server.addr`.
        #[arg(long)]
        addr: Option<String>,
        /// Reload dialogs when their files change (also `dialogs.watch`); SIGHUP always reloads.
        #[arg(long)]
        watch: bool,
        /// Dev mode (also `server.dev`): the clock can be moved forward and sessions' context
        /// read over `/v1/dev/…`, for `colloquy test --url`; loopback addresses only.
        #[arg(long)]
        dev: bool,
    },
    /// Validate dialog files and report every problem.
    Check {
        /// Files or directories (default: `dialogs.dir` from the config).
        paths: Vec<PathBuf>,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Draw a dialog as a graph (Mermaid or Graphviz DOT) on stdout.
    Graph {
        /// A dialog id (default: `dialogs.default`) or a dialog file.
        dialog: Option<String>,
        /// `mermaid` (renders on GitHub) or `dot` (pipe to `dot -Tsvg`).
        #[arg(long, default_value = "mermaid", value_parser = ["mermaid", "dot"])]
        format: String,
        /// A running engine's `/metrics` text: conversations started, dropped at each
        /// question and ended are noted on the nodes.
        #[arg(long, value_name = "FILE")]
        counts: Option<PathBuf>,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run scripted conversations (tests/conversations by default) and report coverage.
    Test(test::TestArgs),
    /// Benchmark the engine: simulated users doing whole OTP conversations over HTTP, next to
    /// a bare axum baseline (or, with `--scale N`, N idle sessions). See BENCHMARKS.md.
    Bench(bench::BenchArgs),
    /// Print the JSON Schema of dialog files (committed as dialogs/dialog.schema.json, for
    /// editors).
    Schema,
    /// Print the OpenAPI 3.1 description of every HTTP route (committed as docs/openapi.json;
    /// served at GET /openapi.json).
    Openapi,
    /// Talk to a dialog in the terminal (emails print instead of being sent).
    Chat {
        /// The dialog to run (default: `dialogs.default`).
        dialog: Option<String>,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

/// Exit codes.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

pub fn run(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Serve {
            config,
            addr,
            watch,
            dev,
        } => serve::run(config.as_deref(), serve::Overrides { addr, watch, dev }),
        Command::Check { paths, config } => check::run(&paths, config.as_deref()),
        Command::Chat { dialog, config } => chat::run(dialog, config.as_deref()),
        Command::Test(args) => test::run(&args),
        Command::Schema => {
            print!("{}", crate::dialog::schema::rendered());
            EXIT_OK
        }
        Command::Openapi => {
            print!("{}", crate::http::openapi::rendered());
            EXIT_OK
        }
        Command::Bench(args) => bench::run(&args),
        Command::Graph {
            dialog,
            format,
            counts,
            config,
        } => {
            let format = if format == "dot" {
                crate::dialog::graph::Format::Dot
            } else {
                crate::dialog::graph::Format::Mermaid
            };
            graph::run(
                dialog.as_deref(),
                format,
                counts.as_deref(),
                config.as_deref(),
            )
        }
    };
    ExitCode::from(code)
}

/// Loads the config: the given file, else `./config.yaml` when present, else defaults; then
/// the `COLLOQUY__…` environment. Prints the error and returns `None` on failure.
pub(crate) fn load_config(path: Option<&Path>) -> Option<Config> {
    let default = Path::new("config.yaml");
    let path = path.or_else(|| default.exists().then_some(default));
    match Config::load(path, std::env::vars()) {
        Ok(config) => Some(config),
        Err(error) => {
            eprintln!("error: {error}");
            None
        }
    }
}

/// Loads the dialogs under `dialogs.dir`, checked against what `config` provides, printing
/// every diagnostic to stderr. Returns the exit code to stop with when they cannot be read (2)
/// or any has an error (1, after `refusal`).
pub(crate) fn load_valid_dialogs(
    config: &Config,
    refusal: &str,
) -> Result<crate::engine::DialogRegistry, u8> {
    load_valid_dialogs_in(config, &config.load_env(), refusal)
}

/// Like [`load_valid_dialogs`], with `env` saying what the dialogs may name.
pub(crate) fn load_valid_dialogs_in(
    config: &Config,
    env: &crate::dialog::LoadEnv,
    refusal: &str,
) -> Result<crate::engine::DialogRegistry, u8> {
    let dir = config.dialogs.dir.clone();
    let (registry, reports) =
        crate::engine::registry::load_paths(&[dir], env).map_err(|error| {
            eprintln!("error: cannot load dialogs: {error}");
            EXIT_USAGE
        })?;
    let mut failed = false;
    for report in &reports {
        eprint!("{report}");
        failed |= report.has_errors();
    }
    if failed {
        eprintln!("error: {refusal} (`colloquy check` shows the same list)");
        return Err(EXIT_FAILED);
    }
    Ok(registry)
}

/// A multi-threaded tokio runtime, or the exit code after saying why there is none.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Runtime::new().map_err(|error| {
        eprintln!("error: cannot start the async runtime: {error}");
        EXIT_USAGE
    })
}
