//! The JSON body of one `POST /v3/mail/send`, built with the `sendgrid` crate's v3 types
//! (`Message`, `Personalization`, `Email`, `Content`, `MailSettings`).
//!
//! The body is serialised once per email, and every retry sends those same bytes: a retry
//! can deliver the email twice (Mail Send has no idempotency key) but never a different code.

use sendgrid::v3::message::{MailSettings, SandboxMode};
use sendgrid::v3::{Content, Email, Message, Personalization};

use crate::email::EmailMessage;

/// What every email from this sender shares.
#[derive(Debug, Clone)]
pub(super) struct Envelope {
    pub from_address: String,
    /// Left out of the payload when empty.
    pub from_name: String,
    /// The dynamic template used when the email names none.
    pub template_id: Option<String>,
    pub sandbox: bool,
}

/// The request body for `message`. With a dynamic template (the dialog's, else the
/// configured one) the template data replaces the rendered parts; otherwise the plain-text
/// part comes first and the HTML part second, as SendGrid requires.
pub(super) fn body(envelope: &Envelope, message: &EmailMessage) -> Result<Vec<u8>, String> {
    let mut from = Email::new(&envelope.from_address);
    if !envelope.from_name.is_empty() {
        from = from.set_name(&envelope.from_name);
    }
    let mut personalization = Personalization::new(Email::new(message.to.as_str()));
    let mut mail = Message::new(from).set_subject(&message.subject);
    let template = message.provider_template.as_ref();
    let template_id = template
        .and_then(|t| t.id.as_deref())
        .or(envelope.template_id.as_deref());
    if let Some(id) = template_id {
        if let Some(template) = template {
            personalization = personalization
                .add_dynamic_template_data_json(&template.data)
                .map_err(|error| format!("template data: {error}"))?;
        }
        mail = mail.set_template_id(id);
    } else {
        mail = mail.add_content(part("text/plain", &message.text));
        if let Some(html) = &message.html {
            mail = mail.add_content(part("text/html", html));
        }
    }
    mail = mail.add_personalization(personalization);
    if envelope.sandbox {
        mail = mail.set_mail_settings(
            MailSettings::new().set_sandbox_mode(SandboxMode::new().set_enable(true)),
        );
    }
    serde_json::to_vec(&mail).map_err(|error| format!("cannot encode the email: {error}"))
}

fn part<'a>(content_type: &'a str, value: &'a str) -> Content<'a> {
    Content::new()
        .set_content_type(content_type)
        .set_value(value)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::address::EmailAddr;
    use crate::email::ProviderTemplate;

    fn envelope() -> Envelope {
        Envelope {
            from_address: "no-reply@example.com".into(),
            from_name: "Acme".into(),
            template_id: None,
            sandbox: false,
        }
    }

    fn message(template: Option<ProviderTemplate>) -> EmailMessage {
        EmailMessage {
            to: EmailAddr::parse("alice@example.com").unwrap(),
            subject: "Your code".into(),
            text: "Code 1234".into(),
            html: Some("<p>Code 1234</p>".into()),
            provider_template: template,
        }
    }

    fn data() -> ProviderTemplate {
        let mut data = serde_json::Map::new();
        data.insert("code".into(), "1234".into());
        ProviderTemplate { id: None, data }
    }

    fn json_of(envelope: &Envelope, message: &EmailMessage) -> Value {
        serde_json::from_slice(&body(envelope, message).unwrap()).unwrap()
    }

    #[test]
    fn rendered_parts_go_in_content_text_first() {
        let body = json_of(&envelope(), &message(Some(data())));
        assert_eq!(
            body,
            json!({
                "from": { "email": "no-reply@example.com", "name": "Acme" },
                "subject": "Your code",
                "personalizations": [{ "to": [{ "email": "alice@example.com" }] }],
                "content": [
                    { "type": "text/plain", "value": "Code 1234" },
                    { "type": "text/html", "value": "<p>Code 1234</p>" }
                ]
            })
        );
    }

    #[test]
    fn a_template_replaces_the_parts_and_carries_the_data() {
        let configured = Envelope {
            template_id: Some("d-configured".into()),
            sandbox: true,
            from_name: String::new(),
            ..envelope()
        };
        let body = json_of(&configured, &message(Some(data())));
        assert_eq!(body["template_id"], "d-configured");
        assert_eq!(
            body["personalizations"][0]["dynamic_template_data"]["code"],
            "1234"
        );
        assert!(body.get("content").is_none());
        assert_eq!(
            body["mail_settings"],
            json!({ "sandbox_mode": { "enable": true } })
        );
        assert_eq!(body["from"], json!({ "email": "no-reply@example.com" }));

        let named = ProviderTemplate {
            id: Some("d-dialog".into()),
            ..data()
        };
        let body = json_of(&configured, &message(Some(named)));
        assert_eq!(
            body["template_id"], "d-dialog",
            "the dialog's template wins"
        );
    }
}
