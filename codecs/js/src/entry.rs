//! A script's entry points and the uplink call: TS013 `decodeUplink`, TTN v2 `Decoder`,
//! ChirpStack v3 `Decode`, and `normalizeUplink` after them.

use lorafield_core::dynamic::{Note, Severity};
use lorafield_core::{DecodeError, ErrorKind, Sink, Uplink};
use rquickjs::{Array, Ctx, Function, Object, Persistent, Value};

use crate::JsCodec;
use crate::convert::{Converter, SinkOut, TextOut};
use crate::engine::{Call, Failure, caught, js, report};
use crate::helpers::Helpers;
use crate::text::text_of;

/// Which function decodes uplinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// `decodeUplink(input)`, returning `{data, errors, warnings}` (TS013).
    Ts013,
    /// `Decoder(bytes, fPort)`, returning the data (TTN v2).
    TtnV2,
    /// `Decode(fPort, bytes, variables)`, returning the data (ChirpStack v3).
    ChirpStackV3,
}

/// The entry points a script has, found after it was evaluated.
pub(crate) struct Entries {
    pub(crate) kind: EntryKind,
    /// The uplink decoder; none in a downlink-only script.
    pub(crate) main: Option<Persistent<Function<'static>>>,
    pub(crate) normalize: Option<Persistent<Function<'static>>>,
    pub(crate) encode_downlink: Option<Persistent<Function<'static>>>,
    pub(crate) decode_downlink: Option<Persistent<Function<'static>>>,
}

/// Which entry points a script has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) uplink: bool,
    pub(crate) normalize: bool,
    pub(crate) encode_downlink: bool,
    pub(crate) decode_downlink: bool,
}

/// The function `name` as the script declared it (`function`, `var`, `let` or `const`: the
/// global lexical scope is searched too), if it is one.
fn lookup<'js>(ctx: &Ctx<'js>, name: &str) -> Option<Function<'js>> {
    let probe = format!("typeof {name} === 'function' ? {name} : undefined");
    let v: Value<'js> = ctx.eval(probe).ok()?;
    v.into_function()
}

impl Entries {
    /// The script's entry points; `None` when it has none of them (not even a downlink one).
    pub(crate) fn find<'js>(ctx: &Ctx<'js>) -> Option<Entries> {
        let save = |f: Function<'js>| Persistent::save(ctx, f);
        let main = [
            (EntryKind::Ts013, "decodeUplink"),
            (EntryKind::TtnV2, "Decoder"),
            (EntryKind::ChirpStackV3, "Decode"),
        ]
        .into_iter()
        .find_map(|(kind, name)| lookup(ctx, name).map(|f| (kind, f)));
        let entries = Entries {
            kind: main.as_ref().map_or(EntryKind::Ts013, |(k, _)| *k),
            main: main.map(|(_, f)| save(f)),
            normalize: lookup(ctx, "normalizeUplink").map(save),
            encode_downlink: lookup(ctx, "encodeDownlink").map(save),
            decode_downlink: lookup(ctx, "decodeDownlink").map(save),
        };
        let any = entries.main.is_some()
            || entries.encode_downlink.is_some()
            || entries.decode_downlink.is_some();
        any.then_some(entries)
    }

    pub(crate) fn found(&self) -> Found {
        Found {
            uplink: self.main.is_some(),
            normalize: self.normalize.is_some(),
            encode_downlink: self.encode_downlink.is_some(),
            decode_downlink: self.decode_downlink.is_some(),
        }
    }
}

/// The uplink's bytes as an `Array` of integers.
pub(crate) fn bytes<'js>(ctx: &Ctx<'js>, payload: &[u8]) -> Result<Value<'js>, Failure> {
    let array = Array::new(ctx.clone()).map_err(js)?;
    for (i, &b) in payload.iter().enumerate() {
        array.set(i, i32::from(b)).map_err(js)?;
    }
    Ok(array.into_value())
}

/// The variables, parsed from their JSON text.
pub(crate) fn variables<'js>(ctx: &Ctx<'js>, codec: &JsCodec) -> Result<Value<'js>, Failure> {
    match &codec.options().variables {
        Some(text) => ctx.json_parse(text.as_str()).map_err(js),
        None => Ok(Value::new_undefined(ctx.clone())),
    }
}

