//! The memory store's record: a session, its version and its idempotency records in one
//! compact byte string, rather than a `Session` value with a heap allocation per string.
//!
//! Why: an idle session as a `Session` plus a `VecDeque<Processed>` took about 2.2 KB of heap
//! in a dozen allocations (the processed deque alone reserved room for four 200-byte records);
//! as one record it takes about 400 bytes in one allocation, and saving a session encodes it
//! once instead of deep-cloning it (BENCHMARKS.md). The session id is the map key and is not
//! repeated inside. The layout is private to this process and has no version: nothing else
//! ever reads it.
//!
//! Layout: a header of `version: u64`, `updated_at` (12 bytes) and its standing for eviction
//! (flags `u8`: 1 ended, 2 tail compressed; the instant its code stops being usable, 12
//! bytes); then the tail: the session's length (`u32`) and encoding, then the processed
//! records, oldest first, each preceded by its length (`u32`; a record's message digest is
//! kept as its 16 bytes, not their hex, and so is a message id written as a UUID).
//!
//! An ended session's tail is compressed (LZ4, its length first): such a session waits out
//! its idle TTL only for retries and the next conversation, and its bot's answers are in both
//! its transcript and its records, which compression keeps once. That halves what it takes
//! (BENCHMARKS.md), for a few microseconds once per conversation and on the rare read. It
//! is compressed against a dictionary of what such records repeat from one session to the
//! next, its dialog's own texts ([`Dictionaries`]): a transcript and its answers are mostly
//! the dialog's prompts, which compression on its own would keep once per session. The
//! compressed tail is the dictionary's number (`u16`), the tail's length and the LZ4 block.
//! Integers are little-endian; strings are a varint length and UTF-8 bytes. Encoders
//! destructure every type whole, so a field added to `Session` (or to anything it holds)
//! does not compile until it is encoded here.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::dialog::entities::Entity;
use crate::dialog::reply::{Choice, TurnReply};
use crate::dialog::session::{Frame, Handoff, HistoryEntry, InvalidAnswers, Speaker, Suggestion};
use crate::dialog::value::{Context, Slot, Value};
use crate::dialog::{Session, State};
use crate::otp::{Alphabet, CodeStatus, OtpState};
use crate::store::Processed;

use super::wire::{Reader, Writer};

/// Byte offset of the session's standing.
const STANDING_AT: usize = 8 + 12;
/// Byte offset of the tail (the session's length, its encoding, the processed records).
const TAIL_AT: usize = STANDING_AT + 1 + 12;

/// Standing flags.
const ENDED: u8 = 1;
const COMPRESSED: u8 = 2;

fn state_code(state: State) -> u8 {
    match state {
        State::New => 0,
        State::Waiting => 1,
        State::Calling => 2,
        State::Ended => 3,
    }
}

fn state_of(code: u8) -> Option<State> {
    Some(match code {
        0 => State::New,
        1 => State::Waiting,
        2 => State::Calling,
        3 => State::Ended,
        _ => return None,
    })
}

/// A whole record: header, session, then `processed` (already-encoded records, oldest first)
/// and `new`, the record of this save.
pub(super) fn record<'p>(
    session: &Session,
    version: u64,
    kept: impl Iterator<Item = &'p [u8]>,
    new: Option<&Processed>,
    size_hint: usize,
    dictionaries: &Dictionaries,
) -> Box<[u8]> {
    let mut w = Writer(Vec::with_capacity(size_hint));
    w.u64(version);
    w.time(session.updated_at);
    w.u8(if session.state == State::Ended {
        ENDED
    } else {
        0
    });
    w.time(code_until(session).unwrap_or_default());
    let start = w.start_len();
    session_body(&mut w, session);
    w.end_len(start);
    for bytes in kept {
        w.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        w.0.extend_from_slice(bytes);
    }
    if let Some(new) = new {
        let start = w.start_len();
        processed_body(&mut w, new, &session.id);
        w.end_len(start);
    }
    sealed(
        w.0,
        dictionaries.of_dialog(&session.dialog_id),
        dictionaries,
    )
}

/// The dictionaries ended sessions' tails are compressed against: one per dialog (the texts
/// of its YAML), so that each compression hashes only its own dialog's. A compressed tail
/// starts with its dictionary's number ([`NO_DICTIONARY`] for none).
#[derive(Debug, Default)]
pub(super) struct Dictionaries {
    /// By dialog id, in order.
    by_dialog: Vec<(Box<str>, Box<[u8]>)>,
}

