//! The state machine: `step(dialog, session, input, env)` → replies and, at most, one action to
//! run. Pure: the instant comes in `env`, actions come out as data, and their outcomes come
//! back in as input. The engine drives it; tests and the `chat` command drive it the same way.

use chrono::{DateTime, Utc};

use super::actions::understand as understand_action;
use super::actions::{ActionCall, Outcome};
use super::entities::{CodeShape, EntityKind, Found, Hearing, Place, leading_yes_no};
use super::locale::LocaleIdx;
use super::model::{Dialog, Keyword, NodeIdx, normalise_keyword};
use super::nodes::Question;
use super::session::{Frame, Session, Speaker, State, Suggestion};
use super::template::{Escape, Template};
use super::understand::{self, Heard};
use super::value::Value;

/// What the machine is told.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Start (or restart) the dialog from its `start` node.
    Start,
    /// The user said something.
    Text(&'a str),
    /// The action the machine asked for has finished.
    Outcome(&'a Outcome),
    /// The session has been moved onto the dialog a `call` node asked for ([`Step::descend`]):
    /// start it, with these variables set over its defaults.
    Enter(&'a [(String, Value)]),
    /// The dialog that was called has ended ([`Step::ascend`]; its result in
    /// `session.result`, or `None` when it could not start): back to the caller, on top of
    /// the session's stack.
    Returned,
    /// The people the conversation was handed to hand it back: go on at this node, or at
    /// the `handoff` node's `next`.
    Handback(Option<NodeIdx>),
}

/// The world as the machine may see it.
#[derive(Debug, Clone, Copy)]
pub struct StepEnv<'a> {
    pub now: DateTime<Utc>,
    /// Transcript lines kept per session.
    pub history_limit: usize,
    /// Node entries already made in this turn (a turn spans several steps when it runs actions).
    pub transitions_used: u16,
    /// The time zone and phone region answers are read in.
    pub place: Place,
    /// Mail domains known to be right (`email.suggest_domains`), besides the built-in ones.
    pub email_domains: &'a [String],
}

/// What one step produced besides the replies.
#[derive(Debug, Default)]
pub struct Step {
    /// An action to run; feed its outcome back with [`Input::Outcome`].
    pub call: Option<ActionCall>,
    /// Node entries made by this step.
    pub transitions: u16,
    /// The turn hit the transition cap (or met an impossible state) and the session was ended.
    pub runaway: bool,
    /// A `call` node asks for another dialog: move the session onto it and feed
    /// [`Input::Enter`] with its inputs (the caller waits on the session's stack).
    pub descend: Option<Descend>,
    /// A called dialog ended: feed [`Input::Returned`] to the caller on top of the stack.
    pub ascend: bool,
}

/// A dialog a `call` node asks to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Descend {
    pub dialog: String,
    /// The callee's variables to set before it starts.
    pub inputs: Vec<(String, Value)>,
}

/// What the user is told when a turn cannot complete.
pub const FALLBACK_REPLY: &str = "Sorry, something went wrong on our side. Please start again.";

/// The result an aborted session ends with.
pub const ERROR_RESULT: &str = "error";

/// The most dialogs that may be waiting for the ones they called.
pub const MAX_CALL_DEPTH: usize = 8;

/// What the transcript shows instead of a code the user typed.
pub const MASKED_INPUT: &str = "••••";

/// Why the machine moved to a node. With the node it came from, it names the edge taken
/// (see [`Dialog::edge_label`]); indices are into the source node's keywords, arms or
/// outcome edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    /// The dialog started (or restarted) at its `start` node.
    Start,
    Next,
    Answer,
    Exhausted,
    Keyword(u16),
    /// A global keyword (index into [`Dialog::keywords`]), typed at any question.
    GlobalKeyword(u16),
    If(u16),
    Else,
    Outcome(u16),
}

/// One move of the machine: from a node (none when the dialog starts) to a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    pub from: Option<NodeIdx>,
    pub to: NodeIdx,
    pub via: Via,
}

/// A transition and the dialog it was taken in (a turn may move between dialogs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    pub dialog: String,
    pub transition: Transition,
}

