//! Instants in the stored documents, written exactly as chrono's own `Serialize` writes them
//! (RFC 3339 in UTC with `Z`, and 0, 3, 6 or 9 fractional digits, as few as say it all), but
//! formatted into a buffer on the stack and handed to the serializer as one string. chrono
//! writes an instant a character at a time through `fmt::Write`, and serde_json escapes each
//! of those writes on its own: the instants of a session's document (a line of its transcript
//! each) were a tenth of what a turn on Redis executes. Reading is chrono's, unchanged.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// For `#[serde(serialize_with = "instant::write")]`.
pub(super) fn write<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0; LONGEST];
    match rfc3339(at, &mut buffer) {
        Some(text) => serializer.serialize_str(text),
        // Years past four digits and leap seconds, as chrono writes them.
        None => serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// [`write`] for an optional instant (`None` as `null`).
// The signature `serialize_with` calls.
#[allow(clippy::ref_option)]
pub(super) fn write_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => write(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// `2026-12-07T23:37:47.123456789Z`.
const LONGEST: usize = 30;

/// `at` in `buffer`; `None` for what this does not write (a year outside 0–9999, a leap
/// second).
fn rfc3339<'b>(at: &DateTime<Utc>, buffer: &'b mut [u8; LONGEST]) -> Option<&'b str> {
    let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let (fraction, digits) = if nanos == 0 {
        (0, 0)
    } else if nanos.is_multiple_of(1_000_000) {
        (nanos / 1_000_000, 3)
    } else if nanos.is_multiple_of(1_000) {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    };
    let mut w = Digits { buffer, len: 0 };
    w.number(year, 4);
    w.byte(b'-');
    w.number(at.month(), 2);
    w.byte(b'-');
    w.number(at.day(), 2);
    w.byte(b'T');
    w.number(at.hour(), 2);
    w.byte(b':');
    w.number(at.minute(), 2);
    w.byte(b':');
    w.number(at.second(), 2);
    if digits > 0 {
        w.byte(b'.');
        w.number(fraction, digits);
    }
    w.byte(b'Z');
    let len = w.len;
    std::str::from_utf8(&buffer[..len]).ok()
}

struct Digits<'a> {
    buffer: &'a mut [u8; LONGEST],
    len: usize,
}

impl Digits<'_> {
    fn byte(&mut self, byte: u8) {
        if let Some(slot) = self.buffer.get_mut(self.len) {
            *slot = byte;
        }
        self.len += 1;
    }

    /// `value` in `width` decimal digits, zero-padded.
    fn number(&mut self, mut value: u32, width: usize) {
        for i in (0..width).rev() {
            if let Some(slot) = self.buffer.get_mut(self.len + i) {
                *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
            }
            value /= 10;
        }
        self.len += width;
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use rand::RngExt;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Written(#[serde(serialize_with = "super::write")] DateTime<Utc>);

    fn same_as_chrono(at: DateTime<Utc>) {
        assert_eq!(
            serde_json::to_string(&Written(at)).unwrap(),
            serde_json::to_string(&at).unwrap(),
            "{at:?}"
        );
    }

    #[test]
    fn instants_are_written_as_chrono_writes_them() {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        for nanos in [
            0,
            1,
            999,
            1_000,
            120_000,
            5_000_000,
            999_999_999,
            123_456_789,
        ] {
            same_as_chrono(epoch + TimeDelta::nanoseconds(nanos));
        }
        // Year 0, 9999 and past it, before the epoch, and a leap second.
        for text in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "+10000-01-01T00:00:00Z",
            "1969-07-20T20:17:40.5Z",
            "2016-12-31T23:59:60.25Z",
        ] {
            same_as_chrono(text.parse().unwrap());
        }
        let mut rng = rand::rng();
        for _ in 0..20_000 {
            let seconds = rng.random_range(-70_000_000_000_i64..260_000_000_000);
            let nanos = match rng.random_range(0..4) {
                0 => 0,
                1 => rng.random_range(0..1_000) * 1_000_000,
                2 => rng.random_range(0..1_000_000) * 1_000,
                _ => rng.random_range(0..1_000_000_000),
            };
            if let Some(at) = DateTime::from_timestamp(seconds, nanos) {
                same_as_chrono(at);
            }
        }
    }
}
