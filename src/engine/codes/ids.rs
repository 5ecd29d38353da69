//! The ids that name codes (`otp_id`, DIGIT's `UUID`): random version-4 UUIDs, so two codes
//! of one person share nothing and an id says nothing of whose it is.
//!
//! An id finds its code through an index record in the session store, under
//! `otp/id/` + a keyed digest of (client, id): only the server's key leads from an id to its
//! record, and another client's request computes another digest, so it finds nothing. The
//! index holds the scope's record id, the purpose and the identity as the caller wrote it
//! (DIGIT echoes it); it expires with the store's idle TTL like the record.

use chrono::{DateTime, Utc};

use crate::dialog::Session;
use crate::dialog::value::{Slot, Value};
use crate::otp::OtpKey;

use super::RECORD_PREFIX;

/// The dialog id index records carry.
const INDEX_KIND: &str = "otp-id";
/// The purpose the index digest is taken under: no caller's purpose holds `/`.
const INDEX_PURPOSE: &str = "otp/id";

const RECORD: &str = "record";
const PURPOSE: &str = "purpose";
const IDENTITY: &str = "identity";

/// A new random id: a version-4 UUID (`8-4-4-4-12` lower-case hex).
pub(super) fn new_id() -> String {
    crate::hex::random_uuid()
}

/// Whether `text` is shaped like a UUID (any version): what is worth a look-up.
pub(super) fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The id of the index record of `otp_id` for `client`.
pub(super) fn index_id(key: &OtpKey, client: Option<&str>, otp_id: &str) -> String {
    let digest = key.scope_digest(
        client.unwrap_or(""),
        INDEX_PURPOSE,
        &otp_id.to_ascii_lowercase(),
    );
    format!("{RECORD_PREFIX}id/{}", crate::hex::encode(&digest[..16]))
}

/// What an index record says.
pub(super) struct Entry {
    pub record: String,
    pub purpose: String,
    pub identity: String,
}

/// A new index record for one code.
pub(super) fn index_record(id: &str, entry: &Entry, now: DateTime<Utc>) -> Session {
    let mut index = Session::new(id, INDEX_KIND, 0, now);
    for (name, value, sensitive) in [
        (RECORD, &entry.record, false),
        (PURPOSE, &entry.purpose, false),
        (IDENTITY, &entry.identity, true),
    ] {
        index.context.set_slot(
            name,
            Slot {
                value: Value::Text(value.clone()),
                sensitive,
                given: false,
                expires_at: None,
            },
        );
    }
    index
}

/// Reads an index record back.
pub(super) fn read_index(index: &Session, now: DateTime<Utc>) -> Option<Entry> {
    let text = |name| match index.context.get(name, now) {
        Some(Value::Text(text)) => Some(text.clone()),
        _ => None,
    };
    (index.dialog_id == INDEX_KIND).then_some(())?;
    Some(Entry {
        record: text(RECORD)?,
        purpose: text(PURPOSE)?,
        identity: text(IDENTITY)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_v4_uuids() {
        let a = new_id();
        let b = new_id();
        assert!(is_uuid(&a) && is_uuid(&b), "{a} {b}");
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "version 4: {a}");
        assert!("89ab".contains(&a[19..20]), "RFC 4122 variant: {a}");
        assert_ne!(a[..8], b[..8], "no shared prefix");
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid(&format!("{}x", &a[..35])));
    }

    #[test]
    fn the_index_id_depends_on_the_key_and_the_client() {
        let key = OtpKey::random(&mut rand::rng());
        let other = OtpKey::random(&mut rand::rng());
        let id = new_id();
        let a = index_id(&key, Some("a"), &id);
        assert!(a.starts_with("otp/id/"));
        assert_ne!(a, index_id(&key, Some("b"), &id));
        assert_ne!(a, index_id(&other, Some("a"), &id));
        assert_eq!(a, index_id(&key, Some("a"), &id.to_ascii_uppercase()));
    }
}