/// The number of no dictionary.
const NO_DICTIONARY: u16 = u16::MAX;

impl Dictionaries {
    /// At most `u16::MAX` of `dictionaries` (dialog id, text); a later one for an id
    /// replaces an earlier one.
    pub(super) fn new(dictionaries: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        let mut by_dialog: Vec<(Box<str>, Box<[u8]>)> = dictionaries
            .into_iter()
            .map(|(id, text)| (id.into_boxed_str(), text.into_boxed_slice()))
            .collect();
        by_dialog.reverse();
        by_dialog.sort_by(|a, b| a.0.cmp(&b.0));
        by_dialog.dedup_by(|later, earlier| later.0 == earlier.0);
        by_dialog.truncate(usize::from(NO_DICTIONARY));
        Self { by_dialog }
    }

    fn of_dialog(&self, dialog_id: &str) -> u16 {
        self.by_dialog
            .binary_search_by(|(id, _)| (**id).cmp(dialog_id))
            .ok()
            .and_then(|index| u16::try_from(index).ok())
            .unwrap_or(NO_DICTIONARY)
    }

    fn text(&self, number: u16) -> Option<&[u8]> {
        if number == NO_DICTIONARY {
            return Some(&[]);
        }
        self.by_dialog
            .get(usize::from(number))
            .map(|(_, text)| &**text)
    }
}

/// `plain` (a record with its tail as it is) as stored: the tail of an ended session
/// compressed against dictionary `number`, when that makes it smaller.
fn sealed(mut plain: Vec<u8>, number: u16, dictionaries: &Dictionaries) -> Box<[u8]> {
    let ended = plain
        .get(STANDING_AT)
        .is_some_and(|flags| flags & ENDED != 0);
    let dictionary = dictionaries.text(number);
    if ended
        && plain.len() > TAIL_AT
        && let Some(dictionary) = dictionary
    {
        let packed =
            lz4_flex::block::compress_prepend_size_with_dict(&plain[TAIL_AT..], dictionary);
        if packed.len() + 2 < plain.len() - TAIL_AT {
            let mut record = Vec::with_capacity(TAIL_AT + 2 + packed.len());
            record.extend_from_slice(&plain[..TAIL_AT]);
            record[STANDING_AT] |= COMPRESSED;
            record.extend_from_slice(&number.to_le_bytes());
            record.extend_from_slice(&packed);
            return record.into_boxed_slice();
        }
    }
    if let Some(flags) = plain.get_mut(STANDING_AT) {
        *flags &= !COMPRESSED;
    }
    plain.into_boxed_slice()
}

/// A record's tail: the session and its processed records, decompressed when stored
/// compressed (else borrowed as it is).
pub(super) struct Tail<'a>(Cow<'a, [u8]>);

impl Tail<'_> {
    /// The processed records' bytes (each without its length), oldest first.
    pub(super) fn processed(&self) -> impl Iterator<Item = &[u8]> {
        let mut r = Reader(&self.0);
        let session_len = r.u32().and_then(|n| usize::try_from(n).ok());
        let start = session_len.map_or(self.0.len(), |n| n.saturating_add(4).min(self.0.len()));
        let mut rest = Reader(&self.0[start..]);
        std::iter::from_fn(move || {
            let n = usize::try_from(rest.u32()?).ok()?;
            rest.take(n)
        })
    }
}

/// The tail of `record`; `None` when it is malformed.
pub(super) fn tail<'a>(record: &'a [u8], dictionaries: &Dictionaries) -> Option<Tail<'a>> {
    let flags = *record.get(STANDING_AT)?;
    let stored = record.get(TAIL_AT..)?;
    if flags & COMPRESSED == 0 {
        return Some(Tail(Cow::Borrowed(stored)));
    }
    let (number, packed) = compressed(stored)?;
    lz4_flex::block::decompress_size_prepended_with_dict(packed, dictionaries.text(number)?)
        .ok()
        .map(|tail| Tail(Cow::Owned(tail)))
}

/// A compressed tail's dictionary number and compressed bytes.
fn compressed(stored: &[u8]) -> Option<(u16, &[u8])> {
    let (number, packed) = stored.split_at_checked(2)?;
    Some((u16::from_le_bytes(number.try_into().ok()?), packed))
}

