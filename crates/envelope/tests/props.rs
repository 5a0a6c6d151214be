//! Whatever the text, re-decoding never panics and writes one JSON object per record.

use lorafield::{Registry, Selection};
use lorafield_envelope::batch::{Settings, process_chunk};
use lorafield_envelope::{Framer, Redecoder, Status};
use proptest::prelude::*;

fn samples() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/envelopes/sample.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// A sample record with some of its bytes replaced, removed or repeated.
fn mutated() -> impl Strategy<Value = String> {
    let samples = samples();
    (
        0..samples.len(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 0..6),
    )
        .prop_map(move |(i, edits)| {
            let mut bytes = samples[i].clone().into_bytes();
            for (at, op, b) in edits {
                if bytes.is_empty() {
                    break;
                }
                let at = at.index(bytes.len());
                match op {
                    0 => bytes[at] = b"{}[]\",:\\ 0aA/+="[usize::from(b) % 15],
                    1 => {
                        bytes.remove(at);
                    }
                    2 => bytes.truncate(at),
                    _ => {
                        let part = bytes[at..]
                            .iter()
                            .take(usize::from(b) % 40)
                            .copied()
                            .collect::<Vec<_>>();
                        bytes.splice(at..at, part);
                    }
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_record_gives_a_json_object_or_a_page(record in mutated()) {
        let selection = Selection::builtin_default(&Registry::builtin());
        let mut r = Redecoder::new(&selection);
        let mut out = Vec::new();
        let o = r.redecode(&record, &mut out);
        if o.status == Status::Page {
            prop_assert!(out.is_empty());
        } else {
            let v: serde_json::Value = serde_json::from_slice(&out)
                .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&out))))?;
            prop_assert!(v.is_object());
            prop_assert!(!out.contains(&b'\n'));
        }
        prop_assert_eq!(o.status == Status::Failed, o.reason.is_some());
    }

    #[test]
    fn any_bytes_are_accounted_for(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let selection = Selection::builtin_default(&Registry::builtin());
        let mut r = Redecoder::new(&selection);
        let mut framer = Framer::new(&bytes[..]);
        let settings = Settings::default();
        while let Some(chunk) = framer.next_chunk(64) {
            let o = process_chunk(&mut r, &chunk, "fuzz", &settings);
            prop_assert!(o.counts.balanced(false));
            prop_assert_eq!(o.out.iter().filter(|&&b| b == b'\n').count() as u64, o.counts.written);
        }
    }
}
