//! `date`: a day, saved as `YYYY-MM-DD`, read in the session's time zone.
//!
//! Accepts, inside a sentence, in English and French: relative days (`today`, `tomorrow`,
//! `demain`, `in 3 days`, `next week`), days of the week (`friday`, `fri`, `this friday`,
//! `next friday` — the Friday of next week —, `vendredi prochain`), dates with a month
//! name (`10 December`, `dec 10th`, `le 10 décembre 2027`) and numeric dates (`2026-12-10`,
//! `10/12` — day first, month first when `dialogs.phone_region` is US). A time beside the
//! day is allowed ("next friday at 3pm") and ignored here (`time` reads it). A number alone
//! is never a date, and a month name that is also a word (`may`, `march`) counts only beside
//! a day number. Two different days are asked about. Relative dates are computed by the
//! `interim` crate from the instant of the turn in `dialogs.time_zone`.

use chrono::{Datelike, Days, NaiveDate};

use crate::dialog::value::Value;

use super::when::{MONTHS, clock_time, is_month, is_weekday, words};
use super::{EntityKind, EntitySpec, Found, Hearing, listed, without_parameters};

pub const SPEC: EntitySpec = EntitySpec {
    name: "date",
    accepts: "A day inside the message (tomorrow, next friday, 10 December, 2026-12-10, vendredi prochain), read in `dialogs.time_zone`; saved as YYYY-MM-DD.",
    keys: &[],
    sensitive: false,
    early: true,
    also_sets: &[],
    read: without_parameters::<Date>,
};

#[derive(Debug, Default)]
pub struct Date;

impl EntityKind for Date {
    fn spec(&self) -> &'static EntitySpec {
        &SPEC
    }

    fn resembles(&self, text: &str) -> bool {
        text.chars().any(|c| c.is_ascii_digit())
    }

    fn find(&self, text: &str, hearing: &Hearing<'_>) -> Found {
        let days = days(text, hearing);
        Found::from_candidates(
            days.into_iter()
                .map(|day| Value::Text(day.format("%Y-%m-%d").to_string()))
                .collect(),
        )
    }

    fn which_one(&self, candidates: &[Value]) -> String {
        format!(
            "I see more than one date: {}. Which day did you mean?",
            listed(candidates)
        )
    }
}

/// Every distinct day `text` names, in order.
pub(super) fn days(text: &str, hearing: &Hearing<'_>) -> Vec<NaiveDate> {
    let words = words(text);
    let short = words.len() == 1;
    let now = hearing.now.with_timezone(&hearing.place.zone);
    let dialect = if hearing.place.region == Some(phonenumber::country::Id::US) {
        interim::Dialect::Us
    } else {
        interim::Dialect::Uk
    };
    let mut found: Vec<NaiveDate> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !starts_a_date(&words, i, short) {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < words.len() && end - i < MAX_SPAN && continues_a_date(&words[end]) {
            end += 1;
        }
        let parsed = (i + 1..=end)
            .rev()
            .find_map(|e| day(&words[i..e], now, dialect).map(|day| (day, e)));
        match parsed {
            Some((day, e)) => {
                if !found.contains(&day) {
                    found.push(day);
                }
                i = e;
            }
            None => i += 1,
        }
    }
    found
}

/// The most words one date is written with ("next friday at 3 pm", "the 10th of december 2027").
const MAX_SPAN: usize = 7;

