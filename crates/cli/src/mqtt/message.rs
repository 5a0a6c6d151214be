//! One message from the broker: decoded as `serve` decodes a webhook ([`crate::intake`]),
//! then stored (or found stored already), ignored (not an uplink), or refused. A refused
//! message is counted by reason, logged, and kept in the rejected file with its topic and
//! text: it never just vanishes.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine as _;
use lorafield::Selection;
use lorafield_microshare::outbox::{Enqueued, NewRecord, Outbox};
use lorafield_microshare::queue::{Backend, Queue};
use lorafield_microshare::throttle::{Held, LogThrottle};

use crate::intake::{self, Decoded, IGNORED_KINDS, Skipped};
use crate::serve::scripts::ScriptPool;

/// Why a message was refused, as `/metrics` counts it, and what each means.
pub const REJECT_REASONS: [(&str, &str); 6] = [
    ("not_utf8", "the message is not UTF-8 text"),
    ("not_json", "the message is not a JSON object"),
    (
        "not_an_uplink",
        "JSON, but not an uplink or any known event",
    ),
    (
        "unknown_event",
        "a ChirpStack event topic whose event ChirpStack does not send",
    ),
    (
        "not_stored",
        "the outbox or the JetStream queue could not store the uplink",
    ),
    (
        "too_large",
        "larger than --max-message-size: it ended the connection and is lost",
    ),
];

/// What the topic says about a message under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopicEvent<'t> {
    /// ChirpStack's `application/{application id}/device/{dev eui}/event/{event}`: the event
    /// is the topic's last level (the body does not say it).
    ChirpStack(&'t str),
    /// Anything else, such as The Things Stack's `v3/{application id}@{tenant id}/devices/
    /// {device id}/up` (its other messages say what they are in their body): the body tells.
    Body,
}

/// What the topic says about a message under it.
pub(crate) fn topic_event(topic: &str) -> TopicEvent<'_> {
    let mut levels = topic.split('/');
    match (
        levels.next(),
        levels.next(),
        levels.next(),
        levels.next(),
        levels.next(),
        levels.next(),
        levels.next(),
    ) {
        (
            Some("application"),
            Some(_),
            Some("device"),
            Some(_),
            Some("event"),
            Some(event),
            None,
        ) => TopicEvent::ChirpStack(event),
        _ => TopicEvent::Body,
    }
}

/// What the messages came to, as `/metrics` counts them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Messages received.
    pub(crate) messages: AtomicU64,
    /// Uplinks decoded without errors.
    pub(crate) decoded: AtomicU64,
    /// Uplinks whose payload did not decode (stored all the same, with the errors).
    pub(crate) decode_failures: AtomicU64,
    /// Uplinks stored.
    pub(crate) enqueued: AtomicU64,
    /// Uplinks whose key the outbox held already: not stored again.
    pub(crate) duplicates: AtomicU64,
    /// Ignored, by kind, in the order of [`IGNORED_KINDS`].
    pub(crate) ignored: [AtomicU64; IGNORED_KINDS.len()],
    /// Refused, by reason, in the order of [`REJECT_REASONS`].
    pub(crate) rejected: [AtomicU64; REJECT_REASONS.len()],
}

/// Why a message was not stored.
enum NotStored {
    /// Not an uplink to forward: ignored, counted by this kind (one of [`IGNORED_KINDS`]).
    Ignored(&'static str),
    /// Refused: its reason (one of [`REJECT_REASONS`]) and what was wrong.
    Refused(&'static str, String),
}

/// The messages refused, as JSON Lines: `{"at":..,"topic":..,"reason":..,"detail":..,
/// "payload":"<text>"}` (or `"payload_base64"` when the message is not text).
///
/// Its size is capped: once it holds `max_bytes`, it is renamed to `FILE.1` (replacing the one
/// before) and a new file is begun, so that a publisher sending nothing but garbage fills at
/// most twice the cap on disk and the newest refusals are always kept. Processes sharing the
/// file notice that another renamed it (the path names another file than theirs) and reopen.
pub(crate) struct RejectedFile {
    path: PathBuf,
    max_bytes: u64,
    file: Mutex<Option<File>>,
}

impl RejectedFile {
    pub(crate) fn new(path: &Path, max_bytes: u64) -> RejectedFile {
        RejectedFile {
            path: path.to_path_buf(),
            max_bytes,
            file: Mutex::new(None),
        }
    }

    /// Where the file is moved once full.
    pub(crate) fn previous(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".1");
        PathBuf::from(name)
    }

    /// Opens the file for appending, creating it and its directory if need be.
    fn open(&self) -> std::io::Result<File> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
    }

