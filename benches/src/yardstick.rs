//! A yardstick for Milesight's engine (issue 13, "Milesight at LPP speed"): the EM300-TH's
//! three rules compiled by hand, one `match` on a pair's two bytes with each rule's read and
//! scaling in its arm, against the table engine on the same frames. Not a codec (it knows one
//! model's valid frames and stops at anything else): `benches/icount.sh yardstick` counts both,
//! to size what per-model compiled code would save against the table (benches/README.md,
//! "Milesight").

use std::sync::Arc;

use lorafield::Codec;
use lorafield_codec_milesight::Milesight;
use lorafield_core::{DecodeError, ErrorKind, Field, GenericCodec, Sink, Uplink, Value};

use crate::paths::Case;

/// How many frames each yardstick path decodes per iteration.
pub const FRAMES: usize = 1000;

/// The EM300-TH (`01 75` battery, `03 67` temperature / 10, `04 68` humidity / 2) as compiled
/// code: what a generator would write for each rule of a model's table.
pub struct Em300ThByHand;

impl GenericCodec for Em300ThByHand {
    const ID: &'static str = "em300-th by hand";

    #[inline]
    fn decode_generic<'a, S: Sink<'a> + ?Sized>(
        &self,
        uplink: Uplink<'a>,
        sink: &mut S,
    ) -> Result<(), DecodeError> {
        let p = uplink.payload;
        let mut i = 0;
        while i < p.len() {
            let at = i + 2;
            let eof = DecodeError::new(at, ErrorKind::UnexpectedEof);
            let num = |digits: i64, scale: u8| Value::Decimal { digits, scale };
            let (field, next) = match (p.get(i), p.get(i + 1)) {
                (Some(0x01), Some(0x75)) => {
                    let v = *p.get(at).ok_or(eof)?;
                    (Field::new("battery", None, num(v.into(), 0)), at + 1)
                }
                (Some(0x03), Some(0x67)) => {
                    let &[a, b] = p.get(at..at + 2).and_then(|s| s.first_chunk()).ok_or(eof)?;
                    let v = i16::from_le_bytes([a, b]);
                    (Field::new("temperature", None, num(v.into(), 1)), at + 2)
                }
                (Some(0x04), Some(0x68)) => {
                    let v = *p.get(at).ok_or(eof)?;
                    (
                        Field::new("humidity", None, num(i64::from(v) * 5, 1)),
                        at + 1,
                    )
                }
                (Some(&channel), Some(&ty)) => {
                    let pair = ErrorKind::UnknownPair { channel, ty };
                    return Err(DecodeError::new(i, pair));
                }
                _ => return Err(DecodeError::new(i, ErrorKind::UnexpectedEof)),
            };
            sink.field(field).map_err(|k| DecodeError::new(at, k))?;
            i = next;
        }
        Ok(())
    }
}

/// 1,000 EM300-TH frames: battery, temperature (-20.0 to 79.9 °C), humidity, each frame's
/// values different.
pub fn em300_th_frames() -> Vec<Vec<u8>> {
    (0..FRAMES)
        .map(|k| {
            let k = u16::try_from(k).unwrap_or(0);
            let t = (k as i16 % 1000 - 200).to_le_bytes();
            let battery = (k % 101) as u8;
            let humidity = (k % 201) as u8;
            vec![
                0x01, 0x75, battery, 0x03, 0x67, t[0], t[1], 0x04, 0x68, humidity,
            ]
        })
        .collect()
}

/// The yardstick's frames with the table engine's codec (`by_hand` false) or the hand-compiled
/// one, each behind `Arc<dyn Codec>` as the registry hands codecs out.
pub fn cases(by_hand: bool) -> Vec<Case<Arc<dyn Codec>>> {
    let codec: Arc<dyn Codec> = if by_hand {
        Arc::new(Em300ThByHand)
    } else {
        Arc::new(Milesight::for_model("em300-th").expect("a model"))
    };
    em300_th_frames()
        .into_iter()
        .map(|payload| Case {
            codec: codec.clone(),
            f_port: 85,
            payload,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lorafield::FieldBuf;

    /// The yardstick measures the same work: both codecs give the same fields on every frame.
    #[test]
    fn by_hand_decodes_as_the_table_engine() {
        let (table, by_hand) = (cases(false), cases(true));
        for (t, h) in table.iter().zip(&by_hand) {
            let (mut a, mut b) = (FieldBuf::<16>::new(), FieldBuf::<16>::new());
            let (mut x, mut y) = (Vec::new(), Vec::new());
            lorafield::decode(&*t.codec, 85, &t.payload, &mut a).write_json(&mut x);
            lorafield::decode(&*h.codec, 85, &h.payload, &mut b).write_json(&mut y);
            assert_eq!(x, y, "{:02x?}", t.payload);
        }
        let text = |p: &[u8]| {
            let mut out = Vec::new();
            lorafield::decode(&Em300ThByHand, 85, p, &mut FieldBuf::<16>::new())
                .write_json(&mut out);
            String::from_utf8(out).unwrap()
        };
        // Frame 0: battery 0, temperature -20.0, humidity 0.
        assert_eq!(
            text(&em300_th_frames()[0]),
            r#"{"data":{"battery":0,"humidity":0,"temperature":-20}}"#
        );
        // A temperature cut short: its offset, not a panic.
        assert!(text(&[0x03, 0x67, 0x10]).contains(r#""offset":2"#));
    }
}
