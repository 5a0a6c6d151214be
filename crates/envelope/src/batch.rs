//! Batch re-decode: records from many inputs, in chunks, in parallel, in order.
//!
//! A reader thread frames the inputs into chunks of whole records ([`Framer`]); the chunks are
//! re-decoded in batches on a rayon pool of `jobs` threads ([`process_chunk`]); a writer thread
//! writes the results in input order. Every queue is bounded, so memory stays at a few chunks
//! per job whatever the size of the input.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};

use lorafield::Selection;
use lorafield::core::json::write_str;
use rayon::prelude::*;

use crate::frame::{Chunk, Framer};
use crate::redecode::{RecordId, Redecoder, Status, page_objects, write_compact, write_minified};

/// How many failed records a [`Report`] names (the first ones, in input order).
pub const FIRST_FAILURES: usize = 5;

/// What a run did with the records it read.
///
/// `read = decoded + failed + passed_through`, `decoded = changed + unchanged`, and
/// `read = written + to_errors`; with `diff`, where only changes and failures are written,
/// `changed + failed = written + to_errors`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records read (the shares of a page each count; the page does not).
    pub read: u64,
    /// Records decoded without errors.
    pub decoded: u64,
    /// Of those, the ones whose decoded payload changed.
    pub changed: u64,
    /// Of those, the ones whose decoded payload stayed the same.
    pub unchanged: u64,
    /// Records that could not be read or decoded.
    pub failed: u64,
    /// Records that are not uplinks with application data, written as they were.
    pub passed_through: u64,
    /// Lines written to the output (records, or with `diff` the changes and the failures).
    pub written: u64,
    /// Records written to the errors output.
    pub to_errors: u64,
}

impl Counts {
    /// Adds another part's counts to these.
    pub fn add(&mut self, o: &Counts) {
        self.read += o.read;
        self.decoded += o.decoded;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.failed += o.failed;
        self.passed_through += o.passed_through;
        self.written += o.written;
        self.to_errors += o.to_errors;
    }

    /// Whether every record read is accounted for (see the type's docs).
    pub fn balanced(&self, diff: bool) -> bool {
        let written = if diff {
            self.changed + self.failed
        } else {
            self.read
        };
        self.read == self.decoded + self.failed + self.passed_through
            && self.decoded == self.changed + self.unchanged
            && written == self.written + self.to_errors
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {}: decoded {} (changed {}, unchanged {}), failed {}, passed through {}; written {}, to errors {}",
            self.read,
            self.decoded,
            self.changed,
            self.unchanged,
            self.failed,
            self.passed_through,
            self.written,
            self.to_errors
        )
    }
}

/// What is written for each record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// Write only changed records, as `{"at":..,"id":..,"before":..,"after":..}` (both
    /// compact), and failed ones, as `{"at":..,"id":..,"reason":..}`.
    pub diff: bool,
    /// Send failed records to the errors output as `{"at":..,"reason":..,"record":..}`
    /// instead of the output.
    pub errors: bool,
}

/// What one chunk produced.
#[derive(Debug, Default)]
pub struct ChunkOutput {
    /// Lines for the output.
    pub out: Vec<u8>,
    /// Lines for the errors output.
    pub errors: Vec<u8>,
    /// Its counts.
    pub counts: Counts,
    /// Its first failed records (at most [`FIRST_FAILURES`]).
    pub failures: Vec<Failure>,
}

/// A failed record: where it is and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `<file>:<line>`.
    pub at: String,
    /// Why (as in its stamp and in the errors output).
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// Re-decodes the records of one chunk from `source`.
pub fn process_chunk(
    redecoder: &mut Redecoder<'_>,
    chunk: &Chunk,
    source: &str,
    settings: &Settings,
) -> ChunkOutput {
    let mut o = ChunkOutput {
        out: Vec::with_capacity(chunk.bytes.len() + chunk.items.len() * 96),
        ..ChunkOutput::default()
    };
    for item in &chunk.items {
        let bytes = &chunk.bytes[item.range.clone()];
        match std::str::from_utf8(bytes) {
            Ok(text) => one(redecoder, text, item.line, source, settings, &mut o),
            Err(e) => {
                let text = String::from_utf8_lossy(bytes);
                let reason = format!("not UTF-8 text: {e}");
                let mark = o.out.len();
                crate::redecode::write_unreadable(&text, &reason, &mut o.out);
                let at = Place {
                    source,
                    line: item.line,
                    id: &RecordId::None,
                };
                fail(&text, false, &at, &reason, settings, mark, &mut o);
            }
        }
    }
    o
}

