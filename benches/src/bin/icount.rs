//! Runs one bench path over its frames a number of times, for instruction counts under
//! valgrind's callgrind (`benches/icount.sh`): the count of `N + 10` iterations less that of
//! `N`, over 10,000 frames, is what one frame costs, whatever else the machine runs.
//!
//! ```text
//! icount list                 the paths: the criterion ids of the LPP and codecs benches, and
//!                             the yardstick's two (`lorafield_benches::yardstick`)
//! icount PATH ITERATIONS      runs PATH; prints a checksum
//! ```

use std::hint::black_box;
use std::process::ExitCode;

use lorafield::{FieldBuf, JsonWriter, MAX_EVENTS};
use lorafield_benches::paths::{self, CODECS, Lpp};
use lorafield_benches::{lpp_frames, peer, yardstick};

/// The paths of `benches/lpp.rs`.
const LPP: [&str; 10] = [
    "lpp/decode-only/lorafield (dyn Codec into FieldBuf)",
    "lpp/decode-only/lorafield (Builtin into FieldBuf)",
    "lpp/decode-only/lorafield (CayenneLpp into FieldBuf, static)",
    "lpp/decode-only/lorafield (CayenneLpp::decode_into a FieldBuf)",
    "lpp/decode-only/cayenne_lpp 0.4",
    "lpp/decode+json/lorafield (decode_json)",
    "lpp/decode+json/lorafield (Builtin decode_json)",
    "lpp/decode+json/lorafield (CayenneLpp + JsonWriter, static)",
    "lpp/decode+json/lorafield (FieldBuf + JsonWriter)",
    "lpp/decode+json/cayenne_lpp 0.4 + serde_json",
];

/// The yardstick's paths: Milesight's table engine and the same model compiled by hand, on
/// the same EM300-TH frames (no criterion bench: counted only).
const YARDSTICK: [&str; 2] = [
    "yardstick/em300-th/table engine (dyn Codec)",
    "yardstick/em300-th/compiled by hand (dyn Codec)",
];

fn list() -> Vec<String> {
    let mut all: Vec<String> = LPP.iter().map(|s| (*s).to_owned()).collect();
    for group in ["codecs/decode-only", "codecs/decode+json"] {
        for name in CODECS {
            all.push(format!("{group}/{name}"));
            all.push(format!("{group}/{name} (registry)"));
            all.push(format!("{group}/{name} (builtin)"));
        }
    }
    all.extend(YARDSTICK.iter().map(|s| (*s).to_owned()));
    all
}

fn run(path: &str, iterations: usize) -> Option<usize> {
    let mut n = 0usize;
    if let Some(which) = LPP.iter().position(|p| *p == path) {
        let input = lpp_frames();
        let mut peer_frames = input.frames.clone();
        let lpp = Lpp::new(input.frames);
        let mut buf = FieldBuf::<MAX_EVENTS>::new();
        let mut json = JsonWriter::new();
        let mut out = Vec::with_capacity(1024);
        for _ in 0..iterations {
            n = n.wrapping_add(match which {
                0 => lpp.registry_decode(&mut buf),
                1 => lpp.builtin_decode(&mut buf),
                2 => lpp.static_decode(&mut buf),
                3 => lpp.decode_into(&mut buf),
                4 => peer::decode_only(&mut peer_frames) as usize,
                5 => lpp.registry_json(&mut json, &mut out),
                6 => lpp.builtin_json(&mut json, &mut out),
                7 => lpp.static_json(&mut json, &mut out),
                8 => lpp.fieldbuf_json(&mut buf, &mut json, &mut out),
                _ => peer::json_all(&mut peer_frames, &mut out),
            });
            black_box(n);
        }
        return Some(n);
    }
    if let Some(which) = YARDSTICK.iter().position(|p| *p == path) {
        let cases = yardstick::cases(which == 1);
        let mut buf = FieldBuf::<256>::new();
        for _ in 0..iterations {
            n = n.wrapping_add(paths::registry_decode(&cases, &mut buf));
            black_box(n);
        }
        return Some(n);
    }
    let (group, name) = path.rsplit_once('/')?;
    // Which codec value: the concrete type, the registry's `Arc<dyn Codec>`, its `Builtin`.
    let (name, via) = match (
        name.strip_suffix(" (registry)"),
        name.strip_suffix(" (builtin)"),
    ) {
        (Some(name), _) => (name, 1),
        (_, Some(name)) => (name, 2),
        _ => (name, 0),
    };
    let json_group = match group {
        "codecs/decode-only" => false,
        "codecs/decode+json" => true,
        _ => return None,
    };
    if !CODECS.contains(&name) {
        return None;
    }
    let cases = paths::cases(name);
    let mut buf = FieldBuf::<256>::new();
    let mut json = JsonWriter::new();
    let mut out = Vec::with_capacity(4096);
    for _ in 0..iterations {
        n = n.wrapping_add(match (json_group, via) {
            (false, 0) => cases.concrete.decode_only(&mut buf),
            (false, 1) => paths::registry_decode(&cases.registry, &mut buf),
            (false, _) => paths::builtin_decode(&cases.builtin, &mut buf),
            (true, 0) => cases.concrete.decode_json(&mut json, &mut out),
            (true, 1) => paths::registry_json(&cases.registry, &mut json, &mut out),
            (true, _) => paths::builtin_json(&cases.builtin, &mut json, &mut out),
        });
        black_box(n);
    }
    Some(n)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd] if cmd == "list" => {
            for p in list() {
                println!("{p}");
            }
            ExitCode::SUCCESS
        }
        [path, iterations] => {
            let Ok(iterations) = iterations.parse() else {
                eprintln!("icount: ITERATIONS must be a number, not {iterations:?}");
                return ExitCode::from(2);
            };
            match run(path, iterations) {
                Some(n) => {
                    println!("{n}");
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("icount: no path {path:?} (see `icount list`)");
                    ExitCode::from(2)
                }
            }
        }
        _ => {
            eprintln!("usage: icount list | icount PATH ITERATIONS");
            ExitCode::from(2)
        }
    }
}
