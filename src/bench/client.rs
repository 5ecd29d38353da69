//! The load driver's HTTP client: one keep-alive HTTP/1.1 connection per simulated user.
//!
//! The driver shares the machine's cores with the server, so every cycle it spends is taken
//! from the server under test. The default client is hyper's bare connection API, driven
//! inside the user's own task (no pool, no connection task, no cross-thread wake-ups per
//! request). `reqwest` (pooled, one task per connection) is available to compare: see
//! BENCHMARKS.md for what each costs.

use std::future::Future;
use std::pin::Pin;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Which client the driver uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// hyper's HTTP/1.1 connection, polled in the user's task.
    #[default]
    Hyper,
    /// reqwest with a pool of one idle connection per user.
    Reqwest,
}

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("http: {0}")]
    Http(String),
    #[error("the server closed the connection")]
    Closed,
}

type Connection = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

struct HyperConn {
    sender: http1::SendRequest<Full<Bytes>>,
    conn: Pin<Box<Connection>>,
}

/// A simulated user's connection (opened lazily, reopened after the server closes it).
pub struct Client {
    kind: ClientKind,
    authority: String,
    host: HeaderValue,
    base: String,
    hyper: Option<HyperConn>,
    reqwest: Option<reqwest::Client>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("kind", &self.kind)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

/// `host:port` of an `http://host:port[/]` URL; the driver speaks plain HTTP only.
pub fn authority_of(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}`: the load driver needs an http:// URL"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    Ok(authority.to_owned())
}

impl Client {
    /// `shared` is the reqwest client all users share (its pool holds their connections).
    pub fn new(
        kind: ClientKind,
        base_url: &str,
        shared: Option<reqwest::Client>,
    ) -> Result<Self, String> {
        let authority = authority_of(base_url)?;
        let host = HeaderValue::from_str(&authority).map_err(|e| e.to_string())?;
        Ok(Self {
            kind,
            base: format!("http://{authority}"),
            authority,
            host,
            hyper: None,
            reqwest: shared,
        })
    }

    /// `POST path` with a JSON body; the status and the whole body.
    pub async fn post_json(
        &mut self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Bytes), ClientError> {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn get(&mut self, path: &str) -> Result<(u16, Bytes), ClientError> {
        self.request(Method::GET, path, None).await
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), ClientError> {
        if let (ClientKind::Reqwest, Some(client)) = (self.kind, &self.reqwest) {
            return reqwest_request(client, &self.base, method, path, body).await;
        }
        let result = self.hyper_request(method, path, body).await;
        if result.is_err() {
            // The next request starts on a fresh connection.
            self.hyper = None;
        }
        result
    }

    async fn hyper_request(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), ClientError> {
        if self.hyper.is_none() {
            self.hyper = Some(connect(&self.authority).await?);
        }
        let Some(HyperConn { sender, conn }) = self.hyper.as_mut() else {
            return Err(ClientError::Closed);
        };
        let mut request = Request::builder().method(method).uri(path);
        if let Some(headers) = request.headers_mut() {
            headers.insert(HOST, self.host.clone());
            if let Some(body) = &body {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let exchange = async {
            sender
                .ready()
                .await
                .map_err(|e| ClientError::Http(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| ClientError::Http(e.to_string()))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Http(e.to_string()))?
                .to_bytes();
            Ok((status, body))
        };
        drive(conn.as_mut(), exchange).await
    }
}

async fn connect(authority: &str) -> Result<HyperConn, ClientError> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(ClientError::Connect)?;
    stream.set_nodelay(true).map_err(ClientError::Connect)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    Ok(HyperConn {
        sender,
        conn: Box::pin(conn),
    })
}

/// Runs `exchange` while polling the connection that carries it, in this task.
async fn drive<T>(
    conn: Pin<&mut Connection>,
    exchange: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::select! {
        biased;
        result = exchange => result,
        ended = conn => Err(match ended {
            Ok(()) => ClientError::Closed,
            Err(error) => ClientError::Http(error.to_string()),
        }),
    }
}

async fn reqwest_request(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, Bytes), ClientError> {
    let url = format!("{base}{path}");
    let request = match body {
        Some(body) => client
            .request(reqwest::Method::POST, url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body),
        None if method == Method::GET => client.get(url),
        None => client.request(reqwest::Method::POST, url),
    };
    let response = request
        .send()
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    Ok((status, body))
}

/// The reqwest client the users of one run share.
pub fn shared_reqwest(users: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(users)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())
}