fn one(
    r: &mut Redecoder<'_>,
    text: &str,
    line: u64,
    source: &str,
    settings: &Settings,
    o: &mut ChunkOutput,
) {
    let mark = o.out.len();
    let outcome = r.redecode(text, &mut o.out);
    match outcome.status {
        Status::Page => {
            match page_objects(text) {
                Ok(objs) => {
                    for obj in objs {
                        let s = obj.get();
                        let at = s.as_ptr().addr() - text.as_ptr().addr();
                        let l = line + text[..at].bytes().filter(|&b| b == b'\n').count() as u64;
                        one(r, s, l, source, settings, o);
                    }
                }
                Err(e) => {
                    let reason = format!("a Microshare page whose objs cannot be read: {e}");
                    write_compact(text, &mut o.out);
                    let at = Place {
                        source,
                        line,
                        id: &RecordId::None,
                    };
                    fail(text, true, &at, &reason, settings, mark, o);
                }
            }
            return;
        }
        Status::Failed => {
            let reason = outcome.reason.as_deref().unwrap_or("failed");
            let at = Place {
                source,
                line,
                id: &outcome.id,
            };
            fail(text, !outcome.unreadable, &at, reason, settings, mark, o);
            return;
        }
        Status::Changed => {
            o.counts.decoded += 1;
            o.counts.changed += 1;
        }
        Status::Unchanged => {
            o.counts.decoded += 1;
            o.counts.unchanged += 1;
        }
        Status::PassedThrough => o.counts.passed_through += 1,
    }
    o.counts.read += 1;
    if settings.diff {
        if outcome.status == Status::Changed {
            let after = outcome
                .after
                .map(|a| o.out[a].to_vec())
                .unwrap_or_else(|| b"null".to_vec());
            o.out.truncate(mark);
            o.out.extend_from_slice(b"{\"at\":");
            write_at(source, line, &mut o.out);
            o.out.extend_from_slice(b",\"id\":");
            outcome.id.write_json(&mut o.out);
            o.out.extend_from_slice(b",\"before\":");
            match outcome.before {
                Some(b) => write_minified(b, &mut o.out),
                None => o.out.extend_from_slice(b"null"),
            }
            o.out.extend_from_slice(b",\"after\":");
            o.out.extend_from_slice(&after);
            o.out.extend_from_slice(b"}\n");
            o.counts.written += 1;
        } else {
            o.out.truncate(mark);
        }
        return;
    }
    o.out.push(b'\n');
    o.counts.written += 1;
}

/// Where a record is: its input, line and id.
struct Place<'a> {
    source: &'a str,
    line: u64,
    id: &'a RecordId<'a>,
}

/// Accounts for a failed record whose output (from `mark`) is already in `o.out`: it stays
/// there, or goes to the errors output, or (with `diff`) becomes a line saying why.
fn fail(
    text: &str,
    readable: bool,
    at: &Place<'_>,
    reason: &str,
    settings: &Settings,
    mark: usize,
    o: &mut ChunkOutput,
) {
    let Place { source, line, id } = *at;
    o.counts.read += 1;
    o.counts.failed += 1;
    if o.failures.len() < FIRST_FAILURES {
        o.failures.push(Failure {
            at: format!("{source}:{line}"),
            reason: reason.to_string(),
        });
    }
    if settings.errors {
        o.out.truncate(mark);
        let e = &mut o.errors;
        e.extend_from_slice(b"{\"at\":");
        write_at(source, line, e);
        e.extend_from_slice(b",\"reason\":");
        write_str(reason, e);
        e.extend_from_slice(b",\"record\":");
        if readable {
            write_compact(text, e);
        } else {
            write_str(text, e);
        }
        e.extend_from_slice(b"}\n");
        o.counts.to_errors += 1;
    } else if settings.diff {
        o.out.truncate(mark);
        o.out.extend_from_slice(b"{\"at\":");
        write_at(source, line, &mut o.out);
        o.out.extend_from_slice(b",\"id\":");
        id.write_json(&mut o.out);
        o.out.extend_from_slice(b",\"reason\":");
        write_str(reason, &mut o.out);
        o.out.extend_from_slice(b"}\n");
        o.counts.written += 1;
    } else {
        o.out.push(b'\n');
        o.counts.written += 1;
    }
}

fn write_at(source: &str, line: u64, out: &mut Vec<u8>) {
    write_str(&format!("{source}:{line}"), out);
}

