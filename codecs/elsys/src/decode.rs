//! The decoder: one loop over `[type][value]` records, driven by the type table. Each record
//! is read by nom parsers with the core's [`Remaining`] error: [`record`] frames it (the type
//! byte, then as many bytes as its type says), [`number`] reads each of its numbers as the
//! table says it is stored.
//!
//! Measured against the hand-indexed loop it replaced, in instructions a frame under callgrind
//! (`benches/icount.sh`, the codecs bench's 1,000 fixture frames): 441 to 404 decode-only
//! (-8%), 2,165 to 2,168 decode + JSON (+0.2%). The way there: framing with nom's own `take`
//! (a call per record: `Input::take_from` is not inlined for slices) and the error built in
//! the loop cost 595 (+35%); the core's inlined `take`, 507; the error built out of the loop
//! ([`stop`], cold), 449; the numbers read by [`number`] instead of indexing the value, 404.

use lorafield_core::parse::{PResult, Remaining, kind_of, take, u8};
use lorafield_core::{Container, DecodeError, ErrorKind, Field, GenericCodec, Sink, Uplink, Value};

use crate::types::{Layout, Num, Type};

/// The Elsys codec (one decoder for every Elsys sensor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Elsys;

/// One whole record: its first byte (the type byte), its type and its value's bytes.
#[derive(Debug, Clone, Copy)]
struct Record<'a> {
    offset: usize,
    ty: &'static Type,
    value: &'a [u8],
}

/// A record: its type byte, then the value's bytes. A type byte the table does not know is an
/// [`ErrorKind::UnknownType`] (the rest cannot be framed), a value cut short an
/// [`ErrorKind::UnexpectedEof`], both at the type byte.
#[inline(always)]
fn record(i: &[u8]) -> PResult<'_, (&'static Type, &[u8])> {
    let at = |kind| nom::Err::Error(Remaining::new(i, kind));
    let (rest, id) = u8(i)?;
    let ty = Type::lookup(id).ok_or_else(|| at(ErrorKind::UnknownType(id)))?;
    let (rest, value) =
        take(usize::from(ty.size))(rest).map_err(|_| at(ErrorKind::UnexpectedEof))?;
    Ok((rest, (ty, value)))
}

/// The records of a payload from a record boundary on, ending after the first one that fails.
#[derive(Debug, Clone)]
struct Records<'a> {
    payload: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    fn new(payload: &'a [u8], pos: usize) -> Self {
        Records {
            payload,
            rest: payload.get(pos..).unwrap_or_default(),
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let offset = self.payload.len() - self.rest.len();
        match record(self.rest) {
            Ok((rest, (ty, value))) => {
                self.rest = rest;
                Some(Ok(Record { offset, ty, value }))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(stop(offset, e)))
            }
        }
    }
}

/// The error of the record at `offset` (out of the loop: rare).
#[cold]
#[inline(never)]
fn stop(offset: usize, e: nom::Err<Remaining>) -> DecodeError {
    DecodeError::new(offset, kind_of(e))
}

/// A number of a record's value, stored as `num` says.
#[inline(always)]
fn number(num: Num) -> impl Fn(&[u8]) -> PResult<'_, Value<'static>> {
    move |i| {
        let (rest, bytes) = take(usize::from(num.size))(i)?;
        let push = |w: u64, &b: &u8| (w << 8) | u64::from(b);
        let raw = if num.little_endian {
            bytes.iter().rev().fold(0, push)
        } else {
            bytes.iter().fold(0, push)
        };
        let shift = 64 - 8 * u32::from(num.size);
        let digits = if num.signed {
            ((raw << shift) as i64) >> shift
        } else {
            raw as i64
        };
        let scale = num.scale;
        Ok((rest, Value::Decimal { digits, scale }))
    }
}

