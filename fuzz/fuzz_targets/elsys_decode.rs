//! Elsys: the input is the payload (port 5); see `lorafield_fuzz::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lorafield::JsonWriter;
use lorafield_codec_elsys::Elsys;

fuzz_target!(|data: &[u8]| {
    lorafield_fuzz::check(&Elsys, 5, data, &mut JsonWriter::new());
});
