//! EM500 series: CO2, light, pipe pressure, PT100, soil, submersible level and ultrasonic
//! distance sensors.
//!
//! Models of this family: em500-co2, em500-lgt, em500-pp, em500-pt100, em500-smt, em500-smtc,
//! em500-swl, em500-udl.

use super::common::{BATTERY, HUMIDITY, NO_ELSE, TEMPERATURE};
use crate::Model;
use crate::engine::Int::{I16, U8, U16, U32Js};
use crate::engine::{Div, Item, ONE, Table, rule};

/// The models of this family.
pub(crate) static MODELS: &[&Model] = &[
    &EM500_CO2,
    &EM500_LGT,
    &EM500_PP,
    &EM500_PT100,
    &EM500_SMT,
    &EM500_SMTC,
    &EM500_SWL,
    &EM500_UDL,
];

/// EM500-CO2: battery, temperature, humidity, CO2 and pressure; the decoder reads CO2 (`05 7d`)
/// and pressure (`06 73`, / 10) as signed int16.
pub(crate) static EM500_CO2: Model = Model {
    id: "em500-co2",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        HUMIDITY,
        rule(0x05, 0x7d, &[Item::Num("co2", I16, ONE)]),
        rule(0x06, 0x73, &[Item::Num("pressure", I16, Div(10))]),
    ]),
};

/// EM500-LGT: battery and light (`03 94`), a uint32 read with a JavaScript bit operation, so
/// values from 2^31 come out negative. Its decoder has no `else` branch: at a pair it does not
/// know it skips the two id bytes and reads on; here decoding stops there, as for every model.
pub(crate) static EM500_LGT: Model = Model {
    id: "em500-lgt",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x03, 0x94, &[Item::Num("light", U32Js, ONE)]),
        NO_ELSE,
    ]),
};

/// EM500-PP: battery and pipe pressure (`03 7b`, signed int16, kPa).
pub(crate) static EM500_PP: Model = Model {
    id: "em500-pp",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x03, 0x7b, &[Item::Num("pressure", I16, ONE)]),
    ]),
};

/// EM500-PT100: battery and temperature.
pub(crate) static EM500_PT100: Model = Model {
    id: "em500-pt100",
    aliases: &[],
    table: Table::new(&[BATTERY, TEMPERATURE]),
};

/// Soil moisture (`04 68` and `04 ca`): uint8 / 2, but the decoder advances two bytes past it.
const SOIL_HUMIDITY: &[Item] = &[Item::Num("humidity", U8, Div(2)), Item::Skip(1)];

/// EM500-SMT: battery and soil moisture.
pub(crate) static EM500_SMT: Model = Model {
    id: "em500-smt",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x04, 0x68, SOIL_HUMIDITY),
        rule(0x04, 0xca, SOIL_HUMIDITY),
    ]),
};

/// EM500-SMTC: battery, temperature, soil moisture, conductivity (`05 7f`, uint16).
pub(crate) static EM500_SMTC: Model = Model {
    id: "em500-smtc",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        TEMPERATURE,
        rule(0x04, 0x68, SOIL_HUMIDITY),
        rule(0x04, 0xca, SOIL_HUMIDITY),
        rule(0x05, 0x7f, &[Item::Num("conductivity", U16, ONE)]),
    ]),
};

/// EM500-SWL: battery and water level (`03 77`, uint16, printed as `distance`).
pub(crate) static EM500_SWL: Model = Model {
    id: "em500-swl",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x03, 0x77, &[Item::Num("distance", U16, ONE)]),
    ]),
};

/// EM500-UDL: battery and distance (`03 82`, signed int16 / 1000, m).
pub(crate) static EM500_UDL: Model = Model {
    id: "em500-udl",
    aliases: &[],
    table: Table::new(&[
        BATTERY,
        rule(0x03, 0x82, &[Item::Num("distance", I16, Div(1000))]),
    ]),
};
