//! EM310 and EM320 series: tilt, ultrasonic distance and temperature/humidity sensors.
//!
//! Models of this family: em310-tilt, em310-udl, em320-th, em320-tilt.

use super::common::{BATTERY, HUMIDITY, TEMPERATURE};
use crate::Model;
use crate::engine::Int::{I16, U8, U16, U32};
use crate::engine::{
    Bit, BitOut, Div, Gather, Id, Item, KeyChannel, ONE, Read, Rule, Shape, Table, le_i16, parse,
    rule,
};
use lorafield_core::{ErrorKind, Field, Sink, Value};

/// The models of this family.
pub(crate) static MODELS: &[&Model] = &[&EM310_TILT, &EM310_UDL, &EM320_TH, &EM320_TILT];

/// `bit === 1 ? "trigger" : "normal"`.
const TRIGGER_NORMAL: &[(i64, &str)] = &[(1, "trigger")];

/// EM310-TILT: battery and the angles (`03 cf`): three int16 / 100 then one byte whose bits 0,
/// 1, 2 are the x, y, z threshold flags.
pub(crate) static EM310_TILT: Model = Model {
    id: "em310-tilt",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(
            0x03,
            0xcf,
            &[
                Item::Num("angle_x", I16, Div(100)),
                Item::Num("angle_y", I16, Div(100)),
                Item::Num("angle_z", I16, Div(100)),
                Item::Bits(
                    U8,
                    &[
                        threshold("threshold_x", 0),
                        threshold("threshold_y", 1),
                        threshold("threshold_z", 2),
                    ],
                ),
            ],
        ),
    ]),
};

/// A threshold flag at bit `shift`.
const fn threshold(name: &'static str, shift: u8) -> Bit {
    Bit {
        name,
        shift,
        mask: 1,
        out: BitOut::Enum(TRIGGER_NORMAL, "normal"),
    }
}

/// EM310-UDL: battery, distance (mm), tilt state.
pub(crate) static EM310_UDL: Model = Model {
    id: "em310-udl",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x03, 0x82, &[Item::Num("distance", U16, ONE)]),
        rule(
            0x04,
            0x00,
            &[Item::Enum("tilt", U8, &[(0, "normal")], "tilt")],
        ),
    ]),
};

/// EM320-TH: battery, temperature, humidity, and a history of 7-byte records.
pub(crate) static EM320_TH: Model = Model {
    id: "em320-th",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        HUMIDITY,
        Rule {
            channel: Id::Is(0x20),
            ty: Id::Is(0xce),
            read: Read::Into(
                Gather {
                    name: "history",
                    channel: KeyChannel::None,
                    shape: Shape::Array,
                },
                &[
                    Item::Num("timestamp", U32, ONE),
                    Item::Num("temperature", I16, Div(10)),
                    Item::Num("humidity", U8, Div(2)),
                ],
            ),
        },
    ]),
};

/// EM320-TILT: battery and the angles (`03 d4`), see [`em320_angles`].
pub(crate) static EM320_TILT: Model = Model {
    id: "em320-tilt",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        Rule {
            channel: Id::Is(0x03),
            ty: Id::Is(0xd4),
            read: Read::Custom(em320_angles),
        },
    ]),
};

/// The EM320-TILT's angles: three int16 LE whose low bit is the axis' threshold flag
/// (`trigger` / `normal`) and whose other bits, shifted right arithmetically (the sign kept),
/// are the angle in hundredths of a degree. Six bytes.
fn em320_angles<'a>(
    value: &'a [u8],
    _channel: u8,
    _ty: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    const AXES: [(&str, &str); 3] = [
        ("angle_x", "threshold_x"),
        ("angle_y", "threshold_y"),
        ("angle_z", "threshold_z"),
    ];
    let ((x, y, z), n) = parse(value, (le_i16, le_i16, le_i16))?;
    for (raw, (angle, flag)) in [x, y, z].into_iter().zip(AXES) {
        let digits = i64::from(raw >> 1);
        sink.field(Field::new(angle, None, Value::Decimal { digits, scale: 2 }))?;
        let label = if raw & 1 == 1 { "trigger" } else { "normal" };
        sink.field(Field::new(flag, None, Value::Str(label)))?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use crate::models::tests::json;

    #[rustfmt::skip]
    #[test]
    fn em320_angles_keep_their_sign() {
        let payload = [
            0x03, 0xd4,
            0xcf, 0xc7, // -14385: angle -71.93 (arithmetic shift), flag set
            0x01, 0x00, // 1: angle 0, flag set
            0xfe, 0xff, // -2: angle -0.01, flag clear
        ];
        assert_eq!(
            json("em320-tilt", &payload),
            r#"{"data":{"angle_x":-71.93,"angle_y":0,"angle_z":-0.01,"threshold_x":"trigger","threshold_y":"trigger","threshold_z":"normal"}}"#
        );
    }

    #[test]
    fn em320_angles_short() {
        let out = json("em320-tilt", &[0x01, 0x75, 0x5c, 0x03, 0xd4, 0, 0, 0, 0, 0]);
        assert!(
            out.starts_with(r#"{"data":{"battery":92},"errors":"#),
            "{out}"
        );
    }
}
