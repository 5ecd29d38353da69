//! Branch conditions over context values.
//!
//! ```yaml
//! { var: plan, equals: pro }               # also not_equals, lt, lte, gt, gte, contains
//! { var: email, exists: true }
//! { all: [ {…}, {…} ] }                    # AND
//! { any: [ {…}, {…} ] }                    # OR
//! ```
//! A variable that is not set makes every comparison false except `not_equals` and
//! `exists: false`.

use chrono::{DateTime, Utc};

use crate::diagnostic::Diagnostic;
use crate::reader::Diagnostics;
use crate::yaml::{Node as YamlNode, Pos, Value as YamlValue};

use super::template::is_variable_name;
use super::value::{Context, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Test { var: String, test: Test },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Exists(bool),
    Equals(Value),
    NotEquals(Value),
    Lt(f64),
    Lte(f64),
    Gt(f64),
    Gte(f64),
    Contains(String),
}

const OPERATORS: [&str; 8] = [
    "equals",
    "not_equals",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "exists",
];

impl Condition {
    pub fn eval(&self, context: &Context, now: DateTime<Utc>) -> bool {
        match self {
            Condition::All(all) => all.iter().all(|c| c.eval(context, now)),
            Condition::Any(any) => any.iter().any(|c| c.eval(context, now)),
            Condition::Test { var, test } => test.eval(context.get(var, now)),
        }
    }

    /// Every variable the condition reads, with where it was written.
    pub fn variables(&self, out: &mut Vec<String>) {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.variables(out)),
            Condition::Test { var, .. } => out.push(var.clone()),
        }
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, parts: &[Condition], word: &str| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match part {
                    Condition::Test { .. } => write!(f, "{part}")?,
                    _ => write!(f, "({part})")?,
                }
            }
            Ok(())
        };
        match self {
            Condition::All(parts) => join(f, parts, "and"),
            Condition::Any(parts) => join(f, parts, "or"),
            Condition::Test { var, test } => {
                let mut value = String::new();
                let (op, operand) = match test {
                    Test::Exists(true) => return write!(f, "{var} exists"),
                    Test::Exists(false) => return write!(f, "{var} missing"),
                    Test::Equals(v) => ("=", {
                        v.write_to(&mut value);
                        value
                    }),
                    Test::NotEquals(v) => ("≠", {
                        v.write_to(&mut value);
                        value
                    }),
                    Test::Lt(n) => ("<", n.to_string()),
                    Test::Lte(n) => ("≤", n.to_string()),
                    Test::Gt(n) => (">", n.to_string()),
                    Test::Gte(n) => ("≥", n.to_string()),
                    Test::Contains(s) => ("contains", format!("'{s}'")),
                };
                write!(f, "{var} {op} {operand}")
            }
        }
    }
}

impl Test {
    fn eval(&self, value: Option<&Value>) -> bool {
        let number = value.and_then(Value::as_number);
        match self {
            Test::Exists(expected) => value.is_some() == *expected,
            Test::Equals(expected) => value.is_some_and(|v| v.loosely_equals(expected)),
            Test::NotEquals(expected) => !value.is_some_and(|v| v.loosely_equals(expected)),
            Test::Lt(limit) => number.is_some_and(|n| n < *limit),
            Test::Lte(limit) => number.is_some_and(|n| n <= *limit),
            Test::Gt(limit) => number.is_some_and(|n| n > *limit),
            Test::Gte(limit) => number.is_some_and(|n| n >= *limit),
            Test::Contains(needle) => value.is_some_and(|v| {
                let mut text = String::new();
                v.write_to(&mut text);
                text.to_lowercase().contains(&needle.to_lowercase())
            }),
        }
    }
}

/// Reads a condition, recording the variables it uses (with positions) for checking.
pub fn read(
    node: &YamlNode,
    d: &mut Diagnostics,
    vars: &mut Vec<(String, Pos)>,
) -> Option<Condition> {
    let mut map = d.map(node, "a condition")?;
    if let Some(all) = map.take("all") {
        map.finish(d, "a condition");
        return read_list(all, d, vars, "all").map(Condition::All);
    }
    if let Some(any) = map.take("any") {
        map.finish(d, "a condition");
        return read_list(any, d, vars, "any").map(Condition::Any);
    }
    let var = map.take("var").and_then(|n| {
        let name = d.string(n, "`var`")?;
        if !is_variable_name(&name) {
            d.error(n.pos, format!("`{name}` is not a variable name"));
            return None;
        }
        vars.push((name.clone(), n.pos));
        Some(name)
    });
    let mut tests = Vec::new();
    for op in OPERATORS {
        if let Some(operand) = map.take(op) {
            tests.push((op, operand));
        }
    }
    // A misspelt `var` or operator is reported as an unknown key; saying it is missing too
    // would report one typo twice.
    let lacks_var = map.lacks("var") && map.lacks("all") && map.lacks("any");
    let misspelt_operator = tests.is_empty() && OPERATORS.iter().any(|op| !map.lacks(op));
    map.finish(d, "a condition");
    let Some(var) = var else {
        if lacks_var {
            d.push(
                Diagnostic::error(
                    node.pos,
                    "a condition needs `var` and one operator, or `all`/`any`",
                )
                .with_hint("for example `{ var: plan, equals: pro }`"),
            );
        }
        return None;
    };
    let (op, operand) = match tests.as_slice() {
        [one] => *one,
        [] if misspelt_operator => return None,
        [] => {
            d.push(
                Diagnostic::error(
                    node.pos,
                    format!("the condition on `{var}` has no operator"),
                )
                .with_hint(format!("add one of: {}", OPERATORS.join(", "))),
            );
            return None;
        }
        _ => {
            d.push(
                Diagnostic::error(
                    node.pos,
                    format!("the condition on `{var}` has several operators"),
                )
                .with_hint("combine single tests with `all:` or `any:`"),
            );
            return None;
        }
    };
    let test = read_test(op, operand, d)?;
    Some(Condition::Test { var, test })
}

