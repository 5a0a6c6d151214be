//! GS101 and GS301 gas detectors, TS101 temperature sensor.
//!
//! Models of this family: gs101, gs301, ts101.

use lorafield_core::{ErrorKind, Field, Sink, Value};

use super::common::{BATTERY, TEMPERATURE};
use crate::Model;
use crate::engine::Int::{I16, U8, U16, U32};
use crate::engine::{
    Custom, Div, Gather, Id, Item, KeyChannel, ONE, Read, Rule, Shape, Table, parse, rule, u8,
};

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[&GS101, &GS301, &TS101];

/// A rule for any pair a routine reads.
const fn custom(channel: u8, ty: u8, f: Custom) -> Rule {
    Rule {
        channel: Id::Is(channel),
        ty: Id::Is(ty),
        read: Read::Custom(f),
    }
}

/// The GS101's alarm byte (`ff 3f`): these six values have labels.
const GS101_ALARMS: [&str; 6] = [
    "power down",
    "power on",
    "sensor failure",
    "sensor recover",
    "sensor about to fail",
    "sensor failed",
];

/// `ff 3f`: the alarm. The decoder advances past the byte only for the six values it knows;
/// for any other value it sets nothing and does not advance, so that byte is read again as the
/// next pair's channel id: the routine takes no byte then.
fn gs101_alarm<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    let (b, n) = parse(value, u8)?;
    match GS101_ALARMS.get(usize::from(b)) {
        Some(&label) => {
            sink.field(Field::new("alarm", None, Value::Str(label)))?;
            Ok(n)
        }
        None => Ok(0),
    }
}

/// GS101 gas detector: gas state, valve and relay, the sensor's remaining life (a string of
/// seconds, `"3600s"`), alarms.
pub(crate) static GS101: Model = Model {
    id: "gs101",
    aliases: &[],
    table: Table::new(&[
        rule(
            0x05,
            0x8e,
            &[Item::Enum("state", U8, &[(0, "normal")], "abnormal")],
        ),
        rule(
            0x06,
            0x01,
            &[Item::Enum("valve", U8, &[(0, "close")], "open")],
        ),
        rule(
            0x07,
            0x01,
            &[Item::Enum("relay", U8, &[(0, "close")], "open")],
        ),
        rule(0x08, 0x90, &[Item::Suffixed("life_remain", U32, "s")]),
        custom(0xff, 0x3f, gs101_alarm),
    ]),
};

/// GS301 bathroom odor detector: battery, temperature on channel 2, humidity on channel 3,
/// NH3 and H2S (uint16 / 100, ppm).
pub(crate) static GS301: Model = Model {
    id: "gs301",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x02, 0x67, &[Item::Num("temperature", I16, Div(10))]),
        rule(0x03, 0x68, &[Item::Num("humidity", U8, Div(2))]),
        rule(0x04, 0x7d, &[Item::Num("nh3", U16, Div(100))]),
        rule(0x05, 0x7d, &[Item::Num("h2s", U16, Div(100))]),
    ]),
};

/// The TS101's alert byte; the decoder spells the default `"unkown"`.
const TS101_ALERT: Item = Item::Enum(
    "temperature_alert",
    U8,
    &[(0, "normal"), (1, "threshold"), (2, "mutation")],
    "unkown",
);

const HISTORY: Gather = Gather {
    name: "history",
    channel: KeyChannel::None,
    shape: Shape::Array,
};

/// TS101 insertion temperature sensor: battery, temperature, threshold and mutation alerts
/// (the mutation alert adds the change, int16 / 100), and a `history` array of records.
pub(crate) static TS101: Model = Model {
    id: "ts101",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        rule(
            0x83,
            0x67,
            &[Item::Num("temperature", I16, Div(10)), TS101_ALERT],
        ),
        rule(
            0x93,
            0xd7,
            &[
                Item::Num("temperature", I16, Div(10)),
                Item::Num("temperature_change", I16, Div(100)),
                TS101_ALERT,
            ],
        ),
        Rule {
            channel: Id::Is(0x20),
            ty: Id::Is(0xce),
            read: Read::Into(
                HISTORY,
                &[
                    Item::Num("timestamp", U32, ONE),
                    Item::Num("temperature", I16, Div(10)),
                ],
            ),
        },
    ]),
};
