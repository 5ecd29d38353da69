//! `templates:` — the emails a dialog sends, read and then compiled against its variables.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;
use crate::reader::{Diagnostics, MapReader};
use crate::yaml::{Node as YamlNode, Pos};

use super::super::model::EmailTemplate;
use super::super::template::Template;
use super::resolver::{Resolver, TextSrc};

pub(super) struct RawTemplate {
    pos: Pos,
    subject: Option<TextSrc>,
    text: Option<TextSrc>,
    html: Option<TextSrc>,
    provider_template_id: Option<String>,
}

pub(super) fn read_templates(
    node: &YamlNode,
    d: &mut Diagnostics,
) -> BTreeMap<String, RawTemplate> {
    let mut templates = BTreeMap::new();
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`templates` must be a mapping of template names to emails, found {}",
                node.value.kind()
            ),
        );
        return templates;
    };
    for (key, value) in entries {
        let Some(name) = d.string(key, "a template name") else {
            continue;
        };
        let Some(mut map) = d.map(value, &format!("template `{name}`")) else {
            continue;
        };
        let text_of = |key: &'static str, map: &mut MapReader<'_>, d: &mut Diagnostics| {
            map.take(key).and_then(|n| {
                d.text(n, &format!("`{key}`"))
                    .map(|text| TextSrc { text, pos: n.pos })
            })
        };
        let raw = RawTemplate {
            pos: key.pos,
            subject: text_of("subject", &mut map, d),
            text: text_of("text", &mut map, d),
            html: text_of("html", &mut map, d),
            provider_template_id: map
                .take("sendgrid_template_id")
                .and_then(|n| d.string(n, "`sendgrid_template_id`")),
        };
        map.finish(d, &format!("template `{name}`"));
        if templates.contains_key(&name) {
            d.error(key.pos, format!("template `{name}` is defined twice"));
            continue;
        }
        templates.insert(name, raw);
    }
    templates
}

/// Variables an email template may use besides the context: set by `otp.send` for the email.
pub const EMAIL_VARIABLES: [&str; 3] = ["code", "email", "expires_in_minutes"];

pub(super) fn resolve_templates(
    raw: BTreeMap<String, RawTemplate>,
    r: &mut Resolver<'_>,
) -> BTreeMap<String, EmailTemplate> {
    let mut templates = BTreeMap::new();
    for (name, t) in raw {
        let what = format!("template `{name}`");
        let (Some(subject), Some(text)) = (&t.subject, &t.text) else {
            r.d.push(
                Diagnostic::error(t.pos, format!("{what} needs a `subject` and a `text`"))
                    .with_hint("the plain-text part is required; `html` is optional"),
            );
            continue;
        };
        let subject = r.email_template(subject, format!("{name}-subject"));
        let text = r.email_template(text, format!("{name}-text"));
        let html = t
            .html
            .as_ref()
            .map(|h| r.email_template(h, format!("{name}-html")));
        if let (Some(subject), Some(text), Some(html)) =
            (subject, text, html.unwrap_or(Some(Template::literal(""))))
        {
            let html = t.html.is_some().then_some(html);
            templates.insert(
                name,
                EmailTemplate {
                    subject,
                    text,
                    html,
                    provider_template_id: t.provider_template_id,
                },
            );
        }
    }
    templates
}
