//! `colloquy bench`: the load benchmark (engine and bare baseline, same driver, same run) or,
//! with `--scale N`, the idle-session benchmark. See BENCHMARKS.md.

use std::path::PathBuf;
use std::time::Duration;

use crate::bench::Target;
use crate::bench::client::ClientKind;
use crate::bench::kafka::{self, KafkaOptions};
use crate::bench::load::{self, LoadOptions};
use crate::bench::{baseline, report, scale};
use crate::duration::parse_duration;

use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Simulated users, each with its own keep-alive connection.
    #[arg(long, default_value_t = 64)]
    pub users: usize,
    /// The measured window.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load before the window, not measured.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Baseline-then-engine rounds; the report gives each round's ratio and their median.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Drive an engine that is already running (start it with `--config bench/config.yaml`);
    /// its memory and CPU are then not reported.
    #[arg(long)]
    pub url: Option<String>,
    /// What runs at `--url`: `baseline` drives a baseline started by hand with
    /// `--serve-baseline` (answers not checked), for profiling it.
    #[arg(long, hide = true, value_enum, default_value_t = Target::Engine)]
    pub url_target: Target,
    /// Skip the bare axum baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// The driver's HTTP client.
    #[arg(long, value_enum, default_value_t = ClientKind::Hyper)]
    pub client: ClientKind,
    /// Threads of the driver's runtime. One thread leaves more of a small machine to the
    /// server (lower latency tails), but can itself limit the baseline; see BENCHMARKS.md.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub driver_threads: u16,
    /// The engine's config (default: the built-in bench config, `bench/config.yaml`).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Instead of the load benchmark: create this many sessions in the memory store and
    /// report memory per session and sweep times, for sessions waiting at the first question
    /// and for ended ones, each in a process of its own.
    #[arg(long, value_name = "SESSIONS")]
    pub scale: Option<usize>,
    /// For `--scale`: only this kind of session (`waiting` after one turn, `ended` after a
    /// whole conversation), in this process.
    #[arg(long, value_enum)]
    pub scale_kind: Option<scale::SessionKind>,
    /// For `--scale`: tasks (and runtime threads) creating sessions.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// For `--scale`: the dialogs directory.
    #[arg(long, default_value = "dialogs")]
    pub dialogs: PathBuf,
    /// Instead of the load benchmark over HTTP: FlowX's generate + validate round trips
    /// through the Kafka broker at this address (`host:port`), against an engine started
    /// with the bench config and topics of the run's own.
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// Serve the bare baseline on this address (the benchmark starts itself this way).
    #[arg(long, hide = true, value_name = "ADDR")]
    pub serve_baseline: Option<String>,
}

/// FlowX's round trips through a broker (`--kafka`).
fn run_kafka(args: &BenchArgs, brokers: &str, exe: PathBuf) -> u8 {
    let options = KafkaOptions {
        brokers: brokers.to_owned(),
        users: args.users,
        warmup: args.warmup,
        duration: args.duration,
        exe,
        config: args.config.clone(),
        work_dir: std::env::temp_dir().join(format!("colloquy-bench-{}", std::process::id())),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(args.driver_threads))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_USAGE;
        }
    };
    eprintln!(
        "FlowX round trips through {brokers}: {:?} warm-up + {:?} measured, {} users",
        options.warmup, options.duration, options.users
    );
    let report = match runtime.block_on(kafka::run(&options)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!(
                "error: {error}\n(the engine's config and log are in {})",
                options.work_dir.display()
            );
            return EXIT_USAGE;
        }
    };
    let _ = std::fs::remove_dir_all(&options.work_dir);
    print!("{}", kafka::table(&report));
    if !write_json(args.json.as_ref(), &report) {
        return EXIT_USAGE;
    }
    if report.error_count + report.warmup_errors > 0 {
        eprintln!("error: some round trips did not end otpValid: true");
        return EXIT_FAILED;
    }
    EXIT_OK
}

