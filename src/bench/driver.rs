//! The load driver: N simulated users, each doing whole OTP conversations over HTTP, for a
//! warm-up and then a measured window.
//!
//! A conversation is three turns (`POST /v1/webhook`: hi → email → code) and one read of the
//! dev mailbox (`GET /v1/dev/outbox?to=…`) between the second and third, which is part of the
//! conversation's time but not counted as a turn. Against the engine every answer is checked:
//! the greeting asks for an email, the email gets a code sent, the code read from the mailbox
//! ends the dialog `authenticated`. Anything else — a status other than 200, a transport
//! error, an unexpected answer — is an error, and that user starts a fresh conversation.
//!
//! Each user keeps its own histograms and counters (nothing shared while timing); samples
//! count when their request *finishes* inside the measured window.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::client::{Client, ClientError, ClientKind, shared_reqwest};
use super::histogram::{Histogram, Summary};

/// What the driver talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A colloquy engine: every answer is checked.
    Engine,
    /// The bare baseline (fixed answers): answers are parsed the same way, not checked.
    Baseline,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// `http://host:port` of the server.
    pub url: String,
    pub users: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub target: Target,
    pub client: ClientKind,
    /// Makes session ids and addresses unique to this run, so runs against one long-lived
    /// server never meet each other's sessions or per-address limits.
    pub run_id: String,
}

/// What one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub target: Target,
    pub users: usize,
    pub client: ClientKind,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Conversations that ended `authenticated` inside the window.
    pub conversations: u64,
    /// Webhook turns answered 200 inside the window.
    pub turns: u64,
    /// Mailbox reads answered 200 inside the window (not turns).
    pub outbox_reads: u64,
    pub conversations_per_s: f64,
    pub turns_per_s: f64,
    /// Every HTTP request (turns and mailbox reads) per second.
    pub requests_per_s: f64,
    pub turn_latency: Summary,
    pub outbox_latency: Summary,
    /// Whole conversations, first request sent to authenticated.
    pub conversation_latency: Summary,
    /// Errors inside the window, by kind; any of them means a conversation that did not end
    /// authenticated.
    pub errors: BTreeMap<String, u64>,
    pub error_count: u64,
    /// Errors during the warm-up (not in the figures, but a correct run has none).
    pub warmup_errors: u64,
}

#[derive(Default)]
struct Tally {
    turns: Histogram,
    outbox: Histogram,
    conversations: Histogram,
    errors: BTreeMap<String, u64>,
    warmup_errors: u64,
}

#[derive(Serialize)]
#[allow(clippy::struct_field_names)] // the wire names
struct Message<'a> {
    session_id: &'a str,
    message_id: &'a str,
    text: &'a str,
}

/// The fields of a webhook answer the checks read.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    replies: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    ended: bool,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    expecting: Option<String>,
}

#[derive(Deserialize)]
struct Mailbox {
    emails: Vec<Email>,
}

#[derive(Deserialize)]
struct Email {
    text: String,
}

/// The measured window, shared read-only by every user.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }
}

/// Runs the load and reports. Returns an error only when the run cannot start.
pub async fn run(options: &Options) -> Result<Report, String> {
    let shared = match options.client {
        ClientKind::Reqwest => Some(shared_reqwest(options.users)?),
        ClientKind::Hyper => None,
    };
    let begin = Instant::now();
    let window = Window {
        start: begin + options.warmup,
        end: begin + options.warmup + options.duration,
    };
    let mut users = tokio::task::JoinSet::new();
    for user in 0..options.users {
        let client = Client::new(options.client, &options.url, shared.clone())?;
        let options = options.clone();
        users.spawn(async move { simulate(user, client, &options, window).await });
    }
    let mut total = Tally::default();
    while let Some(joined) = users.join_next().await {
        let tally = joined.map_err(|e| format!("a simulated user failed: {e}"))?;
        total.turns.merge(&tally.turns);
        total.outbox.merge(&tally.outbox);
        total.conversations.merge(&tally.conversations);
        for (kind, n) in tally.errors {
            *total.errors.entry(kind).or_default() += n;
        }
        total.warmup_errors += tally.warmup_errors;
    }
    let seconds = options.duration.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = |n: u64| n as f64 / seconds;
    let (turns, outbox_reads) = (total.turns.count(), total.outbox.count());
    Ok(Report {
        target: options.target,
        users: options.users,
        client: options.client,
        warmup_s: options.warmup.as_secs_f64(),
        duration_s: seconds,
        conversations: total.conversations.count(),
        turns,
        outbox_reads,
        conversations_per_s: rate(total.conversations.count()),
        turns_per_s: rate(turns),
        requests_per_s: rate(turns + outbox_reads),
        turn_latency: total.turns.summary(),
        outbox_latency: total.outbox.summary(),
        conversation_latency: total.conversations.summary(),
        error_count: total.errors.values().sum(),
        errors: total.errors,
        warmup_errors: total.warmup_errors,
    })
}

