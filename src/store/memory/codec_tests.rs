//! Every field survives a record; malformed records are refused, not trusted.

use chrono::{DateTime, Utc};

use super::codec::{self, Dictionaries, StoredId};
use crate::dialog::entities::Entity;
use crate::dialog::reply::TurnReply;
use crate::dialog::session::Speaker;
use crate::dialog::value::{Slot, Value};
use crate::dialog::{Session, State};
use crate::otp::{Alphabet, CodeStatus, OtpState};
use crate::store::Processed;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_893_456_000 + seconds, 123_456_789).unwrap_or_default()
}

fn full_session() -> Session {
    let mut session = Session::new("s-1", "otp_authentication", 3, at(0));
    session.node = "ask_code".into();
    session.state = State::Waiting;
    session.result = Some("locked".into());
    session
        .context
        .set("email", Value::Text("Ünïcode@example.com".into()));
    session.context.set("seats", Value::Number(-2.5));
    session.context.set_slot(
        "code",
        Slot {
            value: Value::Bool(true),
            sensitive: true,
            given: false,
            expires_at: Some(at(60)),
        },
    );
    session.invalid_answers.set("ask_code", 2);
    session.suggestion = Some(crate::dialog::session::Suggestion {
        typed: Value::Text("bob@gmial.com".into()),
        suggested: Value::Text("bob@gmail.com".into()),
    });
    session.invalid_answers.set("ask_email", 1);
    session.otp = Some(OtpState {
        address: "alice@example.com".into(),
        tag: [7; 32],
        length: 6,
        alphabet: Alphabet::Alphanumeric,
        issued_at: at(10),
        expires_at: at(310),
        attempts: 1,
        max_attempts: 3,
        status: CodeStatus::Locked,
        sends: 300,
        previous_tag: Some([9; 32]),
    });
    let mut caller = crate::dialog::value::Context::default();
    caller.set("plan", Value::Text("pro".into()));
    let mut counts = crate::dialog::session::InvalidAnswers::default();
    counts.set("ask_plan", 1);
    session.stack.push(crate::dialog::session::Frame {
        dialog_id: "signup".into(),
        dialog_version: 2,
        node: "verify".into(),
        context: caller,
        invalid_answers: counts,
        otp: session.otp.clone(),
    });
    session.record(Speaker::User, "hi", at(1), 20);
    session.record(Speaker::Bot, &"long ".repeat(100), at(1), 20);
    session.updated_at = at(12);
    session.turns = 4;
    session.version = 9;
    session
}

fn processed(message_id: &str, session_id: &str, expecting: Option<Entity>) -> Processed {
    Processed {
        message_id: message_id.into(),
        text_digest: Processed::digest("hi"),
        reply: TurnReply {
            session_id: session_id.into(),
            turn: 7,
            dialog: "otp_authentication".into(),
            dialog_version: 3,
            replies: vec!["one".into(), String::new(), "three".into()],
            node: "ask_code".into(),
            state: State::Ended,
            result: Some("authenticated".into()),
            expecting,
            choices: vec![crate::dialog::reply::Choice {
                label: "Hair cut".into(),
                value: "haircut".into(),
            }],
            with_agent: false,
        },
        at: at(5),
    }
}

#[test]
fn a_session_and_its_records_round_trip() {
    let session = full_session();
    let first = processed("m1", "s-1", Some(Entity::from_name("otp_code").unwrap()));
    let mut other = processed("m2", "another-session", None);
    // Digests the engine makes take 16 bytes; any other text is kept as it is.
    other.text_digest = Processed::digest("hi").to_uppercase();
    let mut third = processed("m3", "s-1", None);
    third.text_digest = "not a digest".into();
    let record = codec::record(
        &session,
        9,
        std::iter::empty(),
        Some(&first),
        0,
        &Dictionaries::default(),
    );
    let record = codec::record(
        &session,
        9,
        kept(&record).iter().map(Vec::as_slice),
        Some(&other),
        0,
        &Dictionaries::default(),
    );
    let record = codec::record(
        &session,
        9,
        kept(&record).iter().map(Vec::as_slice),
        Some(&third),
        0,
        &Dictionaries::default(),
    );
    assert_eq!(codec::version(&record), 9);
    assert_eq!(codec::updated_at(&record), session.updated_at);
    assert_eq!(
        codec::decode_session("s-1", &record, &Dictionaries::default()),
        Some(session)
    );
    let kept: Vec<Processed> = kept(&record)
        .iter()
        .map(|bytes| codec::decode_processed(bytes, "s-1").unwrap())
        .collect();
    assert_eq!(kept, [first, other, third]);
    let records = self::kept(&record);
    let keys: Vec<_> = records
        .iter()
        .map(|bytes| codec::processed_key(bytes).unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            (StoredId::Text("m1"), at(5)),
            (StoredId::Text("m2"), at(5)),
            (StoredId::Text("m3"), at(5))
        ]
    );
}

