//! The bench gate: each hot path's speed as a ratio to its peer (or to Cayenne LPP) measured in
//! the same run, compared with the ratios of `benches/baseline.json`.
//!
//! `benches/check.sh` runs the benches into one criterion output directory per run, then the
//! `gate` binary, which reads criterion's `new/benchmark.json` (the bench id) and
//! `new/sample.json` (its samples) there. A bench's time is its fastest sample's time per
//! iteration, and over several runs the fastest of those: on a machine shared with other jobs,
//! preemption and co-runners only ever add time, so the minimum is the estimate that moves least
//! (criterion's median moved by 30-150% between runs on a busy machine where the fastest sample
//! held within a few percent, but for a whole run now and then). A ratio is the time of the
//! reference divided by the time of the bench: higher is better, and `2.31` reads "2.31x the
//! peer". A ratio fails when it falls more than the tolerance below its baseline; a bench with
//! no result is an error, never a pass.
//!
//! ```
//! use lorafield_benches::gate::{self, Baseline, Times};
//!
//! // One run where every bench of the gate took 10 µs and its reference 25 µs: 2.5x each.
//! let mut run = Times::new();
//! for r in gate::RATIOS {
//!     run.insert(r.bench_id(), 10_000.0);
//!     run.insert(r.vs_id(), 25_000.0);
//! }
//! let now = gate::Measured::from_runs(&[run]).unwrap();
//! let baseline = Baseline::from_measured(&now, gate::Note::default());
//! let rows = gate::compare(&baseline, &now).unwrap();
//! assert!(rows.iter().all(|row| row.passes(0.10) && row.now == 2.5));
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One gated ratio: the bench and its reference, in the same criterion group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    /// The criterion group (`lpp/decode-only`).
    pub group: &'static str,
    /// The function measured (`lorafield (CayenneLpp into FieldBuf, static)`).
    pub bench: &'static str,
    /// The function it is measured against (`cayenne_lpp 0.4`).
    pub vs: &'static str,
}

impl Ratio {
    /// The bench's criterion id, `group/function`.
    pub fn bench_id(&self) -> String {
        format!("{}/{}", self.group, self.bench)
    }

    /// The reference's criterion id.
    pub fn vs_id(&self) -> String {
        format!("{}/{}", self.group, self.vs)
    }
}

const fn ratio(group: &'static str, bench: &'static str, vs: &'static str) -> Ratio {
    Ratio { group, bench, vs }
}

const LPP_PEER: &str = "cayenne_lpp 0.4";
const LPP_PEER_JSON: &str = "cayenne_lpp 0.4 + serde_json";
const LPP: &str = "cayenne-lpp";

/// Every ratio the gate checks: the ratios to a peer (or to Cayenne LPP) of `benches/README.md`'s
/// tables. Their group and function names are the benches' own; renaming a bench means changing
/// it here and in the baseline (`check.sh --update`).
///
/// `redecode/run` (2 jobs against 1) is not here: it is no ratio to a peer but a scaling figure,
/// and on two shared cores it measures how much of the second core the other jobs leave free
/// (0.5x-1.05x under load against 1.54x quiet).
#[rustfmt::skip]
pub const RATIOS: &[Ratio] = &[
    ratio("lpp/decode-only", "lorafield (dyn Codec into FieldBuf)", LPP_PEER),
    ratio("lpp/decode-only", "lorafield (CayenneLpp into FieldBuf, static)", LPP_PEER),
    ratio("lpp/decode-only", "lorafield (CayenneLpp::decode_into a FieldBuf)", LPP_PEER),
    ratio("lpp/decode-only", "lorafield (Builtin into FieldBuf)", LPP_PEER),
    ratio("lpp/decode+json", "lorafield (decode_json)", LPP_PEER_JSON),
    ratio("lpp/decode+json", "lorafield (CayenneLpp + JsonWriter, static)", LPP_PEER_JSON),
    ratio("lpp/decode+json", "lorafield (FieldBuf + JsonWriter)", LPP_PEER_JSON),
    ratio("lpp/decode+json", "lorafield (Builtin decode_json)", LPP_PEER_JSON),
    ratio("codecs/decode-only", "sodaq-tracker", LPP),
    ratio("codecs/decode-only", "elsys", LPP),
    ratio("codecs/decode-only", "milesight (all models)", LPP),
    ratio("codecs/decode+json", "sodaq-tracker", LPP),
    ratio("codecs/decode+json", "elsys", LPP),
    ratio("codecs/decode+json", "milesight (all models)", LPP),
    ratio("redecode/core", "lorafield, 1 thread", "naive serde_json::Value, 1 thread"),
    ratio("redecode/command", "lorafield redecode", "jq -c ."),
];

