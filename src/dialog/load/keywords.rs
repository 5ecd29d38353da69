//! `keywords:` — words that jump to a node, globally or at one question.

use crate::diagnostic::Diagnostic;
use crate::reader::Diagnostics;
use crate::yaml::Node as YamlNode;

use super::super::model::normalise_keyword;
use super::resolver::Ref;

/// A keyword as written: words, target and options.
#[derive(Debug, Clone)]
pub struct RawKeyword {
    pub words: Vec<String>,
    pub target: Ref,
    pub reset: bool,
}

/// Reads `keywords:` — `word: node` or `word: { goto: node, also: [synonyms], reset: true }`.
pub fn read_keywords(node: &YamlNode, d: &mut Diagnostics, what: &str) -> Vec<RawKeyword> {
    let Some(entries) = node.as_map() else {
        d.push(
            Diagnostic::error(
                node.pos,
                format!(
                    "{what} must be a mapping of words to nodes, found {}",
                    node.value.kind()
                ),
            )
            .with_hint("write `resend: send_code`"),
        );
        return Vec::new();
    };
    let mut keywords = Vec::new();
    for (key, value) in entries {
        let Some(word) = d.text(key, "a keyword") else {
            continue;
        };
        let mut words = vec![normalise_keyword(&word).into_owned()];
        let keyword = if let Some(name) = value.as_str() {
            RawKeyword {
                words,
                target: Ref {
                    name: name.to_owned(),
                    pos: value.pos,
                },
                reset: false,
            }
        } else {
            let Some(mut map) = d.map(value, &format!("keyword `{word}`")) else {
                continue;
            };
            let target = map.take("goto").and_then(|n| Ref::read(d, n, "`goto`"));
            if let Some(also) = map.take("also") {
                words.extend(
                    d.texts(also, "a synonym")
                        .into_iter()
                        .map(|(_, w)| normalise_keyword(&w).into_owned()),
                );
            }
            let reset = map
                .take("reset")
                .and_then(|n| d.boolean(n, "`reset`"))
                .unwrap_or(false);
            let lacks_goto = map.lacks("goto");
            map.finish(d, &format!("keyword `{word}`"));
            let Some(target) = target else {
                if lacks_goto {
                    d.push(
                        Diagnostic::error(value.pos, format!("keyword `{word}` has no `goto`"))
                            .with_hint("add `goto: <node id>`"),
                    );
                }
                continue;
            };
            RawKeyword {
                words,
                target,
                reset,
            }
        };
        keywords.push(keyword);
    }
    keywords
}