/// Whether the tail is stored compressed (reading its records means decompressing it).
pub(super) fn is_compressed(record: &[u8]) -> bool {
    record
        .get(STANDING_AT)
        .is_some_and(|flags| flags & COMPRESSED != 0)
}

/// Until when `session` waits for a code that can still be used (its own or, in a called
/// dialog, a caller's).
fn code_until(session: &Session) -> Option<DateTime<Utc>> {
    let usable = |otp: &OtpState| (otp.status == CodeStatus::Active).then_some(otp.expires_at);
    let frames = session.stack.iter().filter_map(|frame| frame.otp.as_ref());
    session.otp.iter().chain(frames).filter_map(usable).max()
}

/// What eviction weighs, read without decoding the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Standing {
    pub updated_at: DateTime<Utc>,
    pub ended: bool,
    /// The epoch when no code is waiting.
    pub code_until: DateTime<Utc>,
}

pub(super) fn standing(record: &[u8]) -> Standing {
    let mut r = Reader(record);
    let read = |r: &mut Reader<'_>| {
        r.take(8)?;
        let updated_at = r.time()?;
        let ended = r.u8()? & ENDED != 0;
        Some(Standing {
            updated_at,
            ended,
            code_until: r.time()?,
        })
    };
    read(&mut r).unwrap_or(Standing {
        updated_at: DateTime::default(),
        ended: true,
        code_until: DateTime::default(),
    })
}

pub(super) fn version(record: &[u8]) -> u64 {
    Reader(record).u64().unwrap_or(0)
}

pub(super) fn updated_at(record: &[u8]) -> DateTime<Utc> {
    let mut r = Reader(record);
    r.take(8).and_then(|_| r.time()).unwrap_or_default()
}

/// The record with only the processed records `keep` accepts; `None` when it is malformed.
pub(super) fn retain_processed(
    record: &[u8],
    dictionaries: &Dictionaries,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> Option<Box<[u8]>> {
    let tail = tail(record, dictionaries)?;
    // Compressed again against the same dictionary.
    let number = if is_compressed(record) {
        compressed(record.get(TAIL_AT..)?)?.0
    } else {
        NO_DICTIONARY
    };
    let mut r = Reader(&tail.0);
    let session_len = usize::try_from(r.u32()?).ok()?;
    let session = tail.0.get(..session_len.checked_add(4)?)?;
    let mut w = Writer(Vec::with_capacity(TAIL_AT + tail.0.len()));
    w.0.extend_from_slice(record.get(..TAIL_AT)?);
    w.0.extend_from_slice(session);
    for bytes in tail.processed().filter(|bytes| keep(bytes)) {
        w.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        w.0.extend_from_slice(bytes);
    }
    Some(sealed(w.0, number, dictionaries))
}

/// A processed record's message id and instant, read without decoding its reply.
pub(super) fn processed_key(bytes: &[u8]) -> Option<(StoredId<'_>, DateTime<Utc>)> {
    let mut r = Reader(bytes);
    Some((read_message_id(&mut r)?, r.time()?))
}

/// A message id as a record keeps it: a UUID in its canonical lower-case form (what chat
/// widgets send, `crypto.randomUUID()`) as its 16 bytes, any other id as its text. Compare
/// with [`StoredId::of`] the id looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoredId<'a> {
    Text(&'a str),
    Uuid([u8; 16]),
}

impl<'a> StoredId<'a> {
    /// How `id` is kept, worked out without allocating.
    pub(super) fn of(id: &'a str) -> Self {
        uuid_bytes(id).map_or(Self::Text(id), Self::Uuid)
    }

    fn to_text(self) -> String {
        match self {
            Self::Text(text) => text.to_owned(),
            Self::Uuid(bytes) => crate::hex::uuid(&bytes),
        }
    }
}

/// The 16 bytes of `id` when it is a UUID written the canonical way (lower-case hex in groups
/// of 8-4-4-4-12), so that writing them back gives the same text.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let text: &[u8; 36] = id.as_bytes().try_into().ok()?;
    let mut digits = [0_u8; 32];
    let mut n = 0;
    for (i, &c) in text.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
        } else {
            digits[n] = c;
            n += 1;
        }
    }
    hex_bytes(&digits)
}

