//! The engine's semantics on tables written for these tests: first match wins, wildcards,
//! gathered containers, where decoding stops, what a short value gives, the items' numbers.

use lorafield_codec_milesight::engine::Int::{F32, I8, I16, U8, U16, U32, U32Js};
use lorafield_codec_milesight::engine::{
    self, Bit, BitOut, Div, Gather, Id, Item, KeyChannel, ONE, Read, Rule, Shape, Table, Version,
    rule,
};
use lorafield_core::dynamic::{DynValue, Note, Severity};
use lorafield_core::json::JsonWriter;
use lorafield_core::{DecodeError, ErrorKind, FieldBuf, MAX_WARNINGS, Sink};

fn run(table: &Table, payload: &[u8]) -> (String, Option<DecodeError>) {
    let mut buf = FieldBuf::<64>::new();
    let mut store = buf.store();
    store.clear();
    let result = engine::decode(table, payload, &mut store);
    drop(store);
    let mut out = Vec::new();
    JsonWriter::new().write_object(buf.events(), &mut out);
    let warnings: Vec<_> = buf.warnings().to_vec();
    let text = String::from_utf8(out).unwrap();
    match (result, warnings.first()) {
        (Err(e), _) => (text, Some(e)),
        (Ok(()), Some(w)) => (text, Some(*w)),
        (Ok(()), None) => (text, None),
    }
}

const ON_OFF: &[(i64, &str)] = &[(0, "off")];

static RULES: Table = Table::new(&[
    rule(0x01, 0x75, &[Item::Num("battery", U8, ONE)]),
    // Any type but 0xc8 on channel 3, before the 0xc8 rule: order matters.
    Rule {
        channel: Id::Is(0x03),
        ty: Id::Not(0xc8),
        read: Read::Items(&[Item::Enum("gpio", U8, ON_OFF, "on")]),
    },
    rule(0x03, 0xc8, &[Item::Num("pulse", U32, ONE)]),
    rule(0x04, 0x01, &[Item::Num("first", U8, ONE)]),
    // Never matches: the rule above takes 04 01.
    rule(0x04, 0x01, &[Item::Num("second", U8, ONE)]),
    Rule {
        channel: Id::In(&[0x05, 0x08]),
        ty: Id::Any,
        read: Read::Items(&[Item::Bool("flag", U8)]),
    },
    rule(
        0x06,
        0x01,
        &[
            Item::Num("t", I16, Div(10)),
            Item::Skip(1),
            Item::Num("h", U8, Div(2)),
        ],
    ),
    rule(
        0x07,
        0x01,
        &[
            Item::Object("empty", &[]),
            Item::Object("o", &[Item::Num("x", I8, ONE)]),
        ],
    ),
    Rule {
        channel: Id::Is(0x20),
        ty: Id::Is(0xce),
        read: Read::Into(
            Gather {
                name: "history",
                channel: KeyChannel::None,
                shape: Shape::Array,
            },
            &[Item::Num("timestamp", U32, ONE), Item::Num("v", U16, ONE)],
        ),
    },
    Rule {
        channel: Id::In(&[0x30, 0x33]),
        ty: Id::Is(0xd2),
        read: Read::Into(
            Gather {
                name: "line",
                channel: KeyChannel::FromId {
                    base: 0x30,
                    step: 3,
                    first: 1,
                },
                shape: Shape::Object,
            },
            &[Item::Num("total_in", U32, ONE)],
        ),
    },
    Rule {
        channel: Id::In(&[0x31, 0x34]),
        ty: Id::Is(0xd2),
        read: Read::Into(
            Gather {
                name: "line",
                channel: KeyChannel::FromId {
                    base: 0x31,
                    step: 3,
                    first: 1,
                },
                shape: Shape::Object,
            },
            &[Item::Num("total_out", U32, ONE)],
        ),
    },
    rule(
        0x40,
        0x01,
        &[Item::Bits(
            U8,
            &[
                Bit {
                    name: "b0",
                    shift: 0,
                    mask: 1,
                    out: BitOut::Enum(&[(1, "open")], "close"),
                },
                Bit {
                    name: "b1",
                    shift: 1,
                    mask: 1,
                    out: BitOut::Bool,
                },
                Bit {
                    name: "hi",
                    shift: 4,
                    mask: 0xf,
                    out: BitOut::Num,
                },
            ],
        )],
    ),
    rule(
        0x41,
        0x01,
        &[Item::Num("js", U32Js, ONE), Item::Num("f", F32, ONE)],
    ),
    rule(
        0xff,
        0x01,
        &[Item::Version("ipso_version", Version::Nibbles)],
    ),
    rule(
        0xff,
        0x09,
        &[Item::Version("hardware_version", Version::MajorHighNibble)],
    ),
    rule(0xff, 0x16, &[Item::Hex("sn", 4)]),
    rule(
        0xff,
        0x0b,
        &[Item::Const("power", lorafield_core::Value::Str("on"))],
    ),
    rule(
        0xff,
        0x0c,
        &[
            Item::Suffixed("life_remain", U32, "s"),
            Item::Num("third", U16, Div(3)),
        ],
    ),
]);

