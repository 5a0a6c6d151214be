//! Cayenne LPP: decode-only and decode + TTS JSON, lorafield and the crates.io `cayenne_lpp`
//! crate on the same 1,000 frames in the same run. Throughput is in payload bytes; one
//! iteration decodes all 1,000 frames. lorafield's JSON is timed on both paths: rendering while
//! decoding (`decode_json`, what the CLI uses) and storing the fields in a `FieldBuf` first.
//! The timed loops are `lorafield_benches::paths::Lpp`'s, which `icount` also runs.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lorafield::{FieldBuf, JsonWriter, MAX_EVENTS, Options, Registry};
use lorafield_benches::paths::Lpp;
use lorafield_benches::{lpp_frames, peer};

fn lpp(c: &mut Criterion) {
    let input = lpp_frames();
    let frames = &input.frames;
    eprintln!(
        "frames: {} ({} bytes) from {}",
        frames.len(),
        input.bytes(),
        input.source
    );
    let registry = Registry::builtin();
    let options = Options::default().profile("tts");
    let codec = registry.build("cayenne-lpp", &options).unwrap();
    let builtin = registry.build_builtin("cayenne-lpp", &options).unwrap();

    // Both paths must print exactly The Things Stack's text before they are timed.
    if let Some(expected) = &input.expected {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let mut json = JsonWriter::new();
        let mut peer_frames = frames.clone();
        for (i, frame) in frames.iter().enumerate() {
            let mut ours = Vec::new();
            let d = lorafield::decode(&*codec, 1, frame, &mut buf);
            json.write_object(d.data.unwrap(), &mut ours);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                expected[i],
                "lorafield, frame {i}"
            );
            let mut ours = Vec::new();
            let d = lorafield::decode(&builtin, 1, frame, &mut buf);
            json.write_object(d.data.unwrap(), &mut ours);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                expected[i],
                "lorafield (Builtin), frame {i}"
            );
            let mut theirs = Vec::new();
            peer::decode_to_json(&mut peer_frames[i], &mut theirs);
            assert_eq!(
                String::from_utf8(theirs).unwrap(),
                expected[i],
                "peer, frame {i}"
            );
        }
        eprintln!(
            "both paths print The Things Stack's text for all {} frames",
            frames.len()
        );
    }

    let lpp = Lpp::new(frames.clone());
    let mut g = c.benchmark_group("lpp/decode-only");
    g.throughput(Throughput::Bytes(input.bytes()));
    g.bench_function("lorafield (dyn Codec into FieldBuf)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        b.iter(|| black_box(lpp.registry_decode(&mut buf)))
    });
    g.bench_function("lorafield (Builtin into FieldBuf)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        b.iter(|| black_box(lpp.builtin_decode(&mut buf)))
    });
    g.bench_function("lorafield (CayenneLpp into FieldBuf, static)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        b.iter(|| black_box(lpp.static_decode(&mut buf)))
    });
    g.bench_function("lorafield (CayenneLpp::decode_into a FieldBuf)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        b.iter(|| black_box(lpp.decode_into(&mut buf)))
    });
    g.bench_function("cayenne_lpp 0.4", |b| {
        let mut peer_frames = frames.clone();
        b.iter(|| black_box(peer::decode_only(&mut peer_frames)))
    });
    g.finish();

    let mut g = c.benchmark_group("lpp/decode+json");
    g.throughput(Throughput::Bytes(input.bytes()));
    g.bench_function("lorafield (decode_json)", |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| black_box(lpp.registry_json(&mut json, &mut out)))
    });
    g.bench_function("lorafield (Builtin decode_json)", |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| black_box(lpp.builtin_json(&mut json, &mut out)))
    });
    g.bench_function("lorafield (CayenneLpp + JsonWriter, static)", |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| black_box(lpp.static_json(&mut json, &mut out)))
    });
    g.bench_function("lorafield (FieldBuf + JsonWriter)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| black_box(lpp.fieldbuf_json(&mut buf, &mut json, &mut out)))
    });
    g.bench_function("cayenne_lpp 0.4 + serde_json", |b| {
        let mut peer_frames = frames.clone();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| black_box(peer::json_all(&mut peer_frames, &mut out)))
    });
    g.finish();
}

criterion_group!(benches, lpp);
criterion_main!(benches);
