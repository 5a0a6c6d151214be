//! Decoding allocates nothing: a counting global allocator around the whole decode path.

use std::alloc::System;
use std::hint::black_box;

use lorafield_codec_lpp::{CayenneLpp, MAX_EVENTS, Profile};
use lorafield_core::{FieldBuf, Uplink};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

// One test only: the counters are process-wide, and other tests would run alongside.
#[test]
fn decoding_into_a_fieldbuf_allocates_nothing() {
    let frames: Vec<Vec<u8>> = [
        "036700f8040285fc",
        "0100ff0201640302154a0403eab6056501f40666320767ff640868630971fe58000f06820a7329ef0b8601630231fe660c8807fd8700bef500086a",
        "01640000002a0274012c0375ffff04760036ee800578640679fff8077d01900880012c0982000186a00a83000f42400b84010e0c85655f0a000d87ff8000108e01",
        "0367011005",
        "056701100777aabb",
        "",
    ]
    .iter()
    .map(|h| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect())
    .collect();
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    for profile in Profile::ALL {
        let codec = CayenneLpp::new(profile);
        let mut fields = 0;
        // The global allocator counts every thread's allocations, the test harness's too: an
        // allocation per frame shows in every try, a stray one of another thread in one at most.
        let stats = (0..3)
            .map(|_| {
                let region = Region::new(GLOBAL);
                for _ in 0..100 {
                    for frame in &frames {
                        let decoded = buf.decode(&codec, Uplink::new(1, frame));
                        fields += black_box(decoded.data.map_or(0, <[_]>::len));
                    }
                }
                let s = region.change();
                (s.allocations, s.reallocations, s.bytes_allocated)
            })
            .min()
            .unwrap();
        assert!(fields > 0);
        assert_eq!(stats, (0, 0, 0), "{profile}");
    }
}
