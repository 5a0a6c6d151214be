//! The report frame: the firmware's `ReportDataRecord` (21 bytes, little-endian), its previous
//! fixes (`GpsFixDataRecord`, 10 bytes each) and, on NB-IoT, the UDP header before it.

use lorafield_core::{Container, DecodeError, ErrorKind, Field, Sink, Value};

use crate::model::{FIX_LEN, Layout, TIME_TO_FIX_AT};

/// A little-endian number at a fixed offset of a record, and how it becomes a value:
/// `(bias + raw) / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    /// Its key.
    pub(crate) name: &'static str,
    /// Its first byte, from the record's start.
    pub(crate) offset: u8,
    /// Its size in bytes (1, 2 or 4).
    pub(crate) size: u8,
    /// Two's complement if true.
    pub(crate) signed: bool,
    /// Added to the raw number before dividing.
    pub(crate) bias: i16,
    /// The power of ten it is divided by.
    pub(crate) scale: u8,
}

const fn member(name: &'static str, offset: u8, size: u8, signed: bool, scale: u8) -> Member {
    Member {
        name,
        offset,
        size,
        signed,
        bias: 0,
        scale,
    }
}

/// The report's members that sort before `previous_fixes`, in key order (the spec's table,
/// offsets from the report's start).
pub(crate) const REPORT_HEAD: [Member; 6] = [
    member("altitude", 14, 2, true, 0), // i16 m: can be negative
    Member {
        // volts = (300 + raw) / 100
        bias: 300,
        ..member("battery_voltage", 4, 1, false, 2)
    },
    member("board_temperature", 5, 1, true, 0), // i8 C
    member("course", 18, 1, false, 0),          // raw byte as sent
    member("latitude", 6, 4, true, 7),          // i32 / 10^7 degrees
    member("longitude", 10, 4, true, 7),        // i32 / 10^7 degrees
];

/// The report's members that sort after `previous_fixes`, in key order.
pub(crate) const REPORT_TAIL: [Member; 4] = [
    member("satellites", 19, 1, false, 0),
    member("speed", 16, 2, false, 0),                         // km/h
    member("time_to_fix", TIME_TO_FIX_AT as u8, 1, false, 0), // s; 255: no fix this cycle
    member("timestamp", 0, 4, false, 0),                      // UNIX seconds
];

/// A previous fix's members, in key order.
pub(crate) const FIX: [Member; 3] = [
    member("latitude", 2, 4, true, 7),
    member("longitude", 6, 4, true, 7),
    member("seconds_ago", 0, 2, false, 0), // 65535: that long ago or longer
];

/// The UDP header's parts (NB-IoT): `version` u8 at 0, `imei` 7 bytes big-endian at 1,
/// `token` 8 bytes at 8.
const IMEI: core::ops::Range<usize> = 1..8;
const TOKEN: core::ops::Range<usize> = 8..16;

/// The member's value in the record starting at `at` (which the frame's length check put
/// in bounds).
#[inline]
fn number(payload: &[u8], at: usize, m: &Member) -> Value<'static> {
    let start = at + usize::from(m.offset);
    let bytes = payload
        .get(start..start + usize::from(m.size))
        .unwrap_or_default();
    let raw = bytes
        .iter()
        .rev()
        .fold(0u64, |w, &b| (w << 8) | u64::from(b));
    // Sign-extend from the member's width.
    let shift = 64 - 8 * u32::from(m.size);
    let raw = if m.signed {
        ((raw << shift) as i64) >> shift
    } else {
        raw as i64
    };
    Value::Decimal {
        digits: i64::from(m.bias) + raw,
        scale: m.scale,
    }
}

fn members<'a, S: Sink<'a> + ?Sized>(
    sink: &mut S,
    payload: &'a [u8],
    at: usize,
    members: &[Member],
) -> Result<(), ErrorKind> {
    for m in members {
        sink.field(Field::new(m.name, None, number(payload, at, m)))?;
    }
    Ok(())
}

