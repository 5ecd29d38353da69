//! Understanding what a person typed at a question: the answer inside a sentence, a keyword
//! phrase inside a sentence, or several candidates to ask about.
//!
//! People write "sure, it's Bob@Example.com thanks", "my code is 12 34", "yeah sure" and
//! "can you resend it?". [`hear`] decides, in this order (the precedence rule):
//!
//! 1. the whole message is a keyword phrase (`cancel`, `start over`): that keyword;
//! 2. the question's entity finds one value in the message: the answer; several distinct
//!    ones: ask which (so `cancel@example.com` is an address, never a cancel); a `choice`
//!    finds its options ([`choices`]);
//! 3. a keyword phrase occurs inside the message on word boundaries, a word of five letters
//!    or more matching with one typo (`resnd`, `cancle`): the longest phrase, then the first;
//! 4. not understood.
//!
//! Keyword lists are searched in the order given (global keywords before the question's own).
//! Everything here is deterministic and pure.

use std::borrow::Cow;

use super::entity::{CodeShape, Entity, Found};
use super::model::{ChoiceOption, Keyword, normalise_keyword};
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
pub fn hear(text: &str, entity: Entity, shape: CodeShape, lists: &[&[Keyword]]) -> Heard {
    hear_with(text, |text| entity.find(text, shape), lists)
}

