//! Re-decoding one record: find the payload, decode it, splice the result back in.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use lorafield::core::json::{write_str, write_value};
use lorafield::{JsonWriter, Meta, Selection, Uplink, Value};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::scan::{Data, Member, Scanned, scan};

/// Standard base64, padding optional (some integrations strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The envelope shapes lorafield reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// The Things Stack v3 `ApplicationUp` (webhook, MQTT, storage integration).
    TtsV3,
    /// TTN v2 HTTP integration.
    TtnV2,
    /// ChirpStack v4 HTTP integration (`?event=up`).
    ChirpStackV4,
}

impl Shape {
    /// The shape's name: `tts-v3`, `ttn-v2`, `chirpstack-v4`.
    pub const fn name(self) -> &'static str {
        match self {
            Shape::TtsV3 => "tts-v3",
            Shape::TtnV2 => "ttn-v2",
            Shape::ChirpStackV4 => "chirpstack-v4",
        }
    }

    /// The member that holds the decoded payload in this shape.
    pub const fn decoded_key(self) -> &'static str {
        match self {
            Shape::TtsV3 => "decoded_payload",
            Shape::TtnV2 => "payload_fields",
            Shape::ChirpStackV4 => "object",
        }
    }

    /// The member that holds the raw payload in this shape, as a path.
    pub const fn payload_path(self) -> &'static str {
        match self {
            Shape::TtsV3 => "uplink_message.frm_payload",
            Shape::TtnV2 => "payload_raw",
            Shape::ChirpStackV4 => "data",
        }
    }
}

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Decoded without errors; the decoded payload differs from the one the record held.
    Changed,
    /// Decoded without errors; the decoded payload is the one the record held (only the stamp
    /// was written).
    Unchanged,
    /// Could not be read or decoded; see [`Outcome::reason`].
    Failed,
    /// Not an uplink with application data (a join, a downlink event, a port-0 MAC frame, a
    /// share holding something else): written as it was.
    PassedThrough,
    /// A Microshare page (`{"meta":..,"objs":[..]}`): nothing was written; its shares are
    /// records of their own ([`page_objects`]).
    Page,
}

/// Who a record is about, for `--diff` and error reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecordId<'r> {
    /// A Microshare share's id.
    Share(Cow<'r, str>),
    /// A bare envelope's device id and frame counter.
    Uplink {
        /// The device id (TTS `device_id`, TTN v2 `dev_id`, ChirpStack `deviceName`).
        device_id: Option<Cow<'r, str>>,
        /// The frame counter (absent means 0 in TTS).
        f_cnt: Option<u64>,
    },
    /// Nothing to name it by.
    #[default]
    None,
}

impl RecordId<'_> {
    /// Appends the id as JSON: the share id as a string, an uplink as
    /// `{"device_id":..,"f_cnt":..}`, or `null`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            RecordId::Share(id) => write_str(id, out),
            RecordId::Uplink { device_id, f_cnt } => {
                out.extend_from_slice(b"{\"device_id\":");
                match device_id {
                    Some(d) => write_str(d, out),
                    None => out.extend_from_slice(b"null"),
                }
                out.extend_from_slice(b",\"f_cnt\":");
                write_value(&Value::U64(f_cnt.unwrap_or(0)), out);
                out.push(b'}');
            }
            RecordId::None => out.extend_from_slice(b"null"),
        }
    }
}

/// What [`Redecoder::redecode`] did with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'r> {
    /// What became of it.
    pub status: Status,
    /// The envelope's shape, when it is an uplink.
    pub shape: Option<Shape>,
    /// Whether the envelope sat in a Microshare share's `data`.
    pub in_share: bool,
    /// The share id, or the device id and frame counter.
    pub id: RecordId<'r>,
    /// The decoded payload the record held (its text in the record), if any.
    pub before: Option<&'r str>,
    /// The decoded payload now, as a range of `out`, when the decode produced data.
    pub after: Option<Range<usize>>,
    /// Why the record failed.
    pub reason: Option<String>,
    /// Whether it failed because its text is not a JSON object.
    pub unreadable: bool,
    /// What identifies the uplink (for a record key), when the re-decoder was asked for it
    /// ([`Redecoder::with_ids`]) and the record is an uplink with a port.
    pub ids: Option<UplinkIds<'r>>,
}