impl Elsys {
    /// Decodes `payload` into any sink, monomorphised for it.
    ///
    /// Records are read until the payload ends. An unknown type byte stops decoding with a
    /// warning at its offset (what came before is kept, and there is no error); a record cut
    /// short is an [`ErrorKind::UnexpectedEof`] error at its type byte (what came before is
    /// kept).
    #[inline(always)]
    pub fn decode_into<'a, S: Sink<'a> + ?Sized>(
        &self,
        payload: &'a [u8],
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        // How often the list type (externalTemperature2) occurs before decoding stops: once is
        // a number, more is an array, emitted whole where it first occurs.
        let list_len = Records::new(payload, 0)
            .map_while(Result::ok)
            .filter(|r| matches!(r.ty.layout, Layout::List(_)))
            .count();
        let mut list_done = false;
        for record in Records::new(payload, 0) {
            let r = match record {
                Ok(r) => r,
                Err(e) if matches!(e.kind, ErrorKind::UnknownType(_)) => {
                    sink.warning(e)
                        .map_err(|kind| DecodeError::new(e.offset, kind))?;
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let at = |kind| DecodeError::new(r.offset, kind);
            match r.ty.layout {
                Layout::Fields(members) => {
                    let mut value = r.value;
                    for m in members {
                        let (rest, n) = number(m.num)(value).map_err(|e| at(kind_of(e)))?;
                        sink.field(Field::new(m.name, None, n)).map_err(at)?;
                        value = rest;
                    }
                }
                Layout::List(m) if list_len < 2 => {
                    let (_, n) = number(m.num)(r.value).map_err(|e| at(kind_of(e)))?;
                    sink.field(Field::new(m.name, None, n)).map_err(at)?;
                }
                Layout::List(_) if list_done => {}
                Layout::List(m) => {
                    list_done = true;
                    (|| {
                        sink.open(m.name, None, Container::Array)?;
                        let same = Records::new(payload, r.offset)
                            .map_while(Result::ok)
                            .filter(|e| e.ty.id == r.ty.id);
                        for e in same {
                            let (_, n) = number(m.num)(e.value).map_err(kind_of)?;
                            sink.field(Field::new("", None, n))?;
                        }
                        sink.close()
                    })()
                    .map_err(at)?;
                }
                Layout::Grideye => grideye(r.value, sink).map_err(at)?,
            }
        }
        Ok(())
    }
}

/// `grideye`: 64 numbers `reference + pixel / 10`, as the reference decoder prints them (an
/// exact decimal: `(10 * reference + pixel) / 10` is the same `f64` for every u8 pair).
fn grideye<'a, S: Sink<'a> + ?Sized>(value: &[u8], sink: &mut S) -> Result<(), ErrorKind> {
    let (pixels, reference) = u8(value).map_err(kind_of)?;
    sink.open("grideye", None, Container::Array)?;
    for &p in pixels {
        let digits = 10 * i64::from(reference) + i64::from(p);
        sink.field(Field::new("", None, Value::Decimal { digits, scale: 1 }))?;
    }
    sink.close()
}

impl GenericCodec for Elsys {
    const ID: &'static str = crate::ID;

    // Always: each of `Codec`'s entry points (a `dyn Sink`, the store, the store with the
    // payload passed in registers, the JSON writer) is the decoder itself, not a call to it.
    #[inline(always)]
    fn decode_generic<'a, S: Sink<'a> + ?Sized>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        self.decode_into(uplink.payload, sink)
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use crate::{MAX_EVENTS, TYPES};
    use alloc::string::String;
    use alloc::vec::Vec;
    use lorafield_core::FieldBuf;

    fn json(payload: &[u8]) -> String {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let d = buf.decode(&Elsys, Uplink::new(5, payload));
        let mut out = Vec::new();
        d.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn data(payload: &[u8]) -> String {
        let full = json(payload);
        let inner = full
            .strip_prefix(r#"{"data":"#)
            .and_then(|s| s.strip_suffix('}'));
        inner
            .unwrap_or_else(|| panic!("not a clean result: {full}"))
            .into()
    }

    #[test]
    fn the_spec_example() {
        #[rustfmt::skip]
        let p = [
            0x01, 0x00, 0xe2, // temperature: 226 / 10
            0x02, 0x29,       // humidity: 41
            0x04, 0x00, 0x27, // light: 39
            0x05, 0x06,       // motion: 6
        ];
        assert_eq!(
            data(&p),
            r#"{"humidity":41,"light":39,"motion":6,"temperature":22.6}"#
        );
    }

    #[test]
    fn every_type_once() {
        #[rustfmt::skip]
        let p = [
            0x01, 0xff, 0x38,             // temperature: -200 / 10
            0x02, 0xff,                   // humidity: 255
            0x03, 0xc1, 0x3f, 0x80,       // x: -63, y: 63, z: -128
            0x04, 0xff, 0xff,             // light: 65535
            0x05, 0x00,                   // motion: 0
            0x06, 0x01, 0x90,             // co2: 400
            0x07, 0x0e, 0x10,             // vdd: 3600
            0x08, 0x80, 0x00,             // analog1: 32768 (unsigned)
            0x09, 0x22, 0x6c, 0x07,       // lat: 0x076c22 = 486434 / 10^4 (little-endian)
                  0x44, 0xbf, 0xff,       // long: 0xffbf44 = -16572 / 10^4
            0x0a, 0x00, 0x0a,             // pulse1: 10
            0x0b, 0xff, 0xff, 0xff, 0xff, // pulseAbs: 4294967295 (unsigned)
            0x0c, 0x80, 0x00,             // externalTemperature: -32768 / 10
            0x0d, 0x01,                   // digital: 1
            0x0e, 0x12, 0x34,             // distance: 4660
            0x0f, 0x03,                   // accMotion: 3
            0x10, 0x00, 0xfa, 0xff, 0xf6, // irInternalTemperature: 25, irExternalTemperature: -1
            0x11, 0x02,                   // occupancy: 2
            0x12, 0x00,                   // waterleak: 0
            0x14, 0x00, 0x0f, 0x74, 0x24, // pressure: 1012772 / 1000
            0x15, 0x5a, 0x2d,             // soundPeak: 90, soundAvg: 45
            0x16, 0x01, 0x00,             // pulse2: 256
            0x17, 0x80, 0x00, 0x00, 0x00, // pulseAbs2: 2147483648 (unsigned)
            0x18, 0x00, 0x01,             // analog2: 1
            0x19, 0x00, 0x05,             // externalTemperature2: 0.5 (once: a number)
            0x1a, 0x00,                   // digital2: 0
            0x1b, 0xff, 0xff, 0xff, 0xfe, // analogUv: -2 (signed)
            0x1c, 0x02, 0x58,             // tvoc: 600
            0x3d, 0xde, 0xad, 0xbe, 0xef, // debug: 3735928559
        ];
        assert_eq!(
            data(&p),
            concat!(
                r#"{"accMotion":3,"analog1":32768,"analog2":1,"analogUv":-2,"co2":400,"debug":3735928559,"#,
                r#""digital":1,"digital2":0,"distance":4660,"externalTemperature":-3276.8,"#,
                r#""externalTemperature2":0.5,"humidity":255,"irExternalTemperature":-1,"#,
                r#""irInternalTemperature":25,"lat":48.6434,"light":65535,"long":-1.6572,"motion":0,"#,
                r#""occupancy":2,"pressure":1012.772,"pulse1":10,"pulse2":256,"pulseAbs":4294967295,"#,
                r#""pulseAbs2":2147483648,"soundAvg":45,"soundPeak":90,"temperature":-20,"tvoc":600,"#,
                r#""vdd":3600,"waterleak":0,"x":-63,"y":63,"z":-128}"#
            )
        );
    }

    #[test]
    fn sixteen_bit_signs() {
        for (bytes, text) in [
            ([0x7f, 0xff], "3276.7"),
            ([0x80, 0x00], "-3276.8"),
            ([0xff, 0xff], "-0.1"),
            ([0x00, 0x00], "0"),
        ] {
            let p = [0x01, bytes[0], bytes[1]];
            assert_eq!(data(&p), alloc::format!(r#"{{"temperature":{text}}}"#));
        }
    }

    #[test]
    fn repeated_external_temperature_2_becomes_an_array() {
        #[rustfmt::skip]
        let p = [
            0x19, 0x00, 0xe2, // externalTemperature2: 22.6
            0x01, 0x00, 0x64, // temperature: 10
            0x19, 0xff, 0xec, // externalTemperature2: -2
            0x19, 0x00, 0x00, // externalTemperature2: 0
        ];
        assert_eq!(
            data(&p),
            r#"{"externalTemperature2":[22.6,-2,0],"temperature":10}"#
        );
        assert_eq!(
            data(&p[..6]),
            r#"{"externalTemperature2":22.6,"temperature":10}"#
        );
        assert_eq!(
            data(&p[..9]),
            r#"{"externalTemperature2":[22.6,-2],"temperature":10}"#
        );
    }

    #[test]
    fn the_list_counts_only_what_is_decoded() {
        // Two occurrences, but the second lies after an unknown type: one number.
        let p = [0x19, 0x00, 0x01, 0x77, 0x19, 0x00, 0x02];
        assert_eq!(
            json(&p),
            r#"{"data":{"externalTemperature2":0.1},"warnings":[{"kind":"unknown_type","message":"unknown type 0x77 at byte 3","offset":3,"type":119}]}"#
        );
        // Two whole occurrences, then a record cut short: the array of two, and the error.
        let p = [0x19, 0x00, 0x01, 0x19, 0x00, 0x02, 0x19, 0x00];
        assert_eq!(
            json(&p),
            r#"{"data":{"externalTemperature2":[0.1,0.2]},"errors":[{"kind":"unexpected_eof","message":"unexpected end of payload at byte 6","offset":6}]}"#
        );
    }

    #[test]
    fn other_repeated_types_keep_the_last_value() {
        // The device repository's EMS example: pulse1 twice.
        let p = [0x0a, 0x11, 0x01, 0x12, 0x11, 0x0a, 0x21, 0x11];
        assert_eq!(data(&p), r#"{"pulse1":8465,"waterleak":17}"#);
        let p = [0x03, 1, 2, 3, 0x03, 4, 5, 6];
        assert_eq!(data(&p), r#"{"x":4,"y":5,"z":6}"#);
    }

    #[test]
    fn grideye() {
        let mut p = alloc::vec![0x13, 20];
        p.extend(0..64u8);
        p.extend([0x02, 0x29]);
        let pixels: Vec<String> = (0..64)
            .map(|i| alloc::format!("{}", 20.0 + f64::from(i) / 10.0))
            .collect();
        assert_eq!(
            data(&p),
            alloc::format!(r#"{{"grideye":[{}],"humidity":41}}"#, pixels.join(","))
        );
        // The largest reference and pixel.
        let mut p = alloc::vec![0x13, 255];
        p.extend([255; 64]);
        assert!(data(&p).starts_with(r#"{"grideye":[280.5,280.5,"#));
    }

    #[test]
    fn truncation_at_every_byte_of_every_type() {
        for t in &TYPES {
            // A good record first, so the failing one starts at byte 2.
            let mut frame: Vec<u8> = alloc::vec![0x02, 41, t.id];
            frame.extend(core::iter::repeat_n(0x11, usize::from(t.size)));
            for cut in 3..frame.len() {
                let mut buf = FieldBuf::<MAX_EVENTS>::new();
                let d = buf.decode(&Elsys, Uplink::new(5, &frame[..cut]));
                assert_eq!(
                    d.error,
                    Some(DecodeError::new(2, ErrorKind::UnexpectedEof)),
                    "{:#04x} cut at {cut}",
                    t.id
                );
                assert_eq!(d.data.map(<[_]>::len), Some(1), "{:#04x}", t.id);
            }
            let mut buf = FieldBuf::<MAX_EVENTS>::new();
            let d = buf.decode(&Elsys, Uplink::new(5, &frame));
            assert_eq!(d.error, None, "{:#04x}", t.id);
            assert!(d.warnings.is_empty());
        }
    }

    #[test]
    fn unknown_types_stop_decoding_with_a_warning() {
        for ty in 0..=255u8 {
            let frame = [0x02, 41, ty, 0, 0, 0, 0];
            let mut buf = FieldBuf::<MAX_EVENTS>::new();
            let d = buf.decode(&Elsys, Uplink::new(5, &frame));
            if Type::lookup(ty).is_none() {
                assert_eq!(d.error, None);
                assert_eq!(
                    d.warnings,
                    [DecodeError::new(2, ErrorKind::UnknownType(ty))]
                );
                assert_eq!(d.data.map(<[_]>::len), Some(1));
            } else {
                // Decoding goes on past it (zero bytes after it are type 0, unknown).
                assert!(d.warnings.iter().all(|w| w.offset > 2), "{ty:#04x}");
            }
        }
        // An unknown type first: no data, and not an error.
        assert_eq!(
            json(&[0x00, 0x01, 0x00, 0xe2]),
            r#"{"data":{},"warnings":[{"kind":"unknown_type","message":"unknown type 0x00 at byte 0","offset":0,"type":0}]}"#
        );
    }

    #[test]
    fn empty_payload() {
        assert_eq!(json(&[]), r#"{"data":{}}"#);
    }

    #[test]
    fn a_full_sink_is_an_error_at_the_record() {
        let frame = [0x02, 41, 0x03, 1, 2, 3];
        let mut buf = FieldBuf::<2>::new();
        let d = buf.decode(&Elsys, Uplink::new(5, &frame));
        assert_eq!(d.error, Some(DecodeError::new(2, ErrorKind::SinkFull)));
        let mut p = alloc::vec![0x01, 0, 1, 0x13, 20];
        p.extend([0; 64]);
        let mut buf = FieldBuf::<40>::new();
        let d = buf.decode(&Elsys, Uplink::new(5, &p));
        assert_eq!(d.error, Some(DecodeError::new(3, ErrorKind::SinkFull)));
        // The half-filled grideye array is dropped whole.
        assert_eq!(d.data.map(<[_]>::len), Some(1));
    }

    #[test]
    fn the_largest_frame_fits_max_events() {
        // Grid-EYE records are the densest in events per byte.
        let mut p = Vec::new();
        while p.len() + 66 <= 242 {
            p.push(0x13);
            p.extend([0; 65]);
        }
        while p.len() + 4 <= 242 {
            p.extend([0x03, 0, 0, 0]);
        }
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let d = buf.decode(&Elsys, Uplink::new(5, &p));
        assert_eq!(d.error, None);
    }
}
