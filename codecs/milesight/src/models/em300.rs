//! EM300 series: temperature/humidity, leakage, magnetic contact, pulse and multi-channel sensors.
//!
//! Models of this family: em300-di, em300-mcs, em300-mld, em300-sld, em300-th, em300-zld.

use super::common::{BATTERY, HUMIDITY, TEMPERATURE};
use crate::Model;
use crate::engine::Int::{I16, U8, U32};
use crate::engine::{
    Div, Gather, Id, Item, KeyChannel, ONE, Read, Rule, Shape, Table, field, parse, rule, take, u8,
};
use lorafield_core::{ErrorKind, Sink};
use nom::combinator::opt;

/// The models of this family.
pub(crate) static MODELS: &[&Model] = &[
    &EM300_DI, &EM300_MCS, &EM300_MLD, &EM300_SLD, &EM300_TH, &EM300_ZLD,
];

/// `b === 0 ? "normal" : "leak"`.
const NORMAL_LEAK: &[(i64, &str)] = &[(0, "normal")];

/// The `history` array the `20 ce` records are gathered into.
const HISTORY: Gather = Gather {
    name: "history",
    channel: KeyChannel::None,
    shape: Shape::Array,
};

/// EM300-TH: battery, temperature, humidity.
pub(crate) static EM300_TH: Model = Model {
    id: "em300-th",
    aliases: &[],
    table: Table::new(&[BATTERY, TEMPERATURE, HUMIDITY]),
};

/// EM300-MCS: the EM300-TH's values plus the magnetic contact (`06 00`), printed as the raw
/// byte.
pub(crate) static EM300_MCS: Model = Model {
    id: "em300-mcs",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        HUMIDITY,
        rule(0x06, 0x00, &[Item::Num("magnet", U8, ONE)]),
    ]),
};

/// EM300-SLD and EM300-ZLD (the same decoder): the EM300-TH's values plus a water leak
/// (`05 00`, `water`).
const SLD_RULES: &[Rule] = &[
    BATTERY,
    TEMPERATURE,
    HUMIDITY,
    rule(0x05, 0x00, &[Item::Enum("water", U8, NORMAL_LEAK, "leak")]),
];

/// EM300-SLD. The device repository's `em300-zld` device uses this decoder too, but that name
/// is the EM300-ZLD model's id (same decoder), so it is no alias here.
pub(crate) static EM300_SLD: Model = Model {
    id: "em300-sld",
    aliases: &[],
    table: Table::new(SLD_RULES),
};

/// EM300-ZLD: the EM300-SLD's decoder.
pub(crate) static EM300_ZLD: Model = Model {
    id: "em300-zld",
    aliases: &[],
    table: Table::new(SLD_RULES),
};

/// EM300-MLD: battery, leakage status, and a history of leakage states.
pub(crate) static EM300_MLD: Model = Model {
    id: "em300-mld",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(
            0x05,
            0x00,
            &[Item::Enum("leakage_status", U8, NORMAL_LEAK, "leak")],
        ),
        // An 8-byte record of which the decoder reads the timestamp and the last byte: the
        // three bytes between (temperature and humidity slots) are not printed.
        Rule {
            channel: Id::Is(0x20),
            ty: Id::Is(0xce),
            read: Read::Into(
                HISTORY,
                &[
                    Item::Num("timestamp", U32, ONE),
                    Item::Skip(3),
                    Item::Enum("leakage_status", U8, NORMAL_LEAK, "leak"),
                ],
            ),
        },
    ]),
};

/// EM300-DI: the EM300-TH's values plus a GPIO level (the raw byte), a pulse counter, and a
/// history of records.
pub(crate) static EM300_DI: Model = Model {
    id: "em300-di",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        HUMIDITY,
        rule(0x05, 0x00, &[Item::Num("gpio", U8, ONE)]),
        rule(0x05, 0xc8, &[Item::Num("pulse", U32, ONE)]),
        Rule {
            channel: Id::Is(0x20),
            ty: Id::Is(0xce),
            read: Read::IntoCustom(HISTORY, di_history),
        },
    ]),
};

