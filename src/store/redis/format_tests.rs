use chrono::TimeDelta;

use super::*;
use crate::dialog::State;
use crate::dialog::session::Speaker;
use crate::otp::{Alphabet, CodeStatus};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_893_456_000 + seconds, 0).unwrap_or_default()
}

fn full_session() -> Session {
    let mut session = Session::new("s-1", "otp_authentication", 3, at(0));
    session.node = "ask_code".into();
    session.state = State::Waiting;
    session
        .context
        .set("email", Value::Text("alice@example.com".into()));
    session.context.set("seats", Value::Number(2.5));
    session.context.set_slot(
        "send_new_code",
        Slot {
            value: Value::Bool(true),
            sensitive: false,
            given: false,
            expires_at: Some(at(60)),
        },
    );
    session.invalid_answers.set("ask_code", 1);
    session.otp = Some(OtpState {
        address: "alice@example.com".into(),
        tag: [7; 32],
        length: 6,
        alphabet: Alphabet::Alphanumeric,
        issued_at: at(10),
        expires_at: at(310),
        attempts: 1,
        max_attempts: 3,
        status: CodeStatus::Active,
        sends: 2,
        previous_tag: None,
    });
    session.record(Speaker::User, "hi", at(1), 20);
    session.record(Speaker::Bot, "What's your email address?", at(1), 20);
    session.updated_at = at(12);
    session.turns = 4;
    session.version = 9;
    session
}