fn write_message_id(w: &mut Writer, id: &str) {
    match StoredId::of(id) {
        StoredId::Uuid(bytes) => {
            w.u8(1);
            w.0.extend_from_slice(&bytes);
        }
        StoredId::Text(text) => {
            w.u8(0);
            w.str(text);
        }
    }
}

fn read_message_id<'a>(r: &mut Reader<'a>) -> Option<StoredId<'a>> {
    match r.u8()? {
        1 => Some(StoredId::Uuid(r.take(16)?.try_into().ok()?)),
        0 => Some(StoredId::Text(r.str()?)),
        _ => None,
    }
}

pub(super) fn decode_session(
    id: &str,
    record: &[u8],
    dictionaries: &Dictionaries,
) -> Option<Session> {
    let mut r = Reader(record);
    let version = r.u64()?;
    let updated_at = r.time()?;
    let tail = tail(record, dictionaries)?;
    let mut r = Reader(&tail.0);
    r.u32()?;
    let dialog_id = r.string()?;
    let dialog_version = r.u32()?;
    let node = r.string()?;
    let state = state_of(r.u8()?)?;
    let result = r.opt_string()?;
    let context = decode_context(&mut r)?;
    let invalid_answers = decode_counts(&mut r)?;
    let otp = decode_opt_otp(&mut r)?;
    let frames = r.len()?;
    let mut stack = Vec::new();
    for _ in 0..frames {
        stack.push(Frame {
            dialog_id: r.string()?,
            dialog_version: r.u32()?,
            node: r.string()?,
            context: decode_context(&mut r)?,
            invalid_answers: decode_counts(&mut r)?,
            otp: decode_opt_otp(&mut r)?,
        });
    }
    let locale = r.opt_string()?;
    let owner = r.opt_string()?;
    let handoff = match r.u8()? {
        0 => None,
        _ => Some(Handoff {
            since: r.time()?,
            queue: r.opt_string()?,
        }),
    };
    let not_understood = decode_counts(&mut r)?;
    let suggestion = match r.u8()? {
        0 => None,
        _ => Some(Suggestion {
            typed: decode_value(&mut r)?,
            suggested: decode_value(&mut r)?,
        }),
    };
    let lines = r.len()?;
    let mut history = std::collections::VecDeque::with_capacity(lines);
    for _ in 0..lines {
        let at = r.time()?;
        let speaker = match r.u8()? {
            0 => Speaker::User,
            1 => Speaker::Bot,
            2 => Speaker::Agent,
            _ => return None,
        };
        let text = r.string()?;
        let node = r.string()?;
        history.push_back(HistoryEntry {
            at,
            speaker,
            text,
            node,
        });
    }
    Some(Session {
        id: id.to_owned(),
        owner,
        dialog_id,
        dialog_version,
        node,
        state,
        result,
        context,
        locale,
        invalid_answers,
        not_understood,
        suggestion,
        handoff,
        otp,
        stack,
        history,
        created_at: r.time()?,
        updated_at,
        turns: r.u32()?,
        version,
    })
}

fn session_body(w: &mut Writer, session: &Session) {
    let Session {
        id: _,
        owner,
        dialog_id,
        dialog_version,
        node,
        state,
        result,
        context,
        locale,
        invalid_answers,
        not_understood,
        suggestion,
        handoff,
        otp,
        stack,
        history,
        created_at,
        updated_at: _,
        turns,
        version: _,
    } = session;
    w.str(dialog_id);
    w.u32(*dialog_version);
    w.str(node);
    w.u8(state_code(*state));
    w.opt_str(result.as_deref());
    encode_context(w, context);
    encode_counts(w, invalid_answers);
    encode_opt_otp(w, otp.as_ref());
    w.len(stack.len());
    for Frame {
        dialog_id,
        dialog_version,
        node,
        context,
        invalid_answers,
        otp,
    } in stack
    {
        w.str(dialog_id);
        w.u32(*dialog_version);
        w.str(node);
        encode_context(w, context);
        encode_counts(w, invalid_answers);
        encode_opt_otp(w, otp.as_ref());
    }
    w.opt_str(locale.as_deref());
    w.opt_str(owner.as_deref());
    match handoff {
        None => w.u8(0),
        Some(Handoff { since, queue }) => {
            w.u8(1);
            w.time(*since);
            w.opt_str(queue.as_deref());
        }
    }
    encode_counts(w, not_understood);
    match suggestion {
        None => w.u8(0),
        Some(Suggestion { typed, suggested }) => {
            w.u8(1);
            encode_value(w, typed);
            encode_value(w, suggested);
        }
    }
    w.len(history.len());
    for HistoryEntry {
        at,
        speaker,
        text,
        node,
    } in history
    {
        w.time(*at);
        w.u8(match speaker {
            Speaker::User => 0,
            Speaker::Bot => 1,
            Speaker::Agent => 2,
        });
        w.str(text);
        w.str(node);
    }
    w.time(*created_at);
    w.u32(*turns);
}

