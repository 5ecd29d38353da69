//! The flagship dialog over HTTP: the happy path and every unhappy one. Time moves only
//! through the manual clock: nothing here sleeps.

use std::time::Duration;

use crate::helpers::{said, spawn_app, spawn_app_with, test_config};

const ALICE: &str = "alice@example.com";

/// Starts a session and gives the address; returns with the code sent.
async fn up_to_code(app: &crate::helpers::TestApp, session: &str, address: &str) {
    let greeting = app.say(session, "hi").await;
    assert_eq!(greeting.node, "ask_email");
    let sent = app.say(session, address).await;
    assert_eq!(sent.node, "ask_code", "{}", said(&sent));
}

#[tokio::test]
async fn happy_path_authenticates_with_the_emailed_code() {
    let app = spawn_app().await;
    let first = app.say("s", "hello").await;
    assert_eq!(
        said(&first),
        "Hi! I'll verify your email address with a one-time code. | What's your email address?"
    );
    assert_eq!(first.expecting.as_deref(), Some("email"));
    let asked = app.say("s", "  Alice@Example.COM ").await;
    assert!(
        said(&asked).contains("emailed a 4-digit code to Alice@example.com"),
        "{}",
        said(&asked)
    );
    assert!(said(&asked).contains("expires in 5 minutes"));
    assert_eq!(asked.expecting.as_deref(), Some("otp_code"));
    let code = app.last_code(ALICE).await;
    let done = app.say("s", &code).await;
    assert_eq!(done.status, "ended");
    assert!(done.ended);
    assert_eq!(done.result.as_deref(), Some("authenticated"));
    assert_eq!(said(&done), "Thanks, Alice@example.com is verified.");
}

#[tokio::test]
async fn codes_are_accepted_with_spaces_or_dashes() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    let code = app.last_code(ALICE).await;
    let done = app
        .say("s", &format!("{}-{}", &code[..2], &code[2..]))
        .await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));
}

#[tokio::test]
async fn invalid_addresses_get_ordered_prompts_then_exhaust() {
    let app = spawn_app().await;
    app.say("s", "hi").await;
    // Nothing like an address gets the fallback and spends no retry.
    let unclear = app.say("s", "not an email").await;
    assert!(
        said(&unclear).starts_with("Sorry, I didn't understand that."),
        "{}",
        said(&unclear)
    );
    let first = app.say("s", "alice at example dot com").await;
    assert!(
        said(&first).starts_with("That doesn't look like an email address"),
        "{}",
        said(&first)
    );
    let second = app.say("s", "alice@example").await;
    assert_eq!(said(&second), "Please type it like name@example.com.");
    // A header injection attempt holds two addresses: the bot asks which, uncounted.
    let which = app
        .say("s", "alice@example.com\r\nBcc: eve@evil.test")
        .await;
    assert_eq!(
        said(&which),
        "I see more than one email address: alice@example.com or eve@evil.test. Which one should I use?"
    );
    assert_eq!(which.node, "ask_email");
    let third = app.say("s", "alice(at)example").await;
    assert!(
        said(&third).starts_with("Still not an address"),
        "{}",
        said(&third)
    );
    assert_eq!(third.node, "ask_email");
    let gave_up = app.say("s", "alice@").await;
    assert_eq!(gave_up.result.as_deref(), Some("no_email"));
    assert_eq!(app.outbox().list(None).len(), 0, "nothing was sent");
}

#[tokio::test]
async fn an_invalid_address_then_a_valid_one_continues() {
    let app = spawn_app().await;
    app.say("s", "hi").await;
    app.say("s", "bob@").await;
    let sent = app.say("s", "bob@example.org").await;
    assert_eq!(sent.node, "ask_code");
    assert_eq!(app.emails_to("bob@example.org"), 1);
}

#[tokio::test]
async fn a_wrong_code_tells_how_many_attempts_are_left_then_the_right_one_works() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    let code = app.last_code(ALICE).await;
    let wrong = if code == "0000" { "1111" } else { "0000" };
    let answer = app.say("s", wrong).await;
    assert_eq!(answer.node, "wrong_code");
    assert!(
        said(&answer).contains("Attempts left: 2"),
        "{}",
        said(&answer)
    );
    let done = app.say("s", &code).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));
}

