//! Branch conditions over context values.
//!
//! ```yaml
//! { var: plan, equals: pro }               # also not_equals, lt, lte, gt, gte, contains
//! { var: total, gt: { var: budget } }      # the other side is a variable
//! { var: email, exists: true }
//! { all: [ {…}, {…} ] }                    # AND
//! { any: [ {…}, {…} ] }                    # OR
//! ```
//! A variable that is not set (on either side) makes every comparison false except
//! `not_equals` and `exists: false`.

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
    Compare(Comparison, Operand),
    /// Case-insensitive substring.
    Contains(Operand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Equals,
    NotEquals,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// What a variable is compared with: a value written in the dialog, or another variable
/// (`{ var: total, gt: { var: budget } }`).
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Literal(Value),
    Var(String),
}

impl Operand {
    fn value<'a>(&'a self, context: &'a Context, now: DateTime<Utc>) -> Option<&'a Value> {
        match self {
            Operand::Literal(value) => Some(value),
            Operand::Var(name) => context.get(name, now),
        }
    }
}

impl std::fmt::Display for Operand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operand::Var(name) => f.write_str(name),
            Operand::Literal(Value::Text(text)) => write!(f, "'{text}'"),
            Operand::Literal(value) => {
                let mut text = String::new();
                value.write_to(&mut text);
                f.write_str(&text)
            }
        }
    }
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
            Condition::Test { var, test } => test.eval(context.get(var, now), context, now),
        }
    }

    /// Every variable the condition reads, with where it was written.
    pub fn variables(&self, out: &mut Vec<String>) {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.variables(out)),
            Condition::Test { var, test } => {
                out.push(var.clone());
                if let Test::Compare(_, Operand::Var(other)) | Test::Contains(Operand::Var(other)) =
                    test
                {
                    out.push(other.clone());
                }
            }
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
            Condition::Test { var, test } => match test {
                Test::Exists(true) => write!(f, "{var} exists"),
                Test::Exists(false) => write!(f, "{var} missing"),
                Test::Compare(comparison, operand) => {
                    let op = match comparison {
                        Comparison::Equals => "=",
                        Comparison::NotEquals => "≠",
                        Comparison::Lt => "<",
                        Comparison::Lte => "≤",
                        Comparison::Gt => ">",
                        Comparison::Gte => "≥",
                    };
                    write!(f, "{var} {op} {operand}")
                }
                Test::Contains(operand) => write!(f, "{var} contains {operand}"),
            },
        }
    }
}

