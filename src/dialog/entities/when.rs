//! What the `date` and `time` entities share: the words of a message as dates and times are
//! read from them, in English and French (the shipped dialogs' languages), and the clock
//! times people write (`3pm`, `15:30`, `15h`, `noon`).

use chrono::NaiveTime;

/// The words of `text`, lower-cased, without the punctuation around them, French date words
/// put in English ("vendredi prochain" → "next friday", "15h30" → "15:30").
pub(super) fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for raw in text.split_whitespace().take(MAX_WORDS) {
        let word = raw
            .trim_matches(|c: char| !(c.is_alphanumeric() || c == '/' || c == ':'))
            .to_lowercase();
        let word = word.trim_end_matches([':', '/']).to_owned();
        if word.is_empty() {
            continue;
        }
        // "3 pm", "3 p.m." → "3pm".
        if matches!(word.as_str(), "pm" | "am" | "p.m" | "a.m")
            && words
                .last()
                .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
        {
            if let Some(last) = words.last_mut() {
                last.push_str(&word.replace('.', ""));
            }
            continue;
        }
        match french(&word) {
            Some("next") if words.last().is_some_and(|w| is_weekday(w)) => {
                // "vendredi prochain": the French put it after the day.
                let day = words.pop().unwrap_or_default();
                words.push("next".to_owned());
                words.push(day);
            }
            Some(english) => words.extend(english.split(' ').map(str::to_owned)),
            None => words.push(french_time(&word).unwrap_or(word)),
        }
    }
    words
}

/// The most words of a message read for a date or a time: a sentence, not a document.
const MAX_WORDS: usize = 60;

fn french(word: &str) -> Option<&'static str> {
    Some(match word {
        "lundi" => "monday",
        "mardi" => "tuesday",
        "mercredi" => "wednesday",
        "jeudi" => "thursday",
        "vendredi" => "friday",
        "samedi" => "saturday",
        "dimanche" => "sunday",
        "janvier" => "january",
        "février" | "fevrier" => "february",
        "mars" => "march",
        "avril" => "april",
        "mai" => "may",
        "juin" => "june",
        "juillet" => "july",
        "août" | "aout" => "august",
        "septembre" => "september",
        "octobre" => "october",
        "novembre" => "november",
        "décembre" | "decembre" => "december",
        "aujourd'hui" | "aujourdhui" => "today",
        "demain" => "tomorrow",
        "après-demain" | "apres-demain" => "in 2 days",
        "hier" => "yesterday",
        "prochain" | "prochaine" => "next",
        "midi" => "noon",
        "minuit" => "midnight",
        "à" | "le" | "vers" => "at",
        _ => return None,
    })
}

/// `15h` → `15:00`, `15h30` → `15:30`.
fn french_time(word: &str) -> Option<String> {
    let (hour, minute) = word.split_once('h')?;
    let minute = if minute.is_empty() { "00" } else { minute };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(hour) && minute.len() == 2 && digits(minute)).then(|| format!("{hour}:{minute}"))
}

pub(super) const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

pub(super) const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A day's name, whole or cut to three letters or more (`fri`, `thurs`).
pub(super) fn is_weekday(word: &str) -> bool {
    word.len() >= 3 && WEEKDAYS.iter().any(|day| day.starts_with(word))
}

/// A month's name, whole or cut to three letters or more (`dec`, `sept`).
pub(super) fn is_month(word: &str) -> bool {
    word.len() >= 3 && MONTHS.iter().any(|month| month.starts_with(word))
}

/// A clock time as people write it: `3pm`, `3:30pm`, `15:30`, `noon`, `midnight`; hours
/// without minutes or am/pm (`3`) are not a time.
pub(super) fn clock_time(word: &str) -> Option<NaiveTime> {
    match word {
        "noon" | "midday" => return NaiveTime::from_hms_opt(12, 0, 0),
        "midnight" => return NaiveTime::from_hms_opt(0, 0, 0),
        _ => {}
    }
    let (clock, afternoon) = if let Some(clock) = word.strip_suffix("pm") {
        (clock, Some(true))
    } else if let Some(clock) = word.strip_suffix("am") {
        (clock, Some(false))
    } else {
        (word, None)
    };
    let (hour, minute) = match clock.split_once([':', '.']) {
        Some((hour, minute)) if minute.len() == 2 => (hour, minute),
        None if afternoon.is_some() => (clock, "00"),
        // `3:5`, or an hour alone: morning or afternoon?
        _ => return None,
    };
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (mut hour, minute) = (number(hour)?, number(minute)?);
    match afternoon {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    NaiveTime::from_hms_opt(hour, minute, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_spaced_words_are_read_in_english() {
        assert_eq!(
            words("Vendredi prochain à 15h30, merci"),
            ["next", "friday", "at", "15:30", "merci"]
        );
        assert_eq!(words("at 3 p.m. tomorrow"), ["at", "3pm", "tomorrow"]);
        assert_eq!(words("après-demain"), ["in", "2", "days"]);
    }

    #[test]
    fn clock_times() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(clock_time("3pm"), t(15, 0));
        assert_eq!(clock_time("12am"), t(0, 0));
        assert_eq!(clock_time("12pm"), t(12, 0));
        assert_eq!(clock_time("9:05am"), t(9, 5));
        assert_eq!(clock_time("15:30"), t(15, 30));
        assert_eq!(clock_time("noon"), t(12, 0));
        assert_eq!(clock_time("3"), None);
        assert_eq!(clock_time("13pm"), None);
        assert_eq!(clock_time("25:00"), None);
        assert_eq!(clock_time("3:5"), None);
        assert_eq!(clock_time("10/12"), None);
    }
}
