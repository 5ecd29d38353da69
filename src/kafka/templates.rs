//! The templates a generate request's `templateName` picks (`kafka.templates`), bound to the
//! request's parameters before the code exists: the code and its lifetime are filled in where
//! every message is rendered (`engine::actions::deliver`).

use std::collections::BTreeMap;

use crate::config::{CODE_VARIABLES, KafkaTemplate};
use crate::dialog::model::EmailTemplate;
use crate::dialog::template::{Escape, Template};

use super::wire::Channel;

/// The configured templates, compiled.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    by_name: BTreeMap<String, Compiled>,
}

#[derive(Debug, Clone)]
struct Compiled {
    email: Option<EmailTemplate>,
    sms: Option<Template>,
}

/// What one request's message is made from.
#[derive(Debug, Clone)]
pub enum Chosen {
    /// No templates are configured: the built-in email or text.
    BuiltIn,
    Email(EmailTemplate),
    Sms(Template),
}

impl Templates {
    /// Compiles `config` (checked when the configuration was read).
    pub fn from_config(config: &BTreeMap<String, KafkaTemplate>) -> Result<Self, String> {
        let compile = |name: &str, text: &str| {
            Template::compile(text)
                .map_err(|error| format!("`kafka.templates.{name}`: {}", error.message))
        };
        let mut by_name = BTreeMap::new();
        for (name, template) in config {
            let email = match &template.email {
                Some(email) => Some(EmailTemplate {
                    subject: compile(name, &email.subject)?,
                    text: compile(name, &email.text)?,
                    html: email
                        .html
                        .as_deref()
                        .map(|html| compile(name, html))
                        .transpose()?,
                    provider_template_id: None,
                }),
                None => None,
            };
            let sms = template
                .sms
                .as_deref()
                .map(|sms| compile(name, sms))
                .transpose()?;
            by_name.insert(name.clone(), Compiled { email, sms });
        }
        Ok(Self { by_name })
    }

    /// The message `name` names for `channel`, with `params` filled in; `Err` says why the
    /// request cannot be served (an unknown name, a missing part or parameter).
    pub fn choose(
        &self,
        name: &str,
        channel: Channel,
        params: &BTreeMap<String, String>,
    ) -> Result<Chosen, String> {
        if self.by_name.is_empty() {
            return Ok(Chosen::BuiltIn);
        }
        let Some(compiled) = self.by_name.get(name) else {
            return Err(format!(
                "no template named `{name}`: the configured ones are {}",
                self.by_name
                    .keys()
                    .map(|known| format!("`{known}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let missing = |template: &Template| {
            template
                .variables()
                .find(|var| !CODE_VARIABLES.contains(var) && !params.contains_key(*var))
                .map(|var| {
                    format!("the template `{name}` needs `{var}`, which the request does not give")
                })
        };
        let bind = |template: &Template, escape: Escape| {
            template.bind(escape, |var, out| {
                if CODE_VARIABLES.contains(&var) {
                    return false;
                }
                params.get(var).is_some_and(|value| {
                    out.push_str(value);
                    true
                })
            })
        };
        match channel {
            Channel::Mail => {
                let Some(email) = &compiled.email else {
                    return Err(format!("the template `{name}` has no email"));
                };
                let parts = [Some(&email.subject), Some(&email.text), email.html.as_ref()];
                if let Some(error) = parts.into_iter().flatten().find_map(missing) {
                    return Err(error);
                }
                Ok(Chosen::Email(EmailTemplate {
                    subject: bind(&email.subject, Escape::None),
                    text: bind(&email.text, Escape::None),
                    html: email.html.as_ref().map(|html| bind(html, Escape::Html)),
                    provider_template_id: None,
                }))
            }
            Channel::Sms => {
                let Some(sms) = &compiled.sms else {
                    return Err(format!("the template `{name}` has no SMS text"));
                };
                if let Some(error) = missing(sms) {
                    return Err(error);
                }
                Ok(Chosen::Sms(bind(sms, Escape::None)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KafkaEmailTemplate;

    fn templates() -> Templates {
        let mut config = BTreeMap::new();
        config.insert(
            "otpMail".to_owned(),
            KafkaTemplate {
                email: Some(KafkaEmailTemplate {
                    subject: "Code for {{ clientId }}".to_owned(),
                    text: "{{ code }}".to_owned(),
                    html: Some("<b>{{ clientId }}</b> {{ code }}".to_owned()),
                }),
                sms: None,
            },
        );
        Templates::from_config(&config).unwrap()
    }

    #[test]
    fn a_name_picks_its_template_with_the_parameters_filled_in() {
        let params = BTreeMap::from([
            ("clientId".to_owned(), "<7>".to_owned()),
            ("code".to_owned(), "1234".to_owned()),
        ]);
        let Ok(Chosen::Email(email)) = templates().choose("otpMail", Channel::Mail, &params) else {
            panic!("an email template");
        };
        let render = |t: &Template| {
            t.render(Escape::None, |var, out| {
                out.push_str(if var == "code" { "0420" } else { "?" });
                true
            })
        };
        assert_eq!(render(&email.subject), "Code for <7>");
        // A request cannot set the code.
        assert_eq!(render(&email.text), "0420");
        assert_eq!(
            render(email.html.as_ref().unwrap()),
            "<b>&lt;7&gt;</b> 0420"
        );
    }

    #[test]
    fn unknown_names_missing_parts_and_missing_parameters_are_refused() {
        let none = BTreeMap::new();
        let unknown = templates()
            .choose("otpMial", Channel::Mail, &none)
            .unwrap_err();
        assert!(unknown.contains("`otpMail`"), "{unknown}");
        let no_sms = templates()
            .choose("otpMail", Channel::Sms, &none)
            .unwrap_err();
        assert!(no_sms.contains("no SMS"), "{no_sms}");
        let missing = templates()
            .choose("otpMail", Channel::Mail, &none)
            .unwrap_err();
        assert!(missing.contains("`clientId`"), "{missing}");
        assert!(matches!(
            Templates::default().choose("anything", Channel::Sms, &none),
            Ok(Chosen::BuiltIn)
        ));
    }
}