fn number(word: &str) -> Option<u32> {
    let digits = word
        .strip_suffix("st")
        .or_else(|| word.strip_suffix("nd"))
        .or_else(|| word.strip_suffix("rd"))
        .or_else(|| word.strip_suffix("th"))
        .or_else(|| word.strip_suffix("er"))
        .unwrap_or(word);
    (!digits.is_empty() && digits.len() <= 4 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn is_day_number(word: &str) -> bool {
    number(word).is_some_and(|n| (1..=31).contains(&n))
}

/// `10/12`, `10/12/2026`, `2026-12-10`, `10-12-2026`.
fn is_numeric_date(word: &str) -> bool {
    let parts: Vec<&str> = word.split(['/', '-']).collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn starts_a_date(words: &[String], i: usize, short: bool) -> bool {
    let word = words[i].as_str();
    let next = words.get(i + 1).map(String::as_str);
    let previous = i.checked_sub(1).map(|p| words[p].as_str());
    match word {
        "today" | "tomorrow" | "yesterday" | "tonight" => true,
        "next" | "this" | "last" => next.is_some_and(|n| {
            is_weekday(n) || is_month(n) || matches!(n, "week" | "month" | "year")
        }),
        "in" => {
            next.is_some_and(|n| number(n).is_some())
                && words
                    .get(i + 2)
                    .is_some_and(|u| matches!(u.as_str(), "day" | "days" | "week" | "weeks"))
        }
        // Short names that are also words ("sat down", "the sun") only as the whole answer.
        "sat" | "sun" | "wed" | "mon" | "tue" => short,
        _ if is_weekday(word) => true,
        // "may", "march": a month only beside a day number.
        _ if is_month(word) => {
            next.is_some_and(is_day_number)
                || (!matches!(word, "may" | "mar" | "march") && MONTHS.contains(&word))
        }
        _ if is_day_number(word) => {
            next.is_some_and(is_month)
                || (next == Some("of") && words.get(i + 2).is_some_and(|m| is_month(m)))
                || previous.is_some_and(|p| p == "the") && next.is_none()
        }
        _ => is_numeric_date(word),
    }
}

fn continues_a_date(word: &str) -> bool {
    is_weekday(word)
        || is_month(word)
        || number(word).is_some()
        || clock_time(word).is_some()
        || is_numeric_date(word)
        || matches!(
            word,
            "of" | "at"
                | "next"
                | "week"
                | "weeks"
                | "day"
                | "days"
                | "month"
                | "year"
                | "the"
                | "on"
        )
}

/// The day the words name, computed from `now`; `None` when they name none.
fn day(
    words: &[String],
    now: chrono::DateTime<chrono_tz::Tz>,
    dialect: interim::Dialect,
) -> Option<NaiveDate> {
    let today = now.date_naive();
    if let [first, count, unit] = words
        && first == "in"
    {
        let count = u64::from(number(count)?);
        let days = if unit.starts_with("week") {
            count * 7
        } else {
            count
        };
        return today.checked_add_days(Days::new(days));
    }
    let mut cleaned: Vec<String> = Vec::new();
    for word in words {
        match word.as_str() {
            "at" | "on" | "the" | "of" => {}
            "tonight" => cleaned.push("today".to_owned()),
            _ if clock_time(word).is_some() => {}
            _ => match number(word) {
                Some(n) if !word.bytes().all(|b| b.is_ascii_digit()) => {
                    cleaned.push(n.to_string());
                }
                _ if is_numeric_date(word) && !looks_iso(word) => {
                    cleaned.push(word.replace('-', "/"));
                }
                _ => cleaned.push(word.clone()),
            },
        }
    }
    if cleaned.is_empty() || cleaned.iter().all(|w| number(w).is_some()) {
        return None;
    }
    let text = cleaned.join(" ");
    let parsed = interim::parse_date_string(&text, now, dialect).ok()?;
    let mut day = parsed.date_naive();
    // A day and month without a year that has passed this year is next year's ("may 5" in
    // December): people name past days with "last".
    let has_year = words
        .iter()
        .any(|w| number(w).is_some_and(|n| n > 31) || w.split(['/', '-']).count() == 3);
    if day < today
        && !has_year
        && !words
            .iter()
            .any(|w| matches!(w.as_str(), "last" | "yesterday"))
    {
        day = day.with_year(day.year() + 1).unwrap_or(day);
    }
    // Years far from now are a misreading ("the 5th" as the year 5), not a booking.
    (day.years_since(today).unwrap_or(0) < 100 && today.years_since(day).unwrap_or(0) < 100)
        .then_some(day)
}

fn looks_iso(word: &str) -> bool {
    word.len() == 10 && word.as_bytes()[4] == b'-'
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::Place;
    use super::*;

    /// Monday 7 December 2026, 12:30 in London.
    fn heard(text: &str) -> Vec<String> {
        let mut hearing = Hearing::plain(Utc.with_ymd_and_hms(2026, 12, 7, 12, 30, 0).unwrap());
        hearing.place = Place {
            zone: chrono_tz::Europe::London,
            region: None,
        };
        days(text, &hearing)
            .into_iter()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect()
    }

    #[test]
    fn days_are_read_from_sentences() {
        let cases = [
            ("tomorrow", "2026-12-08"),
            ("Tomorrow please!", "2026-12-08"),
            ("can I come on friday?", "2026-12-11"),
            ("this friday", "2026-12-11"),
            ("next friday at 3pm", "2026-12-18"),
            ("Fri", "2026-12-11"),
            ("10 December", "2026-12-10"),
            ("dec 10th works", "2026-12-10"),
            ("the 10th of december", "2026-12-10"),
            ("2026-12-10", "2026-12-10"),
            ("10/12", "2026-12-10"),
            ("on 10-12-2026 if possible", "2026-12-10"),
            ("in 3 days", "2026-12-10"),
            ("in 2 weeks", "2026-12-21"),
            ("demain", "2026-12-08"),
            ("vendredi prochain à 15h", "2026-12-18"),
            ("le 10 décembre", "2026-12-10"),
            ("today", "2026-12-07"),
            ("may 5", "2027-05-05"),
        ];
        for (text, want) in cases {
            assert_eq!(heard(text), [want], "{text}");
        }
    }

    #[test]
    fn what_names_no_day_is_no_date() {
        for text in [
            "3pm",
            "12",
            "I may come",
            "march on",
            "sat down",
            "the sun is out today or not",
            "1234",
            "",
            "next",
            "in 3",
            "second",
        ] {
            let got = heard(text);
            assert!(got.is_empty() || text.contains("today"), "{text}: {got:?}");
        }
        assert_eq!(heard("sat"), ["2026-12-12"], "a short answer");
    }

    #[test]
    fn two_days_are_both_found() {
        assert_eq!(heard("friday or saturday"), ["2026-12-11", "2026-12-12"]);
        assert_eq!(heard("friday, I mean friday"), ["2026-12-11"]);
    }
}
