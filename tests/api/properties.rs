//! Property tests of the pure machine: the flagship dialog driven with arbitrary user input
//! and, whenever it asks for an action, an arbitrary outcome the engine could report.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use colloquy::address::EmailAddr;
use colloquy::dialog::actions::{ActionSpec, email_send, http_request, otp_send, otp_verify};
use colloquy::dialog::entities::{CodeShape, Place, normalise_code};
use colloquy::dialog::load::DEFAULT_MAX_TRANSITIONS;
use colloquy::dialog::machine::{ERROR_RESULT, FALLBACK_REPLY, MASKED_INPUT};
use colloquy::dialog::model::normalise_keyword;
use colloquy::dialog::nodes::{Action, Ask};
use colloquy::dialog::session::Speaker;
use colloquy::dialog::value::Value;
use colloquy::dialog::{ActionCall, Dialog, Input, Outcome, Session, State, StepEnv, load, step};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

const FLAGSHIP: &str = include_str!("../../dialogs/otp_authentication.yaml");

fn flagship() -> Dialog {
    let translations: Vec<colloquy::dialog::locale::TranslationSource> =
        crate::helpers::flagship_translations()
            .into_iter()
            .map(
                |(name, source)| colloquy::dialog::locale::TranslationSource {
                    locale: name
                        .trim_start_matches("otp_authentication.")
                        .trim_end_matches(".ftl")
                        .to_owned(),
                    source,
                },
            )
            .collect();
    let loaded = colloquy::dialog::load_translated(
        FLAGSHIP,
        &colloquy::dialog::LoadEnv::default(),
        &translations,
    );
    loaded
        .dialog
        .unwrap_or_else(|| panic!("the flagship dialog loads: {:?}", loaded.diagnostics))
}

fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_893_456_000, 0).expect("a valid instant")
}

// ---------------------------------------------------------------------------------------------
// Generators

fn keyword() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "resend",
        "cancel",
        "restart",
        "retry",
        "yes",
        "no",
        "stop",
        "quit",
        "start over",
        "change email",
        "Resend!",
        "  CANCEL. ",
        "Yes.",
        "nope",
    ])
    .prop_map(str::to_owned)
}

/// Valid addresses without digits, so no 4-digit code can hide in one.
fn valid_email() -> impl Strategy<Value = String> {
    "[a-zA-Z]{1,12}(\\.[a-zA-Z]{1,6})?@[a-zA-Z]{1,12}\\.(com|org|io|TEST)"
}

fn invalid_email() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,10}@",
        "[a-z ]{1,20}",
        "[a-z]{1,8}@@[a-z]{1,8}\\.com",
        "[a-z]{1,8}@[a-z]{1,8}",
        Just("alice@example.com\r\nBcc: eve@evil.test".to_owned()),
        Just("\"quoted\"@example.com".to_owned()),
        Just("<alice@example.com>".to_owned()),
    ]
}

/// 4-digit codes as people type them: padded, split by a space, a dash or a no-break space.
fn code() -> impl Strategy<Value = String> {
    (
        0..10_000_u16,
        prop::sample::select(vec!["", " ", "-", "\u{a0}", " - "]),
        prop::sample::select(vec!["", " ", "\t", "  "]),
    )
        .prop_map(|(n, sep, pad)| {
            let digits = format!("{n:04}");
            format!("{pad}{}{sep}{}{pad}", &digits[..2], &digits[2..])
        })
}

fn long_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<char>(), 1..=10_000_usize).prop_map(|(c, n)| c.to_string().repeat(n)),
        ("[0-9 -]{1,5}", 1..=2_500_usize).prop_map(|(s, n)| s.repeat(n)),
        "[a-z0-9@. ]{1000,4000}",
    ]
}

