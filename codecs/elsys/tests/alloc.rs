//! Decoding allocates nothing: a counting global allocator around the whole decode path.

use std::alloc::System;
use std::hint::black_box;

use lorafield_codec_elsys::{Elsys, MAX_EVENTS};
use lorafield_core::{FieldBuf, Uplink};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

// One test only: the counters are process-wide, and other tests would run alongside.
#[test]
fn decoding_into_a_fieldbuf_allocates_nothing() {
    let mut grideye = String::from("130a");
    grideye.push_str(&"05".repeat(64));
    let frames: Vec<Vec<u8>> = [
        // Typical frames, a repeated externalTemperature2 (an array), a Grid-EYE, an unknown
        // type (a warning), a record cut short (an error) and an empty frame.
        "0100e202290400270506060308070e10",
        "0100e202290301270514060101110e2311",
        "1900e21900f01900011a01",
        grideye.as_str(),
        "0100e2770102",
        "0100e20229040027",
        "",
    ]
    .iter()
    .map(|h| {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    })
    .collect();
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let mut events = 0;
    // The global allocator counts every thread's allocations, the test harness's too: an
    // allocation per frame shows in every try, a stray one of another thread in one at most.
    let stats = (0..3)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for _ in 0..100 {
                for frame in &frames {
                    let decoded = buf.decode(&Elsys, Uplink::new(5, frame));
                    events += black_box(decoded.data.map_or(0, <[_]>::len));
                }
            }
            let s = region.change();
            (s.allocations, s.reallocations, s.bytes_allocated)
        })
        .min()
        .unwrap();
    assert!(events > 0);
    assert_eq!(stats, (0, 0, 0));
}