impl Test {
    fn eval(&self, value: Option<&Value>, context: &Context, now: DateTime<Utc>) -> bool {
        match self {
            Test::Exists(expected) => value.is_some() == *expected,
            Test::Compare(comparison, operand) => {
                let other = operand.value(context, now);
                let equal = match (value, other) {
                    (Some(a), Some(b)) => a.loosely_equals(b),
                    _ => false,
                };
                let numbers = value
                    .and_then(Value::as_number)
                    .zip(other.and_then(Value::as_number));
                match comparison {
                    Comparison::Equals => equal,
                    Comparison::NotEquals => !equal,
                    Comparison::Lt => numbers.is_some_and(|(a, b)| a < b),
                    Comparison::Lte => numbers.is_some_and(|(a, b)| a <= b),
                    Comparison::Gt => numbers.is_some_and(|(a, b)| a > b),
                    Comparison::Gte => numbers.is_some_and(|(a, b)| a >= b),
                }
            }
            Test::Contains(operand) => match (value, operand.value(context, now)) {
                (Some(haystack), Some(needle)) => {
                    let (mut a, mut b) = (String::new(), String::new());
                    haystack.write_to(&mut a);
                    needle.write_to(&mut b);
                    a.to_lowercase().contains(&b.to_lowercase())
                }
                _ => false,
            },
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
    let test = read_test(op, operand, d, vars)?;
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

fn read_test(
    op: &str,
    operand: &YamlNode,
    d: &mut Diagnostics,
    vars: &mut Vec<(String, Pos)>,
) -> Option<Test> {
    let what = format!("`{op}`");
    if op == "exists" {
        return d.boolean(operand, &what).map(Test::Exists);
    }
    let comparison = match op {
        "equals" => Some(Comparison::Equals),
        "not_equals" => Some(Comparison::NotEquals),
        "lt" => Some(Comparison::Lt),
        "lte" => Some(Comparison::Lte),
        "gt" => Some(Comparison::Gt),
        "gte" => Some(Comparison::Gte),
        _ => None, // contains
    };
    let orders =
        comparison.is_some_and(|c| !matches!(c, Comparison::Equals | Comparison::NotEquals));
    let operand = match &operand.value {
        YamlValue::Map(_) => Operand::Var(read_other_variable(operand, d, vars, &what)?),
        YamlValue::Int(_) | YamlValue::Float(_) => {
            Operand::Literal(Value::from_yaml(&operand.value)?)
        }
        found if orders => {
            d.error(
                operand.pos,
                format!(
                    "{what} compares with a number or `{{ var: <name> }}`, found {}",
                    found.kind()
                ),
            );
            return None;
        }
        found => {
            let Some(value) = Value::from_yaml(found) else {
                d.error(
                    operand.pos,
                    format!(
                        "{what} compares with text, a number, a boolean or `{{ var: <name> }}`, found {}",
                        found.kind()
                    ),
                );
                return None;
            };
            Operand::Literal(value)
        }
    };
    Some(match comparison {
        Some(comparison) => Test::Compare(comparison, operand),
        None => Test::Contains(operand),
    })
}

/// `{ var: <name> }` as the other side of a comparison.
fn read_other_variable(
    node: &YamlNode,
    d: &mut Diagnostics,
    vars: &mut Vec<(String, Pos)>,
    what: &str,
) -> Option<String> {
    let mut map = d.map(node, what)?;
    let name_node = map.take("var");
    map.finish(d, what);
    let Some(name_node) = name_node else {
        // Other keys were reported as unknown ("expected one of: var"); say more only for `{}`.
        if matches!(&node.value, YamlValue::Map(entries) if !entries.is_empty()) {
            return None;
        }
        d.push(
            Diagnostic::error(
                node.pos,
                format!("{what} with a mapping compares with a variable"),
            )
            .with_hint(format!("write {what}: {{ var: <name> }}")),
        );
        return None;
    };
    let name = d.string(name_node, "`var`")?;
    if !is_variable_name(&name) {
        d.error(name_node.pos, format!("`{name}` is not a variable name"));
        return None;
    }
    vars.push((name.clone(), name_node.pos));
    Some(name)
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
    fn compares_two_variables() {
        let now = Utc::now();
        let mut ctx = Context::default();
        ctx.set("total", Value::Number(30.0));
        ctx.set("budget", Value::Text("25".into()));
        ctx.set("email", Value::Text("Bob@example.com".into()));
        ctx.set("confirm", Value::Text("bob@example.com".into()));
        ctx.set("domain", Value::Text("EXAMPLE.com".into()));
        assert!(cond("{var: total, gt: {var: budget}}").eval(&ctx, now));
        assert!(!cond("{var: total, lte: {var: budget}}").eval(&ctx, now));
        assert!(cond("{var: email, contains: {var: domain}}").eval(&ctx, now));
        assert!(!cond("{var: email, equals: {var: confirm}}").eval(&ctx, now));
        assert!(cond("{var: email, not_equals: {var: confirm}}").eval(&ctx, now));
        // An unset other side: only `not_equals` holds.
        assert!(!cond("{var: total, gt: {var: nothing}}").eval(&ctx, now));
        assert!(!cond("{var: total, equals: {var: nothing}}").eval(&ctx, now));
        assert!(cond("{var: total, not_equals: {var: nothing}}").eval(&ctx, now));
        let mut vars = Vec::new();
        cond("{var: total, gt: {var: budget}}").variables(&mut vars);
        assert_eq!(vars, ["total", "budget"]);
        assert_eq!(
            cond("{var: total, gte: {var: budget}}").to_string(),
            "total ≥ budget"
        );
        assert_eq!(cond("{var: plan, equals: pro}").to_string(), "plan = 'pro'");
    }

    #[test]
    fn the_other_variable_is_checked_where_it_is_written() {
        let mut d = Diagnostics::default();
        let mut vars = Vec::new();
        let c = read(
            &parse("{var: total, gt: {var: budget}}").unwrap(),
            &mut d,
            &mut vars,
        );
        assert!(c.is_some() && d.items.is_empty());
        assert_eq!(vars[1].0, "budget");
        assert_eq!((vars[1].1.line, vars[1].1.col), (1, 24));
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
            "{var: n, gt: {name: m}}",
            "{var: n, gt: {var: 'not a name'}}",
            "{var: n, lt: true}",
        ] {
            let mut d = Diagnostics::default();
            let c = read(&parse(src).unwrap(), &mut d, &mut Vec::new());
            assert!(c.is_none() || !d.items.is_empty(), "{src}");
            assert!(!d.items.is_empty(), "{src} should be reported");
        }
    }
}
