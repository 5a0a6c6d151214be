//! Every codec, decode-only and decode + JSON, in one run: frames/s per codec and the ratio to
//! Cayenne LPP's. LPP decodes the 1,000 TTS frames of its own bench; the vendor codecs decode
//! 1,000 frames cycled from their error-free golden fixtures (which between them use every rule
//! of every table). Throughput is in payload bytes; one iteration decodes 1,000 frames.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lorafield::{Codec, FieldBuf, JsonWriter, Uplink};
use lorafield_benches::{fixture_frames, lpp_frames};
use lorafield_codec_elsys::Elsys;
use lorafield_codec_lpp::{CayenneLpp, Profile};
use lorafield_codec_milesight::Milesight;
use lorafield_codec_sodaq::{Model, SodaqTracker};

const FRAMES: usize = 1000;

/// A frame and the codec (with its options) that decodes it.
struct Case<C> {
    codec: C,
    f_port: u8,
    payload: Vec<u8>,
}

fn bench<C: Codec>(c: &mut Criterion, name: &str, cases: &[Case<C>]) {
    let bytes: u64 = cases.iter().map(|c| c.payload.len() as u64).sum();
    let mut g = c.benchmark_group("codecs/decode-only");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(name, |b| {
        let mut buf = FieldBuf::<256>::new();
        b.iter(|| {
            let mut n = 0;
            for case in cases {
                let d = buf.decode(&case.codec, Uplink::new(case.f_port, &case.payload));
                n += d.data.map_or(0, <[_]>::len);
            }
            black_box(n)
        })
    });
    g.finish();
    let mut g = c.benchmark_group("codecs/decode+json");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(name, |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            let mut n = 0;
            for case in cases {
                out.clear();
                let o = json.decode(
                    &case.codec,
                    Uplink::new(case.f_port, &case.payload),
                    &mut out,
                );
                n += o.data.map_or(0, |r| r.len());
            }
            black_box(n)
        })
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let lpp: Vec<_> = lpp_frames()
        .frames
        .into_iter()
        .map(|payload| Case {
            codec: CayenneLpp::new(Profile::Tts),
            f_port: 1,
            payload,
        })
        .collect();
    bench(c, "cayenne-lpp", &lpp);

    let sodaq: Vec<_> = fixture_frames("sodaq-tracker", FRAMES)
        .into_iter()
        .map(|f| {
            let model: Model = f
                .model
                .as_deref()
                .map_or(Ok(Model::default()), str::parse)
                .expect("model");
            Case {
                codec: SodaqTracker::new(model),
                f_port: 1,
                payload: f.payload,
            }
        })
        .collect();
    bench(c, "sodaq-tracker", &sodaq);

    let elsys: Vec<_> = fixture_frames("elsys", FRAMES)
        .into_iter()
        .map(|f| Case {
            codec: Elsys,
            f_port: 5,
            payload: f.payload,
        })
        .collect();
    bench(c, "elsys", &elsys);

    let milesight: Vec<_> = fixture_frames("milesight", FRAMES)
        .into_iter()
        .map(|f| {
            let model = f
                .model
                .as_deref()
                .and_then(Milesight::for_model)
                .expect("model");
            Case {
                codec: model,
                f_port: 85,
                payload: f.payload,
            }
        })
        .collect();
    bench(c, "milesight (all models)", &milesight);
}

criterion_group!(benches, codecs);
criterion_main!(benches);
