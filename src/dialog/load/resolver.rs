//! Resolving: names to node indices, text to compiled templates whose variables are known.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::diagnostic::Diagnostic;
use crate::reader::Diagnostics;
use crate::yaml::Pos;

use super::super::expression::Expression;
use super::super::model::{EmailTemplate, Keyword, NodeIdx};
use super::super::template::Template;
use super::LoadEnv;
use super::keywords::RawKeyword;
use super::templates::EMAIL_VARIABLES;

/// A reference to a node by name, as written.
#[derive(Clone, Debug)]
pub struct Ref {
    pub name: String,
    pub pos: Pos,
}

impl Ref {
    /// Reads a node name written at `node`; `what` names the field in the error (`` `next` ``).
    pub fn read(d: &mut Diagnostics, node: &crate::yaml::Node, what: &str) -> Option<Ref> {
        d.string(node, what).map(|name| Ref {
            name,
            pos: node.pos,
        })
    }
}

/// Template text, as written.
#[derive(Clone, Debug)]
pub struct TextSrc {
    pub text: String,
    pub pos: Pos,
}

/// Turns names into indices and text into templates, reporting what does not resolve.
#[derive(Debug)]
pub struct Resolver<'a> {
    pub(super) index: &'a HashMap<String, NodeIdx>,
    pub d: &'a mut Diagnostics,
    pub(super) known_vars: &'a BTreeSet<String>,
    pub(super) sensitive_vars: &'a BTreeSet<String>,
    pub(super) template_names: &'a [String],
    pub(super) env: &'a LoadEnv,
    /// The email templates once compiled (before the nodes are resolved), by name.
    pub(super) email_templates: BTreeMap<String, EmailTemplate>,
    /// Every text people read, by message id, with where it is written (for translations).
    pub(super) message_ids: Vec<(String, Pos)>,
}

