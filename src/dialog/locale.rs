//! Dialogs in several languages: Fluent (`.ftl`) files beside the dialog, one per locale.
//!
//! A dialog's YAML texts are its default locale (the first of `locales:`). Each other locale
//! has `<dialog file stem>.<locale>.ftl` beside the YAML, with one message per text, named
//! after where the text is: `ask_service` for a node's (first) prompt, `ask_service-2` for
//! its second, `ask_service-invalid` for its (first) invalid prompt, `ask_service-haircut` for
//! a choice's label, `otp_email-subject` / `-text` / `-html` for an email template. Variables
//! are Fluent's `{ $email }`, a `.` in a name written `_` (`{ $otp_attempts_left }`); numbers
//! select plural forms (`{ $minutes -> [one] minute *[other] minutes }`). A file for the
//! default locale is optional and, where it has a message, wins over the YAML's text, so the
//! default language gets plurals too.
//!
//! Loading checks every text has a message in every declared locale, and that messages use
//! only the dialog's variables and never a code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use unic_langid::LanguageIdentifier;

use crate::diagnostic::Diagnostic;
use crate::yaml::Pos;

use super::value::{Context, Value};

/// The locale of a dialog that declares none.
pub const DEFAULT_LOCALE: &str = "en";

/// A translation file's text, as the loader is given it.
#[derive(Debug, Clone)]
pub struct TranslationSource {
    /// `fr`, `pt-BR`: from the file name.
    pub locale: String,
    pub source: String,
}

/// One locale's messages.
struct Locale {
    tag: String,
    lang: LanguageIdentifier,
    bundle: FluentBundle<FluentResource>,
}

/// A dialog's locales: its default (the YAML's own texts) and its translations.
#[derive(Default)]
pub struct Translations {
    default: String,
    locales: Vec<Locale>,
}

impl fmt::Debug for Translations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Translations")
            .field("default", &self.default)
            .field(
                "locales",
                &self.locales.iter().map(|l| &l.tag).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The index of the locale a session speaks, into a dialog's [`Translations`].
pub type LocaleIdx = usize;

impl Translations {
    /// The locale the YAML's texts are in.
    pub fn default_locale(&self) -> &str {
        if self.default.is_empty() {
            DEFAULT_LOCALE
        } else {
            &self.default
        }
    }

    /// Every locale the dialog speaks, the default first.
    pub fn tags(&self) -> Vec<&str> {
        let mut tags = vec![self.default_locale()];
        tags.extend(
            self.locales
                .iter()
                .map(|l| l.tag.as_str())
                .filter(|t| *t != self.default_locale()),
        );
        tags
    }

    /// The messages for a session that asked for `wanted` (`fr-CA`): that locale, else its
    /// language (`fr`), else the default's file; `None` means the YAML's texts.
    pub fn pick(&self, wanted: Option<&str>) -> Option<LocaleIdx> {
        let wanted: Option<LanguageIdentifier> = wanted.and_then(|w| w.parse().ok());
        if let Some(wanted) = &wanted {
            if let Some(i) = self.locales.iter().position(|l| l.lang == *wanted) {
                return Some(i);
            }
            if let Some(i) = self
                .locales
                .iter()
                .position(|l| l.lang.language == wanted.language)
            {
                return Some(i);
            }
        }
        self.locales
            .iter()
            .position(|l| l.tag == self.default_locale())
    }

    /// The message `id` of `locale`, rendered with the context's values (and `extra` ones,
    /// such as an email's code); `None` when that locale has no such message.
    pub fn render(
        &self,
        locale: LocaleIdx,
        id: &str,
        context: &Context,
        now: DateTime<Utc>,
        extra: &[(&str, Value)],
    ) -> Option<String> {
        let locale = self.locales.get(locale)?;
        let pattern = locale.bundle.get_message(id)?.value()?;
        let mut args = FluentArgs::new();
        for (name, slot) in context.iter() {
            if slot.sensitive || slot.expires_at.is_some_and(|at| at <= now) {
                continue;
            }
            args.set(fluent_name(name), fluent_value(&slot.value));
        }
        for (name, value) in extra {
            args.set(fluent_name(name), fluent_value(value));
        }
        let mut errors = Vec::new();
        let text = locale
            .bundle
            .format_pattern(pattern, Some(&args), &mut errors);
        Some(text.into_owned())
    }
}

/// Whether `tag` is a language tag a session may ask for (`fr`, `pt-BR`).
pub fn is_locale(tag: &str) -> bool {
    tag.len() <= 35 && tag.parse::<LanguageIdentifier>().is_ok()
}

/// A variable's name in Fluent, where `.` is not allowed: `otp.length` → `otp_length`.
pub fn fluent_name(variable: &str) -> String {
    variable.replace('.', "_")
}

fn fluent_value(value: &Value) -> FluentValue<'static> {
    match value {
        Value::Number(n) => FluentValue::from(*n),
        Value::Bool(b) => FluentValue::from(if *b { "true" } else { "false" }),
        Value::Text(t) => FluentValue::from(t.clone()),
    }
}

