//! Downlinks (TS013 `encodeDownlink`, `decodeDownlink`) and raw routine calls, as The Things
//! Stack's example check makes them.

use std::fmt;

use lorafield_core::{ErrorKind, Uplink};
use rquickjs::{Ctx, Function, Object, Value};
use serde_json::Value as Json;

use crate::JsCodec;
use crate::convert::{Converter, TextOut};
use crate::engine::{Call, Failure, js, run};
use crate::entry::{CatchFailure, Entries, EntryKind};
use crate::helpers::Helpers;
use crate::repo::Routine;

/// Why a routine gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutineError {
    /// The kind (`script_error`, `script_limit`, `invalid_result`, `codec_error`).
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

impl fmt::Display for RoutineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for RoutineError {}

impl From<Failure> for RoutineError {
    fn from(f: Failure) -> Self {
        let (kind, message) = match f {
            Failure::Limit(limit) => (
                ErrorKind::ScriptLimit(limit),
                format!("the script exceeded its {} limit", limit.name()),
            ),
            Failure::Threw { message, line } => (
                ErrorKind::ScriptError,
                match line {
                    Some(l) => format!("{message} (line {l})"),
                    None => message,
                },
            ),
            Failure::ThrewNull => (ErrorKind::ScriptError, "uncaught null".into()),
            Failure::Invalid(m) => (ErrorKind::InvalidResult, m),
            Failure::Missing(m) => (ErrorKind::Unsupported, m),
            Failure::Load(e) => (ErrorKind::ScriptError, e.to_string()),
            Failure::Engine(e) => (ErrorKind::ScriptError, format!("engine: {e}")),
            Failure::Reentered => (ErrorKind::ScriptError, "re-entered".into()),
        };
        RoutineError { kind, message }
    }
}

/// A downlink `encodeDownlink` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedDownlink {
    /// The payload.
    pub bytes: Vec<u8>,
    /// The port the script chose, if it chose one.
    pub f_port: Option<u8>,
    /// The script's warnings.
    pub warnings: Vec<String>,
}

/// What `decodeDownlink` made of a downlink.
#[derive(Debug, Clone, PartialEq)]
pub struct DownlinkResult {
    /// The data, as JSON.
    pub data: Json,
    /// The script's warnings.
    pub warnings: Vec<String>,
}

/// Calls one routine with a JSON input and returns what it returned, as JSON.
struct RawCall<'c> {
    codec: &'c JsCodec,
    routine: Routine,
    input: &'c Json,
}

impl Call for RawCall<'_> {
    type Output = Json;

    fn run<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        helpers: &Helpers<'js>,
        entries: &Entries,
    ) -> Result<Json, Failure> {
        let name = self.codec.script().name();
        let f = routine_fn(ctx, entries, self.routine, name)?;
        let text = self.input.to_string();
        let input: Value<'js> = ctx.json_parse(text).map_err(js)?;
        // A receive time given as text is a Date, as The Things Stack gives it.
        if let (Some(obj), Some(Json::String(t))) = (input.as_object(), self.input.get("recvTime"))
        {
            let d: Value<'js> = helpers.date.construct((t.as_str(),)).map_err(js)?;
            obj.set("recvTime", d).map_err(js)?;
        }
        let out: Value<'js> = match entries.kind {
            // A TTN v2 or ChirpStack v3 script is checked as The Things Stack runs it: its
            // function's return value is the data.
            EntryKind::TtnV2 | EntryKind::ChirpStackV3 if self.routine == Routine::DecodeUplink => {
                legacy_uplink(ctx, entries.kind, &f, &input, name)?
            }
            _ => f.call((input,)).catch_failure(ctx, name)?,
        };
        let limit = self.codec.options().limits.output_size;
        let mut convert = Converter::new(ctx, helpers, limit, name)?;
        let mut text = TextOut::default();
        convert.value("", out, &mut text, false)?;
        let mut json: Json = if text.text.is_empty() {
            Json::Null
        } else {
            serde_json::from_slice(&text.text)
                .map_err(|e| Failure::Invalid(format!("the result is not JSON: {e}")))?
        };
        if self.routine == Routine::NormalizeUplink
            && let Some(data) = json.get_mut("data")
            && !data.is_array()
        {
            *data = Json::Array(vec![data.take()]);
        }
        Ok(json)
    }
}

/// The script's function for `routine`.
fn routine_fn<'js>(
    ctx: &Ctx<'js>,
    entries: &Entries,
    routine: Routine,
    script: &str,
) -> Result<Function<'js>, Failure> {
    let missing = || Failure::Missing(format!("script {script} has no {}", routine.name()));
    let p = match routine {
        Routine::DecodeUplink => entries.main.as_ref(),
        Routine::NormalizeUplink => entries.normalize.as_ref(),
        Routine::EncodeDownlink => entries.encode_downlink.as_ref(),
        Routine::DecodeDownlink => entries.decode_downlink.as_ref(),
    };
    p.ok_or_else(missing)?.clone().restore(ctx).map_err(js)
}

