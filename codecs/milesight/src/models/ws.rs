//! WS buttons, switches, sockets, sound level and door/window sensors.
//!
//! Models of this family: ws101, ws136, ws156, ws201, ws202, ws203, ws301, ws302, ws303, ws50x,
//! ws52x, ws558.

use super::common::{BATTERY, HUMIDITY, TEMPERATURE};
use crate::Model;
use crate::engine::Int::{I16, U8, U16, U32, U32Js};
use crate::engine::{
    Bit, BitOut, Div, Gather, Id, Item, KeyChannel, ONE, Read, Rule, Shape, Table, field, parse,
    rule, u8,
};
use lorafield_core::{ErrorKind, Field, Sink, Value};
use nom::combinator::opt;

/// The models of this family.
pub(crate) static MODELS: &[&Model] = &[
    &WS101, &WS136, &WS156, &WS201, &WS202, &WS203, &WS301, &WS302, &WS303, &WS50X, &WS52X, &WS558,
];

/// A rule reading its value with a routine.
const fn custom(c: u8, t: u8, f: crate::engine::Custom) -> Rule {
    Rule {
        channel: Id::Is(c),
        ty: Id::Is(t),
        read: Read::Custom(f),
    }
}

/// One byte named by `labels`; where the decoder's `switch` has no case for it, the byte is
/// read past and nothing is written (the decoder sets no key).
fn label_or_nothing<'a>(
    value: &[u8],
    sink: &mut dyn Sink<'a>,
    name: &'static str,
    labels: &[(u8, &'static str)],
) -> Result<usize, ErrorKind> {
    let (b, n) = parse(value, u8)?;
    if let Some((_, label)) = labels.iter().find(|(k, _)| *k == b) {
        sink.field(Field::new(name, None, Value::Str(label)))?;
    }
    Ok(n)
}

/// One bit of a byte, printed as `out` says.
const fn flag(name: &'static str, shift: u8, out: BitOut) -> Bit {
    Bit {
        name,
        shift,
        mask: 1,
        out,
    }
}

/// WS101 `ff 2e`: the press, 1 short, 2 long, 3 double; another byte sets no key.
fn ws101_button<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    const PRESSES: &[(u8, &str)] = &[(1, "short"), (2, "long"), (3, "double")];
    label_or_nothing(value, sink, "button", PRESSES)
}

/// WS101 smart button.
pub(crate) static WS101: Model = Model {
    id: "ws101",
    aliases: &[],
    table: Table::new(&[BATTERY, custom(0xff, 0x2e, ws101_button)]),
};

/// WS136 / WS156 `ff 34`: the button's number, then two bytes of a command the decoder never
/// uses: it advances past them without reading them, so a frame that ends before them (the
/// device repository's own example, `ff 34 01`) still decodes, and decoding ends there.
fn ws136_button<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    let ((button, _command), n) = parse(
        value,
        (field(Item::Num("button", U8, ONE)), (opt(u8), opt(u8))),
    )?;
    sink.field(button)?;
    Ok(n)
}

/// WS136 and WS156 (the same decoder).
const WS136_RULES: &[Rule] = &[BATTERY, custom(0xff, 0x34, ws136_button)];

/// WS136 smart scene panel.
pub(crate) static WS136: Model = Model {
    id: "ws136",
    aliases: &[],
    table: Table::new(WS136_RULES),
};

/// WS156 smart scene panel.
pub(crate) static WS156: Model = Model {
    id: "ws156",
    aliases: &[],
    table: Table::new(WS136_RULES),
};

/// WS201 fill level monitor: distance in mm, remaining amount in %.
pub(crate) static WS201: Model = Model {
    id: "ws201",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x03, 0x82, &[Item::Num("distance", U16, ONE)]),
        rule(0x04, 0xd6, &[Item::Num("remaining", U8, ONE)]),
    ]),
};

/// WS202 PIR and light sensor.
pub(crate) static WS202: Model = Model {
    id: "ws202",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(
            0x03,
            0x00,
            &[Item::Enum("pir", U8, &[(0, "normal")], "trigger")],
        ),
        rule(
            0x04,
            0x00,
            &[Item::Enum("light", U8, &[(0, "dark")], "light")],
        ),
    ]),
};

const OCCUPANCY: Item = Item::Enum("occupancy", U8, &[(0, "vacant")], "occupied");

/// The report types of a WS203 history record, by its low three bits.
const WS203_REPORT_TYPES: &[&str] = &[
    "temperature resume",
    "temperature threshold",
    "pir idle",
    "pir occupancy",
    "period",
];