/// What [`build`] is told about the dialog.
#[derive(Debug)]
pub struct Texts<'a> {
    /// `locales:` as written, the default first; empty when the dialog declares none.
    pub declared: &'a [(String, Pos)],
    /// Every localisable text: its message id and where its YAML text is.
    pub ids: &'a [(String, Pos)],
    /// The dialog's variables, and those that hold codes.
    pub variables: &'a BTreeSet<String>,
    pub sensitive: &'a BTreeSet<String>,
    /// Names an email template may also use (`code`).
    pub email_variables: &'a [&'a str],
}

/// The translations, the problems to report in the dialog's YAML, and those of each
/// translation file (by locale).
#[derive(Debug)]
pub struct Built {
    pub translations: Translations,
    pub problems: Vec<Diagnostic>,
    pub file_problems: BTreeMap<String, Vec<Diagnostic>>,
}

/// Parses and checks the translation files against the dialog's texts.
pub fn build(texts: &Texts<'_>, files: &[TranslationSource]) -> Built {
    let mut problems = Vec::new();
    let mut file_problems: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
    let default = texts
        .declared
        .first()
        .map_or(DEFAULT_LOCALE, |(tag, _)| tag.as_str())
        .to_owned();
    let mut locales = Vec::new();
    for file in files {
        let problems_here = file_problems.entry(file.locale.clone()).or_default();
        let declared = texts.declared.iter().any(|(tag, _)| *tag == file.locale)
            || (texts.declared.is_empty() && file.locale == default);
        if !declared {
            problems_here.push(
                Diagnostic::warning(
                    Pos { line: 1, col: 1 },
                    format!(
                        "locale `{}` is not among the dialog's `locales:`; this file is not used",
                        file.locale
                    ),
                )
                .with_hint("add it to `locales:` in the dialog, or remove the file"),
            );
            continue;
        }
        let Ok(lang) = file.locale.parse::<LanguageIdentifier>() else {
            continue; // reported where `locales:` names it
        };
        let resource = match FluentResource::try_new(file.source.clone()) {
            Ok(resource) => resource,
            Err((_, errors)) => {
                for error in errors {
                    problems_here.push(Diagnostic::error(
                        position(&file.source, error.pos.start),
                        format!("Fluent syntax: {}", error.kind),
                    ));
                }
                continue;
            }
        };
        check_messages(&resource, &file.source, texts, problems_here);
        let mut bundle = FluentBundle::new_concurrent(vec![lang.clone()]);
        // Chat text is plain: no invisible direction marks around every value.
        bundle.set_use_isolating(false);
        if let Err(errors) = bundle.add_resource(resource) {
            for error in errors {
                problems_here.push(Diagnostic::error(
                    Pos { line: 1, col: 1 },
                    error.to_string(),
                ));
            }
        }
        locales.push(Locale {
            tag: file.locale.clone(),
            lang,
            bundle,
        });
    }
    check_declared(texts, &locales, &file_problems, &mut problems);
    Built {
        translations: Translations { default, locales },
        problems,
        file_problems,
    }
}