#[tokio::test]
async fn three_wrong_codes_lock_the_verification() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    let code = app.last_code(ALICE).await;
    let wrong = if code == "0000" { "1111" } else { "0000" };
    assert!(said(&app.say("s", wrong).await).contains("Attempts left: 2"));
    assert!(said(&app.say("s", wrong).await).contains("Attempts left: 1"));
    let locked = app.say("s", wrong).await;
    assert_eq!(locked.result.as_deref(), Some("locked"));
    assert!(
        said(&locked).contains("too many wrong codes"),
        "{}",
        said(&locked)
    );
    // The conversation starts over; the old code is gone with it.
    let again = app.say("s", &code).await;
    assert_eq!(again.node, "ask_email");
}

#[tokio::test]
async fn a_code_expires_after_five_minutes_and_a_new_one_can_be_sent() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    let old = app.last_code(ALICE).await;
    app.advance(Duration::from_secs(5 * 60));
    let expired = app.say("s", &old).await;
    assert_eq!(expired.node, "code_expired");
    assert!(
        said(&expired).contains("That code has expired"),
        "{}",
        said(&expired)
    );
    let resent = app.say("s", "yes").await;
    assert_eq!(resent.node, "ask_code");
    assert_eq!(app.emails_to(ALICE), 2);
    let new = app.last_code(ALICE).await;
    let done = app.say("s", &new).await;
    assert_eq!(done.result.as_deref(), Some("authenticated"));
}

#[tokio::test]
async fn a_code_still_works_a_second_before_it_expires() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    let code = app.last_code(ALICE).await;
    app.advance(Duration::from_secs(5 * 60 - 1));
    assert_eq!(
        app.say("s", &code).await.result.as_deref(),
        Some("authenticated")
    );
}

#[tokio::test]
async fn declining_a_new_code_after_expiry_cancels() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    app.advance(Duration::from_secs(301));
    app.say("s", "1234").await;
    assert_eq!(
        app.say("s", "no").await.result.as_deref(),
        Some("cancelled")
    );
}

#[tokio::test]
async fn resend_replaces_the_code_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    let old = app.last_code(ALICE).await;
    app.advance(Duration::from_secs(31));
    let resent = app.say("s", "resend").await;
    assert_eq!(resent.node, "ask_code");
    assert_eq!(app.emails_to(ALICE), 2);
    let new = app.last_code(ALICE).await;
    if old != new {
        let rejected = app.say("s", &old).await;
        assert_eq!(
            rejected.node, "previous_code",
            "the old code no longer works"
        );
    }
    assert_eq!(
        app.say("s", &new).await.result.as_deref(),
        Some("authenticated")
    );
}

#[tokio::test]
async fn resend_within_the_cooldown_asks_to_wait() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    app.advance(Duration::from_secs(10));
    let wait = app.say("s", "resend").await;
    assert_eq!(wait.node, "wait_to_resend");
    assert!(said(&wait).contains("wait 20 seconds"), "{}", said(&wait));
    assert_eq!(
        app.emails_to(ALICE),
        1,
        "no second email inside the cooldown"
    );
    // The first code still works.
    let code = app.last_code(ALICE).await;
    assert_eq!(
        app.say("s", &code).await.result.as_deref(),
        Some("authenticated")
    );
}

#[tokio::test]
async fn cancel_and_restart_work_at_any_question() {
    let app = spawn_app().await;
    app.say("a", "hi").await;
    assert_eq!(
        app.say("a", "Cancel").await.result.as_deref(),
        Some("cancelled")
    );
    up_to_code(&app, "b", ALICE).await;
    assert_eq!(
        app.say("b", "stop").await.result.as_deref(),
        Some("cancelled")
    );
    up_to_code(&app, "c", "carol@example.com").await;
    let restarted = app.say("c", "restart").await;
    assert_eq!(restarted.node, "ask_email");
    assert!(said(&restarted).starts_with("Hi!"));
    // Restart forgot the address and the code.
    let code = app.last_code("carol@example.com").await;
    assert_eq!(
        app.say("c", &code).await.node,
        "ask_email",
        "a code is not an email address"
    );
}

#[tokio::test]
async fn a_delivery_failure_offers_retry_or_another_address() {
    let app = spawn_app().await;
    app.say("s", "hi").await;
    let failed = app.say("s", "dan@bounce.test").await;
    assert_eq!(failed.node, "send_failed");
    assert!(
        said(&failed).contains("couldn't send the email to dan@bounce.test"),
        "{}",
        said(&failed)
    );
    assert_eq!(
        app.say("s", "retry").await.node,
        "send_failed",
        "retrying still fails"
    );
    let other = app.say("s", "dan@example.com").await;
    assert_eq!(other.node, "ask_code");
    let code = app.last_code("dan@example.com").await;
    assert_eq!(
        app.say("s", &code).await.result.as_deref(),
        Some("authenticated")
    );
}

