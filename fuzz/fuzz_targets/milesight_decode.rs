//! Milesight, every model: the first byte picks the model, the rest is the payload (port 85);
//! see `lorafield_fuzz::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lorafield::JsonWriter;
use lorafield_codec_milesight::{Milesight, models};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let all: Vec<_> = models().collect();
    let model = all[usize::from(pick) % all.len()];
    lorafield_fuzz::check(&Milesight::new(model), 85, payload, &mut JsonWriter::new());
});
