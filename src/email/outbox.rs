//! The development sender: logs that an email or a text was sent (to a masked recipient,
//! never the body) and keeps it in a bounded in-memory outbox that `GET /v1/dev/outbox`, `colloquy chat` and
//! `colloquy test` read codes from. It can be told to fail for some addresses, to walk a
//! dialog's delivery-failure path.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;

use super::{Delivery, EmailMessage, EmailSender, SendError};
use crate::sms::{SmsError, SmsMessage, SmsSender};

/// How a message in the outbox would have travelled.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Email,
    Sms,
}

/// One email (or text) in the outbox. A text has no subject and is kept under its number
/// in E.164.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutboxEmail {
    pub id: u64,
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct OutboxSender {
    emails: Mutex<Outbox>,
    capacity: usize,
    fail_for: Vec<String>,
    /// Subjects (`*` matches any run of characters) whose delivery fails.
    fail_subjects: Vec<String>,
    delay: std::time::Duration,
    clock: Arc<dyn Clock>,
}

/// The emails, oldest first, with consecutive ids (`emails[i].id == first id + i`), and an
/// index from each lower-cased address to the ids of its emails: `list(Some(to))` is a hash
/// look-up, not a scan of every email (which lower-cased each address, and dominated a
/// server under load: see BENCHMARKS.md).
#[derive(Debug, Default)]
struct Outbox {
    emails: VecDeque<OutboxEmail>,
    by_to: HashMap<String, VecDeque<u64>>,
    next_id: u64,
}

impl Outbox {
    fn position(&self, id: u64) -> Option<usize> {
        let first = self.emails.front()?.id;
        usize::try_from(id.checked_sub(first)?).ok()
    }

    fn push(&mut self, email: OutboxEmail, capacity: usize) {
        if self.emails.len() >= capacity
            && let Some(oldest) = self.emails.pop_front()
        {
            let key = oldest.to.to_lowercase();
            if let Some(ids) = self.by_to.get_mut(&key) {
                ids.pop_front();
                if ids.is_empty() {
                    self.by_to.remove(&key);
                }
            }
        }
        self.by_to
            .entry(email.to.to_lowercase())
            .or_default()
            .push_back(email.id);
        self.emails.push_back(email);
    }
}

impl OutboxSender {
    /// `fail_for` holds addresses or `*@domain` patterns whose delivery fails.
    pub fn new(capacity: usize, fail_for: Vec<String>, clock: Arc<dyn Clock>) -> Self {
        let fail_for = fail_for
            .into_iter()
            .map(|p| p.trim().to_lowercase())
            .collect();
        Self {
            emails: Mutex::new(Outbox::default()),
            capacity: capacity.max(1),
            fail_for,
            fail_subjects: Vec::new(),
            clock,
            delay: std::time::Duration::ZERO,
        }
    }

    /// Makes delivery fail for emails whose subject fits one of `patterns` (`*` matches any
    /// run of characters): one email of a dialog fails while the others go out.
    #[must_use]
    pub fn failing_subjects(mut self, patterns: Vec<String>) -> Self {
        self.fail_subjects = patterns;
        self
    }

    /// Makes every delivery take `delay` (a slow provider, for trying timeouts).
    #[must_use]
    pub fn with_delay(mut self, delay: std::time::Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Emails kept, oldest first; only those to `to` when given (compared case-insensitively).
    pub fn list(&self, to: Option<&str>) -> Vec<OutboxEmail> {
        let outbox = self.emails.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(to) = to else {
            return outbox.emails.iter().cloned().collect();
        };
        let mut key = to.trim().to_lowercase();
        // A number's `+` arrives as a space from a query string left unencoded
        // (`?to=+447400123456`): digits alone are that number, as no address is.
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
            key.insert(0, '+');
        }
        let Some(ids) = outbox.by_to.get(&key) else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|&id| outbox.emails.get(outbox.position(id)?))
            .cloned()
            .collect()
    }

    /// The newest email to `to`.
    pub fn last_to(&self, to: &str) -> Option<OutboxEmail> {
        self.list(Some(to)).pop()
    }

    /// Emails with an id above `after`, for callers that follow the outbox.
    pub fn since(&self, after: u64) -> Vec<OutboxEmail> {
        let outbox = self.emails.lock().unwrap_or_else(PoisonError::into_inner);
        let from = outbox.emails.partition_point(|e| e.id <= after);
        outbox.emails.range(from..).cloned().collect()
    }

    pub fn clear(&self) {
        let mut outbox = self.emails.lock().unwrap_or_else(PoisonError::into_inner);
        outbox.emails.clear();
        outbox.by_to.clear();
    }

    /// Keeps one message under the next id; returns the id.
    fn record(&self, message: OutboxEmail) -> u64 {
        let mut outbox = self.emails.lock().unwrap_or_else(PoisonError::into_inner);
        outbox.next_id += 1;
        let id = outbox.next_id;
        outbox.push(OutboxEmail { id, ..message }, self.capacity);
        id
    }

    fn should_fail(&self, address: &str) -> bool {
        let address = address.to_lowercase();
        self.fail_for
            .iter()
            .any(|pattern| match pattern.strip_prefix("*@") {
                Some(domain) => address.rsplit_once('@').is_some_and(|(_, d)| d == domain),
                None => *pattern == address,
            })
    }
}