/// The time per iteration (ns) of each bench of one run, by criterion id.
pub type Times = BTreeMap<String, f64>;

/// What can go wrong; every case names the file or the bench.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A file is not the JSON expected.
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        error: serde_json::Error,
    },
    /// A bench of the gate has no result in a run.
    MissingBench {
        /// The bench's id.
        bench: String,
        /// The run's output directory (or its number).
        run: String,
    },
    /// A bench's time is not a positive, finite number of nanoseconds.
    BadTime {
        /// The bench's id.
        bench: String,
        /// The time read.
        time: f64,
    },
    /// The baseline has no ratio for a pair of the gate.
    NotInBaseline {
        /// The bench's id.
        bench: String,
        /// The reference.
        vs: String,
    },
    /// The baseline has a ratio the gate does not know (a bench renamed or dropped).
    UnknownInBaseline {
        /// The bench's id.
        bench: String,
        /// The reference.
        vs: String,
    },
    /// No run to read.
    NoRuns,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Error::Json { path, error } => write!(f, "{}: {error}", path.display()),
            Error::MissingBench { bench, run } => write!(
                f,
                "no result for `{bench}` in {run}: the bench did not run or was renamed"
            ),
            Error::BadTime { bench, time } => write!(f, "`{bench}`: time {time} ns is not usable"),
            Error::NotInBaseline { bench, vs } => write!(
                f,
                "the baseline has no ratio for `{bench}` vs `{vs}`: run `benches/check.sh --update`"
            ),
            Error::UnknownInBaseline { bench, vs } => write!(
                f,
                "the baseline has a ratio for `{bench}` vs `{vs}`, which the gate does not check: \
                 run `benches/check.sh --update`"
            ),
            Error::NoRuns => f.write_str("no run to read"),
        }
    }
}

impl std::error::Error for Error {}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|error| Error::Io {
        path: path.to_owned(),
        error,
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    serde_json::from_str(&read(path)?).map_err(|error| Error::Json {
        path: path.to_owned(),
        error,
    })
}

/// The part of criterion's `benchmark.json` the gate reads.
#[derive(Deserialize)]
struct BenchmarkJson {
    full_id: String,
}

/// The part of criterion's `sample.json` the gate reads: each sample's iterations and time.
#[derive(Deserialize)]
struct SampleJson {
    iters: Vec<f64>,
    times: Vec<f64>,
}

impl SampleJson {
    /// The fastest sample's time per iteration (NaN when there is no sample).
    fn fastest(&self) -> f64 {
        self.times
            .iter()
            .zip(&self.iters)
            .map(|(t, i)| t / i)
            .min_by(f64::total_cmp)
            .unwrap_or(f64::NAN)
    }
}

/// Reads the results of one run: every `new/` directory under `dir` (criterion's output
/// directory) that holds a `benchmark.json`, with the fastest sample's time per iteration of
/// its `sample.json`.
pub fn read_run(dir: &Path) -> Result<Times, Error> {
    let mut times = Times::new();
    visit(dir, &mut times)?;
    Ok(times)
}

fn visit(dir: &Path, times: &mut Times) -> Result<(), Error> {
    let io = |error| Error::Io {
        path: dir.to_owned(),
        error,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_dir() {
            entries.push(entry.path());
        }
    }
    entries.sort();
    for path in entries {
        let benchmark = path.join("benchmark.json");
        if path.file_name().is_some_and(|n| n == "new") && benchmark.is_file() {
            let id = parse::<BenchmarkJson>(&benchmark)?.full_id;
            let time = parse::<SampleJson>(&path.join("sample.json"))?.fastest();
            times.insert(id, time);
        } else {
            visit(&path, times)?;
        }
    }
    Ok(())
}

/// The times of each ratio's two benches over one or more runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Per ratio (in the order of [`RATIOS`]): the times (ns) of its bench and of its
    /// reference in each run.
    pub runs: Vec<Vec<(f64, f64)>>,
}

