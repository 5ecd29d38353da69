//! The understanding corpus: what people type at a question, and what it must be heard as.
//!
//! Each file of `tests/understanding/` is one question (an entity and its keywords) and its
//! cases: a message and its expected meaning — an answer, a keyword, several candidates to
//! ask about, or not understood. Every mismatch is listed at once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use colloquy::dialog::entities::{self, CodeShape, Hearing, Place, parse_region};
use colloquy::dialog::model::{Keyword, normalise_keyword};
use colloquy::dialog::understand::{Heard, hear};
use colloquy::dialog::value::Value;
use serde::Deserialize;

struct Corpus {
    question: Question,
    cases: Vec<Case>,
}

struct Question {
    entity: String,
    code_length: Option<u8>,
    /// Where the user is (`region: GB`, `time_zone: Europe/London`) and when they type
    /// (`now: 2026-12-07T12:30:00Z`), for phone numbers and dates.
    region: Option<String>,
    time_zone: Option<String>,
    now: Option<String>,
    /// Keyword name → synonyms, in the order the file lists them.
    keywords: Vec<(String, Vec<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    say: String,
    /// `{answer: V}`, `{keyword: NAME}`, `{ambiguous: [V, …]}`, or the bare words
    /// `ambiguous` (several candidates, any) and `not_understood`.
    expect: serde_json::Value,
}

#[derive(Debug)]
enum Expect {
    Answer(serde_json::Value),
    Keyword(String),
    Ambiguous(Vec<serde_json::Value>),
    AnyAmbiguity,
    NotUnderstood,
}

impl Expect {
    fn read(value: &serde_json::Value) -> Option<Self> {
        if let Some(word) = value.as_str() {
            return match word {
                "ambiguous" => Some(Expect::AnyAmbiguity),
                "not_understood" => Some(Expect::NotUnderstood),
                _ => None,
            };
        }
        let map = value.as_object().filter(|m| m.len() == 1)?;
        let (key, value) = map.iter().next()?;
        match key.as_str() {
            "answer" => Some(Expect::Answer(value.clone())),
            "keyword" => Some(Expect::Keyword(value.as_str()?.to_owned())),
            "ambiguous" => Some(Expect::Ambiguous(value.as_array()?.clone())),
            _ => None,
        }
    }
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/understanding")
}

fn as_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Text(text) => serde_json::Value::from(text.as_str()),
        Value::Number(n) => serde_json::Value::from(*n),
        Value::Bool(b) => serde_json::Value::from(*b),
    }
}

/// JSON numbers compare by value (`3` is `3.0`).
fn same(expected: &serde_json::Value, got: &serde_json::Value) -> bool {
    match (expected.as_f64(), got.as_f64()) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        _ => expected == got,
    }
}

/// The file as written; keyword maps are read as ordered pairs.
#[derive(Deserialize)]
struct Raw {
    question: RawQuestion,
    cases: Vec<Case>,
}
#[derive(Deserialize)]
struct RawQuestion {
    entity: String,
    #[serde(default)]
    code_length: Option<u8>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    keywords: indexed::Map,
}
mod indexed {
    use serde::de::{Deserializer, MapAccess, Visitor};

    #[derive(Default)]
    pub struct Map(pub Vec<(String, Vec<String>)>);

    impl<'de> serde::Deserialize<'de> for Map {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Ordered;
            impl<'de> Visitor<'de> for Ordered {
                type Value = Map;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a mapping of keywords to synonyms")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Map, A::Error> {
                    let mut entries = Vec::new();
                    while let Some(entry) = map.next_entry()? {
                        entries.push(entry);
                    }
                    Ok(Map(entries))
                }
            }
            deserializer.deserialize_map(Ordered)
        }
    }
}