#[tokio::test]
async fn at_most_five_codes_per_address_per_ten_minutes_across_sessions() {
    let app = spawn_app().await;
    for i in 0..5 {
        up_to_code(&app, &format!("s{i}"), ALICE).await;
    }
    app.say("s5", "hi").await;
    let limited = app.say("s5", ALICE).await;
    assert_eq!(limited.result.as_deref(), Some("send_limited"));
    assert!(
        said(&limited).contains("try again in"),
        "{}",
        said(&limited)
    );
    assert_eq!(app.emails_to(ALICE), 5);
    // Another address is not affected, and the window slides.
    up_to_code(&app, "other", "bob@example.com").await;
    app.advance(Duration::from_secs(10 * 60));
    up_to_code(&app, "later", ALICE).await;
}

/// Sends a code to `address` in a new session `session` and guesses wrong `guesses` times
/// (at most 3, a code's attempts).
async fn guess_wrong(app: &crate::helpers::TestApp, session: &str, address: &str, guesses: usize) {
    up_to_code(app, session, address).await;
    let code = app.last_code(address).await;
    let wrong: String = code
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    for _ in 0..guesses {
        app.say(session, &wrong).await;
    }
}

/// `guesses` wrong guesses by someone without the mailbox, 3 per code in sessions of their
/// own, at most 4 codes per ten minutes (the send cap is 5).
async fn attack(app: &crate::helpers::TestApp, name: &str, address: &str, guesses: usize) {
    let mut left = guesses;
    let mut round = 0;
    while left > 0 {
        if round > 0 {
            app.advance(Duration::from_secs(10 * 60));
        }
        for _ in 0..4 {
            if left == 0 {
                break;
            }
            round += 1;
            let now = left.min(3);
            guess_wrong(app, &format!("{name}{round}"), address, now).await;
            left -= now;
        }
    }
}

#[tokio::test]
async fn wrong_guesses_make_codes_longer_and_never_lock_the_owner_out() {
    let app = spawn_app().await;
    // The owner asks for a code; meanwhile someone else guesses 5 times at the address.
    up_to_code(&app, "owner", ALICE).await;
    let owners_code = app.last_code(ALICE).await;
    assert_eq!(owners_code.len(), 4);
    attack(&app, "a", ALICE, 5).await;
    // The owner's short code is retired unchecked, and a longer one sent at once (no
    // cooldown: the code it replaces can no longer be used).
    let retired = app.say("owner", &owners_code).await;
    assert_eq!(retired.node, "ask_code", "{}", said(&retired));
    assert!(
        said(&retired).contains("that code no longer works and I'm sending you a longer one")
            && said(&retired).contains("6-digit code"),
        "{}",
        said(&retired)
    );
    let code = app.last_code(ALICE).await;
    assert_eq!(code.len(), 6);
    assert_eq!(
        app.say("owner", &code).await.result.as_deref(),
        Some("authenticated")
    );
    // Success clears nothing: the next code is still 6 digits long.
    up_to_code(&app, "again", ALICE).await;
    assert_eq!(app.last_code(ALICE).await.len(), 6);
    // 100 more wrong guesses: codes of 8 digits, which the owner can still use.
    app.advance(Duration::from_secs(10 * 60));
    attack(&app, "b", ALICE, 100).await;
    app.advance(Duration::from_secs(10 * 60));
    up_to_code(&app, "owner2", ALICE).await;
    let code = app.last_code(ALICE).await;
    assert_eq!(code.len(), 8);
    assert_eq!(
        app.say("owner2", &code).await.result.as_deref(),
        Some("authenticated")
    );
    // Other addresses are untouched, and a day later the codes are short again.
    up_to_code(&app, "bob", "bob@example.com").await;
    assert_eq!(app.last_code("bob@example.com").await.len(), 4);
    app.advance(Duration::from_secs(24 * 3600));
    up_to_code(&app, "tomorrow", ALICE).await;
    let code = app.last_code(ALICE).await;
    assert_eq!(code.len(), 4);
    assert_eq!(
        app.say("tomorrow", &code).await.result.as_deref(),
        Some("authenticated")
    );
}

