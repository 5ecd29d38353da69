//! `GET /v1/sessions/{id}/events`: a session's events as Server-Sent Events.
//!
//! Each event carries its id; a client that reconnects with `Last-Event-ID` (browsers'
//! `EventSource` do it by themselves; `?last_event_id=` does the same for a first connection)
//! gets everything after it that the log still keeps, and an `event: missed` first when some
//! is no longer kept. A turn's answer comes as `event: turn` with the same JSON the webhook
//! answered with. The stream reads the session's log (`store::EventLog`), never a buffer of its
//! own, so a slow client holds no more than one read's events; it ends when the server shuts
//! down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::dialog::reply::SessionEvent;
use crate::store::{EventWatch, StoredEvent};

use super::AppState;
use super::dto::WebhookAnswer;
use super::error::ApiError;
use super::extract::ApiPath;

/// How often a stream reads its log without being woken: a wake-up from another instance can
/// be lost while the store's subscription reconnects.
const RECHECK: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Where to go on from, for a first connection (`Last-Event-ID` wins when both are sent).
    #[param(pattern = "^[0-9]{1,20}$")]
    last_event_id: Option<String>,
    /// The session's token, for clients that cannot send headers (`EventSource`).
    session_token: Option<String>,
}

/// An open stream's place among `sessions.events.max_streams`, given back when it ends.
#[derive(Debug)]
struct StreamSlot(Arc<AppState>);

