//! Sodaq trackers, every model: the input is the payload (port 1); see `lorafield_fuzz::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lorafield::JsonWriter;
use lorafield_codec_sodaq::{Model, SodaqTracker};

fuzz_target!(|data: &[u8]| {
    let mut writer = JsonWriter::new();
    for model in Model::ALL {
        lorafield_fuzz::check(&SodaqTracker::new(model), 1, data, &mut writer);
    }
});
