//! The routes of the people a conversation is handed to (`handoff` nodes), for `agent`
//! clients: `POST /v1/sessions/{id}/agent-messages` sends the user a message (pushed on the
//! session's event stream), `POST /v1/sessions/{id}/handback` gives the conversation back to
//! the bot. Agents follow what users say on the session's event stream (`user_message`), or
//! receive it on `handoff.webhook`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::auth::Credential;
use super::dto::WebhookAnswer;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath};
use super::handlers::Who;

/// The longest agent name shown to users.
const MAX_AGENT_NAME: usize = 64;

/// A person's message to the user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentMessage {
    /// What the user reads (1 to `server.max_text_chars` characters).
    #[schema(min_length = 1)]
    text: String,
    /// The name the user sees beside the message.
    #[schema(min_length = 1, max_length = 64)]
    agent: Option<String>,
}

/// Where the dialog goes on after people hand a conversation back.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Handback {
    /// A node of the session's dialog; the `handoff` node's `next` when left out.
    node: Option<String>,
}

/// An agent's message, taken.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AgentMessageTaken {
    /// Its id on the session's event stream (`null` when events are switched off).
    event_id: Option<String>,
}

/// Only agents (and anyone, without authentication) speak for people.
fn agents_only(who: &Who) -> Result<(), ApiError> {
    match who.credential() {
        Credential::Agent | Credential::Open => Ok(()),
        Credential::Client | Credential::Widget => Err(ApiError::Forbidden),
    }
}

/// `POST /v1/sessions/{id}/agent-messages`.
#[utoipa::path(
    post,
    path = "/v1/sessions/{id}/agent-messages",
    operation_id = "agent_message",
    tag = "handoff",
    summary = "Send the user a person's message",
    description = "For `agent` clients, on a conversation a `handoff` node handed to people: the \
        message is kept in the session's history and pushed to the user as an `agent_message` event.",
    params(super::handlers::SessionId),
    request_body = AgentMessage,
    responses(
        (status = 202, description = "Taken and pushed.", body = AgentMessageTaken),
        (status = 403, description = "`forbidden`: not an `agent` client.", body = super::error::ErrorBody),
        (status = 409, description = "`not_handed_off`: the conversation is not with people.", body = super::error::ErrorBody),
        (status = 503, description = "`session_busy`, `unavailable`, `timeout`.", body = super::error::ErrorBody),
    )
)]
pub async fn message(
    State(state): State<Arc<AppState>>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<AgentMessage>,
) -> Result<Response, ApiError> {
    agents_only(&who)?;
    let max = state.app.config.server.max_text_chars;
    let length = request.text.chars().count();
    if request.text.trim().is_empty() || length > max {
        return Err(ApiError::InvalidRequest(format!(
            "`text` must hold 1 to {max} characters"
        )));
    }
    if let Some(agent) = &request.agent
        && (agent.trim().is_empty()
            || agent.chars().count() > MAX_AGENT_NAME
            || agent.chars().any(char::is_control))
    {
        return Err(ApiError::InvalidRequest(format!(
            "`agent` must be a name of 1 to {MAX_AGENT_NAME} characters, without control characters"
        )));
    }
    let access = who.access(&state, &id, None);
    let engine = state.app.engine.clone();
    let event_id = super::handlers::finish(&state, async move {
        engine
            .agent_message(&id, &request.text, request.agent.as_deref(), &access)
            .await
    })
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(AgentMessageTaken {
            event_id: event_id.map(|id| id.to_string()),
        }),
    )
        .into_response())
}

/// `POST /v1/sessions/{id}/handback`: answers with what the bot says as it goes on (also
/// pushed to the user as a `handback` event).
#[utoipa::path(
    post,
    path = "/v1/sessions/{id}/handback",
    operation_id = "handback",
    tag = "handoff",
    summary = "Give a conversation back to the bot",
    description = "For `agent` clients: the dialog goes on at `node`, else at the `handoff` node's \
        `next`; the answer is what the bot says then, also pushed to the user as a `handback` event.",
    params(super::handlers::SessionId),
    request_body = Handback,
    responses(
        (status = 200, description = "What the bot says as the dialog goes on.", body = super::dto::WebhookResponse),
        (status = 403, description = "`forbidden`: not an `agent` client.", body = super::error::ErrorBody),
        (status = 409, description = "`not_handed_off`: the conversation is not with people.", body = super::error::ErrorBody),
        (status = 422, description = "`unknown_node`: the dialog has no such node.", body = super::error::ErrorBody),
        (status = 503, description = "`session_busy`, `unavailable`, `timeout`.", body = super::error::ErrorBody),
    )
)]
pub async fn handback(
    State(state): State<Arc<AppState>>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<Handback>,
) -> Result<Response, ApiError> {
    agents_only(&who)?;
    let access = who.access(&state, &id, None);
    let engine = state.app.engine.clone();
    let reply = super::handlers::finish(&state, async move {
        engine.handback(&id, request.node.as_deref(), &access).await
    })
    .await?;
    Ok(axum::Json(
        serde_json::to_value(WebhookAnswer::from(&reply)).map_err(|_| ApiError::Internal)?,
    )
    .into_response())
}
