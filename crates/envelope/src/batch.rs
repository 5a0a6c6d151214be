//! Batch re-decode: records from many inputs, in chunks, in parallel, in order.
//!
//! The calling thread frames the inputs into chunks of whole records
//! ([`Framer`](crate::Framer)), or has the pool's threads read a plain JSON Lines file in
//! blocks; each chunk is re-decoded on a rayon pool of `jobs` threads as soon as a thread is
//! free ([`process_chunk`]); a writer thread writes the results in input order. Every queue is
//! bounded, so memory stays at a few chunks per job whatever the size of the input.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use lorafield::Selection;
use lorafield::core::json::write_str;

use crate::frame::Chunk;
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
    process_chunk_into(redecoder, chunk, source, settings, Vec::new())
}

/// [`process_chunk`], writing the output into `out` (cleared first): a buffer an earlier
/// chunk's output was written to, to be used again.
pub fn process_chunk_into(
    redecoder: &mut Redecoder<'_>,
    chunk: &Chunk,
    source: &str,
    settings: &Settings,
    mut out: Vec<u8>,
) -> ChunkOutput {
    out.clear();
    out.reserve(chunk.bytes.len() + chunk.items.len() * 96);
    let mut o = ChunkOutput {
        out,
        ..ChunkOutput::default()
    };
    for item in &chunk.items {
        let bytes = &chunk.bytes[item.range.clone()];
        match std::str::from_utf8(bytes) {
            Ok(text) => one(redecoder, text, item.line, source, settings, &mut o),
            Err(e) => {
                let text = String::from_utf8_lossy(bytes);
                let reason = format!("{}: {e}", crate::redecode::NOT_UTF8);
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

/// An input to read: its name (for error reports) and how to open it, called when its turn
/// comes.
pub struct Input {
    /// The name records are reported under (`<file>:<line>`).
    pub name: String,
    /// Opens it.
    pub open: Box<dyn FnOnce() -> io::Result<Box<dyn Read + Send>> + Send>,
    /// The regular file it is, if it is one: a plain JSON Lines file is then read by the
    /// decoding threads in blocks (`open` serves for anything else).
    pub file: Option<FileSource>,
}

/// A regular file behind an [`Input`].
#[derive(Debug, Clone)]
pub struct FileSource {
    /// Its path.
    pub path: std::path::PathBuf,
    /// Counts the bytes read from it (a progress bar's position), if wanted.
    pub read: Option<Arc<std::sync::atomic::AtomicU64>>,
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

/// Re-decodes every record of `inputs`, in order, writing to `out` (and failed records to
/// `errors` when [`Settings::errors`] is set). `progress` is called on the writer thread after
/// each chunk with the counts so far. Returns an error only when writing fails.
///
/// The calling thread reads (or frames) the inputs and hands chunks to a pool of `jobs`
/// threads as soon as one is free (no batch waits for its slowest chunk); a writer thread puts
/// the outputs back in input order. A plain JSON Lines file is read by the pool's threads
/// themselves, in blocks at known offsets, so that copying it into memory is shared out too.
/// At most `3 * jobs` chunks are between reading and writing at once, which bounds the memory
/// and the writer's reordering; chunk and output buffers go round rather than being freed and
/// allocated again.
pub fn run(
    inputs: Vec<Input>,
    selection: &Selection,
    options: &RunOptions,
    out: &mut (dyn Write + Send),
    errors: Option<&mut (dyn Write + Send)>,
    progress: &mut (dyn FnMut(&Counts) + Send),
) -> io::Result<Report> {
    crate::pipeline::run(inputs, selection, options, out, errors, progress)
}