/// Decodes a report frame whose length `layout` was made from.
pub(crate) fn decode<'a, S: Sink<'a> + ?Sized>(
    payload: &'a [u8],
    layout: Layout,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let at = layout.report;
    let err = |offset| move |kind| DecodeError::new(offset, kind);
    members(sink, payload, at, &REPORT_HEAD).map_err(err(at))?;
    if layout.fixes > 0 {
        sink.open("previous_fixes", None, Container::Array)
            .map_err(err(layout.fixes_at))?;
        for i in 0..layout.fixes {
            let fix = layout.fixes_at + i * FIX_LEN;
            (|| {
                sink.open("", None, Container::Object)?;
                members(sink, payload, fix, &FIX)?;
                sink.close()
            })()
            .map_err(err(fix))?;
        }
        sink.close().map_err(err(layout.fixes_at))?;
    }
    let tail = REPORT_TAIL
        .iter()
        .filter(|m| layout.time_to_fix || usize::from(m.offset) != TIME_TO_FIX_AT);
    for m in tail {
        sink.field(Field::new(m.name, None, number(payload, at, m)))
            .map_err(err(at))?;
    }
    if layout.udp_header {
        udp_header(payload, sink).map_err(err(0))?;
    }
    Ok(())
}

/// `udp_header: {imei, token, version}` (key order).
fn udp_header<'a, S: Sink<'a> + ?Sized>(payload: &'a [u8], sink: &mut S) -> Result<(), ErrorKind> {
    let imei = payload
        .get(IMEI)
        .unwrap_or_default()
        .iter()
        .fold(0u64, |w, &b| (w << 8) | u64::from(b));
    let token = payload.get(TOKEN).unwrap_or_default();
    let version = payload.first().copied().unwrap_or_default();
    sink.open("udp_header", None, Container::Object)?;
    sink.field(Field::new("imei", None, Value::DecimalText(imei)))?;
    sink.field(Field::new("token", None, Value::Bytes(token)))?;
    sink.field(Field::new("version", None, Value::U64(version.into())))?;
    sink.close()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(members: &[Member]) -> bool {
        members.windows(2).all(|w| w[0].name < w[1].name)
    }

    #[test]
    fn tables_are_in_key_order_and_cover_the_records() {
        assert!(sorted(&REPORT_HEAD) && sorted(&REPORT_TAIL) && sorted(&FIX));
        assert!(REPORT_HEAD.last().unwrap().name < "previous_fixes");
        assert!(REPORT_TAIL[0].name > "previous_fixes");
        assert!(REPORT_TAIL.last().unwrap().name < "udp_header");
        // Every byte of the report and of a fix belongs to exactly one member.
        let cover = |members: &[&Member], len: usize| {
            let mut owner = [0u8; 21];
            for m in members {
                for b in m.offset..m.offset + m.size {
                    owner[usize::from(b)] += 1;
                }
            }
            owner[..len].iter().all(|&n| n == 1) && owner[len..].iter().all(|&n| n == 0)
        };
        let report: [&Member; 10] =
            core::array::from_fn(|i| REPORT_HEAD.get(i).unwrap_or_else(|| &REPORT_TAIL[i - 6]));
        assert!(cover(&report, crate::model::REPORT_LEN));
        let fix: [&Member; 3] = core::array::from_fn(|i| &FIX[i]);
        assert!(cover(&fix, FIX_LEN));
    }

    #[test]
    fn numbers_are_little_endian_and_sign_extended() {
        let p = [0xf1, 0xff, 0x80, 0xff, 0xff, 0xff, 0x7f];
        let at = |offset, size, signed| number(&p, 0, &member("n", offset, size, signed, 0));
        let d = |digits| Value::Decimal { digits, scale: 0 };
        assert_eq!(at(0, 2, true), d(-15));
        assert_eq!(at(0, 2, false), d(65521));
        assert_eq!(at(2, 1, true), d(-128));
        assert_eq!(at(2, 1, false), d(128));
        assert_eq!(at(3, 4, true), d(0x7fff_ffff));
        assert_eq!(at(2, 4, true), d(-128));
        assert_eq!(at(2, 4, false), d(0xffff_ff80));
    }
}
