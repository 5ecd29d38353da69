//! `colloquy chat [DIALOG]`: the real engine in a terminal, for designers. Emails print
//! instead of being sent. `/wait 5m` skips time (to try expiry), `/quit` leaves.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use crate::app;
use crate::clock::{Clock, OffsetClock};
use crate::config::{EmailProvider, StoreKind};
use crate::duration::parse_duration;
use crate::email::Channel;
use crate::engine::TurnRequest;

use super::{EXIT_OK, EXIT_USAGE, load_config, load_valid_dialogs};

pub fn run(dialog: Option<String>, config_path: Option<&Path>) -> u8 {
    let Some(mut config) = load_config(config_path) else {
        return EXIT_USAGE;
    };
    config.email.provider = EmailProvider::Outbox;
    // The terminal is the only client, and its clock can skip ahead: its session and limits
    // stay in this process, never in a store shared with servers.
    config.auth.enabled = false;
    config.sessions.store = StoreKind::Memory;
    "warn".clone_into(&mut config.log.level);
    if let Err(error) = crate::telemetry::init(&config.log) {
        eprintln!("error: {error}");
        return EXIT_USAGE;
    }
    let registry = match load_valid_dialogs(&config, "fix the dialogs above first") {
        Ok(registry) => registry,
        Err(code) => return code,
    };
    let dialog = dialog.unwrap_or_else(|| config.dialogs.default.clone());
    if registry.latest(&dialog).is_none() {
        eprintln!(
            "error: unknown dialog `{dialog}`; loaded: {}",
            registry.ids().collect::<Vec<_>>().join(", ")
        );
        return EXIT_USAGE;
    }
    let clock = Arc::new(OffsetClock::default());
    let app = match app::build(config, registry, clock.clone()) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(talk(&app, &dialog, &clock)),
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_USAGE
        }
    }
}

async fn talk(app: &app::App, dialog: &str, clock: &OffsetClock) -> u8 {
    println!("Talking to `{dialog}`. Type /wait 5m to skip time, /quit to leave.");
    let session_id = format!("chat-{}", clock.now().timestamp_millis());
    let mut last_email = 0;
    let mut text = String::new();
    let mut message_number = 0_u64;
    let stdin = std::io::stdin();
    loop {
        message_number += 1;
        let request = TurnRequest {
            session_id: session_id.clone(),
            message_id: format!("m{message_number}"),
            text: text.clone(),
            dialog: Some(dialog.to_owned()),
            locale: None,
            access: crate::engine::Access::open(),
        };
        match app.engine.turn(request).await {
            Ok(reply) => {
                for text in reply.texts_with_options() {
                    println!("bot> {}", text.replace('\n', "\n     "));
                }
                if let Some(outbox) = &app.outbox {
                    for email in outbox.since(last_email) {
                        last_email = email.id;
                        let text = email.text.trim_end().replace('\n', "\n  ");
                        match email.channel {
                            Channel::Email => {
                                println!("  [email to {}] {}\n  {text}", email.to, email.subject);
                            }
                            Channel::Sms => println!("  [text to {}]\n  {text}", email.to),
                        }
                    }
                }
                if let Some(result) = &reply.result {
                    println!("(dialog ended: {result}; type anything to start again)");
                }
            }
            Err(error) => println!("error: {error}"),
        }
        loop {
            print!("you> ");
            let _ = std::io::stdout().flush();
            text.clear();
            if stdin.lock().read_line(&mut text).unwrap_or(0) == 0 {
                println!();
                return EXIT_OK;
            }
            let line = text.trim();
            if line == "/quit" {
                return EXIT_OK;
            }
            if let Some(amount) = line.strip_prefix("/wait") {
                match parse_duration(amount.trim()) {
                    Ok(duration) => match clock.skip(duration) {
                        Ok(_) => println!("(skipped {})", amount.trim()),
                        Err(error) => println!("(/wait: {error})"),
                    },
                    Err(error) => println!("(/wait needs a duration such as 5m: {error})"),
                }
                continue;
            }
            text = line.to_owned();
            break;
        }
    }
}
