//! EM400 series: ultrasonic distance and level sensors (EM400-MUD, EM400-TLD, EM400-UDL).
//!
//! Models of this family: em400-mud, em400-tld, em400-udl.

use super::common::{BATTERY, TEMPERATURE};
use crate::Model;
use crate::engine::Int::{I16, U8, U16};
use crate::engine::{Div, Item, ONE, Rule, Table, rule};

/// The models of this family.
pub(crate) static MODELS: &[&Model] = &[&EM400_MUD, &EM400_TLD, &EM400_UDL];

/// The EM400 decoder (the three models' decoders are the same): battery, temperature, distance
/// (mm), position; and the alarm forms of temperature and distance, which print the same key as
/// the plain pair (a later pair's value replaces an earlier one's) plus a flag.
const EM400_RULES: &[Rule] = &[
    BATTERY,
    TEMPERATURE,
    rule(0x04, 0x82, &[Item::Num("distance", U16, ONE)]),
    rule(
        0x05,
        0x00,
        &[Item::Enum("position", U8, &[(0, "normal")], "tilt")],
    ),
    rule(
        0x83,
        0x67,
        &[
            Item::Num("temperature", I16, Div(10)),
            Item::Bool("temperature_abnormal", U8),
        ],
    ),
    rule(
        0x84,
        0x82,
        &[
            Item::Num("distance", U16, ONE),
            Item::Bool("distance_alarming", U8),
        ],
    ),
];

/// EM400-MUD.
pub(crate) static EM400_MUD: Model = Model {
    id: "em400-mud",
    aliases: &[],
    table: Table::new(EM400_RULES),
};

/// EM400-TLD.
pub(crate) static EM400_TLD: Model = Model {
    id: "em400-tld",
    aliases: &[],
    table: Table::new(EM400_RULES),
};

/// EM400-UDL (its codec uses the EM400-TLD's decoder file).
pub(crate) static EM400_UDL: Model = Model {
    id: "em400-udl",
    aliases: &[],
    table: Table::new(EM400_RULES),
};
