//! The step interpreter: runs one script against a [`Target`] (the engine in process, or a
//! server over HTTP) and says how it went, with a transcript.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;

use crate::dialog::value::Value as ContextValue;
use crate::duration::format_duration;

use super::expect::Matcher;
use super::script::Script;
use super::steps::{EmailStep, Expected, StateCheck, Step, StepKind};
use super::vars::Vars;
use super::{Failure, Line, StepRef, Verdict};

/// What a script runs against.
#[async_trait]
pub trait Target: Send {
    /// Sends the user's message; the turn's answer.
    async fn send(&mut self, text: &str) -> Result<Turn, String>;
    /// Emails to `address` sent since the script started, oldest first.
    async fn emails_to(&mut self, address: &str) -> Result<Vec<Email>, String>;
    /// Moves the engine's clock forward.
    async fn wait(&mut self, by: Duration) -> Result<(), String>;
    /// A variable of the session's context (`None`: not set).
    async fn context(&mut self, name: &str) -> Result<Option<ContextValue>, String>;
}

/// What a turn answered.
#[derive(Debug, Clone)]
pub struct Turn {
    pub replies: Vec<String>,
    pub ended: bool,
    pub node: String,
    pub result: Option<String>,
}

/// An email in the mailbox (the fields of the dev outbox's JSON a script reads).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Email {
    /// Grows with every email, so "new since" is a comparison.
    pub id: u64,
    /// `email` or `sms`: the outbox keeps texts beside emails.
    #[serde(default)]
    pub channel: String,
    pub subject: String,
    pub text: String,
}

/// Why a step did not pass (the step is added by the caller).
#[derive(Debug)]
struct Miss {
    message: String,
    expected: Option<String>,
    actual: Option<String>,
}

impl Miss {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            expected: None,
            actual: None,
        }
    }

    fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    fn actual(mut self, actual: impl Into<String>) -> Self {
        self.actual = Some(actual.into());
        self
    }
}

/// Runs `script` to its end or its first failing step. `run_token` is the value of the
/// built-in `{{ run }}`.
pub async fn execute(
    script: &Script,
    run_token: &str,
    target: &mut dyn Target,
) -> (Verdict, Vec<Line>) {
    let mut run = Run::default();
    run.vars.set(super::vars::RUN, run_token.to_owned());
    for (name, template) in &script.vars {
        let value = run.vars.render(template);
        run.vars.set(name, value);
    }
    for step in &script.steps {
        if let Err(miss) = run.step(step, target).await {
            let failure = Failure {
                step: Some(StepRef {
                    pos: step.pos,
                    source: step.source.clone(),
                }),
                message: miss.message,
                expected: miss.expected,
                actual: miss.actual,
            };
            return (Verdict::Failed(failure), run.transcript);
        }
    }
    (Verdict::Passed, run.transcript)
}

#[derive(Debug, Default)]
struct Run {
    vars: Vars,
    transcript: Vec<Line>,
    turn: Option<Turn>,
    /// Replies of the last turn already matched by `bot` steps.
    read: usize,
    /// Per address (lower-cased): the id of the last email a step read, and that step's line.
    seen: HashMap<String, (u64, u32)>,
}

impl Run {
    async fn step(&mut self, step: &Step, target: &mut dyn Target) -> Result<(), Miss> {
        match &step.kind {
            StepKind::User(template) => {
                let text = self.vars.render(template);
                self.transcript.push(Line::User(text.clone()));
                let turn = target
                    .send(&text)
                    .await
                    .map_err(|error| Miss::new(format!("the message was not answered: {error}")))?;
                self.transcript
                    .extend(turn.replies.iter().cloned().map(Line::Bot));
                self.turn = Some(turn);
                self.read = 0;
                Ok(())
            }
            StepKind::Bot(matchers) => matchers.iter().try_for_each(|m| self.bot(m)),
            StepKind::Email(email) => self.email(email, false, step.pos.line, target).await,
            StepKind::Sms(sms) => self.email(sms, true, step.pos.line, target).await,
            StepKind::NoEmail(to) => self.no_email(&self.vars.render(to), target).await,
            StepKind::Wait(by) => {
                target.wait(*by).await.map_err(Miss::new)?;
                self.transcript
                    .push(Line::Note(format!("waited {}", format_duration(*by))));
                Ok(())
            }
            StepKind::Expect(check) => self.expect(check, target).await,
        }
    }

