//! Understanding what a person typed at a question: the answer inside a sentence, a keyword
//! phrase inside a sentence, or several candidates to ask about.
//!
//! People write "sure, it's Bob@Example.com thanks", "my code is 12 34", "yeah sure" and
//! "can you resend it?". [`hear`] decides, in this order (the precedence rule):
//!
//! 1. the whole message is a keyword phrase (`cancel`, `start over`): that keyword;
//! 2. the question's entity finds one value in the message: the answer; several distinct
//!    ones: ask which (so `cancel@example.com` is an address, never a cancel); what each
//!    entity finds is documented in its file of `entities/`;
//! 3. a keyword phrase occurs inside the message on word boundaries, a word of five letters
//!    or more matching with one typo (`resnd`, `cancle`): the longest phrase, then the first;
//! 4. not understood.
//!
//! Keyword lists are searched in the order given (global keywords before the question's own).
//! Everything here is deterministic and pure.

use std::borrow::Cow;

use super::entities::{EntityKind, Found, Hearing};
use super::model::{Keyword, normalise_keyword};
use super::value::Value;

/// What a message at a question amounts to.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    /// The `index`-th keyword of the `list`-th keyword list.
    Keyword {
        list: usize,
        index: usize,
        /// The whole message was the keyword (not a phrase inside a sentence).
        exact: bool,
    },
    Answer(Value),
    /// Several distinct candidates: ask which.
    Ambiguous(Vec<Value>),
    NotUnderstood,
}

/// Decides what `text` means at a question for `entity`, with `lists` of keywords in
/// precedence order.
pub fn hear(
    text: &str,
    entity: &dyn EntityKind,
    hearing: &Hearing<'_>,
    lists: &[&[Keyword]],
) -> Heard {
    for (list, keywords) in lists.iter().enumerate() {
        if let Some(index) = keywords.iter().position(|k| k.matches(text)) {
            return Heard::Keyword {
                list,
                index,
                exact: true,
            };
        }
    }
    match entity.find(text, hearing) {
        Found::One(value) => return Heard::Answer(value),
        Found::Several(values) => return Heard::Ambiguous(values),
        Found::Nothing => {}
    }
    let normalised = normalise_keyword(text);
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    // The best phrase: most words, then earliest in the message, then list and keyword order.
    let mut best: Option<(usize, usize, usize, usize)> = None;
    for (list, keywords) in lists.iter().enumerate() {
        for (index, keyword) in keywords.iter().enumerate() {
            for phrase in &keyword.words {
                let phrase: Vec<&str> = phrase.split(' ').filter(|w| !w.is_empty()).collect();
                if let Some(at) = find_phrase(&phrase, &words) {
                    let better = best.is_none_or(|(len, pos, _, _)| {
                        phrase.len() > len || (phrase.len() == len && at < pos)
                    });
                    if better {
                        best = Some((phrase.len(), at, list, index));
                    }
                }
            }
        }
    }
    match best {
        Some((_, _, list, index)) => Heard::Keyword {
            list,
            index,
            exact: false,
        },
        None => Heard::NotUnderstood,
    }
}

/// The number of words of the longest of `phrases` (normalised) found in `text` on word
/// boundaries, one typo forgiven in words of five letters or more; `None` when none is.
pub fn longest_mention(text: &str, phrases: &[String]) -> Option<usize> {
    let normalised = normalise_keyword(text);
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    phrases
        .iter()
        .filter_map(|phrase| {
            let phrase: Vec<&str> = phrase.split(' ').filter(|w| !w.is_empty()).collect();
            find_phrase(&phrase, &words).map(|_| phrase.len())
        })
        .max()
}

/// Where `phrase` first starts in `words`, each word equal or, for phrase words of five
/// letters or more, one edit away.
fn find_phrase(phrase: &[&str], words: &[&str]) -> Option<usize> {
    phrase_starts(phrase, words).next()
}

/// Every position where `phrase` starts in `words` (see [`find_phrase`]).
pub(crate) fn phrase_starts<'a>(
    phrase: &'a [&str],
    words: &'a [&str],
) -> impl Iterator<Item = usize> + 'a {
    let last = if phrase.is_empty() || phrase.len() > words.len() {
        None
    } else {
        Some(words.len() - phrase.len())
    };
    last.into_iter().flat_map(move |last| {
        (0..=last).filter(move |&start| {
            phrase
                .iter()
                .zip(&words[start..])
                .all(|(want, got)| same_word(want, got))
        })
    })
}

/// One typo is forgiven in words of five letters or more: shorter words differ by one letter
/// too often (`stop`/`shop`, `quit`/`quiz`).
fn same_word(want: &str, got: &str) -> bool {
    if want == got {
        return true;
    }
    let (w, g) = (want.chars().count(), got.chars().count());
    w >= 5 && w.abs_diff(g) <= 1 && strsim::damerau_levenshtein(want, got) <= 1
}

/// `text` without zero-width characters and direction marks, which people paste along with
/// addresses and codes without seeing them.
pub fn visible(text: &str) -> Cow<'_, str> {
    let invisible = |c: char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
    if text.chars().any(invisible) {
        Cow::Owned(text.chars().filter(|&c| !invisible(c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}
