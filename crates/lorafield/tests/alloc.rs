//! Through the facade (registry-built codec, `dyn Codec`), decoding allocates nothing, and the
//! JSON writer allocates nothing once its buffers have grown.
//!
//! Run without libtest (`harness = false`): the allocation counter is global, and libtest's main
//! thread allocates (the test's bookkeeping) at moments of the scheduler's choosing, which made
//! the count fail now and then on a busy machine.

use std::alloc::System;
use std::hint::black_box;

use lorafield::{FieldBuf, JsonWriter, MAX_EVENTS, Options, Registry};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    steady_state_decoding_and_json_allocate_nothing();
    println!("alloc: steady-state decoding and JSON allocate nothing");
}

fn steady_state_decoding_and_json_allocate_nothing() {
    let frames: [&[u8]; 4] = [
        &[3, 0x67, 0, 0xf8, 4, 2, 0x85, 0xfc],
        &[
            1, 0x88, 6, 0x76, 0x5f, 0xf2, 0x96, 0x0a, 0, 3, 0xe8, 2, 0x71, 4, 0xd2, 0xfb, 0x2e, 0,
            0,
        ],
        &[5, 0x67, 1, 0x10, 7, 0x77, 0xaa],
        &[],
    ];
    let registry = Registry::builtin();
    for profile in ["tts", "extended"] {
        let codec = registry
            .build("cayenne-lpp", &Options::default().profile(profile))
            .unwrap();
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(4096);
        // Warm up: the writer's buffers grow once.
        for frame in frames {
            let d = lorafield::decode(&*codec, 1, frame, &mut buf);
            json.write_result(&d, &mut out);
            lorafield::decode_json(&*codec, 1, frame, &mut json, &mut out);
        }
        let region = Region::new(GLOBAL);
        let mut bytes = 0;
        for _ in 0..200 {
            for frame in frames {
                out.clear();
                let d = lorafield::decode(&*codec, 1, frame, &mut buf);
                json.write_result(&d, &mut out);
                bytes += black_box(out.len());
                // Reading values by key and path borrows too.
                black_box(d.get("temperature_3"));
                black_box(d.get("gps_1.latitude"));
            }
        }
        let stats = region.change();
        assert!(bytes > 0);
        let d = lorafield::decode(&*codec, 1, frames[1], &mut buf);
        assert_eq!(
            d.get("gps_1.latitude").and_then(|v| v.as_f64()),
            Some(42.3519)
        );
        assert_eq!(
            (stats.allocations, stats.reallocations),
            (0, 0),
            "{profile}"
        );
    }
}
