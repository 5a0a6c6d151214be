//! WTS weather stations.
//!
//! Models of this family: wts305, wts505, wts506.

use super::common::{BATTERY, HUMIDITY, TEMPERATURE};
use crate::Model;
use crate::engine::Int::{I16, U8, U16};
use crate::engine::{Div, Item, ONE, Rule, Table, rule};

/// The models of this family.
pub(crate) static MODELS: &[&Model] = &[&WTS305, &WTS505, &WTS506];

/// The three stations' decoders are the same: wind direction (int16 / 10, °), pressure
/// (uint16 / 10, hPa), wind speed (uint16 / 10, m/s), and total rainfall (uint16 / 100, mm)
/// with a frame counter that tells a new accumulation phase.
const WTS_RULES: &[Rule] = &[
    BATTERY,
    TEMPERATURE,
    HUMIDITY,
    rule(0x05, 0x84, &[Item::Num("wind_direction", I16, Div(10))]),
    rule(0x06, 0x73, &[Item::Num("pressure", U16, Div(10))]),
    rule(0x07, 0x92, &[Item::Num("wind_speed", U16, Div(10))]),
    rule(
        0x08,
        0x77,
        &[
            Item::Num("rainfall_total", U16, Div(100)),
            Item::Num("rainfall_counter", U8, ONE),
        ],
    ),
];

/// WTS305 weather station.
pub(crate) static WTS305: Model = Model {
    id: "wts305",
    aliases: &[],
    table: Table::new(WTS_RULES),
};

/// WTS505 weather station.
pub(crate) static WTS505: Model = Model {
    id: "wts505",
    aliases: &[],
    table: Table::new(WTS_RULES),
};

/// WTS506 weather station.
pub(crate) static WTS506: Model = Model {
    id: "wts506",
    aliases: &[],
    table: Table::new(WTS_RULES),
};