/// WS203 `20 ce`, a history record of 9 bytes: timestamp, report type, occupancy, temperature,
/// humidity. The report type indexes a list of five names with its low three bits; for 5 to 7
/// the decoder's lookup is `undefined` and the record has no `report_type`.
fn ws203_history<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    let ((timestamp, report, occupancy, temperature, humidity), n) = parse(
        value,
        (
            field(Item::Num("timestamp", U32, ONE)),
            u8,
            field(OCCUPANCY),
            field(Item::Num("temperature", I16, Div(10))),
            field(Item::Num("humidity", U8, Div(2))),
        ),
    )?;
    sink.field(timestamp)?;
    if let Some(name) = WS203_REPORT_TYPES.get(usize::from(report & 0x07)) {
        sink.field(Field::new("report_type", None, Value::Str(name)))?;
    }
    sink.field(occupancy)?;
    sink.field(temperature)?;
    sink.field(humidity)?;
    Ok(n)
}

const HISTORY: Gather = Gather {
    name: "history",
    channel: KeyChannel::None,
    shape: Shape::Array,
};

/// WS203 motion, temperature and humidity sensor; `83 67` is the temperature with an abnormal
/// flag (it writes `temperature` as `03 67` does: the later pair wins), `20 ce` history records
/// gather into one `history` array.
pub(crate) static WS203: Model = Model {
    id: "ws203",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        HUMIDITY,
        rule(0x05, 0x00, &[OCCUPANCY]),
        rule(
            0x83,
            0x67,
            &[
                Item::Num("temperature", I16, Div(10)),
                Item::Enum("temperature_abnormal", U8, &[(0, "normal")], "abnormal"),
            ],
        ),
        Rule {
            channel: Id::Is(0x20),
            ty: Id::Is(0xce),
            read: Read::IntoCustom(HISTORY, ws203_history),
        },
    ]),
};

/// WS301 magnetic contact switch. `install` is "yes" for 0 and "no" otherwise, as the decoder
/// has it.
pub(crate) static WS301: Model = Model {
    id: "ws301",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(
            0x03,
            0x00,
            &[Item::Enum("door", U8, &[(0, "close")], "open")],
        ),
        rule(
            0x04,
            0x00,
            &[Item::Enum("install", U8, &[(0, "yes")], "no")],
        ),
    ]),
};

/// WS302 `ff 0f`: the LoRaWAN class, 0 to 2; another byte sets no key.
fn ws302_class<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    const CLASSES: &[(u8, &str)] = &[(0, "class-a"), (1, "class-b"), (2, "class-c")];
    label_or_nothing(value, sink, "class_type", CLASSES)
}

/// WS302 sound level sensor. `05 5b` is a weighting byte and three levels in dB / 10. The
/// frequency weighting is the byte's low two bits (3 prints as ""). The decoder computes the
/// time weighting from `bytes[0] >> 2` of the byte (a number, so `undefined`, which shifts to
/// 0): it is always "impulse".
pub(crate) static WS302: Model = Model {
    id: "ws302",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(
            0x05,
            0x5b,
            &[
                Item::Bits(
                    U8,
                    &[Bit {
                        name: "freq_weight",
                        shift: 0,
                        mask: 0x03,
                        out: BitOut::Enum(&[(0, "Z"), (1, "A"), (2, "C")], ""),
                    }],
                ),
                Item::Const("time_weight", Value::Str("impulse")),
                Item::Num("la", U16, Div(10)),
                Item::Num("laeq", U16, Div(10)),
                Item::Num("lamax", U16, Div(10)),
            ],
        ),
        custom(0xff, 0x0f, ws302_class),
    ]),
};

/// WS303 mini leak detection sensor.
pub(crate) static WS303: Model = Model {
    id: "ws303",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(
            0x03,
            0x00,
            &[Item::Enum("leak_status", U8, &[(0, "no leak")], "leak")],
        ),
    ]),
};

const OPEN_CLOSE: BitOut = BitOut::Enum(&[(1, "open")], "close");
const YES_NO: BitOut = BitOut::Enum(&[(1, "yes")], "no");

/// WS50x wall switch: `ff 29` holds the three switches' states in bits 0 to 2 and whether each
/// changed in bits 4 to 6.
pub(crate) static WS50X: Model = Model {
    id: "ws50x",
    aliases: &[],
    table: Table::new(&[rule(
        0xff,
        0x29,
        &[Item::Bits(
            U8,
            &[
                flag("switch_1", 0, OPEN_CLOSE),
                flag("switch_1_change", 4, YES_NO),
                flag("switch_2", 1, OPEN_CLOSE),
                flag("switch_2_change", 5, YES_NO),
                flag("switch_3", 2, OPEN_CLOSE),
                flag("switch_3_change", 6, YES_NO),
            ],
        )],
    )]),
};

