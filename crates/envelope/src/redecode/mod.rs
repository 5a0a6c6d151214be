//! Re-decoding one record: find the payload, decode it, splice the result back in.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use lorafield::core::json::write_str;
use lorafield::{JsonWriter, Meta, Selection, Uplink};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::scan::{Scanned, scan};

mod fields;
mod outcome;
mod text;

use fields::{
    Fields, clip, is_known_non_uplink, member_span, received_at, shape_of, share_id, string,
};
pub use outcome::{Outcome, RecordId, Shape, Status, UplinkIds};
use text::{Message, Tail, copy, copy_line, same_json};
pub(crate) use text::{NOT_UTF8, write_unreadable};
pub use text::{write_compact, write_minified};

/// Why a JSON object that is none of the shapes read fails: what was looked for.
const NOT_AN_ENVELOPE: &str = "not an uplink envelope: it has none of uplink_message (TTS v3), \
    payload_raw (TTN v2), deviceInfo (ChirpStack v4), data or recType (a Microshare share), \
    objs (a Microshare page)";

/// Standard base64, padding optional (some integrations strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The shares of a Microshare page, each a record of its own. Only `objs` is read; `meta`
/// (whose `totalCount` may count other users' records) is not.
pub fn page_objects(page: &str) -> Result<Vec<&RawValue>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        objs: Vec<&'a RawValue>,
    }
    serde_json::from_str::<Page<'_>>(page).map(|p| p.objs)
}

/// One replacement of a span of the record.
#[derive(Debug, Clone)]
struct Edit {
    /// The bytes of the record replaced (empty: an insertion).
    span: Range<usize>,
    /// The replacement, a range of `Redecoder::repl`.
    with: Range<usize>,
    /// Where the decoded payload sits in the replacement, for the edit that writes it.
    data: Option<Range<usize>>,
}

/// Re-decodes records, reusing its buffers: steady state allocates only for output growth
/// and for records that fail.
#[derive(Debug)]
pub struct Redecoder<'s> {
    selection: &'s Selection,
    with_ids: bool,
    last_choice: Option<lorafield::Selected<'s>>,
    json: JsonWriter,
    payload: Vec<u8>,
    result: Vec<u8>,
    repl: Vec<u8>,
    edits: Vec<Edit>,
}

impl<'s> Redecoder<'s> {
    /// A re-decoder choosing codecs with `selection`.
    pub fn new(selection: &'s Selection) -> Self {
        Redecoder {
            selection,
            with_ids: false,
            last_choice: None,
            json: JsonWriter::new(),
            payload: Vec::new(),
            result: Vec::new(),
            repl: Vec::new(),
            edits: Vec::new(),
        }
    }

    /// This re-decoder, filling [`Outcome::ids`] (which reads one more member for TTN v2).
    pub fn with_ids(mut self, on: bool) -> Self {
        self.with_ids = on;
        self
    }

    /// The selection's choice that decoded (or would have decoded) the last record, when it
    /// got that far.
    pub fn last_choice(&self) -> Option<&lorafield::Choice> {
        self.last_choice.as_deref()
    }

