//! The async shell around the pure machine: per turn, lock the session, load it, step the
//! machine, run the actions it asks for, and save with compare-and-set.

mod actions;
pub mod codes;
mod locks;
pub mod registry;
mod shared;

use crate::dialog::entities::Place;
use crate::dialog::reply::Choice;
pub use crate::dialog::reply::TurnReply;
pub use codes::{
    CodeCheck, CodeScope, CodeView, Destination, Issued, NotIssued, SmsText, Undelivered,
};
pub use locks::SessionLocks;
pub use registry::{DialogRegistry, DialogSummary};

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::agents::{AgentDesk, Forward};
use crate::clock::Clock;
use crate::dialog::machine::{Input, StepEnv, Traced, step, step_traced};
use crate::dialog::reply::SessionEvent;
use crate::dialog::{Dialog, LoadEnv, Session, State};
use crate::email::EmailSender;
use crate::metrics::Metrics;
use crate::otp::{OtpKey, Policy};
use crate::services::ServiceCaller;
use crate::sms::{BlockReason, SmsGuard, SmsSender};
use crate::store::{
    Counters, DialogArchive, EventLog, Processed, RateLimit, Refund, SessionStore, StoreError,
    TurnLease, TurnStore,
};

/// OTP rules and the key codes are MAC'd with.
#[derive(Debug)]
pub struct OtpSettings {
    pub key: OtpKey,
    pub policy: Policy,
    /// Codes sent to one address, across sessions.
    pub send_limit: RateLimit,
    /// Verification attempts per address (charged before comparing): past `max`, guesses
    /// are refused until the window lets them in again.
    pub failure_limit: RateLimit,
    /// How failed guesses at an address lengthen its later codes.
    pub escalation: crate::otp::Escalation,
}

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The locale of sessions whose client sends none (`dialogs.locale`).
    pub locale: Option<String>,
    /// The time zone and phone region answers are read in (`dialogs.time_zone`,
    /// `dialogs.phone_region`).
    pub place: Place,
    /// Mail domains right as typed, besides the common ones (`email.suggest_domains`).
    pub email_domains: Vec<String>,
    /// The dialog a new session runs when the request names none.
    pub default_dialog: String,
    /// Transcript lines kept per session.
    pub history_limit: usize,
    /// The longest one email delivery may take.
    pub send_timeout: Duration,
    /// The longest one text may take (`sms.send_timeout`).
    pub sms_timeout: Duration,
    /// Turns that may wait for a busy session.
    pub session_queue: usize,
    /// How long a turn may wait for its session.
    pub queue_timeout: Duration,
}

/// One user message for one session.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub session_id: String,
    /// Unique per user message; a retry reuses it and gets the first delivery's answer.
    pub message_id: String,
    pub text: String,
    /// The dialog to start when the session is new.
    pub dialog: Option<String>,
    /// The language the user speaks (`fr`, `pt-BR`), kept by the session from then on;
    /// `None` leaves it as it is.
    pub locale: Option<String>,
    /// Who sends it, and which sessions that caller may use.
    pub access: Access,
}

/// Who is asking for a session, as authentication found: sessions belong to the client that
/// started them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// The caller (`None` without authentication); a new session is theirs.
    pub client: Option<String>,
    /// Whether the caller proved it holds this session (its token), beyond naming the client:
    /// always for API clients, whose keys are secret; for a widget's visitors, only with the
    /// session's token.
    pub proven: bool,
    /// Agents and support staff: every session.
    pub any_session: bool,
}

impl Access {
    /// Anyone, for everything (no authentication, or the engine's own tools).
    pub fn open() -> Self {
        Self {
            client: None,
            proven: true,
            any_session: true,
        }
    }

