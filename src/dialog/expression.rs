//! Expressions: values computed from the session's context (`tries + 1`,
//! `name | trim | lower`, `total > 100 and member`), in Jinja's expression syntax through
//! `minijinja`.
//!
//! The environment is deliberately small: arithmetic, comparison, logic, string joining
//! (`~`), a curated set of filters and tests, no functions (no `range`), strict undefined
//! variables and a fuel limit, so an expression is cheap and cannot loop. Variables are
//! checked when the dialog loads ([`Expression::variables`]); what can still fail at run time
//! (a type mismatch, a variable not set on the path taken) is an [`EvalError`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use minijinja::value::ValueKind;
use minijinja::{Environment, UndefinedBehavior, filters, tests as checks};

use super::value::{Context, Value};

/// Instructions one evaluation may run: far more than any sensible expression needs.
const FUEL: u64 = 10_000;

/// The filters expressions may use, by name.
pub const FILTERS: &[&str] = &[
    "abs",
    "capitalize",
    "default",
    "float",
    "int",
    "length",
    "lower",
    "replace",
    "round",
    "string",
    "title",
    "trim",
    "upper",
];

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::empty();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.add_filter("abs", filters::abs);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("float", filters::float);
    env.add_filter("int", filters::int);
    env.add_filter("length", filters::length);
    env.add_filter("lower", filters::lower);
    env.add_filter("replace", filters::replace);
    env.add_filter("round", filters::round);
    env.add_filter("string", filters::string);
    env.add_filter("title", filters::title);
    env.add_filter("trim", filters::trim);
    env.add_filter("upper", filters::upper);
    env.add_test("defined", checks::is_defined);
    env.add_test("undefined", checks::is_undefined);
    env.add_test("number", checks::is_number);
    env.add_test("string", checks::is_string);
    env.add_test("true", checks::is_true);
    env.add_test("false", checks::is_false);
    env
});