/// What identifies an uplink: its DevEUI, frame counter, receive time and raw payload text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkIds<'r> {
    /// TTS `end_device_ids.dev_eui`, TTN v2 `hardware_serial`, ChirpStack `deviceInfo.devEui`.
    pub dev_eui: Option<Cow<'r, str>>,
    /// The frame counter (0 when absent).
    pub f_cnt: u64,
    /// TTS `uplink_message.received_at` (else `received_at`), TTN v2 `metadata.time`,
    /// ChirpStack `time`.
    pub received_at: Option<Cow<'r, str>>,
    /// The payload's base64 text as the record has it (empty when absent).
    pub payload: Cow<'r, str>,
}

impl<'r> Outcome<'r> {
    fn new(status: Status) -> Self {
        Outcome {
            status,
            shape: None,
            in_share: false,
            id: RecordId::None,
            before: None,
            after: None,
            reason: None,
            unreadable: false,
            ids: None,
        }
    }

    fn failed(reason: String) -> Self {
        Outcome {
            reason: Some(reason),
            ..Outcome::new(Status::Failed)
        }
    }
}

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
}

/// Re-decodes records, reusing its buffers: steady state allocates only for output growth
/// and for records that fail.
#[derive(Debug)]
pub struct Redecoder<'s> {
    selection: &'s Selection,
    with_ids: bool,
    last_choice: Option<&'s lorafield::Choice>,
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
    pub fn last_choice(&self) -> Option<&'s lorafield::Choice> {
        self.last_choice
    }

    /// Re-decodes one record (an envelope or a share, one JSON object) and appends what is
    /// to be written for it to `out`, without a line end: the record with its decoded payload
    /// and stamp, the record as it was (passed through), or for unreadable text a small object
    /// holding the text and the error (see the crate docs). A page appends nothing.
    pub fn redecode<'r>(&mut self, record: &'r str, out: &mut Vec<u8>) -> Outcome<'r> {
        self.last_choice = None;
        let scanned = match scan(record) {
            Ok(s) => s,
            Err(e) => {
                let reason = format!("not a JSON object: {e}");
                write_unreadable(record, &reason, out);
                return Outcome {
                    unreadable: true,
                    ..Outcome::failed(reason)
                };
            }
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
            } else {
                let reason = "not an uplink envelope: no uplink_message (TTS v3), payload_raw \
                              (TTN v2), deviceInfo (ChirpStack v4) or share data"
                    .to_string();
                copy(record, 0..record.len(), out);
                return Outcome::failed(reason);
            };
            copy(record, 0..record.len(), out);
            return Outcome {
                in_share: share.is_some(),
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
        };
        let selection = self.selection;
        let choice = selection.select(&meta);
        self.last_choice = Some(choice);
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
            let reason = format!("{} is not base64: {e}", shape.payload_path());
            return self.fail(record, env, Some(choice), reason, outcome, out);
        }

        // Decode: the TS013 result into `result`, data at `data`.
        self.result.clear();
        let done = self.json.decode(
            choice.codec(),
            Uplink::new(f_port, &self.payload),
            &mut self.result,
        );
        let data = done.data.clone();
        let after_data = data.as_ref().map_or(0, |d| d.end);
        let has_warnings = find(&self.result[after_data..], b"\"warnings\":[").is_some();
        let tail = Tail::read(&self.result, done.has_errors, has_warnings);

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
        if let Some(d) = &data {
            if changed {
                match &fields.decoded {
                    Some(old) => {
                        let start = self.repl.len();
                        self.repl.extend_from_slice(&self.result[d.clone()]);
                        let with = start..self.repl.len();
                        self.edits.push(Edit {
                            span: old.span.clone(),
                            with,
                        });
                    }
                    None => {
                        let at = fields.payload.as_ref().map_or(0, |m| m.span.end);
                        let start = self.repl.len();
                        self.repl.extend_from_slice(b",\"");
                        self.repl.extend_from_slice(shape.decoded_key().as_bytes());
                        self.repl.extend_from_slice(b"\":");
                        self.repl.extend_from_slice(&self.result[d.clone()]);
                        self.edits.push(Edit {
                            span: at..at,
                            with: start..self.repl.len(),
                        });
                    }
                }
            }
        }
        if shape == Shape::TtsV3 && data.is_some() {
            self.tts_warnings(record, &fields, &tail);
        }
        self.stamp_edit(record, env, Some(choice), &tail, None);
        self.edits.sort_by_key(|e| e.span.start);
        let after = self.apply(record, data.as_ref(), out);

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
        self.apply(record, None, out);
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
                    self.edits.push(Edit { span, with: 0..0 });
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
                self.edits.push(Edit { span, with });
            }
        }
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
        self.edits.push(Edit { span, with });
    }

    /// Writes the record with the edits applied; returns where the decoded data landed.
    fn apply(
        &mut self,
        record: &str,
        data: Option<&Range<usize>>,
        out: &mut Vec<u8>,
    ) -> Option<Range<usize>> {
        let mut at = 0;
        let mut after = None;
        let one_line = memchr::memchr2(b'\n', b'\r', record.as_bytes()).is_none();
        let copy = if one_line { copy_line } else { copy };
        for e in &self.edits {
            if e.span.start < at {
                continue; // overlapping edits cannot happen; never write twice
            }
            copy(record, at..e.span.start, out);
            let with = &self.repl[e.with.clone()];
            if let Some(d) = data {
                let d = &self.result[d.clone()];
                if let Some(i) = find(with, d).filter(|_| after.is_none()) {
                    after = Some(out.len() + i..out.len() + i + d.len());
                }
            }
            out.extend_from_slice(with);
            at = e.span.end;
        }
        copy(record, at..record.len(), out);
        after
    }
}