fn encode_value(w: &mut Writer, value: &Value) {
    match value {
        Value::Bool(b) => {
            w.u8(0);
            w.u8(u8::from(*b));
        }
        Value::Number(n) => {
            w.u8(1);
            w.u64(n.to_bits());
        }
        Value::Text(t) => {
            w.u8(2);
            w.str(t);
        }
    }
}

fn decode_value(r: &mut Reader<'_>) -> Option<Value> {
    Some(match r.u8()? {
        0 => Value::Bool(r.u8()? != 0),
        1 => Value::Number(f64::from_bits(r.u64()?)),
        _ => Value::Text(r.string()?),
    })
}

fn encode_context(w: &mut Writer, context: &Context) {
    w.len(context.len());
    for (name, slot) in context.iter() {
        let Slot {
            value,
            sensitive,
            expires_at,
            given,
        } = slot;
        w.str(name);
        encode_value(w, value);
        w.u8(u8::from(*sensitive) | u8::from(*given) << 1);
        w.opt_time(*expires_at);
    }
}

fn decode_context(r: &mut Reader<'_>) -> Option<Context> {
    let mut context = Context::default();
    for _ in 0..r.len()? {
        let name = r.str()?;
        let value = decode_value(r)?;
        let flags = r.u8()?;
        let expires_at = r.opt_time()?;
        context.set_slot(
            name,
            Slot {
                value,
                sensitive: flags & 1 != 0,
                expires_at,
                given: flags & 2 != 0,
            },
        );
    }
    Some(context)
}

fn encode_counts(w: &mut Writer, counts: &InvalidAnswers) {
    w.len(counts.len());
    for (node, count) in counts.iter() {
        w.str(node);
        w.u8(count);
    }
}

fn decode_counts(r: &mut Reader<'_>) -> Option<InvalidAnswers> {
    let mut counts = InvalidAnswers::default();
    for _ in 0..r.len()? {
        let node = r.string()?;
        counts.set(&node, r.u8()?);
    }
    Some(counts)
}

fn encode_opt_otp(w: &mut Writer, otp: Option<&OtpState>) {
    match otp {
        Some(otp) => {
            w.u8(1);
            encode_otp(w, otp);
        }
        None => w.u8(0),
    }
}

/// `None` when the bytes are broken; `Some(None)` when there is no code.
#[allow(clippy::option_option)]
fn decode_opt_otp(r: &mut Reader<'_>) -> Option<Option<OtpState>> {
    Some(match r.u8()? {
        0 => None,
        _ => Some(decode_otp(r)?),
    })
}

fn encode_otp(w: &mut Writer, otp: &OtpState) {
    let OtpState {
        address,
        tag,
        length,
        alphabet,
        issued_at,
        expires_at,
        attempts,
        max_attempts,
        status,
        sends,
        previous_tag,
    } = otp;
    w.str(address);
    w.0.extend_from_slice(tag);
    w.u8(*length);
    w.u8(match alphabet {
        Alphabet::Digits => 0,
        Alphabet::Alphanumeric => 1,
    });
    w.time(*issued_at);
    w.time(*expires_at);
    w.u8(*attempts);
    w.u8(*max_attempts);
    w.u8(match status {
        CodeStatus::Active => 0,
        CodeStatus::Used => 1,
        CodeStatus::Locked => 2,
    });
    w.0.extend_from_slice(&sends.to_le_bytes());
    match previous_tag {
        Some(tag) => {
            w.u8(1);
            w.0.extend_from_slice(tag);
        }
        None => w.u8(0),
    }
}

