//! The report frame: the firmware's `ReportDataRecord` (21 bytes, little-endian), its previous
//! fixes (`GpsFixDataRecord`, 10 bytes each) and, on NB-IoT, the UDP header before it.
//!
//! Each record is read by a nom parser that follows the firmware's struct member by member
//! (`(le_u32, u8, i8, le_i32, ...)`), with the core's
//! [`Remaining`](lorafield_core::parse::Remaining) error; then its members are pushed in key
//! order. The frame's length was checked against its layout before, so the parsers cannot run
//! out of input; if one did, the frame would fail with `unexpected_eof` at the record, not
//! panic.
//!
//! Measured against the loop over a const table of members (name, offset, size, signedness,
//! divisor) it replaced, in instructions a frame under callgrind (`benches/icount.sh`, the
//! codecs bench's report frames from the fixtures): 487 to 470 decode-only (-3.5%), 4,748 to
//! 3,404 decode + JSON (-28%: each member's key is a constant now, and the writer sees them
//! in order). Through nom 8's own number parsers it was slower than the table (642 against
//! 512 on all the Sodaq fixtures), hence the core's inlined ones.

use lorafield_core::parse::{PResult, error_at, i8, le_i16, le_i32, le_u16, le_u32, take, u8};
use lorafield_core::{Container, DecodeError, ErrorKind, Field, Sink, Value};
use nom::Parser;

use crate::model::Layout;

/// The firmware's `ReportDataRecord`, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Report {
    /// UNIX seconds.
    timestamp: u32,
    /// Volts: `(300 + raw) / 100`.
    battery: u8,
    /// C.
    board_temperature: i8,
    /// Degrees: `raw / 10^7`.
    latitude: i32,
    /// Degrees: `raw / 10^7`.
    longitude: i32,
    /// m (can be negative).
    altitude: i16,
    /// km/h.
    speed: u16,
    /// The raw byte as sent.
    course: u8,
    satellites: u8,
    /// s; 255: no fix this cycle. The legacy firmware overwrites it with a previous fix.
    time_to_fix: u8,
}

/// `ReportDataRecord`.
fn report(i: &[u8]) -> PResult<'_, Report> {
    (le_u32, u8, i8, le_i32, le_i32, le_i16, le_u16, u8, u8, u8)
        .map(
            |(
                timestamp,
                battery,
                board_temperature,
                latitude,
                longitude,
                altitude,
                speed,
                course,
                satellites,
                time_to_fix,
            )| Report {
                timestamp,
                battery,
                board_temperature,
                latitude,
                longitude,
                altitude,
                speed,
                course,
                satellites,
                time_to_fix,
            },
        )
        .parse(i)
}

/// A previous fix (`GpsFixDataRecord`): `(seconds_ago, latitude, longitude)`; `seconds_ago`
/// 65535 means that long ago or longer.
fn fix(i: &[u8]) -> PResult<'_, (u16, i32, i32)> {
    (le_u16, le_i32, le_i32).parse(i)
}

/// The NB-IoT UDP header: `version` u8, `imei` 7 bytes big-endian, `token` 8 bytes.
fn udp_header(i: &[u8]) -> PResult<'_, (u8, &[u8], &[u8])> {
    (u8, take(7), take(8)).parse(i)
}

/// `raw / 10^scale`.
fn dec(raw: impl Into<i64>, scale: u8) -> Value<'static> {
    Value::Decimal {
        digits: raw.into(),
        scale,
    }
}