#[async_trait]
impl EmailSender for OutboxSender {
    async fn send(&self, message: &EmailMessage) -> Result<Delivery, SendError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let subject_fails = self
            .fail_subjects
            .iter()
            .any(|pattern| crate::glob::matches(pattern, &message.subject));
        if self.should_fail(message.to.as_str()) || subject_fails {
            tracing::warn!(to = %message.to.masked(), "dev outbox: simulated delivery failure");
            return Err(SendError::Temporary(
                "simulated failure (email.outbox.fail_for)".to_owned(),
            ));
        }
        let email = OutboxEmail {
            id: 0,
            channel: Channel::Email,
            to: message.to.as_str().to_owned(),
            subject: message.subject.clone(),
            text: message.text.clone(),
            html: message.html.clone(),
            sent_at: self.clock.now(),
        };
        let id = self.record(email);
        tracing::info!(to = %message.to.masked(), outbox_id = id, "dev outbox: email recorded (not sent)");
        Ok(Delivery {
            provider_message_id: Some(format!("outbox-{id}")),
        })
    }

    fn name(&self) -> &'static str {
        "outbox"
    }
}

/// Texts are kept beside emails, under the number, so `GET /v1/dev/outbox?to=+44…` and the
/// `sms:` step of scripts read them the same way. `fail_for` holds numbers too (E.164).
#[async_trait]
impl SmsSender for OutboxSender {
    async fn send(&self, message: &SmsMessage) -> Result<Delivery, SmsError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.should_fail(message.to.as_str()) {
            tracing::warn!(to = %message.to.masked(), "dev outbox: simulated SMS failure");
            return Err(SmsError::Temporary(
                "simulated failure (email.outbox.fail_for)".to_owned(),
            ));
        }
        let id = self.record(OutboxEmail {
            id: 0,
            channel: Channel::Sms,
            to: message.to.as_str().to_owned(),
            subject: String::new(),
            text: message.body.clone(),
            html: None,
            sent_at: self.clock.now(),
        });
        tracing::info!(to = %message.to.masked(), outbox_id = id, "dev outbox: SMS recorded (not sent)");
        Ok(Delivery {
            provider_message_id: Some(format!("outbox-{id}")),
        })
    }

    fn name(&self) -> &'static str {
        "outbox"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::EmailAddr;
    use crate::clock::ManualClock;

    fn message(to: &str) -> EmailMessage {
        EmailMessage {
            to: EmailAddr::parse(to).unwrap(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
            provider_template: None,
        }
    }

    #[tokio::test]
    async fn keeps_a_bounded_outbox() {
        let outbox = OutboxSender::new(2, vec![], Arc::new(ManualClock::at_epoch()));
        for to in ["a@x.io", "b@x.io", "c@x.io"] {
            EmailSender::send(&outbox, &message(to)).await.unwrap();
        }
        let all = outbox.list(None);
        assert_eq!(
            all.iter().map(|e| e.to.as_str()).collect::<Vec<_>>(),
            ["b@x.io", "c@x.io"]
        );
        assert_eq!(outbox.last_to("C@X.io").unwrap().id, 3);
        assert_eq!(outbox.since(2).len(), 1);
        assert!(
            outbox.list(Some("a@x.io")).is_empty(),
            "evicted with its index entry"
        );
        EmailSender::send(&outbox, &message("B@x.io"))
            .await
            .unwrap();
        EmailSender::send(&outbox, &message("d@x.io"))
            .await
            .unwrap();
        let to_b: Vec<u64> = outbox.list(Some(" b@X.io ")).iter().map(|e| e.id).collect();
        assert_eq!(to_b, [4], "the older email to b was evicted");
        outbox.clear();
        assert!(outbox.list(Some("d@x.io")).is_empty() && outbox.since(0).is_empty());
        EmailSender::send(&outbox, &message("d@x.io"))
            .await
            .unwrap();
        assert_eq!(
            outbox.list(Some("d@x.io"))[0].id,
            6,
            "ids go on after a clear"
        );
    }

    #[tokio::test]
    async fn keeps_texts_beside_emails() {
        let outbox = OutboxSender::new(
            10,
            vec!["+447400900000".into()],
            Arc::new(ManualClock::at_epoch()),
        );
        EmailSender::send(&outbox, &message("a@x.io"))
            .await
            .unwrap();
        let text = |to: &str| SmsMessage {
            to: crate::address::PhoneAddr::parse(to, None).unwrap(),
            body: "Your code is 1234".into(),
        };
        SmsSender::send(&outbox, &text("+44 7400 123456"))
            .await
            .unwrap();
        assert!(
            SmsSender::send(&outbox, &text("+447400900000"))
                .await
                .is_err()
        );
        assert_eq!(
            outbox.list(Some(" 447400123456")).len(),
            1,
            "an unencoded `+`"
        );
        let kept = outbox.list(Some("+447400123456"));
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].channel, kept[0].id), (Channel::Sms, 2));
        assert_eq!(kept[0].text, "Your code is 1234");
        assert_eq!(outbox.list(None)[0].channel, Channel::Email);
    }

    #[tokio::test]
    async fn fails_for_configured_addresses() {
        let outbox = OutboxSender::new(
            10,
            vec!["*@bounce.test".into(), "bob@x.io".into()],
            Arc::new(ManualClock::at_epoch()),
        );
        assert!(
            EmailSender::send(&outbox, &message("any@bounce.test"))
                .await
                .is_err()
        );
        assert!(
            EmailSender::send(&outbox, &message("Bob@x.io"))
                .await
                .is_err()
        );
        assert!(
            EmailSender::send(&outbox, &message("alice@x.io"))
                .await
                .is_ok()
        );
        assert_eq!(outbox.list(None).len(), 1);
    }
}