    /// Whether the caller may read, continue or end `session`.
    pub fn permits(&self, session: &Session) -> bool {
        if self.any_session {
            return true;
        }
        match &session.owner {
            None => true,
            Some(owner) => self.proven && self.client.as_deref() == Some(owner.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("unknown dialog `{0}`")]
    UnknownDialog(String),
    #[error("dialog `{id}` version {version} is no longer loaded")]
    DialogVersionGone { id: String, version: u32 },
    #[error("the session was changed by another turn")]
    Conflict,
    #[error("message id `{0}` was already used for a different text in this session")]
    MessageIdReused(String),
    #[error("the session is busy with other turns")]
    SessionBusy,
    #[error("the session belongs to another client")]
    NotYours,
    #[error("the conversation is not with people")]
    NotHandedOff,
    #[error("no node `{0}` in the session's dialog")]
    UnknownNode(String),
    #[error("{0}")]
    AgentsUnavailable(String),
    #[error("session store unavailable")]
    StoreUnavailable(String),
    #[error("{0}")]
    SessionTooLarge(String),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => EngineError::Conflict,
            StoreError::Unavailable(reason) => EngineError::StoreUnavailable(reason),
            StoreError::TooLarge { .. } => EngineError::SessionTooLarge(error.to_string()),
        }
    }
}

/// The engine. Cheap to share: wrap it in an `Arc`.
#[derive(Debug)]
pub struct Engine {
    dialogs: RwLock<Arc<DialogRegistry>>,
    load_problems: RwLock<Vec<String>>,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) counters: Arc<dyn Counters>,
    pub(crate) email: Arc<dyn EmailSender>,
    pub(crate) sms: Arc<dyn SmsSender>,
    /// The toll-fraud guard every text passes (`sms.guard`).
    pub(crate) sms_guard: SmsGuard,
    /// The services `http.request` calls.
    pub(crate) services: Arc<dyn ServiceCaller>,
    /// Where messages of conversations handed to people go.
    desk: Arc<dyn AgentDesk>,
    /// What dialogs may name outside themselves: reloads and archived versions load against it.
    load_env: LoadEnv,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) otp: OtpSettings,
    pub(crate) settings: EngineSettings,
    pub(crate) metrics: Arc<Metrics>,
    locks: SessionLocks,
    lease: Arc<dyn TurnLease>,
    archive: Arc<dyn DialogArchive>,
    events: Arc<dyn EventLog>,
    turns: Arc<dyn TurnStore>,
}

/// The ports and settings an engine is built from (see `app::build`).
#[derive(Debug)]
pub struct Parts {
    pub dialogs: DialogRegistry,
    pub store: Arc<dyn SessionStore>,
    pub counters: Arc<dyn Counters>,
    /// One turn of a session at a time across instances sharing the store.
    pub lease: Arc<dyn TurnLease>,
    /// Keeps the dialog versions sessions start on, for instances restarted without them.
    pub archive: Arc<dyn DialogArchive>,
    /// What sessions' event streams read.
    pub events: Arc<dyn EventLog>,
    /// A turn's lease, session and event in as few round trips as the store allows.
    pub turns: Arc<dyn TurnStore>,
    pub email: Arc<dyn EmailSender>,
    pub sms: Arc<dyn SmsSender>,
    pub sms_guard: SmsGuard,
    pub services: Arc<dyn ServiceCaller>,
    /// Where messages of conversations handed to people go.
    pub desk: Arc<dyn AgentDesk>,
    /// What the dialogs were loaded against (the configured services).
    pub load_env: LoadEnv,
    pub clock: Arc<dyn Clock>,
    pub otp: OtpSettings,
    pub settings: EngineSettings,
    /// Shared with adapters that count their own work (the SendGrid sender).
    pub metrics: Arc<Metrics>,
}

/// How a turn's work under its lease ended.
enum Ran {
    /// A retry, answered from the first delivery's record: nothing to save.
    Answered(TurnReply),
    /// A turn taken: what to save.
    Turned(Box<Turned>),
}

