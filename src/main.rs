use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: under load glibc's malloc spent about a fifth
/// of the server's CPU (fast-bin consolidation across worker threads); see BENCHMARKS.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    colloquy::cli::run(colloquy::cli::Cli::parse())
}
