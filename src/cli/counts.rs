//! `colloquy graph --counts FILE`: what a running engine counted per dialog version, read
//! from its `/metrics` text (`curl -s host/metrics > metrics.txt`), as notes on the graph's
//! nodes: conversations started (on the start node), left waiting until they expired
//! (drop-off, on the question they were left at) and ended (on the end node of each result).

use std::collections::BTreeMap;

use crate::dialog::Dialog;

/// One sample of a Prometheus text exposition: its metric name, labels and value.
#[derive(Debug, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of `text`; lines that are not samples (comments, blank, garbled) are skipped.
fn samples(text: &str) -> Vec<Sample> {
    text.lines().filter_map(sample).collect()
}

fn sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, labels(rest.strip_suffix('}')?)?),
        None => (series, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y \"z\""` → {a: x, b: y "z"}.
fn labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek() == Some(&',') || chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(labels);
        }
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(name.trim().to_owned(), value);
    }
}

/// The notes for `dialog`'s nodes from the metrics `text`: node id → "started: 12", …
pub fn notes(dialog: &Dialog, text: &str) -> BTreeMap<String, String> {
    let version = dialog.version.to_string();
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let ours = |sample: &Sample| {
        sample.labels.get("dialog") == Some(&dialog.id)
            && sample.labels.get("version") == Some(&version)
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let count = |value: f64| value.max(0.0).round() as u64;
    for sample in samples(text).iter().filter(|s| ours(s)) {
        match sample.name.as_str() {
            "colloquy_conversations_started_total" => {
                let start = dialog.node(dialog.start).id.clone();
                notes
                    .entry(start)
                    .or_default()
                    .push(format!("started: {}", count(sample.value)));
            }
            "colloquy_conversations_abandoned_total" => {
                if let Some(node) = sample.labels.get("node") {
                    notes
                        .entry(node.clone())
                        .or_default()
                        .push(format!("dropped here: {}", count(sample.value)));
                }
            }
            "colloquy_conversations_ended_total" => {
                let Some(result) = sample.labels.get("result") else {
                    continue;
                };
                for node in &dialog.nodes {
                    if node.kind.end_result() == Some(result.as_str()) {
                        notes
                            .entry(node.id.clone())
                            .or_default()
                            .push(format!("ended: {}", count(sample.value)));
                    }
                }
            }
            _ => {}
        }
    }
    notes
        .into_iter()
        .map(|(node, lines)| (node, lines.join(", ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_with_their_labels() {
        let text = "# HELP x\n# TYPE x counter\nx_total{a=\"1\",b=\"say \\\"hi\\\"\"} 3\nplain 2.5\ngarbled{a=1} 4\n\n";
        let read = samples(text);
        assert_eq!(read.len(), 2, "{read:?}");
        assert_eq!(read[0].name, "x_total");
        assert_eq!(read[0].labels["b"], "say \"hi\"");
        assert!((read[0].value - 3.0).abs() < f64::EPSILON);
        assert_eq!(read[1].name, "plain");
    }
}
