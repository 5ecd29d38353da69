//! FlowX's OTP requests as the Kafka listener answers them (no broker: the `Answerer` over
//! the in-process engine). The first byte picks the topic and whether a `processInstanceId`
//! header (up to the first NUL) comes with the body. An unreadable request is dead-lettered
//! with a reason, and answered only when it names its process; a readable one is answered,
//! and a redelivery of it is answered the same from the store.

#![no_main]

use colloquy::kafka::{Answerer, Incoming};
use colloquy_fuzz::Served;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (pid_header, payload) = if flags & 2 == 0 {
        (None, rest)
    } else {
        let at = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let Ok(pid) = std::str::from_utf8(&rest[..at]) else {
            return;
        };
        (Some(pid), rest.get(at + 1..).unwrap_or_default())
    };
    let served = Served::get();
    let mut config = served.app.config.kafka.clone();
    config.max_message_bytes = 4096;
    let answerer =
        Answerer::new(&config, served.app.engine.clone()).expect("the default templates load");
    let topic = if flags & 1 == 0 {
        &config.topics.generate_in
    } else {
        &config.topics.validate_in
    };
    let key = (flags & 4 != 0).then_some(&b"fuzz-key"[..]);
    let incoming = Incoming {
        topic,
        key,
        payload,
        pid_header,
    };
    let answer = served
        .runtime
        .block_on(answerer.answer(&incoming))
        .expect("the memory store answers");
    if let Some((out, body)) = &answer.reply {
        assert!(!out.is_empty());
        let body: serde_json::Value = serde_json::from_str(body).expect("a JSON reply");
        assert!(body.is_object(), "{body}");
    }
    let again = served
        .runtime
        .block_on(answerer.answer(&incoming))
        .expect("the memory store answers");
    match &answer.dead_letter {
        Some(reason) => {
            assert!(!reason.is_empty());
            assert!(!answer.repeated);
            assert_eq!(
                again, answer,
                "a poison message is answered the same each time"
            );
        }
        None => {
            assert!(answer.reply.is_some(), "a readable request is answered");
            assert!(again.repeated, "a redelivery is answered from the store");
            assert_eq!(again.reply, answer.reply);
        }
    }
});
