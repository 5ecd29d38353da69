//! `colloquy bench --kafka BROKERS`: FlowX's generate and validate round trips through a
//! broker. The engine runs as a child process (the bench config plus a `kafka:` section on
//! topics of this run's own), and each simulated user plays FlowX in a closed loop: produce a
//! generate request, wait for its reply, read the code from the dev mailbox over HTTP,
//! produce a validate request, wait for `otpValid: true`. A round trip is that whole
//! exchange; every reply is checked, and anything else counts as an error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::client::{Client, ClientKind};
use super::histogram::{Histogram, Summary};
use super::process::{self, Machine, Server};

/// The engine's and the driver's `fetch.wait.max.ms`: tansu answers a fetch when this wait
/// is over rather than when a record arrives, so librdkafka's default (500 ms) would put
/// half a second of the broker's waiting into every exchange (BENCHMARKS.md).
const FETCH_WAIT_MS: &str = "10";

/// How long one reply may take before the round trip counts as an error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// `host:port[,…]` of the broker.
    pub brokers: String,
    pub users: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// The `colloquy` binary to start the engine from.
    pub exe: PathBuf,
    /// The engine's config without a `kafka:` section (default: the bench config).
    pub config: Option<PathBuf>,
    pub work_dir: PathBuf,
}

#[derive(Clone, Debug, Serialize)]
pub struct KafkaReport {
    pub machine: Machine,
    pub brokers: String,
    pub users: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Generate + validate exchanges that ended `otpValid: true` inside the window.
    pub round_trips: u64,
    pub round_trips_per_s: f64,
    /// First request produced to the validate reply read (the mailbox read included).
    pub round_trip_latency: Summary,
    /// Generate request produced to its reply read.
    pub generate_latency: Summary,
    /// Validate request produced to its reply read.
    pub validate_latency: Summary,
    pub errors: BTreeMap<String, u64>,
    pub error_count: u64,
    pub warmup_errors: u64,
    pub server_peak_rss_mib: Option<f64>,
    pub server_cpu_cores: Option<f64>,
    pub driver_cpu_cores: Option<f64>,
}

/// This run's topics: fresh ones, so no earlier run's requests or replies are read.
struct Topics {
    generate_in: String,
    generate_out: String,
    validate_in: String,
    validate_out: String,
    dead_letter: String,
}

impl Topics {
    fn new(run: &str) -> Self {
        let name = |what: &str| format!("colloquy-bench.{run}.{what}");
        Self {
            generate_in: name("generate-in"),
            generate_out: name("generate-out"),
            validate_in: name("validate-in"),
            validate_out: name("validate-out"),
            dead_letter: name("dead-letter"),
        }
    }

    fn all(&self) -> [&str; 5] {
        [
            &self.generate_in,
            &self.generate_out,
            &self.validate_in,
            &self.validate_out,
            &self.dead_letter,
        ]
    }
}

/// Replies waited for, by record key.
type Pending = Arc<DashMap<String, oneshot::Sender<Value>>>;

/// What the users share: the producer, the replies' routing, the window.
struct Shared {
    producer: FutureProducer,
    pending: Pending,
    topics: Topics,
    url: String,
    run: String,
    start: Instant,
    end: Instant,
}

#[derive(Default)]
struct Tally {
    round_trips: Histogram,
    generate: Histogram,
    validate: Histogram,
    errors: BTreeMap<String, u64>,
    warmup_errors: u64,
}

pub async fn run(options: &KafkaOptions) -> Result<KafkaReport, String> {
    std::fs::create_dir_all(&options.work_dir)
        .map_err(|e| format!("cannot create {}: {e}", options.work_dir.display()))?;
    let run = run_id();
    let topics = Topics::new(&run);
    create_topics(&options.brokers, &topics).await?;
    let server = start_engine(options, &run, &topics).await?;
    wait_connected(&server.url).await?;

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &options.brokers)
        .set("linger.ms", "0")
        .create()
        .map_err(|e| format!("cannot create the driver's producer: {e}"))?;
    let pending: Pending = Arc::new(DashMap::new());
    let readers = [&topics.generate_out, &topics.validate_out]
        .into_iter()
        .map(|topic| reader(&options.brokers, topic, pending.clone()))
        .collect::<Result<Vec<_>, String>>()?;
    let start = Instant::now() + options.warmup;
    let shared = Arc::new(Shared {
        producer,
        pending,
        topics,
        url: server.url.clone(),
        run,
        start,
        end: start + options.duration,
    });
    let users: Vec<_> = (0..options.users)
        .map(|user| tokio::spawn(simulate(user, shared.clone())))
        .collect();
    let sample = || {
        (
            Instant::now(),
            server.cpu_seconds(),
            process::own_cpu_seconds(),
        )
    };
    tokio::time::sleep(options.warmup).await;
    let at_start = sample();
    let mut total = Tally::default();
    for user in users {
        let tally = user
            .await
            .map_err(|e| format!("a simulated user failed: {e}"))?;
        total.round_trips.merge(&tally.round_trips);
        total.generate.merge(&tally.generate);
        total.validate.merge(&tally.validate);
        for (kind, count) in tally.errors {
            *total.errors.entry(kind).or_default() += count;
        }
        total.warmup_errors += tally.warmup_errors;
    }
    let at_end = sample();
    for reader in readers {
        reader.abort();
    }
    let wall = (at_end.0 - at_start.0).as_secs_f64();
    let cores = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / wall).filter(|_| wall > 0.0);
    #[allow(clippy::cast_precision_loss)]
    let round_trips_per_s = total.round_trips.count() as f64 / options.duration.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let server_peak_rss_mib = server.memory().map(|m| m.peak_rss_kib as f64 / 1024.0);
    Ok(KafkaReport {
        machine: process::machine(),
        brokers: options.brokers.clone(),
        users: options.users,
        warmup_s: options.warmup.as_secs_f64(),
        duration_s: options.duration.as_secs_f64(),
        round_trips: total.round_trips.count(),
        round_trips_per_s,
        round_trip_latency: total.round_trips.summary(),
        generate_latency: total.generate.summary(),
        validate_latency: total.validate.summary(),
        error_count: total.errors.values().sum(),
        errors: total.errors,
        warmup_errors: total.warmup_errors,
        server_peak_rss_mib,
        server_cpu_cores: cores(at_start.1, at_end.1),
        driver_cpu_cores: cores(at_start.2, at_end.2),
    })
}