/// Strings of a TS013 `errors` or `warnings` member (a lone string counts as one).
pub(crate) fn messages<'js>(result: &Object<'js>, name: &str) -> Result<Vec<String>, Failure> {
    let v: Value<'js> = result.get(name).map_err(js)?;
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    let text = |v: Value<'js>| -> String {
        match text_of(v.ctx(), &v) {
            Some(s) => s,
            None => {
                let json = v.ctx().json_stringify(v.clone()).ok().flatten();
                json.and_then(|s| s.to_string().ok())
                    .unwrap_or_else(|| format!("a {}", v.type_name()))
            }
        }
    };
    match v.as_array() {
        Some(a) => {
            let mut out = Vec::with_capacity(a.len());
            for i in 0..a.len() {
                out.push(text(a.get(i).map_err(js)?));
            }
            Ok(out)
        }
        None => Ok(vec![text(v)]),
    }
}

/// Decoding one uplink: the call, the conversion of its result into the sink.
pub(crate) struct DecodeCall<'s, 'a> {
    codec: &'s JsCodec,
    uplink: Uplink<'a>,
    sink: &'s mut dyn Sink<'a>,
    /// The codec's own errors, when it reported some.
    errors: Vec<String>,
}

impl<'s, 'a> DecodeCall<'s, 'a> {
    pub(crate) fn new(codec: &'s JsCodec, uplink: &Uplink<'a>, sink: &'s mut dyn Sink<'a>) -> Self {
        DecodeCall {
            codec,
            uplink: *uplink,
            sink,
            errors: Vec::new(),
        }
    }

    /// The frame's outcome: the codec's errors or the failure as notes, and the error that
    /// rejects the frame.
    pub(crate) fn finish(self, result: Result<(), Failure>) -> Result<(), DecodeError> {
        match result {
            Ok(()) if self.errors.is_empty() => Ok(()),
            Ok(()) => {
                for e in &self.errors {
                    let _ = self.sink.note(Note {
                        severity: Severity::Error,
                        kind: ErrorKind::CodecError,
                        message: e,
                        line: None,
                    });
                }
                Err(DecodeError::new(0, ErrorKind::CodecError))
            }
            Err(failure) => Err(report(self.sink, failure)),
        }
    }

    fn warn(&mut self, message: &str) {
        let _ = self.sink.note(Note {
            severity: Severity::Warning,
            kind: ErrorKind::CodecWarning,
            message,
            line: None,
        });
    }
}

impl Call for DecodeCall<'_, '_> {
    type Output = ();

    fn run<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        helpers: &Helpers<'js>,
        entries: &Entries,
    ) -> Result<(), Failure> {
        let name = self.codec.script().name();
        let main = entries
            .main
            .clone()
            .ok_or_else(|| {
                Failure::Missing(format!(
                    "script {name} has no decodeUplink(input), Decoder(bytes, fPort) or Decode(fPort, bytes, variables): it only handles downlinks"
                ))
            })?
            .restore(ctx)
            .map_err(js)?;
        let payload = bytes(ctx, self.uplink.payload)?;
        let variables = variables(ctx, self.codec)?;
        let f_port = i32::from(self.uplink.f_port);
        let (data, warnings): (Value<'js>, Vec<String>) = match entries.kind {
            EntryKind::Ts013 => {
                let make = &helpers.input;
                let recv = match self.uplink.received_ms {
                    Some(ms) => Value::new_number(ctx.clone(), ms as f64),
                    None => Value::new_null(ctx.clone()),
                };
                let input: Object<'js> =
                    make.call((payload, f_port, recv, variables)).map_err(js)?;
                let result: Value<'js> = main.call((input,)).catch_failure(ctx, name)?;
                let Some(result) = result.as_object() else {
                    return Err(Failure::Invalid(format!(
                        "decodeUplink returned {} instead of an object {{data, errors, warnings}}",
                        describe(&result)
                    )));
                };
                self.errors = messages(result, "errors")?;
                let warnings = messages(result, "warnings")?;
                if !self.errors.is_empty() {
                    for w in &warnings {
                        self.warn(w);
                    }
                    return Ok(());
                }
                (result.get("data").map_err(js)?, warnings)
            }
            EntryKind::TtnV2 => (
                main.call((payload, f_port)).catch_failure(ctx, name)?,
                Vec::new(),
            ),
            EntryKind::ChirpStackV3 => {
                let bytes = payload;
                let variables = if variables.is_undefined() {
                    Object::new(ctx.clone()).map_err(js)?.into_value()
                } else {
                    variables
                };
                (
                    main.call((f_port, bytes, variables))
                        .catch_failure(ctx, name)?,
                    Vec::new(),
                )
            }
        };
        let Some(data_obj) = data.as_object().filter(|_| !data.is_array()) else {
            return Err(Failure::Invalid(format!(
                "the result's data is {}, not an object",
                describe(&data)
            )));
        };
        let limit = self.codec.options().limits.output_size;
        let mut convert = Converter::new(ctx, helpers, limit, name)?;
        convert.members(data_obj, &mut SinkOut(self.sink))?;
        for w in warnings.iter().chain(&convert.warnings) {
            self.warn(w);
        }
        if let Some(normalize) = &entries.normalize {
            self.normalize(ctx, helpers, normalize, data, name)?;
        }
        Ok(())
    }
}

