//! Widgets and proxies retry: a message id already processed gets the first answer again and
//! changes nothing.

use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_app;

fn message(session: &str, id: &str, text: &str) -> serde_json::Value {
    json!({ "session_id": session, "message_id": id, "text": text })
}

#[tokio::test]
async fn a_retried_message_gets_the_same_answer_and_sends_no_second_email() {
    let app = spawn_app().await;
    app.post_json(&message("s", "m1", "hi")).await;
    let (status, first) = app
        .post_json(&message("s", "m2", "alice@example.com"))
        .await;
    assert_eq!(status, 200);
    let (status, retry) = app
        .post_json(&message("s", "m2", "alice@example.com"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        retry, first,
        "the retry is answered exactly like the first delivery"
    );
    assert_eq!(
        app.emails_to("alice@example.com"),
        1,
        "the retry did not send a second code"
    );
    // The conversation continues from where the first delivery left it.
    let code = app.last_code("alice@example.com").await;
    let (_, done) = app.post_json(&message("s", "m3", &code)).await;
    assert_eq!(done["result"], "authenticated");
}

#[tokio::test]
async fn a_retried_wrong_code_is_not_counted_twice() {
    let app = spawn_app().await;
    app.post_json(&message("s", "m1", "hi")).await;
    app.post_json(&message("s", "m2", "alice@example.com"))
        .await;
    let code = app.last_code("alice@example.com").await;
    let wrong = if code == "0000" { "1111" } else { "0000" };
    for _ in 0..3 {
        let (_, answer) = app.post_json(&message("s", "m3", wrong)).await;
        assert!(
            answer["replies"][0]["text"]
                .as_str()
                .unwrap()
                .contains("Attempts left: 2"),
            "{answer}"
        );
    }
    let (_, done) = app.post_json(&message("s", "m4", &code)).await;
    assert_eq!(done["result"], "authenticated");
}

#[tokio::test]
async fn a_message_id_reused_with_another_text_is_a_conflict() {
    let app = spawn_app().await;
    app.post_json(&message("s", "m1", "hi")).await;
    app.post_json(&message("s", "m2", "alice@example.com"))
        .await;
    let (status, body) = app.post_json(&message("s", "m2", "bob@example.com")).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "message_id_reused");
    assert_eq!(app.emails_to("bob@example.com"), 0);
}

#[tokio::test]
async fn message_ids_belong_to_their_session() {
    let app = spawn_app().await;
    let (_, a) = app.post_json(&message("a", "m1", "hi")).await;
    let (_, b) = app.post_json(&message("b", "m1", "hi")).await;
    assert_eq!(a["session_id"], "a");
    assert_eq!(b["session_id"], "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_copies_change_the_state_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    app.post_json(&message("s", "m1", "hi")).await;
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.post_json(&message("s", "m2", "alice@example.com"))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for copy in copies {
        answers.push(copy.await.unwrap());
    }
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert!(
        answers.windows(2).all(|pair| pair[0].1 == pair[1].1),
        "all 20 answers are identical"
    );
    assert_eq!(
        app.emails_to("alice@example.com"),
        1,
        "one state change: one email"
    );
}

#[tokio::test]
async fn after_the_window_an_old_id_is_a_new_message() {
    let app = spawn_app().await;
    app.post_json(&message("s", "m1", "hi")).await;
    app.advance(Duration::from_secs(10 * 60 + 1));
    let (_, again) = app.post_json(&message("s", "m1", "hi")).await;
    assert_eq!(again["node"], "ask_email");
    assert_eq!(
        again["replies"][0]["text"],
        "Sorry, I didn't understand that. You can type 'cancel' to stop or 'restart' to start over.",
        "a second \"hi\" is heard as a new message"
    );
}
