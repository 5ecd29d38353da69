//! One `colloquy bench` run: for each round, the bare baseline and then the engine, each a
//! child process on a free port, each driven by the same driver for the same warm-up and
//! window; their CPU time and peak memory read from `/proc` around the window.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::client::ClientKind;
use super::driver::{self, Target};
use super::process::{self, Machine, Server};

#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub users: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub client: ClientKind,
    pub rounds: usize,
    /// An engine already running; without it one is started with the bench config.
    pub url: Option<String>,
    /// What runs at `url` (a baseline started by hand, for profiling it).
    pub url_target: Target,
    /// Run the bare baseline too (and report the ratio).
    pub baseline: bool,
    /// The `colloquy` binary to start servers from.
    pub exe: PathBuf,
    /// The engine's config file (default: the built-in bench config).
    pub config: Option<PathBuf>,
    /// Where configs and server logs are written.
    pub work_dir: PathBuf,
    /// Worker threads of the driver's runtime (reported; the caller builds the runtime).
    pub driver_threads: usize,
}

/// One target's figures in one round.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    #[serde(flatten)]
    pub load: driver::Report,
    /// The server process's peak resident memory over its life (`VmHWM`), MiB.
    pub server_peak_rss_mib: Option<f64>,
    /// CPU cores the server used on average inside the window.
    pub server_cpu_cores: Option<f64>,
    /// CPU cores the driver used on average inside the window.
    pub driver_cpu_cores: Option<f64>,
    /// Requests the engine sent to Redis per turn inside the window (its
    /// `colloquy_redis_round_trips_total`; none with the memory store).
    pub redis_round_trips_per_turn: Option<f64>,
    /// Commands Redis ran per turn inside the window, by name, as its `INFO commandstats`
    /// counts them (commands inside scripts included); none with the memory store.
    pub redis_commands_per_turn: Option<BTreeMap<String, f64>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Round {
    pub baseline: Option<Measured>,
    pub engine: Measured,
    /// Engine turns/s over baseline turns/s, in this round.
    pub ratio: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    pub machine: Machine,
    pub users: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub client: ClientKind,
    pub driver_threads: usize,
    pub rounds: Vec<Round>,
    /// The median of the rounds' ratios.
    pub median_ratio: Option<f64>,
    /// The engine's configuration, as run (none for `--url`).
    pub engine_config: Option<String>,
}

/// Runs every round; an error means a round could not run (a server did not start).
pub async fn run(options: &LoadOptions) -> Result<LoadReport, String> {
    std::fs::create_dir_all(&options.work_dir)
        .map_err(|e| format!("cannot create {}: {e}", options.work_dir.display()))?;
    let engine_config = match (&options.url, &options.config) {
        (Some(_), _) => None,
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        ),
        (None, None) => Some(process::BENCH_CONFIG.to_owned()),
    };
    let redis = engine_config.as_deref().and_then(redis_of);
    let config_path = options.work_dir.join("engine-config.yaml");
    if let Some(text) = &engine_config {
        std::fs::write(&config_path, text)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    }
    let mut rounds = Vec::new();
    for round in 1..=options.rounds.max(1) {
        let baseline = if options.baseline {
            let port = process::free_port()?;
            let args = vec![
                "bench".to_owned(),
                "--serve-baseline".to_owned(),
                format!("127.0.0.1:{port}"),
            ];
            let log = options.work_dir.join(format!("baseline-{round}.log"));
            let server = Server::start(&options.exe, &args, port, log).await?;
            let measured = measure(
                server.url.clone(),
                Some(&server),
                options,
                round,
                Target::Baseline,
                None,
            )
            .await?;
            drop(server);
            Some(measured)
        } else {
            None
        };
        let engine = match &options.url {
            Some(url) => {
                measure(url.clone(), None, options, round, options.url_target, None).await?
            }
            None => {
                let port = process::free_port()?;
                let args = vec![
                    "serve".to_owned(),
                    "--config".to_owned(),
                    config_path.display().to_string(),
                    "--addr".to_owned(),
                    format!("127.0.0.1:{port}"),
                ];
                let log = options.work_dir.join(format!("engine-{round}.log"));
                let server = Server::start(&options.exe, &args, port, log).await?;
                measure(
                    server.url.clone(),
                    Some(&server),
                    options,
                    round,
                    Target::Engine,
                    redis.as_deref(),
                )
                .await?
            }
        };
        let ratio = baseline
            .as_ref()
            .filter(|b| b.load.turns_per_s > 0.0)
            .map(|b| engine.load.turns_per_s / b.load.turns_per_s);
        rounds.push(Round {
            baseline,
            engine,
            ratio,
        });
    }
    let mut ratios: Vec<f64> = rounds.iter().filter_map(|r| r.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    let median_ratio = median(&ratios);
    Ok(LoadReport {
        machine: process::machine(),
        users: options.users,
        warmup_s: options.warmup.as_secs_f64(),
        duration_s: options.duration.as_secs_f64(),
        client: options.client,
        driver_threads: options.driver_threads,
        rounds,
        median_ratio,
        engine_config,
    })
}