impl Resolver<'_> {
    pub fn node(&mut self, r: &Ref, what: &str) -> Option<NodeIdx> {
        if let Some(idx) = self.index.get(&r.name) {
            return Some(*idx);
        }
        // With no nodes at all (reported where `nodes` is, or is missing), every name would
        // be reported as unknown.
        if self.index.is_empty() {
            return None;
        }
        let diagnostic =
            Diagnostic::error(r.pos, format!("{what} points to unknown node `{}`", r.name));
        let diagnostic =
            match crate::diagnostic::did_you_mean(&r.name, self.index.keys().map(String::as_str)) {
                Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
                None => diagnostic.with_hint("define that node under `nodes:`, or fix the name"),
            };
        self.d.push(diagnostic);
        None
    }

    pub fn keyword(&mut self, raw: &RawKeyword) -> Option<Keyword> {
        let target = self.node(&raw.target, &format!("keyword `{}`", raw.words[0]))?;
        Some(Keyword {
            words: raw.words.clone(),
            target,
            reset: raw.reset,
        })
    }

    /// Compiles the texts of a list that people read (reporting each problem; `None` if any
    /// has one), naming them for translation: `id` for the first, `id-2`, `id-3`… after it.
    pub fn messages(&mut self, sources: &[TextSrc], id: &str) -> Option<Vec<Template>> {
        let templates: Vec<Option<Template>> = sources
            .iter()
            .enumerate()
            .map(|(i, src)| {
                let message = if i == 0 {
                    id.to_owned()
                } else {
                    format!("{id}-{}", i + 1)
                };
                let template = self.template(src)?.with_id(&message);
                self.message_ids.push((message, src.pos));
                Some(template)
            })
            .collect();
        templates.into_iter().collect()
    }

    /// Records a text that people read but that is no template (a choice's label), for
    /// translation.
    pub fn label(&mut self, id: String, pos: Pos) {
        self.message_ids.push((id, pos));
    }

    /// Compiles a message template and checks its variables against the dialog's.
    pub fn template(&mut self, src: &TextSrc) -> Option<Template> {
        let template = self.compile(src)?;
        let mut ok = true;
        for var in template.variables() {
            if self.sensitive_vars.contains(var) {
                self.d.push(
                    Diagnostic::error(
                        src.pos,
                        format!("`{var}` holds a one-time code and cannot be shown in a message"),
                    )
                    .with_hint("codes never appear in replies, history or logs"),
                );
                ok = false;
            } else if !self.known_vars.contains(var) {
                self.unknown_variable(src.pos, var, "template", &[]);
                ok = false;
            }
        }
        ok.then_some(template)
    }

    /// Like [`Resolver::template`], but may read sensitive variables: for parameters that
    /// never reach a reply (the code handed to `otp.verify`).
    pub fn secret_template(&mut self, src: &TextSrc) -> Option<Template> {
        let template = self.compile(src)?;
        let mut ok = true;
        for var in template.variables() {
            if !self.known_vars.contains(var) {
                self.unknown_variable(src.pos, var, "template", &[]);
                ok = false;
            }
        }
        ok.then_some(template)
    }

    /// Like [`Resolver::template`], for email templates, which may also use [`EMAIL_VARIABLES`];
    /// `id` names it for translation.
    pub(super) fn email_template(&mut self, src: &TextSrc, id: String) -> Option<Template> {
        let template = self.compile(src)?;
        let mut ok = true;
        for var in template.variables() {
            if !self.known_vars.contains(var) && !EMAIL_VARIABLES.contains(&var) {
                self.unknown_variable(src.pos, var, "template", &EMAIL_VARIABLES);
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let template = template.with_id(&id);
        self.message_ids.push((id, src.pos));
        Some(template)
    }

    /// Compiles an expression (`tries + 1`) and checks the variables it reads: known, and not
    /// a one-time code.
    pub fn expression(&mut self, src: &TextSrc) -> Option<Expression> {
        let expression = match Expression::compile(&src.text) {
            Ok(expression) => expression,
            Err(error) => {
                self.d.push(
                    Diagnostic::error(src.pos, format!("expression: {}", error.0)).with_hint(
                        "expressions are written like `tries + 1`, `name | trim | lower` or `\"Hi \" ~ name`; text in quotes",
                    ),
                );
                return None;
            }
        };
        let mut ok = true;
        for var in expression.variables() {
            if self.sensitive_vars.contains(&var) {
                self.d.push(
                    Diagnostic::error(
                        src.pos,
                        format!(
                            "`{var}` holds a one-time code and cannot be used in an expression"
                        ),
                    )
                    .with_hint("codes never leave the variable their `ask` node saved them in"),
                );
                ok = false;
            } else if !self.known_vars.contains(&var) {
                self.unknown_variable(src.pos, &var, "expression", &[]);
                ok = false;
            }
        }
        ok.then_some(expression)
    }

    fn compile(&mut self, src: &TextSrc) -> Option<Template> {
        match Template::compile(&src.text) {
            Ok(template) => Some(template),
            Err(error) => {
                self.d.push(
                    Diagnostic::error(src.pos, format!("template: {}", error.message))
                        .with_hint("variables are written `{{ name }}`"),
                );
                None
            }
        }
    }

    fn unknown_variable(&mut self, pos: Pos, var: &str, place: &str, extra: &[&str]) {
        let candidates: Vec<&str> = self
            .known_vars
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
            .collect();
        let diagnostic = Diagnostic::error(pos, format!("unknown variable `{var}` in {place}"));
        let diagnostic = match crate::diagnostic::did_you_mean(var, candidates.iter().copied()) {
            Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
            None if candidates.is_empty() => diagnostic
                .with_hint("no variables are set in this dialog; `ask` nodes and actions set them"),
            None => diagnostic.with_hint(format!(
                "variables set in this dialog: {}",
                candidates.join(", ")
            )),
        };
        self.d.push(diagnostic);
    }

    /// Whether a node sets the variable or `context:` gives it a default.
    pub fn is_set(&self, var: &str) -> bool {
        self.known_vars.contains(var)
    }

    /// Checks that a condition's variable is set somewhere in the dialog.
    pub fn variable(&mut self, var: &str, pos: Pos) -> bool {
        if self.known_vars.contains(var) {
            return true;
        }
        let candidates: Vec<&str> = self.known_vars.iter().map(String::as_str).collect();
        let diagnostic = Diagnostic::error(pos, format!("unknown variable `{var}` in condition"));
        self.d.push(diagnostic.suggest(var, candidates.iter().copied()).or_hint(|| {
            "no `ask` node or action sets it; declare it under `context:` to give it a default".to_owned()
        }));
        false
    }

    /// Checks that an email template of this name exists.
    pub fn email_template_name(&mut self, name: &str, pos: Pos) -> bool {
        if self.template_names.iter().any(|t| t == name) {
            return true;
        }
        let diagnostic = Diagnostic::error(pos, format!("unknown email template `{name}`"));
        let diagnostic = match crate::diagnostic::did_you_mean(
            name,
            self.template_names.iter().map(String::as_str),
        ) {
            Some(best) => diagnostic.with_hint(format!("did you mean `{best}`?")),
            None => diagnostic.with_hint("define it under `templates:` with a subject and a text"),
        };
        self.d.push(diagnostic);
        false
    }

    /// Checks that the configuration declares a service of this name.
    pub fn service(&mut self, name: &str, pos: Pos) -> bool {
        let services = &self.env.services;
        if services.contains(name) {
            return true;
        }
        let diagnostic = Diagnostic::error(pos, format!("unknown service `{name}`"))
            .suggest(name, services.iter().map(String::as_str));
        self.d.push(diagnostic.or_hint(|| {
            if services.is_empty() {
                "no services are configured: declare it under `services:` in config.yaml with its `base_url`".to_owned()
            } else {
                format!(
                    "services in the configuration: {}",
                    services.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
                )
            }
        }));
        false
    }

    /// Checks that an email template of this name exists and needs nothing only `otp.send`
    /// provides (`code`), for sending it on its own.
    pub fn plain_email_template(&mut self, name: &str, pos: Pos) -> bool {
        if !self.email_template_name(name, pos) {
            return false;
        }
        let Some(var) = self
            .email_templates
            .get(name)
            .and_then(EmailTemplate::otp_variable)
        else {
            return true;
        };
        self.d.push(
            Diagnostic::error(pos, format!("template `{name}` uses `{var}`, which only `otp.send` provides"))
                .with_hint("an email sent with `email.send` may use the dialog's variables and `email`; send codes with `otp.send`"),
        );
        false
    }
}
