//! The toll-fraud guard (`sms.guard`) over HTTP, through the phone verification dialog: a
//! country off the allow list and a premium-rate number are refused (the dialog's `failed`
//! path), the hourly caps per number prefix and in all stop texts (its `limited` path) and
//! reopen an hour later, every block is counted by reason, nothing blocked is sent, and on
//! Redis two instances count against the same caps.

use std::time::Duration;

use colloquy::config::Config;

use crate::helpers::{TestApp, said, spawn_app_with, test_config};

/// Texts to GB only, 2 per prefix and 3 in all per hour.
fn guarded(mut config: Config) -> Config {
    config.dialogs.phone_region = Some("GB".to_owned());
    config.sms.guard.max_per_prefix_per_hour = 2;
    config.sms.guard.max_per_hour = 3;
    config
}

/// Starts the phone dialog in `session` and gives it `number`; the node it lands on.
async fn text_to(app: &TestApp, session: &str, number: &str) -> String {
    let greeted = app.say_to_dialog(session, "phone_verification", "hi").await;
    assert_eq!(greeted.node, "ask_phone", "{}", said(&greeted));
    app.say(session, number).await.node
}

fn blocked(metrics: &str, reason: &str) -> u64 {
    let prefix = format!("colloquy_sms_blocked_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn other_countries_and_premium_rate_numbers_are_refused() {
    let app = spawn_app_with(guarded(test_config())).await;
    assert_eq!(
        text_to(&app, "fr", "+33 6 12 34 56 78").await,
        "send_failed"
    );
    assert_eq!(
        text_to(&app, "premium", "+44 909 879 0000").await,
        "send_failed"
    );
    assert_eq!(app.outbox().list(None).len(), 0, "nothing was sent");
    let metrics = app.get_text("/metrics").await;
    assert_eq!(blocked(&metrics, "country"), 1, "{metrics}");
    assert_eq!(blocked(&metrics, "premium_rate"), 1, "{metrics}");
    // A number of an allowed country goes out.
    assert_eq!(text_to(&app, "uk", "07400 123456").await, "ask_code");
    assert_eq!(app.emails_to("+447400123456"), 1);
}

#[tokio::test]
async fn the_hourly_caps_hold_per_prefix_and_in_all_then_reopen() {
    let app = spawn_app_with(guarded(test_config())).await;
    assert_eq!(text_to(&app, "a", "+44 7400 000001").await, "ask_code");
    assert_eq!(text_to(&app, "b", "+44 7400 000002").await, "ask_code");
    // A third number of the prefix +447400 within the hour.
    let third = text_to(&app, "c", "+44 7400 000003").await;
    assert_eq!(third, "too_many_sends");
    assert_eq!(app.emails_to("+447400000003"), 0);
    // Another prefix still goes, until the total (3) is reached.
    assert_eq!(text_to(&app, "d", "+44 7900 000001").await, "ask_code");
    assert_eq!(
        text_to(&app, "e", "+44 7500 000001").await,
        "too_many_sends"
    );
    let metrics = app.get_text("/metrics").await;
    assert_eq!(blocked(&metrics, "prefix_cap"), 1, "{metrics}");
    assert_eq!(blocked(&metrics, "global_cap"), 1, "{metrics}");
    app.advance(Duration::from_secs(3600));
    assert_eq!(text_to(&app, "f", "+44 7400 000003").await, "ask_code");
}

#[tokio::test]
async fn a_failed_text_is_given_back_to_the_caps() {
    let mut config = guarded(test_config());
    config.email.outbox.fail_for = vec!["+447400000009".to_owned()];
    let app = spawn_app_with(config).await;
    for session in ["x", "y", "z"] {
        assert_eq!(
            text_to(&app, session, "+44 7400 000009").await,
            "send_failed"
        );
    }
    assert_eq!(text_to(&app, "a", "+44 7400 000001").await, "ask_code");
    assert_eq!(text_to(&app, "b", "+44 7400 000002").await, "ask_code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_the_caps_are_shared_by_every_instance() {
    let server = crate::redis::server::RedisServer::start();
    let config = guarded(crate::redis::instances::shared_config(&server.url()));
    let a = spawn_app_with(config.clone()).await;
    let b = spawn_app_with(config).await;
    assert_eq!(text_to(&a, "a", "+44 7400 000001").await, "ask_code");
    assert_eq!(text_to(&b, "b", "+44 7400 000002").await, "ask_code");
    assert_eq!(
        text_to(&a, "c", "+44 7400 000003").await,
        "too_many_sends",
        "the cap counts what the other instance sent"
    );
}
