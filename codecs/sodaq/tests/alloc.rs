//! Decoding allocates nothing: a counting global allocator around the whole decode path.

use std::alloc::System;
use std::hint::black_box;

use lorafield_codec_sodaq::{MAX_EVENTS, Model, SodaqTracker};
use lorafield_core::{FieldBuf, Uplink};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

// One test only: the counters are process-wide, and other tests would run alongside.
#[test]
fn decoding_into_a_fieldbuf_allocates_nothing() {
    let frames: Vec<Vec<u8>> = [
        // A report, the same with one and three previous fixes, the LPP mode, an NB-IoT frame,
        // and frames of invalid lengths.
        "bf41835976193a540b1f824b0b03f1ff0f008c050b",
        "bf41835976193a540b1f824b0b03f1ff0f008c050b840300c70a1fc0320a03",
        "bf41835976193a540b1f824b0b03f1ff0f008c050b840300c70a1fc0320a03ffff000000800000008010000000000000000000",
        "018807fde200bf0b000834020201a403670118",
        "010145292a2bfbfc0000000000000000e6e3355c751a879de31e6535d10306005600d00402",
        "bf41835976193a540b1f824b0b03f1ff0f008c05",
        "",
    ]
    .iter()
    .map(|h| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect())
    .collect();
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    for model in Model::ALL {
        let codec = SodaqTracker::new(model);
        let mut events = 0;
        // The global allocator counts every thread's allocations, the test harness's too: an
        // allocation per frame shows in every try, a stray one of another thread in one at most.
        let stats = (0..3)
            .map(|_| {
                let region = Region::new(GLOBAL);
                for _ in 0..100 {
                    for frame in &frames {
                        let decoded = buf.decode(&codec, Uplink::new(1, frame));
                        events += black_box(decoded.data.map_or(0, <[_]>::len));
                    }
                }
                let s = region.change();
                (s.allocations, s.reallocations, s.bytes_allocated)
            })
            .min()
            .unwrap();
        assert!(events > 0);
        assert_eq!(stats, (0, 0, 0), "{model}");
    }
}