/// `03 74`: voltage, uint16 / 10, V.
const VOLTAGE: Rule = rule(0x03, 0x74, &[Item::Num("voltage", U16, Div(10))]);

/// WS52x portable socket. The decoder's `readUInt32LE` has no `>>> 0`: `energy` from 2^31 is
/// negative.
pub(crate) static WS52X: Model = Model {
    id: "ws52x",
    aliases: &[],
    table: Table::new(&[
        VOLTAGE,
        rule(0x05, 0x81, &[Item::Num("power", U8, ONE)]),
        rule(0x06, 0x83, &[Item::Num("energy", U32Js, ONE)]),
        rule(0x07, 0xc9, &[Item::Num("current", U16, ONE)]),
        rule(
            0x08,
            0x70,
            &[Item::Enum("button", U8, &[(1, "open")], "close")],
        ),
    ]),
};

const ON_OFF: BitOut = BitOut::Enum(&[(1, "on")], "off");

/// WS558 light controller. `08 31` reads past one byte and gives the eight switches from the
/// bits of the second (the decoder's `x >> n & 1 === 1` is `x >> n & true`, the same bit).
/// `readUInt32LE` has no `>>> 0`: values from 2^31 are negative.
pub(crate) static WS558: Model = Model {
    id: "ws558",
    aliases: &[],
    table: Table::new(&[
        VOLTAGE,
        rule(0x04, 0x80, &[Item::Num("active_power", U32Js, ONE)]),
        rule(0x05, 0x81, &[Item::Num("power_factor", U8, ONE)]),
        rule(0x06, 0x83, &[Item::Num("power_consumption", U32Js, ONE)]),
        rule(0x07, 0xc9, &[Item::Num("total_current", U16, ONE)]),
        rule(
            0x08,
            0x31,
            &[
                Item::Skip(1),
                Item::Bits(
                    U8,
                    &[
                        flag("switch_1", 0, ON_OFF),
                        flag("switch_2", 1, ON_OFF),
                        flag("switch_3", 2, ON_OFF),
                        flag("switch_4", 3, ON_OFF),
                        flag("switch_5", 4, ON_OFF),
                        flag("switch_6", 5, ON_OFF),
                        flag("switch_7", 6, ON_OFF),
                        flag("switch_8", 7, ON_OFF),
                    ],
                ),
            ],
        ),
    ]),
};

#[cfg(test)]
mod tests {
    extern crate alloc;
    use crate::Milesight;
    use lorafield_core::{FieldBuf, Uplink};

    fn json(model: &str, payload: &[u8]) -> alloc::string::String {
        let codec = Milesight::for_model(model).unwrap();
        let mut buf = FieldBuf::<64>::new();
        let mut out = alloc::vec::Vec::new();
        buf.decode(&codec, Uplink::new(85, payload))
            .write_json(&mut out);
        alloc::string::String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_label_the_decoder_lacks_sets_no_key() {
        // ff 2e 04: no such press; 01 75 19: battery.
        assert_eq!(
            json("ws101", &[0xff, 0x2e, 0x04, 0x01, 0x75, 0x19]),
            r#"{"data":{"battery":25}}"#
        );
        // ff 0f 03: no such class.
        assert_eq!(json("ws302", &[0xff, 0x0f, 0x03]), r#"{"data":{}}"#);
    }

    #[rustfmt::skip]
    #[test]
    fn ws203_history_without_a_report_name() {
        let payload = [
            0x20, 0xce,
            0x10, 0xce, 0x3e, 0x65, // timestamp 1698614800
            0x0d,                   // report type 5: no name
            0x01,                   // occupied
            0x0f, 0x01,             // 27.1
            0x64,                   // 50 %
        ];
        assert_eq!(
            json("ws203", &payload),
            r#"{"data":{"history":[{"humidity":50,"occupancy":"occupied","temperature":27.1,"timestamp":1698614800}]}}"#
        );
    }

    #[test]
    fn ws136_command_bytes_past_the_end_are_not_an_error() {
        assert_eq!(
            json("ws136", &[0xff, 0x34, 0x01]),
            r#"{"data":{"button":1}}"#
        );
        assert_eq!(
            json("ws136", &[0xff, 0x34, 0x01, 0xaa]),
            r#"{"data":{"button":1}}"#
        );
    }
}