/// One user: whole conversations until the window closes.
async fn simulate(user: usize, mut client: Client, options: &Options, window: Window) -> Tally {
    let mut tally = Tally::default();
    let mut n: u64 = 0;
    while Instant::now() < window.end {
        n += 1;
        let session = format!("{}-{user}-{n}", options.run_id);
        let email = format!("u{user}.{n}.{}@bench.test", options.run_id);
        let started = Instant::now();
        match conversation(
            &mut client,
            options.target,
            &session,
            &email,
            window,
            &mut tally,
        )
        .await
        {
            Ok(()) => {
                let done = Instant::now();
                if window.contains(done) {
                    tally.conversations.record(done - started);
                }
            }
            Err(Failure::Stopped) => break,
            Err(Failure::Error(kind)) => {
                let at = Instant::now();
                if window.contains(at) {
                    *tally.errors.entry(kind).or_default() += 1;
                } else if at < window.start {
                    tally.warmup_errors += 1;
                }
            }
        }
    }
    tally
}

enum Failure {
    /// The window closed in the middle of the conversation: neither success nor error.
    Stopped,
    Error(String),
}

fn wrong(step: &str, what: &str) -> Failure {
    Failure::Error(format!("wrong_flow: {step}: {what}"))
}

async fn conversation(
    client: &mut Client,
    target: Target,
    session: &str,
    email: &str,
    window: Window,
    tally: &mut Tally,
) -> Result<(), Failure> {
    let checked = target == Target::Engine;
    let answer = turn(client, session, "m1", "hi", window, tally).await?;
    if checked && (answer.ended || answer.expecting.as_deref() != Some("email")) {
        return Err(wrong("greeting", "does not ask for an email address"));
    }
    let answer = turn(client, session, "m2", email, window, tally).await?;
    if checked && answer.expecting.as_deref() != Some("otp_code") {
        return Err(wrong("email", "no code was sent"));
    }
    let code = read_code(client, email, window, tally).await?;
    let answer = turn(client, session, "m3", &code, window, tally).await?;
    if checked && !(answer.ended && answer.result.as_deref() == Some("authenticated")) {
        return Err(wrong("code", "the dialog did not end authenticated"));
    }
    Ok(())
}

fn transport(error: &ClientError) -> Failure {
    Failure::Error(match error {
        ClientError::Connect(_) => "connect".to_owned(),
        ClientError::Http(_) => "http".to_owned(),
        ClientError::Closed => "closed".to_owned(),
    })
}

async fn turn(
    client: &mut Client,
    session: &str,
    message_id: &str,
    text: &str,
    window: Window,
    tally: &mut Tally,
) -> Result<Answer, Failure> {
    if Instant::now() >= window.end {
        return Err(Failure::Stopped);
    }
    let body = serde_json::to_vec(&Message {
        session_id: session,
        message_id,
        text,
    })
    .map_err(|e| Failure::Error(format!("encode: {e}")))?;
    let sent = Instant::now();
    let (status, body) = client
        .post_json("/v1/webhook", body)
        .await
        .map_err(|e| transport(&e))?;
    let done = Instant::now();
    if status != 200 {
        return Err(Failure::Error(format!("status_{status}")));
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| Failure::Error("unreadable_answer".to_owned()))?;
    if answer.replies.is_empty() {
        return Err(wrong("turn", "no reply"));
    }
    if window.contains(done) {
        tally.turns.record(done - sent);
    }
    Ok(answer)
}

async fn read_code(
    client: &mut Client,
    email: &str,
    window: Window,
    tally: &mut Tally,
) -> Result<String, Failure> {
    if Instant::now() >= window.end {
        return Err(Failure::Stopped);
    }
    // Addresses here are letters, digits, dots and `@`: nothing to escape in a query.
    let path = format!("/v1/dev/outbox?to={email}");
    let sent = Instant::now();
    let (status, body) = client.get(&path).await.map_err(|e| transport(&e))?;
    let done = Instant::now();
    if status != 200 {
        return Err(Failure::Error(format!("outbox_status_{status}")));
    }
    let mailbox: Mailbox = serde_json::from_slice(&body)
        .map_err(|_| Failure::Error("unreadable_outbox".to_owned()))?;
    let code = mailbox
        .emails
        .last()
        .and_then(|email| code_in(&email.text))
        .ok_or_else(|| wrong("mailbox", "no email with a code"))?;
    if window.contains(done) {
        tally.outbox.record(done - sent);
    }
    Ok(code.to_owned())
}

/// The first run of 4 to 10 digits in an email's text.
pub(super) fn code_in(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|word| (4..=10).contains(&word.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_code_in_an_email() {
        assert_eq!(
            code_in("Your verification code is 0421.\n\nIt expires in 5 minutes."),
            Some("0421")
        );
        assert_eq!(code_in("no code in 5 minutes"), None);
    }
}
