//! The decoder.
//!
//! The record loop indexes the payload directly instead of going through nom combinators: it is
//! the hottest loop of the project, and measured on the 1,000 TTS frames, nom's `take` (not
//! inlined across crates) and a size-dispatched number parser cost a third of the decode time.
//! Numbers are read branch-free: the four bytes ending where the value ends, masked and
//! sign-extended by a flip of the sign bit and a subtraction (every value ends at byte 3 or
//! later, except a one-byte value of the first record, which takes the slow path).
//!
//! A type byte the profile does not know has a table entry whose record is longer than any
//! payload, so the record's one bound test catches it; an object's members are written into
//! the slots a store hands out (`Sink::object_slots`) after its room is checked, each as it is
//! read. Measured and not kept (instructions a frame, registry decode-only): the loop testing
//! only that the type byte is there (`payload.get(pos + 1)`), the channel's read then kept its
//! own test, 310.5 to 315.4; the slow path's read (fewer than four bytes before the value's
//! end) out of line as a cold function, 301.8 to 320.9 (many TTS frames begin with a one-byte
//! value); after `Codec::decode_frame` (261.2), the channel and type bytes tested at once as
//! `payload.get(pos..)` matched against `[channel, ty, ..]`, 261.2 to 264.2 (`decode_into`
//! 216.0 to 213.4), and the object arm out of line, 261.2 to 314.2 (the store then lives in
//! memory); after the table's operands (237.2), the slow read as three byte reads without a
//! loop, 237.2 to 238.6 (static 266.1 to 256.4, `Builtin` 257.6 to 260.1).

use lorafield_core::{DecodeError, ErrorKind, Event, Field, GenericCodec, Sink, Uplink, Value};

use crate::types::{Layout, NOT_A_TYPE, Num, Profile, Sorted, Table, entry, record_len};

/// The Cayenne LPP codec in one profile.
#[derive(Clone, Copy)]
pub struct CayenneLpp {
    profile: Profile,
    /// The profile's table ([`Profile::table`]), held so that the loop reads it with one load
    /// rather than choosing it by the profile on each frame.
    table: &'static Table,
}

impl PartialEq for CayenneLpp {
    fn eq(&self, other: &Self) -> bool {
        self.profile == other.profile
    }
}

impl Eq for CayenneLpp {}

impl core::fmt::Debug for CayenneLpp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CayenneLpp")
            .field("profile", &self.profile)
            .finish()
    }
}

impl Default for CayenneLpp {
    fn default() -> Self {
        CayenneLpp::new(Profile::default())
    }
}

impl CayenneLpp {
    /// The codec in `profile`.
    pub const fn new(profile: Profile) -> Self {
        CayenneLpp {
            profile,
            table: profile.table(),
        }
    }

    /// The codec's profile.
    pub const fn profile(&self) -> Profile {
        self.profile
    }

    /// Decodes `payload` into any sink, monomorphised for it.
    ///
    /// Every number is pushed as a [`Value::Decimal`] (scale 0 for integers), the reading's
    /// exact digits.
    #[inline(always)]
    pub fn decode_into<'a, S: Sink<'a> + ?Sized>(
        &self,
        payload: &'a [u8],
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        let mut pos = 0;
        while pos < payload.len() {
            let at = |kind| DecodeError::new(pos, kind);
            let (Some(&channel), Some(&ty)) = (payload.get(pos), payload.get(pos + 1)) else {
                return Err(at(ErrorKind::UnexpectedEof));
            };
            // An unknown type's record is longer than any payload: one test for both. The
            // length is read from its own column, so that the next record's position does not
            // wait on the type's address (`Table`).
            let len = record_len(self.table, ty);
            let t = entry(self.table, ty);
            let end = pos + len;
            if end > payload.len() {
                return Err(at(if len == NOT_A_TYPE {
                    ErrorKind::UnknownType(ty)
                } else {
                    ErrorKind::UnexpectedEof
                }));
            }
            // Each arm returns on its own error, so that the common path goes straight on.
            match t.layout {
                Layout::Scalar(num) => {
                    let value = number(payload, end, &num);
                    sink.field(Field::new(t.name, Some(channel), value))
                        .map_err(at)?;
                }
                // Members in key order (`altitude, latitude, longitude`), so that JSON
                // writers need not sort them; each ends where the table says, counted back
                // from the record's end (never past its start: `back` is at most the value's
                // size), so that its read is known to end inside the payload.
                Layout::Object(_) => {
                    let member = |m: &Sorted| {
                        let end = end.saturating_sub(usize::from(m.back));
                        Field::new(m.name, None, number(payload, end, &m.num))
                    };
                    // A sink that stores events hands out the members' slots once it has
                    // checked its room, so that each member is written as soon as it is read.
                    let n = t.sorted.len();
                    if let Some(slots) = sink.object_slots(t.name, Some(channel), n).map_err(at)? {
                        for (slot, m) in slots.iter_mut().zip(&t.sorted) {
                            *slot = Event::Field(member(m));
                        }
                    } else {
                        let [a, b, c] = &t.sorted;
                        sink.object(t.name, Some(channel), &[member(a), member(b), member(c)])
                            .map_err(at)?;
                    }
                }
            }
            pos = end;
        }
        Ok(())
    }
}

