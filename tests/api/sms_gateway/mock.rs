//! An SMS gateway look-alike on 127.0.0.1:0: it keeps every request (method, path, content
//! type, `Authorization`, body) and answers with the statuses a test scripts (200 by default).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// One request as the gateway saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub content_type: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct Gateway {
    answers: Mutex<VecDeque<(u16, Vec<u8>)>>,
    seen: Mutex<Vec<Seen>>,
}

impl Gateway {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn answer(&self, status: u16, body: &[u8]) {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((status, body.to_vec()));
    }
}

async fn receive(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    gateway
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Seen {
            method,
            path: uri.to_string(),
            content_type: header("content-type").unwrap_or_default(),
            authorization: header("authorization"),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    let next = gateway
        .answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop_front();
    let (status, body) = next.unwrap_or((200, br#"{"status": "queued"}"#.to_vec()));
    (StatusCode::from_u16(status).unwrap(), body).into_response()
}

/// A gateway on 127.0.0.1:0 answering every path; its base URL.
pub async fn start_gateway() -> (Arc<Gateway>, String) {
    let gateway = Arc::new(Gateway::default());
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(gateway.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (gateway, format!("http://{addr}"))
}
