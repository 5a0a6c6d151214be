//! Script codecs against the native codec decoding the same frames: Cayenne LPP's 1,000 TTS
//! frames decoded to JSON by the native codec and by `fixtures/js/bench/lpp.js` (4 KB, a
//! typical size: the device repository's median script is 4 KB) and `lpp-large.js` (66 KB, a
//! large one: 31 of its scripts are over 40 KB), each in a cached context (lorafield's way) and
//! in a fresh context per uplink (The Things Stack's way), on one thread and on two. Throughput
//! is in frames, so criterion prints frames/s.
//!
//! The scripts print what the native codec prints for these frames (checked before timing).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lorafield::{Codec, JsonWriter, Uplink};
use lorafield_benches::lpp_frames;
use lorafield_codec_js::{Isolation, JsCodec, JsOptions, Script};
use lorafield_codec_lpp::{CayenneLpp, Profile};
use rayon::prelude::*;

/// Frames a fresh context decodes per iteration (each evaluates the whole script).
const FRESH_FRAMES: usize = 20;

fn script(file: &str, isolation: Isolation) -> JsCodec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/js/bench")
        .join(file);
    let script = Script::from_file(&path).expect("bench script");
    let options = JsOptions {
        isolation,
        ..JsOptions::default()
    };
    JsCodec::new(script, options).expect("bench script loads")
}

/// Decodes `frames` to JSON with `codec`; the bytes written.
fn decode_all<C: Codec + ?Sized>(codec: &C, frames: &[Vec<u8>], json: &mut JsonWriter) -> usize {
    let mut out = Vec::with_capacity(512);
    let mut n = 0;
    for frame in frames {
        out.clear();
        json.decode(codec, Uplink::new(1, frame), &mut out);
        n += out.len();
    }
    n
}

fn js(c: &mut Criterion) {
    let frames = lpp_frames().frames;
    let native = CayenneLpp::new(Profile::Tts);
    let typical = script("lpp.js", Isolation::Cached);
    let large = script("lpp-large.js", Isolation::Cached);
    let typical_fresh = script("lpp.js", Isolation::Fresh);
    let large_fresh = script("lpp-large.js", Isolation::Fresh);
    // The scripts print what the native codec prints.
    for frame in &frames {
        let mut a = Vec::new();
        let mut b = Vec::new();
        JsonWriter::new().decode(&native, Uplink::new(1, frame), &mut a);
        JsonWriter::new().decode(&typical, Uplink::new(1, frame), &mut b);
        if !a.starts_with(b"{\"errors\"") {
            assert_eq!(
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b),
                "{}",
                hex::encode(frame)
            );
        }
    }

    let mut g = c.benchmark_group("js/one thread");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("native cayenne-lpp", |b| {
        let mut json = JsonWriter::new();
        b.iter(|| black_box(decode_all(&native, &frames, &mut json)))
    });
    g.bench_function("script 4 KB cached", |b| {
        let mut json = JsonWriter::new();
        b.iter(|| black_box(decode_all(&typical, &frames, &mut json)))
    });
    g.bench_function("script 66 KB cached", |b| {
        let mut json = JsonWriter::new();
        b.iter(|| black_box(decode_all(&large, &frames, &mut json)))
    });
    g.throughput(Throughput::Elements(FRESH_FRAMES as u64));
    g.bench_function("script 4 KB fresh", |b| {
        let mut json = JsonWriter::new();
        b.iter(|| {
            black_box(decode_all(
                &typical_fresh,
                &frames[..FRESH_FRAMES],
                &mut json,
            ))
        })
    });
    g.bench_function("script 66 KB fresh", |b| {
        let mut json = JsonWriter::new();
        b.iter(|| black_box(decode_all(&large_fresh, &frames[..FRESH_FRAMES], &mut json)))
    });
    g.finish();

    // Two threads that live across iterations (each keeps its runtime and cached context), as
    // `redecode --jobs 2` and `serve` keep theirs.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("two threads");
    let mut g = c.benchmark_group("js/two threads");
    g.throughput(Throughput::Elements(frames.len() as u64));
    let half = frames.len().div_ceil(2);
    let mut two = |name: &str, codec: &dyn Codec| {
        g.bench_function(name, |b| {
            b.iter(|| {
                pool.install(|| {
                    frames
                        .par_chunks(half)
                        .map(|chunk| decode_all(codec, chunk, &mut JsonWriter::new()))
                        .sum::<usize>()
                })
            })
        });
    };
    two("native cayenne-lpp", &native);
    two("script 4 KB cached", &typical);
    two("script 66 KB cached", &large);
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = js
}
criterion_main!(benches);