#[test]
fn a_uuid_message_id_takes_its_16_bytes_and_reads_back_as_written() {
    let session = full_session();
    let uuid = "0f8e2c4a-9b1d-4e6f-a2c3-5d7e9f1b3a5c";
    let upper = "0F8E2C4A-9B1D-4E6F-A2C3-5D7E9F1B3A5C";
    let record = |id: &str| {
        codec::record(
            &session,
            9,
            std::iter::empty(),
            Some(&processed(id, "s-1", None)),
            0,
            &Dictionaries::default(),
        )
    };
    let (compact, as_text) = (record(uuid), record(upper));
    // A tag, a length and 36 characters against a tag and 16 bytes.
    assert_eq!(as_text.len() - compact.len(), (1 + 1 + 36) - (1 + 16));
    for (record, id) in [(&compact, uuid), (&as_text, upper)] {
        let records = kept(record);
        assert_eq!(
            codec::decode_processed(&records[0], "s-1"),
            Some(processed(id, "s-1", None))
        );
        let (stored, _) = codec::processed_key(&records[0]).unwrap();
        assert_eq!(stored, StoredId::of(id));
    }
    assert!(matches!(StoredId::of(uuid), StoredId::Uuid(_)));
    // Only the canonical form is compacted: anything else would not read back the same.
    for other in [
        upper,
        "0f8e2c4a9b1d4e6fa2c35d7e9f1b3a5c",
        "0f8e2c4a-9b1d-4e6f-a2c3-5d7e9f1b3a5g",
    ] {
        assert_eq!(StoredId::of(other), StoredId::Text(other));
    }
}

#[test]
fn a_new_session_round_trips_and_records_can_be_dropped() {
    let session = Session::new("s", "d", 1, at(0));
    let record = codec::record(
        &session,
        1,
        std::iter::empty(),
        Some(&processed("m", "s", None)),
        64,
        &Dictionaries::default(),
    );
    assert_eq!(
        codec::decode_session("s", &record, &Dictionaries::default())
            .unwrap()
            .version,
        1
    );
    let none = codec::retain_processed(&record, &Dictionaries::default(), |_| false).unwrap();
    assert!(kept(&none).is_empty());
    assert_eq!(
        codec::decode_session("s", &none, &Dictionaries::default()),
        codec::decode_session("s", &record, &Dictionaries::default())
    );
}

#[test]
fn malformed_records_do_not_decode() {
    let session = full_session();
    let record = codec::record(
        &session,
        9,
        std::iter::empty(),
        None,
        0,
        &Dictionaries::default(),
    );
    for cut in [0, 7, 30, record.len() - 1] {
        assert_eq!(
            codec::decode_session("s-1", &record[..cut], &Dictionaries::default()),
            None,
            "cut at {cut}"
        );
    }
    assert!(codec::tail(&record[..3], &Dictionaries::default()).is_none());
}

#[test]
fn an_ended_session_is_kept_compressed_and_reads_back_whole() {
    let mut session = full_session();
    session.state = State::Ended;
    // What an ended conversation holds twice: the bot's answers, in its transcript and in its
    // records.
    let answer = "I've emailed a 4-digit code to alice@example.com. It expires in 5 minutes.";
    session.record(Speaker::Bot, answer, at(2), 20);
    let mut first = processed("m1", "s-1", None);
    first.reply.replies = vec![answer.into()];
    let second = processed("m2", "s-1", None);
    let record = codec::record(
        &session,
        9,
        std::iter::empty(),
        Some(&first),
        0,
        &Dictionaries::default(),
    );
    let record = codec::record(
        &session,
        9,
        kept(&record).iter().map(Vec::as_slice),
        Some(&second),
        0,
        &Dictionaries::default(),
    );
    assert!(codec::is_compressed(&record));
    let mut waiting = session.clone();
    waiting.state = State::Waiting;
    let plain = codec::record(
        &waiting,
        9,
        kept(&record).iter().map(Vec::as_slice),
        None,
        0,
        &Dictionaries::default(),
    );
    assert!(!codec::is_compressed(&plain));
    assert!(
        record.len() * 10 < plain.len() * 7,
        "{} bytes compressed, {} as they are",
        record.len(),
        plain.len()
    );
    assert!(codec::standing(&record).ended);
    assert_eq!(codec::version(&record), 9);
    assert_eq!(
        codec::decode_session("s-1", &record, &Dictionaries::default()),
        Some(session.clone())
    );
    let records: Vec<Processed> = kept(&record)
        .iter()
        .map(|bytes| codec::decode_processed(bytes, "s-1").unwrap())
        .collect();
    assert_eq!(records, [first, second.clone()]);
    let trimmed = codec::retain_processed(&record, &Dictionaries::default(), |bytes| {
        codec::processed_key(bytes).is_some_and(|(id, _)| id == StoredId::Text("m2"))
    })
    .unwrap();
    assert!(codec::is_compressed(&trimmed), "still compressed");
    assert_eq!(
        codec::decode_session("s-1", &trimmed, &Dictionaries::default()),
        Some(session)
    );
    assert_eq!(
        codec::decode_processed(&kept(&trimmed)[0], "s-1"),
        Some(second)
    );
    // A damaged compressed tail is refused, not trusted.
    let mut damaged = record.to_vec();
    let last = damaged.len() - 1;
    damaged.truncate(last);
    assert_eq!(
        codec::decode_session("s-1", &damaged, &Dictionaries::default()),
        None
    );
}

/// The processed records of `record`, copied out of its tail.
fn kept(record: &[u8]) -> Vec<Vec<u8>> {
    codec::tail(record, &Dictionaries::default())
        .map(|tail| tail.processed().map(<[u8]>::to_vec).collect())
        .unwrap_or_default()
}
