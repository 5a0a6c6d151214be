//! Decode, encode, decode again: under both profiles, the data a frame decodes to must encode
//! (`encode_events`) and decode back to the same JSON `data` text; a frame without errors must
//! give the same whole result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lorafield_codec_lpp::{CayenneLpp, MAX_EVENTS, Profile, encode_events};
use lorafield_core::FieldBuf;
use lorafield_core::json::JsonWriter;

/// The encoder's output buffer. Kept records re-encode to their own size, so any input no
/// longer than this fits.
const OUT: usize = 512;

fuzz_target!(|data: &[u8]| {
    if data.len() > OUT {
        return;
    }
    let mut writer = JsonWriter::new();
    for profile in Profile::ALL {
        let codec = CayenneLpp::new(profile);
        let mut first = FieldBuf::<MAX_EVENTS>::new();
        let decoded = lorafield::decode(&codec, 1, data, &mut first);
        // Under `tts` a frame with an error keeps nothing to encode.
        let Some(events) = decoded.data else { continue };

        let mut out = [0u8; OUT];
        let n = encode_events(events, profile, &mut out)
            .unwrap_or_else(|e| panic!("{profile}: encode_events failed: {e} ({e:?})"));
        let encoded = out.get(..n).unwrap_or_default();

        let mut second = FieldBuf::<MAX_EVENTS>::new();
        let again = lorafield::decode(&codec, 1, encoded, &mut second);
        let (mut data1, mut data2) = (Vec::new(), Vec::new());
        writer.write_object(events, &mut data1);
        if let Some(events2) = again.data {
            writer.write_object(events2, &mut data2);
        }
        assert_eq!(
            String::from_utf8_lossy(&data2),
            String::from_utf8_lossy(&data1),
            "{profile}: data differs after re-encoding to {encoded:02x?} (result {:?})",
            again.error
        );
        if !decoded.has_errors() {
            let (mut json1, mut json2) = (Vec::new(), Vec::new());
            writer.write_result(&decoded, &mut json1);
            writer.write_result(&again, &mut json2);
            assert_eq!(
                String::from_utf8_lossy(&json2),
                String::from_utf8_lossy(&json1),
                "{profile}: result differs after re-encoding to {encoded:02x?}"
            );
        }
    }
});