/// Each declared locale: a language tag, listed once, and (but the default) a file with
/// every text of the dialog.
fn check_declared(
    texts: &Texts<'_>,
    locales: &[Locale],
    file_problems: &BTreeMap<String, Vec<Diagnostic>>,
    problems: &mut Vec<Diagnostic>,
) {
    for (i, (tag, pos)) in texts.declared.iter().enumerate() {
        if tag.parse::<LanguageIdentifier>().is_err() {
            problems.push(
                Diagnostic::error(*pos, format!("`{tag}` is not a locale"))
                    .with_hint("a locale is a language tag such as `en`, `fr` or `pt-BR`"),
            );
            continue;
        }
        if texts.declared[..i].iter().any(|(t, _)| t == tag) {
            problems.push(Diagnostic::error(
                *pos,
                format!("locale `{tag}` is listed twice"),
            ));
            continue;
        }
        // The default's texts are the YAML's; the others need a file with each of them.
        if i == 0 {
            continue;
        }
        let Some(locale) = locales.iter().find(|l| l.tag == *tag) else {
            if !file_problems
                .get(tag)
                .is_some_and(|p| p.iter().any(Diagnostic::is_error))
            {
                problems.push(
                    Diagnostic::error(*pos, format!("no translation file for locale `{tag}`"))
                        .with_hint(format!("write the dialog's texts in Fluent in `<this file's name>.{tag}.ftl` beside it")),
                );
            }
            continue;
        };
        for (id, text_pos) in texts.ids {
            if !locale.bundle.has_message(id) {
                problems.push(
                    Diagnostic::error(*text_pos, format!("this text has no `{tag}` translation"))
                        .with_hint(format!("add `{id} = …` to the `{tag}` file")),
                );
            }
        }
    }
}

/// Each message: a text of the dialog, using only its variables (and never a code).
fn check_messages(
    resource: &FluentResource,
    source: &str,
    texts: &Texts<'_>,
    problems: &mut Vec<Diagnostic>,
) {
    let known: BTreeMap<String, &str> = texts
        .variables
        .iter()
        .map(|v| (fluent_name(v), v.as_str()))
        .chain(texts.email_variables.iter().map(|v| ((*v).to_owned(), *v)))
        .collect();
    for entry in resource.entries() {
        let ast::Entry::Message(message) = entry else {
            continue;
        };
        let id = message.id.name;
        let at = message_position(source, id);
        if !texts.ids.iter().any(|(text, _)| text == id) {
            problems.push(
                Diagnostic::warning(at, format!("message `{id}` is no text of the dialog"))
                    .with_hint("messages are named after the node (and field) whose text they translate, such as `ask_email` or `ask_email-invalid-2`"),
            );
        }
        let mut used = Vec::new();
        if let Some(value) = &message.value {
            pattern_variables(value, &mut used);
        }
        for attribute in &message.attributes {
            pattern_variables(&attribute.value, &mut used);
        }
        for var in used {
            match known.get(var) {
                Some(name) if texts.sensitive.contains(*name) => problems.push(
                    Diagnostic::error(
                        at,
                        format!("`${var}` holds a one-time code and cannot be shown in a message"),
                    )
                    .with_hint("codes never appear in replies, history or logs"),
                ),
                Some(_) => {}
                None => problems.push(
                    Diagnostic::error(at, format!("unknown variable `${var}` in message `{id}`"))
                        .suggest(var, known.keys().map(String::as_str))
                        .or_hint(|| {
                            "variables are the dialog's, with `_` for `.` (`$otp_attempts_left`)"
                                .to_owned()
                        }),
                ),
            }
        }
    }
}

fn pattern_variables<'s>(pattern: &ast::Pattern<&'s str>, out: &mut Vec<&'s str>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_variables(expression, out);
        }
    }
}

fn expression_variables<'s>(expression: &ast::Expression<&'s str>, out: &mut Vec<&'s str>) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_variables(selector, out);
            for variant in variants {
                pattern_variables(&variant.value, out);
            }
        }
        ast::Expression::Inline(inline) => inline_variables(inline, out),
    }
}

fn inline_variables<'s>(inline: &ast::InlineExpression<&'s str>, out: &mut Vec<&'s str>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => out.push(id.name),
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for argument in &arguments.positional {
                inline_variables(argument, out);
            }
            for named in &arguments.named {
                inline_variables(&named.value, out);
            }
        }
        ast::InlineExpression::Placeable { expression } => expression_variables(expression, out),
        _ => {}
    }
}

/// Where message `id` is defined (its first line), for reports.
fn message_position(source: &str, id: &str) -> Pos {
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        if line
            .strip_prefix(id)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return position(source, offset);
        }
        offset += line.len();
    }
    Pos { line: 1, col: 1 }
}

