//! Rules many models share, under the names their decoders give them.

use crate::engine::Int::{I16, U8, U16};
use crate::engine::{Div, Id, Item, ONE, Read, Rule, rule};

/// `01 75`: battery level, %.
pub(crate) const BATTERY: Rule = rule(0x01, 0x75, &[Item::Num("battery", U8, ONE)]);
/// `03 67`: temperature, int16 / 10, °C.
pub(crate) const TEMPERATURE: Rule = rule(0x03, 0x67, &[Item::Num("temperature", I16, Div(10))]);
/// `04 68`: relative humidity, uint8 / 2, %.
pub(crate) const HUMIDITY: Rule = rule(0x04, 0x68, &[Item::Num("humidity", U8, Div(2))]);
/// `05 6a`: activity level.
pub(crate) const ACTIVITY: Rule = rule(0x05, 0x6a, &[Item::Num("activity", U16, ONE)]);
/// `06 65`: illumination, infrared and visible, infrared.
pub(crate) const ILLUMINATION: Rule = rule(
    0x06,
    0x65,
    &[
        Item::Num("illumination", U16, ONE),
        Item::Num("infrared_and_visible", U16, ONE),
        Item::Num("infrared", U16, ONE),
    ],
);
/// `07 7d`: CO2, ppm.
pub(crate) const CO2: Rule = rule(0x07, 0x7d, &[Item::Num("co2", U16, ONE)]);
/// `08 7d`: TVOC.
pub(crate) const TVOC: Rule = rule(0x08, 0x7d, &[Item::Num("tvoc", U16, ONE)]);
/// `09 73`: barometric pressure, uint16 / 10, hPa.
pub(crate) const PRESSURE: Rule = rule(0x09, 0x73, &[Item::Num("pressure", U16, Div(10))]);

/// The last rule of a decoder without an `else`: any other pair is passed over and decoding
/// goes on (with a warning).
pub(crate) const NO_ELSE: Rule = Rule {
    channel: Id::Any,
    ty: Id::Any,
    read: Read::SkipPair,
};
