//! The batch pipeline behind [`batch::run`](crate::batch::run): the calling thread reads and
//! dispatches, a rayon pool decodes, a writer thread restores input order.
//!
//! Every chunk holds a token from the moment it is read (or, for a block of a file, asked
//! for) until the writer has written it; there are `3 * jobs` tokens. The calling thread
//! waits for tokens, and for the blocks the pool has read, through one channel of events.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use lorafield::Selection;

use crate::Framer;
use crate::batch::{
    ChunkOutput, Counts, FIRST_FAILURES, Failure, FileSource, Input, Report, RunOptions, Settings,
    process_chunk_into,
};
use crate::blocks::{self, Block, Start};
use crate::frame::Chunk;
use crate::redecode::Redecoder;

/// Buffers handed back to be used again: the bytes of chunks that were decoded and outputs
/// that were written.
struct Spares {
    chunks: Mutex<Vec<Vec<u8>>>,
    outputs: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl Spares {
    fn put(&self, list: &Mutex<Vec<Vec<u8>>>, buf: Vec<u8>) {
        let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
        if list.len() < self.keep {
            list.push(buf);
        }
    }

    fn take(list: &Mutex<Vec<Vec<u8>>>) -> Option<Vec<u8>> {
        list.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }
}

/// What the calling thread hears.
enum Event {
    /// The writer wrote a chunk: its token is free.
    Written,
    /// The writer stopped (a write failed, or everything is written).
    WriterStopped,
    /// A block of a file was read.
    Read(u64, io::Result<Block>),
}

/// What the decoding tasks share (all of it outlives the pool's scope).
struct Shared<'a, 's> {
    redecoders: &'a [Mutex<Redecoder<'s>>],
    spares: &'a Spares,
    settings: Settings,
}

impl Shared<'_, '_> {
    /// Decodes `chunk` on the current pool thread and hands it to the writer.
    fn decode(&self, chunk: Chunk, source: &str, seq: u64, done: &Sender<(u64, ChunkOutput)>) {
        let i = rayon::current_thread_index().unwrap_or(0) % self.redecoders.len();
        let mut r = self.redecoders[i].lock().unwrap_or_else(|e| e.into_inner());
        let buf = Spares::take(&self.spares.outputs).unwrap_or_default();
        let o = process_chunk_into(&mut r, &chunk, source, &self.settings, buf);
        drop(r);
        self.spares.put(&self.spares.chunks, chunk.bytes);
        // The writer stops early only on a write error, which `run` returns.
        let _ = done.send((seq, o));
    }
}

/// The calling thread's side: tokens, order, and what went wrong reading.
struct Dispatch<'a> {
    events: Receiver<Event>,
    event_tx: Sender<Event>,
    done: Sender<(u64, ChunkOutput)>,
    in_flight: usize,
    outstanding: usize,
    seq: u64,
    stopped: bool,
    /// Blocks read, by index, until their turn.
    read: BTreeMap<u64, io::Result<Block>>,
    io_errors: &'a mut Vec<String>,
}

impl Dispatch<'_> {
    /// Waits for one event and takes it in.
    fn wait(&mut self) {
        match self.events.recv() {
            Ok(Event::Written) => self.outstanding -= 1,
            Ok(Event::Read(k, block)) => {
                self.read.insert(k, block);
            }
            Ok(Event::WriterStopped) | Err(_) => self.stopped = true,
        }
    }

    /// Takes a token, waiting for one; `false` when the writer stopped.
    fn token(&mut self) -> bool {
        while self.outstanding >= self.in_flight && !self.stopped {
            self.wait();
        }
        if self.stopped {
            return false;
        }
        self.outstanding += 1;
        true
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }
}

