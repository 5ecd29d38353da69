//! Graph checks on a dialog whose references all resolve: unreachable nodes, and loops that
//! would spin without ever waiting for the user.

use std::collections::VecDeque;

use crate::diagnostic::Diagnostic;
use crate::reader::Diagnostics;

use super::model::{Dialog, NodeIdx};

pub fn check(dialog: &Dialog, d: &mut Diagnostics) {
    unreachable_nodes(dialog, d);
    loops_without_input(dialog, d);
}

fn successors(dialog: &Dialog, idx: NodeIdx) -> Vec<NodeIdx> {
    let mut next = Vec::new();
    dialog
        .node(idx)
        .kind
        .for_each_edge(&mut |to, _| next.push(to));
    next
}

fn unreachable_nodes(dialog: &Dialog, d: &mut Diagnostics) {
    let mut reached = vec![false; dialog.nodes.len()];
    let mut queue = VecDeque::from([dialog.start]);
    reached[dialog.start] = true;
    let visit = |queue: &mut VecDeque<NodeIdx>, reached: &mut Vec<bool>| {
        while let Some(idx) = queue.pop_front() {
            for next in successors(dialog, idx) {
                if !reached[next] {
                    reached[next] = true;
                    queue.push_back(next);
                }
            }
        }
    };
    visit(&mut queue, &mut reached);
    // Global keywords can be typed at any ask node, so their targets are reachable once one is.
    let any_ask = dialog
        .nodes
        .iter()
        .enumerate()
        .any(|(idx, node)| reached[idx] && node.kind.waits_for_input());
    if any_ask {
        for keyword in &dialog.keywords {
            if !reached[keyword.target] {
                reached[keyword.target] = true;
                queue.push_back(keyword.target);
            }
        }
        visit(&mut queue, &mut reached);
    }
    for (idx, node) in dialog.nodes.iter().enumerate() {
        if !reached[idx] {
            d.push(
                Diagnostic::error(
                    node.pos,
                    format!(
                        "node `{}` is unreachable: no path from `{}` leads to it",
                        node.id,
                        dialog.node(dialog.start).id
                    ),
                )
                .with_hint("link it with `next`, `then`, `on` or a keyword, or remove it"),
            );
        }
    }
}

/// Finds cycles among edges that are taken without input (everything but `ask` nodes), with
/// Tarjan's strongly-connected components. Each such cycle is reported once.
fn loops_without_input(dialog: &Dialog, d: &mut Diagnostics) {
    let n = dialog.nodes.len();
    let immediate: Vec<Vec<NodeIdx>> = (0..n)
        .map(|idx| {
            if dialog.node(idx).kind.waits_for_input() {
                Vec::new()
            } else {
                successors(dialog, idx)
            }
        })
        .collect();
    for component in strongly_connected(&immediate) {
        let is_cycle = component.len() > 1 || immediate[component[0]].contains(&component[0]);
        if !is_cycle {
            continue;
        }
        let mut members = component.clone();
        members.sort_by_key(|&idx| dialog.node(idx).pos);
        let first = members[0];
        let names: Vec<String> = members
            .iter()
            .map(|&idx| format!("`{}`", dialog.node(idx).id))
            .collect();
        let subject = match names.as_slice() {
            [one] => format!("node {one} forms"),
            several => format!("nodes {} form", several.join(", ")),
        };
        d.push(
            Diagnostic::error(
                dialog.node(first).pos,
                format!("{subject} a loop that never waits for input"),
            )
            .with_hint("put an `ask` node in the loop, or route one of its edges out of it"),
        );
    }
}

fn strongly_connected(graph: &[Vec<NodeIdx>]) -> Vec<Vec<NodeIdx>> {
    struct Tarjan<'g> {
        graph: &'g [Vec<NodeIdx>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<NodeIdx>,
        next_index: usize,
        components: Vec<Vec<NodeIdx>>,
    }
    impl Tarjan<'_> {
        // Recursion depth is bounded by the number of nodes in one dialog file.
        fn visit(&mut self, v: NodeIdx) {
            self.index[v] = Some(self.next_index);
            self.low[v] = self.next_index;
            self.next_index += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for &w in &self.graph[v] {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(index_w) if self.on_stack[w] => self.low[v] = self.low[v].min(index_w),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }
    let n = graph.len();
    let mut t = Tarjan {
        graph,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next_index: 0,
        components: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.components
}
