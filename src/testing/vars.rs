//! Script variables: `vars:` and values captured from emails, used as `{{ name }}` in user
//! text, expectations and addresses.
//!
//! Every variable is checked while the script is read ([`Scope`]), so `{{ code }}` before the
//! step that captures `code` is a `file:line:col` error rather than a run that types nothing.
//! `{{ NAME.wrong }}` is a value of the same shape as `NAME` that differs from it in every
//! character: a wrong code that can never be right by chance.

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::dialog::template::{Escape, Template, is_variable_name};
use crate::reader::Diagnostics;
use crate::yaml::Node;

/// The suffix that turns a captured value into a different one of the same shape.
pub const WRONG_SUFFIX: &str = ".wrong";

/// The built-in variable every script has: a token unique to the script in this run (`t3` in
/// process; with `--url`, one that also differs between runs). Addresses written with it
/// (`alice+{{ run }}@example.com`) keep a running server's per-address limits from carrying
/// over from one script or run to the next.
pub const RUN: &str = "run";

/// The values a running script has set so far.
#[derive(Debug, Default, Clone)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl Vars {
    pub fn set(&mut self, name: &str, value: String) {
        self.values.insert(name.to_owned(), value);
    }

    /// A variable's value; `NAME.wrong` derives from `NAME`.
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some(value) = self.values.get(name) {
            return Some(value.clone());
        }
        let base = name.strip_suffix(WRONG_SUFFIX)?;
        self.values.get(base).map(|value| wrong(value))
    }

    pub fn render(&self, template: &Template) -> String {
        template.render(Escape::None, |name, out| match self.get(name) {
            Some(value) => {
                out.push_str(&value);
                true
            }
            None => false,
        })
    }
}

/// Shifts every digit and letter by one (`9` → `0`, `z` → `a`), keeping everything else: the
/// result has the same length and alphabet, and differs at every position that matters.
pub fn wrong(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '0'..='8' | 'a'..='y' | 'A'..='Y' => char::from(u8::try_from(c).unwrap_or(b'0') + 1),
            '9' => '0',
            'z' => 'a',
            'Z' => 'A',
            other => other,
        })
        .collect()
}

/// The variable names defined so far while a script is read.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    names: Vec<String>,
}

impl Scope {
    /// A scope that knows the built-in variables.
    pub fn with_builtins() -> Self {
        let mut scope = Self::default();
        scope.define(RUN);
        scope
    }

    pub fn define(&mut self, name: &str) {
        if !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_owned());
        }
    }

    fn knows(&self, name: &str) -> bool {
        let base = name.strip_suffix(WRONG_SUFFIX).unwrap_or(name);
        self.names.iter().any(|n| n == base)
    }

    /// Reads `node` as templated text and checks that every variable in it is defined.
    pub fn template(&self, node: &Node, d: &mut Diagnostics, what: &str) -> Option<Template> {
        let text = d.text(node, what)?;
        let template = match Template::compile(&text) {
            Ok(template) => template,
            Err(error) => {
                d.error(node.pos, format!("{what}: {}", error.message));
                return None;
            }
        };
        let mut ok = true;
        for name in template.variables().filter(|name| !self.knows(name)) {
            ok = false;
            let diagnostic = Diagnostic::error(
                node.pos,
                format!("{what} uses `{{{{ {name} }}}}` before any step defines `{name}`"),
            );
            let diagnostic = match did_you_mean(name, self.names.iter().map(String::as_str)) {
                Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
                None => diagnostic.with_hint(
                    "capture it first: `- email: { to: ..., capture: { NAME: 'regex' } }`, or set it under `vars:`",
                ),
            };
            d.push(diagnostic);
        }
        ok.then_some(template)
    }
}

/// Reads `vars:` (names to templated texts, each may use the ones before it), defining them
/// in `scope`.
pub fn read_vars(
    node: &Node,
    d: &mut Diagnostics,
    scope: &mut Scope,
) -> Option<Vec<(String, Template)>> {
    let Some(entries) = node.as_map() else {
        d.error(
            node.pos,
            format!(
                "`vars` must map names to texts, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut vars = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let name = d.string(key, "a variable name").filter(|name| {
            let valid = is_variable_name(name);
            if !valid {
                d.error(
                    key.pos,
                    format!("`{name}` is not a variable name (letters, digits, `_` and `.`)"),
                );
            }
            valid
        });
        let template = scope.template(value, d, "a variable");
        match (name, template) {
            (Some(name), Some(template)) => {
                scope.define(&name);
                vars.push((name, template));
            }
            _ => ok = false,
        }
    }
    ok.then_some(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_value_differs_everywhere_and_keeps_its_shape() {
        assert_eq!(wrong("0189"), "1290");
        assert_eq!(wrong("AZ9z-x"), "BA0a-y");
        for code in ["0000", "9999", "4821"] {
            let other = wrong(code);
            assert_eq!(other.len(), code.len());
            assert!(other.chars().zip(code.chars()).all(|(a, b)| a != b));
        }
    }

    #[test]
    fn variables_render_and_derive_wrong_values() {
        let mut vars = Vars::default();
        vars.set("code", "1234".into());
        let template = Template::compile("{{ code }} / {{ code.wrong }} / {{ nope }}").unwrap();
        assert_eq!(vars.render(&template), "1234 / 2345 / ");
    }

    #[test]
    fn a_variable_used_before_it_is_defined_is_reported() {
        let mut scope = Scope::default();
        scope.define("code");
        let doc = crate::yaml::parse("a: '{{ cod }}'\nb: '{{ code.wrong }}'\n").unwrap();
        let mut d = Diagnostics::default();
        assert!(
            scope
                .template(doc.get("a").unwrap(), &mut d, "`user`")
                .is_none()
        );
        assert!(
            scope
                .template(doc.get("b").unwrap(), &mut d, "`user`")
                .is_some()
        );
        assert_eq!(d.items.len(), 1);
        assert_eq!(
            d.items[0].message,
            "`user` uses `{{ cod }}` before any step defines `cod`"
        );
        assert_eq!(d.items[0].hint.as_deref(), Some("did you mean `code`?"));
    }
}
