//! Checks across dialogs: every `call` node against the dialog it calls (known, sets the
//! outputs read, declares the inputs set, can end with each result named, and every result
//! it can end with has an edge), and no dialog calling itself through others.

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;

use super::model::Dialog;
use super::nodes::DialogCall;

/// The problems of `dialogs` (loaded together), as `(index into dialogs, diagnostic)`.
pub fn check(dialogs: &[&Dialog]) -> Vec<(usize, Diagnostic)> {
    let by_id: BTreeMap<&str, &Dialog> = dialogs.iter().map(|d| (d.id.as_str(), *d)).collect();
    let mut problems = Vec::new();
    for (i, dialog) in dialogs.iter().enumerate() {
        for node in &dialog.nodes {
            let Some(call) = node.kind.dialog_call() else {
                continue;
            };
            match by_id.get(call.dialog.as_str()) {
                Some(callee) => {
                    problems.extend(check_call(call, callee).into_iter().map(|d| (i, d)));
                }
                None => problems.push((
                    i,
                    Diagnostic::error(call.pos, format!("unknown dialog `{}`", call.dialog))
                        .suggest(&call.dialog, by_id.keys().copied())
                        .or_hint(|| {
                            format!(
                                "dialogs loaded: {}",
                                by_id.keys().copied().collect::<Vec<_>>().join(", ")
                            )
                        }),
                )),
            }
        }
    }
    problems.extend(cycles(dialogs, &by_id));
    problems
}

fn check_call(call: &DialogCall, callee: &Dialog) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let known = |var: &str| callee.variables.contains(var);
    let listed = || {
        callee
            .variables
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (theirs, pos) in &call.inputs {
        if !known(theirs) {
            problems.push(
                Diagnostic::error(*pos, format!("dialog `{}` has no variable `{theirs}`", callee.id))
                    .suggest(theirs, callee.variables.iter().map(String::as_str))
                    .or_hint(|| {
                        format!("an input sets a variable the called dialog declares under `context:` or sets; it has: {}", listed())
                    }),
            );
        }
    }
    for (_, theirs, pos) in &call.outputs {
        if !known(theirs) {
            problems.push(
                Diagnostic::error(
                    *pos,
                    format!("dialog `{}` sets no variable `{theirs}`", callee.id),
                )
                .suggest(theirs, callee.variables.iter().map(String::as_str))
                .or_hint(|| format!("its variables: {}", listed())),
            );
        }
    }
    let results = callee.results();
    for (result, pos) in &call.results {
        if !results.contains(result.as_str()) {
            problems.push(
                Diagnostic::error(
                    *pos,
                    format!("dialog `{}` never ends with `{result}`", callee.id),
                )
                .suggest(result, results.iter().copied())
                .or_hint(|| {
                    format!(
                        "it ends with: {}",
                        results.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                }),
            );
        }
    }
    if !call.has_else {
        let missing: Vec<&str> = results
            .iter()
            .copied()
            .filter(|r| !call.results.iter().any(|(named, _)| named == r))
            .collect();
        if !missing.is_empty() {
            problems.push(
                Diagnostic::error(
                    call.on_pos,
                    format!(
                        "dialog `{}` can end with {}, which has no edge here",
                        callee.id,
                        missing
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_hint("add an edge for each, or `else: <node>` for the rest"),
            );
        }
    }
    problems
}

/// A dialog that calls itself, directly or through others, could never end: one report per
/// cycle, at the first call of it found.
fn cycles(dialogs: &[&Dialog], by_id: &BTreeMap<&str, &Dialog>) -> Vec<(usize, Diagnostic)> {
    let calls_of = |dialog: &Dialog| -> Vec<(String, crate::yaml::Pos)> {
        dialog
            .nodes
            .iter()
            .filter_map(|n| n.kind.dialog_call())
            .map(|call| (call.dialog.clone(), call.pos))
            .collect()
    };
    let mut problems = Vec::new();
    let mut reported: Vec<Vec<String>> = Vec::new();
    for (i, dialog) in dialogs.iter().enumerate() {
        // Depth-first from this dialog, looking for a way back to it.
        let mut stack: Vec<(String, Vec<String>)> =
            vec![(dialog.id.clone(), vec![dialog.id.clone()])];
        while let Some((id, path)) = stack.pop() {
            let Some(current) = by_id.get(id.as_str()) else {
                continue;
            };
            for (callee, pos) in calls_of(current) {
                if callee == dialog.id {
                    let mut cycle = path.clone();
                    cycle.push(callee.clone());
                    let mut key = path.clone();
                    key.sort();
                    if !reported.contains(&key) {
                        reported.push(key);
                        let at = if path.len() == 1 {
                            pos
                        } else {
                            first_call_pos(dialog, &path[1])
                        };
                        problems.push((
                            i,
                            Diagnostic::error(
                                at,
                                format!(
                                    "dialogs call each other in a cycle: {}",
                                    cycle.join(" → ")
                                ),
                            )
                            .with_hint("a dialog cannot call itself, directly or through others"),
                        ));
                    }
                } else if !path.contains(&callee) && path.len() <= dialogs.len() {
                    let mut next = path.clone();
                    next.push(callee.clone());
                    stack.push((callee, next));
                }
            }
        }
    }
    problems
}

fn first_call_pos(dialog: &Dialog, callee: &str) -> crate::yaml::Pos {
    dialog
        .nodes
        .iter()
        .filter_map(|n| n.kind.dialog_call())
        .find(|call| call.dialog == callee)
        .map_or(dialog.id_pos, |call| call.pos)
}