/// Appends `record[range]`; a record spread over several lines (a pretty-printed page) is
/// put on one: line breaks and the indentation after them are dropped (JSON whitespace only:
/// a string cannot hold a raw line break).
fn copy(record: &str, range: Range<usize>, out: &mut Vec<u8>) {
    let part = &record.as_bytes()[range];
    if memchr::memchr2(b'\n', b'\r', part).is_none() {
        out.extend_from_slice(part);
        return;
    }
    copy_lines(part, out);
}

/// [`copy`] for text known to be on one line.
fn copy_line(record: &str, range: Range<usize>, out: &mut Vec<u8>) {
    out.extend_from_slice(&record.as_bytes()[range]);
}

fn copy_lines(part: &[u8], out: &mut Vec<u8>) {
    let mut skip_indent = false;
    for &b in part {
        match b {
            b'\n' | b'\r' => skip_indent = true,
            b' ' | b'\t' if skip_indent => {}
            _ => {
                skip_indent = false;
                out.push(b);
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Appends `record`, put on one line as [`Redecoder::redecode`] does.
pub fn write_compact(record: &str, out: &mut Vec<u8>) {
    copy(record, 0..record.len(), out);
}

/// What is to be written for text that is not a JSON object.
pub(crate) fn write_unreadable(record: &str, reason: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"lorafield\":{\"errors\":[{\"kind\":\"unreadable\",\"message\":");
    write_str(reason, out);
    out.extend_from_slice(b"}]},\"unreadable\":");
    write_str(record, out);
    out.push(b'}');
}

/// Whether two JSON texts say the same: equal bytes, or equal values (whitespace and member
/// order aside).
fn same_json(a: &[u8], b: &[u8]) -> bool {
    a == b
        || matches!(
            (
                serde_json::from_slice::<serde_json::Value>(a),
                serde_json::from_slice::<serde_json::Value>(b),
            ),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The `errors` and `warnings` arrays of a TS013 result, as ranges of it.
#[derive(Debug, Default)]
struct Tail {
    errors: Option<Range<usize>>,
    warnings: Option<Range<usize>>,
}

impl Tail {
    fn read(result: &[u8], errors: bool, warnings: bool) -> Tail {
        if !errors && !warnings {
            return Tail::default();
        }
        #[derive(Deserialize)]
        struct Result<'a> {
            #[serde(borrow)]
            errors: Option<&'a RawValue>,
            #[serde(borrow)]
            warnings: Option<&'a RawValue>,
        }
        let Ok(text) = std::str::from_utf8(result) else {
            return Tail::default();
        };
        let Ok(r) = serde_json::from_str::<Result<'_>>(text) else {
            return Tail::default();
        };
        let range = |v: &RawValue| {
            let s = v.get();
            let start = s.as_ptr().addr() - text.as_ptr().addr();
            start..start + s.len()
        };
        Tail {
            errors: r.errors.map(range),
            warnings: r.warnings.map(range),
        }
    }

    fn first_error_message(&self, result: &[u8]) -> String {
        let Some(e) = &self.errors else {
            return "decode failed".into();
        };
        serde_json::from_slice::<Vec<Message<'_>>>(&result[e.clone()])
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or_else(|| "decode failed".into(), |m| m.message.into_owned())
    }
}

#[derive(Debug, Default, Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// A string member's value, borrowed when it has no escapes (serde's `Cow<str>` on its own
/// always copies).
fn string<'r>(record: &'r str, m: &Member) -> Result<Cow<'r, str>, serde_json::Error> {
    let text = m.text(record);
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains(['\\', '"']) => Ok(Cow::Borrowed(inner)),
        _ => serde_json::from_str::<String>(text).map(Cow::Owned),
    }
}

