//! `{{ var }}` text templates, compiled once when a dialog loads.
//!
//! Deliberately tiny: a template is literal text and variable references, nothing else, so
//! every variable can be checked at load time and rendering costs one pass with no
//! allocation beyond the output string.

use std::fmt::Write as _;

/// A compiled template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    /// The message that translates it in another locale (`ask_email-invalid-2`), for texts
    /// people read; `None` for parameters.
    id: Option<std::sync::Arc<str>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

/// Why a template does not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset of the problem in the template text.
    pub offset: usize,
    pub message: String,
}

/// How substituted values are escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    None,
    /// For the HTML part of an email: values the user typed must not become markup.
    Html,
    /// For a URL path: values are percent-encoded whole (a `/` or `..` a user typed stays
    /// inside one path segment), literals are kept as written. Also right for the values of
    /// an `application/x-www-form-urlencoded` body.
    UrlComponent,
    /// For the inside of a JSON string: quotes, backslashes and control characters escaped.
    JsonString,
}

impl Template {
    /// Compiles `text`. Variable names are letters, digits, `_` and `.` (`otp.attempts_left`).
    pub fn compile(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut consumed = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after_open = &rest[open + 2..];
            let Some(close) = after_open.find("}}") else {
                return Err(TemplateError {
                    offset: consumed + open,
                    message: "`{{` is never closed with `}}`".to_owned(),
                });
            };
            let name = after_open[..close].trim();
            if name.is_empty() {
                return Err(TemplateError {
                    offset: consumed + open,
                    message: "empty `{{ }}`".to_owned(),
                });
            }
            if !is_variable_name(name) {
                return Err(TemplateError {
                    offset: consumed + open,
                    message: format!(
                        "`{name}` is not a variable name (letters, digits, `_` and `.` only)"
                    ),
                });
            }
            parts.push(Part::Var(name.to_owned()));
            let advance = open + 2 + close + 2;
            consumed += advance;
            rest = &rest[advance..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self { parts, id: None })
    }

    /// A template with no variables.
    pub fn literal(text: &str) -> Self {
        Self {
            parts: vec![Part::Literal(text.to_owned())],
            id: None,
        }
    }

    /// The variables the template reads, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders with `lookup`; a variable it does not know renders as empty text.
    pub fn render<F>(&self, escape: Escape, mut lookup: F) -> String
    where
        F: FnMut(&str, &mut String) -> bool,
    {
        let mut out = String::with_capacity(self.len_hint());
        let mut value = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(name) => {
                    value.clear();
                    if lookup(name, &mut value) {
                        push_escaped(&mut out, &value, escape);
                    }
                }
            }
        }
        out
    }

    /// The template with the variables `lookup` knows replaced by their values (escaped as
    /// `escape` says) and the others kept as variables: values known before the rest (a
    /// request's parameters, before the code exists). A value becomes literal text and is
    /// never read as template text again, so a `{{ code }}` inside one stays those characters.
    #[must_use]
    pub fn bind<F>(&self, escape: Escape, mut lookup: F) -> Self
    where
        F: FnMut(&str, &mut String) -> bool,
    {
        let mut parts: Vec<Part> = Vec::with_capacity(self.parts.len());
        let mut value = String::new();
        for part in &self.parts {
            let literal = match part {
                Part::Literal(text) => text.clone(),
                Part::Var(name) => {
                    value.clear();
                    if !lookup(name, &mut value) {
                        parts.push(part.clone());
                        continue;
                    }
                    let mut escaped = String::with_capacity(value.len());
                    push_escaped(&mut escaped, &value, escape);
                    escaped
                }
            };
            match parts.last_mut() {
                Some(Part::Literal(previous)) => previous.push_str(&literal),
                _ => parts.push(Part::Literal(literal)),
            }
        }
        Self {
            parts,
            id: self.id.clone(),
        }
    }

    /// The template as the text of message `id` (see `dialog::locale`).
    #[must_use]
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The message that translates it, for texts people read.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The variable, when the template is one reference and nothing else (`"{{ seats }}"`):
    /// where a typed value can be kept typed (a number in a JSON body).
    pub fn sole_variable(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Var(name)] => Some(name),
            _ => None,
        }
    }

    /// The literal text of the template with its variables left out (for checking what the
    /// designer wrote, such as a `?` in a URL path).
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Literal(text) => Some(text.as_str()),
            Part::Var(_) => None,
        })
    }

    fn len_hint(&self) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.len(),
                Part::Var(_) => 16,
            })
            .sum()
    }
}

