//! A JSON body extractor whose rejections are [`ApiError`]s (axum's own are plain text).

use std::fmt;
use std::marker::PhantomData;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};

use super::error::ApiError;

/// `Json<T>` with JSON errors. The body must be a JSON object (see `Object`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<Object<T>>::from_request(request, state).await {
            Ok(axum::Json(Object(value))) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(error) => {
                    ApiError::InvalidRequest(clean(&error.body_text()))
                }
                JsonRejection::JsonSyntaxError(error) => {
                    ApiError::InvalidJson(clean(&error.body_text()))
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
                JsonRejection::BytesRejection(error)
                    if super::connection::is_body_timeout(&error) =>
                {
                    ApiError::BodyTimeout
                }
                JsonRejection::BytesRejection(error)
                    if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::PayloadTooLarge
                }
                other => ApiError::InvalidJson(clean(&other.body_text())),
            }),
        }
    }
}

/// `Path<T>` with a JSON error: a segment that is not valid UTF-8 (`%FF`) or not of the
/// expected type gets 400 `invalid_path` (axum's own rejection is plain text).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::InvalidPath(clean(&rejection.body_text()))),
        }
    }
}

/// axum prefixes its messages with what it was doing; keep the part a client can act on.
/// An empty JSON path (a key `""`) leaves a bare `: ` behind, which goes too.
fn clean(text: &str) -> String {
    text.split_once(": ")
        .map_or(text, |(_, rest)| rest)
        .trim_start_matches(": ")
        .to_owned()
}

/// `T` read from a JSON object only. Serde also reads a struct from an array of its fields in
/// declaration order (`["s1", "m1", "hi"]`); the API is defined by field names, so accepting
/// that would make the order of a Rust struct's fields part of the wire contract.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = Object<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Object)
    }
}
