//! `/healthz`: a registry of named checks, each saying ok or not and why, summed up as `ok`,
//! `degraded` or `down`.
//!
//! ```
//! use lorafield_cli::health::{Health, Verdict};
//!
//! let mut health = Health::new();
//! health.add("outbox", || Verdict::Ok("3 waiting".into()));
//! health.add("delivery", || Verdict::Degraded("failing for 75 s: HTTP 503".into()));
//! let report = health.report();
//! assert_eq!(report.http_status(), 200);
//! assert_eq!(
//!     report.to_json(),
//!     r#"{"checks":{"delivery":{"detail":"failing for 75 s: HTTP 503","ok":false},"outbox":{"detail":"3 waiting","ok":true}},"status":"degraded"}"#
//! );
//! ```
//!
//! A check is anything that can say how its part is doing right now ([`Check`]; a closure
//! will do), quickly and without blocking for long: `/healthz` is polled. A check that is not
//! ok either degrades the service (uplinks are still accepted: 200) or takes it down (uplinks
//! are not accepted: 503). Components add their own checks by name when they start.

use std::fmt;

use serde_json::json;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// All is well; the detail says what was seen.
    Ok(String),
    /// Not well, but uplinks are still accepted; the detail says what is wrong.
    Degraded(String),
    /// Uplinks are not accepted; the detail says why.
    Down(String),
}

impl Verdict {
    /// Whether the check is ok.
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Ok(_))
    }

    /// What the check saw.
    pub fn detail(&self) -> &str {
        match self {
            Verdict::Ok(d) | Verdict::Degraded(d) | Verdict::Down(d) => d,
        }
    }
}

/// Something `/healthz` asks.
pub trait Check: Send + Sync + 'static {
    /// How its part is doing now.
    fn check(&self) -> Verdict;
}

impl<F: Fn() -> Verdict + Send + Sync + 'static> Check for F {
    fn check(&self) -> Verdict {
        self()
    }
}

/// The service as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Every check is ok.
    Ok,
    /// Some check is not ok, but uplinks are accepted.
    Degraded,
    /// Uplinks are not accepted.
    Down,
}

impl Status {
    /// `ok`, `degraded` or `down`.
    pub const fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The named checks of a service.
#[derive(Default)]
pub struct Health {
    checks: Vec<(&'static str, Box<dyn Check>)>,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.checks.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Health {
    /// No checks yet.
    pub fn new() -> Self {
        Health::default()
    }

    /// Adds a check under `name` (a check added again under the same name replaces it).
    pub fn add(&mut self, name: &'static str, check: impl Check) -> &mut Self {
        self.checks.retain(|(n, _)| *n != name);
        self.checks.push((name, Box::new(check)));
        self
    }

    /// The names of the checks, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.checks.iter().map(|(n, _)| *n)
    }

    /// Runs every check.
    pub fn report(&self) -> Report {
        let checks: Vec<(&'static str, Verdict)> = self
            .checks
            .iter()
            .map(|(name, check)| (*name, check.check()))
            .collect();
        let status = checks
            .iter()
            .map(|(_, v)| match v {
                Verdict::Ok(_) => Status::Ok,
                Verdict::Degraded(_) => Status::Degraded,
                Verdict::Down(_) => Status::Down,
            })
            .max()
            .unwrap_or(Status::Ok);
        Report { status, checks }
    }
}

/// What the checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The worst of them.
    pub status: Status,
    /// Each check's verdict, by name.
    pub checks: Vec<(&'static str, Verdict)>,
}

impl Report {
    /// 200 while uplinks are accepted (`ok` or `degraded`), 503 when not (`down`).
    pub fn http_status(&self) -> u16 {
        match self.status {
            Status::Ok | Status::Degraded => 200,
            Status::Down => 503,
        }
    }

    /// `{"status":"ok"|"degraded"|"down","checks":{"<name>":{"ok":bool,"detail":".."}}}`
    /// (keys sorted).
    pub fn to_json(&self) -> String {
        let checks: serde_json::Map<String, serde_json::Value> = self
            .checks
            .iter()
            .map(|(name, v)| {
                (
                    (*name).to_string(),
                    json!({ "ok": v.is_ok(), "detail": v.detail() }),
                )
            })
            .collect();
        json!({ "status": self.status.name(), "checks": checks }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_check_decides_and_down_alone_is_503() {
        let mut h = Health::new();
        assert_eq!(h.report().status, Status::Ok, "no checks: ok");
        h.add("a", || Verdict::Ok("fine".into()));
        assert_eq!(
            (h.report().status, h.report().http_status()),
            (Status::Ok, 200)
        );
        h.add("b", || Verdict::Degraded("slow".into()));
        assert_eq!(
            (h.report().status, h.report().http_status()),
            (Status::Degraded, 200)
        );
        h.add("c", || Verdict::Down("disk full".into()));
        let report = h.report();
        assert_eq!((report.status, report.http_status()), (Status::Down, 503));
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(v["status"], "down");
        assert_eq!(v["checks"]["a"]["ok"], true);
        assert_eq!(v["checks"]["b"]["ok"], false);
        assert_eq!(v["checks"]["c"]["detail"], "disk full");
        // The same name again replaces the check.
        h.add("c", || Verdict::Ok("space again".into()));
        assert_eq!(h.report().status, Status::Degraded);
        assert_eq!(h.names().collect::<Vec<_>>(), ["a", "b", "c"]);
    }
}