impl Measured {
    /// The times of every run; any bench missing from any run is an error.
    pub fn from_runs(runs: &[Times]) -> Result<Measured, Error> {
        if runs.is_empty() {
            return Err(Error::NoRuns);
        }
        let time = |run: usize, id: String| match runs[run].get(&id) {
            None => Err(Error::MissingBench {
                bench: id,
                run: format!("run {}", run + 1),
            }),
            Some(&t) if !(t.is_finite() && t > 0.0) => Err(Error::BadTime { bench: id, time: t }),
            Some(&t) => Ok(t),
        };
        let mut per_ratio = Vec::with_capacity(RATIOS.len());
        for r in RATIOS {
            let mut times = Vec::with_capacity(runs.len());
            for run in 0..runs.len() {
                times.push((time(run, r.bench_id())?, time(run, r.vs_id())?));
            }
            per_ratio.push(times);
        }
        Ok(Measured { runs: per_ratio })
    }

    /// Each ratio: the reference's fastest time over the runs divided by the bench's. A run in
    /// which other jobs slowed one bench throughout does not count, as long as another run was
    /// spared.
    pub fn ratios(&self) -> Vec<f64> {
        let fastest = |times: &[(f64, f64)], side: fn(&(f64, f64)) -> f64| {
            times.iter().map(side).fold(f64::INFINITY, f64::min)
        };
        self.runs
            .iter()
            .map(|times| fastest(times, |t| t.1) / fastest(times, |t| t.0))
            .collect()
    }

    /// The run-to-run spread of each ratio: (max - min) of the ratio in each run, over the
    /// ratio. 0 for one run.
    pub fn spreads(&self) -> Vec<f64> {
        self.runs
            .iter()
            .zip(self.ratios())
            .map(|(times, ratio)| {
                let (lo, hi) = times
                    .iter()
                    .map(|(bench, vs)| vs / bench)
                    .fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                        (lo.min(x), hi.max(x))
                    });
                (hi - lo) / ratio
            })
            .collect()
    }
}

/// When, where and how a baseline was measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// The commit measured.
    pub commit: String,
    /// The day (UTC).
    pub date: String,
    /// The machine, in words.
    pub machine: String,
    /// How: the command, the mode, the runs.
    pub how: String,
}

/// One ratio of the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The bench's criterion id.
    pub bench: String,
    /// The reference's criterion id.
    pub vs: String,
    /// The time of `vs` divided by the time of `bench` ([`Measured::ratios`]).
    pub ratio: f64,
    /// The run-to-run spread ([`Measured::spreads`]).
    pub spread: f64,
}

/// `benches/baseline.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// When, where and how it was measured.
    pub measured: Note,
    /// The ratios.
    pub ratios: Vec<Entry>,
}

/// Rounds to 3 significant decimals for the file (more would be noise).
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, Error> {
        parse(path)
    }

    /// Writes the baseline file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self).map_err(|error| Error::Json {
            path: path.to_owned(),
            error,
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|error| Error::Io {
            path: path.to_owned(),
            error,
        })
    }

    /// The baseline of a measurement: each ratio, and its spread.
    pub fn from_measured(measured: &Measured, note: Note) -> Baseline {
        let ratios = RATIOS
            .iter()
            .zip(measured.ratios())
            .zip(measured.spreads())
            .map(|((r, ratio), spread)| Entry {
                bench: r.bench_id(),
                vs: r.vs_id(),
                ratio: round3(ratio),
                spread: round3(spread),
            })
            .collect();
        Baseline {
            measured: note,
            ratios,
        }
    }
}

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The ratio compared.
    pub ratio: Ratio,
    /// Its baseline.
    pub baseline: f64,
    /// Its value now.
    pub now: f64,
    /// Its spread over the runs now.
    pub spread: f64,
}

impl Row {
    /// `now` relative to the baseline: -0.05 is 5% below.
    pub fn change(&self) -> f64 {
        self.now / self.baseline - 1.0
    }

    /// Whether the ratio is at most `tolerance` (0.10 for 10%) below its baseline.
    pub fn passes(&self, tolerance: f64) -> bool {
        self.now >= self.baseline * (1.0 - tolerance)
    }
}

/// Compares a measurement with the baseline, ratio by ratio. The baseline must hold exactly the
/// ratios of [`RATIOS`].
pub fn compare(baseline: &Baseline, measured: &Measured) -> Result<Vec<Row>, Error> {
    let known = |e: &Entry| {
        RATIOS
            .iter()
            .any(|r| r.bench_id() == e.bench && r.vs_id() == e.vs)
    };
    if let Some(e) = baseline.ratios.iter().find(|e| !known(e)) {
        return Err(Error::UnknownInBaseline {
            bench: e.bench.clone(),
            vs: e.vs.clone(),
        });
    }
    let mut rows = Vec::with_capacity(RATIOS.len());
    for ((r, now), spread) in RATIOS.iter().zip(measured.ratios()).zip(measured.spreads()) {
        let entry = baseline
            .ratios
            .iter()
            .find(|e| e.bench == r.bench_id() && e.vs == r.vs_id())
            .ok_or_else(|| Error::NotInBaseline {
                bench: r.bench_id(),
                vs: r.vs_id(),
            })?;
        rows.push(Row {
            ratio: *r,
            baseline: entry.ratio,
            now,
            spread,
        });
    }
    Ok(rows)
}

