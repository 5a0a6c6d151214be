//! Every codec, decode-only and decode + JSON, in one run: frames/s per codec and the ratio to
//! Cayenne LPP's. LPP decodes the 1,000 TTS frames of its own bench; the vendor codecs decode
//! 1,000 frames cycled from their error-free golden fixtures (which between them use every rule
//! of every table). Throughput is in payload bytes; one iteration decodes 1,000 frames.
//!
//! Each codec is timed with its concrete type (`sodaq-tracker`) and as the registry builds it,
//! through `lorafield::decode` and `lorafield::decode_json` (`sodaq-tracker (registry)`: its
//! `Arc<dyn Codec>`; `sodaq-tracker (builtin)`: its `Builtin`, `Registry::build_builtin`). The
//! timed loops are `lorafield_benches::paths`', which `icount` also runs.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lorafield::{FieldBuf, JsonWriter};
use lorafield_benches::paths::{self, Cases};

fn bench(c: &mut Criterion, cases: &Cases, concrete: &str, registry: &str) {
    let bytes = cases.concrete.bytes();
    let mut g = c.benchmark_group("codecs/decode-only");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(concrete, |b| {
        let mut buf = FieldBuf::<256>::new();
        b.iter(|| black_box(cases.concrete.decode_only(&mut buf)))
    });
    g.bench_function(registry, |b| {
        let mut buf = FieldBuf::<256>::new();
        b.iter(|| black_box(paths::registry_decode(&cases.registry, &mut buf)))
    });
    g.bench_function(format!("{concrete} (builtin)"), |b| {
        let mut buf = FieldBuf::<256>::new();
        b.iter(|| black_box(paths::builtin_decode(&cases.builtin, &mut buf)))
    });
    g.finish();
    let mut g = c.benchmark_group("codecs/decode+json");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(concrete, |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(4096);
        b.iter(|| black_box(cases.concrete.decode_json(&mut json, &mut out)))
    });
    g.bench_function(registry, |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(4096);
        b.iter(|| black_box(paths::registry_json(&cases.registry, &mut json, &mut out)))
    });
    g.bench_function(format!("{concrete} (builtin)"), |b| {
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(4096);
        b.iter(|| black_box(paths::builtin_json(&cases.builtin, &mut json, &mut out)))
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    // The names are literals: the gate and its baseline key on them.
    let lpp = paths::cases("cayenne-lpp");
    bench(c, &lpp, "cayenne-lpp", "cayenne-lpp (registry)");
    let sodaq = paths::cases("sodaq-tracker");
    bench(c, &sodaq, "sodaq-tracker", "sodaq-tracker (registry)");
    let elsys = paths::cases("elsys");
    bench(c, &elsys, "elsys", "elsys (registry)");
    let milesight = paths::cases("milesight (all models)");
    bench(
        c,
        &milesight,
        "milesight (all models)",
        "milesight (all models) (registry)",
    );
}

criterion_group!(benches, codecs);
criterion_main!(benches);