/// What a turn taken saves, and what it counts once saved.
struct Turned {
    session: Session,
    processed: Processed,
    event: SessionEvent,
    started: std::time::Instant,
    starts_conversation: bool,
}

impl Engine {
    pub fn new(parts: Parts) -> Self {
        let locks = SessionLocks::new(parts.settings.session_queue, parts.settings.queue_timeout);
        Self {
            dialogs: RwLock::new(Arc::new(parts.dialogs)),
            load_problems: RwLock::new(Vec::new()),
            store: parts.store,
            counters: parts.counters,
            email: parts.email,
            sms: parts.sms,
            sms_guard: parts.sms_guard,
            services: parts.services,
            desk: parts.desk,
            load_env: parts.load_env,
            clock: parts.clock,
            otp: parts.otp,
            settings: parts.settings,
            metrics: parts.metrics,
            locks,
            lease: parts.lease,
            archive: parts.archive,
            events: parts.events,
            turns: parts.turns,
        }
    }

    /// Adds freshly loaded dialogs (see [`DialogRegistry::merged_with`]) and swaps the set in
    /// one step: turns already running keep the snapshot they started with. Returns what was
    /// refused.
    /// What dialogs loaded into this engine may name outside themselves.
    pub fn load_env(&self) -> &LoadEnv {
        &self.load_env
    }

    pub fn reload(&self, loaded: &DialogRegistry) -> Vec<String> {
        let mut current = self.dialogs.write().unwrap_or_else(PoisonError::into_inner);
        let (merged, refused) = current.merged_with(loaded);
        *current = Arc::new(merged);
        refused
    }

