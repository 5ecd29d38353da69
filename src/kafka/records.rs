//! What the listener keeps in the session store, beside the code records: the reply to each
//! request it answered (so a redelivery gets the same reply and sends nothing), and which
//! address each (clientId, channel) was last sent a code at.
//!
//! Both are records of the `SessionStore` under `otp/kafka/…` (the prefix the session routes
//! refuse), so they are shared by every instance on the store and forgotten after
//! `sessions.idle_ttl`; ids are keyed digests, so the store shows neither a `clientId` nor a
//! request. Reply records are written with compare-and-set on version 0: of two instances
//! answering one request, the first record stays.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::dialog::Session;
use crate::dialog::value::{Slot, Value};
use crate::engine::Engine;
use crate::store::StoreError;

use super::wire::Channel;

/// Where the listener's records start (`otp/`: no session route opens them).
const PREFIX: &str = "otp/kafka/";

/// The slot holding a record's value.
const SLOT: &str = "value";

/// Attempts at a binding's compare-and-set before giving up (another instance kept winning).
const BIND_ATTEMPTS: usize = 5;

/// The digest naming one request: its topic, key and body (which holds `processInstanceId`).
pub fn request_digest(engine: &Engine, topic: &str, key: Option<&[u8]>, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    match key {
        Some(key) => {
            hash.update(b"k");
            hash.update((key.len() as u64).to_be_bytes());
            hash.update(key);
        }
        None => hash.update(b"-"),
    }
    hash.update(body);
    let request = crate::hex::encode(&hash.finalize());
    keyed(engine, "kafka-reply", topic, &request)
}

/// The reply stored for the request `digest`, while it lasts.
pub async fn reply(engine: &Engine, digest: &str) -> Result<Option<String>, StoreError> {
    let id = format!("{PREFIX}r/{digest}");
    read(engine, &id).await
}

/// Keeps `reply` to the request `digest` until `until`. Another instance's record for the
/// same request wins (its reply went out first).
pub async fn keep_reply(
    engine: &Engine,
    digest: &str,
    reply: &str,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = format!("{PREFIX}r/{digest}");
    let now = engine.clock().now();
    let mut record = Session::new(&id, "otp", 0, now);
    set(&mut record, reply, Some(until));
    match engine.store().save(&mut record, None).await {
        Ok(()) | Err(StoreError::Conflict) => Ok(()),
        Err(error) => Err(error),
    }
}

/// The address the last code of (`client_id`, `channel`) went to.
pub async fn bound(
    engine: &Engine,
    client_id: &str,
    channel: Channel,
) -> Result<Option<String>, StoreError> {
    read(engine, &binding_id(engine, client_id, channel)).await
}

/// Binds (`client_id`, `channel`) to `address`.
pub async fn bind(
    engine: &Engine,
    client_id: &str,
    channel: Channel,
    address: &str,
) -> Result<(), StoreError> {
    let id = binding_id(engine, client_id, channel);
    for _ in 0..BIND_ATTEMPTS {
        let now = engine.clock().now();
        let mut record = engine
            .store()
            .load(&id)
            .await?
            .unwrap_or_else(|| Session::new(&id, "otp", 0, now));
        set(&mut record, address, None);
        record.updated_at = now;
        match engine.store().save(&mut record, None).await {
            Err(StoreError::Conflict) => {}
            other => return other,
        }
    }
    Err(StoreError::Conflict)
}

fn binding_id(engine: &Engine, client_id: &str, channel: Channel) -> String {
    let digest = keyed(engine, "kafka-binding", channel.as_str(), client_id);
    format!("{PREFIX}b/{digest}")
}

/// A digest keyed with the OTP key: record ids say nothing of what they hold.
fn keyed(engine: &Engine, label: &str, a: &str, b: &str) -> String {
    let digest = engine.otp.key.scope_digest(label, a, b);
    crate::hex::encode(&digest[..16])
}

async fn read(engine: &Engine, id: &str) -> Result<Option<String>, StoreError> {
    let now = engine.clock().now();
    Ok(engine
        .store()
        .load(id)
        .await?
        .and_then(|record| match record.context.get(SLOT, now) {
            Some(Value::Text(text)) => Some(text.clone()),
            _ => None,
        }))
}

fn set(record: &mut Session, text: &str, until: Option<DateTime<Utc>>) {
    record.context.set_slot(
        SLOT,
        Slot {
            value: Value::Text(text.to_owned()),
            sensitive: false,
            given: false,
            expires_at: until,
        },
    );
}