/// One EM300-DI history record (`20 ce`), 13 bytes: timestamp u32, temperature i16 / 10,
/// humidity u8 / 2, a mode byte, then `gpio` (u8, at offset 8) when the mode is 1 or `pulse`
/// (u32, at offset 9) when it is 2; nothing more for other modes.
///
/// The decoder stops at a record with fewer than 12 bytes left and advances 13 past the others;
/// a record of exactly 12 bytes at the end of the frame decodes (it takes those 12), except in
/// mode 2, whose pulse needs the 13th byte (the decoder would read it as 0): short here.
fn di_history<'a>(
    value: &'a [u8],
    _channel: u8,
    _ty: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    let ((timestamp, temperature, humidity, mode), n) = parse(
        value,
        (
            field(Item::Num("timestamp", U32, ONE)),
            field(Item::Num("temperature", I16, Div(10))),
            field(Item::Num("humidity", U8, Div(2))),
            u8,
        ),
    )?;
    // The last five bytes: the gpio's one, or the pulse's four after one unread.
    let rest = value.get(n..).unwrap_or_default();
    let ((gpio, pulse), m) = match mode {
        1 => parse(rest, (field(Item::Num("gpio", U8, ONE)), take(3), opt(u8)))
            .map(|((gpio, _, _), m)| ((Some(gpio), None), m)),
        2 => parse(rest, (u8, field(Item::Num("pulse", U32, ONE))))
            .map(|((_, pulse), m)| ((None, Some(pulse)), m)),
        _ => parse(rest, (take(4), opt(u8))).map(|(_, m)| ((None, None), m)),
    }?;
    sink.field(timestamp)?;
    sink.field(temperature)?;
    sink.field(humidity)?;
    for f in [gpio, pulse].into_iter().flatten() {
        sink.field(f)?;
    }
    Ok(n + m)
}

#[cfg(test)]
mod tests {
    use crate::models::tests::json;

    #[rustfmt::skip]
    #[test]
    fn di_history_modes() {
        let payload = [
            0x20, 0xce,                         // history record
            0x00, 0x00, 0x00, 0x80,             // timestamp 2^31 (unsigned)
            0xf6, 0xff,                         // temperature -1.0
            0x64,                               // humidity 50
            0x01, 0x01,                         // mode 1: gpio 1
            0xff, 0xff, 0xff, 0xff,             // (pulse slot, unread)
            0x20, 0xce,                         // history record
            0x01, 0x00, 0x00, 0x00,             // timestamp 1
            0x0a, 0x00,                         // temperature 1.0
            0x01,                               // humidity 0.5
            0x02, 0x00,                         // mode 2 (gpio slot unread)
            0x10, 0x00, 0x00, 0x00,             // pulse 16
        ];
        assert_eq!(
            json("em300-di", &payload),
            r#"{"data":{"history":[{"gpio":1,"humidity":50,"temperature":-1,"timestamp":2147483648},{"humidity":0.5,"pulse":16,"temperature":1,"timestamp":1}]}}"#
        );
    }

    #[rustfmt::skip]
    #[test]
    fn di_history_of_twelve_bytes() {
        // Mode 0 in 12 bytes: decodes; mode 2 in 12 bytes: short.
        let mode0 = [0x20, 0xce, 1, 0, 0, 0, 0, 0, 0, 0x00, 0, 0, 0, 0];
        assert_eq!(
            json("em300-di", &mode0),
            r#"{"data":{"history":[{"humidity":0,"temperature":0,"timestamp":1}]}}"#
        );
        let mode2 = [0x01, 0x75, 0x5c, 0x20, 0xce, 1, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0];
        let out = json("em300-di", &mode2);
        assert!(out.contains(r#""battery":92"#), "{out}");
        assert!(out.contains(r#""errors":[{"kind":"unexpected_eof""#), "{out}");
    }
}
