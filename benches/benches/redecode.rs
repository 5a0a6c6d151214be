//! `lorafield redecode` against the naive way and against `jq`, on generated Microshare shares.
//!
//! - `redecode/core`: 100,000 shares (`gen-shares --count 100000`, seed 1: TTS v3 and TTN v2 uplinks,
//!   both Microshare encodings, a tenth of them stale) re-decoded on one thread, in memory:
//!   lorafield's framer and re-decoder, and the naive way (`serde_json::Value` per line, decode,
//!   replace, serialise; `lorafield_benches::naive`), with the same codec and JSON writer.
//! - `redecode/run`: the same shares through `batch::run` (reader, rayon pool, writer) with 1
//!   and 2 jobs, the output thrown away: the scaling.
//! - `redecode/command`: the whole `lorafield redecode FILE -o /dev/null` against `jq -c .`
//!   (a plain parse and print, no decoding) on 20,000 shares in a file. Needs the release
//!   binary (`cargo build --release -p lorafield-cli`) and `jq` on the PATH.

use std::hint::black_box;
use std::io::{self, Cursor};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lorafield::{JsonWriter, Options, Registry, Selection};
use lorafield_envelope::batch::{Input, RunOptions, Settings, process_chunk, run};
use lorafield_envelope::generate::{GenOptions, write_shares};
use lorafield_envelope::{Framer, Redecoder};

fn shares(count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let options = GenOptions {
        count,
        ..GenOptions::default()
    };
    write_shares(&options, &mut out).expect("generating shares");
    out
}

fn core(c: &mut Criterion) {
    let input = shares(100_000);
    let selection = Selection::builtin_default(&Registry::builtin());
    let codec = Registry::builtin()
        .build("cayenne-lpp", &Options::default())
        .unwrap();
    let text = std::str::from_utf8(&input).unwrap();

    // Both ways decode every record to the same payload before anything is timed.
    check_same_payloads(text, &selection, &*codec);

    let mut g = c.benchmark_group("redecode/core");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("lorafield, 1 thread", |b| {
        let mut r = Redecoder::new(&selection);
        let settings = Settings::default();
        b.iter(|| {
            let mut framer = Framer::new(&input[..]);
            let mut written = 0;
            while let Some(chunk) = framer.next_chunk(1 << 20) {
                written += process_chunk(&mut r, &chunk, "bench", &settings).out.len();
            }
            black_box(written)
        })
    });
    g.bench_function("naive serde_json::Value, 1 thread", |b| {
        let mut json = JsonWriter::new();
        let mut scratch = Vec::new();
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            let mut written = 0;
            for line in text.lines() {
                out.clear();
                lorafield_benches::naive::redecode(
                    line,
                    &*codec,
                    &mut json,
                    &mut scratch,
                    &mut out,
                )
                .unwrap();
                written += out.len();
            }
            black_box(written)
        })
    });
    g.finish();

    let input: Arc<[u8]> = input.into();
    let mut g = c.benchmark_group("redecode/run");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    // Literal names: the bench gate (`benches/check.sh`) and criterion's history key on them.
    for (jobs, name) in [(1, "1 job"), (2, "2 jobs")] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let data = input.clone();
                let inputs = vec![Input {
                    name: "bench".into(),
                    open: Box::new(move || {
                        Ok(Box::new(Cursor::new(data)) as Box<dyn io::Read + Send>)
                    }),
                    file: None,
                }];
                let options = RunOptions {
                    jobs,
                    settings: Settings::default(),
                    chunk_bytes: None,
                };
                let report = run(
                    inputs,
                    &selection,
                    &options,
                    &mut io::sink(),
                    None,
                    &mut |_| {},
                )
                .unwrap();
                assert_eq!(report.counts.read, 100_000);
                black_box(report.counts.written)
            })
        });
    }
    g.finish();
}

/// Panics unless lorafield and the naive way give every record the same decoded payload.
fn check_same_payloads(text: &str, selection: &Selection, codec: &dyn lorafield::Codec) {
    let mut r = Redecoder::new(selection);
    let mut json = JsonWriter::new();
    let (mut ours, mut naive, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().step_by(97) {
        ours.clear();
        naive.clear();
        r.redecode(line, &mut ours);
        lorafield_benches::naive::redecode(line, codec, &mut json, &mut scratch, &mut naive)
            .unwrap();
        let a: serde_json::Value = serde_json::from_slice(&ours).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&naive).unwrap();
        assert_eq!(a, b, "{line}");
    }
}

fn command(c: &mut Criterion) {
    let bin = std::env::var_os("LORAFIELD_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/lorafield"),
        PathBuf::from,
    );
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p lorafield-cli` first",
        bin.display()
    );
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-shares-20000.jsonl");
    let input = shares(20_000);
    std::fs::write(&file, &input).expect("writing the bench file");
    let mut g = c.benchmark_group("redecode/command");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let run_cmd = |cmd: &mut Command| {
        let status = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running the command");
        assert!(status.success(), "{cmd:?}: {status}");
    };
    g.bench_function("lorafield redecode", |b| {
        b.iter(|| {
            run_cmd(
                Command::new(&bin)
                    .arg("redecode")
                    .arg("-q")
                    .arg(&file)
                    .args(["-o", "/dev/null"]),
            )
        })
    });
    g.bench_function("jq -c .", |b| {
        b.iter(|| run_cmd(Command::new("jq").arg("-c").arg(".").arg(&file)))
    });
    g.finish();
}

criterion_group!(benches, core, command);
criterion_main!(benches);