/// [`hear`] with the question's own way of finding its answer in a message (`find`: its
/// entity's, or its options', or its pattern's).
pub fn hear_with(text: &str, find: impl FnOnce(&str) -> Found, lists: &[&[Keyword]]) -> Heard {
    for (list, keywords) in lists.iter().enumerate() {
        if let Some(index) = keywords.iter().position(|k| k.matches(text)) {
            return Heard::Keyword {
                list,
                index,
                exact: true,
            };
        }
    }
    match find(text) {
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

/// The option a message names: a number alone is the option at that position (1 is the
/// first: channels without buttons list them numbered); a whole message that is an option's
/// value, label or synonym is that option; else every option with such a phrase inside the
/// message, matched like keywords (word boundaries, one typo in words of five letters or
/// more). Several options are [`Found::Several`] with their labels, for the question back.
pub fn choices(text: &str, options: &[ChoiceOption]) -> Found {
    let chosen = |option: &ChoiceOption| Found::One(Value::Text(option.value.clone()));
    let normalised = normalise_keyword(text);
    if let Ok(position) = normalised.parse::<usize>() {
        return match position.checked_sub(1).and_then(|i| options.get(i)) {
            Some(option) => chosen(option),
            None => Found::Nothing,
        };
    }
    if let Some(option) = options
        .iter()
        .find(|o| o.words.iter().any(|w| *w == normalised))
    {
        return chosen(option);
    }
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    // Every (option, start, end) a phrase of an option covers in the message.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (i, option) in options.iter().enumerate() {
        for phrase in &option.words {
            let phrase: Vec<&str> = phrase.split(' ').filter(|w| !w.is_empty()).collect();
            for start in phrase_starts(&phrase, &words) {
                spans.push((i, start, start + phrase.len()));
            }
        }
    }
    spans.sort_by_key(|&(_, start, _)| start);
    // A match inside a longer match of another option is part of that one: "beard trim" is
    // the beard option, not also the haircut's "trim".
    let inside_another = |&(i, start, end): &(usize, usize, usize)| {
        spans
            .iter()
            .any(|&(j, s, e)| j != i && s <= start && end <= e && (e - s) > (end - start))
    };
    let mut named: Vec<&ChoiceOption> = Vec::new();
    for span in spans.iter().filter(|span| !inside_another(span)) {
        let option = &options[span.0];
        if !named.iter().any(|o| o.value == option.value) {
            named.push(option);
        }
    }
    match named.as_slice() {
        [] => Found::Nothing,
        [one] => chosen(one),
        several => Found::Several(
            several
                .iter()
                .map(|o| Value::Text(o.label.clone()))
                .collect(),
        ),
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

/// Every distinct value `pattern` finds in `text`, in order: its first capture group where it
/// has one, else the whole match.
pub fn pattern_matches(text: &str, pattern: &regex::Regex) -> Found {
    let mut found: Vec<Value> = Vec::new();
    for captures in pattern.captures_iter(text).take(16) {
        let matched = captures.get(1).or_else(|| captures.get(0));
        if let Some(matched) = matched {
            let value = Value::Text(matched.as_str().to_owned());
            if !matched.as_str().is_empty() && !found.contains(&value) {
                found.push(value);
            }
        }
    }
    match found.len() {
        0 => Found::Nothing,
        1 => Found::One(found.remove(0)),
        _ => Found::Several(found),
    }
}

/// Where `phrase` first starts in `words`, each word equal or, for phrase words of five
/// letters or more, one edit away.
fn find_phrase(phrase: &[&str], words: &[&str]) -> Option<usize> {
    phrase_starts(phrase, words).next()
}

/// Every position where `phrase` starts in `words` (see [`find_phrase`]).
fn phrase_starts<'a>(phrase: &'a [&str], words: &'a [&str]) -> impl Iterator<Item = usize> + 'a {
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

/// Every distinct email address written in `text`, in order. A token is stripped of quotes,
/// brackets and punctuation around it, of `mailto:` and of a `label:` before the address.
pub fn emails(text: &str) -> Vec<Value> {
    let mut found: Vec<(String, Value)> = Vec::new();
    for token in text.split_whitespace() {
        if !token.contains('@') {
            continue;
        }
        let token = token
            .trim_start_matches(|c: char| "\"'“”‘’«»<([{".contains(c))
            .trim_end_matches(|c: char| "\"'“”‘’«»>)]},;:!?.".contains(c));
        let token = match token.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("mailto:") => &token[7..],
            _ => token,
        };
        let token = match (token.find('@'), token.rfind(':')) {
            (Some(at), Some(colon)) if colon < at => &token[colon + 1..],
            _ => token,
        };
        if let Ok(address) = crate::address::EmailAddr::parse(token) {
            let key = address.limit_key();
            if !found.iter().any(|(k, _)| *k == key) {
                found.push((key, Value::Text(address.as_str().to_owned())));
            }
        }
    }
    found.into_iter().map(|(_, value)| value).collect()
}

/// Every distinct code of `shape` written in `text`, in order. Digits may be grouped by one
/// space, hyphen or no-break space (`12 34`); a run of several whole codes (`1234 5678`)
/// gives each. Alphanumeric codes are words of the code's length holding a digit.
pub fn codes(text: &str, shape: CodeShape) -> Vec<Value> {
    let length = usize::from(shape.length);
    let mut found: Vec<String> = Vec::new();
    let mut push = |code: String| {
        if !found.contains(&code) {
            found.push(code);
        }
    };
    if shape.alphanumeric {
        for token in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            if token.len() == length && token.bytes().any(|b| b.is_ascii_digit()) {
                push(token.to_ascii_uppercase());
            }
        }
    } else {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let mut groups: Vec<String> = vec![String::new()];
            while i < chars.len() {
                let c = chars[i];
                if c.is_ascii_digit() {
                    if let Some(group) = groups.last_mut() {
                        group.push(c);
                    }
                    i += 1;
                } else if matches!(c, ' ' | '-' | '\u{a0}')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                {
                    groups.push(String::new());
                    i += 1;
                } else {
                    break;
                }
            }
            let digits: usize = groups.iter().map(String::len).sum();
            if digits == length {
                push(groups.concat());
            } else if groups.len() > 1 && groups.iter().all(|g| g.len() == length) {
                groups.into_iter().for_each(&mut push);
            }
        }
    }
    found.into_iter().map(Value::Text).collect()
}

/// English and French (the shipped dialogs' languages).
const YES: &[&str] = &[
    "oui",
    "ouais",
    "daccord",
    "bien sûr",
    "bien sur",
    "volontiers",
    "yes",
    "y",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "yah",
    "sure",
    "ok",
    "okay",
    "okey",
    "correct",
    "right",
    "absolutely",
    "definitely",
    "certainly",
    "affirmative",
    "true",
    "of course",
    "go ahead",
    "please do",
    "do it",
    "sounds good",
];
const NO: &[&str] = &[
    "non",
    "non merci",
    "jamais",
    "no",
    "n",
    "nope",
    "nah",
    "naw",
    "not",
    "never",
    "negative",
    "false",
    "dont",
    "do not",
    "no thanks",
    "not really",
];

/// Yes or no when the message says only one of them ("yeah sure", "nah", "no thanks"); `None`
/// when it says neither, or both ("not sure").
pub fn yes_no(text: &str) -> Option<bool> {
    let normalised = normalise_keyword(text);
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    let says = |phrases: &[&str]| {
        phrases.iter().any(|phrase| {
            let phrase: Vec<&str> = phrase.split(' ').collect();
            words
                .windows(phrase.len())
                .any(|window| window == phrase.as_slice())
        })
    };
    let yes = says(YES) || text.contains('👍');
    let no = says(NO) || text.contains('👎');
    match (yes, no) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

const NUMBER_WORDS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];

/// Every distinct number written in `text`, in digits (`2,5` is 2.5) or as a word up to
/// twelve, in order.
pub fn numbers(text: &str) -> Vec<Value> {
    let lower = text.to_lowercase();
    let mut found: Vec<(usize, f64)> = Vec::new();
    let chars: Vec<(usize, char)> = lower.char_indices().collect();
    let digit = |i: usize| chars.get(i).is_some_and(|(_, c)| c.is_ascii_digit());
    let mut i = 0;
    while i < chars.len() {
        // A number starts after a space or punctuation, not inside a word, `1-2` or `1.2.3`.
        let starts =
            i == 0 || !matches!(chars[i - 1].1, c if c.is_alphanumeric() || ".,-".contains(c));
        let minus = chars[i].1 == '-' && digit(i + 1);
        if !(starts && (digit(i) || minus)) {
            i += 1;
            continue;
        }
        let start = i;
        let mut number = String::new();
        if minus {
            number.push('-');
            i += 1;
        }
        while digit(i) {
            number.push(chars[i].1);
            i += 1;
        }
        if chars.get(i).is_some_and(|(_, c)| matches!(c, '.' | ',')) && digit(i + 1) {
            number.push('.');
            i += 1;
            while digit(i) {
                number.push(chars[i].1);
                i += 1;
            }
        }
        if let Ok(n) = number.parse::<f64>()
            && n.is_finite()
        {
            found.push((chars[start].0, n));
        }
    }
    let mut offset = 0;
    for word in lower.split(|c: char| !c.is_alphanumeric()) {
        if let Some(n) = NUMBER_WORDS.iter().position(|w| *w == word) {
            #[allow(clippy::cast_precision_loss)]
            found.push((offset, n as f64));
        }
        offset += word.len() + 1;
    }
    found.sort_by_key(|(at, _)| *at);
    let mut distinct: Vec<f64> = Vec::new();
    for (_, n) in found {
        #[allow(clippy::float_cmp)]
        if !distinct.contains(&n) {
            distinct.push(n);
        }
    }
    distinct.into_iter().map(Value::Number).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Vec<ChoiceOption> {
        let option = |value: &str, label: &str, also: &[&str]| ChoiceOption {
            value: value.to_owned(),
            label: label.to_owned(),
            words: [value, label]
                .iter()
                .chain(also)
                .map(|w| normalise_keyword(w).into_owned())
                .collect(),
        };
        vec![
            option("haircut", "Hair cut", &["cut", "trim"]),
            option("colour", "Colour", &["color", "dye", "highlights"]),
            option("beard_trim", "Beard trim", &["beard", "shave"]),
        ]
    }

    fn heard(text: &str) -> Heard {
        hear_with(text, |text| choices(text, &options()), &[])
    }

    fn answer(value: &str) -> Heard {
        Heard::Answer(Value::Text(value.to_owned()))
    }

    #[test]
    fn a_choice_is_read_from_its_value_label_synonym_or_position() {
        assert_eq!(heard("Haircut"), answer("haircut"));
        assert_eq!(heard("hair cut!"), answer("haircut"));
        assert_eq!(heard("color"), answer("colour"));
        assert_eq!(heard("2"), answer("colour"));
        assert_eq!(heard(" 3. "), answer("beard_trim"));
        assert_eq!(heard("I'd like a haircut please"), answer("haircut"));
        assert_eq!(heard("some highlihgts maybe"), answer("colour"));
        // "beard trim" names the beard option whole; "trim" alone would be the haircut.
        assert_eq!(heard("beard trim"), answer("beard_trim"));
        assert_eq!(heard("just a beard trim today"), answer("beard_trim"));
        assert_eq!(heard("a trim please"), answer("haircut"));
    }

    #[test]
    fn two_options_are_asked_about_and_nothing_is_not_a_choice() {
        assert_eq!(
            heard("a haircut and a shave"),
            Heard::Ambiguous(vec![
                Value::Text("Hair cut".into()),
                Value::Text("Beard trim".into())
            ])
        );
        assert_eq!(
            heard("a haircut and a beard trim"),
            Heard::Ambiguous(vec![
                Value::Text("Hair cut".into()),
                Value::Text("Beard trim".into())
            ])
        );
        assert_eq!(heard("4"), Heard::NotUnderstood);
        assert_eq!(heard("0"), Heard::NotUnderstood);
        assert_eq!(heard("a massage"), Heard::NotUnderstood);
        assert_eq!(heard(""), Heard::NotUnderstood);
    }
}
