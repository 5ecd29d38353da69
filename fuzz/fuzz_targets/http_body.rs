//! Every HTTP route that reads a body (the turn webhook, the OTP API, Capillary's and
//! DIGIT's shapes, the agents' routes, Kore's v1 and v2 webhooks), through the real router,
//! authenticated: the first byte picks the route, the rest is the JSON body. No answer is a
//! server error, and every JSON answer is JSON.

#![no_main]

use axum::body::Body;
use axum::http::Request;
use colloquy_fuzz::{API_KEY, BODY_ROUTES, Served};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path, kore) = BODY_ROUTES[usize::from(pick) % BODY_ROUTES.len()];
    let token = if kore {
        colloquy_fuzz::kore_token()
    } else {
        API_KEY.to_owned()
    };
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let served = Served::get();
    served
        .send(request, colloquy_fuzz::loopback())
        .check(&format!("{method} {path}"));
});