/// A string member that must be a string when present (or null): its error names it.
fn str_member<'r>(
    record: &'r str,
    m: Option<&Member>,
    name: &str,
) -> Result<Option<Cow<'r, str>>, String> {
    match m {
        Some(m) if m.text(record) != "null" => string(record, m)
            .map(Some)
            .map_err(|_| format!("{name}: expected a string: {}", clip(m.text(record)))),
        _ => Ok(None),
    }
}

fn clip(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The span of member `key` whose value is `value`, with the comma that separates it, for
/// removing it; `None` when the text before the value is not `"key":` (an escaped key).
fn member_span(record: &str, value: &Member, key: &str) -> Option<Range<usize>> {
    let before = record[..value.span.start].trim_end();
    let before = before.strip_suffix(':')?.trim_end();
    let before = before
        .strip_suffix('"')?
        .strip_suffix(key)?
        .strip_suffix('"')?;
    let key_start = before.len();
    let lead = before.trim_end();
    if let Some(l) = lead.strip_suffix(',') {
        return Some(l.len()..value.span.end);
    }
    // The first member: take the comma after it instead.
    let rest = &record[value.span.end..];
    let skip = rest.len() - rest.trim_start().len();
    rest.trim_start()
        .starts_with(',')
        .then(|| key_start..value.span.end + skip + 1)
}

/// The uplink's receive time (see [`UplinkIds::received_at`]).
fn received_at<'r>(record: &'r str, env: &Scanned, shape: Shape) -> Option<Cow<'r, str>> {
    #[derive(Deserialize)]
    struct Metadata<'a> {
        #[serde(borrow, default)]
        time: Option<Text<'a>>,
    }
    let m = match shape {
        Shape::TtsV3 => env
            .uplink_message
            .as_ref()
            .and_then(|u| u.received_at.as_ref())
            .or(env.received_at.as_ref()),
        Shape::TtnV2 => {
            let meta = env.metadata.as_ref()?;
            let m: Metadata<'r> = serde_json::from_str(meta.text(record)).ok()?;
            return text(m.time);
        }
        Shape::ChirpStackV4 => env.time.as_ref(),
    };
    string(record, m?).ok()
}

fn share_id<'r>(record: &'r str, share: Option<&Scanned>) -> RecordId<'r> {
    let Some(share) = share else {
        return RecordId::None;
    };
    if let Some(id) = share.id.as_ref().and_then(|m| string(record, m).ok()) {
        return RecordId::Share(id);
    }
    #[derive(Deserialize)]
    struct Oid<'a> {
        #[serde(borrow, rename = "$oid")]
        oid: Cow<'a, str>,
    }
    match &share.oid {
        Some(m) => string(record, m)
            .or_else(|_| serde_json::from_str::<Oid<'_>>(m.text(record)).map(|o| o.oid))
            .map_or(RecordId::None, RecordId::Share),
        None => RecordId::None,
    }
}

fn shape_of(env: &Scanned) -> Option<Shape> {
    if env.uplink_message.is_some() {
        Some(Shape::TtsV3)
    } else if env.payload_raw.is_some() || env.app_id.is_some() && env.port.is_some() {
        Some(Shape::TtnV2)
    } else if env.device_info.is_some() && (env.data.is_some() || env.f_port.is_some()) {
        Some(Shape::ChirpStackV4)
    } else {
        None
    }
}

/// A TTS message other than an uplink, a TTN v2 or ChirpStack event without a payload.
fn is_known_non_uplink(env: &Scanned) -> bool {
    env.end_device_ids.is_some() || env.app_id.is_some() || env.device_info.is_some()
}

/// The members of an uplink that lorafield reads, whatever its shape.
#[derive(Debug, Default)]
struct Fields<'r> {
    f_port: u64,
    f_cnt: Option<u64>,
    payload: Option<Member>,
    decoded: Option<Member>,
    warnings: Option<Member>,
    application_id: Option<Cow<'r, str>>,
    meta_device_id: Option<Cow<'r, str>>,
    dev_eui: Option<Cow<'r, str>>,
    brand_id: Option<Cow<'r, str>>,
    model_id: Option<Cow<'r, str>>,
}

