//! Graph checks on a dialog whose references all resolve: unreachable nodes, and loops that
//! would spin without ever waiting for the user.

use std::collections::VecDeque;

use crate::diagnostic::Diagnostic;
use crate::reader::Diagnostics;

use super::model::{Dialog, NodeIdx};

pub fn check(dialog: &Dialog, d: &mut Diagnostics) {
    unreachable_nodes(dialog, d);
    if !loops_without_input(dialog, d) {
        paths_beyond_the_cap(dialog, d);
    }
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
/// Tarjan's strongly-connected components. Each such cycle is reported once. Returns whether
/// there was one.
fn loops_without_input(dialog: &Dialog, d: &mut Diagnostics) -> bool {
    let mut found = false;
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
        found = true;
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
    found
}

/// Finds a turn that would enter more nodes than the dialog's transition cap without waiting
/// for input: at run time it would end the conversation with an error, every time. Edges
/// taken without input form no cycle here (checked first), so the longest run from each node
/// is found once per node.
fn paths_beyond_the_cap(dialog: &Dialog, d: &mut Diagnostics) {
    // `run[v]`: the most nodes one turn enters from entering `v` until it waits or ends.
    fn run(dialog: &Dialog, v: NodeIdx, memo: &mut [Option<usize>]) -> usize {
        if let Some(known) = memo[v] {
            return known;
        }
        let longest = if dialog.node(v).kind.waits_for_input() {
            1
        } else {
            1 + successors(dialog, v)
                .into_iter()
                .map(|next| run(dialog, next, memo))
                .max()
                .unwrap_or(0)
        };
        memo[v] = Some(longest);
        longest
    }
    let mut memo = vec![None; dialog.nodes.len()];
    let cap = usize::from(dialog.max_transitions);
    let Some((from, longest)) = (0..dialog.nodes.len())
        .map(|v| (v, run(dialog, v, &mut memo)))
        .max_by_key(|&(v, longest)| (longest, std::cmp::Reverse(dialog.node(v).pos)))
    else {
        return;
    };
    if longest > cap {
        let node = dialog.node(from);
        d.push(
            Diagnostic::error(
                node.pos,
                format!(
                    "from node `{}` a turn runs through {longest} nodes without waiting for input, more than the {cap} one turn may enter",
                    node.id
                ),
            )
            .with_hint("put an `ask` node on the way, or raise `settings.max_transitions_per_turn`"),
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