pub fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !name.starts_with('.')
        && !name.ends_with('.')
}

fn push_html_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

fn push_escaped(out: &mut String, value: &str, escape: Escape) {
    match escape {
        Escape::None => out.push_str(value),
        Escape::Html => push_html_escaped(out, value),
        Escape::UrlComponent => push_percent_encoded(out, value),
        Escape::JsonString => push_json_escaped(out, value),
    }
}

/// RFC 3986: everything but the unreserved characters, as UTF-8 bytes.
fn push_percent_encoded(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// What JSON needs escaped inside a string (RFC 8259 §7): `"`, `\\` and control characters.
fn push_json_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let mut units = [0; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
}

/// Writes a number without a trailing `.0` when it is whole.
pub fn write_number(out: &mut String, n: f64) {
    #[allow(clippy::cast_possible_truncation)]
    if n.fract() == 0.0 && n.abs() < 1e15 {
        let _ = write!(out, "{}", n as i64);
    } else {
        let _ = write!(out, "{n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_fixes_known_values_as_literal_text_and_keeps_the_rest() {
        let template = Template::compile("Hi {{ name }} <{{ id }}>: {{ code }}").unwrap();
        let bound = template.bind(Escape::Html, |name, out| match name {
            "name" => {
                out.push_str("{{ code }} & co");
                true
            }
            _ => false,
        });
        assert_eq!(bound.variables().collect::<Vec<_>>(), ["id", "code"]);
        let text = bound.render(Escape::None, |name, out| {
            out.push_str(if name == "code" { "0420" } else { "7" });
            true
        });
        assert_eq!(text, "Hi {{ code }} &amp; co <7>: 0420");
    }

    fn render(t: &Template, escape: Escape) -> String {
        t.render(escape, |name, out| {
            if name == "email" {
                out.push_str("<a@b.c>");
                true
            } else {
                false
            }
        })
    }

    #[test]
    fn renders_variables_and_literals() {
        let t = Template::compile("Sent to {{ email }}, {{missing}}!").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["email", "missing"]);
        assert_eq!(render(&t, Escape::None), "Sent to <a@b.c>, !");
        assert_eq!(render(&t, Escape::Html), "Sent to &lt;a@b.c&gt;, !");
        let path = Template::compile("/users/{{ email }}/bookings").unwrap();
        assert_eq!(
            render(&path, Escape::UrlComponent),
            "/users/%3Ca%40b.c%3E/bookings"
        );
        assert_eq!(path.sole_variable(), None);
        assert_eq!(
            Template::compile("{{ email }}").unwrap().sole_variable(),
            Some("email")
        );
    }

    #[test]
    fn json_escaping_keeps_a_value_inside_its_string() {
        let t = Template::compile(r#"{"text": "{{ text }}"}"#).unwrap();
        let tricky = "He said \"hi\"\\ \n\u{1}\u{7f} end";
        let body = t.render(Escape::JsonString, |_, out| {
            out.push_str(tricky);
            true
        });
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["text"], tricky);
    }

    #[test]
    fn rejects_broken_templates() {
        assert_eq!(Template::compile("a {{ b").unwrap_err().offset, 2);
        assert!(Template::compile("{{ }}").is_err());
        assert!(Template::compile("{{ a b }}").is_err());
    }

    #[test]
    fn numbers_print_plainly() {
        let mut s = String::new();
        write_number(&mut s, 3.0);
        s.push(' ');
        write_number(&mut s, 2.5);
        assert_eq!(s, "3 2.5");
    }
}
