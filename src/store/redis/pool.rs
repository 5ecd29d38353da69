//! Connections to Redis: a few multiplexed connections, each a [`ConnectionManager`] that
//! reconnects by itself, every command bounded by `command_timeout`, and every failure turned
//! into [`StoreError::Unavailable`] (so the webhook answers 503 `unavailable`).
//!
//! The managers are made on first use, inside the runtime, so building the application needs
//! no Redis and no runtime: an instance started while Redis is down serves 503s and `/healthz`
//! says so until Redis answers, then carries on by itself.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{
    Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, ProtocolVersion, ScriptInvocation,
    ServerErrorKind, Value,
};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

use crate::config::{RedisConfig, redacted_url};
use crate::store::StoreError;

pub struct RedisPool {
    client: redis::Client,
    managers: Vec<OnceCell<ConnectionManager>>,
    next: AtomicUsize,
    connect_timeout: Duration,
    command_timeout: Duration,
    prefix: String,
    url: String,
    /// Requests sent to Redis (a command, a script or a pipeline each; a retry counts again).
    round_trips: AtomicU64,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .field("pool_size", &self.managers.len())
            .finish_non_exhaustive()
    }
}

impl RedisPool {
    /// Checks the URL; connects later, on first use.
    pub fn new(config: &RedisConfig) -> Result<Self, String> {
        let url = config.url.expose().expose_secret();
        let unusable = |error: redis::RedisError| {
            format!(
                "`sessions.redis.url` ({}) is not a usable Redis URL: {:?}",
                redacted_url(url),
                error.kind()
            )
        };
        // RESP3: the connection then hears when Redis goes away and reconnects in the
        // background, even while idle, instead of failing the first command sent on it.
        let info = url.into_connection_info().map_err(unusable)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings)).map_err(unusable)?;
        Ok(Self {
            client,
            managers: (0..config.pool_size.max(1))
                .map(|_| OnceCell::new())
                .collect(),
            next: AtomicUsize::new(0),
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            prefix: config.key_prefix.clone(),
            url: redacted_url(url),
            round_trips: AtomicU64::new(0),
        })
    }

    /// The URL with its password hidden, for logs.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `prefix` + `rest`: every key this store touches.
    pub fn key(&self, rest: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + rest.len());
        key.push_str(&self.prefix);
        key.push_str(rest);
        key
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.managers.len();
        let manager = self.managers[slot]
            .get_or_try_init(|| async {
                // Few, quick reconnection attempts: a user is waiting, and the next command
                // tries again anyway.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.command_timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(Duration::from_millis(100));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(manager.clone())
    }

    /// Requests sent to Redis so far, by every adapter sharing this pool.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Runs a Lua script (EVALSHA, loading it when Redis does not know it yet).
    pub async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        let first = self.bounded(invocation.invoke_async(&mut connection)).await;
        match first {
            Err(Failure::Refused) => self.bounded(invocation.invoke_async(&mut connection)).await,
            other => other,
        }
        .map_err(Failure::into_store_error)
    }

    pub async fn command<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        match self.bounded(command.query_async(&mut connection)).await {
            Err(Failure::Refused) => self.bounded(command.query_async(&mut connection)).await,
            other => other,
        }
        .map_err(Failure::into_store_error)
    }

    pub async fn pipeline<T: FromRedisValue>(&self, pipeline: &Pipeline) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        match self.bounded(pipeline.query_async(&mut connection)).await {
            Err(Failure::Refused) => self.bounded(pipeline.query_async(&mut connection)).await,
            other => other,
        }
        .map_err(Failure::into_store_error)
    }

    /// A connection of its own for listening to channels (the event log's wake-ups).
    /// `commands`, then the script, in one round trip; the script's answer. The commands'
    /// answers are not read, so they must be worth sending whatever happens and safe to send
    /// twice: a Redis that lost its scripts (a restart, `SCRIPT FLUSH`) answers the script
    /// with NOSCRIPT, and then the script is sent again on its own, which loads it.
    pub async fn script_after<T: FromRedisValue>(
        &self,
        commands: impl IntoIterator<Item = Cmd>,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut pipeline = redis::pipe();
        for command in commands {
            pipeline.add_command(command).ignore();
        }
        if pipeline.is_empty() {
            return self.script(invocation).await;
        }
        // The script's error comes back as its answer, so that NOSCRIPT can be told apart.
        pipeline.invoke_script(invocation).ignore_errors();
        let answers: Vec<Value> = self.pipeline(&pipeline).await?;
        match answers.into_iter().next_back() {
            Some(Value::ServerError(error)) if error.kind() == Some(ServerErrorKind::NoScript) => {
                self.script(invocation).await
            }
            Some(Value::ServerError(error)) => {
                Err(StoreError::Unavailable(format!("Redis: {error}")))
            }
            Some(answer) => redis::from_redis_value(answer)
                .map_err(|error| StoreError::Unavailable(format!("Redis: {error}"))),
            None => Err(StoreError::Unavailable(
                "Redis answered a pipeline with nothing".to_owned(),
            )),
        }
    }

    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, StoreError> {
        match tokio::time::timeout(self.connect_timeout, self.client.get_async_pubsub()).await {
            Ok(Ok(pubsub)) => Ok(pubsub),
            Ok(Err(error)) => Err(unavailable(&error)),
            Err(_) => Err(StoreError::Unavailable(format!(
                "Redis did not accept a connection within {:?}",
                self.connect_timeout
            ))),
        }
    }

    /// One attempt, within `command_timeout` plus time to reconnect. A refused connection
    /// sent nothing, and the manager has just started reconnecting, so callers try once more
    /// on the same manager: the first request after Redis comes back then succeeds instead of
    /// meeting the failure recorded while it was down.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Failure> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let limit = self.command_timeout + self.connect_timeout;
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if error.is_connection_refusal() => Err(Failure::Refused),
            Ok(Err(error)) => Err(Failure::Other(unavailable(&error))),
            Err(_) => Err(Failure::Other(StoreError::Unavailable(format!(
                "Redis did not answer within {limit:?}"
            )))),
        }
    }
}

/// Why one attempt failed.
enum Failure {
    /// Nothing was sent: Redis refused the connection.
    Refused,
    Other(StoreError),
}

impl Failure {
    fn into_store_error(self) -> StoreError {
        match self {
            Failure::Refused => StoreError::Unavailable("Redis refused the connection".to_owned()),
            Failure::Other(error) => error,
        }
    }
}

/// Redis errors carry no credentials, but say only the kind and the server's words anyway.
fn unavailable(error: &redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("Redis: {error}"))
}