/// Decodes a report frame whose length `layout` was made from.
pub(crate) fn decode<'a, S: Sink<'a> + ?Sized>(
    payload: &'a [u8],
    layout: Layout,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let at = layout.report;
    let eof = |offset| DecodeError::new(offset, ErrorKind::UnexpectedEof);
    let err = |offset| move |kind| DecodeError::new(offset, kind);
    let (_, r) = report(payload.get(at..).unwrap_or_default()).map_err(|_| eof(at))?;
    (|| {
        sink.field(Field::new("altitude", None, dec(r.altitude, 0)))?;
        let battery = 300 + i64::from(r.battery);
        sink.field(Field::new("battery_voltage", None, dec(battery, 2)))?;
        let temperature = dec(r.board_temperature, 0);
        sink.field(Field::new("board_temperature", None, temperature))?;
        sink.field(Field::new("course", None, dec(r.course, 0)))?;
        sink.field(Field::new("latitude", None, dec(r.latitude, 7)))?;
        sink.field(Field::new("longitude", None, dec(r.longitude, 7)))
    })()
    .map_err(err(at))?;
    if layout.fixes > 0 {
        sink.open("previous_fixes", None, Container::Array)
            .map_err(err(layout.fixes_at))?;
        let mut input = payload.get(layout.fixes_at..).unwrap_or_default();
        for _ in 0..layout.fixes {
            let offset = payload.len() - input.len();
            let (rest, (seconds_ago, latitude, longitude)) =
                fix(input).map_err(|e| error_at(e, payload.len()))?;
            input = rest;
            let members = [
                Field::new("latitude", None, dec(latitude, 7)),
                Field::new("longitude", None, dec(longitude, 7)),
                Field::new("seconds_ago", None, dec(seconds_ago, 0)),
            ];
            sink.object("", None, &members).map_err(err(offset))?;
        }
        sink.close().map_err(err(layout.fixes_at))?;
    }
    (|| {
        sink.field(Field::new("satellites", None, dec(r.satellites, 0)))?;
        sink.field(Field::new("speed", None, dec(r.speed, 0)))?;
        if layout.time_to_fix {
            sink.field(Field::new("time_to_fix", None, dec(r.time_to_fix, 0)))?;
        }
        sink.field(Field::new("timestamp", None, dec(r.timestamp, 0)))
    })()
    .map_err(err(at))?;
    if layout.udp_header {
        let (_, (version, imei, token)) = udp_header(payload).map_err(|_| eof(0))?;
        let imei = imei.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b));
        let members = [
            Field::new("imei", None, Value::DecimalText(imei)),
            Field::new("token", None, Value::Bytes(token)),
            Field::new("version", None, Value::U64(version.into())),
        ];
        sink.object("udp_header", None, &members).map_err(err(0))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use crate::model::{FIX_LEN, Model, REPORT_LEN};
    use lorafield_core::{FieldBuf, Uplink};

    #[rustfmt::skip]
    const REPORT: [u8; REPORT_LEN] = [
        0x10, 0x32, 0x54, 0x76, // timestamp
        0x75,                   // battery
        0xfb,                   // board_temperature: -5
        0x80, 0x2c, 0x0e, 0x1f, // latitude
        0x40, 0x2c, 0xfd, 0xff, // longitude: negative
        0xfe, 0xff,             // altitude: -2
        0x2c, 0x01,             // speed: 300
        0xb4,                   // course
        0x07,                   // satellites
        0x21,                   // time_to_fix
    ];

    #[test]
    fn the_report_is_read_member_by_member_little_endian() {
        let (rest, r) = report(&REPORT).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            r,
            Report {
                timestamp: 0x7654_3210,
                battery: 0x75,
                board_temperature: -5,
                latitude: 0x1f0e_2c80,
                longitude: -185_280,
                altitude: -2,
                speed: 300,
                course: 0xb4,
                satellites: 7,
                time_to_fix: 0x21,
            }
        );
        let (rest, f) = fix(&[0x84, 0x03, 0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0x7f, 9]).unwrap();
        assert_eq!((rest, f), (&[9][..], (900, i32::MIN, i32::MAX)));
    }

    #[test]
    fn a_short_record_is_an_error_at_its_first_missing_byte() {
        // The parsers are only ever given whole records; cut one anyway.
        let e = report(&REPORT[..20]).unwrap_err();
        let nom::Err::Error(e) = e else { panic!() };
        assert_eq!(e.at(20), DecodeError::new(20, ErrorKind::UnexpectedEof));
        assert_eq!(
            error_at(fix(&[0; FIX_LEN - 1]).unwrap_err(), 40),
            DecodeError::new(37, ErrorKind::UnexpectedEof)
        );
    }

    #[test]
    fn members_are_pushed_in_key_order() {
        // Every layout, so that a JSON writer never has to sort them.
        for model in Model::ALL {
            for fixes in 0..=crate::MAX_FIXES {
                let len = model.report_frame_len(fixes);
                let frame = alloc::vec![0x11u8; len];
                let mut buf = FieldBuf::<{ crate::MAX_EVENTS }>::new();
                let codec = crate::SodaqTracker::new(model);
                let d = buf.decode(&codec, Uplink::new(1, &frame));
                let events = d.data.unwrap();
                let mut keys = alloc::vec::Vec::new();
                let mut i = 0;
                while let Some(e) = events.get(i) {
                    keys.push(e.key().0);
                    i += 1 + e.subtree_len();
                }
                assert!(
                    keys.windows(2).all(|w| w[0] < w[1]),
                    "{model} {fixes}: {keys:?}"
                );
            }
        }
    }
}