/// A list position as a [`Via`] index (lists in a dialog are far shorter than `u16::MAX`).
pub(crate) fn index(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Advances `session` by one input, appending the bot's replies to `replies`.
pub fn step(
    dialog: &Dialog,
    session: &mut Session,
    input: Input<'_>,
    env: StepEnv<'_>,
    replies: &mut Vec<String>,
) -> Step {
    step_inner(dialog, session, input, env, replies, None)
}

/// Like [`step`], also appending every transition taken to `trace` (for coverage).
pub fn step_traced(
    dialog: &Dialog,
    session: &mut Session,
    input: Input<'_>,
    env: StepEnv<'_>,
    replies: &mut Vec<String>,
    trace: &mut Vec<Transition>,
) -> Step {
    step_inner(dialog, session, input, env, replies, Some(trace))
}

fn step_inner(
    dialog: &Dialog,
    session: &mut Session,
    input: Input<'_>,
    env: StepEnv<'_>,
    replies: &mut Vec<String>,
    trace: Option<&mut Vec<Transition>>,
) -> Step {
    let locale = dialog.translations.pick(session.locale.as_deref());
    let mut run = Run {
        dialog,
        locale,
        session,
        now: env.now,
        replies,
        history_limit: env.history_limit,
        place: env.place,
        email_domains: env.email_domains,
        trace,
    };
    let first = match input {
        Input::Start => run.restart(),
        Input::Text(text) => run.user_text(text),
        Input::Outcome(outcome) => run.outcome(outcome),
        Input::Enter(inputs) => run.enter(inputs),
        Input::Returned => run.returned(),
        Input::Handback(to) => run.handback(to),
    };
    run.drive(first, env.transitions_used)
}

/// What to do after entering a node.
#[derive(Debug)]
pub enum Flow {
    Goto(NodeIdx, Via),
    /// Stop the turn and wait for the user.
    Wait,
    /// Stop the turn until the engine has run this action.
    Call(ActionCall),
    /// Stop the turn until the engine has moved the session onto this dialog.
    Descend(Descend),
    /// The dialog ended.
    Stop,
    /// Something that cannot happen in a validated dialog did: end the session safely.
    Abort,
}

/// One step in progress. Node kinds act on it.
#[derive(Debug)]
pub struct Run<'a> {
    pub(crate) dialog: &'a Dialog,
    /// The translation the session's locale picks; `None` for the YAML's own texts.
    pub(crate) locale: Option<LocaleIdx>,
    pub(crate) session: &'a mut Session,
    pub(crate) now: DateTime<Utc>,
    pub(crate) place: Place,
    email_domains: &'a [String],
    replies: &'a mut Vec<String>,
    history_limit: usize,
    trace: Option<&'a mut Vec<Transition>>,
}