#[tokio::test]
async fn logging_in_often_keeps_codes_short() {
    let app = spawn_app().await;
    for login in 0..8 {
        app.advance(Duration::from_secs(10 * 60));
        let session = format!("login{login}");
        up_to_code(&app, &session, ALICE).await;
        let code = app.last_code(ALICE).await;
        assert_eq!(code.len(), 4, "login {login}");
        assert_eq!(
            app.say(&session, &code).await.result.as_deref(),
            Some("authenticated")
        );
    }
}

#[tokio::test]
async fn past_the_failure_budget_guesses_are_refused_until_the_window_passes() {
    let mut config = test_config();
    config.otp.max_failures_per_address = 4;
    let app = spawn_app_with(config).await;
    attack(&app, "a", ALICE, 4).await;
    app.advance(Duration::from_secs(10 * 60));
    // A fresh, correct code is refused without being compared.
    up_to_code(&app, "final", ALICE).await;
    let code = app.last_code(ALICE).await;
    let locked = app.say("final", &code).await;
    assert_eq!(locked.result.as_deref(), Some("locked"));
    assert!(said(&locked).contains("try again in"), "{}", said(&locked));
    // A day later the budget is back.
    app.advance(Duration::from_secs(24 * 3600));
    up_to_code(&app, "tomorrow", ALICE).await;
    let code = app.last_code(ALICE).await;
    assert_eq!(
        app.say("tomorrow", &code).await.result.as_deref(),
        Some("authenticated")
    );
}

#[tokio::test]
async fn an_ended_conversation_starts_over_on_the_next_message() {
    let app = spawn_app().await;
    app.say("s", "hi").await;
    app.say("s", "cancel").await;
    let again = app.say("s", "hello").await;
    assert_eq!(again.node, "ask_email");
    assert!(!again.ended);
}

#[tokio::test]
async fn idle_sessions_expire_and_are_swept() {
    let app = spawn_app().await;
    up_to_code(&app, "s", ALICE).await;
    assert_eq!(app.app.engine.store().count().await.unwrap(), 1);
    app.advance(Duration::from_secs(30 * 60));
    assert_eq!(app.app.engine.sweep().await.unwrap(), 1);
    assert_eq!(app.app.engine.store().count().await.unwrap(), 0);
    let fresh = app.say("s", "1234").await;
    assert_eq!(fresh.node, "ask_email", "an expired session starts over");
}

#[tokio::test]
async fn conversations_left_waiting_are_counted_where_they_were_dropped() {
    let app = spawn_app().await;
    up_to_code(&app, "at-code", ALICE).await;
    app.say("at-email", "hi").await;
    app.say("done", "hi").await;
    app.say("done", "cancel").await;
    app.advance(Duration::from_secs(30 * 60));
    assert_eq!(app.app.engine.sweep().await.unwrap(), 3);
    let metrics = app.get_text("/metrics").await;
    for node in ["ask_code", "ask_email"] {
        let line = format!(
            "colloquy_conversations_abandoned_total{{dialog=\"otp_authentication\",version=\"1\",node=\"{node}\"}} 1"
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
    assert_eq!(
        metrics
            .matches("colloquy_conversations_abandoned_total{")
            .count(),
        2,
        "an ended conversation is not abandoned: {metrics}"
    );
}

#[tokio::test]
async fn a_flood_past_the_memory_budget_never_evicts_a_verification_in_progress() {
    let mut config = test_config();
    config.sessions.max_bytes = 40_000;
    let app = spawn_app_with(config).await;
    up_to_code(&app, "alice", ALICE).await;
    let code = app.last_code(ALICE).await;
    // Newer sessions that only said hello, far more than the budget holds.
    for flood in 0..200 {
        app.say(&format!("flood{flood}"), "hi").await;
    }
    let metrics = app.get_text("/metrics").await;
    let gauge = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(gauge("colloquy_sessions_evicted_total") > 0, "{metrics}");
    assert_eq!(gauge("colloquy_session_bytes_budget"), 40_000);
    assert!(gauge("colloquy_session_bytes") <= 40_000, "{metrics}");
    // The oldest session of all, but the only one waiting for a code: still there.
    assert_eq!(
        app.say("alice", &code).await.result.as_deref(),
        Some("authenticated")
    );
}