pub(crate) fn run(
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
    let in_flight = 3 * jobs;
    let spares = Spares {
        chunks: Mutex::default(),
        outputs: Mutex::default(),
        keep: in_flight,
    };
    // One re-decoder per pool thread (each keeps its scratch buffers and its last codec).
    let redecoders: Vec<Mutex<Redecoder<'_>>> = (0..jobs)
        .map(|_| Mutex::new(Redecoder::new(selection)))
        .collect();
    let shared = Shared {
        redecoders: &redecoders,
        spares: &spares,
        settings: options.settings,
    };
    let (event_tx, events) = channel::<Event>();
    let (done, done_rx) = channel::<(u64, ChunkOutput)>();
    let mut io_errors = Vec::new();

    std::thread::scope(|scope| {
        let written = event_tx.clone();
        let spares = &spares;
        let writer = scope.spawn(move || {
            let result = write_in_order(done_rx, out, &mut errors, progress, spares, &written);
            let _ = written.send(Event::WriterStopped);
            result
        });
        let mut d = Dispatch {
            events,
            event_tx,
            done,
            in_flight,
            outstanding: 0,
            seq: 0,
            stopped: false,
            read: BTreeMap::new(),
            io_errors: &mut io_errors,
        };
        pool.in_place_scope(|s| {
            for input in inputs {
                let name: Arc<str> = input.name.as_str().into();
                let plain = match &input.file {
                    Some(file) => open_lines(file),
                    None => None,
                };
                let go_on = match plain {
                    Some((file, origin, len)) => {
                        let count = input.file.as_ref().and_then(|f| f.read.clone());
                        by_blocks(
                            s,
                            &mut d,
                            &shared,
                            &name,
                            &file,
                            (origin, len, target),
                            count,
                        )
                    }
                    None => framed(s, &mut d, &shared, &name, input, target),
                };
                if !go_on {
                    break;
                }
            }
        });
        let Dispatch { done, .. } = d;
        drop(done);
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

/// The writer: outputs back in input order, a token back per chunk written.
fn write_in_order(
    done: Receiver<(u64, ChunkOutput)>,
    out: &mut (dyn Write + Send),
    errors: &mut Option<&mut (dyn Write + Send)>,
    progress: &mut (dyn FnMut(&Counts) + Send),
    spares: &Spares,
    written: &Sender<Event>,
) -> io::Result<(Counts, Vec<Failure>)> {
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    for (seq, o) in done {
        waiting.insert(seq, o);
        while let Some(o) = waiting.remove(&next) {
            next += 1;
            out.write_all(&o.out)?;
            if let Some(e) = errors.as_mut() {
                e.write_all(&o.errors)?;
            }
            counts.add(&o.counts);
            let room = FIRST_FAILURES - failures.len();
            failures.extend(o.failures.into_iter().take(room));
            spares.put(&spares.outputs, o.out);
            let _ = written.send(Event::Written);
            progress(&counts);
        }
    }
    out.flush()?;
    if let Some(e) = errors.as_mut() {
        e.flush()?;
    }
    Ok((counts, failures))
}

/// The file of `source`, if it is a plain JSON Lines file: it, where its records start, and
/// its length. `None` (framed on this thread through `open`) for anything else, including a
/// file that cannot be opened here (`open` then reports why).
fn open_lines(source: &FileSource) -> Option<(Arc<File>, u64, u64)> {
    let file = File::open(&source.path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    match blocks::start(&file).ok()? {
        Start::Lines(origin) => Some((Arc::new(file), origin, meta.len())),
        Start::Other => None,
    }
}

/// Frames `input` on this thread and decodes its chunks on the pool; `false` when the writer
/// stopped.
fn framed<'scope>(
    s: &rayon::Scope<'scope>,
    d: &mut Dispatch<'_>,
    shared: &'scope Shared<'scope, '_>,
    name: &Arc<str>,
    input: Input,
    target: usize,
) -> bool {
    let reader = match (input.open)() {
        Ok(r) => r,
        Err(e) => {
            d.io_errors.push(format!("{name}: {e}"));
            return true;
        }
    };
    let mut framer = Framer::new(reader);
    let mut last_line = 0;
    loop {
        while let Some(buf) = Spares::take(&shared.spares.chunks) {
            framer.recycle(buf);
        }
        let Some(chunk) = framer.next_chunk(target) else {
            break;
        };
        last_line = chunk.items.last().map_or(last_line, |i| i.line);
        if !d.token() {
            return false;
        }
        let seq = d.next_seq();
        let done = d.done.clone();
        let name = name.clone();
        s.spawn(move |_| shared.decode(chunk, &name, seq, &done));
    }
    if let Some(e) = framer.take_error() {
        d.io_errors
            .push(format!("{name}: read error after line {last_line}: {e}"));
    }
    true
}

/// Reads a plain JSON Lines file in blocks on the pool (each block read, then decoded once
/// its first line's number is known); `false` when the writer stopped.
fn by_blocks<'scope>(
    s: &rayon::Scope<'scope>,
    d: &mut Dispatch<'_>,
    shared: &'scope Shared<'scope, '_>,
    name: &Arc<str>,
    file: &Arc<File>,
    (origin, len, target): (u64, u64, usize),
    count: Option<Arc<std::sync::atomic::AtomicU64>>,
) -> bool {
    let size = target as u64;
    let blocks = (len.saturating_sub(origin)).div_ceil(size);
    let (mut asked, mut next) = (0u64, 0u64);
    let mut line = 1;
    let mut failed = false;
    if let Some(c) = &count {
        c.fetch_add(origin, Ordering::Relaxed);
    }
    while next < blocks {
        // Ask for blocks while tokens are free (each is read on the pool).
        while asked < blocks && d.outstanding < d.in_flight && !failed {
            d.outstanding += 1;
            let k = asked;
            asked += 1;
            let from = origin + k * size;
            let to = (from + size).min(len);
            let (file, tx, spares) = (file.clone(), d.event_tx.clone(), shared.spares);
            s.spawn(move |_| {
                let buf = Spares::take(&spares.chunks).unwrap_or_default();
                let _ = tx.send(Event::Read(
                    k,
                    blocks::read(&file, origin, from, to, len, buf),
                ));
            });
        }
        // Decode the blocks whose turn it is.
        while let Some(block) = d.read.remove(&next) {
            next += 1;
            let seq = d.next_seq();
            let done = d.done.clone();
            match block {
                Ok(block) if !failed => {
                    let first = line;
                    line += block.newlines;
                    if let Some(c) = &count {
                        c.fetch_add(block.lines.len() as u64, Ordering::Relaxed);
                    }
                    let name = name.clone();
                    s.spawn(move |_| {
                        let chunk = blocks::chunk(block, first, Vec::new());
                        shared.decode(chunk, &name, seq, &done);
                    });
                }
                other => {
                    // After a read error nothing more of the file is decoded (as when it is
                    // framed); the blocks read already return their tokens through the writer.
                    if let Err(e) = other
                        && !failed
                    {
                        d.io_errors.push(format!(
                            "{name}: read error after line {}: {e}",
                            line.saturating_sub(1)
                        ));
                    }
                    failed = true;
                    let _ = done.send((seq, ChunkOutput::default()));
                }
            }
        }
        if failed && next == asked {
            break;
        }
        if next < blocks {
            d.wait();
            if d.stopped {
                return false;
            }
        }
    }
    true
}
