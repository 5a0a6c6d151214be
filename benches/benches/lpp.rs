//! Cayenne LPP: decode-only and decode + TTS JSON, lorafield and the crates.io `cayenne_lpp`
//! crate on the same 1,000 frames in the same run. Throughput is in payload bytes; one
//! iteration decodes all 1,000 frames. lorafield's JSON is timed on both paths: rendering while
//! decoding (`decode_json`, what the CLI uses) and storing the fields in a `FieldBuf` first.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lorafield::{FieldBuf, JsonWriter, MAX_EVENTS, Options, Registry, Uplink};
use lorafield_benches::{lpp_frames, peer};
use lorafield_codec_lpp::{CayenneLpp, Profile};

fn lpp(c: &mut Criterion) {
    let input = lpp_frames();
    let frames = &input.frames;
    eprintln!(
        "frames: {} ({} bytes) from {}",
        frames.len(),
        input.bytes(),
        input.source
    );
    let codec = Registry::builtin()
        .build("cayenne-lpp", &Options::default().profile("tts"))
        .unwrap();
    let direct = CayenneLpp::new(Profile::Tts);

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

    let mut g = c.benchmark_group("lpp/decode-only");
    g.throughput(Throughput::Bytes(input.bytes()));
    g.bench_function("lorafield (dyn Codec into FieldBuf)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        b.iter(|| {
            let mut n = 0;
            for frame in frames {
                n += buf
                    .decode(&*codec, Uplink::new(1, frame))
                    .data
                    .map_or(0, <[_]>::len);
            }
            black_box(n)
        })
    });
    g.bench_function("lorafield (CayenneLpp into FieldBuf, static)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        b.iter(|| {
            let mut n = 0;
            for frame in frames {
                n += buf
                    .decode(&direct, Uplink::new(1, frame))
                    .data
                    .map_or(0, <[_]>::len);
            }
            black_box(n)
        })
    });
    g.bench_function("lorafield (CayenneLpp::decode_into a FieldBuf)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        b.iter(|| {
            let mut n = 0;
            for frame in frames {
                buf.clear();
                n += usize::from(direct.decode_into(frame, &mut buf).is_ok()) + buf.events().len();
            }
            black_box(n)
        })
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
        b.iter(|| {
            let mut n = 0;
            for frame in frames {
                out.clear();
                let outcome = lorafield::decode_json(&*codec, 1, frame, &mut json, &mut out);
                n += outcome.data.map_or(0, |r| r.len());
            }
            black_box(n)
        })
    });
    g.bench_function("lorafield (CayenneLpp + JsonWriter, static)", |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            let mut n = 0;
            for frame in frames {
                out.clear();
                let outcome = json.decode(&direct, Uplink::new(1, frame), &mut out);
                n += outcome.data.map_or(0, |r| r.len());
            }
            black_box(n)
        })
    });
    g.bench_function("lorafield (FieldBuf + JsonWriter)", |b| {
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            let mut n = 0;
            for frame in frames {
                out.clear();
                let d = lorafield::decode(&*codec, 1, frame, &mut buf);
                if let Some(events) = d.data {
                    json.write_object(events, &mut out);
                }
                n += out.len();
            }
            black_box(n)
        })
    });
    g.bench_function("cayenne_lpp 0.4 + serde_json", |b| {
        let mut peer_frames = frames.clone();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            let mut n = 0;
            for frame in peer_frames.iter_mut() {
                out.clear();
                peer::decode_to_json(frame, &mut out);
                n += out.len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, lpp);
criterion_main!(benches);