impl GenericCodec for CayenneLpp {
    const ID: &'static str = crate::ID;

    // Always: each of `Codec`'s entry points (a `dyn Sink`, the store, the store with the
    // payload passed in registers, the JSON writer) is the loop itself, not a call to it.
    #[inline(always)]
    fn decode_generic<'a, S: Sink<'a> + ?Sized>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        self.decode_into(uplink.payload, sink)
    }

    fn keeps_partial(&self) -> bool {
        self.profile != Profile::Tts
    }
}

/// The number of `num.size` big-endian bytes ending at `end` (`end <= payload.len()`), as a
/// decimal of the type's divisor.
#[inline(always)]
fn number(payload: &[u8], end: usize, num: &Num) -> Value<'static> {
    let word = match end.checked_sub(4).and_then(|start| payload.get(start..end)) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => payload
            .get(..end)
            .unwrap_or_default()
            .iter()
            .fold(0u32, |w, &b| (w << 8) | u32::from(b)),
    };
    // Keep the low `size` bytes, sign-extending if the type is signed (`sign` is its sign bit,
    // 0 if unsigned): one mask, one flip and one subtraction whatever the type, no branch.
    // Each of the four operations reads its operand from the table (`sign_wide` is `sign`).
    let raw = u64::from((word & num.mask) ^ num.sign).wrapping_sub(num.sign_wide) as i64;
    Value::Decimal {
        digits: raw * num.mul,
        scale: num.scale,
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use crate::TYPES;
    use alloc::string::String;
    use alloc::vec::Vec;
    use lorafield_core::FieldBuf;

    fn json(profile: Profile, payload: &[u8]) -> String {
        let mut buf = FieldBuf::<{ crate::MAX_EVENTS }>::new();
        let d = buf.decode(&CayenneLpp::new(profile), Uplink::new(1, payload));
        let mut out = Vec::new();
        d.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn data(profile: Profile, payload: &[u8]) -> String {
        let full = json(profile, payload);
        let inner = full
            .strip_prefix(r#"{"data":"#)
            .and_then(|s| s.strip_suffix('}'));
        inner
            .unwrap_or_else(|| panic!("not a clean result: {full}"))
            .into()
    }

    fn both(payload: &[u8]) -> String {
        let tts = data(Profile::Tts, payload);
        assert_eq!(tts, data(Profile::Extended, payload));
        tts
    }

    #[test]
    fn seed_tutorial_payload() {
        #[rustfmt::skip]
        let p = [
            0x03, 0x67, 0x00, 0xf8, // temperature_3: 248 / 10
            0x04, 0x02, 0x85, 0xfc, // analog_in_4: -31236 / 100
        ];
        assert_eq!(both(&p), r#"{"analog_in_4":-312.36,"temperature_3":24.8}"#);
    }

    #[test]
    fn one_byte_types_at_their_bounds() {
        assert_eq!(both(&[1, 0, 0]), r#"{"digital_in_1":0}"#);
        assert_eq!(both(&[1, 0, 255]), r#"{"digital_in_1":255}"#);
        assert_eq!(both(&[1, 1, 255]), r#"{"digital_out_1":255}"#);
        assert_eq!(both(&[1, 102, 255]), r#"{"presence_1":255}"#);
        assert_eq!(both(&[1, 104, 0]), r#"{"relative_humidity_1":0}"#);
        assert_eq!(both(&[1, 104, 1]), r#"{"relative_humidity_1":0.5}"#);
        assert_eq!(both(&[1, 104, 255]), r#"{"relative_humidity_1":127.5}"#);
        assert_eq!(
            data(Profile::Extended, &[1, 120, 255]),
            r#"{"percentage_1":255}"#
        );
        assert_eq!(data(Profile::Extended, &[1, 142, 1]), r#"{"switch_1":1}"#);
    }

    #[test]
    fn sixteen_bit_sign_extension() {
        #[rustfmt::skip]
        let cases: [(&[u8], &str); 8] = [
            (&[1, 2, 0x7f, 0xff], r#"{"analog_in_1":327.67}"#),
            (&[1, 2, 0x80, 0x00], r#"{"analog_in_1":-327.68}"#),
            (&[1, 3, 0xff, 0xff], r#"{"analog_out_1":-0.01}"#),
            (&[1, 103, 0xff, 0xd7], r#"{"temperature_1":-4.1}"#),
            (&[1, 103, 0x80, 0x00], r#"{"temperature_1":-3276.8}"#),
            (&[1, 103, 0x7f, 0xff], r#"{"temperature_1":3276.7}"#),
            (&[1, 101, 0xff, 0xff], r#"{"luminosity_1":65535}"#),
            (&[1, 134, 0xfe, 0x66, 0x01, 0x9a, 0x00, 0x00], r#"{"gyrometer_1":{"x":-4.1,"y":4.1,"z":0}}"#),
        ];
        for (p, expected) in cases {
            assert_eq!(both(p), expected, "{p:02x?}");
        }
        assert_eq!(
            data(Profile::Extended, &[1, 121, 0xff, 0xff]),
            r#"{"altitude_1":-1}"#
        );
        assert_eq!(
            data(Profile::Extended, &[1, 116, 0xff, 0xff]),
            r#"{"voltage_1":655.35}"#
        );
    }

    #[test]
    fn barometer_signedness_per_profile() {
        assert_eq!(
            data(Profile::Tts, &[1, 115, 0xff, 0xff]),
            r#"{"barometric_pressure_1":-0.1}"#
        );
        assert_eq!(
            data(Profile::Extended, &[1, 115, 0xff, 0xff]),
            r#"{"barometric_pressure_1":6553.5}"#
        );
        assert_eq!(
            both(&[1, 115, 0x27, 0xbf]),
            r#"{"barometric_pressure_1":1017.5}"#
        );
    }

    #[test]
    fn twenty_four_bit_sign_extension() {
        #[rustfmt::skip]
        let p = [
            0x01, 0x88,
            0x7f, 0xff, 0xff, // latitude: 8388607 / 10000
            0x80, 0x00, 0x00, // longitude: -8388608 / 10000
            0xff, 0xff, 0xff, // altitude: -1 / 100
        ];
        assert_eq!(
            both(&p),
            r#"{"gps_1":{"altitude":-0.01,"latitude":838.8607,"longitude":-838.8608}}"#
        );
    }

    #[test]
    fn thirty_two_bit_values_stay_positive() {
        let p = [1, 100, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            data(Profile::Extended, &p),
            r#"{"generic_sensor_1":4294967295}"#
        );
        let p = [1, 130, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(data(Profile::Extended, &p), r#"{"distance_1":4294967.295}"#);
        let p = [1, 133, 0x80, 0, 0, 0];
        assert_eq!(data(Profile::Extended, &p), r#"{"unix_time_1":2147483648}"#);
    }

    #[test]
    fn truncation_at_every_byte_of_every_type() {
        for profile in Profile::ALL {
            for t in TYPES.iter().filter_map(|t| profile.lookup(t.id)) {
                // A good record first, so the failing one starts at byte 4.
                let mut frame: Vec<u8> = alloc::vec![9, 103, 0, 100, 7, t.id];
                frame.extend(core::iter::repeat_n(0x11, usize::from(t.size)));
                for cut in 5..frame.len() {
                    let mut buf = FieldBuf::<64>::new();
                    let d = buf.decode(&CayenneLpp::new(profile), Uplink::new(1, &frame[..cut]));
                    assert_eq!(
                        d.error,
                        Some(DecodeError::new(4, ErrorKind::UnexpectedEof)),
                        "{} cut at {cut}",
                        t.name
                    );
                    match profile {
                        Profile::Tts => assert!(d.data.is_none()),
                        Profile::Extended => assert_eq!(d.data.map(<[_]>::len), Some(1)),
                    }
                }
                let mut buf = FieldBuf::<64>::new();
                let d = buf.decode(&CayenneLpp::new(profile), Uplink::new(1, &frame));
                assert_eq!(d.error, None, "{}", t.name);
            }
        }
    }

    #[test]
    fn unknown_types_stop_decoding() {
        for ty in 0..=255u8 {
            for profile in Profile::ALL {
                let frame = [5, 103, 1, 16, 7, ty, 0xaa, 0xbb];
                let mut buf = FieldBuf::<64>::new();
                let d = buf.decode(&CayenneLpp::new(profile), Uplink::new(1, &frame));
                if profile.lookup(ty).is_none() {
                    assert_eq!(
                        d.error,
                        Some(DecodeError::new(4, ErrorKind::UnknownType(ty)))
                    );
                } else {
                    assert_ne!(d.error.map(|e| e.kind), Some(ErrorKind::UnknownType(ty)));
                }
            }
        }
        assert_eq!(
            json(Profile::Extended, &[5, 103, 1, 16, 7, 0x77, 0xaa, 0xbb]),
            r#"{"data":{"temperature_5":27.2},"errors":[{"kind":"unknown_type","message":"unknown type 0x77 at byte 4","offset":4,"type":119}]}"#
        );
        assert_eq!(
            json(Profile::Tts, &[5, 103, 1, 16, 7, 0x77, 0xaa, 0xbb]),
            r#"{"errors":[{"kind":"unknown_type","message":"unknown type 0x77 at byte 4","offset":4,"type":119}]}"#
        );
        assert_eq!(
            json(Profile::Tts, &[1, 116, 1, 44]),
            r#"{"errors":[{"kind":"unknown_type","message":"unknown type 0x74 at byte 0","offset":0,"type":116}]}"#
        );
    }

    /// An unknown type is caught by the record's bound test, however much payload follows.
    #[test]
    fn unknown_types_stop_long_frames_too() {
        let mut frame: Vec<u8> = [1, 103, 0, 1].repeat(40);
        frame.extend([7, 0x77]);
        frame.extend(core::iter::repeat_n(0xaa, 600));
        let mut buf = FieldBuf::<64>::new();
        let d = buf.decode(&CayenneLpp::new(Profile::Extended), Uplink::new(1, &frame));
        assert_eq!(
            d.error,
            Some(DecodeError::new(160, ErrorKind::UnknownType(0x77)))
        );
        // The 40 records before it are kept (as stored: one event each).
        assert_eq!(d.data.map(<[_]>::len), Some(40));
    }

    #[test]
    fn empty_and_repeated() {
        assert_eq!(both(&[]), "{}");
        assert_eq!(
            both(&[1, 103, 1, 16, 1, 103, 0, 255]),
            r#"{"temperature_1":25.5}"#
        );
        assert_eq!(
            both(&[1, 103, 0, 100, 1, 104, 80]),
            r#"{"relative_humidity_1":40,"temperature_1":10}"#
        );
        assert_eq!(
            both(&[10, 103, 0, 1, 2, 103, 0, 2, 255, 103, 0, 3]),
            r#"{"temperature_10":0.1,"temperature_2":0.2,"temperature_255":0.3}"#
        );
    }

    /// Objects reach a store through `Sink::object_slots`, through a `dyn Sink` as through
    /// the store itself, and any other sink through `Sink::object`: the same events.
    #[test]
    fn objects_are_the_same_through_every_sink_path() {
        use lorafield_core::{Codec, Event};
        #[rustfmt::skip]
        let frame = [
            3, 103, 0, 248,                           // temperature_3
            1, 136, 0, 0, 1, 0, 0, 2, 0, 0, 3,        // gps_1
            2, 135, 1, 2, 3,                          // colour_2
            4, 113, 0, 1, 0, 2, 0, 3,                 // accelerometer_4
        ];
        let codec = CayenneLpp::default();
        let mut stored = FieldBuf::<16>::new();
        let expected: Vec<Event<'_>> = stored
            .decode(&codec, Uplink::new(1, &frame))
            .data
            .unwrap()
            .to_vec();
        assert_eq!(expected.len(), 1 + 3 * 4);
        let mut by_dyn = FieldBuf::<16>::new();
        Codec::decode(&codec, Uplink::new(1, &frame), &mut by_dyn).unwrap();
        assert_eq!(by_dyn.events(), expected.as_slice());
        /// Keeps every event, with the default `object_slots` and `object`.
        struct Events<'a>(Vec<Event<'a>>, Vec<usize>);
        impl<'a> Sink<'a> for Events<'a> {
            fn field(&mut self, field: Field<'a>) -> Result<(), ErrorKind> {
                self.0.push(Event::Field(field));
                Ok(())
            }
            fn open(
                &mut self,
                name: &'static str,
                channel: Option<u8>,
                container: lorafield_core::Container,
            ) -> Result<(), ErrorKind> {
                self.1.push(self.0.len());
                let len = 0;
                self.0.push(Event::Open {
                    name,
                    channel,
                    container,
                    len,
                });
                Ok(())
            }
            fn close(&mut self) -> Result<(), ErrorKind> {
                let start = self.1.pop().ok_or(ErrorKind::Nesting)?;
                let inner = (self.0.len() - start - 1) as u32;
                if let Some(Event::Open { len, .. }) = self.0.get_mut(start) {
                    *len = inner;
                }
                Ok(())
            }
        }
        let mut events = Events(Vec::new(), Vec::new());
        codec.decode_into(&frame, &mut events).unwrap();
        assert_eq!(events.0, expected);
    }

    /// Found by fuzzing (lpp_roundtrip): a colour record whose members no longer fit the
    /// buffer left an empty `colour_2` in the data.
    #[test]
    fn a_record_that_overflows_the_buffer_inside_an_object_is_dropped_whole() {
        let mut frame: Vec<u8> = [1, 0, 0].repeat(3);
        frame.extend([1, 135, 1, 2, 3].repeat(63));
        frame.extend([2, 135, 1, 2, 3]);
        let mut buf = FieldBuf::<{ crate::MAX_EVENTS }>::new();
        let d = buf.decode(&CayenneLpp::default(), Uplink::new(1, &frame));
        assert_eq!(d.error, Some(DecodeError::new(324, ErrorKind::SinkFull)));
        let mut out = Vec::new();
        lorafield_core::json::JsonWriter::new().write_object(d.data.unwrap(), &mut out);
        assert_eq!(out, br#"{"colour_1":{"b":3,"g":2,"r":1},"digital_in_1":0}"#);
    }

    #[test]
    fn a_full_sink_is_an_error_at_the_record() {
        let mut buf = FieldBuf::<1>::new();
        let frame = [1, 103, 0, 1, 2, 103, 0, 2];
        let d = buf.decode(&CayenneLpp::default(), Uplink::new(1, &frame));
        assert_eq!(d.error, Some(DecodeError::new(4, ErrorKind::SinkFull)));
        let mut buf = FieldBuf::<2>::new();
        let gps = [1, 136, 0, 0, 1, 0, 0, 2, 0, 0, 3];
        let d = buf.decode(&CayenneLpp::default(), Uplink::new(1, &gps));
        assert_eq!(d.error, Some(DecodeError::new(0, ErrorKind::SinkFull)));
    }
}
