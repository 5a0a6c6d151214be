//! `lorafield redecode`: inputs (files, gzip, stdin), the selection, the run and its summary.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use lorafield::{Registry, Selection};
use lorafield_envelope::batch::{FileSource, Input};

pub use crate::config::{DEFAULT_CONFIG, load_selection};

/// Counts the bytes read through it (the progress bar's position).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A reader over `raw`, gunzipped when it starts with the gzip magic bytes (whatever the
/// file's name). Not buffered: the framer reads in large blocks of its own, and a buffer in
/// between would copy every byte once more.
pub fn maybe_gunzip(raw: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let gz = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    // What was read to look is read again first, then the rest straight from the source.
    let peeked = io::Cursor::new(buffered.buffer().to_vec());
    let raw = peeked.chain(buffered.into_inner());
    Ok(if gz {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    })
}

/// The inputs: each file (`-` is standard input), or standard input when there is none.
/// `read` counts the raw bytes read (compressed ones for gzip files).
pub fn inputs(files: &[PathBuf], read: &Arc<AtomicU64>) -> Vec<Input> {
    let stdin = || Input {
        name: "<stdin>".into(),
        open: {
            let count = read.clone();
            Box::new(move || {
                maybe_gunzip(Box::new(Counting {
                    inner: io::stdin(),
                    count,
                }))
            })
        },
        file: None,
    };
    if files.is_empty() {
        return vec![stdin()];
    }
    files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                return stdin();
            }
            let path = f.clone();
            let count = read.clone();
            Input {
                name: f.display().to_string(),
                open: Box::new(move || {
                    let file = File::open(&path)?;
                    maybe_gunzip(Box::new(Counting { inner: file, count }))
                }),
                file: Some(FileSource {
                    path: f.clone(),
                    read: Some(read.clone()),
                }),
            }
        })
        .collect()
}

/// The total size of the files, for the progress bar (`None` when stdin is among them).
pub fn total_size(files: &[PathBuf]) -> Option<u64> {
    if files.is_empty() {
        return None;
    }
    files.iter().try_fold(0, |sum, f| {
        if f.as_os_str() == "-" {
            return None;
        }
        Some(sum + std::fs::metadata(f).ok()?.len())
    })
}

/// An input reading the shares of `rec_type` from Microshare, page by page (999 a page), as
/// JSON Lines: one share per line, in the order the API gives them.
pub fn microshare_input(client: lorafield_microshare::client::Client, rec_type: &str) -> Input {
    let name = format!("microshare:{rec_type}");
    let rec_type = rec_type.to_string();
    Input {
        name,
        open: Box::new(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let pages = client.pages(&rec_type, 999);
            Ok(Box::new(PagesReader {
                runtime,
                pages,
                buf: Vec::new(),
                pos: 0,
                done: false,
            }) as Box<dyn Read + Send>)
        }),
        file: None,
    }
}

struct PagesReader {
    runtime: tokio::runtime::Runtime,
    pages: lorafield_microshare::client::Pages,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for PagesReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.buf.clear();
            self.pos = 0;
            match self.runtime.block_on(self.pages.next()) {
                None => self.done = true,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(io::Error::other(e.to_string()));
                }
                Some(Ok(page)) => {
                    for share in &page.objs {
                        self.buf.extend_from_slice(share.get().as_bytes());
                        self.buf.push(b'\n');
                    }
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The output of `redecode --to-microshare`: every line written is a record put into the
/// outbox (a share's `data`, or the envelope itself), keyed like `serve` keys uplinks; the
/// lines of one write share a commit. A record whose key and recType the outbox holds already
/// is not put in again ([`OutboxWriter::held`] counts them).
pub struct OutboxWriter {
    outbox: lorafield_microshare::outbox::Outbox,
    rec_type: String,
    selection: Selection,
    partial: Vec<u8>,
    /// Records put into the outbox.
    pub enqueued: u64,
    held: Arc<AtomicU64>,
}

impl OutboxWriter {
    /// Records go to `rec_type` through `outbox`.
    pub fn new(outbox: lorafield_microshare::outbox::Outbox, rec_type: &str) -> Self {
        OutboxWriter {
            outbox,
            rec_type: rec_type.to_string(),
            selection: Selection::builtin_default(&Registry::builtin()),
            partial: Vec::new(),
            enqueued: 0,
            held: Arc::default(),
        }
    }

    /// Counts the records not put in because the outbox held them already (readable after
    /// the writer is boxed or dropped).
    pub fn held(&self) -> Arc<AtomicU64> {
        self.held.clone()
    }

    fn record(&self, line: &[u8]) -> io::Result<lorafield_microshare::outbox::NewRecord> {
        use lorafield_microshare::outbox::{NewRecord, uplink_key};
        #[derive(serde::Deserialize)]
        struct Share<'a> {
            #[serde(borrow)]
            data: Option<&'a serde_json::value::RawValue>,
        }
        let text = std::str::from_utf8(line).map_err(io::Error::other)?;
        let body = match serde_json::from_str::<Share<'_>>(text) {
            Ok(Share { data: Some(d) }) if d.get().starts_with('{') => d.get(),
            _ => text,
        };
        // The envelope's ids, as `serve` reads them (a re-decode of a decoded record is a no-op).
        let mut r = lorafield_envelope::Redecoder::new(&self.selection).with_ids(true);
        let mut scratch = Vec::new();
        let key = uplink_key(r.redecode(body, &mut scratch).ids.as_ref(), body);
        Ok(NewRecord {
            key,
            rec_type: self.rec_type.clone(),
            body: body.as_bytes().to_vec(),
        })
    }
}

impl io::Write for OutboxWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        let Some(last) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(buf.len());
        };
        let whole: Vec<u8> = self.partial.drain(..=last).collect();
        let records = whole
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| self.record(l))
            .collect::<io::Result<Vec<_>>>()?;
        let results = self
            .outbox
            .enqueue_many_blocking(records)
            .map_err(io::Error::other)?;
        let held = results.iter().filter(|r| r.is_duplicate()).count() as u64;
        self.enqueued += results.len() as u64 - held;
        self.held.fetch_add(held, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.partial.is_empty() {
            self.partial.push(b'\n');
            self.write(&[])?;
        }
        Ok(())
    }
}