    /// Problems of the last reload (`GET /v1/dialogs` shows them), empty when it was clean.
    pub fn load_problems(&self) -> Vec<String> {
        self.load_problems
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_load_problems(&self, problems: Vec<String>) {
        *self
            .load_problems
            .write()
            .unwrap_or_else(PoisonError::into_inner) = problems;
    }

    /// The current set of dialogs (a snapshot; a reload swaps it whole).
    pub fn dialogs(&self) -> Arc<DialogRegistry> {
        self.dialogs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The country numbers without a country code are read in (`dialogs.phone_region`).
    pub fn phone_region(&self) -> Option<phonenumber::country::Id> {
        self.settings.place.region
    }

    /// Whether the toll-fraud guard would text `number` at all (its country, not a premium
    /// rate): the routes that take numbers ask before anything is sent.
    pub fn sms_destination(&self, number: &crate::address::PhoneAddr) -> Result<(), BlockReason> {
        self.sms_guard.check_destination(number)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The sessions' event streams.
    pub fn events(&self) -> &Arc<dyn EventLog> {
        &self.events
    }

    /// Handles one user message. Turns of one session run one at a time, in arrival order.
    /// A message id seen within the idempotency window returns the first answer and changes
    /// nothing; a retry that arrives while the first delivery runs waits for it.
    #[tracing::instrument(name = "turn", skip_all, fields(session_id = %loggable_id(&request.session_id), dialog, node))]
    pub async fn turn(&self, request: TurnRequest) -> Result<TurnReply, EngineError> {
        self.turn_inner(request, None).await
    }

    /// Like [`Engine::turn`], also returning the transitions the turn took (for coverage).
    /// A duplicate delivery took none.
    pub async fn turn_traced(
        &self,
        request: TurnRequest,
    ) -> Result<(TurnReply, Vec<Traced>), EngineError> {
        let mut trace = Vec::new();
        let reply = self.turn_inner(request, Some(&mut trace)).await?;
        Ok((reply, trace))
    }

    async fn turn_inner(
        &self,
        request: TurnRequest,
        trace: Option<&mut Vec<Traced>>,
    ) -> Result<TurnReply, EngineError> {
        let arrived = std::time::Instant::now();
        let _turn_lock = self.locks.lock(&request.session_id).await.map_err(|busy| {
            tracing::warn!(?busy, "session busy: turn refused");
            EngineError::SessionBusy
        })?;
        // Across instances: the lease, taken before the session (or its records) is read.
        let wait = self
            .settings
            .queue_timeout
            .saturating_sub(arrived.elapsed());
        let Some(opened) = self
            .turns
            .begin(&request.session_id, &request.message_id, wait)
            .await?
        else {
            tracing::warn!("session busy on another instance: turn refused");
            return Err(EngineError::SessionBusy);
        };
        // Charges the turn gives back, sent with its last step.
        let mut refunds = Vec::new();
        let ran = match self
            .leased_turn(request, opened.earlier, opened.session, trace, &mut refunds)
            .await
        {
            Ok(Ran::Answered(reply)) => {
                self.turns.abandon(opened.lease, &refunds).await;
                return Ok(reply);
            }
            Ok(Ran::Turned(ran)) => ran,
            Err(error) => {
                self.turns.abandon(opened.lease, &refunds).await;
                return Err(error);
            }
        };
        let Turned {
            mut session,
            processed,
            event,
            started,
            starts_conversation,
        } = *ran;
        self.turns
            .finish(opened.lease, &mut session, &processed, &event, &refunds)
            .await?;
        // The caller gets the answer as it was recorded.
        let reply = processed.reply;
        Metrics::inc(&self.metrics.turns);
        self.metrics.turn_latency.observe(started.elapsed());
        self.count_conversation(&reply, starts_conversation);
        Ok(reply)
    }

    /// The turn itself, under the session's lock and lease, up to what it saves: `earlier`
    /// and `stored` are what the turn's first step read; charges to give back once it is
    /// saved go to `refunds`.
    async fn leased_turn(
        &self,
        request: TurnRequest,
        earlier: Option<Processed>,
        stored: Option<Session>,
        trace: Option<&mut Vec<Traced>>,
        refunds: &mut Vec<Refund>,
    ) -> Result<Ran, EngineError> {
        let digest = Processed::digest(&request.text);
        if let Some(earlier) = earlier {
            // A retry is answered only to whoever may use the session, or to its owner's
            // client retrying the message that started it: a widget whose first answer was
            // lost has no session token yet, and the message's id (random, known to that
            // browser alone) proves it sent it.
            if let Some(session) = self.store.load(&request.session_id).await?
                && !request.access.permits(&session)
                && !(earlier.reply.turn == 1 && session.owner == request.access.client)
            {
                return Err(EngineError::NotYours);
            }
            if earlier.text_digest != digest {
                return Err(EngineError::MessageIdReused(request.message_id));
            }
            tracing::info!(message_id = %request.message_id, "duplicate delivery: answering as the first time");
            Metrics::inc(&self.metrics.duplicate_deliveries);
            return Ok(Ran::Answered(earlier.reply));
        }
        let started = std::time::Instant::now();
        let now = self.clock.now();
        let (dialog, mut session, start) = self.open_session(&request, stored, now).await?;
        // A new session, or a message to an ended one, starts a conversation.
        let starts_conversation = start || session.is_ended();
        match &request.locale {
            Some(locale) => session.locale = Some(locale.clone()),
            None if session.locale.is_none() => session.locale.clone_from(&self.settings.locale),
            None => {}
        }
        let span = tracing::Span::current();
        span.record("dialog", dialog.id.as_str());
        // A new session's first message starts the dialog, which keeps what it already says
        // (an address) for the question that would ask it.
        let input = if start && request.text.trim().is_empty() {
            Input::Start
        } else {
            Input::Text(&request.text)
        };
        let with_agent = session.handoff.clone();
        let (dialog, replies) = self
            .run_steps(dialog, &mut session, input, now, trace, refunds)
            .await?;
        span.record("node", session.node.as_str());
        if let Some(handoff) = &with_agent {
            // People have the conversation: the message goes to them before it counts as
            // taken; if they cannot take it, nothing is saved and a retry tries again.
            self.desk
                .forward(Forward {
                    session_id: &session.id,
                    message_id: &request.message_id,
                    text: &request.text,
                    queue: handoff.queue.as_deref(),
                    dialog: &dialog.id,
                    at: now,
                })
                .await
                .map_err(|error| EngineError::AgentsUnavailable(error.to_string()))?;
        } else if session.handoff.is_some() {
            self.metrics.handoffs.inc(&[("dialog", &dialog.id)]);
            tracing::info!(dialog = %dialog.id, node = %session.node, "conversation handed to people");
        }
        session.context.end_turn(now);
        session.turns = session.turns.saturating_add(1);
        session.updated_at = now;
        let processed = Processed {
            message_id: request.message_id,
            text_digest: digest,
            reply: reply_of(&dialog, &session, replies),
            at: now,
        };
        // What the session's event stream says of the turn: the message, to the people who
        // have the conversation; else the bot's answer.
        let event = if with_agent.is_some() {
            SessionEvent::UserMessage { text: request.text }
        } else {
            SessionEvent::Turn(processed.reply.clone())
        };
        Ok(Ran::Turned(Box::new(Turned {
            session,
            processed,
            event,
            started,
            starts_conversation,
        })))
    }

    /// Puts an event on the session's stream. What it tells is saved already: a store that
    /// fails now costs readers of the stream this event, not the turn.
    async fn publish(&self, session: &str, event: &SessionEvent, now: DateTime<Utc>) {
        if let Err(error) = self.events.append(session, event, now).await {
            tracing::warn!(%error, "an event could not be put on the session's stream");
        }
    }

    /// Conversation analytics: started and ended per dialog version, by result, with one log
    /// event per ended conversation (no text, no address).
    fn count_conversation(&self, reply: &TurnReply, started: bool) {
        let version = reply.dialog_version.to_string();
        if started {
            self.metrics
                .conversations_started
                .inc(&[("dialog", &reply.dialog), ("version", &version)]);
        }
        if let Some(result) = reply.result.as_deref()
            && reply.state == State::Ended
        {
            self.metrics.conversations_ended.inc(&[
                ("dialog", &reply.dialog),
                ("version", &version),
                ("result", result),
            ]);
            tracing::info!(
                dialog = %reply.dialog,
                version = reply.dialog_version,
                result,
                node = %reply.node,
                session_turns = reply.turn,
                "conversation ended"
            );
        }
    }

    /// Takes up the stored session, or creates it on the requested dialog. Returns whether the
    /// dialog must start (a new session) rather than read the message as an answer.
    async fn open_session(
        &self,
        request: &TurnRequest,
        stored: Option<Session>,
        now: DateTime<Utc>,
    ) -> Result<(Arc<Dialog>, Session, bool), EngineError> {
        let registry = self.dialogs();
        if let Some(session) = &stored
            && !request.access.permits(session)
        {
            return Err(EngineError::NotYours);
        }
        match stored {
            Some(session) if !session.is_ended() => {
                let dialog = self
                    .dialog_version(&session.dialog_id, session.dialog_version)
                    .await?;
                Ok((dialog, session, false))
            }
            // A finished conversation starts over on the latest version of its dialog.
            Some(mut session) => {
                let dialog = registry
                    .latest(&session.dialog_id)
                    .cloned()
                    .ok_or_else(|| EngineError::UnknownDialog(session.dialog_id.clone()))?;
                self.archive_version(&dialog).await?;
                session.dialog_version = dialog.version;
                Ok((dialog, session, false))
            }
            None => {
                // A dialog asked for, else the one the first message's words trigger, else
                // the default.
                let dialog = match request.dialog.as_deref() {
                    Some(id) => registry.latest(id),
                    None => registry
                        .triggered_by(&request.text)
                        .or_else(|| registry.latest(&self.settings.default_dialog)),
                };
                let id = request
                    .dialog
                    .as_deref()
                    .unwrap_or(&self.settings.default_dialog);
                let dialog = dialog
                    .cloned()
                    .ok_or_else(|| EngineError::UnknownDialog(id.to_owned()))?;
                self.archive_version(&dialog).await?;
                let mut session =
                    Session::new(&request.session_id, &dialog.id, dialog.version, now);
                session.owner.clone_from(&request.access.client);
                Ok((dialog, session, true))
            }
        }
    }

    /// Steps the machine, running the actions it asks for and moving the session between
    /// the dialogs `call` nodes name, until it waits or ends. Returns the dialog the session
    /// is on then, and the replies. A store that fails inside an action ends the turn unsaved
    /// (a shared limit that cannot be checked must not become a dialog outcome).
    async fn run_steps(
        &self,
        mut dialog: Arc<Dialog>,
        session: &mut Session,
        input: Input<'_>,
        now: DateTime<Utc>,
        mut trace: Option<&mut Vec<Traced>>,
        refunds: &mut Vec<Refund>,
    ) -> Result<(Arc<Dialog>, Vec<String>), EngineError> {
        /// What the next step is fed, owned across the awaits between steps.
        enum Next {
            Outcome(crate::dialog::Outcome),
            Enter(Vec<(String, crate::dialog::value::Value)>),
            Returned,
        }
        let mut replies = Vec::new();
        let mut env = StepEnv {
            now,
            history_limit: self.settings.history_limit,
            transitions_used: 0,
            place: self.settings.place,
            email_domains: &self.settings.email_domains,
        };
        let mut transitions = Vec::new();
        let mut next: Option<Next> = None;
        loop {
            let input = match &next {
                None => input,
                Some(Next::Outcome(outcome)) => Input::Outcome(outcome),
                Some(Next::Enter(inputs)) => Input::Enter(inputs),
                Some(Next::Returned) => Input::Returned,
            };
            let mut stepped = match trace.as_deref_mut() {
                Some(trace) => {
                    transitions.clear();
                    let stepped =
                        step_traced(&dialog, session, input, env, &mut replies, &mut transitions);
                    trace.extend(transitions.iter().map(|&transition| Traced {
                        dialog: dialog.id.clone(),
                        transition,
                    }));
                    stepped
                }
                None => step(&dialog, session, input, env, &mut replies),
            };
            env.transitions_used = env.transitions_used.saturating_add(stepped.transitions);
            if stepped.runaway {
                Metrics::inc(&self.metrics.runaway_turns);
                tracing::error!(node = %session.node, "turn aborted: the transition cap was reached or the session was in an impossible state");
            }
            next = if let Some(call) = stepped.call.take() {
                Some(Next::Outcome(
                    actions::run(self, &dialog, session, call, now, refunds).await?,
                ))
            } else if let Some(descend) = stepped.descend.take() {
                match self.dialogs().latest(&descend.dialog).cloned() {
                    Some(callee) => {
                        self.archive_version(&callee).await?;
                        callee.id.clone_into(&mut session.dialog_id);
                        session.dialog_version = callee.version;
                        dialog = callee;
                        Some(Next::Enter(descend.inputs))
                    }
                    None => {
                        // Loading checks calls; a reload may have removed the callee since.
                        tracing::error!(dialog = %descend.dialog, "a call node names a dialog that is not loaded");
                        session.result = None;
                        Some(Next::Returned)
                    }
                }
            } else if stepped.ascend {
                let caller = session
                    .stack
                    .last()
                    .map(|frame| (frame.dialog_id.clone(), frame.dialog_version));
                match caller {
                    Some((id, version)) => {
                        dialog = self.dialog_version(&id, version).await?;
                        Some(Next::Returned)
                    }
                    None => None,
                }
            } else {
                None
            };
            if next.is_none() {
                return Ok((dialog, replies));
            }
        }
    }

    /// A person's message to the user of a conversation handed to people: kept in its
    /// history and pushed on its event stream. Returns the event's id (`None` when events are
    /// switched off).
    pub async fn agent_message(
        &self,
        id: &str,
        text: &str,
        agent: Option<&str>,
        access: &Access,
    ) -> Result<Option<u64>, EngineError> {
        self.held(id, self.leased_agent_message(id, text, agent, access))
            .await
    }

    /// Runs `work` on the session `id` alone: after its turns in this process (the lock) and
    /// on every instance (the lease), as a turn would.
    async fn held<T>(
        &self,
        id: &str,
        work: impl std::future::Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let arrived = std::time::Instant::now();
        let _turn_lock = self
            .locks
            .lock(id)
            .await
            .map_err(|_| EngineError::SessionBusy)?;
        let lease = self.take_lease(id, arrived).await?;
        let result = work.await;
        self.lease.release(lease).await;
        result
    }

    async fn leased_agent_message(
        &self,
        id: &str,
        text: &str,
        agent: Option<&str>,
        access: &Access,
    ) -> Result<Option<u64>, EngineError> {
        let mut session = self.handed_off(id, access).await?;
        let now = self.clock.now();
        session.record(
            crate::dialog::session::Speaker::Agent,
            text,
            now,
            self.settings.history_limit,
        );
        session.updated_at = now;
        self.store.save(&mut session, None).await?;
        Metrics::inc(&self.metrics.agent_messages);
        let event = SessionEvent::AgentMessage {
            text: text.to_owned(),
            agent: agent.map(str::to_owned),
        };
        Ok(self.events.append(id, &event, now).await?)
    }

    /// People hand a conversation back: the dialog goes on at `node` (else the `handoff`
    /// node's `next`), and what the bot says then is pushed on the session's event stream.
    pub async fn handback(
        &self,
        id: &str,
        node: Option<&str>,
        access: &Access,
    ) -> Result<TurnReply, EngineError> {
        self.held(id, self.leased_handback(id, node, access)).await
    }

    async fn leased_handback(
        &self,
        id: &str,
        node: Option<&str>,
        access: &Access,
    ) -> Result<TurnReply, EngineError> {
        let mut session = self.handed_off(id, access).await?;
        let now = self.clock.now();
        let dialog = self
            .dialog_version(&session.dialog_id, session.dialog_version)
            .await?;
        let to = match node {
            Some(node) => Some(
                dialog
                    .node_index(node)
                    .ok_or_else(|| EngineError::UnknownNode(node.to_owned()))?,
            ),
            None => None,
        };
        let since = session.handoff.as_ref().map(|h| h.since);
        let mut refunds = Vec::new();
        let steps = self
            .run_steps(
                dialog,
                &mut session,
                Input::Handback(to),
                now,
                None,
                &mut refunds,
            )
            .await;
        self.counters.give_back(&refunds).await;
        let (dialog, replies) = steps?;
        session.context.end_turn(now);
        session.turns = session.turns.saturating_add(1);
        session.updated_at = now;
        let reply = reply_of(&dialog, &session, replies);
        self.store.save(&mut session, None).await?;
        if let Some(since) = since {
            let held = (now - since).to_std().unwrap_or_default();
            Metrics::inc(&self.metrics.handbacks);
            self.metrics.handoff_millis.fetch_add(
                u64::try_from(held.as_millis()).unwrap_or(u64::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        tracing::info!(dialog = %dialog.id, node = %session.node, "conversation handed back");
        self.count_conversation(&reply, false);
        self.publish(id, &SessionEvent::Handback(reply.clone()), now)
            .await;
        Ok(reply)
    }

    /// The session `id`, if `access` may use it and it is with people.
    async fn handed_off(&self, id: &str, access: &Access) -> Result<Session, EngineError> {
        let session = self
            .store
            .load(id)
            .await?
            .ok_or(EngineError::NotHandedOff)?;
        if !access.permits(&session) {
            return Err(EngineError::NotYours);
        }
        if session.handoff.is_none() || session.is_ended() {
            return Err(EngineError::NotHandedOff);
        }
        Ok(session)
    }

    /// Sessions with a turn running or waiting right now.
    pub fn busy_sessions(&self) -> usize {
        self.locks.len()
    }

    /// A session as stored (for support views).
    pub async fn session(&self, id: &str) -> Result<Option<Session>, EngineError> {
        Ok(self.store.load(id).await?)
    }

    /// The token a widget's visitor shows for the session `session_id` its widget `owner`
    /// started (hex): derived from the OTP key, so every instance agrees and nothing is stored.
    pub fn session_token(&self, owner: &str, session_id: &str) -> String {
        crate::hex::encode(&self.otp.key.session_token(owner, session_id))
    }

    /// Ends a session now: waits for a running turn, then forgets the session and its
    /// idempotency records. `false` when there was none.
    pub async fn end_session(&self, id: &str, access: &Access) -> Result<bool, EngineError> {
        self.held(id, async {
            if let Some(session) = self.store.load(id).await?
                && !access.permits(&session)
            {
                return Err(EngineError::NotYours);
            }
            let deleted = self.store.delete(id).await?;
            if let Err(error) = self.events.forget(id).await {
                tracing::warn!(%error, "an ended session's events could not be forgotten; they expire by themselves");
            }
            Ok(deleted)
        })
        .await
    }

    /// Frees expired sessions and stale counters. The server runs this periodically.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let swept = self.store.sweep().await?;
        for left in &swept.abandoned {
            let version = left.version.to_string();
            self.metrics.conversations_abandoned.inc(&[
                ("dialog", &left.dialog),
                ("version", &version),
                ("node", &left.node),
            ]);
            tracing::info!(
                dialog = %left.dialog,
                version = left.version,
                node = %left.node,
                "conversation abandoned"
            );
        }
        let longest = self
            .otp
            .send_limit
            .window
            .max(self.otp.failure_limit.window);
        self.counters.sweep(longest).await?;
        self.events.sweep().await?;
        Ok(swept.count)
    }
}

fn reply_of(dialog: &Dialog, session: &Session, replies: Vec<String>) -> TurnReply {
    let question = (session.state == State::Waiting)
        .then(|| dialog.node_index(&session.node))
        .flatten()
        .and_then(|i| dialog.node(i).kind.question());
    let locale = dialog.translations.pick(session.locale.as_deref());
    let choices = question.map_or_else(Vec::new, |q| {
        q.choices()
            .iter()
            .map(|option| {
                let translated = locale.and_then(|locale| {
                    let id = format!("{}-{}", session.node, option.value);
                    dialog.translations.render(
                        locale,
                        &id,
                        &session.context,
                        session.updated_at,
                        &[],
                    )
                });
                Choice {
                    label: translated.unwrap_or_else(|| option.label.clone()),
                    value: option.value.clone(),
                }
            })
            .collect()
    });
    TurnReply {
        session_id: session.id.clone(),
        turn: session.turns,
        dialog: dialog.id.clone(),
        dialog_version: dialog.version,
        replies,
        node: session.node.clone(),
        state: session.state,
        result: session.result.clone(),
        expecting: question.map(crate::dialog::Question::expecting),
        choices,
        with_agent: session.handoff.is_some(),
    }
}

/// Session ids are chosen by clients, and some use the user's address: mask it in logs.
fn loggable_id(session_id: &str) -> std::borrow::Cow<'_, str> {
    if session_id.contains('@') {
        std::borrow::Cow::Owned(crate::address::mask_emails_in(session_id))
    } else {
        std::borrow::Cow::Borrowed(session_id)
    }
}