/// Calls a TTN v2 `Decoder(bytes, fPort)` or a ChirpStack v3 `Decode(fPort, bytes,
/// variables)` with the members of the TS013 input object `input`, and returns
/// `{data: <what it returned>}`.
fn legacy_uplink<'js>(
    ctx: &Ctx<'js>,
    kind: EntryKind,
    f: &Function<'js>,
    input: &Value<'js>,
    script: &str,
) -> Result<Value<'js>, Failure> {
    let member = |name: &str| -> Result<Value<'js>, Failure> {
        match input.as_object() {
            Some(obj) => obj.get(name).map_err(js),
            None => Ok(Value::new_undefined(ctx.clone())),
        }
    };
    let (bytes, f_port) = (member("bytes")?, member("fPort")?);
    let data: Value<'js> = if kind == EntryKind::TtnV2 {
        f.call((bytes, f_port)).catch_failure(ctx, script)?
    } else {
        let variables = member("variables")?;
        let variables = if variables.is_undefined() || variables.is_null() {
            Object::new(ctx.clone()).map_err(js)?.into_value()
        } else {
            variables
        };
        f.call((f_port, bytes, variables))
            .catch_failure(ctx, script)?
    };
    let out = Object::new(ctx.clone()).map_err(js)?;
    out.set("data", data).map_err(js)?;
    Ok(out.into_value())
}

/// An uplink that carries nothing, for calls that are not uplink decodes.
const NO_UPLINK: Uplink<'static> = Uplink::new(1, &[]);

impl JsCodec {
    /// Calls `routine` with `input` (the TS013 input object) under the codec's limits and
    /// returns what it returned, converted as results are (keys sorted, `undefined` left
    /// out): the check the device repository's examples are made for. `normalizeUplink`'s
    /// `data` is returned as an array, as that check wants it. `decodeUplink` of a TTN v2
    /// `Decoder` or ChirpStack v3 `Decode` script calls that function with the input's
    /// `bytes`, `fPort` (and `variables`, an empty object when absent) and returns
    /// `{data: <its return value>}`, as The Things Stack runs such scripts.
    pub fn run_routine(&self, routine: Routine, input: &Json) -> Result<Json, RoutineError> {
        let mut call = RawCall {
            codec: self,
            routine,
            input,
        };
        Ok(run(self, &NO_UPLINK, &mut call)?)
    }

    /// Encodes a downlink: `encodeDownlink({data, fPort?})`. Bytes must be integers 0-255:
    /// anything else is an error, never clamped.
    pub fn encode_downlink(
        &self,
        data: &Json,
        f_port: Option<u8>,
    ) -> Result<EncodedDownlink, RoutineError> {
        let mut input = serde_json::Map::new();
        input.insert("data".into(), data.clone());
        if let Some(p) = f_port {
            input.insert("fPort".into(), p.into());
        }
        let out = self.run_routine(Routine::EncodeDownlink, &Json::Object(input))?;
        let errors = json_messages(&out, "errors");
        if !errors.is_empty() {
            return Err(RoutineError {
                kind: ErrorKind::CodecError,
                message: errors.join("; "),
            });
        }
        let invalid = |m: String| RoutineError {
            kind: ErrorKind::InvalidResult,
            message: m,
        };
        let Some(list) = out.get("bytes").and_then(Json::as_array) else {
            return Err(invalid(format!(
                "encodeDownlink returned no bytes array: {}",
                out
            )));
        };
        let mut bytes = Vec::with_capacity(list.len());
        for (i, b) in list.iter().enumerate() {
            match b.as_f64() {
                Some(v) if v.fract() == 0.0 && (0.0..=255.0).contains(&v) => bytes.push(v as u8),
                _ => {
                    return Err(invalid(format!(
                        "bytes[{i}] is {b}, not an integer from 0 to 255"
                    )));
                }
            }
        }
        let f_port = match out.get("fPort") {
            None | Some(Json::Null) => f_port,
            Some(p) => match p.as_u64().and_then(|p| u8::try_from(p).ok()) {
                Some(p) if p > 0 => Some(p),
                _ => return Err(invalid(format!("fPort {p} is not a port from 1 to 255"))),
            },
        };
        Ok(EncodedDownlink {
            bytes,
            f_port,
            warnings: json_messages(&out, "warnings"),
        })
    }

    /// Decodes a downlink: `decodeDownlink({bytes, fPort})`.
    pub fn decode_downlink(
        &self,
        f_port: u8,
        bytes: &[u8],
    ) -> Result<DownlinkResult, RoutineError> {
        let input = serde_json::json!({ "bytes": bytes, "fPort": f_port });
        let out = self.run_routine(Routine::DecodeDownlink, &input)?;
        let errors = json_messages(&out, "errors");
        if !errors.is_empty() {
            return Err(RoutineError {
                kind: ErrorKind::CodecError,
                message: errors.join("; "),
            });
        }
        match out.get("data") {
            Some(data) if data.is_object() => Ok(DownlinkResult {
                data: data.clone(),
                warnings: json_messages(&out, "warnings"),
            }),
            other => Err(RoutineError {
                kind: ErrorKind::InvalidResult,
                message: format!(
                    "decodeDownlink returned no data object ({})",
                    other.map_or("none".to_string(), Json::to_string)
                ),
            }),
        }
    }

    /// Whether the script has `encodeDownlink` and `decodeDownlink`.
    pub fn downlinks(&self) -> (bool, bool) {
        match crate::engine::entries(self) {
            Ok(f) => (f.encode_downlink, f.decode_downlink),
            Err(_) => (false, false),
        }
    }
}

/// The texts of an `errors` or `warnings` member of a JSON result.
fn json_messages(out: &Json, name: &str) -> Vec<String> {
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    match out.get(name) {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(a)) => a.iter().map(text).collect(),
        Some(other) => vec![text(other)],
    }
}