/// The 1-based line and column of a byte offset.
fn position(source: &str, offset: usize) -> Pos {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// The shipped flagship's translation files, for tests that load it from its source.
#[cfg(test)]
pub(crate) fn flagship_translations() -> Vec<TranslationSource> {
    vec![
        TranslationSource {
            locale: "en".into(),
            source: include_str!("../../dialogs/otp_authentication.en.ftl").into(),
        },
        TranslationSource {
            locale: "fr".into(),
            source: include_str!("../../dialogs/otp_authentication.fr.ftl").into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(
        declared: &'a [(String, Pos)],
        ids: &'a [(String, Pos)],
        variables: &'a BTreeSet<String>,
        sensitive: &'a BTreeSet<String>,
    ) -> Texts<'a> {
        Texts {
            declared,
            ids,
            variables,
            sensitive,
            email_variables: &[],
        }
    }

    #[test]
    fn a_translation_renders_with_plurals_and_falls_back_by_language() {
        let at = Pos { line: 1, col: 1 };
        let declared = [("en".to_owned(), at), ("fr".to_owned(), at)];
        let ids = [("ask_code".to_owned(), at)];
        let variables: BTreeSet<String> = ["otp.expires_in_minutes".to_owned()].into();
        let built = build(
            &texts(&declared, &ids, &variables, &BTreeSet::new()),
            &[TranslationSource {
                locale: "fr".into(),
                source: "ask_code = Le code expire dans { $otp_expires_in_minutes ->\n    [one] une minute\n   *[other] { $otp_expires_in_minutes } minutes\n}.\n".into(),
            }],
        );
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        let fr = built.translations.pick(Some("fr-CA")).unwrap();
        let mut context = Context::default();
        context.set("otp.expires_in_minutes", Value::Number(1.0));
        let now = DateTime::<Utc>::MIN_UTC;
        let render =
            |context: &Context| built.translations.render(fr, "ask_code", context, now, &[]);
        assert_eq!(
            render(&context).as_deref(),
            Some("Le code expire dans une minute.")
        );
        context.set("otp.expires_in_minutes", Value::Number(5.0));
        assert_eq!(
            render(&context).as_deref(),
            Some("Le code expire dans 5 minutes.")
        );
        assert_eq!(built.translations.pick(Some("de")), None);
        assert_eq!(built.translations.pick(None), None);
        assert_eq!(built.translations.tags(), ["en", "fr"]);
    }

    #[test]
    fn missing_texts_unknown_variables_and_codes_are_reported() {
        let at = Pos { line: 4, col: 10 };
        let declared = [
            ("en".to_owned(), at),
            ("fr".to_owned(), at),
            ("de".to_owned(), at),
        ];
        let ids = [
            ("greet".to_owned(), at),
            ("ask_code".to_owned(), Pos { line: 9, col: 10 }),
        ];
        let variables: BTreeSet<String> = ["email".to_owned(), "otp_code".to_owned()].into();
        let sensitive: BTreeSet<String> = ["otp_code".to_owned()].into();
        let built = build(
            &texts(&declared, &ids, &variables, &sensitive),
            &[TranslationSource {
                locale: "fr".into(),
                source: "greet = Bonjour { $emial }\nextra = Rien\nother = { $otp_code }\n".into(),
            }],
        );
        let yaml: Vec<String> = built
            .problems
            .iter()
            .map(|d| format!("{}:{} {}", d.pos.line, d.pos.col, d.message))
            .collect();
        assert_eq!(
            yaml,
            [
                "9:10 this text has no `fr` translation",
                "4:10 no translation file for locale `de`",
            ]
        );
        let ftl: Vec<String> = built.file_problems["fr"]
            .iter()
            .map(|d| format!("{}:{} {}", d.pos.line, d.pos.col, d.message))
            .collect();
        assert_eq!(
            ftl,
            [
                "1:1 unknown variable `$emial` in message `greet`",
                "2:1 message `extra` is no text of the dialog",
                "3:1 message `other` is no text of the dialog",
                "3:1 `$otp_code` holds a one-time code and cannot be shown in a message",
            ]
        );
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let at = Pos { line: 1, col: 1 };
        let declared = [("en".to_owned(), at), ("fr".to_owned(), at)];
        let built = build(
            &texts(&declared, &[], &BTreeSet::new(), &BTreeSet::new()),
            &[TranslationSource {
                locale: "fr".into(),
                source: "greet = Bonjour\nbroken = { $\n".into(),
            }],
        );
        let ftl = &built.file_problems["fr"];
        assert_eq!(ftl.len(), 1, "{ftl:?}");
        assert_eq!(ftl[0].pos.line, 2);
        assert!(
            ftl[0].message.starts_with("Fluent syntax:"),
            "{}",
            ftl[0].message
        );
    }
}
