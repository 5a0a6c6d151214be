//! VS occupancy and people counting sensors.
//!
//! Models of this family: vs121, vs133, vs330, vs340, vs341.

use lorafield_core::{Container, ErrorKind, Field, Sink, Value};

use super::common::BATTERY;
use crate::Model;
use crate::engine::Int::{U8, U16, U32};
use crate::engine::{
    Gather, Id, Item, KeyChannel, ONE, Read, Rule, Shape, Table, be_u16, parse, rule, u8,
};

/// The models of this family that have tables.
pub(crate) static MODELS: &[&Model] = &[&VS121, &VS133, &VS330, &VS340, &VS341];

/// `04 c9`: the people counter: the total (u8), the number of regions (u8), a big-endian u16,
/// and a `regions` array the pair builds afresh (a later pair replaces it). The decoder sets
/// each region's `count` to `(u16 > index) & 1`: a comparison with the region's index, not a
/// test of its bit; this routine does the same.
fn people_counter<'a>(
    value: &'a [u8],
    _: u8,
    _: u8,
    sink: &mut dyn Sink<'a>,
) -> Result<usize, ErrorKind> {
    let ((all, regions, bits), n) = parse(value, (u8, u8, be_u16))?;
    sink.field(Field::new(
        "people_counter_all",
        None,
        Value::U64(all.into()),
    ))?;
    sink.field(Field::new("region_count", None, Value::U64(regions.into())))?;
    sink.open("regions", None, Container::Array)?;
    for index in 0..regions {
        let count = u64::from(bits > u16::from(index));
        // Members in key order: the sink's fast case.
        let members = [
            Field::new("count", None, Value::U64(count)),
            Field::new("index", None, Value::U64(index.into())),
        ];
        sink.object("", None, &members)?;
    }
    sink.close()?;
    Ok(n)
}

/// VS121 AI workplace occupancy sensor: the people counter only.
pub(crate) static VS121: Model = Model {
    id: "vs121",
    aliases: &[],
    table: Table::new(&[Rule {
        channel: Id::Is(0x04),
        ty: Id::Is(0xc9),
        read: Read::Custom(people_counter),
    }]),
};

/// The VS133's `line_<n>` objects: three pairs per line (channel ids `3n`, `3n + 1`,
/// `3n + 2` for line `n`) each add members to the same object.
const fn line(base: u8) -> Gather {
    Gather {
        name: "line",
        channel: KeyChannel::FromId {
            base,
            step: 3,
            first: 1,
        },
        shape: Shape::Object,
    }
}

/// VS133 people counter: per line (1 to 4), the total counts in and out (u32) and the counts
/// of the last period (two u16), gathered into `line_1` .. `line_4`.
pub(crate) static VS133: Model = Model {
    id: "vs133",
    aliases: &[],
    table: Table::new(&[
        Rule {
            channel: Id::In(&[0x03, 0x06, 0x09, 0x0c]),
            ty: Id::Is(0xd2),
            read: Read::Into(line(0x03), &[Item::Num("total_in", U32, ONE)]),
        },
        Rule {
            channel: Id::In(&[0x04, 0x07, 0x0a, 0x0d]),
            ty: Id::Is(0xd2),
            read: Read::Into(line(0x04), &[Item::Num("total_out", U32, ONE)]),
        },
        Rule {
            channel: Id::In(&[0x05, 0x08, 0x0b, 0x0e]),
            ty: Id::Is(0xcc),
            read: Read::Into(
                line(0x05),
                &[
                    Item::Num("period_in", U16, ONE),
                    Item::Num("period_out", U16, ONE),
                ],
            ),
        },
    ]),
};

/// VS330 bathroom occupancy sensor: battery, distance (mm), occupancy, calibration result.
pub(crate) static VS330: Model = Model {
    id: "vs330",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x02, 0x82, &[Item::Num("distance", U16, ONE)]),
        rule(0x03, 0x8e, &[OCCUPANCY]),
        rule(
            0x04,
            0x8e,
            &[Item::Enum("calibration", U8, &[(0, "failed")], "success")],
        ),
    ]),
};

/// Occupancy: 0 is vacant, anything else occupied.
const OCCUPANCY: Item = Item::Enum("occupancy", U8, &[(0, "vacant")], "occupied");

/// The VS340 / VS341 decoder (the two files are the same).
const VS34X_RULES: &[Rule] = &[BATTERY, rule(0x03, 0x00, &[OCCUPANCY])];

/// VS340 desk and seat occupancy sensor: battery and occupancy. The device repository's VS341
/// device uses this codec too (as an id, `vs341` names the VS341's own, identical, decoder).
pub(crate) static VS340: Model = Model {
    id: "vs340",
    aliases: &["vs341"],
    table: Table::new(VS34X_RULES),
};

/// VS341 desk and seat occupancy sensor: its decoder is the VS340's.
pub(crate) static VS341: Model = Model {
    id: "vs341",
    aliases: &[],
    table: Table::new(VS34X_RULES),
};
