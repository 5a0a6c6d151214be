//! The JSON sink against the writer's other path (a `FieldBuf`, then `write_result`): every
//! result alike.

use super::*;
use crate::dynamic::Severity;
use crate::json::JsonWriter;
use crate::{Codec, Uplink};
use crate::{FieldBuf, Value};
use alloc::format;
use alloc::string::String;
use alloc::vec;

/// A codec that replays a script of sink calls.
struct Script(&'static [Step]);

#[derive(Clone, Copy)]
enum Step {
    F(&'static str, Option<u8>, i64),
    Open(&'static str, Option<u8>, Container),
    Close,
    Warn(usize),
    Fail(usize),
    /// A run-time member: key, number.
    DynN(&'static str, f64),
    /// A run-time member: key, text.
    DynS(&'static str, &'static str),
    DynOpen(&'static str, Container),
    /// A note: severity, message, line.
    NoteS(Severity, &'static str, Option<u32>),
    /// A whole object ([`Sink::object`]): name, channel, members (name, tenths).
    Obj(&'static str, Option<u8>, &'static [(&'static str, i64)]),
}

impl Codec for Script {
    fn id(&self) -> &'static str {
        "script"
    }
    fn decode<'a>(&self, _: Uplink<'a>, sink: &mut dyn Sink<'a>) -> Result<(), DecodeError> {
        let e = |k| DecodeError::new(0, k);
        for step in self.0 {
            match *step {
                Step::F(n, c, v) => sink
                    .field(Field::new(
                        n,
                        c,
                        Value::Decimal {
                            digits: v,
                            scale: 1,
                        },
                    ))
                    .map_err(e)?,
                Step::Open(n, c, k) => sink.open(n, c, k).map_err(e)?,
                Step::Close => sink.close().map_err(e)?,
                Step::Warn(o) => sink
                    .warning(DecodeError::new(o, ErrorKind::OutOfRange))
                    .map_err(e)?,
                Step::Fail(o) => return Err(DecodeError::new(o, ErrorKind::UnexpectedEof)),
                Step::Obj(n, c, members) => {
                    let mut fields = [Field::new("", None, Value::Null); 4];
                    for (slot, &(name, digits)) in fields.iter_mut().zip(members) {
                        let value = Value::Decimal { digits, scale: 1 };
                        *slot = Field::new(name, None, value);
                    }
                    let fields = fields.get(..members.len()).unwrap();
                    sink.object(n, c, fields).map_err(e)?
                }
                // Copied from a buffer that is overwritten at once, as a script's text is.
                Step::DynN(k, n) => {
                    let mut key = String::from(k);
                    sink.dyn_field(&key, DynValue::Number(n)).map_err(e)?;
                    key.clear();
                    key.push_str("overwritten");
                }
                Step::DynS(k, v) => {
                    let (key, value) = (String::from(k), String::from(v));
                    sink.dyn_field(&key, DynValue::Text(&value)).map_err(e)?;
                }
                Step::DynOpen(k, c) => sink.dyn_open(&String::from(k), c).map_err(e)?,
                Step::NoteS(severity, m, line) => sink
                    .note(Note {
                        severity,
                        kind: ErrorKind::CodecError,
                        message: &String::from(m),
                        line,
                    })
                    .map_err(e)?,
            }
        }
        Ok(())
    }
}

/// The writer's result through the sink, and through a FieldBuf: they must agree.
fn both(steps: &'static [Step]) -> String {
    both_within::<64>(steps)
}

/// The same with room for `N` events on both paths.
fn both_within<const N: usize>(steps: &'static [Step]) -> String {
    let codec = Script(steps);
    let mut w = JsonWriter::with_max_events(N);
    let mut fast = Vec::new();
    let outcome = w.decode(&codec, Uplink::new(1, &[]), &mut fast);
    let mut buf = FieldBuf::<N>::new();
    let d = buf.decode(&codec, Uplink::new(1, &[]));
    let mut slow = Vec::new();
    w.write_result(&d, &mut slow);
    let fast = String::from_utf8(fast).unwrap();
    assert_eq!(fast, String::from_utf8(slow).unwrap());
    // And a rejected frame.
    let mut tts_like = Vec::new();
    w.reject(DecodeError::new(0, ErrorKind::PortZero), &mut tts_like);
    assert!(tts_like.starts_with(b"{\"errors\":[{\"kind\":\"port_zero\""));
    assert_eq!(outcome.has_errors, d.has_errors());
    assert_eq!(outcome.has_warnings, d.has_warnings());
    // serde gives the same value (its number text may differ: `1e21` for `1e+21`).
    #[cfg(feature = "serde")]
    assert_eq!(
        serde_json::to_value(d).unwrap(),
        serde_json::from_str::<serde_json::Value>(&fast).unwrap()
    );
    if let Some(r) = outcome.data {
        assert!(fast[r].starts_with('{'));
    }
    fast
}

use Container::{Array, Object};
use Step::*;

#[test]
fn renders_like_the_writer() {
    assert_eq!(both(&[]), r#"{"data":{}}"#);
    assert_eq!(
        both(&[
            F("t", Some(10), 1),
            F("t", Some(2), 2),
            F("a", None, 3),
            F("t", Some(2), 4)
        ]),
        r#"{"data":{"a":0.3,"t_10":0.1,"t_2":0.4}}"#
    );
    assert_eq!(
        both(&[
            Open("gps", Some(1), Object),
            F("lon", None, 1),
            F("lat", None, 2),
            F("alt", None, 3),
            Close,
            F("b", None, 5),
            Open("list", None, Array),
            F("", None, 2),
            Open("", None, Object),
            F("z", None, 1),
            F("y", None, 2),
            Close,
            Open("", None, Array),
            Close,
            Close,
            Open("empty", None, Object),
            Close,
            Open("gps", Some(1), Object),
            F("x", None, 9),
            Close,
        ]),
        r#"{"data":{"b":0.5,"empty":{},"gps_1":{"x":0.9},"list":[0.2,{"y":0.2,"z":0.1},[]]}}"#
    );
}

#[test]
fn run_time_members_are_copied_and_kept_in_order() {
    assert_eq!(
        both(&[
            DynN("battery", 3.6),
            DynOpen("gps", Object),
            DynN("lat", 52.08),
            DynN("lon", -0.0),
            Close,
            DynOpen("list", Array),
            DynS("", "a\"b"),
            DynN("", 1e21),
            DynOpen("", Object),
            DynS("z", "é"),
            Close,
            Close,
            DynN("t", 1e-7),
        ]),
        r#"{"data":{"battery":3.6,"gps":{"lat":52.08,"lon":0},"list":["a\"b",1e+21,{"z":"é"}],"t":1e-7}}"#
    );
    // Native members beside run-time ones are all kept, in the order they came.
    assert_eq!(
        both(&[F("z", None, 1), DynN("a", 2.0), F("b", None, 3)]),
        r#"{"data":{"z":0.1,"a":2,"b":0.3}}"#
    );
}

#[test]
fn notes_are_the_errors_and_follow_the_warnings() {
    assert_eq!(
        both(&[
            DynN("a", 1.0),
            NoteS(Severity::Warning, "low battery", None),
            Warn(2),
        ]),
        r#"{"data":{"a":1},"warnings":[{"kind":"out_of_range","message":"value out of range at byte 2","offset":2},{"kind":"codec_error","message":"low battery"}]}"#
    );
    assert_eq!(
        both(&[
            DynN("a", 1.0),
            NoteS(Severity::Error, "bad \"port\"", Some(12)),
            NoteS(Severity::Error, "second", None),
            Fail(0),
        ]),
        r#"{"data":{"a":1},"errors":[{"kind":"codec_error","line":12,"message":"bad \"port\""},{"kind":"codec_error","message":"second"}]}"#
    );
    // A failure inside a run-time container removes the container, as for native ones.
    assert_eq!(
        both(&[
            DynN("kept", 1.0),
            DynOpen("half", Object),
            DynN("x", 1.0),
            Fail(3)
        ]),
        r#"{"data":{"kept":1},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 3","offset":3}]}"#
    );
}

#[test]
fn errors_warnings_and_what_is_left_open() {
    assert_eq!(
        both(&[
            Open("o", None, Object),
            F("b", None, 1),
            F("a", None, 2),
            Close,
            Open("p", None, Object),
            F("q", None, 1),
            Warn(3),
            Fail(7)
        ]),
        r#"{"data":{"o":{"a":0.2,"b":0.1}},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 7","offset":7}],"warnings":[{"kind":"out_of_range","message":"value out of range at byte 3","offset":3}]}"#
    );
    assert_eq!(
        both(&[Close]),
        r#"{"data":{},"errors":[{"kind":"nesting","message":"unbalanced or too deeply nested containers at byte 0","offset":0}]}"#
    );
}

#[test]
fn a_failing_codec_leaves_no_half_object() {
    assert_eq!(
        both(&[
            F("kept", None, 1),
            Open("half", Some(2), Object),
            F("x", None, 1),
            Fail(3)
        ]),
        r#"{"data":{"kept":0.1},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 3","offset":3}]}"#
    );
    assert_eq!(
        both(&[
            F("z", None, 1),
            Open("a", None, Array),
            Open("", None, Object),
            Fail(3)
        ]),
        r#"{"data":{"z":0.1},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 3","offset":3}]}"#
    );
}

/// `Obj` replaced by its three steps.
fn in_steps(steps: &'static [Step]) -> &'static [Step] {
    let mut out = Vec::new();
    for &step in steps {
        match step {
            Obj(n, c, members) => {
                out.push(Open(n, c, Object));
                out.extend(members.iter().map(|&(m, v)| F(m, None, v)));
                out.push(Close);
            }
            other => out.push(other),
        }
    }
    Vec::leak(out)
}

#[test]
fn a_whole_object_renders_as_its_three_steps() {
    let cases: [&'static [Step]; 7] = [
        // In key order: one pass.
        &[
            F("b", None, 1),
            Obj("gps", Some(1), &[("alt", 1), ("lat", 2), ("lon", 3)]),
        ],
        // Out of key order, a repeated key, none: as the steps render them.
        &[Obj("o", None, &[("y", 1), ("x", 2)]), F("a", None, 3)],
        &[Obj("o", None, &[("x", 1), ("x", 2), ("w", 3)])],
        &[Obj("empty", Some(2), &[])],
        // Keys that tie on their 8-byte prefixes.
        &[Obj(
            "o",
            None,
            &[("temperature_a", 1), ("temperature_b", 2)],
        )],
        // Inside an array and inside an object.
        &[
            Open("list", None, Array),
            Obj("", None, &[("a", 1), ("b", 2)]),
            Obj("", None, &[("b", 1), ("a", 2)]),
            Close,
            Open("o", None, Object),
            Obj("p", Some(3), &[("a", 1)]),
            Close,
        ],
        // The object the same key as a field before it: the last one is kept.
        &[
            F("o", None, 1),
            Obj("o", None, &[("a", 1)]),
            F("o", Some(1), 2),
        ],
    ];
    for steps in cases {
        assert_eq!(both(steps), both(in_steps(steps)));
    }
    assert_eq!(
        both(cases[0]),
        r#"{"data":{"b":0.1,"gps_1":{"alt":0.1,"lat":0.2,"lon":0.3}}}"#
    );
    assert_eq!(both(cases[2]), r#"{"data":{"o":{"w":0.3,"x":0.2}}}"#);
}

#[test]
fn a_whole_object_stops_where_its_steps_would() {
    // Room for the opening and one member of three: the object is left out whole.
    for steps in [
        &[
            F("a", None, 1),
            Obj("o", None, &[("x", 1), ("y", 2), ("z", 3)]),
        ][..],
        &[Obj("o", None, &[("x", 1), ("y", 2)]), F("a", None, 1)][..],
    ] {
        let text = both_within::<3>(steps);
        assert_eq!(text, both_within::<3>(in_steps(steps)));
        assert!(text.contains("sink_full"), "{text}");
    }
    // Exactly full.
    let steps = &[Obj("o", None, &[("x", 1), ("y", 2)])];
    assert_eq!(
        both_within::<3>(steps),
        r#"{"data":{"o":{"x":0.1,"y":0.2}}}"#
    );
    // Below the deepest nesting allowed, and at it.
    static DEEP: [Step; MAX_DEPTH + 1] = {
        let mut s = [Open("", None, Array); MAX_DEPTH + 1];
        s[MAX_DEPTH] = Obj("", None, &[("a", 1)]);
        s
    };
    let shallow = &DEEP[1..];
    assert_eq!(both(shallow), both(in_steps(shallow)));
    assert!(both(shallow).contains(r#"[{"a":0.1}]"#));
    let text = both(&DEEP);
    assert_eq!(text, both(in_steps(&DEEP)));
    assert!(text.contains("nesting"), "{text}");
}

#[test]
fn large_results_grow_the_buffer() {
    static MANY: [Step; 3000] = {
        let mut s = [Step::F("name_of_some_length", None, 0); 3000];
        let mut i = 0;
        while i < 3000 {
            s[i] = Step::F("name_of_some_length", Some((i % 256) as u8), i as i64);
            i += 1;
        }
        s
    };
    let codec = Script(&MANY);
    let mut w = JsonWriter::with_max_events(MANY.len());
    let mut out = Vec::new();
    w.decode(&codec, Uplink::new(1, &[]), &mut out);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["data"].as_object().unwrap().len(), 256);
    // The last of each repeated key wins: channel 255 last came at i = 2815.
    assert_eq!(
        v["data"]["name_of_some_length_255"],
        serde_json::json!(281.5)
    );
}

#[test]
fn ranks_spread_out_in_the_middle_of_a_frame() {
    // Each new key falls between the one before and `c`: the gap between ranks halves
    // each time, so that the ranks are spread out while members are recorded, in a nested
    // object and (likely) while an object is pushed whole; the order must not change.
    let b = |i: usize| -> &'static str { "b".repeat(i).leak() };
    let mut steps = vec![F("c", None, 1), F("a", None, 2), Open("n", None, Object)];
    steps.extend((1..=20).map(|i| F(b(i), None, i as i64)));
    steps.extend([F("a", None, 3), Close]);
    for g in 0..10u8 {
        let i = 21 + 3 * usize::from(g);
        let members = [(b(i), 1), (b(i + 1), 2), (b(i + 2), 3)];
        steps.push(Obj("o", Some(g), Vec::from(members).leak()));
    }
    steps.extend((51..=66).map(|i| F(b(i), None, i as i64)));
    steps.push(F("c", None, 3));
    let steps: &'static [Step] = steps.leak();
    let mut w = JsonWriter::with_max_events(256);
    let mut out = Vec::new();
    w.decode(&Script(steps), Uplink::new(1, &[]), &mut out);
    assert!(w.ranks.generation > 0, "the ranks were spread out");
    let out = String::from_utf8(out).unwrap();
    // The same through a FieldBuf, with a writer that has ranked these keys before.
    assert_eq!(both_within::<256>(steps), out);
    let at = |key: &str| out.find(key).unwrap();
    assert!(at("\"a\":") < at("\"b\":") && at("\"b\":") < at("\"bb\":"));
    let last_b = format!("\"{}\":", b(66));
    assert!(at(&last_b) < at("\"c\":0.3") && !out.contains("\"c\":0.1"));
    assert!(at("\"c\":0.3") < at("\"n\":") && at("\"n\":") < at("\"o_0\":"));
}

#[test]
fn keys_with_long_common_prefixes_sort_as_text() {
    // Keys that share 16 bytes and more, and keys with escapes: ranked as their text.
    let out = both(&[
        F("relative_humidity", Some(3), 1),
        F("relative_humidity", Some(10), 2),
        F("relative_humidit\"y", None, 3),
        F("relative_humidity", Some(2), 4),
        F("relative_humidit\\y", None, 5),
        F("relative_humidity", Some(3), 6),
        F("relative_humidit\u{1}", None, 7),
    ]);
    assert_eq!(
        out,
        concat!(
            r#"{"data":{"relative_humidit\u0001":0.7,"relative_humidit\"y":0.3,"#,
            r#""relative_humidit\\y":0.5,"relative_humidity_10":0.2,"#,
            r#""relative_humidity_2":0.4,"relative_humidity_3":0.6}}"#
        )
    );
    // The same in a nested object, and in an object of more than 16 members (sorted as
    // fragments, not positions), the last of a repeated key kept.
    static NESTED: [Step; 8] = [
        Open("o", None, Object),
        F("relative_humidity", Some(3), 1),
        F("relative_humidity", Some(10), 2),
        F("relative_humidit\"y", None, 3),
        F("relative_humidity", Some(3), 4),
        F("a", None, 5),
        Close,
        F("b", None, 6),
    ];
    assert_eq!(
        both(&NESTED),
        concat!(
            r#"{"data":{"b":0.6,"o":{"a":0.5,"relative_humidit\"y":0.3,"#,
            r#""relative_humidity_10":0.2,"relative_humidity_3":0.4}}}"#
        )
    );
    static LARGE: [Step; 40] = {
        let mut s = [Step::F("relative_humidity", None, 0); 40];
        let mut i = 0;
        while i < 40 {
            // Channels 0..20 twice, in a scrambled order.
            s[i] = Step::F("relative_humidity", Some(((i * 7) % 20) as u8), i as i64);
            i += 1;
        }
        s
    };
    let out = both(&LARGE);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let data = v["data"].as_object().unwrap();
    assert_eq!(data.len(), 20);
    // Channel 7 came at i = 1 and i = 21: the last is kept.
    assert_eq!(data["relative_humidity_7"], serde_json::json!(2.1));
    let keys: Vec<&String> = data.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(out.starts_with(r#"{"data":{"relative_humidity_0":2,"relative_humidity_1":"#));
}

#[test]
fn past_the_limit_both_paths_stop_at_the_same_field() {
    const FULL: &str = r#""errors":[{"kind":"sink_full","message":"no room for more fields at byte 0","offset":0}]}"#;
    // The third field does not fit: the two before it are kept.
    assert_eq!(
        both_within::<2>(&[F("a", None, 1), F("b", None, 2), F("c", None, 3)]),
        format!(r#"{{"data":{{"a":0.1,"b":0.2}},{FULL}"#)
    );
    // An opening counts as an event; a container cut short is left out whole.
    assert_eq!(
        both_within::<3>(&[
            F("a", None, 1),
            Open("o", None, Object),
            F("x", None, 1),
            F("y", None, 2),
            Close
        ]),
        format!(r#"{{"data":{{"a":0.1}},{FULL}"#)
    );
    assert_eq!(
        both_within::<2>(&[F("a", None, 1), F("b", None, 2), Open("l", None, Array)]),
        both_within::<2>(&[F("a", None, 1), F("b", None, 2), F("c", None, 3)])
    );
    // Exactly full is not an error; closing takes no room.
    assert_eq!(
        both_within::<3>(&[
            Open("l", None, Array),
            F("", None, 1),
            F("", None, 2),
            Close
        ]),
        r#"{"data":{"l":[0.1,0.2]}}"#
    );
    // The default is the facade's FieldBuf size.
    static MANY: [Step; crate::MAX_EVENTS + 1] = [F("n", None, 1); crate::MAX_EVENTS + 1];
    let text = both_within::<{ crate::MAX_EVENTS }>(&MANY);
    let mut fast = Vec::new();
    JsonWriter::new().decode(&Script(&MANY), Uplink::new(1, &[]), &mut fast);
    assert_eq!(String::from_utf8(fast).unwrap(), text);
    assert!(text.ends_with(&format!(",{FULL}")), "{text}");
}

#[test]
fn remembered_orders_are_used_only_when_they_sort() {
    // Frames whose member count and first two keys agree, so that they share a remembered
    // order, but whose other members come in other orders or repeat a key; and frames of
    // other lengths. One writer decodes them again and again: each result must be what a
    // fresh writer and the FieldBuf path print.
    let frames: [&'static [Step]; 6] = [
        &[
            F("d", Some(1), 1),
            F("a", Some(2), 2),
            F("c", Some(3), 3),
            F("b", Some(4), 4),
        ],
        &[
            F("d", Some(1), 1),
            F("a", Some(2), 2),
            F("b", Some(4), 4),
            F("c", Some(3), 3),
        ],
        &[
            F("d", Some(1), 1),
            F("a", Some(2), 2),
            F("c", Some(3), 3),
            F("c", Some(3), 5),
        ],
        &[F("d", Some(1), 1), F("a", Some(2), 2), F("c", Some(3), 3)],
        &[F("d", Some(1), 1), F("a", Some(2), 2), F("a", Some(2), 7)],
        &[
            F("d", Some(1), 1),
            F("a", Some(2), 2),
            F("f", None, 3),
            F("b", Some(4), 4),
            F("e", None, 5),
        ],
    ];
    let mut w = JsonWriter::with_max_events(64);
    for _ in 0..3 {
        for steps in frames {
            let mut out = Vec::new();
            w.decode(&Script(steps), Uplink::new(1, &[]), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), both(steps));
        }
    }
}