fn user_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => keyword(),
        4 => valid_email(),
        2 => invalid_email(),
        6 => code(),
        1 => "[0-9]{1,9}",
        2 => "\\PC{0,40}",
        1 => "(?s).{0,40}",
        1 => "[\\x00-\\x1F\\x7F\\u{80}-\\u{9F}\\u{200B}\\u{FEFF}]{1,10}",
        1 => long_text(),
        1 => Just(String::new()),
        1 => Just("   ".to_owned()),
    ]
}

/// One choice of outcome: which of the action's outcomes, and the number it carries.
type Pick = (Index, u32);

// ---------------------------------------------------------------------------------------------
// The engine's side, reduced to what the machine sees.

/// An outcome `kind` can report, with the variables the engine sets for it (see
/// `engine/actions`). Numbers stay below 1000 so they can never spell a 4-digit code.
fn outcome_for(action: &ActionSpec, (index, number): &Pick) -> Outcome {
    let name = *index.get(action.outcomes);
    let n = f64::from(number % 100);
    match action.name {
        otp_send::NAME => {
            let outcome = Outcome::new(name)
                .with("otp.length", Value::Number(4.0))
                .with("otp.expires_in_minutes", Value::Number(n + 1.0));
            match name {
                "cooldown" => outcome.with("otp.retry_after_seconds", Value::Number(n)),
                "limited" => outcome.with("otp.retry_after_minutes", Value::Number(n + 1.0)),
                _ => outcome,
            }
        }
        otp_verify::NAME => match name {
            "invalid" => {
                Outcome::new(name).with("otp.attempts_left", Value::Number(f64::from(number % 3)))
            }
            _ => Outcome::new(name),
        },
        other => panic!("no outcomes are modelled for action `{other}`"),
    }
}

/// What one turn produced.
struct Turn {
    replies: Vec<String>,
}

/// Runs one turn like the engine does: step, then feed back an outcome for every action the
/// machine asks for, checking the transition cap after each step.
fn run_turn(
    dialog: &Dialog,
    session: &mut Session,
    input: Input<'_>,
    now: DateTime<Utc>,
    history_limit: usize,
    picks: &[Pick],
    next_pick: &mut usize,
) -> Result<Turn, TestCaseError> {
    let mut env = StepEnv {
        now,
        history_limit,
        transitions_used: 0,
        place: Place::default(),
        email_domains: &[],
    };
    let mut replies = Vec::new();
    let mut stepped = step(dialog, session, input, env, &mut replies);
    let mut steps = 1;
    loop {
        prop_assert!(
            stepped.transitions <= dialog.max_transitions,
            "a step made {} transitions; the cap is {}",
            stepped.transitions,
            dialog.max_transitions
        );
        prop_assert!(
            u32::from(env.transitions_used) + u32::from(stepped.transitions)
                <= u32::from(dialog.max_transitions),
            "the turn exceeded the transition cap"
        );
        prop_assert!(!stepped.runaway, "the flagship dialog never runs away");
        let Some(call) = stepped.call.take() else {
            break;
        };
        steps += 1;
        prop_assert!(steps <= 32, "a turn kept asking for actions");
        prop_assert_eq!(session.state, State::Calling);
        let node = dialog
            .node_index(&session.node)
            .map(|idx| &dialog.node(idx).kind);
        let kind = match node.and_then(|kind| kind.downcast_ref::<Action>()) {
            Some(action) => action.spec,
            None => {
                return Err(TestCaseError::fail(format!(
                    "an action call from a node that is not an action: {node:?}"
                )));
            }
        };
        match &call {
            ActionCall::OtpSend(send) => {
                prop_assert_eq!(kind.name, otp_send::NAME);
                prop_assert!(
                    EmailAddr::parse(&send.to).is_ok(),
                    "otp.send was asked to send to {:?}",
                    send.to
                );
            }
            ActionCall::OtpVerify(_) => prop_assert_eq!(kind.name, otp_verify::NAME),
            ActionCall::HttpRequest(_) => prop_assert_eq!(kind.name, http_request::NAME),
            ActionCall::EmailSend(_) => prop_assert_eq!(kind.name, email_send::NAME),
            ActionCall::Understand(_) => {
                prop_assert!(
                    false,
                    "a classifier call from a dialog without `understand`"
                );
            }
        }
        let pick = &picks[*next_pick % picks.len()];
        *next_pick += 1;
        let outcome = outcome_for(kind, pick);
        env.transitions_used = env.transitions_used.saturating_add(stepped.transitions);
        stepped = step(dialog, session, Input::Outcome(&outcome), env, &mut replies);
    }
    // What the engine does at the end of every turn.
    session.context.end_turn(now);
    Ok(Turn { replies })
}

