//! Envelopes: the input is a stream of records (JSON Lines, pages, arrays, anything). Framing
//! and re-decoding must never panic; every record read is accounted for; every line written
//! (records or, with `errors`, error reports) is one JSON object; a second re-decode of what
//! was written changes nothing.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lorafield::{Registry, Selection};
use lorafield_envelope::batch::{Settings, process_chunk};
use lorafield_envelope::{Framer, Redecoder, Status};

fn selection() -> &'static Selection {
    static S: OnceLock<Selection> = OnceLock::new();
    S.get_or_init(|| Selection::builtin_default(&Registry::builtin()))
}

fuzz_target!(|data: &[u8]| {
    let selection = selection();
    let mut r = Redecoder::new(selection);
    for settings in [
        Settings::default(),
        Settings {
            diff: false,
            errors: true,
        },
    ] {
        let mut framer = Framer::new(data);
        while let Some(chunk) = framer.next_chunk(256) {
            let o = process_chunk(&mut r, &chunk, "fuzz", &settings);
            assert!(o.counts.balanced(false), "{:?}", o.counts);
            for line in o
                .out
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .chain(o.errors.split(|&b| b == b'\n').filter(|l| !l.is_empty()))
            {
                let v: serde_json::Value = serde_json::from_slice(line)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)));
                assert!(v.is_object());
            }
            // Idempotence: what was written, re-decoded, is written again as it is.
            for line in o.out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let text = std::str::from_utf8(line).unwrap();
                let mut again = Vec::new();
                let outcome = r.redecode(text, &mut again);
                if outcome.status != Status::Page {
                    assert_eq!(again, line, "{text}");
                }
            }
        }
    }
});