/// The engine with the bench config plus a `kafka:` section for `topics`.
async fn start_engine(
    options: &KafkaOptions,
    run: &str,
    topics: &Topics,
) -> Result<Server, String> {
    let base = match &options.config {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => process::BENCH_CONFIG.to_owned(),
    };
    if base.lines().any(|line| line.starts_with("kafka:")) {
        return Err("the engine's config for --kafka must have no `kafka:` section: the benchmark adds its own".to_owned());
    }
    let config = format!(
        "{base}\nkafka:\n  enabled: true\n  brokers: {:?}\n  group_id: {:?}\n  properties:\n    fetch.wait.max.ms: \"{FETCH_WAIT_MS}\"\n  topics:\n    generate_in: {}\n    generate_out: {}\n    validate_in: {}\n    validate_out: {}\n    dead_letter: {}\n",
        options.brokers,
        format!("colloquy-bench-{run}"),
        topics.generate_in,
        topics.generate_out,
        topics.validate_in,
        topics.validate_out,
        topics.dead_letter,
    );
    let config_path = options.work_dir.join("engine-kafka-config.yaml");
    std::fs::write(&config_path, &config)
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    let port = process::free_port()?;
    let args = vec![
        "serve".to_owned(),
        "--config".to_owned(),
        config_path.display().to_string(),
        "--addr".to_owned(),
        format!("127.0.0.1:{port}"),
    ];
    let log = options.work_dir.join("engine-kafka.log");
    let server = Server::start(&options.exe, &args, port, log).await?;
    Ok(server)
}

async fn create_topics(brokers: &str, topics: &Topics) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| format!("cannot create an admin client: {e}"))?;
    let new: Vec<NewTopic<'_>> = topics
        .all()
        .iter()
        .map(|name| NewTopic::new(name, 1, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let created = admin
        .create_topics(&new, &options)
        .await
        .map_err(|e| format!("cannot create the benchmark's topics on {brokers}: {e}"))?;
    for result in created {
        result.map_err(|(topic, code)| format!("cannot create topic {topic}: {code}"))?;
    }
    Ok(())
}

/// Waits until the engine's listener says the broker answers.
async fn wait_connected(url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut health = Value::Null;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{url}/healthz")).send().await {
            health = response.json().await.unwrap_or_default();
            if health["kafka"]["state"] == "connected" {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the engine's Kafka listener did not connect within 30s: {health}"
    ))
}

/// Reads `topic` from its start and hands each reply to whoever waits for its key.
fn reader(
    brokers: &str,
    topic: &str,
    pending: Pending,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}.reader"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", FETCH_WAIT_MS)
        .create()
        .map_err(|e| format!("cannot create a reply reader: {e}"))?;
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(|e| e.to_string())?;
    consumer.assign(&partitions).map_err(|e| e.to_string())?;
    Ok(tokio::spawn(async move {
        while let Ok(message) = consumer.recv().await {
            let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                continue;
            };
            let body = message
                .payload()
                .and_then(|body| serde_json::from_slice(body).ok())
                .unwrap_or_default();
            if let Some((_, waiting)) = pending.remove(key) {
                let _ = waiting.send(body);
            }
        }
    }))
}