/// The comparison as a text table: ratio, baseline, now, change, verdict (and the spread over
/// the runs when there were several).
pub fn table(rows: &[Row], tolerance: f64, runs: usize) -> String {
    let name = |r: &Ratio| format!("{} vs {}", r.bench_id(), r.vs);
    let width = rows
        .iter()
        .map(|row| name(&row.ratio).chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    let mut out = String::new();
    let spread_head = if runs > 1 { "  spread" } else { "" };
    let _ = writeln!(
        out,
        "{:width$}  {:>8}  {:>8}  {:>7}{spread_head}",
        "ratio", "baseline", "now", "change"
    );
    for row in rows {
        let verdict = if row.passes(tolerance) { "ok" } else { "BELOW" };
        let spread = if runs > 1 {
            format!("  {:>5.1}%", row.spread * 100.0)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:width$}  {:>7.2}x  {:>7.2}x  {:>+6.1}%{spread}  {verdict}",
            name(&row.ratio),
            row.baseline,
            row.now,
            row.change() * 100.0,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run where every reference takes `vs` ns and every bench `bench` ns.
    fn run(bench: f64, vs: f64) -> Times {
        let mut t = Times::new();
        for r in RATIOS {
            t.insert(r.vs_id(), vs);
            t.insert(r.bench_id(), bench);
        }
        t
    }

    /// A baseline of 2.0 for every ratio.
    fn baseline() -> Baseline {
        Baseline::from_measured(
            &Measured::from_runs(&[run(10.0, 20.0)]).unwrap(),
            Note::default(),
        )
    }

    fn rows_with_first_ratio(first: f64) -> Vec<Row> {
        let mut now = run(10.0, 20.0);
        // Only the first ratio moves: its bench takes 20 / first ns.
        now.insert(RATIOS[0].bench_id(), 20.0 / first);
        compare(&baseline(), &Measured::from_runs(&[now]).unwrap()).unwrap()
    }

    #[test]
    fn eleven_percent_below_fails() {
        let rows = rows_with_first_ratio(2.0 * 0.89);
        assert!(!rows[0].passes(0.10));
        assert!((rows[0].change() + 0.11).abs() < 1e-9);
        assert!(rows[1..].iter().all(|r| r.passes(0.10)));
    }

    #[test]
    fn nine_percent_below_passes() {
        let rows = rows_with_first_ratio(2.0 * 0.91);
        assert!(rows.iter().all(|r| r.passes(0.10)));
        // A tighter tolerance catches it.
        assert!(!rows[0].passes(0.05));
    }

    #[test]
    fn faster_passes() {
        let rows = rows_with_first_ratio(3.0);
        assert!(rows.iter().all(|r| r.passes(0.0)));
        assert!((rows[0].change() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_missing_bench_is_an_error() {
        for id in [RATIOS[3].bench_id(), RATIOS[3].vs_id()] {
            let mut now = run(10.0, 20.0);
            now.remove(&id);
            let good = run(10.0, 20.0);
            // Missing from the second of two runs is as bad as missing from the only one.
            match Measured::from_runs(&[good, now]) {
                Err(Error::MissingBench { bench, run }) => {
                    assert_eq!(bench, id);
                    assert_eq!(run, "run 2");
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(Measured::from_runs(&[]), Err(Error::NoRuns)));
    }

    #[test]
    fn a_zero_or_nan_time_is_an_error() {
        for bad in [0.0, f64::NAN, f64::INFINITY, -1.0] {
            let mut now = run(10.0, 20.0);
            now.insert(RATIOS[5].vs_id(), bad);
            assert!(matches!(
                Measured::from_runs(&[now]),
                Err(Error::BadTime { .. })
            ));
        }
    }

    #[test]
    fn the_baseline_must_hold_exactly_the_gated_ratios() {
        let now = Measured::from_runs(&[run(10.0, 20.0)]).unwrap();
        let mut b = baseline();
        b.ratios.remove(4);
        assert!(matches!(
            compare(&b, &now),
            Err(Error::NotInBaseline { bench, .. }) if bench == RATIOS[4].bench_id()
        ));
        let mut b = baseline();
        b.ratios[2].bench = "lpp/decode-only/renamed".into();
        assert!(matches!(
            compare(&b, &now),
            Err(Error::UnknownInBaseline { bench, .. }) if bench == "lpp/decode-only/renamed"
        ));
    }

    #[test]
    fn runs_give_the_ratio_of_the_fastest_times_and_the_spread() {
        // Per run, bench and reference: 10 and 20 ns (2.0x), 12 and 18 (1.5x), 11 and 33 (3.0x).
        // The fastest of each, 10 and 18, give 1.8x: neither a run's ratio nor their median.
        let runs = [run(10.0, 20.0), run(12.0, 18.0), run(11.0, 33.0)];
        let m = Measured::from_runs(&runs).unwrap();
        assert!(m.ratios().iter().all(|&x| (x - 1.8).abs() < 1e-12));
        // The runs' ratios go from 1.5 to 3.0: a spread of 1.5 / 1.8.
        assert!(m.spreads().iter().all(|&x| (x - 1.5 / 1.8).abs() < 1e-12));
        let one = Measured::from_runs(&runs[1..2]).unwrap();
        assert!(one.ratios().iter().all(|&x| x == 1.5));
        assert!(one.spreads().iter().all(|&x| x == 0.0));
    }

    #[test]
    fn read_run_takes_the_fastest_sample_of_each_new_result() {
        let dir = tempfile::tempdir().unwrap();
        let put = |sub: &str, id: &str, fastest: f64| {
            let d = dir.path().join(sub);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("benchmark.json"),
                format!(r#"{{"group_id":"g","full_id":"{id}","title":"{id}"}}"#),
            )
            .unwrap();
            // Three samples of 2, 4 and 6 iterations; the second is the fastest per iteration.
            std::fs::write(
                d.join("sample.json"),
                format!(
                    r#"{{"sampling_mode":"Linear","iters":[2.0,4.0,6.0],"times":[{},{},{}]}}"#,
                    3.0 * fastest,
                    4.0 * fastest,
                    7.0 * fastest,
                ),
            )
            .unwrap();
        };
        put(
            "lpp_decode-only/cayenne_lpp 0.4/new",
            "lpp/decode-only/cayenne_lpp 0.4",
            55.0,
        );
        put("lpp_decode-only/a_b/new", "lpp/decode-only/a::b", 24.0);
        // criterion's copy of the previous run is not this run's result.
        put("lpp_decode-only/gone/base", "lpp/decode-only/gone", 1.0);
        let times = read_run(dir.path()).unwrap();
        assert_eq!(
            times.into_iter().collect::<Vec<_>>(),
            [
                ("lpp/decode-only/a::b".to_owned(), 24.0),
                ("lpp/decode-only/cayenne_lpp 0.4".to_owned(), 55.0)
            ]
        );
        // A result without its samples is an error, not a skip.
        std::fs::create_dir_all(dir.path().join("x/new")).unwrap();
        std::fs::write(
            dir.path().join("x/new/benchmark.json"),
            r#"{"full_id":"x"}"#,
        )
        .unwrap();
        assert!(matches!(read_run(dir.path()), Err(Error::Io { .. })));
    }

    #[test]
    fn the_table_marks_what_fell() {
        let rows = rows_with_first_ratio(2.0 * 0.8);
        let text = table(&rows, 0.10, 1);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), RATIOS.len() + 1);
        assert!(lines[1].starts_with(&format!("{} vs {}", RATIOS[0].bench_id(), RATIOS[0].vs)));
        assert!(
            lines[1].ends_with("2.00x     1.60x   -20.0%  BELOW"),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with("ok"));
        assert!(!lines[0].contains("spread"));
        assert!(
            table(&rows, 0.10, 3)
                .lines()
                .next()
                .unwrap()
                .contains("spread")
        );
    }

    #[test]
    fn the_baseline_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        let b = Baseline::from_measured(
            &Measured::from_runs(&[run(3.0, 7.0)]).unwrap(),
            Note {
                commit: "abc1234".into(),
                ..Note::default()
            },
        );
        b.save(&path).unwrap();
        assert_eq!(Baseline::load(&path).unwrap(), b);
        // Stored to 3 decimals.
        assert_eq!(b.ratios[0].ratio, 2.333);
    }
}
