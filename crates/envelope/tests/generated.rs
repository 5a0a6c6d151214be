//! Every generated share re-decodes: the stale ones change (and only they), a second pass
//! changes nothing.

use lorafield::{Registry, Selection};
use lorafield_envelope::batch::{Settings, process_chunk};
use lorafield_envelope::generate::{DateEncoding, GenOptions, Shape, write_shares};
use lorafield_envelope::{Framer, Redecoder};

#[test]
fn generated_shares_of_every_kind_redecode() {
    let selection = Selection::builtin_default(&Registry::builtin());
    for (encoding, shape) in [
        (DateEncoding::V2017, Shape::TtnV2),
        (DateEncoding::V2020, Shape::TtsV3),
        (DateEncoding::Mixed, Shape::Mixed),
    ] {
        let options = GenOptions {
            count: 3000,
            seed: 11,
            encoding,
            shape,
            stale: 0.2,
        };
        let mut input = Vec::new();
        let generated = write_shares(&options, &mut input).unwrap();
        let mut r = Redecoder::new(&selection);
        let settings = Settings::default();
        let mut framer = Framer::new(&input[..]);
        let (mut out, mut counts) = (Vec::new(), Vec::new());
        while let Some(chunk) = framer.next_chunk(1 << 16) {
            let o = process_chunk(&mut r, &chunk, "gen", &settings);
            out.extend(o.out);
            counts.push(o.counts);
        }
        let read: u64 = counts.iter().map(|c| c.read).sum();
        let decoded: u64 = counts.iter().map(|c| c.decoded).sum();
        let changed: u64 = counts.iter().map(|c| c.changed).sum();
        assert_eq!(read, 3000, "{encoding:?} {shape:?}");
        assert_eq!(decoded, 3000, "{encoding:?} {shape:?}");
        assert_eq!(changed, generated.stale as u64, "{encoding:?} {shape:?}");
        // Again: nothing changes, byte for byte.
        let mut framer = Framer::new(&out[..]);
        let mut again = Vec::new();
        while let Some(chunk) = framer.next_chunk(1 << 16) {
            let o = process_chunk(&mut r, &chunk, "again", &settings);
            assert_eq!(o.counts.changed, 0);
            assert_eq!(o.counts.decoded, o.counts.read);
            again.extend(o.out);
        }
        assert!(
            again == out,
            "{encoding:?} {shape:?}: a second pass changed bytes"
        );
    }
}
