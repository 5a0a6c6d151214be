//! AM100 and AM300 ambience monitoring sensors.

use super::common::{
    ACTIVITY, BATTERY, CO2, HUMIDITY, ILLUMINATION, NO_ELSE, PRESSURE, TEMPERATURE, TVOC,
};
use crate::Model;

/// The models of this family.
pub(crate) static MODELS: &[&Model] = &[
    &AM103, &AM103L, &AM104, &AM107, &AM307, &AM307L, &AM308, &AM308L, &AM319, &AM319L,
];
use crate::engine::Int::{I16, U8, U16, U32};
use crate::engine::{Div, Gather, Item, KeyChannel, ONE, Read, Rule, Shape, Table, rule};

const TRIGGER_IDLE: &[(i64, &str)] = &[(1, "trigger")];
const YES_NO: &[(i64, &str)] = &[(1, "yes")];

/// AM103, AM103L and AM107 (the same decoder): the AM104's values plus CO2, TVOC, pressure.
const AM103_RULES: &[Rule] = &[
    BATTERY,
    TEMPERATURE,
    HUMIDITY,
    ACTIVITY,
    ILLUMINATION,
    CO2,
    TVOC,
    PRESSURE,
];

/// AM103.
pub(crate) static AM103: Model = Model {
    id: "am103",
    aliases: &[],
    table: Table::new(AM103_RULES),
};

/// AM103L.
pub(crate) static AM103L: Model = Model {
    id: "am103l",
    aliases: &[],
    table: Table::new(AM103_RULES),
};

/// AM104.
pub(crate) static AM104: Model = Model {
    id: "am104",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        HUMIDITY,
        ACTIVITY,
        ILLUMINATION,
        NO_ELSE,
    ]),
};

/// AM107.
pub(crate) static AM107: Model = Model {
    id: "am107",
    aliases: &[],
    table: Table::new(AM103_RULES),
};

/// The AM307 / AM319 family; `motion` is `pir` on the AM307, `activity` on the AM319, and the
/// AM319 spells PM2.5 `pm2.5`.
macro_rules! am3x9 {
    ($motion:literal, $pm25:literal) => {
        &[
            BATTERY,
            TEMPERATURE,
            HUMIDITY,
            rule(0x05, 0x00, &[Item::Enum($motion, U8, TRIGGER_IDLE, "idle")]),
            rule(0x06, 0xcb, &[Item::Num("light_level", U8, ONE)]),
            CO2,
            TVOC,
            PRESSURE,
            rule(0x0a, 0x7d, &[Item::Num("hcho", U16, Div(100))]),
            rule(0x0b, 0x7d, &[Item::Num($pm25, U16, ONE)]),
            rule(0x0c, 0x7d, &[Item::Num("pm10", U16, ONE)]),
            rule(0x0d, 0x7d, &[Item::Num("o3", U16, Div(100))]),
            rule(0x0e, 0x01, &[Item::Enum("beep", U8, YES_NO, "no")]),
        ]
    };
}

const AM307_RULES: &[Rule] = am3x9!("pir", "pm2_5");
const AM319_RULES: &[Rule] = am3x9!("activity", "pm2.5");

/// AM307 (its decoder is the AM307L's).
pub(crate) static AM307: Model = Model {
    id: "am307",
    aliases: &[],
    table: Table::new(AM307_RULES),
};

/// AM307L.
pub(crate) static AM307L: Model = Model {
    id: "am307l",
    aliases: &[],
    table: Table::new(AM307_RULES),
};

/// AM319.
pub(crate) static AM319: Model = Model {
    id: "am319",
    aliases: &[],
    table: Table::new(AM319_RULES),
};

/// AM319L.
pub(crate) static AM319L: Model = Model {
    id: "am319l",
    aliases: &[],
    table: Table::new(AM319_RULES),
};

/// The AM308's history record (`20 ce`): the decoder has four tests for the pair, of 16, 20,
/// 22 and 22 bytes; only the first can match.
const AM308_HISTORY: &[Item] = &[
    Item::Num("timestamp", U32, ONE),
    Item::Num("temperature", I16, Div(10)),
    Item::Num("humidity", U16, Div(2)),
    Item::Enum("pir", U8, TRIGGER_IDLE, "idle"),
    Item::Num("light_level", U8, ONE),
    Item::Num("co2", U16, ONE),
    Item::Num("tvoc", U16, Div(100)),
    Item::Num("pressure", U16, Div(10)),
];

const HISTORY: Gather = Gather {
    name: "history",
    channel: KeyChannel::None,
    shape: Shape::Array,
};

/// AM308 and AM308L (the same decoder).
const AM308_RULES: &[Rule] = &[
    BATTERY,
    TEMPERATURE,
    HUMIDITY,
    rule(0x05, 0x00, &[Item::Enum("pir", U8, TRIGGER_IDLE, "idle")]),
    rule(0x06, 0xcb, &[Item::Num("light_level", U8, ONE)]),
    CO2,
    rule(0x08, 0x7d, &[Item::Num("tvoc", U16, Div(100))]),
    rule(0x08, 0xe6, &[Item::Num("tvoc", U16, ONE)]),
    PRESSURE,
    rule(0x0a, 0x7d, &[Item::Num("hcho", U16, Div(100))]),
    rule(0x0b, 0x7d, &[Item::Num("pm2_5", U16, ONE)]),
    rule(0x0c, 0x7d, &[Item::Num("pm10", U16, ONE)]),
    rule(0x0d, 0x7d, &[Item::Num("o3", U16, Div(100))]),
    rule(0x0e, 0x01, &[Item::Enum("beep", U8, YES_NO, "no")]),
    Rule {
        channel: crate::engine::Id::Is(0x20),
        ty: crate::engine::Id::Is(0xce),
        read: Read::Into(HISTORY, AM308_HISTORY),
    },
];

/// AM308.
pub(crate) static AM308: Model = Model {
    id: "am308",
    aliases: &[],
    table: Table::new(AM308_RULES),
};

/// AM308L.
pub(crate) static AM308L: Model = Model {
    id: "am308l",
    aliases: &[],
    table: Table::new(AM308_RULES),
};