fn load(path: &PathBuf) -> Corpus {
    let source = std::fs::read_to_string(path).expect("read the corpus file");
    let raw: Raw =
        serde_saphyr::from_str(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Corpus {
        question: Question {
            entity: raw.question.entity,
            code_length: raw.question.code_length,
            region: raw.question.region,
            time_zone: raw.question.time_zone,
            now: raw.question.now,
            keywords: raw.question.keywords.0,
        },
        cases: raw.cases,
    }
}

#[test]
fn every_message_of_the_corpus_is_heard_as_expected() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/understanding exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    let mut cases = 0;
    let mut failures = String::new();
    let mut per_entity: BTreeMap<String, usize> = BTreeMap::new();
    for path in &paths {
        let corpus = load(path);
        let question = &corpus.question;
        let entity = entities::plain(&question.entity)
            .unwrap_or_else(|| panic!("{}: unknown entity {}", path.display(), question.entity));
        let now = question
            .now
            .as_deref()
            .map_or(chrono::DateTime::UNIX_EPOCH, |now| {
                now.parse().expect("`now` is an RFC 3339 instant")
            });
        let mut hearing = Hearing::plain(now);
        hearing.code = CodeShape {
            length: question.code_length.unwrap_or(4),
            alphanumeric: false,
        };
        hearing.place = Place {
            zone: question
                .time_zone
                .as_deref()
                .map_or(chrono_tz::UTC, |zone| zone.parse().expect("a time zone")),
            region: question
                .region
                .as_deref()
                .map(|region| parse_region(region).expect("a region")),
        };
        let keywords: Vec<Keyword> = question
            .keywords
            .iter()
            .map(|(name, synonyms)| Keyword {
                words: std::iter::once(name)
                    .chain(synonyms)
                    .map(|w| normalise_keyword(w).into_owned())
                    .collect(),
                target: 0,
                reset: false,
            })
            .collect();
        let names: Vec<&str> = question.keywords.iter().map(|(n, _)| n.as_str()).collect();
        for (i, case) in corpus.cases.iter().enumerate() {
            cases += 1;
            *per_entity.entry(question.entity.clone()).or_default() += 1;
            let expect = Expect::read(&case.expect).unwrap_or_else(|| {
                panic!(
                    "{}: case {}: unreadable expect {}",
                    path.display(),
                    i + 1,
                    case.expect
                )
            });
            let heard = hear(&case.say, &*entity, &hearing, &[&keywords]);
            let ok = match (&expect, &heard) {
                (Expect::Answer(want), Heard::Answer(got)) => same(want, &as_json(got)),
                (Expect::Keyword(want), Heard::Keyword { index, .. }) => names[*index] == want,
                (Expect::Ambiguous(want), Heard::Ambiguous(got)) => {
                    want.len() == got.len()
                        && want.iter().zip(got).all(|(w, g)| same(w, &as_json(g)))
                }
                (Expect::AnyAmbiguity, Heard::Ambiguous(got)) => got.len() > 1,
                (Expect::NotUnderstood, Heard::NotUnderstood) => true,
                _ => false,
            };
            if !ok {
                let shown: String = case.say.chars().take(100).collect();
                let _ = writeln!(
                    failures,
                    "{}: case {}: {shown:?}\n    expected {:?}\n    heard    {heard:?}",
                    path.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    i + 1,
                    expect
                );
            }
        }
    }
    assert!(
        cases >= 300,
        "the corpus has {cases} cases; it should have at least 300"
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} messages were misheard ({per_entity:?}):\n{failures}",
        failures.lines().filter(|l| !l.starts_with(' ')).count()
    );
}

/// Messages built to break a reader: each gets a defined reply, over HTTP, at the flagship's
/// questions; and every entity reads them without a panic.
#[tokio::test]
async fn hostile_messages_get_defined_replies() {
    use crate::helpers::{said, spawn_app};

    let fifty: Vec<String> = (0..50).map(|i| format!("user{i}@example{i}.com")).collect();
    let mut long = fifty.join(", ");
    while long.chars().count() < 1990 {
        long.push_str(" padding");
    }
    let long: String = long.chars().take(2000).collect();
    let app = spawn_app().await;
    app.say("many", "hi").await;
    let many = app.say("many", &long).await;
    assert_eq!(many.node, "ask_email");
    assert_eq!(
        said(&many),
        "I see more than one email address: user0@example0.com, user1@example1.com or user2@example2.com (and 47 more). Which one should I use?"
    );

    app.say("punct", "hi").await;
    let punctuation = app.say("punct", "?!.,;:…¿¡—").await;
    assert_eq!(punctuation.node, "ask_email");
    assert!(said(&punctuation).starts_with("Sorry, I didn't understand that."));

    app.say("mixed", "hi").await;
    let mixed = app
        .say("mixed", "Мой адрес: bob@example.com 谢谢 شكرا")
        .await;
    assert_eq!(mixed.node, "ask_code", "{}", said(&mixed));
    assert!(said(&mixed).contains("code to bob@example.com."));

    app.say("rtl", "hi").await;
    let rtl = app
        .say("rtl", "\u{200F}\u{202E}carol@example.com\u{202C}\u{200F}")
        .await;
    assert_eq!(rtl.node, "ask_code", "{}", said(&rtl));
    assert!(said(&rtl).contains("code to carol@example.com."));

    let codes: String = (1000..1400).fold(String::new(), |mut codes, n| {
        codes.push_str(&n.to_string());
        codes.push(' ');
        codes
    });
    let at_code = app.say("rtl", &codes[..codes.len().min(2000)]).await;
    assert_eq!(at_code.node, "ask_code");
    assert_eq!(
        said(&at_code),
        "I see more than one code in your message. Please send just the one from the email."
    );

    // Every entity reads every hostile message and answers something.
    let hearing = Hearing::plain(chrono::DateTime::UNIX_EPOCH);
    let digits = "1".repeat(2000);
    let words = "next friday at 3pm ".repeat(100);
    for name in entities::Entity::names() {
        let Some(entity) = entities::plain(name) else {
            continue;
        };
        for text in [
            long.as_str(),
            "?!.,;:…¿¡—",
            "Мой адрес 谢谢 شكرا",
            "\u{200F}\u{202E}\u{2066}",
            digits.as_str(),
            words.as_str(),
            "",
        ] {
            let _ = entity.find(text, &hearing);
            let _ = entity.resembles(text);
        }
    }
}