/// A string borrowed from the record when it has no escapes. (serde's `Cow<str>` inside an
/// `Option` always copies, even with `#[serde(borrow)]`.)
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

fn text(t: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    t.map(|t| t.0)
}

#[derive(Deserialize)]
struct EndDeviceIds<'a> {
    #[serde(borrow, default)]
    device_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    dev_eui: Option<Text<'a>>,
    #[serde(borrow, default)]
    application_ids: Option<ApplicationIds<'a>>,
}

#[derive(Deserialize)]
struct ApplicationIds<'a> {
    #[serde(borrow, default)]
    application_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct VersionIds<'a> {
    #[serde(borrow, default)]
    brand_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    model_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceInfo<'a> {
    #[serde(borrow, default)]
    application_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    application_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    device_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    dev_eui: Option<Text<'a>>,
}

/// A member that must be `T` when present: its error names the member.
fn member<'r, T: Deserialize<'r>>(
    record: &'r str,
    m: Option<&Member>,
    name: &str,
) -> Result<Option<T>, String> {
    match m {
        None => Ok(None),
        Some(m) if m.text(record) == "null" => Ok(None),
        Some(m) => serde_json::from_str(m.text(record)).map(Some).map_err(|e| {
            // The position serde_json gives is within the member's own text: noise here.
            let e = e.to_string();
            let e = e.split(" at line ").next().unwrap_or_default();
            format!("{name}: {e}: {}", clip(m.text(record)))
        }),
    }
}

impl<'r> Fields<'r> {
    fn read(record: &'r str, env: &Scanned, shape: Shape) -> Result<Self, String> {
        let mut f = Fields::default();
        match shape {
            Shape::TtsV3 => {
                let Some(u) = &env.uplink_message else {
                    return Err("no uplink_message".into());
                };
                if let Some(ids) = member::<EndDeviceIds<'r>>(
                    record,
                    env.end_device_ids.as_ref(),
                    "end_device_ids",
                )? {
                    f.meta_device_id = text(ids.device_id);
                    f.dev_eui = text(ids.dev_eui);
                    f.application_id = text(ids.application_ids.and_then(|a| a.application_id));
                }
                f.f_port = member(record, u.f_port.as_ref(), "uplink_message.f_port")?.unwrap_or(0);
                f.f_cnt = member(record, u.f_cnt.as_ref(), "uplink_message.f_cnt")?;
                if let Some(v) = member::<VersionIds<'r>>(
                    record,
                    u.version_ids.as_ref(),
                    "uplink_message.version_ids",
                )? {
                    f.brand_id = text(v.brand_id);
                    f.model_id = text(v.model_id);
                }
                f.payload = u.frm_payload.clone();
                f.decoded = u.decoded_payload.clone();
                f.warnings = u.decoded_payload_warnings.clone();
            }
            Shape::TtnV2 => {
                f.application_id = str_member(record, env.app_id.as_ref(), "app_id")?;
                f.meta_device_id = str_member(record, env.dev_id.as_ref(), "dev_id")?;
                f.dev_eui = str_member(record, env.hardware_serial.as_ref(), "hardware_serial")?;
                f.f_port = member(record, env.port.as_ref(), "port")?.unwrap_or(0);
                f.f_cnt = member(record, env.counter.as_ref(), "counter")?;
                f.payload = env.payload_raw.clone();
                f.decoded = env.payload_fields.clone();
            }
            Shape::ChirpStackV4 => {
                if let Some(d) =
                    member::<DeviceInfo<'r>>(record, env.device_info.as_ref(), "deviceInfo")?
                {
                    f.application_id = text(d.application_name.or(d.application_id));
                    f.meta_device_id = text(d.device_name);
                    f.dev_eui = text(d.dev_eui);
                }
                f.f_port = member(record, env.f_port.as_ref(), "fPort")?.unwrap_or(0);
                f.f_cnt = member(record, env.f_cnt.as_ref(), "fCnt")?;
                f.payload = match &env.data {
                    Some(Data::Raw(m)) => Some(m.clone()),
                    _ => None,
                };
                f.decoded = env.object.clone();
            }
        }
        if f.payload.as_ref().is_some_and(|m| m.text(record) == "null") {
            f.payload = None;
        }
        Ok(f)
    }
}