#[test]
fn first_match_wins_and_wildcards_match() {
    assert_eq!(
        run(&RULES, &[3, 0, 0, 3, 0xc8, 1, 0, 0, 0]).0,
        r#"{"gpio":"off","pulse":1}"#
    );
    assert_eq!(run(&RULES, &[3, 7, 9]).0, r#"{"gpio":"on"}"#);
    assert_eq!(run(&RULES, &[4, 1, 9]).0, r#"{"first":9}"#);
    assert_eq!(run(&RULES, &[8, 0x99, 2]).0, r#"{"flag":true}"#);
}

#[test]
fn items_read_in_sequence_and_skip() {
    #[rustfmt::skip]
    let p = [
        0x06, 0x01,
        0x34, 0x01, // t: 308 / 10
        0xaa,       // skipped
        0x65,       // h: 101 / 2
    ];
    assert_eq!(run(&RULES, &p).0, r#"{"h":50.5,"t":30.8}"#);
    assert_eq!(run(&RULES, &[7, 1, 0xff]).0, r#"{"empty":{},"o":{"x":-1}}"#);
}

#[test]
fn gathered_arrays_and_objects() {
    #[rustfmt::skip]
    let p = [
        0x20, 0xce, 1, 0, 0, 0, 5, 0,    // history[0]
        0x01, 0x75, 90,                   // battery between the records
        0x30, 0xd2, 7, 0, 0, 0,           // line_1.total_in
        0x20, 0xce, 2, 0, 0, 0, 6, 0,    // history[1]
        0x34, 0xd2, 8, 0, 0, 0,           // line_2.total_out
        0x31, 0xd2, 9, 0, 0, 0,           // line_1.total_out
    ];
    assert_eq!(
        run(&RULES, &p).0,
        r#"{"battery":90,"history":[{"timestamp":1,"v":5},{"timestamp":2,"v":6}],"line_1":{"total_in":7,"total_out":9},"line_2":{"total_out":8}}"#
    );
}

#[test]
fn bits_versions_hex_constants_and_js_numbers() {
    assert_eq!(
        run(&RULES, &[0x40, 1, 0x53]).0,
        r#"{"b0":"open","b1":true,"hi":5}"#
    );
    let mut p = vec![0x41, 1, 0xff, 0xff, 0xff, 0xff];
    p.extend(1.5f32.to_le_bytes());
    assert_eq!(run(&RULES, &p).0, r#"{"f":1.5,"js":-1}"#);
    // readFloatLE of the decoders: an infinity's bits give 2^128, a finite number.
    let mut p = vec![0x41, 1, 0, 0, 0, 0];
    p.extend(f32::INFINITY.to_bits().to_le_bytes());
    assert_eq!(
        run(&RULES, &p).0,
        r#"{"f":340282366920938500000000000000000000000,"js":0}"#
    );
    assert_eq!(
        run(&RULES, &[0xff, 1, 0x12]).0,
        r#"{"ipso_version":"v1.2"}"#
    );
    assert_eq!(
        run(&RULES, &[0xff, 9, 3, 0x40]).0,
        r#"{"hardware_version":"v3.4"}"#
    );
    assert_eq!(
        run(&RULES, &[0xff, 0x16, 0xde, 0xad, 0x01, 0x02]).0,
        r#"{"sn":"dead0102"}"#
    );
    assert_eq!(run(&RULES, &[0xff, 0x0b]).0, r#"{"power":"on"}"#);
    assert_eq!(
        run(&RULES, &[0xff, 0x0c, 120, 0, 0, 0, 10, 0]).0,
        r#"{"life_remain":"120s","third":3.3333333333333335}"#
    );
}

#[test]
fn an_unknown_pair_stops_with_a_warning() {
    let (text, w) = run(&RULES, &[1, 0x75, 50, 0x99, 0x01, 1, 0x75, 60]);
    assert_eq!(text, r#"{"battery":50}"#);
    assert_eq!(
        w,
        Some(DecodeError::new(
            3,
            ErrorKind::UnknownPair {
                channel: 0x99,
                ty: 1
            }
        ))
    );
}

#[test]
fn a_short_value_is_an_error_at_its_pair() {
    for cut in 0..8 {
        let p = [1u8, 0x75, 50, 0x20, 0xce, 1, 0, 0, 0, 5, 0];
        let (_, e) = run(&RULES, &p[..3 + cut]);
        if cut == 0 {
            assert_eq!(e, None);
        } else {
            assert_eq!(
                e,
                Some(DecodeError::new(3, ErrorKind::UnexpectedEof)),
                "cut {cut}"
            );
        }
    }
    // A cut pair leaves none of its fields.
    assert_eq!(
        run(&RULES, &[1, 0x75, 50, 0x06, 0x01, 0x34, 0x01, 0xaa]),
        (
            r#"{"battery":50}"#.to_string(),
            Some(DecodeError::new(3, ErrorKind::UnexpectedEof))
        )
    );
    // A cut gathered record adds no empty container.
    assert_eq!(
        run(&RULES, &[1, 0x75, 50, 0x20, 0xce, 1, 0]),
        (
            r#"{"battery":50}"#.to_string(),
            Some(DecodeError::new(3, ErrorKind::UnexpectedEof))
        )
    );
    // What decoded before the short pair is kept, gathered containers included.
    let p = [0x20, 0xce, 1, 0, 0, 0, 5, 0, 0x06, 0x01, 0x34];
    assert_eq!(
        run(&RULES, &p),
        (
            r#"{"history":[{"timestamp":1,"v":5}]}"#.to_string(),
            Some(DecodeError::new(8, ErrorKind::UnexpectedEof)),
        )
    );
}

/// A routine: a count byte, then that many u8 values as an array.
fn counted<'a>(value: &'a [u8], _: u8, _: u8, sink: &mut dyn Sink<'a>) -> Result<usize, ErrorKind> {
    let (&n, rest) = value.split_first().ok_or(ErrorKind::UnexpectedEof)?;
    let items = rest.get(..usize::from(n)).ok_or(ErrorKind::UnexpectedEof)?;
    sink.open("values", None, lorafield_core::Container::Array)?;
    for &v in items {
        sink.field(lorafield_core::Field::new(
            "",
            None,
            lorafield_core::Value::U64(v.into()),
        ))?;
    }
    sink.close()?;
    Ok(1 + usize::from(n))
}

static CUSTOM: Table = Table::new(&[
    Rule {
        channel: Id::Is(0x50),
        ty: Id::Any,
        read: Read::Custom(counted),
    },
    rule(0x01, 0x75, &[Item::Num("battery", U8, ONE)]),
]);

#[test]
fn routines_read_what_tables_cannot() {
    assert_eq!(
        run(&CUSTOM, &[0x50, 0, 3, 7, 8, 9, 1, 0x75, 1]).0,
        r#"{"battery":1,"values":[7,8,9]}"#
    );
    let (_, e) = run(&CUSTOM, &[0x50, 0, 3, 7]);
    assert_eq!(e, Some(DecodeError::new(0, ErrorKind::UnexpectedEof)));
}

static NO_ELSE_RULES: Table = Table::new(&[
    Rule {
        channel: Id::Is(0x01),
        ty: Id::Not(0x00),
        read: Read::Items(&[Item::Enum("din", U8, ON_OFF, "on")]),
    },
    rule(0x02, 0x01, &[Item::Num("n", U8, ONE)]),
    Rule {
        channel: Id::Any,
        ty: Id::Any,
        read: Read::SkipPair,
    },
]);

#[test]
fn a_decoder_without_else_passes_over_unknown_pairs() {
    // 07 07 is passed over (warned), 02 01 05 still decodes.
    let (text, w) = run(&NO_ELSE_RULES, &[7, 7, 2, 1, 5]);
    assert_eq!(text, r#"{"n":5}"#);
    assert_eq!(
        w,
        Some(DecodeError::new(
            0,
            ErrorKind::UnknownPair { channel: 7, ty: 7 }
        ))
    );
    // Many of them: seven warnings, decoding still goes on, no error.
    let mut p = [9u8, 9].repeat(20);
    p.extend([2, 1, 6]);
    let mut buf = FieldBuf::<64>::new();
    let d = buf.decode(
        &lorafield_core_codec(&NO_ELSE_RULES),
        lorafield_core::Uplink::new(85, &p),
    );
    assert_eq!(d.error, None);
    assert_eq!(d.data.map(<[_]>::len), Some(1));
    assert_eq!(d.warnings.len(), usize::from(engine::SKIP_WARNINGS));
    // Then a stop (here the lone last byte): its warning still has room, on both paths to
    // JSON, where it used to be refused and end the frame in a `sink_full` error.
    let mut q = p.clone();
    q.push(9);
    let p = q;
    let mut buf = FieldBuf::<64>::new();
    let d = buf.decode(
        &lorafield_core_codec(&NO_ELSE_RULES),
        lorafield_core::Uplink::new(85, &p),
    );
    assert_eq!(d.error, None);
    assert_eq!(d.data.map(<[_]>::len), Some(1));
    assert_eq!(d.warnings.len(), MAX_WARNINGS);
    assert_eq!(
        d.warnings.last(),
        Some(&DecodeError::new(p.len() - 1, ErrorKind::UnexpectedEof))
    );
    let mut json = Vec::new();
    lorafield_core::json::JsonWriter::new().decode(
        &lorafield_core_codec(&NO_ELSE_RULES),
        lorafield_core::Uplink::new(85, &p),
        &mut json,
    );
    let json = String::from_utf8(json).unwrap();
    assert!(
        json.starts_with(r#"{"data":{"n":6},"warnings":["#),
        "{json}"
    );
    assert_eq!(json.matches(r#""kind":"#).count(), MAX_WARNINGS, "{json}");
}

#[test]
fn the_lone_last_byte_reads_as_the_decoders_read_it() {
    // `01 00` is passed over; the lone `01` has no type, which `!== 0x00` lets through, and
    // its missing value equals no label: the default.
    let (text, w) = run(&NO_ELSE_RULES, &[1, 0, 1]);
    assert_eq!(text, r#"{"din":"on"}"#);
    assert_eq!(
        w,
        Some(DecodeError::new(
            0,
            ErrorKind::UnknownPair { channel: 1, ty: 0 }
        ))
    );
    // A lone byte no rule takes, or whose value is a number: a warning, no error.
    let (text, w) = run(&RULES, &[1, 0x75, 7, 0x06]);
    assert_eq!(
        (text.as_str(), w),
        (
            r#"{"battery":7}"#,
            Some(DecodeError::new(3, ErrorKind::UnexpectedEof))
        )
    );
    let (text, w) = run(&RULES, &[1, 0x75, 7, 0x99]);
    assert_eq!(
        (text.as_str(), w),
        (
            r#"{"battery":7}"#,
            Some(DecodeError::new(3, ErrorKind::UnexpectedEof))
        )
    );
}

/// A codec over test rules, to go through `FieldBuf::decode`.
fn lorafield_core_codec(table: &'static Table) -> TestCodec {
    TestCodec(table)
}

struct TestCodec(&'static Table);

impl lorafield_core::Codec for TestCodec {
    fn id(&self) -> &'static str {
        "test"
    }
    fn decode<'a>(
        &self,
        uplink: lorafield_core::Uplink<'a>,
        sink: &mut dyn Sink<'a>,
    ) -> Result<(), DecodeError> {
        engine::decode(self.0, uplink.payload, &mut engine::SinkRef(sink))
    }
}

/// Counts what a routine emits.
#[derive(Default)]
struct Count(usize);

impl<'a> Sink<'a> for Count {
    fn field(&mut self, _: lorafield_core::Field<'a>) -> Result<(), ErrorKind> {
        self.0 += 1;
        Ok(())
    }
    fn open(
        &mut self,
        _: &'static str,
        _: Option<u8>,
        _: lorafield_core::Container,
    ) -> Result<(), ErrorKind> {
        self.0 += 1;
        Ok(())
    }
    fn close(&mut self) -> Result<(), ErrorKind> {
        self.0 += 1;
        Ok(())
    }
}

#[test]
fn every_models_routines_emit_nothing_from_a_short_value() {
    let (mut failed, mut read) = (0, 0);
    for model in lorafield_codec_milesight::models() {
        for rule in model.table.rules() {
            let (Read::Custom(f) | Read::IntoCustom(_, f)) = rule.read else {
                continue;
            };
            let (Id::Is(channel), Id::Is(ty)) = (rule.channel, rule.ty) else {
                panic!("{}: a routine on a wildcard", model.id);
            };
            // Every data type byte the routines switch on, and bytes of every value.
            let fills = (0..=13u8).chain([0x7f, 0xff]);
            for value in fills.map(|b| vec![b; 16]).chain([(0..16).collect()]) {
                for cut in 0..=value.len() {
                    let mut count = Count::default();
                    match f(&value[..cut], channel, ty, &mut count) {
                        Err(_) => {
                            assert_eq!(count.0, 0, "{} {value:02x?} cut at {cut}", model.id);
                            failed += 1;
                        }
                        Ok(n) => {
                            assert!(n <= cut, "{} read past its value", model.id);
                            read += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(failed > 100 && read > 100, "{failed} {read}");
}

/// Records which of a sink's methods were called, in order.
#[derive(Default)]
struct Calls(Vec<&'static str>);

impl<'a> Sink<'a> for Calls {
    fn field(&mut self, _: lorafield_core::Field<'a>) -> Result<(), ErrorKind> {
        self.0.push("field");
        Ok(())
    }
    fn open(
        &mut self,
        _: &'static str,
        _: Option<u8>,
        _: lorafield_core::Container,
    ) -> Result<(), ErrorKind> {
        self.0.push("open");
        Ok(())
    }
    fn close(&mut self) -> Result<(), ErrorKind> {
        self.0.push("close");
        Ok(())
    }
    fn object(
        &mut self,
        _: &'static str,
        _: Option<u8>,
        _: &[lorafield_core::Field<'a>],
    ) -> Result<(), ErrorKind> {
        self.0.push("object");
        Ok(())
    }
    fn warning(&mut self, _: DecodeError) -> Result<(), ErrorKind> {
        self.0.push("warning");
        Ok(())
    }
    fn dyn_field(&mut self, _: &str, _: DynValue<'_>) -> Result<(), ErrorKind> {
        self.0.push("dyn_field");
        Ok(())
    }
    fn dyn_open(&mut self, _: &str, _: lorafield_core::Container) -> Result<(), ErrorKind> {
        self.0.push("dyn_open");
        Ok(())
    }
    fn note(&mut self, _: Note<'_>) -> Result<(), ErrorKind> {
        self.0.push("note");
        Ok(())
    }
    fn normalized(&mut self, _: &str) -> Result<(), ErrorKind> {
        self.0.push("normalized");
        Ok(())
    }
}

#[test]
fn the_routines_wrapper_forwards_every_sink_method() {
    use lorafield_core::{Container, Field, Value};
    let mut calls = Calls::default();
    let mut sink = engine::SinkRef(&mut calls as &mut dyn Sink<'static>);
    let member = Field::new("a", None, Value::U64(1));
    let note = Note {
        severity: Severity::Warning,
        kind: ErrorKind::CodecError,
        message: "m",
        line: None,
    };
    sink.field(member).unwrap();
    sink.open("o", None, Container::Object).unwrap();
    sink.close().unwrap();
    sink.object("o", None, &[member]).unwrap();
    sink.warning(DecodeError::new(0, ErrorKind::UnexpectedEof))
        .unwrap();
    sink.dyn_field("k", DynValue::Null).unwrap();
    sink.dyn_open("k", Container::Array).unwrap();
    sink.note(note).unwrap();
    sink.normalized("{}").unwrap();
    // Each reached the sink as itself: none fell back to the trait's default.
    assert_eq!(
        calls.0,
        [
            "field",
            "open",
            "close",
            "object",
            "warning",
            "dyn_field",
            "dyn_open",
            "note",
            "normalized"
        ]
    );
}

#[test]
fn routines_push_objects_of_leaf_members_whole() {
    use lorafield_codec_milesight::Milesight;
    use lorafield_core::{Codec, Uplink};
    // VS121: 04 c9, all 3, two regions, bits 0x0001: `regions` holds two objects.
    let mut calls = Calls::default();
    let vs121 = Milesight::for_model("vs121").unwrap();
    vs121
        .decode(Uplink::new(85, &[0x04, 0xc9, 3, 2, 0, 1]), &mut calls)
        .unwrap();
    assert_eq!(
        calls.0,
        ["field", "field", "open", "object", "object", "close"]
    );
    // UC300, ff 19: channel 0, a u8 reading (package 1): one `modbus_channels` element.
    let mut calls = Calls::default();
    let uc300 = Milesight::for_model("uc300").unwrap();
    uc300
        .decode(Uplink::new(85, &[0xff, 0x19, 0, 1, 42]), &mut calls)
        .unwrap();
    assert_eq!(calls.0, ["open", "object", "close"]);
}