#[test]
fn a_session_round_trips_through_the_document() {
    let session = full_session();
    let json = encode_session(&session).unwrap();
    assert!(json.starts_with(r#"{"v":2,"#), "{json}");
    assert!(
        json.contains(r#""invalid_answers":{"ask_code":1}"#),
        "{json}"
    );
    assert!(
        !json.contains("\"version\""),
        "the CAS version lives beside the doc: {json}"
    );
    assert_eq!(decode_session(&json, 9).unwrap(), session);
}

/// The documented shape (docs/redis.md): a v2 document written by hand reads back. If this
/// fails, the format changed: raise FORMAT_VERSION and document the new one.
#[test]
fn a_suggestion_and_a_replaced_code_round_trip() {
    let mut session = full_session();
    if let Some(otp) = session.otp.as_mut() {
        otp.previous_tag = Some([5; 32]);
    }
    session.suggestion = Some(crate::dialog::session::Suggestion {
        typed: Value::Text("alice@gmial.com".into()),
        suggested: Value::Text("alice@gmail.com".into()),
    });
    let json = encode_session(&session).unwrap();
    assert!(
        json.contains(r#""suggestion":{"typed":"alice@gmial.com","suggested":"alice@gmail.com"}"#),
        "{json}"
    );
    assert_eq!(decode_session(&json, 9).unwrap(), session);
    assert!(
        !encode_session(&full_session())
            .unwrap()
            .contains("suggestion")
    );
}

#[test]
fn the_documented_v2_document_reads() {
    let json = DOCUMENTED_V1.replacen(r#""v":1"#, r#""v":2"#, 1).replacen(
        r#""invalid_answers":1"#,
        r#""invalid_answers":{"ask_code":1}"#,
        1,
    );
    assert_eq!(decode_session(&json, 9).unwrap(), full_session());
}

/// A v1 document, as instances before per-node counts wrote it: its one count is the current
/// node's.
#[test]
fn a_v1_document_still_reads() {
    assert_eq!(decode_session(DOCUMENTED_V1, 9).unwrap(), full_session());
}

const DOCUMENTED_V1: &str = r#"{"v":1,"id":"s-1","dialog":"otp_authentication","dialog_version":3,
        "node":"ask_code","state":"waiting","result":null,
        "context":{"email":{"value":"alice@example.com"},"seats":{"value":2.5},
                   "send_new_code":{"value":true,"expires_at":"2030-01-01T00:01:00Z"}},
        "invalid_answers":1,
        "otp":{"address":"alice@example.com","tag":"0707070707070707070707070707070707070707070707070707070707070707",
               "length":6,"alphabet":"alphanumeric","issued_at":"2030-01-01T00:00:10Z",
               "expires_at":"2030-01-01T00:05:10Z","attempts":1,"max_attempts":3,"status":"active","sends":2},
        "history":[{"at":"2030-01-01T00:00:01Z","from":"user","text":"hi","node":"ask_code"},
                   {"at":"2030-01-01T00:00:01Z","from":"bot","text":"What's your email address?","node":"ask_code"}],
        "created_at":"2030-01-01T00:00:00Z","updated_at":"2030-01-01T00:00:12Z","turns":4}"#;

#[test]
fn unknown_versions_and_fields_are_refused() {
    let json = encode_session(&full_session()).unwrap();
    let newer = json.replacen(r#""v":2"#, r#""v":3"#, 1);
    assert!(matches!(
        decode_session(&newer, 1),
        Err(FormatError::UnknownVersion(3))
    ));
    let older = json.replacen(r#""v":2"#, r#""v":0"#, 1);
    assert!(matches!(
        decode_session(&older, 1),
        Err(FormatError::UnknownVersion(0))
    ));
    let extra = json.replacen(r#""v":2,"#, r#""v":2,"mood":"happy","#, 1);
    assert!(matches!(
        decode_session(&extra, 1),
        Err(FormatError::Invalid(_))
    ));
    let short_tag = json.replacen("0707", "", 1);
    assert!(matches!(
        decode_session(&short_tag, 1),
        Err(FormatError::BadTag)
    ));
}

#[test]
fn a_record_round_trips() {
    let processed = Processed {
        message_id: "m7".into(),
        text_digest: Processed::digest("1234"),
        at: at(5),
        reply: TurnReply {
            session_id: "s-1".into(),
            turn: 3,
            dialog: "otp_authentication".into(),
            dialog_version: 3,
            replies: vec!["Welcome back".into()],
            node: "ask_code".into(),
            state: State::Waiting,
            result: None,
            expecting: Some(Entity::from_name("otp_code").unwrap()),
            choices: vec![crate::dialog::reply::Choice {
                label: "Hair cut".into(),
                value: "haircut".into(),
            }],
            with_agent: false,
        },
    };
    let json = encode_record(&processed).unwrap();
    assert!(json.contains(r#""expecting":"otp_code""#), "{json}");
    assert!(
        json.contains(r#""choices":[{"label":"Hair cut","value":"haircut"}]"#),
        "{json}"
    );
    assert_eq!(decode_record(&json).unwrap(), processed);
    let newer = json.replacen(r#""v":2"#, r#""v":7"#, 1);
    assert!(matches!(
        decode_record(&newer),
        Err(FormatError::UnknownVersion(7))
    ));
}

#[test]
fn non_finite_numbers_read_back_as_unset() {
    let mut session = full_session();
    session.context.set("weird", Value::Number(f64::NAN));
    let json = encode_session(&session).unwrap();
    let read = decode_session(&json, 9).unwrap();
    assert!(read.context.get("weird", at(0)).is_none());
    assert!(
        read.context
            .get("email", at(0) + TimeDelta::seconds(1))
            .is_some()
    );
}

#[test]
fn a_session_inside_a_called_dialog_round_trips_with_its_callers() {
    let mut session = full_session();
    let mut caller = Context::default();
    caller.set("plan", Value::Text("pro".into()));
    let mut counts = crate::dialog::session::InvalidAnswers::default();
    counts.set("ask_plan", 1);
    session.stack.push(crate::dialog::session::Frame {
        dialog_id: "signup".into(),
        dialog_version: 2,
        node: "verify".into(),
        context: caller,
        invalid_answers: counts,
        otp: None,
    });
    let json = encode_session(&session).unwrap();
    assert!(
        json.contains(r#""stack":[{"dialog":"signup","dialog_version":2,"node":"verify","context":{"plan":{"value":"pro"}},"invalid_answers":{"ask_plan":1},"otp":null}]"#),
        "{json}"
    );
    assert_eq!(decode_session(&json, 9).unwrap(), session);
    // Without callers, no `stack` is written (the documented v2 document has none).
    assert!(!encode_session(&full_session()).unwrap().contains("stack"));
}