pub fn run(args: &BenchArgs) -> u8 {
    if let Some(addr) = &args.serve_baseline {
        return match baseline::serve(addr) {
            Ok(()) => EXIT_OK,
            Err(error) => {
                eprintln!("error: {error}");
                EXIT_USAGE
            }
        };
    }
    if let Some(sessions) = args.scale {
        return run_scale(args, sessions);
    }
    if args.users == 0 || args.duration.is_zero() {
        eprintln!("error: --users and --duration must be above zero");
        return EXIT_USAGE;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("error: cannot find the colloquy binary: {error}");
            return EXIT_USAGE;
        }
    };
    if let Some(brokers) = &args.kafka {
        return run_kafka(args, brokers, exe);
    }
    let options = LoadOptions {
        users: args.users,
        warmup: args.warmup,
        duration: args.duration,
        client: args.client,
        rounds: args.rounds,
        url: args.url.clone(),
        url_target: args.url_target,
        baseline: !args.no_baseline,
        exe,
        config: args.config.clone(),
        work_dir: std::env::temp_dir().join(format!("colloquy-bench-{}", std::process::id())),
        driver_threads: usize::from(args.driver_threads),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.driver_threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_USAGE;
        }
    };
    eprintln!(
        "running {} round(s) of {:?} warm-up + {:?} measured",
        options.rounds.max(1),
        options.warmup,
        options.duration,
    );
    let result = runtime.block_on(load::run(&options));
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            eprintln!(
                "error: {error}\n(servers' configs and logs are in {})",
                options.work_dir.display()
            );
            return EXIT_USAGE;
        }
    };
    // The servers' logs are only worth keeping when something went wrong.
    let _ = std::fs::remove_dir_all(&options.work_dir);
    print!("{}", report::load_table(&report));
    if !write_json(args.json.as_ref(), &report) {
        return EXIT_USAGE;
    }
    let errors: u64 = report
        .rounds
        .iter()
        .map(|r| r.engine.load.error_count + r.engine.load.warmup_errors)
        .sum();
    if errors > 0 {
        eprintln!("error: {errors} conversation(s) did not end authenticated");
        return EXIT_FAILED;
    }
    EXIT_OK
}

fn run_scale(args: &BenchArgs, sessions: usize) -> u8 {
    let Some(kind) = args.scale_kind else {
        return run_scale_kinds(args, sessions);
    };
    let options = scale::ScaleOptions {
        sessions,
        kind,
        threads: args.threads,
        dialogs: args.dialogs.clone(),
    };
    match scale::run(&options) {
        Ok(report) => {
            print!("{}", report::scale_table(&report));
            if write_json(args.json.as_ref(), &report) {
                EXIT_OK
            } else {
                EXIT_USAGE
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_USAGE
        }
    }
}

/// Each kind of session in a child process of its own (what one kind leaves in the allocator
/// would hide what the other costs); their tables printed, their reports in one JSON list.
fn run_scale_kinds(args: &BenchArgs, sessions: usize) -> u8 {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("error: cannot find the colloquy binary: {error}");
            return EXIT_USAGE;
        }
    };
    let work_dir = std::env::temp_dir().join(format!("colloquy-scale-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&work_dir) {
        eprintln!("error: cannot create {}: {error}", work_dir.display());
        return EXIT_USAGE;
    }
    let mut reports = Vec::new();
    for kind in [scale::SessionKind::Waiting, scale::SessionKind::Ended] {
        let json = work_dir.join(format!("{kind:?}.json"));
        let status = std::process::Command::new(&exe)
            .arg("bench")
            .arg("--scale")
            .arg(sessions.to_string())
            .arg("--scale-kind")
            .arg(format!("{kind:?}").to_lowercase())
            .arg("--threads")
            .arg(args.threads.to_string())
            .arg("--dialogs")
            .arg(&args.dialogs)
            .arg("--json")
            .arg(&json)
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("error: the {kind:?} sessions' run failed ({status})");
                return EXIT_FAILED;
            }
            Err(error) => {
                eprintln!("error: cannot run {}: {error}", exe.display());
                return EXIT_USAGE;
            }
        }
        let report = std::fs::read(&json)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                serde_json::from_slice::<scale::ScaleReport>(&bytes).map_err(|e| e.to_string())
            });
        match report {
            Ok(report) => reports.push(report),
            Err(error) => {
                eprintln!("error: cannot read {}: {error}", json.display());
                return EXIT_USAGE;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    if write_json(args.json.as_ref(), &reports) {
        EXIT_OK
    } else {
        EXIT_USAGE
    }
}

/// Writes `report` as JSON when asked; `false` (after saying why) when it cannot.
fn write_json(path: Option<&PathBuf>, report: &impl serde::Serialize) -> bool {
    let Some(path) = path else {
        return true;
    };
    let written = serde_json::to_vec_pretty(report)
        .map_err(|e| e.to_string())
        .and_then(|json| std::fs::write(path, json).map_err(|e| e.to_string()));
    match written {
        Ok(()) => true,
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", path.display());
            false
        }
    }
}
