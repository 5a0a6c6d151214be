//! The peer: the crates.io `cayenne_lpp` crate (0.4), decode-only and decode + the same TTS
//! JSON built with serde_json.
//!
//! The crate decodes into `f32` and reads the barometer and the gyrometer unsigned. To print what
//! The Things Stack prints, those two are read again as int16, each value is rounded back to its
//! type's decimals (`raw / divisor` exactly, as TTS computes it) and integral values become JSON
//! integers. The bench setup checks that the text equals TTS's for every frame.

use cayenne_lpp::{CayenneLPP, CayenneLPPValue};
use serde_json::{Map, Number, Value};

/// Decodes every frame and returns a checksum (so nothing is optimised away).
pub fn decode_only(frames: &mut [Vec<u8>]) -> u64 {
    let mut n = 0u64;
    for frame in frames.iter_mut() {
        for scalar in CayenneLPP::new(frame).into_iter().flatten() {
            n = n.wrapping_add(u64::from(scalar.channel));
            std::hint::black_box(&scalar);
        }
    }
    n
}

/// Every frame to The Things Stack's JSON text ([`decode_to_json`], the output buffer cleared
/// before each); returns a checksum.
pub fn json_all(frames: &mut [Vec<u8>], out: &mut Vec<u8>) -> usize {
    let mut n = 0;
    for frame in frames.iter_mut() {
        out.clear();
        decode_to_json(frame, out);
        n += out.len();
    }
    n
}

/// Powers of ten by number of decimals.
const SCALE: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, 10000.0];

fn num(v: f32, decimals: usize) -> Value {
    let scale = SCALE[decimals];
    let exact = (f64::from(v) * scale).round() / scale;
    if exact.fract() == 0.0 && exact.abs() < 9.0e15 {
        Value::Number(Number::from(exact as i64))
    } else {
        Number::from_f64(exact).map_or(Value::Null, Value::Number)
    }
}

/// An unsigned 16-bit reading divided by `divisor`, read again as two's complement.
fn as_int16(v: f32, divisor: f32) -> f32 {
    if v * divisor > 32767.5 {
        v - 65536.0 / divisor
    } else {
        v
    }
}

fn xyz(x: f32, y: f32, z: f32, decimals: usize) -> Value {
    let mut m = Map::new();
    m.insert("x".into(), num(x, decimals));
    m.insert("y".into(), num(y, decimals));
    m.insert("z".into(), num(z, decimals));
    Value::Object(m)
}

/// Decodes one frame into The Things Stack's `decoded_payload` JSON text, appended to `out`.
pub fn decode_to_json(frame: &mut [u8], out: &mut Vec<u8>) {
    let mut map = Map::new();
    for scalar in CayenneLPP::new(frame).into_iter().flatten() {
        let ch = scalar.channel;
        let (name, value) = match scalar.value {
            CayenneLPPValue::DigitalInput(v) => ("digital_in", Value::from(v)),
            CayenneLPPValue::DigitalOutput(v) => ("digital_out", Value::from(v)),
            CayenneLPPValue::AnalogInput(v) => ("analog_in", num(v, 2)),
            CayenneLPPValue::AnalogOutput(v) => ("analog_out", num(v, 2)),
            CayenneLPPValue::Luminosity(v) => ("luminosity", Value::from(v)),
            CayenneLPPValue::Presence(v) => ("presence", Value::from(v)),
            CayenneLPPValue::Temperature(v) => ("temperature", num(v, 1)),
            CayenneLPPValue::RelativeHumidity(v) => ("relative_humidity", num(v, 1)),
            CayenneLPPValue::Accelerometer(x, y, z) => ("accelerometer", xyz(x, y, z, 3)),
            // The crate reads the barometer and the gyrometer unsigned; The Things Stack reads
            // both as int16.
            CayenneLPPValue::BarometricPressure(v) => {
                ("barometric_pressure", num(as_int16(v, 10.0), 1))
            }
            CayenneLPPValue::Gyrometer(x, y, z) => {
                let s = |v| as_int16(v, 100.0);
                ("gyrometer", xyz(s(x), s(y), s(z), 2))
            }
            CayenneLPPValue::GPS(lat, lon, alt) => {
                let mut m = Map::new();
                m.insert("latitude".into(), num(lat, 4));
                m.insert("longitude".into(), num(lon, 4));
                m.insert("altitude".into(), num(alt, 2));
                ("gps", Value::Object(m))
            }
            // Extended types: not in The Things Stack's profile.
            _ => continue,
        };
        map.insert(format!("{name}_{ch}"), value);
    }
    serde_json::to_writer(out, &map).expect("writing to a Vec");
}