impl Run<'_> {
    /// Renders a template against the session's context.
    pub fn render(&self, template: &Template) -> String {
        self.render_escaped(template, Escape::None)
    }

    /// Renders a template, escaping the values it substitutes.
    pub fn render_escaped(&self, template: &Template, escape: Escape) -> String {
        let context = &self.session.context;
        let now = self.now;
        template.render(escape, |name, out| match context.get(name, now) {
            Some(value) => {
                value.write_to(out);
                true
            }
            None => false,
        })
    }

    /// Message `id` in the session's language, when a translation has it.
    pub fn translate(&self, id: &str) -> Option<String> {
        self.dialog
            .translations
            .render(self.locale?, id, &self.session.context, self.now, &[])
    }

    /// Sends a message to the user, in the session's language.
    pub fn say(&mut self, template: &Template) {
        let translated = template.id().and_then(|id| self.translate(id));
        let text = translated.unwrap_or_else(|| self.render(template));
        self.say_text(text);
    }

    fn say_text(&mut self, text: String) {
        self.session
            .record(Speaker::Bot, &text, self.now, self.history_limit);
        self.replies.push(text);
    }

    /// Ends the dialog with `result`.
    pub fn finish(&mut self, result: &str) {
        self.session.state = State::Ended;
        self.session.result = Some(result.to_owned());
    }

    /// Forgets everything the session learned and goes to the start node.
    fn restart(&mut self) -> Flow {
        self.reset();
        Flow::Goto(self.dialog.start, Via::Start)
    }

    /// Starts the called dialog (the session is on it now) with its inputs, which its
    /// questions take as given.
    fn enter(&mut self, inputs: &[(String, Value)]) -> Flow {
        self.reset();
        for (name, value) in inputs {
            self.session.context.give(name, value.clone());
        }
        Flow::Goto(self.dialog.start, Via::Start)
    }

    /// Starts the dialog from a message that was no answer (the first of a session, or one
    /// after it ended): what the message already says (an address, a choice) is kept for the
    /// question that asks it, so "hi, please verify bob@example.com" is not asked for an
    /// address.
    fn open_with(&mut self, text: &str) -> Flow {
        self.reset();
        let dialog = self.dialog;
        for node in &dialog.nodes {
            let Some(question) = node.kind.question() else {
                continue;
            };
            let Some(variable) = question.early_answer() else {
                continue;
            };
            if self.session.context.get(variable, self.now).is_some() {
                continue;
            }
            let found = self.hearing_at(&node.id, |hearing| question.entity().find(text, hearing));
            if let Found::One(value) = found {
                self.session.context.give(variable, value);
            }
        }
        Flow::Goto(dialog.start, Via::Start)
    }

    /// Back from a called dialog: the caller's state off the stack, then its `call` node
    /// picks the edge for the result.
    fn returned(&mut self) -> Flow {
        let session = &mut *self.session;
        let Some(frame) = session.stack.pop() else {
            return Flow::Abort;
        };
        let result = session
            .result
            .take()
            .unwrap_or_else(|| ERROR_RESULT.to_owned());
        let callee = std::mem::replace(&mut session.context, frame.context);
        session.invalid_answers = frame.invalid_answers;
        session.otp = frame.otp;
        session.dialog_id = frame.dialog_id;
        session.dialog_version = frame.dialog_version;
        session.node = frame.node;
        session.state = State::Calling;
        let dialog = self.dialog;
        let node = dialog
            .node_index(&self.session.node)
            .map(|idx| &dialog.node(idx).kind);
        node.and_then(|kind| kind.returned(self, &result, &callee))
            .unwrap_or(Flow::Abort)
    }

    fn reset(&mut self) {
        let session = &mut *self.session;
        session.context.clear();
        for (name, value) in &self.dialog.defaults {
            session.context.set(name, value.clone());
        }
        session.otp = None;
        session.suggestion = None;
        session.handoff = None;
        session.result = None;
        session.invalid_answers.clear_all();
        session.not_understood.clear_all();
        session.state = State::New;
    }

    /// Back from people: the dialog goes on where they say, else where the node says.
    fn handback(&mut self, to: Option<NodeIdx>) -> Flow {
        if self.session.handoff.take().is_none() {
            return Flow::Abort;
        }
        let here = self.dialog.node_index(&self.session.node);
        let to = to.or_else(|| here.and_then(|idx| self.dialog.node(idx).kind.hands_back_to()));
        match to {
            Some(idx) => Flow::Goto(idx, Via::Next),
            None => Flow::Abort,
        }
    }

    fn user_text(&mut self, text: &str) -> Flow {
        if self.session.handoff.is_some() {
            // With people: the bot stays silent; the engine passes the message on.
            self.session
                .record(Speaker::User, text, self.now, self.history_limit);
            return Flow::Wait;
        }
        let waiting_at = match self.session.state {
            State::Waiting => self.dialog.node_index(&self.session.node),
            // A finished (or never started) conversation starts over on the next message.
            State::New | State::Ended | State::Calling => None,
        };
        let dialog = self.dialog;
        let question = waiting_at.and_then(|idx| dialog.node(idx).kind.question());
        let Some(question) = question else {
            self.session
                .record(Speaker::User, text, self.now, self.history_limit);
            return self.open_with(text);
        };
        // A suggestion offered last turn ("Did you mean …?") is settled by yes or no;
        // anything else is heard afresh.
        if let Some(suggestion) = self.session.suggestion.take()
            && let Some(yes) = leading_yes_no(text)
            && !dialog
                .keywords
                .iter()
                .chain(question.keywords())
                .any(|k| k.matches(text))
        {
            self.session
                .record(Speaker::User, text, self.now, self.history_limit);
            let Suggestion { typed, suggested } = suggestion;
            return question.accept(self, if yes { suggested } else { typed });
        }
        let (heard, suggested) = self.hearing(|hearing| {
            let lists: [&[_]; 2] = [&dialog.keywords, question.keywords()];
            let heard = understand::hear(text, question.entity(), hearing, &lists);
            let suggested = match &heard {
                Heard::Answer(value) => question.entity().suggest(value, hearing),
                _ => None,
            };
            (heard, suggested)
        });
        let entity = question.expecting();
        // At a code question only a message that is a keyword, whole, is shown.
        let exact_keyword = matches!(heard, Heard::Keyword { exact: true, .. });
        let shown = if entity.is_sensitive() && !exact_keyword {
            MASKED_INPUT
        } else {
            text
        };
        self.session
            .record(Speaker::User, shown, self.now, self.history_limit);
        // Nothing here understood it: the dialog's classifier may (never for a code).
        if heard == Heard::NotUnderstood
            && let Some(classifier) = &dialog.understand
            && !entity.is_sensitive()
            && !question.entity().resembles(text)
        {
            return Flow::Call(ActionCall::Understand(understand_action::Call {
                service: classifier.service.clone(),
                path: classifier.path.clone(),
                text: text.to_owned(),
            }));
        }
        self.act_on(question, heard, suggested, text)
    }

    /// What the question does with what a message was heard as (`text`: the message, for
    /// telling a message not understood from an attempt at an answer).
    fn act_on(
        &mut self,
        question: &dyn Question,
        heard: Heard,
        suggested: Option<Value>,
        text: &str,
    ) -> Flow {
        let dialog = self.dialog;
        match heard {
            Heard::Keyword {
                list: 0, index: i, ..
            } => {
                let keyword = &dialog.keywords[i];
                if keyword.reset {
                    self.reset();
                }
                Flow::Goto(keyword.target, Via::GlobalKeyword(index(i)))
            }
            Heard::Keyword { index: i, .. } => {
                Flow::Goto(question.keywords()[i].target, Via::Keyword(index(i)))
            }
            Heard::Answer(value) => match suggested {
                Some(suggested) => self.suggest(question.entity(), value, suggested),
                None => question.accept(self, value),
            },
            Heard::Ambiguous(candidates) => {
                self.say_text(question.entity().which_one(&candidates));
                Flow::Wait
            }
            Heard::NotUnderstood => question.not_understood(self, text),
        }
    }

    /// The dialog's classifier answered (or failed) for the message the question waits on:
    /// its entity for the question, read by the entity's own rules, else its intent as a
    /// keyword of the same name, else not understood.
    fn classified(&mut self, question: &dyn Question, outcome: &Outcome) -> Flow {
        let dialog = self.dialog;
        let min_confidence = dialog.understand.as_ref().map_or(1.0, |u| u.min_confidence);
        let classified = understand_action::Classified::of(outcome, min_confidence);
        let entity = question.entity();
        let values: Vec<&str> = classified
            .entities
            .iter()
            .filter(|(name, _)| name == entity.name())
            .map(|(_, value)| value.as_str())
            .collect();
        let (heard, suggested) = self.hearing(|hearing| {
            let mut found: Vec<Value> = Vec::new();
            for value in &values {
                match entity.find(value, hearing) {
                    Found::One(value) => found.push(value),
                    Found::Several(values) => found.extend(values),
                    Found::Nothing => {}
                }
            }
            found.dedup();
            let heard = match found.len() {
                0 => None,
                1 => Some(Heard::Answer(found.remove(0))),
                _ => Some(Heard::Ambiguous(found)),
            };
            let suggested = match &heard {
                Some(Heard::Answer(value)) => entity.suggest(value, hearing),
                _ => None,
            };
            (heard, suggested)
        });
        let heard = heard.unwrap_or_else(|| {
            let named = |keywords: &[Keyword]| {
                classified.intent.as_deref().and_then(|intent| {
                    let intent = normalise_keyword(intent);
                    keywords.iter().position(|k| k.words[0] == intent)
                })
            };
            match (named(&dialog.keywords), named(question.keywords())) {
                (Some(index), _) => Heard::Keyword {
                    list: 0,
                    index,
                    exact: false,
                },
                (None, Some(index)) => Heard::Keyword {
                    list: 1,
                    index,
                    exact: false,
                },
                (None, None) => Heard::NotUnderstood,
            }
        });
        self.session.state = State::Waiting;
        self.act_on(question, heard, suggested, "")
    }

    /// Runs `f` with what an entity may know while it reads a message at the node the
    /// session is at.
    pub(crate) fn hearing<R>(&self, f: impl FnOnce(&Hearing<'_>) -> R) -> R {
        self.hearing_at(&self.session.node, f)
    }

    /// Runs `f` with what an entity may know while it reads a message at `node`.
    pub(crate) fn hearing_at<R>(&self, node: &str, f: impl FnOnce(&Hearing<'_>) -> R) -> R {
        let translate = |id: &str| self.translate(id);
        let hearing = Hearing {
            code: self.code_shape(),
            node,
            translate: &translate,
            now: self.now,
            place: self.place,
            email_domains: self.email_domains,
        };
        f(&hearing)
    }

    /// Offers `suggested` instead of the answer `typed`, and waits for yes or no.
    pub(crate) fn suggest(
        &mut self,
        entity: &dyn EntityKind,
        typed: Value,
        suggested: Value,
    ) -> Flow {
        self.say_text(entity.did_you_mean(&suggested));
        self.session.suggestion = Some(Suggestion { typed, suggested });
        Flow::Wait
    }

    /// What a code answer must look like: the issued code's length and alphabet.
    fn code_shape(&self) -> CodeShape {
        self.session
            .otp
            .as_ref()
            .map_or_else(CodeShape::default, |otp| CodeShape {
                length: otp.length,
                alphanumeric: otp.alphabet == crate::otp::Alphabet::Alphanumeric,
            })
    }

    fn outcome(&mut self, outcome: &Outcome) -> Flow {
        let dialog = self.dialog;
        let node = (self.session.state == State::Calling)
            .then(|| dialog.node_index(&self.session.node))
            .flatten()
            .map(|idx| &dialog.node(idx).kind);
        // A question only ever waits on the dialog's classifier.
        if let Some(question) = node.and_then(|kind| kind.question()) {
            return self.classified(question, outcome);
        }
        node.and_then(|kind| kind.outcome(self, outcome))
            .unwrap_or(Flow::Abort)
    }

    fn drive(mut self, mut flow: Flow, transitions_used: u16) -> Step {
        let mut transitions: u16 = 0;
        loop {
            flow = match flow {
                Flow::Goto(idx, via) => {
                    // The entry that would pass the cap is not made, so it is not counted:
                    // `Step::transitions` never exceeds the cap, even for a runaway turn.
                    if transitions_used.saturating_add(transitions) >= self.dialog.max_transitions {
                        return self.abort(transitions);
                    }
                    transitions += 1;
                    if let Some(trace) = self.trace.as_deref_mut() {
                        let from = if via == Via::Start {
                            None
                        } else {
                            self.dialog.node_index(&self.session.node)
                        };
                        trace.push(Transition { from, to: idx, via });
                    }
                    let node = self.dialog.node(idx);
                    node.id.clone_into(&mut self.session.node);
                    self.session.state = State::New;
                    node.kind.enter(&mut self)
                }
                Flow::Wait => {
                    self.session.state = State::Waiting;
                    return Step {
                        transitions,
                        ..Step::default()
                    };
                }
                Flow::Call(call) => {
                    self.session.state = State::Calling;
                    return Step {
                        call: Some(call),
                        transitions,
                        ..Step::default()
                    };
                }
                Flow::Descend(descend) => {
                    // Call cycles are refused when dialogs load; this holds if that fails.
                    if self.session.stack.len() >= MAX_CALL_DEPTH {
                        return self.abort(transitions);
                    }
                    let session = &mut *self.session;
                    session.stack.push(Frame {
                        dialog_id: session.dialog_id.clone(),
                        dialog_version: session.dialog_version,
                        node: session.node.clone(),
                        context: std::mem::take(&mut session.context),
                        invalid_answers: std::mem::take(&mut session.invalid_answers),
                        otp: session.otp.take(),
                    });
                    session.state = State::Calling;
                    return Step {
                        transitions,
                        descend: Some(descend),
                        ..Step::default()
                    };
                }
                Flow::Stop => {
                    // A called dialog's end is its caller's next step.
                    let ascend = self.session.is_ended() && !self.session.stack.is_empty();
                    return Step {
                        transitions,
                        ascend,
                        ..Step::default()
                    };
                }
                Flow::Abort => return self.abort(transitions),
            };
        }
    }

    fn abort(&mut self, transitions: u16) -> Step {
        self.say_text(FALLBACK_REPLY.to_owned());
        self.finish(ERROR_RESULT);
        // The whole conversation ends, callers included: the next message starts the dialog
        // the session began with.
        let session = &mut *self.session;
        if let Some(root) = session.stack.first() {
            session.dialog_id.clone_from(&root.dialog_id);
            session.dialog_version = root.dialog_version;
            session.stack.clear();
        }
        Step {
            transitions,
            runaway: true,
            ..Step::default()
        }
    }
}