impl DecodeCall<'_, '_> {
    /// Runs `normalizeUplink({data})`; its result goes to the sink as the normalized payload,
    /// its errors become warnings (the decode itself succeeded).
    fn normalize<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        helpers: &Helpers<'js>,
        normalize: &Persistent<Function<'static>>,
        data: Value<'js>,
        name: &str,
    ) -> Result<(), Failure> {
        let f = normalize.clone().restore(ctx).map_err(js)?;
        let input = Object::new(ctx.clone()).map_err(js)?;
        input.set("data", data).map_err(js)?;
        let result: Value<'js> = match f.call((input,)).catch_failure(ctx, name) {
            Ok(r) => r,
            Err(Failure::Threw { message, .. }) => {
                self.warn(&format!("normalizeUplink: {message}"));
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        let Some(result) = result.as_object() else {
            self.warn("normalizeUplink returned no object");
            return Ok(());
        };
        let errors = messages(result, "errors")?;
        for w in messages(result, "warnings")? {
            self.warn(&format!("normalizeUplink: {w}"));
        }
        if !errors.is_empty() {
            for e in errors {
                self.warn(&format!("normalizeUplink: {e}"));
            }
            return Ok(());
        }
        let normalized: Value<'js> = result.get("data").map_err(js)?;
        let limit = self.codec.options().limits.output_size;
        let mut convert = Converter::new(ctx, helpers, limit, name)?;
        let mut text = TextOut::default();
        match convert.value("", normalized, &mut text, false) {
            Ok(()) => {}
            Err(Failure::Invalid(m)) => {
                self.warn(&format!("normalizeUplink: {m}"));
                return Ok(());
            }
            Err(other) => return Err(other),
        }
        let text = String::from_utf8(text.text).unwrap_or_default();
        if !text.is_empty() {
            self.sink.normalized(&text).map_err(|e| {
                Failure::Invalid(format!("the sink refused the normalized payload: {e}"))
            })?;
        }
        Ok(())
    }
}

/// A value's kind in words, for messages.
pub(crate) fn describe(v: &Value<'_>) -> &'static str {
    if v.is_undefined() {
        "undefined"
    } else if v.is_null() {
        "null"
    } else if v.is_array() {
        "an array"
    } else if v.is_string() {
        "a string"
    } else if v.is_number() {
        "a number"
    } else if v.is_bool() {
        "a boolean"
    } else if v.is_function() {
        "a function"
    } else {
        "not an object"
    }
}

/// Catching a script's exception as a [`Failure`].
pub(crate) trait CatchFailure<'js, T> {
    fn catch_failure(self, ctx: &Ctx<'js>, script: &str) -> Result<T, Failure>;
}

impl<'js, T> CatchFailure<'js, T> for rquickjs::Result<T> {
    fn catch_failure(self, ctx: &Ctx<'js>, script: &str) -> Result<T, Failure> {
        use rquickjs::CatchResultExt;
        self.catch(ctx).map_err(|e| caught(e, script))
    }
}