    /// Re-decodes one record (an envelope or a share, one JSON object) and appends what is
    /// to be written for it to `out`, without a line end: the record with its decoded payload
    /// and stamp, the record as it was (passed through), or for unreadable text a small object
    /// holding the text and the error (see the crate docs). A page appends nothing.
    pub fn redecode<'r>(&mut self, record: &'r str, out: &mut Vec<u8>) -> Outcome<'r> {
        self.last_choice = None;
        let scanned = match scan(record) {
            Ok(s) => s,
            Err(e) => return unreadable(record, &e, out),
        };
        let (env, share) = match &scanned.envelope {
            Some(env) => (env, Some(&scanned.top)),
            None => (&scanned.top, None),
        };
        let Some(shape) = shape_of(env) else {
            let status = if share.is_some()
                || env.objs.is_none() && is_known_non_uplink(env)
                || env.rec_type.is_some()
            {
                Status::PassedThrough
            } else if env.objs.is_some() {
                return Outcome::new(Status::Page);
            } else if let Some(reason) = text::unreadable_report(record) {
                // What this wrote for unreadable text, which is unreadable still: written
                // again as it is, so that a second pass over what was written changes nothing.
                copy(record, 0..record.len(), out);
                return Outcome {
                    unreadable: true,
                    ..Outcome::failed(reason)
                };
            } else {
                // Written back with a stamp at its top level saying why.
                let reason = NOT_AN_ENVELOPE.to_string();
                return self.fail(
                    record,
                    env,
                    None,
                    reason,
                    Outcome::failed(String::new()),
                    out,
                );
            };
            copy(record, 0..record.len(), out);
            return Outcome {
                in_share: share.is_some(),
                event: env.other_message,
                ..Outcome::new(status)
            };
        };
        let mut outcome = Outcome {
            shape: Some(shape),
            in_share: share.is_some(),
            ..Outcome::new(Status::Failed)
        };
        let fields = match Fields::read(record, env, shape) {
            Ok(f) => f,
            Err(reason) => {
                outcome.id = share_id(record, share);
                return self.fail(record, env, None, reason, outcome, out);
            }
        };
        outcome.id = match share {
            Some(_) => share_id(record, share),
            None => RecordId::Uplink {
                device_id: fields.meta_device_id.clone(),
                f_cnt: fields.f_cnt,
            },
        };
        outcome.before = fields.decoded.as_ref().map(|m| m.text(record));
        if fields.f_port == 0 {
            // MAC commands (or an uplink without application data): never decoded.
            copy(record, 0..record.len(), out);
            outcome.status = Status::PassedThrough;
            return outcome;
        }
        let rec_type = share
            .and_then(|s| s.rec_type.as_ref())
            .and_then(|m| string(record, m).ok());
        let meta = Meta {
            application_id: fields.application_id.as_deref(),
            device_id: fields.meta_device_id.as_deref(),
            dev_eui: fields.dev_eui.as_deref(),
            f_port: u8::try_from(fields.f_port).ok(),
            brand_id: fields.brand_id.as_deref(),
            model_id: fields.model_id.as_deref(),
            rec_type: rec_type.as_deref(),
            firmware_version: fields.firmware_version.as_deref(),
            band_id: fields.band_id.as_deref(),
        };
        let selection = self.selection;
        let selected = selection.select(&meta);
        self.last_choice = Some(selected.clone());
        let choice: &lorafield::Choice = &selected;
        if self.with_ids {
            outcome.ids = Some(UplinkIds {
                dev_eui: fields.dev_eui.clone(),
                f_cnt: fields.f_cnt.unwrap_or(0),
                received_at: received_at(record, env, shape),
                payload: fields
                    .payload
                    .as_ref()
                    .and_then(|m| string(record, m).ok())
                    .unwrap_or_default(),
            });
        }
        let Ok(f_port) = u8::try_from(fields.f_port) else {
            let reason = format!("f_port {} is out of range (1-255)", fields.f_port);
            return self.fail(record, env, Some(choice), reason, outcome, out);
        };
        let payload_text = match &fields.payload {
            None => {
                let reason = format!(
                    "no {} in this uplink (f_port {f_port})",
                    shape.payload_path()
                );
                return self.fail(record, env, Some(choice), reason, outcome, out);
            }
            Some(m) => match string(record, m) {
                Ok(s) => s,
                Err(_) => {
                    let reason = format!(
                        "{} is not a string: {}",
                        shape.payload_path(),
                        clip(m.text(record))
                    );
                    return self.fail(record, env, Some(choice), reason, outcome, out);
                }
            },
        };
        self.payload.clear();
        if let Err(e) = BASE64.decode_vec(payload_text.as_bytes(), &mut self.payload) {
            let reason = format!(
                "{} is not base64: {}",
                shape.payload_path(),
                crate::base64_reason(&payload_text, &e)
            );
            return self.fail(record, env, Some(choice), reason, outcome, out);
        }

        // Decode: the TS013 result into `result`, data at `data`. A script also reads the
        // uplink's receive time and a seed of the record (native codecs read neither).
        self.result.clear();
        let mut uplink = Uplink::new(f_port, &self.payload);
        if choice.is_runtime() {
            let received = received_at(record, env, shape);
            if let Some(ms) = received.as_deref().and_then(rfc3339_ms) {
                uplink = uplink.received_at(ms);
            }
            uplink = uplink.with_seed(seed_of(&[
                fields.dev_eui.as_deref().unwrap_or_default(),
                &fields.f_cnt.unwrap_or(0).to_string(),
                received.as_deref().unwrap_or_default(),
                &payload_text,
            ]));
        }
        let done = self.json.decode(choice.codec(), uplink, &mut self.result);
        let data = done.data.clone();
        let tail = Tail::read(&self.result, done.has_errors, done.has_warnings);

        // Edits, in record order.
        self.edits.clear();
        self.repl.clear();
        // A failed decode leaves the decoded payload as it was: the stamp says why.
        let data = if done.has_errors { None } else { data };
        let changed = match (&data, &fields.decoded) {
            (Some(d), Some(old)) => {
                !same_json(&self.result[d.clone()], old.text(record).as_bytes())
            }
            (Some(_), None) => true,
            (None, _) => false,
        };
        if let Some(d) = &data
            && changed
        {
            match &fields.decoded {
                Some(old) => {
                    let start = self.repl.len();
                    self.repl.extend_from_slice(&self.result[d.clone()]);
                    let with = start..self.repl.len();
                    self.edits.push(Edit {
                        span: old.span.clone(),
                        data: Some(0..with.len()),
                        with,
                    });
                }
                None => {
                    let at = fields.payload.as_ref().map_or(0, |m| m.span.end);
                    let start = self.repl.len();
                    self.repl.extend_from_slice(b",\"");
                    self.repl.extend_from_slice(shape.decoded_key().as_bytes());
                    self.repl.extend_from_slice(b"\":");
                    let data_at = self.repl.len() - start;
                    self.repl.extend_from_slice(&self.result[d.clone()]);
                    let with = start..self.repl.len();
                    self.edits.push(Edit {
                        span: at..at,
                        data: Some(data_at..with.len()),
                        with,
                    });
                }
            }
        }
        if shape == Shape::TtsV3 && data.is_some() {
            self.tts_warnings(record, &fields, &tail);
            if let Some(n) = &done.normalized {
                self.tts_normalized(&fields, n.clone());
            }
        }
        self.stamp_edit(record, env, Some(choice), &tail, None);
        self.edits.sort_by_key(|e| e.span.start);
        let after = self.apply(record, out);

        outcome.after = after;
        outcome.status = if done.has_errors {
            outcome.reason = Some(format!(
                "{}: {}",
                choice.id(),
                tail.first_error_message(&self.result)
            ));
            Status::Failed
        } else if changed {
            Status::Changed
        } else {
            Status::Unchanged
        };
        outcome
    }

    /// Writes a failed record: as it was, with a stamp holding the reason.
    fn fail<'r>(
        &mut self,
        record: &'r str,
        env: &Scanned,
        choice: Option<&lorafield::Choice>,
        reason: String,
        mut outcome: Outcome<'r>,
        out: &mut Vec<u8>,
    ) -> Outcome<'r> {
        self.edits.clear();
        self.repl.clear();
        self.stamp_edit(record, env, choice, &Tail::default(), Some(&reason));
        self.apply(record, out);
        outcome.status = Status::Failed;
        outcome.reason = Some(reason);
        outcome
    }

    /// TTS keeps the formatter's warnings as strings in `decoded_payload_warnings`.
    fn tts_warnings(&mut self, record: &str, fields: &Fields<'_>, tail: &Tail) {
        let old = fields.warnings.as_ref();
        match (&tail.warnings, old) {
            (None, None) => {}
            (None, Some(old)) => {
                if let Some(span) = member_span(record, old, "decoded_payload_warnings") {
                    self.edits.push(Edit {
                        span,
                        with: 0..0,
                        data: None,
                    });
                }
            }
            (Some(w), _) => {
                let start = self.repl.len();
                if old.is_none() {
                    self.repl
                        .extend_from_slice(b",\"decoded_payload_warnings\":");
                }
                self.repl.push(b'[');
                let list: Vec<Message<'_>> =
                    serde_json::from_slice(&self.result[w.clone()]).unwrap_or_default();
                for (i, m) in list.iter().enumerate() {
                    if i > 0 {
                        self.repl.push(b',');
                    }
                    write_str(&m.message, &mut self.repl);
                }
                self.repl.push(b']');
                let with = start..self.repl.len();
                let span = match old {
                    Some(old) => old.span.clone(),
                    None => {
                        let at = fields
                            .decoded
                            .as_ref()
                            .or(fields.payload.as_ref())
                            .map_or(0, |m| m.span.end);
                        at..at
                    }
                };
                self.edits.push(Edit {
                    span,
                    with,
                    data: None,
                });
            }
        }
    }

    /// TTS keeps a codec's normalized payload in `normalized_payload`, a list of
    /// measurements: the script's object becomes a list of one.
    fn tts_normalized(&mut self, fields: &Fields<'_>, normalized: Range<usize>) {
        let text = &self.result[normalized];
        let start = self.repl.len();
        if fields.normalized.is_none() {
            self.repl.extend_from_slice(b",\"normalized_payload\":");
        }
        let list = text.first() == Some(&b'[');
        if !list {
            self.repl.push(b'[');
        }
        self.repl.extend_from_slice(text);
        if !list {
            self.repl.push(b']');
        }
        let with = start..self.repl.len();
        let span = match &fields.normalized {
            Some(old) => old.span.clone(),
            None => {
                let at = fields
                    .warnings
                    .as_ref()
                    .or(fields.decoded.as_ref())
                    .or(fields.payload.as_ref())
                    .map_or(0, |m| m.span.end);
                at..at
            }
        };
        self.edits.push(Edit {
            span,
            with,
            data: None,
        });
    }

    /// The stamp: replaces the envelope's `lorafield` member or is added as its last member.
    fn stamp_edit(
        &mut self,
        record: &str,
        env: &Scanned,
        choice: Option<&lorafield::Choice>,
        tail: &Tail,
        failure: Option<&str>,
    ) {
        let start = self.repl.len();
        let span = match (&env.stamp, env.close) {
            (Some(old), _) => old.span.clone(),
            (None, Some(close)) => {
                let empty = record[..close].trim_end().ends_with('{');
                self.repl.extend_from_slice(if empty {
                    b"\"lorafield\":"
                } else {
                    b",\"lorafield\":"
                });
                close..close
            }
            (None, None) => return,
        };
        let r = &mut self.repl;
        r.push(b'{');
        if let Some(choice) = choice {
            r.extend_from_slice(b"\"codec\":");
            write_str(choice.id(), r);
            r.push(b',');
        }
        if let Some(reason) = failure {
            r.extend_from_slice(b"\"errors\":[{\"kind\":\"invalid_envelope\",\"message\":");
            write_str(reason, r);
            r.extend_from_slice(b"}]");
            r.push(b',');
        } else if let Some(e) = &tail.errors {
            r.extend_from_slice(b"\"errors\":");
            r.extend_from_slice(&self.result[e.clone()]);
            r.push(b',');
        }
        if let Some(choice) = choice {
            let mut options: [(&str, &str); 2] = [("", ""); 2];
            let mut n = 0;
            for o in choice.effective_options().take(2) {
                options[n] = o;
                n += 1;
            }
            options[..n].sort_unstable();
            for (name, value) in &options[..n] {
                r.push(b'"');
                r.extend_from_slice(name.as_bytes());
                r.extend_from_slice(b"\":");
                write_str(value, r);
                r.push(b',');
            }
            if let Some((script, sha)) = choice.script() {
                r.extend_from_slice(b"\"script\":");
                write_str(script, r);
                r.extend_from_slice(b",\"sha256\":");
                write_str(sha, r);
                r.push(b',');
            }
            r.extend_from_slice(b"\"version\":");
            write_str(choice.version(), r);
        }
        if r.last() == Some(&b',') {
            r.pop();
        }
        if let Some(w) = &tail.warnings {
            if r.last() != Some(&b'{') {
                r.push(b',');
            }
            r.extend_from_slice(b"\"warnings\":");
            r.extend_from_slice(&self.result[w.clone()]);
        }
        r.push(b'}');
        let with = start..self.repl.len();
        self.edits.push(Edit {
            span,
            with,
            data: None,
        });
    }

    /// Writes the record with the edits applied; returns where the decoded data landed.
    fn apply(&mut self, record: &str, out: &mut Vec<u8>) -> Option<Range<usize>> {
        let mut at = 0;
        let mut after = None;
        let one_line = memchr::memchr2(b'\n', b'\r', record.as_bytes()).is_none();
        let copy = if one_line { copy_line } else { copy };
        for e in &self.edits {
            if e.span.start < at {
                continue; // overlapping edits cannot happen; never write twice
            }
            copy(record, at..e.span.start, out);
            if let Some(d) = &e.data {
                after = Some(out.len() + d.start..out.len() + d.end);
            }
            out.extend_from_slice(&self.repl[e.with.clone()]);
            at = e.span.end;
        }
        copy(record, at..record.len(), out);
        after
    }
}

/// RFC 3339 text (`2024-05-01T12:00:00.5Z`) as milliseconds since the Unix epoch.
fn rfc3339_ms(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A seed standing for a record: FNV-1a over its identifying parts (DevEUI, frame counter,
/// receive time, payload), each followed by a separator.
fn seed_of(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Writes the report of `record`, text that is not a JSON object (`e` says why).
fn unreadable<'r>(record: &str, e: &serde_json::Error, out: &mut Vec<u8>) -> Outcome<'r> {
    let reason = format!("not a JSON object: {e}");
    write_unreadable(record, &reason, out);
    Outcome {
        unreadable: true,
        ..Outcome::failed(reason)
    }
}