    fn last_turn(&self) -> Result<&Turn, Miss> {
        self.turn
            .as_ref()
            .ok_or_else(|| Miss::new("no user message was answered yet"))
    }

    /// Finds the first reply after the ones already matched that meets `matcher`.
    fn bot(&mut self, matcher: &Matcher) -> Result<(), Miss> {
        let turn = self.last_turn()?;
        let unread = turn.replies.get(self.read..).unwrap_or_default();
        if let Some(i) = unread.iter().position(|r| matcher.matches(r, &self.vars)) {
            self.read += i + 1;
            return Ok(());
        }
        let message = if unread.is_empty() {
            "the bot said nothing more in this turn"
        } else {
            "no reply of this turn matched"
        };
        let mut actual = said(&turn.replies, self.read);
        if let Some(near) = matcher.near_miss(unread, &self.vars) {
            actual.push('\n');
            actual.push_str(&near);
        }
        let miss = Miss::new(message)
            .expected(format!("a reply {}", matcher.describe(&self.vars)))
            .actual(actual);
        Err(miss)
    }

    /// Reads the newest email (or, with `sms`, text) to the step's recipient.
    async fn email(
        &mut self,
        step: &EmailStep,
        sms: bool,
        line: u32,
        target: &mut dyn Target,
    ) -> Result<(), Miss> {
        let to = self.vars.render(&step.to);
        let mut emails = target.emails_to(&to).await.map_err(Miss::new)?;
        emails.retain(|email| (email.channel == "sms") == sms);
        let key = to.to_lowercase();
        let (noun, what) = if sms {
            ("SMS", "text")
        } else {
            ("email", "email")
        };
        let Some(email) = emails.last() else {
            return Err(Miss::new(format!("no {noun} reached {to}"))
                .expected(format!("an {noun} to {to}"))
                .actual(if sms {
                    "no text reached this number: the dialog sent it nothing".to_owned()
                } else {
                    "the mailbox is empty: the dialog sent nothing to this address".to_owned()
                }));
        };
        if let Some((id, seen_at)) = self.seen.get(&key)
            && email.id <= *id
        {
            return Err(Miss::new(format!("no new {noun} reached {to}"))
                .expected(format!(
                    "an {noun} to {to} newer than the one read at line {seen_at}"
                ))
                .actual(if sms {
                    "the newest is still that one".to_owned()
                } else {
                    format!("the newest is still that one: {:?}", email.subject)
                }));
        }
        check_part(
            "subject",
            step.subject.as_ref(),
            &email.subject,
            &self.vars,
            &to,
        )?;
        check_part("text", step.text.as_ref(), &email.text, &self.vars, &to)?;
        let mut captured = Vec::new();
        for (name, regex) in &step.capture {
            let found = regex
                .captures(&email.text)
                .and_then(|c| c.get(1).or_else(|| c.get(0)));
            let Some(found) = found else {
                return Err(Miss::new(format!(
                    "capture `{name}`: /{}/ matches nothing in the {what} to {to}",
                    regex.as_str()
                ))
                .actual(format!("the {what}'s text:\n{}", email.text.trim_end())));
            };
            self.vars.set(name, found.as_str().to_owned());
            captured.push(format!("{name} = {}", found.as_str()));
        }
        self.seen.insert(key, (email.id, line));
        let mut note = if sms {
            format!("SMS to {to}")
        } else {
            format!("email to {to}: {:?}", email.subject)
        };
        if !captured.is_empty() {
            let _ = write!(note, "; captured {}", captured.join(", "));
        }
        self.transcript.push(Line::Note(note));
        Ok(())
    }