/// An input to read: its name (for error reports) and how to open it, called on the reader
/// thread when its turn comes.
pub struct Input {
    /// The name records are reported under (`<file>:<line>`).
    pub name: String,
    /// Opens it.
    pub open: Box<dyn FnOnce() -> io::Result<Box<dyn Read + Send>> + Send>,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Input").field("name", &self.name).finish()
    }
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Decoding threads (at least 1).
    pub jobs: usize,
    /// What is written for each record.
    pub settings: Settings,
    /// About how many bytes of records a chunk holds; `None`: 1 MiB, less with many jobs so
    /// that everything in flight stays under about 64 MiB.
    pub chunk_bytes: Option<usize>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Its counts.
    pub counts: Counts,
    /// Inputs that could not be opened or read to the end, with the reason.
    pub io_errors: Vec<String>,
    /// The first failed records, in input order (at most [`FIRST_FAILURES`]; `counts.failed`
    /// says how many failed in all).
    pub failures: Vec<Failure>,
}

enum Msg {
    Chunk(Arc<str>, Chunk),
    IoError(String),
}

/// Re-decodes every record of `inputs`, in order, writing to `out` (and failed records to
/// `errors` when [`Settings::errors`] is set). `progress` is called on the writer thread after
/// each batch with the counts so far. Returns an error only when writing fails.
pub fn run(
    inputs: Vec<Input>,
    selection: &Selection,
    options: &RunOptions,
    out: &mut (dyn Write + Send),
    mut errors: Option<&mut (dyn Write + Send)>,
    progress: &mut (dyn FnMut(&Counts) + Send),
) -> io::Result<Report> {
    let jobs = options.jobs.max(1);
    let target = options
        .chunk_bytes
        .unwrap_or_else(|| (64 << 20) / (8 * jobs))
        .clamp(1, 1 << 20);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("redecode-{i}"))
        .build()
        .map_err(io::Error::other)?;
    let settings = options.settings;
    let (chunk_tx, chunk_rx) = sync_channel::<Msg>(2 * jobs);
    let (done_tx, done_rx) = sync_channel::<Vec<ChunkOutput>>(1);
    let mut io_errors = Vec::new();

    std::thread::scope(|scope| {
        scope.spawn(move || read_inputs(inputs, target, &chunk_tx));
        let writer = scope.spawn(move || -> io::Result<(Counts, Vec<Failure>)> {
            let mut counts = Counts::default();
            let mut failures = Vec::new();
            for batch in done_rx {
                for o in batch {
                    out.write_all(&o.out)?;
                    if let Some(e) = errors.as_mut() {
                        e.write_all(&o.errors)?;
                    }
                    counts.add(&o.counts);
                    let room = FIRST_FAILURES - failures.len();
                    failures.extend(o.failures.into_iter().take(room));
                }
                progress(&counts);
            }
            out.flush()?;
            if let Some(e) = errors.as_mut() {
                e.flush()?;
            }
            Ok((counts, failures))
        });
        let mut batch: Vec<(Arc<str>, Chunk)> = Vec::with_capacity(2 * jobs);
        let mut input = chunk_rx.into_iter();
        loop {
            batch.clear();
            for msg in input.by_ref() {
                match msg {
                    Msg::Chunk(name, chunk) => batch.push((name, chunk)),
                    Msg::IoError(e) => io_errors.push(e),
                }
                if batch.len() == 2 * jobs {
                    break;
                }
            }
            if batch.is_empty() {
                break;
            }
            let outputs: Vec<ChunkOutput> = pool.install(|| {
                batch
                    .par_iter()
                    .map_init(
                        || Redecoder::new(selection),
                        |r, (name, chunk)| process_chunk(r, chunk, name, &settings),
                    )
                    .collect()
            });
            if done_tx.send(outputs).is_err() {
                break; // the writer stopped: its error is returned below
            }
        }
        drop(done_tx);
        drop(input);
        let (counts, failures) = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")))?;
        Ok(Report {
            counts,
            io_errors,
            failures,
        })
    })
}

fn read_inputs(inputs: Vec<Input>, target: usize, tx: &SyncSender<Msg>) {
    for input in inputs {
        let name: Arc<str> = input.name.into();
        let reader = match (input.open)() {
            Ok(r) => r,
            Err(e) => {
                if tx.send(Msg::IoError(format!("{name}: {e}"))).is_err() {
                    return;
                }
                continue;
            }
        };
        let mut framer = Framer::new(reader);
        let mut last_line = 0;
        while let Some(chunk) = framer.next_chunk(target) {
            last_line = chunk.items.last().map_or(last_line, |i| i.line);
            if tx.send(Msg::Chunk(name.clone(), chunk)).is_err() {
                return;
            }
        }
        if let Some(e) = framer.take_error() {
            let msg = format!("{name}: read error after line {last_line}: {e}");
            if tx.send(Msg::IoError(msg)).is_err() {
                return;
            }
        }
    }
}
