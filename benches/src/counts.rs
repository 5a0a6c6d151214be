//! The instruction-count check (`benches/icount.sh --check`): each LPP and codecs bench path's
//! instructions a frame against `benches/icounts.tsv`.
//!
//! The bench gate compares times as ratios, and the codecs' ratios are against Cayenne LPP, so
//! a faster LPP lowers them with no codec slower. A count is the path's own work, the same
//! whatever the machine runs: this check tells a path that does more work from one whose
//! reference got faster. It is not a time: a change that moves work between instructions of
//! different cost passes it unseen, which is what the gate's times are for.
//!
//! The file is text, one path a line: its name, a tab, its count (`#` starts a comment line).
//!
//! ```
//! use lorafield_benches::counts::{self, Counts};
//!
//! let baseline = Counts::parse("# a comment\nlpp/decode-only/x\t100.0\n")?;
//! let now = Counts::parse("lpp/decode-only/x\t103.0\n")?;
//! let rows = counts::compare(&baseline, &now)?;
//! assert!(!rows[0].passes(0.02));
//! assert!(rows[0].passes(0.05));
//! # Ok::<(), counts::Error>(())
//! ```

use std::fmt::{self, Write as _};

/// What can go wrong reading or comparing counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A line is not `name<TAB>count`: its number (from 1) and what is wrong.
    Line(usize, String),
    /// A path was counted that the baseline does not hold (a new or renamed path: update it).
    NotInBaseline(String),
    /// A path appears twice in one file.
    Repeated(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Line(n, what) => write!(f, "line {n}: {what}"),
            Error::NotInBaseline(path) => write!(
                f,
                "`{path}` is not in the baseline (a new or renamed path: \
                 `benches/icount.sh --update` adds it)"
            ),
            Error::Repeated(path) => write!(f, "`{path}` appears twice"),
        }
    }
}

impl std::error::Error for Error {}

/// Instructions a frame of each path, in the file's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts(pub Vec<(String, f64)>);

impl Counts {
    /// Reads the file's text.
    pub fn parse(text: &str) -> Result<Counts, Error> {
        let mut counts: Vec<(String, f64)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (path, count) = line
                .split_once('\t')
                .ok_or_else(|| Error::Line(n, "no tab between the path and its count".into()))?;
            let count: f64 = count
                .trim()
                .parse()
                .ok()
                .filter(|c: &f64| c.is_finite() && *c > 0.0)
                .ok_or_else(|| Error::Line(n, format!("`{count}` is not a positive count")))?;
            if path.is_empty() {
                return Err(Error::Line(n, "no path".into()));
            }
            if counts.iter().any(|(p, _)| p == path) {
                return Err(Error::Repeated(path.into()));
            }
            counts.push((path.into(), count));
        }
        Ok(Counts(counts))
    }

    /// The count of `path`, if held.
    pub fn get(&self, path: &str) -> Option<f64> {
        self.0.iter().find(|(p, _)| p == path).map(|&(_, c)| c)
    }

    /// The file's text: `header` as comment lines, then a line a path.
    pub fn render(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            let _ = writeln!(out, "# {line}");
        }
        for (path, count) in &self.0 {
            let _ = writeln!(out, "{path}\t{count:.1}");
        }
        out
    }
}

/// One path's count in the baseline and now.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The path (`group/function`, as criterion names it).
    pub path: String,
    /// Instructions a frame in the baseline.
    pub baseline: f64,
    /// Instructions a frame now.
    pub now: f64,
}

impl Row {
    /// Now against the baseline: `0.05` is 5% more instructions.
    pub fn change(&self) -> f64 {
        self.now / self.baseline - 1.0
    }

    /// Whether the path runs at most `tolerance` more instructions than its baseline.
    pub fn passes(&self, tolerance: f64) -> bool {
        self.change() <= tolerance
    }
}

/// Each path counted now against its baseline, in the order counted. Only the paths counted
/// are compared (a run of some paths checks those); a path counted that the baseline lacks is
/// an error, never a pass.
pub fn compare(baseline: &Counts, now: &Counts) -> Result<Vec<Row>, Error> {
    now.0
        .iter()
        .map(|(path, count)| {
            let before = baseline
                .get(path)
                .ok_or_else(|| Error::NotInBaseline(path.clone()))?;
            Ok(Row {
                path: path.clone(),
                baseline: before,
                now: *count,
            })
        })
        .collect()
}