/// The `ask` node called `node`, if it is one.
fn ask_node<'d>(dialog: &'d Dialog, node: &str) -> Option<&'d Ask> {
    dialog
        .node(dialog.node_index(node)?)
        .kind
        .downcast_ref::<Ask>()
}

/// The `ask` node the session waits at, if any.
fn waiting_ask<'d>(dialog: &'d Dialog, session: &Session) -> Option<&'d Ask> {
    (session.state == State::Waiting)
        .then(|| ask_node(dialog, &session.node))
        .flatten()
}

fn is_keyword(dialog: &Dialog, ask: &Ask, text: &str) -> bool {
    let word = normalise_keyword(text);
    dialog.keywords.iter().any(|k| k.matches(&word))
        || ask.keywords.iter().any(|k| k.matches(&word))
}

fn is_otp_ask(dialog: &Dialog, node: &str) -> bool {
    ask_node(dialog, node).is_some_and(|ask| ask.entity.name() == "otp_code")
}

/// What the user typed so far: codes typed at an otp_code question, and everything typed
/// elsewhere (which may legitimately be echoed, and may happen to contain the same digits).
#[derive(Default)]
struct Typed {
    secrets: Vec<String>,
    public: Vec<String>,
}

impl Typed {
    /// Records `text`, typed with the session as it is; returns whether it is a non-keyword
    /// answer to a question.
    fn record(&mut self, dialog: &Dialog, session: &Session, text: &str) -> bool {
        match waiting_ask(dialog, session) {
            Some(ask) if ask.entity.name() == "otp_code" && !is_keyword(dialog, ask, text) => {
                if let Some(code) = normalise_code(text, CodeShape::default()) {
                    self.secrets.push(code);
                    self.secrets.push(text.trim().to_owned());
                }
                true
            }
            Some(ask) => {
                self.public.push(text.to_owned());
                !is_keyword(dialog, ask, text)
            }
            None => {
                self.public.push(text.to_owned());
                false
            }
        }
    }

    /// Codes that can only appear in the bot's words if the machine leaked them.
    fn leakable(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(String::as_str).filter(|secret| {
            secret.len() >= 4
                && !FLAGSHIP.contains(secret)
                && !self.public.iter().any(|p| p.contains(secret))
        })
    }
}

/// Runs a whole conversation and checks every invariant after every turn.
fn conversation(
    dialog: &Dialog,
    inputs: &[String],
    picks: &[Pick],
    history_limit: usize,
) -> Result<(), TestCaseError> {
    let mut session = Session::new("prop", &dialog.id, dialog.version, epoch());
    let mut next_pick = 0;
    let mut typed = Typed::default();
    for turn_no in 0..=inputs.len() {
        let now = epoch() + TimeDelta::seconds(i64::try_from(turn_no).unwrap_or(0) * 7);
        let (input, answers_a_question) = match turn_no.checked_sub(1) {
            None => (Input::Start, false),
            Some(i) => {
                let text = &inputs[i];
                let answers = typed.record(dialog, &session, text);
                (Input::Text(text), answers)
            }
        };
        let turn = run_turn(
            dialog,
            &mut session,
            input,
            now,
            history_limit,
            picks,
            &mut next_pick,
        )?;
        check_turn(
            dialog,
            &session,
            &turn,
            &typed,
            history_limit,
            answers_a_question,
        )?;
    }
    Ok(())
}

