//! What the HTTP layer reads from headers: API keys, body signatures (`v1`/`v2`, replay
//! window, single use), widget keys and origins, Kore's JWTs, session tokens, forwarding
//! headers of trusted proxies, conditional requests. The input is `name: value` lines, a
//! blank line, then the body; its first bytes pick the route, the peer, and whether a valid
//! signature or Kore token over that request is added (so the checks after them are reached).

#![no_main]

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use colloquy::http::auth::{SIGNATURE_HEADER, Signed, sign_request};
use colloquy_fuzz::{BODY_ROUTES, SIGNING_SECRET, Served};
use libfuzzer_sys::fuzz_target;

const OTHER_ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/dialogs"),
    ("GET", "/v1/sessions/fuzz-session"),
    ("DELETE", "/v1/sessions/fuzz-session"),
    ("GET", "/healthz"),
    ("GET", "/chat"),
    ("GET", "/widget.js"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/webhook?x=1"),
];

const PEERS: [[u8; 4]; 3] = [[127, 0, 0, 1], [10, 1, 2, 3], [203, 0, 113, 9]];

fuzz_target!(|data: &[u8]| {
    let [pick, flags, peer, rest @ ..] = data else {
        return;
    };
    let pick = usize::from(*pick) % (BODY_ROUTES.len() + OTHER_ROUTES.len());
    let (method, path) = match BODY_ROUTES.get(pick) {
        Some((method, path, _)) => (*method, *path),
        None => OTHER_ROUTES[pick - BODY_ROUTES.len()],
    };
    let split = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((rest, &[][..]), |at| (&rest[..at], &rest[at + 2..]));
    let (head, body) = split;
    let mut builder = Request::builder().method(method).uri(path);
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    if flags & 1 != 0 {
        let signed = Signed {
            method,
            path_and_query: path,
            body,
        };
        let at = colloquy_fuzz::now().timestamp() + i64::from(flags >> 4) - 8;
        let signature = sign_request(SIGNING_SECRET.as_bytes(), at, &signed);
        builder = builder.header(SIGNATURE_HEADER, signature);
    }
    if flags & 2 != 0 {
        builder = builder.header(
            "authorization",
            format!("Bearer {}", colloquy_fuzz::kore_token()),
        );
    }
    let request = builder.body(Body::from(body.to_vec())).expect("a request");
    let peer = SocketAddr::from((PEERS[usize::from(*peer) % PEERS.len()], 40000));
    Served::get()
        .send(request, peer)
        .check(&format!("{method} {path}"));
});