/// Drives `url` and samples CPU time (and the engine's counts, and those of its Redis at
/// `redis` when it has one) at the start and the end of the window.
async fn measure(
    url: String,
    server: Option<&Server>,
    options: &LoadOptions,
    round: usize,
    target: Target,
    redis: Option<&str>,
) -> Result<Measured, String> {
    let metrics_url = format!("{}/metrics", url.trim_end_matches('/'));
    let engine = target == Target::Engine;
    let driver_options = driver::Options {
        url,
        users: options.users,
        warmup: options.warmup,
        duration: options.duration,
        target,
        client: options.client,
        run_id: run_id(round),
    };
    let sample = || {
        (
            Instant::now(),
            server.and_then(Server::cpu_seconds),
            process::own_cpu_seconds(),
        )
    };
    let at_start = async {
        tokio::time::sleep(options.warmup).await;
        let sampled = sample();
        let counted = if engine {
            engine_counts(&metrics_url).await
        } else {
            None
        };
        let commands = match redis {
            Some(url) => redis_commands(url).await,
            None => None,
        };
        (sampled, counted, commands)
    };
    let (report, (start, counted_at_start, commands_at_start)) =
        tokio::join!(driver::run(&driver_options), at_start);
    let report = report?;
    let end = sample();
    let counted_at_end = if engine {
        engine_counts(&metrics_url).await
    } else {
        None
    };
    let commands_at_end = match redis {
        Some(url) => redis_commands(url).await,
        None => None,
    };
    let turns = match (&counted_at_start, &counted_at_end) {
        (Some((turns_0, _)), Some((turns_1, _))) if turns_1 > turns_0 => Some(turns_1 - turns_0),
        _ => None,
    };
    let redis_commands_per_turn = match (commands_at_start, commands_at_end, turns) {
        (Some(before), Some(after), Some(turns)) => Some(
            after
                .into_iter()
                .filter_map(|(name, calls)| {
                    let ran = calls.saturating_sub(before.get(&name).copied().unwrap_or(0));
                    #[allow(clippy::cast_precision_loss)]
                    (ran > 0).then(|| (name, ran as f64 / turns))
                })
                .collect(),
        ),
        _ => None,
    };
    let redis_round_trips_per_turn = match (counted_at_start, counted_at_end) {
        (Some((turns_0, Some(trips_0))), Some((turns_1, Some(trips_1)))) if turns_1 > turns_0 => {
            Some((trips_1 - trips_0) / (turns_1 - turns_0))
        }
        _ => None,
    };
    let wall = (end.0 - start.0).as_secs_f64();
    let cores = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / wall).filter(|_| wall > 0.0);
    Ok(Measured {
        load: report,
        #[allow(clippy::cast_precision_loss)]
        server_peak_rss_mib: server
            .and_then(Server::memory)
            .map(|m| m.peak_rss_kib as f64 / 1024.0),
        server_cpu_cores: cores(start.1, end.1),
        driver_cpu_cores: cores(start.2, end.2),
        redis_round_trips_per_turn,
        redis_commands_per_turn,
    })
}

/// The URL of the Redis an engine config keeps its sessions in, if it does.
fn redis_of(config: &str) -> Option<String> {
    use secrecy::ExposeSecret;
    let config =
        crate::config::Config::from_source(config, "engine config", std::env::vars()).ok()?;
    (config.sessions.store == crate::config::StoreKind::Redis).then(|| {
        config
            .sessions
            .redis
            .url
            .expose()
            .expose_secret()
            .to_owned()
    })
}

/// The commands Redis at `url` has run, by name, from `INFO commandstats` (the bench's own
/// `INFO` left out); `None` when it cannot be asked.
async fn redis_commands(url: &str) -> Option<BTreeMap<String, u64>> {
    let client = redis::Client::open(url).ok()?;
    let mut connection = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut connection)
        .await
        .ok()?;
    Some(command_counts(&info))
}

/// `cmdstat_NAME:calls=N,…` lines of `INFO commandstats` as name → calls.
fn command_counts(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|stat| stat.strip_prefix("calls="))?
                .parse()
                .ok()?;
            (name != "info").then(|| (name.to_owned(), calls))
        })
        .collect()
}

/// The engine's turns so far and, with Redis, the requests it sent there, from its
/// `/metrics`; `None` when they cannot be read.
async fn engine_counts(metrics_url: &str) -> Option<(f64, Option<f64>)> {
    let text = reqwest::get(metrics_url).await.ok()?.text().await.ok()?;
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
    };
    Some((
        value("colloquy_turns_total")?,
        value("colloquy_redis_round_trips_total"),
    ))
}

/// Letters and digits unique to this run and round (session ids and addresses embed it).
fn run_id(round: usize) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("r{:x}x{round}", millis % 0xff_ffff_ffff)
}

/// The middle value of sorted `values` (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_counts_are_read_from_info_commandstats() {
        let info = "# Commandstats\r\ncmdstat_evalsha:calls=200,usec=1,usec_per_call=0.01,rejected_calls=0,failed_calls=0\r\ncmdstat_hset:calls=7,usec=3\r\ncmdstat_info:calls=2,usec=9\r\n";
        let counts = super::command_counts(info);
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [("evalsha".to_owned(), 200), ("hset".to_owned(), 7)]
        );
    }

    #[test]
    fn medians() {
        assert_eq!(super::median(&[]), None);
        assert_eq!(super::median(&[0.4]), Some(0.4));
        assert_eq!(super::median(&[0.4, 0.5, 0.9]), Some(0.5));
        assert_eq!(super::median(&[0.4, 0.6]), Some(0.5));
    }
}