    /// Appends `text` (one whole line) to the file at the path, holding the file's lock:
    /// first moving it to `FILE.1` when the line would take it past the cap. A process whose
    /// open file was moved by another (the path names another file now) reopens the path, so
    /// no line goes to a file that was replaced.
    fn append(&self, open: &mut Option<File>, text: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        // Each pass either writes or reopens after another process's move: a few at most.
        for _ in 0..8 {
            let current = match std::fs::metadata(&self.path) {
                Ok(m) => Some((m.dev(), m.ino())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            let file = match open.take() {
                Some(f) => {
                    let m = f.metadata()?;
                    if Some((m.dev(), m.ino())) == current {
                        f
                    } else {
                        self.open()?
                    }
                }
                None => self.open()?,
            };
            fs4::FileExt::lock(&file)?;
            let mine = file.metadata()?;
            let here = std::fs::metadata(&self.path).ok();
            if here.is_none_or(|m| (m.dev(), m.ino()) != (mine.dev(), mine.ino())) {
                // Moved while this process waited for the lock.
                fs4::FileExt::unlock(&file)?;
                *open = Some(file);
                continue;
            }
            if mine.len() > 0 && mine.len() + text.len() as u64 > self.max_bytes {
                std::fs::rename(&self.path, self.previous())?;
                fs4::FileExt::unlock(&file)?;
                *open = Some(self.open()?);
                continue;
            }
            // One write per line: appends of several processes do not interleave within a line.
            let written = (&file).write_all(text).and_then(|()| (&file).flush());
            fs4::FileExt::unlock(&file)?;
            *open = Some(file);
            return written;
        }
        Err(std::io::Error::other(
            "the rejected file kept being moved by another process",
        ))
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line (opened on first use, appended to by several processes at once).
    fn keep(&self, topic: &str, reason: &str, detail: &str, payload: &[u8]) -> std::io::Result<()> {
        let at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut line = serde_json::json!({
            "at": at, "topic": topic, "reason": reason, "detail": detail,
        });
        match std::str::from_utf8(payload) {
            Ok(text) => line["payload"] = text.into(),
            Err(_) => {
                line["payload_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(payload)
                    .into();
            }
        }
        let mut text = line.to_string();
        text.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("the rejected file's lock is poisoned"))?;
        self.append(&mut file, text.as_bytes())
    }
}

/// What each message goes through, shared by the tasks that handle messages.
pub(crate) struct Intake {
    pub(crate) selection: Selection,
    pub(crate) scripts: Option<ScriptPool>,
    pub(crate) rec_type: String,
    /// Where uplinks are stored: the outbox, or JetStream.
    pub(crate) queue: Backend,
    /// The outbox, when the queue is one (for `/metrics`).
    pub(crate) outbox: Option<Outbox>,
    pub(crate) counters: Counters,
    pub(crate) rejected: RejectedFile,
    pub(crate) throttle: LogThrottle,
}

impl Intake {
    /// Takes one message: counts it and stores, ignores or refuses it.
    pub(crate) async fn take(self: std::sync::Arc<Self>, topic: String, payload: &[u8]) {
        let c = &self.counters;
        c.messages.fetch_add(1, Ordering::Relaxed);
        match self.clone().store(&topic, payload).await {
            Ok(Enqueued::Added(_)) => {
                c.enqueued.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Enqueued::Duplicate(_)) => {
                c.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            Err(NotStored::Ignored(kind)) => {
                if let Some(i) = IGNORED_KINDS.iter().position(|k| *k == kind) {
                    c.ignored[i].fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!("{topic}: a {kind} message, ignored");
            }
            Err(NotStored::Refused(reason, detail)) => {
                if let Some(i) = REJECT_REASONS.iter().position(|(r, _)| *r == reason) {
                    c.rejected[i].fetch_add(1, Ordering::Relaxed);
                }
                let kept = match self.rejected.keep(&topic, reason, &detail, payload) {
                    Ok(()) => format!("kept in {}", self.rejected.path().display()),
                    Err(e) => format!(
                        "and it could not be kept in {}: {e}",
                        self.rejected.path().display()
                    ),
                };
                if let Some(held) = self.throttle.admit(reason, Instant::now()) {
                    tracing::warn!(
                        "{topic}: message refused ({reason}): {detail}; {kept}{}",
                        Held(held)
                    );
                }
            }
        }
    }

    /// Counts and keeps word of a message that was larger than allowed: the connection
    /// dropped it, so all that is known is its size.
    pub(crate) fn oversize(&self, size: usize, max: usize) {
        let reason = "too_large";
        if let Some(i) = REJECT_REASONS.iter().position(|(r, _)| *r == reason) {
            self.counters.rejected[i].fetch_add(1, Ordering::Relaxed);
        }
        let detail = format!(
            "a message of {size} bytes (topic and payload), larger than --max-message-size \
             ({max}), ended the connection; it is lost"
        );
        if let Err(e) = self.rejected.keep("", reason, &detail, b"") {
            tracing::error!(
                "{detail}; and this could not be kept in {}: {e}",
                self.rejected.path().display()
            );
        }
        if let Some(held) = self.throttle.admit(reason, Instant::now()) {
            tracing::error!("{detail}{}", Held(held));
        }
    }

    /// Decodes and stores one message.
    async fn store(
        self: std::sync::Arc<Self>,
        topic: &str,
        payload: &[u8],
    ) -> Result<Enqueued, NotStored> {
        if let TopicEvent::ChirpStack(event) = topic_event(topic)
            && event != "up"
        {
            return Err(match intake::chirpstack_event(event) {
                Some(kind) => NotStored::Ignored(kind),
                None => NotStored::Refused(
                    "unknown_event",
                    format!("ChirpStack sends no event {event:?} (uplinks are event/up)"),
                ),
            });
        }
        let Ok(text) = std::str::from_utf8(payload) else {
            return Err(NotStored::Refused(
                "not_utf8",
                "the message is not UTF-8 text (ChirpStack: set its MQTT integration to JSON)"
                    .into(),
            ));
        };
        let decoded = match &self.scripts {
            // Scripts run on threads of their own, off the async executor.
            Some(pool) => {
                let (job, text) = (self.clone(), text.to_string());
                pool.run(move || job.decode(&text)).await.map_err(|e| {
                    NotStored::Refused("not_stored", format!("the uplink was not decoded: {e}"))
                })?
            }
            None => self.decode(text),
        };
        let Decoded {
            out,
            decoded,
            key,
            rec_type,
            ..
        } = match decoded {
            Ok(d) => d,
            Err(Skipped::Ignored(kind)) => return Err(NotStored::Ignored(kind)),
            Err(Skipped::NotJson(why)) => return Err(NotStored::Refused("not_json", why)),
            Err(Skipped::NotAnUplink(why)) => {
                return Err(NotStored::Refused("not_an_uplink", why));
            }
        };
        let c = &self.counters;
        match decoded {
            true => c.decoded.fetch_add(1, Ordering::Relaxed),
            false => c.decode_failures.fetch_add(1, Ordering::Relaxed),
        };
        let record = NewRecord {
            key: key.clone(),
            rec_type,
            body: out,
        };
        let stored = self.queue.enqueue(record).await.map_err(|e| {
            NotStored::Refused(
                "not_stored",
                format!("the uplink {key} could not be stored: {e}"),
            )
        })?;
        if stored.is_duplicate() {
            tracing::debug!("{key}: held already (received twice), not stored again");
        }
        Ok(stored)
    }

    fn decode(&self, text: &str) -> Result<Decoded, Skipped> {
        intake::decode(&self.selection, &self.rec_type, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chirpstack_topics_carry_the_event_and_others_leave_it_to_the_body() {
        for (topic, event) in [
            ("application/17c8/device/0101010101010101/event/up", "up"),
            ("application/a/device/b/event/join", "join"),
            ("application/a/device/b/event/txack", "txack"),
        ] {
            assert_eq!(topic_event(topic), TopicEvent::ChirpStack(event), "{topic}");
        }
        for topic in [
            "v3/app@ttn/devices/dev-1/up",
            "v3/app@ttn/devices/dev-1/join",
            "application/a/device/b/event",
            "application/a/device/b/event/up/extra",
            "application/a/devices/b/event/up",
            "",
        ] {
            assert_eq!(topic_event(topic), TopicEvent::Body, "{topic}");
        }
    }

    #[test]
    fn every_reason_is_named_once_in_snake_case() {
        let mut names: Vec<&str> = REJECT_REASONS.iter().map(|(n, _)| *n).collect();
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REJECT_REASONS.len());
    }

    #[test]
    fn refused_messages_are_kept_one_line_each_text_or_base64() {
        let dir = tempfile::tempdir().unwrap();
        let file = RejectedFile::new(&dir.path().join("sub/rejected.jsonl"), 1 << 20);
        file.keep(
            "t/1",
            "not_json",
            "expected value at line 1 column 1",
            b"hello\n",
        )
        .unwrap();
        file.keep("t/2", "not_utf8", "not text", &[0xff, 0x00, 0x41])
            .unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (
                &lines[0]["topic"],
                &lines[0]["reason"],
                &lines[0]["payload"]
            ),
            (&"t/1".into(), &"not_json".into(), &"hello\n".into())
        );
        assert_eq!(lines[1]["payload_base64"], "/wBB");
        assert!(lines[1]["at"].as_str().unwrap().ends_with('Z'));
    }

    /// The detail of every line of `path` (a number here), in file order; none if missing.
    fn details(path: &Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["detail"].as_str().unwrap().parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn a_full_rejected_file_is_moved_aside_and_a_new_one_begun() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejected.jsonl");
        // Each line is about 100 bytes: 10 fill the cap of 1,000.
        let file = RejectedFile::new(&path, 1_000);
        for i in 0..100u64 {
            file.keep("t/1", "not_json", &i.to_string(), b"0123456789012345678")
                .unwrap();
            let size = std::fs::metadata(&path).unwrap().len();
            assert!(size <= 1_000, "{size} bytes after line {i}");
        }
        let (older, newest) = (details(&file.previous()), details(&path));
        assert!(!older.is_empty() && !newest.is_empty());
        assert!(std::fs::metadata(file.previous()).unwrap().len() <= 1_000);
        // The newest lines, whole and in order, to the last one: the older file holds those
        // just before the current file's first.
        let kept: Vec<u64> = older.iter().chain(&newest).copied().collect();
        let first = 100 - kept.len() as u64;
        assert_eq!(kept, (first..100).collect::<Vec<_>>());
        assert!(kept.len() >= 10, "{kept:?}");
    }

    #[test]
    fn processes_sharing_a_rejected_file_keep_it_under_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejected.jsonl");
        let (one, two) = (
            RejectedFile::new(&path, 1_000),
            RejectedFile::new(&path, 1_000),
        );
        for i in 0..100u64 {
            let by = if i % 3 == 0 { &two } else { &one };
            by.keep("t/1", "not_json", &i.to_string(), b"0123456789012345678")
                .unwrap();
            let size = std::fs::metadata(&path).unwrap().len();
            assert!(size <= 1_000, "{size} bytes after line {i}");
        }
        // Whichever moved the full file, the other wrote to the new one: the newest lines,
        // whole and in order, as with one process.
        let (older, newest) = (details(&one.previous()), details(&path));
        assert!(std::fs::metadata(one.previous()).unwrap().len() <= 1_000);
        let kept: Vec<u64> = older.iter().chain(&newest).copied().collect();
        let first = 100 - kept.len() as u64;
        assert_eq!(kept, (first..100).collect::<Vec<_>>());
        assert!(kept.len() >= 10, "{kept:?}");
    }
}