    async fn no_email(&mut self, to: &str, target: &mut dyn Target) -> Result<(), Miss> {
        let emails = target.emails_to(to).await.map_err(Miss::new)?;
        let after = self.seen.get(&to.to_lowercase()).map_or(0, |(id, _)| *id);
        if let Some(email) = emails.iter().find(|e| e.id > after) {
            let since = if after == 0 {
                "since the script started"
            } else {
                "since the last one read"
            };
            return Err(Miss::new(format!("an email reached {to}"))
                .expected(format!("no new email to {to} {since}"))
                .actual(format!("an email: {:?}", email.subject)));
        }
        self.transcript
            .push(Line::Note(format!("no new email to {to}")));
        Ok(())
    }

    async fn expect(&mut self, check: &StateCheck, target: &mut dyn Target) -> Result<(), Miss> {
        let turn = self.last_turn()?;
        let mut expected = Vec::new();
        let mut actual = Vec::new();
        let mut wrong = false;
        if let Some(ended) = check.ended {
            wrong |= ended != turn.ended;
            expected.push(format!("status {}", status(ended)));
            actual.push(format!("status {}", status(turn.ended)));
        }
        if let Some((node, _)) = &check.node {
            wrong |= *node != turn.node;
            expected.push(format!("node `{node}`"));
            actual.push(format!("node `{}`", turn.node));
        }
        if let Some(result) = &check.result {
            wrong |= *result != turn.result;
            expected.push(describe_result(result.as_deref()));
            actual.push(describe_result(turn.result.as_deref()));
        }
        for (name, value) in &check.context {
            let value = match value {
                Expected::Unset => None,
                Expected::Text(template) => Some(ContextValue::Text(self.vars.render(template))),
                Expected::Value(value) => Some(value.clone()),
            };
            let found = target.context(name).await.map_err(Miss::new)?;
            wrong |= !same_value(value.as_ref(), found.as_ref());
            expected.push(format!("{name} = {}", describe_value(value.as_ref())));
            actual.push(format!("{name} = {}", describe_value(found.as_ref())));
        }
        if wrong {
            return Err(Miss::new("the dialog is not in the expected state")
                .expected(expected.join(", "))
                .actual(actual.join(", ")));
        }
        Ok(())
    }
}

fn check_part(
    part: &str,
    matcher: Option<&Matcher>,
    value: &str,
    vars: &Vars,
    to: &str,
) -> Result<(), Miss> {
    match matcher {
        Some(matcher) if !matcher.matches(value, vars) => {
            Err(Miss::new(format!("the email to {to} has another {part}"))
                .expected(format!("a {part} {}", matcher.describe(vars)))
                .actual(format!("{value:?}")))
        }
        _ => Ok(()),
    }
}

/// The replies of a turn, numbered, the ones already matched marked.
fn said(replies: &[String], read: usize) -> String {
    if replies.is_empty() {
        return "the bot said nothing in this turn".to_owned();
    }
    let mut out = String::from("the bot said, in this turn:");
    for (i, reply) in replies.iter().enumerate() {
        let _ = write!(out, "\n  {}. {reply:?}", i + 1);
        if i < read {
            out.push_str("   (matched by an earlier step)");
        }
    }
    out
}

fn status(ended: bool) -> &'static str {
    if ended { "ended" } else { "waiting" }
}

fn describe_result(result: Option<&str>) -> String {
    result.map_or_else(|| "no result".to_owned(), |r| format!("result `{r}`"))
}

fn same_value(expected: Option<&ContextValue>, found: Option<&ContextValue>) -> bool {
    match (expected, found) {
        (None, None) => true,
        (Some(e), Some(f)) => e.loosely_equals(f),
        _ => false,
    }
}

fn describe_value(value: Option<&ContextValue>) -> String {
    match value {
        None => "(not set)".to_owned(),
        Some(ContextValue::Text(text)) => format!("{text:?}"),
        Some(other) => {
            let mut out = String::new();
            other.write_to(&mut out);
            out
        }
    }
}