/// The rows as a table: each path's baseline, count now and change, marked `MORE` when past
/// the tolerance and `fewer` when it ran fewer by as much (a gain to keep by updating).
pub fn table(rows: &[Row], tolerance: f64) -> String {
    let mut out = format!(
        "{:<72} {:>10} {:>10} {:>8}\n",
        "path (instructions a frame)", "baseline", "now", "change"
    );
    for row in rows {
        let mark = if !row.passes(tolerance) {
            "  MORE"
        } else if row.change() < -tolerance {
            "  fewer"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:<72} {:>10.1} {:>10.1} {:>+7.1}%{mark}",
            row.path,
            row.baseline,
            row.now,
            row.change() * 100.0
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_paths_and_skips_comments() {
        let c = Counts::parse("# commit x\n\nlpp/a (b)\t294.0\ncodecs/c\t1800.5\n").unwrap();
        assert_eq!(
            c.0,
            vec![("lpp/a (b)".into(), 294.0), ("codecs/c".into(), 1800.5)]
        );
        assert_eq!(c.get("codecs/c"), Some(1800.5));
        assert_eq!(c.get("codecs/d"), None);
    }

    #[test]
    fn parse_names_the_bad_line() {
        assert_eq!(
            Counts::parse("a\t1\nb 2\n"),
            Err(Error::Line(
                2,
                "no tab between the path and its count".into()
            ))
        );
        assert_eq!(
            Counts::parse("# x\na\tmany\n"),
            Err(Error::Line(2, "`many` is not a positive count".into()))
        );
        assert!(matches!(Counts::parse("a\t0\n"), Err(Error::Line(1, _))));
        assert!(matches!(Counts::parse("\t5\n"), Err(Error::Line(1, _))));
        assert_eq!(
            Counts::parse("a\t1\na\t2\n"),
            Err(Error::Repeated("a".into()))
        );
    }

    #[test]
    fn render_reads_back() {
        let c = Counts(vec![("x/y".into(), 12.25), ("x/z".into(), 3.0)]);
        let text = c.render("commit abc\nrustc 1.95.0");
        assert!(text.starts_with("# commit abc\n# rustc 1.95.0\n"));
        // One decimal, as icount.sh prints it.
        assert_eq!(Counts::parse(&text).unwrap().get("x/y"), Some(12.2));
        assert_eq!(Counts::parse(&text).unwrap().get("x/z"), Some(3.0));
    }

    #[test]
    fn compare_passes_within_tolerance_and_fails_past_it() {
        let baseline = Counts::parse("a\t100\nb\t200\nc\t300\n").unwrap();
        let now = Counts::parse("c\t290\na\t101.9\n").unwrap();
        let rows = compare(&baseline, &now).unwrap();
        assert_eq!(rows.len(), 2, "only the paths counted now");
        assert_eq!(rows[0].path, "c");
        assert!(rows[0].passes(0.02));
        assert!(rows[1].passes(0.02), "1.9% more is within 2%");
        assert!(!rows[1].passes(0.01));
        let now = Counts::parse("b\t204.1\n").unwrap();
        assert!(!compare(&baseline, &now).unwrap()[0].passes(0.02));
    }

    #[test]
    fn a_path_missing_from_the_baseline_is_an_error() {
        let baseline = Counts::parse("a\t100\n").unwrap();
        let now = Counts::parse("a\t100\nnew\t5\n").unwrap();
        assert_eq!(
            compare(&baseline, &now),
            Err(Error::NotInBaseline("new".into()))
        );
    }

    #[test]
    fn table_marks_more_and_fewer() {
        let rows = [
            Row {
                path: "up".into(),
                baseline: 100.0,
                now: 105.0,
            },
            Row {
                path: "down".into(),
                baseline: 100.0,
                now: 90.0,
            },
            Row {
                path: "same".into(),
                baseline: 100.0,
                now: 100.5,
            },
        ];
        let t = table(&rows, 0.02);
        let line = |p: &str| t.lines().find(|l| l.starts_with(p)).unwrap().to_owned();
        assert!(line("up ").ends_with("+5.0%  MORE"), "{t}");
        assert!(line("down ").ends_with("-10.0%  fewer"), "{t}");
        assert!(line("same ").ends_with("+0.5%"), "{t}");
    }
}