fn decode_otp(r: &mut Reader<'_>) -> Option<OtpState> {
    Some(OtpState {
        address: r.string()?,
        tag: r.take(32)?.try_into().ok()?,
        length: r.u8()?,
        alphabet: if r.u8()? == 0 {
            Alphabet::Digits
        } else {
            Alphabet::Alphanumeric
        },
        issued_at: r.time()?,
        expires_at: r.time()?,
        attempts: r.u8()?,
        max_attempts: r.u8()?,
        status: match r.u8()? {
            0 => CodeStatus::Active,
            1 => CodeStatus::Used,
            _ => CodeStatus::Locked,
        },
        sends: u16::from_le_bytes(r.take(2)?.try_into().ok()?),
        previous_tag: match r.u8()? {
            0 => None,
            _ => Some(r.take(32)?.try_into().ok()?),
        },
    })
}

/// A message's digest as the 16 bytes its 32 hex digits stand for (every digest the engine
/// makes, `Processed::digest`), else as the text it is: `1` and the bytes, or `0` and the text.
fn encode_digest(w: &mut Writer, digest: &str) {
    match digest_bytes(digest) {
        Some(bytes) => {
            w.u8(1);
            w.0.extend_from_slice(&bytes);
        }
        None => {
            w.u8(0);
            w.str(digest);
        }
    }
}

/// The 16 bytes `digest` stands for when it is 32 lower-case hex digits (so that writing them
/// back gives the same text), read without allocating: every save passes here.
fn digest_bytes(digest: &str) -> Option<[u8; 16]> {
    hex_bytes(digest.as_bytes().try_into().ok()?)
}

/// The 16 bytes 32 lower-case hex digits stand for.
fn hex_bytes(hex: &[u8; 32]) -> Option<[u8; 16]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0; 16];
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(bytes)
}

fn decode_digest(r: &mut Reader<'_>) -> Option<String> {
    match r.u8()? {
        1 => Some(crate::hex::encode(r.take(16)?)),
        0 => r.string(),
        _ => None,
    }
}

/// A processed record; a reply to this very session (always, in practice) does not repeat
/// the session id.
fn processed_body(w: &mut Writer, processed: &Processed, session_id: &str) {
    let Processed {
        message_id,
        text_digest,
        reply,
        at,
    } = processed;
    let TurnReply {
        session_id: reply_session,
        turn,
        dialog,
        dialog_version,
        replies,
        node,
        state,
        result,
        expecting,
        choices,
        with_agent,
    } = reply;
    write_message_id(w, message_id);
    w.time(*at);
    encode_digest(w, text_digest);
    w.opt_str((reply_session != session_id).then_some(reply_session.as_str()));
    w.u32(*turn);
    w.str(dialog);
    w.u32(*dialog_version);
    w.len(replies.len());
    for text in replies {
        w.str(text);
    }
    w.str(node);
    w.u8(state_code(*state));
    w.opt_str(result.as_deref());
    w.opt_str(expecting.map(Entity::name));
    w.len(choices.len());
    for Choice { label, value } in choices {
        w.str(label);
        w.str(value);
    }
    w.u8(u8::from(*with_agent));
}

pub(super) fn decode_processed(bytes: &[u8], session_id: &str) -> Option<Processed> {
    let mut r = Reader(bytes);
    let message_id = read_message_id(&mut r)?.to_text();
    let at = r.time()?;
    let text_digest = decode_digest(&mut r)?;
    let session_id = r.opt_string()?.unwrap_or_else(|| session_id.to_owned());
    let turn = r.u32()?;
    let dialog = r.string()?;
    let dialog_version = r.u32()?;
    let replies = (0..r.len()?)
        .map(|_| r.string())
        .collect::<Option<Vec<_>>>()?;
    let reply = TurnReply {
        session_id,
        turn,
        dialog,
        dialog_version,
        replies,
        node: r.string()?,
        state: state_of(r.u8()?)?,
        result: r.opt_string()?,
        expecting: match r.opt_string()? {
            Some(name) => Some(Entity::from_name(&name)?),
            None => None,
        },
        choices: (0..r.len()?)
            .map(|_| {
                Some(Choice {
                    label: r.string()?,
                    value: r.string()?,
                })
            })
            .collect::<Option<Vec<_>>>()?,
        with_agent: r.u8()? != 0,
    };
    Some(Processed {
        message_id,
        text_digest,
        reply,
        at,
    })
}