/// The invariants that hold after every turn.
fn check_turn(
    dialog: &Dialog,
    session: &Session,
    turn: &Turn,
    typed: &Typed,
    history_limit: usize,
    answers_a_question: bool,
) -> Result<(), TestCaseError> {
    // Between turns a session waits at an ask node, or has ended.
    match session.state {
        State::Waiting => {
            prop_assert!(
                waiting_ask(dialog, session).is_some(),
                "waiting at `{}`, which is not an ask node",
                session.node
            );
            prop_assert!(session.result.is_none());
        }
        State::Ended => prop_assert!(session.result.is_some(), "ended without a result"),
        other => {
            return Err(TestCaseError::fail(format!(
                "a turn left the session {other:?} at `{}`",
                session.node
            )));
        }
    }

    // A non-keyword answer to a question always gets a reply; in the flagship dialog, so
    // does every other turn.
    if answers_a_question {
        prop_assert!(
            !turn.replies.is_empty(),
            "no reply to an answer at a question"
        );
    }
    prop_assert!(!turn.replies.is_empty(), "a turn without a reply");
    prop_assert!(
        turn.replies.iter().all(|r| !r.trim().is_empty()),
        "a blank reply"
    );

    prop_assert!(
        session.history.len() <= history_limit,
        "history has {} lines; the limit is {history_limit}",
        session.history.len()
    );

    // Every user line recorded at a code question is the mask or a keyword.
    for entry in &session.history {
        if entry.speaker == Speaker::User && is_otp_ask(dialog, &entry.node) {
            let allowed = entry.text == MASKED_INPUT
                || ask_node(dialog, &entry.node)
                    .is_some_and(|ask| is_keyword(dialog, ask, &entry.text));
            prop_assert!(
                allowed,
                "history shows {:?} typed at `{}`",
                entry.text,
                entry.node
            );
        }
    }

    // No code typed at a code question shows up in a reply or in the history.
    for secret in typed.leakable() {
        for reply in &turn.replies {
            prop_assert!(
                !reply.contains(secret),
                "reply {reply:?} shows the code {secret:?}"
            );
        }
        for entry in &session.history {
            prop_assert!(
                !entry.text.contains(secret),
                "history line {:?} shows the code {secret:?}",
                entry.text
            );
        }
    }

    // An entered code lives for one turn only.
    prop_assert!(
        session.context.iter().all(|(_, slot)| !slot.sensitive),
        "a sensitive value outlived its turn"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_flagship_dialog_keeps_its_invariants_whatever_is_typed(
        inputs in prop::collection::vec(user_text(), 1..24),
        picks in prop::collection::vec((any::<Index>(), any::<u32>()), 1..16),
        history_limit in 0..30_usize,
    ) {
        let dialog = flagship();
        conversation(&dialog, &inputs, &picks, history_limit)?;
    }

    /// Conversations that mostly follow the happy path, so the deep nodes (wrong code, expiry,
    /// lockout, resend) are reached often.
    #[test]
    fn the_flagship_dialog_keeps_its_invariants_on_plausible_conversations(
        inputs in prop::collection::vec(
            prop_oneof![3 => valid_email(), 6 => code(), 2 => keyword(), 1 => user_text()],
            1..24,
        ),
        picks in prop::collection::vec((any::<Index>(), any::<u32>()), 1..16),
        history_limit in 0..30_usize,
    ) {
        let dialog = flagship();
        conversation(&dialog, &inputs, &picks, history_limit)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The runaway guard

/// A valid dialog whose first turn walks `len` say nodes before it ends.
fn say_chain(len: usize, settings: &str) -> Dialog {
    let mut source = format!("id: chain\nversion: 1\nstart: s0\n{settings}nodes:\n");
    for i in 0..len {
        let next = if i + 1 == len {
            "done".to_owned()
        } else {
            format!("s{}", i + 1)
        };
        let _ = write!(source, "  s{i}:\n    say: \"step {i}\"\n    next: {next}\n");
    }
    source.push_str("  done:\n    say: \"finished\"\n    end: finished\n");
    let loaded = load(&source);
    loaded
        .dialog
        .unwrap_or_else(|| panic!("the chain loads: {:?}", loaded.diagnostics))
}

fn start(dialog: &Dialog, transitions_used: u16) -> (Session, Vec<String>, colloquy::dialog::Step) {
    let mut session = Session::new("chain", &dialog.id, dialog.version, epoch());
    let mut replies = Vec::new();
    let stepped = step(
        dialog,
        &mut session,
        Input::Start,
        StepEnv {
            now: epoch(),
            history_limit: 200,
            transitions_used,
            place: Place::default(),
            email_domains: &[],
        },
        &mut replies,
    );
    (session, replies, stepped)
}

#[test]
fn a_chain_longer_than_the_cap_ends_with_the_fallback_reply() {
    // `check` refuses one dialog whose turn outruns its cap; a turn through several dialogs
    // (`call` nodes) can still run this long, and the machine's guard must end it. Loaded
    // under a raised cap, run under the default one.
    let mut dialog = say_chain(70, "settings:\n  max_transitions_per_turn: 100\n");
    dialog.max_transitions = DEFAULT_MAX_TRANSITIONS;
    let (session, replies, stepped) = start(&dialog, 0);
    assert!(stepped.runaway);
    assert!(stepped.call.is_none());
    assert!(
        stepped.transitions <= dialog.max_transitions,
        "{} transitions reported",
        stepped.transitions
    );
    assert_eq!(session.state, State::Ended);
    assert_eq!(session.result.as_deref(), Some(ERROR_RESULT));
    assert_eq!(replies.last().map(String::as_str), Some(FALLBACK_REPLY));
    // Exactly the nodes the cap allows were entered, each said its line once.
    let cap = usize::from(DEFAULT_MAX_TRANSITIONS);
    assert_eq!(replies.len(), cap + 1);
    assert_eq!(replies[cap - 1], format!("step {}", cap - 1));
    assert!(!replies.iter().any(|r| r == "finished"));
    assert_eq!(
        session.history.back().map(|h| h.text.as_str()),
        Some(FALLBACK_REPLY)
    );

    // The next message starts over, and runs into the same guard rather than looping.
    let mut session = session;
    let mut again = Vec::new();
    let stepped = step(
        &dialog,
        &mut session,
        Input::Text("hello"),
        StepEnv {
            now: epoch(),
            history_limit: 200,
            transitions_used: 0,
            place: Place::default(),
            email_domains: &[],
        },
        &mut again,
    );
    assert!(stepped.runaway);
    assert_eq!(again.first().map(String::as_str), Some("step 0"));
    assert_eq!(again.last().map(String::as_str), Some(FALLBACK_REPLY));
    assert_eq!(session.result.as_deref(), Some(ERROR_RESULT));
}

#[test]
fn a_chain_within_a_raised_cap_completes() {
    let dialog = say_chain(70, "settings:\n  max_transitions_per_turn: 100\n");
    let (session, replies, stepped) = start(&dialog, 0);
    assert!(!stepped.runaway);
    assert_eq!(stepped.transitions, 71);
    assert_eq!(session.result.as_deref(), Some("finished"));
    assert_eq!(replies.last().map(String::as_str), Some("finished"));
}

#[test]
fn the_cap_counts_the_transitions_of_earlier_steps_of_the_turn() {
    // Starting the flagship enters `greet` and `ask_email`: two transitions.
    let dialog = flagship();
    let cap = dialog.max_transitions;
    let (session, _, stepped) = start(&dialog, cap - 2);
    assert!(!stepped.runaway, "two transitions fit in the last two");
    assert_eq!(session.node, "ask_email");
    let (session, replies, stepped) = start(&dialog, cap - 1);
    assert!(stepped.runaway);
    assert_eq!(session.result.as_deref(), Some(ERROR_RESULT));
    assert_eq!(replies.last().map(String::as_str), Some(FALLBACK_REPLY));
}
