//! Re-decoding a record whose decoded payload is as it was allocates at most once (serde_json's
//! scratch) in steady state: the re-decoder's buffers and the output are reused, strings are
//! borrowed from the record, the codec allocates nothing. (A record whose stored payload differs
//! in its text is compared as JSON values, which allocates.)

use std::alloc::System;
use std::hint::black_box;

use lorafield::{Registry, Selection};
use lorafield_envelope::{Redecoder, Status};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn redecoding_unchanged_and_passed_records_allocates_nothing() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/envelopes/sample.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let selection = Selection::builtin_default(&Registry::builtin());
    let mut r = Redecoder::new(&selection);
    // One pass makes every record's decoded payload ours: the second pass finds them unchanged.
    let mut records = Vec::new();
    for line in text.lines() {
        let mut out = Vec::new();
        r.redecode(line, &mut out);
        records.push(String::from_utf8(out).unwrap());
    }
    let mut out = Vec::with_capacity(1 << 16);
    for record in &records {
        out.clear();
        let status = r.redecode(record, &mut out).status;
        assert!(
            matches!(status, Status::Unchanged | Status::PassedThrough),
            "{status:?}"
        );
    }
    // Other threads of the test harness may allocate meanwhile: the least of three counts.
    let least = (0..3)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for _ in 0..100 {
                for record in &records {
                    out.clear();
                    black_box(r.redecode(black_box(record), &mut out).status);
                }
            }
            region.change().allocations
        })
        .min()
        .unwrap();
    // serde_json's parser allocates its scratch stack once per record (a new `Deserializer`
    // per record, and no way to hand it a reused buffer); lorafield itself, nothing.
    let per_record = least as f64 / (100 * records.len()) as f64;
    assert!(per_record <= 1.0, "{per_record} allocations per record");
}