fn read_list(
    node: &YamlNode,
    d: &mut Diagnostics,
    vars: &mut Vec<(String, Pos)>,
    what: &str,
) -> Option<Vec<Condition>> {
    let YamlValue::Seq(items) = &node.value else {
        d.error(
            node.pos,
            format!(
                "`{what}` must be a list of conditions, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    if items.is_empty() {
        d.error(node.pos, format!("`{what}` is empty"));
        return None;
    }
    let conditions: Vec<Option<Condition>> = items.iter().map(|item| read(item, d, vars)).collect();
    conditions.into_iter().collect()
}

fn read_test(op: &str, operand: &YamlNode, d: &mut Diagnostics) -> Option<Test> {
    let what = format!("`{op}`");
    match op {
        "exists" => d.boolean(operand, &what).map(Test::Exists),
        "equals" | "not_equals" => {
            let Some(value) = Value::from_yaml(&operand.value) else {
                d.error(
                    operand.pos,
                    format!(
                        "{what} compares with text, a number or a boolean, found {}",
                        operand.value.kind()
                    ),
                );
                return None;
            };
            Some(if op == "equals" {
                Test::Equals(value)
            } else {
                Test::NotEquals(value)
            })
        }
        "contains" => d.text(operand, &what).map(Test::Contains),
        _ => {
            #[allow(clippy::cast_precision_loss)]
            let limit = match operand.value {
                YamlValue::Int(i) => i as f64,
                YamlValue::Float(f) => f,
                _ => {
                    d.error(
                        operand.pos,
                        format!(
                            "{what} compares with a number, found {}",
                            operand.value.kind()
                        ),
                    );
                    return None;
                }
            };
            Some(match op {
                "lt" => Test::Lt(limit),
                "lte" => Test::Lte(limit),
                "gt" => Test::Gt(limit),
                _ => Test::Gte(limit),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn cond(src: &str) -> Condition {
        let mut d = Diagnostics::default();
        let c = read(&parse(src).unwrap(), &mut d, &mut Vec::new());
        assert!(d.items.is_empty(), "{:?}", d.items);
        c.unwrap()
    }

    #[test]
    fn evaluates_tests_and_combinations() {
        let now = Utc::now();
        let mut ctx = Context::default();
        ctx.set("n", Value::Number(3.0));
        ctx.set("plan", Value::Text("Pro plan".into()));
        ctx.set("ok", Value::Bool(true));
        assert!(cond("{var: n, gt: 2}").eval(&ctx, now));
        assert!(!cond("{var: n, lt: 3}").eval(&ctx, now));
        assert!(cond("{var: n, lte: 3}").eval(&ctx, now));
        assert!(cond("{var: n, equals: 3}").eval(&ctx, now));
        assert!(cond("{var: plan, contains: pro}").eval(&ctx, now));
        assert!(cond("{var: ok, equals: true}").eval(&ctx, now));
        assert!(cond("{var: missing, exists: false}").eval(&ctx, now));
        assert!(cond("{var: missing, not_equals: x}").eval(&ctx, now));
        assert!(!cond("{var: missing, gt: 0}").eval(&ctx, now));
        assert!(cond("{all: [{var: n, gt: 1}, {var: ok, equals: true}]}").eval(&ctx, now));
        assert!(cond("{any: [{var: n, gt: 10}, {var: ok, equals: true}]}").eval(&ctx, now));
        assert!(!cond("{all: [{var: n, gt: 10}, {var: ok, equals: true}]}").eval(&ctx, now));
    }

    #[test]
    fn reports_malformed_conditions() {
        for src in [
            "{var: n}",
            "{var: n, gt: 1, lt: 2}",
            "{var: n, gt: many}",
            "{all: []}",
            "{equals: 1}",
            "{var: n, greater: 1}",
        ] {
            let mut d = Diagnostics::default();
            let c = read(&parse(src).unwrap(), &mut d, &mut Vec::new());
            assert!(c.is_none() || !d.items.is_empty(), "{src}");
            assert!(!d.items.is_empty(), "{src} should be reported");
        }
    }
}