/// One user's closed loop until the window ends.
async fn simulate(user: usize, shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::default();
    let mut mailbox = match Client::new(ClientKind::Hyper, &shared.url, None) {
        Ok(client) => client,
        Err(error) => {
            tally.errors.insert(error, 1);
            return tally;
        }
    };
    let mut number = 0_u64;
    while Instant::now() < shared.end {
        number += 1;
        let began = Instant::now();
        let outcome = round_trip(&shared, &mut mailbox, user, number, &mut tally).await;
        let done = Instant::now();
        let in_window = began >= shared.start && done < shared.end;
        match outcome {
            Ok(()) if in_window => tally.round_trips.record(done - began),
            Ok(()) => {}
            Err(_) if done >= shared.end => {}
            Err(kind) if began < shared.start => {
                let _ = kind;
                tally.warmup_errors += 1;
            }
            Err(kind) => *tally.errors.entry(kind).or_default() += 1,
        }
    }
    tally
}

async fn round_trip(
    shared: &Shared,
    mailbox: &mut Client,
    user: usize,
    number: u64,
    tally: &mut Tally,
) -> Result<(), String> {
    let id = format!("{}u{user}n{number}", shared.run);
    let address = format!("{id}@bench.example");
    let generate = json!({
        "templateName": "otpMail",
        "channel": "MAIL",
        "recipient": address,
        "clientId": id,
        "processInstanceId": id,
    });
    let sent = Instant::now();
    let reply = exchange(
        shared,
        &shared.topics.generate_in,
        &format!("{id}g"),
        &generate,
    )
    .await?;
    let answered = Instant::now();
    if reply["otpSent"] != true {
        return Err("otp_not_sent".to_owned());
    }
    let (status, body) = mailbox
        .get(&format!("/v1/dev/outbox?to={address}"))
        .await
        .map_err(|_| "outbox_transport".to_owned())?;
    if status != 200 {
        return Err(format!("outbox_status_{status}"));
    }
    let outbox: Value = serde_json::from_slice(&body).map_err(|_| "unreadable_outbox")?;
    let code = outbox["emails"]
        .as_array()
        .and_then(|emails| emails.last())
        .and_then(|email| email["text"].as_str())
        .and_then(super::driver::code_in)
        .ok_or_else(|| "no_code".to_owned())?
        .to_owned();
    let validate = json!({
        "processInstanceId": id,
        "clientId": id,
        "channel": "MAIL",
        "otp": code,
    });
    let checking = Instant::now();
    let reply = exchange(
        shared,
        &shared.topics.validate_in,
        &format!("{id}v"),
        &validate,
    )
    .await?;
    let checked = Instant::now();
    if reply["otpValid"] != true {
        return Err("otp_not_valid".to_owned());
    }
    if sent >= shared.start && checked < shared.end {
        tally.generate.record(answered - sent);
        tally.validate.record(checked - checking);
    }
    Ok(())
}

/// Produces `body` to `topic` under `key` and waits for the reply with that key.
async fn exchange(shared: &Shared, topic: &str, key: &str, body: &Value) -> Result<Value, String> {
    let (tell, reply) = oneshot::channel();
    shared.pending.insert(key.to_owned(), tell);
    let payload = body.to_string();
    let record = FutureRecord::to(topic).key(key).payload(&payload);
    if shared
        .producer
        .send(record, Duration::from_secs(5))
        .await
        .is_err()
    {
        shared.pending.remove(key);
        return Err("produce_failed".to_owned());
    }
    match tokio::time::timeout(REPLY_TIMEOUT, reply).await {
        Ok(Ok(body)) => Ok(body),
        _ => {
            shared.pending.remove(key);
            Err("no_reply".to_owned())
        }
    }
}

/// Letters and digits unique to this run.
fn run_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("k{:x}", millis % 0xff_ffff_ffff)
}

/// The report as a few lines.
pub fn table(report: &KafkaReport) -> String {
    let m = &report.machine;
    let line = |name: &str, s: &Summary| {
        format!(
            "{name:<11} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}\n",
            s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
        )
    };
    let opt = |v: Option<f64>, d: usize| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.d$}"));
    let mut out = format!(
        "colloquy bench --kafka {}: {} users, {:.0} s warm-up + {:.0} s measured, {} CPUs ({}), {} MiB\n",
        report.brokers,
        report.users,
        report.warmup_s,
        report.duration_s,
        m.cpus,
        m.cpu_model,
        m.memory_mib,
    );
    let _ = writeln!(
        out,
        "round trips: {} ({:.0}/s), errors: {} (+{} in warm-up), engine peak RSS {} MiB, engine cores {}, driver cores {}",
        report.round_trips,
        report.round_trips_per_s,
        report.error_count,
        report.warmup_errors,
        opt(report.server_peak_rss_mib, 1),
        opt(report.server_cpu_cores, 2),
        opt(report.driver_cpu_cores, 2),
    );
    out.push_str("latency ms     p50      p90      p99    p99.9      max\n");
    out.push_str(&line("round trip", &report.round_trip_latency));
    out.push_str(&line("generate", &report.generate_latency));
    out.push_str(&line("validate", &report.validate_latency));
    for (kind, count) in &report.errors {
        let _ = writeln!(out, "error {kind}: {count}");
    }
    out
}