impl StreamSlot {
    fn take(state: &Arc<AppState>) -> Result<Self, ApiError> {
        let max = state.app.config.sessions.events.max_streams;
        let open = state.open_streams.fetch_add(1, Ordering::AcqRel);
        if open >= max {
            state.open_streams.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::TooManyStreams);
        }
        Ok(Self(state.clone()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.open_streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `GET /v1/sessions/{id}/events`.
#[utoipa::path(
    get,
    path = "/v1/sessions/{id}/events",
    operation_id = "session_events",
    tag = "sessions",
    summary = "Stream a session's events (Server-Sent Events)",
    description = "Every answer of the session as it happens: `turn` and `handback` (the webhook's \
        JSON), `user_message` and `agent_message` (a conversation handed to people), and `missed` \
        when some events after the id asked for are no longer kept. Each event has an id; \
        reconnecting with `Last-Event-ID` sends everything after it.",
    params(
        super::handlers::SessionId,
        EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The last event id seen: the stream goes on after it."),
        ("X-Colloquy-Session-Token" = Option<String>, Header, description = "For a widget's visitor: the session's token."),
    ),
    responses(
        (status = 200, description = "The event stream.", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid_path`: the id is not valid UTF-8; `invalid_header`: `Last-Event-ID` is no event id.", body = super::error::ErrorBody),
        (status = 403, description = "`session_forbidden`: the session belongs to another client, or a widget's session came without its token.", body = super::error::ErrorBody),
        (status = 404, description = "`unknown_session`: no such session.", body = super::error::ErrorBody),
        (status = 422, description = "`invalid_request`: an unknown query parameter.", body = super::error::ErrorBody),
        (status = 503, description = "`too_many_streams`: `sessions.events.max_streams` are open; `unavailable`: the store is down.", body = super::error::ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<Arc<AppState>>,
    who: super::handlers::Who,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::InvalidRequest(rejection.body_text()))?;
    let after = last_event_id(&headers, query.last_event_id.as_deref())?;
    let session = super::handlers::conversation(&state, &id).await?;
    let token = super::handlers::session_token_header(&headers).or(query.session_token.as_deref());
    if !who.access(&state, &id, token).permits(&session) {
        return Err(ApiError::SessionForbidden);
    }
    let slot = StreamSlot::take(&state)?;
    let events = state.app.engine.events().clone();
    // Watch first, then read: an event between the two still wakes the stream.
    let watch = events.watch(&id);
    let first = events.read(&id, after).await.map_err(|error| {
        tracing::warn!(%error, "an event stream could not read its session's log");
        ApiError::Unavailable
    })?;
    let mut reader = Reader {
        state: state.clone(),
        session: id,
        after,
        watch,
        pending: VecDeque::new(),
        stop: state.stop_streams.subscribe(),
        _slot: slot,
    };
    reader.take(first);
    let keep_alive = KeepAlive::new().interval(keep_alive_interval(&state));
    let stream = futures_util::stream::unfold(reader, Reader::next);
    Ok(Sse::new(stream).keep_alive(keep_alive).into_response())
}

/// The id to read after: `Last-Event-ID` (what `EventSource` sends on reconnecting), else
/// `?last_event_id=`, else none (everything the log keeps).
fn last_event_id(headers: &HeaderMap, query: Option<&str>) -> Result<Option<u64>, ApiError> {
    let header = headers
        .get("last-event-id")
        .map(|value| {
            value.to_str().map_err(|_| {
                ApiError::InvalidHeader(
                    "`Last-Event-ID` must be an event id this stream sent".into(),
                )
            })
        })
        .transpose()?;
    match header.or(query).map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) => id.parse::<u64>().map(Some).map_err(|_| {
            ApiError::InvalidHeader(
                "`Last-Event-ID` (or `last_event_id`) must be an event id this stream sent".into(),
            )
        }),
    }
}

/// Comments sent while nothing happens, well within the connection's idle timeout and the
/// minute after which proxies commonly cut a quiet response.
fn keep_alive_interval(state: &AppState) -> Duration {
    (state.app.config.server.idle_timeout / 2)
        .clamp(Duration::from_secs(1), Duration::from_secs(15))
}

struct Reader {
    state: Arc<AppState>,
    session: String,
    /// The last id sent.
    after: Option<u64>,
    watch: EventWatch,
    pending: VecDeque<Event>,
    stop: tokio::sync::watch::Receiver<bool>,
    _slot: StreamSlot,
}

impl Reader {
    /// Queues what a read found.
    fn take(&mut self, read: crate::store::EventsAfter) {
        if read.missed {
            self.pending
                .push_back(Event::default().event("missed").data("{}"));
        }
        for stored in read.events {
            self.after = Some(stored.id);
            if let Some(event) = sse_event(&stored) {
                self.pending.push_back(event);
            }
        }
    }

    /// The next event to send, waiting for one; `None` ends the stream (shutdown).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if *self.stop.borrow() {
                return None;
            }
            tokio::select! {
                () = self.watch.changed() => {}
                () = tokio::time::sleep(RECHECK) => {}
                _ = self.stop.changed() => return None,
            }
            match self
                .state
                .app
                .engine
                .events()
                .read(&self.session, self.after)
                .await
            {
                Ok(read) => self.take(read),
                Err(error) => {
                    // The store is away: the stream stays open and reads again later.
                    tracing::warn!(%error, "an event stream could not read its session's log");
                }
            }
        }
    }
}

/// An event on the wire: its id, its kind, its JSON.
fn sse_event(stored: &StoredEvent) -> Option<Event> {
    let (kind, data) = match &stored.event {
        SessionEvent::Turn(reply) => ("turn", serde_json::to_string(&WebhookAnswer::from(reply))),
        SessionEvent::Handback(reply) => (
            "handback",
            serde_json::to_string(&WebhookAnswer::from(reply)),
        ),
        SessionEvent::UserMessage { text } => (
            "user_message",
            serde_json::to_string(&serde_json::json!({ "text": text, "at": stored.at })),
        ),
        SessionEvent::AgentMessage { text, agent } => (
            "agent_message",
            serde_json::to_string(
                &serde_json::json!({ "text": text, "agent": agent, "at": stored.at }),
            ),
        ),
    };
    match data {
        Ok(data) => Some(
            Event::default()
                .id(stored.id.to_string())
                .event(kind)
                .data(data),
        ),
        Err(error) => {
            tracing::error!(%error, "an event could not be serialised");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_ids_are_numbers_from_the_header_first() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_event_id(&headers, None), Ok(None));
        assert_eq!(last_event_id(&headers, Some("7")), Ok(Some(7)));
        headers.insert("last-event-id", "12".parse().unwrap());
        assert_eq!(last_event_id(&headers, Some("7")), Ok(Some(12)));
        headers.insert("last-event-id", "twelve".parse().unwrap());
        assert!(matches!(
            last_event_id(&headers, None),
            Err(ApiError::InvalidHeader(_))
        ));
    }
}
