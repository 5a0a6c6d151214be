//! Decoding allocates nothing: every model, a counting global allocator around the decode path.

use std::alloc::System;
use std::hint::black_box;

use lorafield_codec_milesight::{MAX_EVENTS, Milesight, models};
use lorafield_core::{FieldBuf, Uplink};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

// One test only: the counters are process-wide.
#[test]
fn decoding_into_a_fieldbuf_allocates_nothing() {
    let frames: [&[u8]; 5] = [
        &[
            0x01, 0x75, 0x5c, 0x03, 0x67, 0x34, 0x01, 0x04, 0x68, 0x65, 0x07, 0x7d, 0xe7, 0x04,
        ],
        &[
            0x20, 0xce, 1, 0, 0, 0, 0x34, 0x01, 0x65, 0, 0, 9, 0xe7, 0x04, 7, 0, 0x3f, 0x27,
        ],
        &[0x99, 0x99, 1],
        &[0x03, 0x67, 0x34],
        &[],
    ];
    let codecs: Vec<Milesight> = models().map(Milesight::new).collect();
    let mut buf = FieldBuf::<MAX_EVENTS>::new();
    let mut n = 0;
    // The global allocator counts every thread's allocations, the test harness's too: an
    // allocation per frame shows in every try, a stray one of another thread in one at most.
    let stats = (0..3)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for codec in &codecs {
                for frame in frames {
                    n += black_box(
                        buf.decode(codec, Uplink::new(85, frame))
                            .data
                            .map_or(0, <[_]>::len),
                    );
                }
            }
            let s = region.change();
            (s.allocations, s.reallocations, s.bytes_allocated)
        })
        .min()
        .unwrap();
    assert!(n > 0);
    assert_eq!((stats.0, stats.1), (0, 0));
}