/// A compiled expression.
pub struct Expression {
    source: String,
    compiled: minijinja::Expression<'static, 'static>,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

/// Why an expression does not compile: the parser's words, without its framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

/// Why an evaluation failed at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Expression {
    pub fn compile(source: &str) -> Result<Self, SyntaxError> {
        match ENVIRONMENT.compile_expression_owned(source.to_owned()) {
            Ok(compiled) => Ok(Self {
                source: source.to_owned(),
                compiled,
            }),
            Err(error) => Err(SyntaxError(
                error
                    .detail()
                    .map_or_else(|| error.kind().to_string(), str::to_owned),
            )),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The context variables it reads, dotted as they are named (`otp.attempts_left`).
    pub fn variables(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .compiled
            .undeclared_variables(true)
            .into_iter()
            .collect();
        names.sort();
        names
    }

    /// The value against `context` at `now` (expired values are not set).
    pub fn eval(&self, context: &Context, now: DateTime<Utc>) -> Result<Value, EvalError> {
        let value = self
            .compiled
            .eval(nested(context, now))
            .map_err(|error| EvalError(error.detail().unwrap_or("failed").to_owned()))?;
        from_jinja(&value)
    }
}

/// The context as nested maps: `otp.attempts_left` is `attempts_left` inside `otp`.
/// Sensitive values (an entered code) are left out: an expression never copies a code.
fn nested(context: &Context, now: DateTime<Utc>) -> minijinja::Value {
    #[derive(Default)]
    struct Tree(BTreeMap<String, Entry>);
    enum Entry {
        Leaf(minijinja::Value),
        Branch(Tree),
    }
    impl Tree {
        fn insert(&mut self, path: &str, value: minijinja::Value) {
            match path.split_once('.') {
                None => {
                    self.0.insert(path.to_owned(), Entry::Leaf(value));
                }
                Some((head, rest)) => {
                    let entry = self
                        .0
                        .entry(head.to_owned())
                        .or_insert_with(|| Entry::Branch(Tree::default()));
                    if let Entry::Leaf(_) = entry {
                        // `a` and `a.b` both set: the deeper name wins inside expressions.
                        *entry = Entry::Branch(Tree::default());
                    }
                    if let Entry::Branch(tree) = entry {
                        tree.insert(rest, value);
                    }
                }
            }
        }
        fn into_value(self) -> minijinja::Value {
            let map: BTreeMap<String, minijinja::Value> = self
                .0
                .into_iter()
                .map(|(name, entry)| match entry {
                    Entry::Leaf(value) => (name, value),
                    Entry::Branch(tree) => (name, tree.into_value()),
                })
                .collect();
            minijinja::Value::from(map)
        }
    }
    let mut tree = Tree::default();
    for (name, slot) in context.iter() {
        if slot.sensitive || context.get(name, now).is_none() {
            continue;
        }
        tree.insert(name, to_jinja(&slot.value));
    }
    tree.into_value()
}

fn to_jinja(value: &Value) -> minijinja::Value {
    match value {
        Value::Text(text) => minijinja::Value::from(text.as_str()),
        Value::Bool(b) => minijinja::Value::from(*b),
        // Whole numbers stay integers, so `tries + 1` is `2`, not `2.0`.
        #[allow(clippy::cast_possible_truncation)]
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            minijinja::Value::from(*n as i64)
        }
        Value::Number(n) => minijinja::Value::from(*n),
    }
}

fn from_jinja(value: &minijinja::Value) -> Result<Value, EvalError> {
    match value.kind() {
        ValueKind::String => Ok(Value::Text(value.as_str().unwrap_or_default().to_owned())),
        ValueKind::Bool => Ok(Value::Bool(value.is_true())),
        ValueKind::Number => f64::try_from(value.clone())
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or_else(|| EvalError(format!("`{value}` is not a finite number"))),
        other => Err(EvalError(format!(
            "the result is {other}, but a variable holds text, a number or a boolean"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        let mut context = Context::default();
        context.set("tries", Value::Number(2.0));
        context.set("name", Value::Text("  Bob SMITH ".to_owned()));
        context.set("otp.attempts_left", Value::Number(1.0));
        context.set("member", Value::Bool(true));
        context
    }

    fn eval(source: &str) -> Result<Value, EvalError> {
        let expression = Expression::compile(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        expression.eval(&context(), DateTime::<Utc>::MIN_UTC)
    }

    #[test]
    fn computes_numbers_text_and_booleans() {
        assert_eq!(eval("tries + 1"), Ok(Value::Number(3.0)));
        assert_eq!(eval("tries / 4"), Ok(Value::Number(0.5)));
        assert_eq!(
            eval("name | trim | lower"),
            Ok(Value::Text("bob smith".to_owned()))
        );
        assert_eq!(
            eval("\"Hi \" ~ name | trim"),
            Ok(Value::Text("Hi Bob SMITH".to_owned()))
        );
        assert_eq!(eval("tries > 1 and member"), Ok(Value::Bool(true)));
        assert_eq!(eval("otp.attempts_left == 1"), Ok(Value::Bool(true)));
        assert_eq!(eval("missing | default(0) + 1"), Ok(Value::Number(1.0)));
        assert_eq!(eval("missing is defined"), Ok(Value::Bool(false)));
    }

    #[test]
    fn names_the_variables_it_reads() {
        let expression = Expression::compile("otp.attempts_left + tries | default(0)")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(expression.variables(), ["otp.attempts_left", "tries"]);
    }

    #[test]
    fn reports_syntax_errors_and_run_time_failures() {
        assert!(Expression::compile("tries +").is_err());
        assert!(
            Expression::compile("range(10)")
                .is_ok_and(|e| e.eval(&context(), DateTime::<Utc>::MIN_UTC).is_err())
        );
        assert!(
            eval("missing + 1").is_err(),
            "an unset variable is an error, not zero"
        );
        assert!(eval("name + 1").is_err());
        assert!(eval("[1, 2]").is_err(), "a list is no variable value");
        assert!(eval("1 / 0").is_err());
    }

    #[test]
    fn never_sees_a_sensitive_value() {
        let mut context = context();
        context.set_slot(
            "otp_code",
            crate::dialog::value::Slot {
                value: Value::Text("1234".to_owned()),
                sensitive: true,
                given: false,
                expires_at: None,
            },
        );
        let expression = Expression::compile("otp_code").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(expression.eval(&context, DateTime::<Utc>::MIN_UTC).is_err());
    }
}
