//! The bench gate: the `gate` binary's verdicts and exit codes on criterion output written
//! here, and its names: every gated bench is named by literals in its bench file, and the
//! committed baseline holds exactly the gated ratios. Runs no bench.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use lorafield_benches::counts::Counts;
use lorafield_benches::gate::{Baseline, RATIOS};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_gated_bench_is_named_by_literals_in_its_file() {
    for r in RATIOS {
        // `lpp/decode-only` lives in benches/lpp.rs, `codecs/...` in codecs.rs, and so on.
        let file = r.group.split('/').next().unwrap();
        let path = manifest_dir().join("benches").join(format!("{file}.rs"));
        let source = std::fs::read_to_string(&path).unwrap();
        for name in [r.group, r.bench, r.vs] {
            assert!(
                source.contains(&format!("{name:?}")),
                "{}: no literal {name:?} (a bench renamed? the gate and its baseline key on it)",
                path.display()
            );
        }
    }
}

#[test]
fn the_gated_ratios_are_distinct() {
    for (i, a) in RATIOS.iter().enumerate() {
        assert_ne!(a.bench, a.vs, "{a:?}");
        for b in &RATIOS[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn the_baseline_holds_exactly_the_gated_ratios() {
    let baseline = Baseline::load(&manifest_dir().join("baseline.json")).unwrap();
    let pairs: Vec<_> = baseline
        .ratios
        .iter()
        .map(|e| (e.bench.clone(), e.vs.clone()))
        .collect();
    let gated: Vec<_> = RATIOS.iter().map(|r| (r.bench_id(), r.vs_id())).collect();
    assert_eq!(
        pairs, gated,
        "benches/baseline.json is not the gate's: run `benches/check.sh --update`"
    );
    for e in &baseline.ratios {
        assert!(e.ratio.is_finite() && e.ratio > 0.0, "{e:?}");
    }
    let note = &baseline.measured;
    for (what, text) in [
        ("commit", &note.commit),
        ("date", &note.date),
        ("machine", &note.machine),
        ("how", &note.how),
    ] {
        assert!(!text.is_empty(), "the baseline does not say its {what}");
    }
}

/// Writes criterion's output for one run in which every gated bench takes 10 µs and every
/// reference 20 µs (ratio 2.0), except the bench ids in `times`; `skip` is left out.
fn fake_run(dir: &Path, times: &[(String, f64)], skip: Option<&str>) {
    let mut ids = BTreeMap::new();
    for r in RATIOS {
        ids.insert(r.bench_id(), 10_000.0);
        ids.insert(r.vs_id(), 20_000.0);
    }
    ids.extend(times.iter().cloned());
    for (i, (id, ns)) in ids.iter().enumerate() {
        if Some(id.as_str()) == skip {
            continue;
        }
        let new = dir.join(format!("bench-{i}")).join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            format!(r#"{{"group_id":"g","full_id":{id:?}}}"#),
        )
        .unwrap();
        // Two samples; the second, of 4 iterations, is the fastest.
        std::fs::write(
            new.join("sample.json"),
            format!(
                r#"{{"sampling_mode":"Linear","iters":[2.0,4.0],"times":[{},{}]}}"#,
                2.5 * ns,
                4.0 * ns
            ),
        )
        .unwrap();
    }
}

fn gate(args: &[&str], dir: &Path) -> (i32, String) {
    exit_and_output(
        Command::new(env!("CARGO_BIN_EXE_gate"))
            .args(args)
            .arg(dir.join("run")),
    )
}

/// Runs `command`: its exit code and what it printed (standard output, then standard error).
fn exit_and_output(command: &mut Command) -> (i32, String) {
    let out = command.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

#[test]
fn the_gate_binary_passes_fails_and_errs() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let baseline = baseline.to_str().unwrap();
    let run = dir.path().join("run");

    fake_run(&run, &[], None);
    let (code, text) = gate(
        &[
            "update",
            "--baseline",
            baseline,
            "--commit",
            "c",
            "--date",
            "d",
            "--machine",
            "m",
            "--how",
            "h",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{text}");
    let written = Baseline::load(Path::new(baseline)).unwrap();
    assert!(written.ratios.iter().all(|e| e.ratio == 2.0));

    // The first gated bench 9% slower relative to its peer: within 10%.
    let slower = |ratio: f64| vec![(RATIOS[0].bench_id(), 20_000.0 / ratio)];
    std::fs::remove_dir_all(&run).unwrap();
    fake_run(&run, &slower(2.0 * 0.91), None);
    let (code, text) = gate(&["check", "--baseline", baseline], dir.path());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("-9.0%  ok"), "{text}");

    // 11% slower: below.
    std::fs::remove_dir_all(&run).unwrap();
    fake_run(&run, &slower(2.0 * 0.89), None);
    let (code, text) = gate(&["check", "--baseline", baseline], dir.path());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("-11.0%  BELOW"), "{text}");
    let summary = format!("1 of {} ratios more than 10% below", RATIOS.len());
    assert!(text.contains(&summary), "{text}");
    // ... unless the tolerance allows it.
    let (code, text) = gate(
        &["check", "--baseline", baseline, "--tolerance", "0.125"],
        dir.path(),
    );
    assert_eq!(code, 0, "{text}");
    let summary = format!(
        "all {} ratios within 12.5% of the baseline (1 run)",
        RATIOS.len()
    );
    assert!(text.contains(&summary), "{text}");

    // A reference that did not run is an error, not a pass.
    std::fs::remove_dir_all(&run).unwrap();
    let missing = RATIOS.last().unwrap().vs_id();
    fake_run(&run, &[], Some(&missing));
    let (code, text) = gate(&["check", "--baseline", baseline], dir.path());
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains(&format!("no result for `{missing}`")),
        "{text}"
    );

    // So is a usage error.
    let (code, _) = gate(
        &["check", "--tolerance", "2", "--baseline", baseline],
        dir.path(),
    );
    assert_eq!(code, 2);
}

#[test]
fn the_counts_baseline_holds_exactly_the_counted_paths() {
    let out = Command::new(env!("CARGO_BIN_EXE_icount"))
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let text = std::fs::read_to_string(manifest_dir().join("icounts.tsv")).unwrap();
    let baseline = Counts::parse(&text).unwrap();
    let held: Vec<String> = baseline.0.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        held, listed,
        "benches/icounts.tsv is not icount's list: run `benches/icount.sh --update`"
    );
    assert!(
        text.lines().any(|l| l.starts_with("# commit ")),
        "benches/icounts.tsv does not say the commit it was counted on"
    );
}

/// `gate counts` on a baseline and a count written here.
fn gate_counts(dir: &Path, baseline: &str, now: &str, extra: &[&str]) -> (i32, String) {
    std::fs::write(dir.join("base.tsv"), baseline).unwrap();
    std::fs::write(dir.join("now.tsv"), now).unwrap();
    exit_and_output(
        Command::new(env!("CARGO_BIN_EXE_gate"))
            .arg("counts")
            .arg("--baseline")
            .arg(dir.join("base.tsv"))
            .args(extra)
            .arg(dir.join("now.tsv")),
    )
}

#[test]
fn the_counts_check_passes_fails_and_errs() {
    let dir = tempfile::tempdir().unwrap();
    let base = "# commit c\nlpp/a\t100.0\ncodecs/b\t400.0\n";

    let (code, text) = gate_counts(dir.path(), base, "lpp/a\t101.5\ncodecs/b\t300.0\n", &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("all 2 paths within 2% of the baseline"),
        "{text}"
    );
    assert!(text.contains("-25.0%  fewer"), "{text}");

    let (code, text) = gate_counts(dir.path(), base, "codecs/b\t412.0\n", &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("+3.0%  MORE"), "{text}");
    assert!(text.contains("1 of 1 paths more than 2% above"), "{text}");

    let (code, text) = gate_counts(
        dir.path(),
        base,
        "codecs/b\t412.0\n",
        &["--tolerance", "0.05"],
    );
    assert_eq!(code, 0, "{text}");

    let (code, text) = gate_counts(dir.path(), base, "codecs/new\t1.0\n", &[]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("`codecs/new` is not in the baseline"),
        "{text}"
    );

    let (code, text) = gate_counts(dir.path(), base, "codecs/b 412\n", &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("now.tsv: line 1: no tab"), "{text}");

    let (code, text) = gate_counts(dir.path(), base, "lpp/a\t1\n", &["--tolerance", "2"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("a fraction from 0 to 1"), "{text}");
}
