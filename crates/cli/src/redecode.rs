//! `lorafield redecode`: inputs (files, gzip, stdin), the selection, the run and its summary.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use lorafield::{Options, Registry, Selection};
use lorafield_envelope::batch::Input;

/// The file read when `--config` is not given, if it exists in the current directory.
pub const DEFAULT_CONFIG: &str = "lorafield.toml";

/// Builds the selection: `--config FILE`, else `lorafield.toml` in the current directory if
/// there is one, else Cayenne LPP for everything; then the command line's overrides.
pub fn load_selection(
    registry: &Registry,
    config: Option<&Path>,
    codec: Option<&str>,
    options: &Options,
) -> Result<Selection> {
    let path = match config {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
    };
    let selection = match &path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Selection::from_toml(&text, registry).with_context(|| format!("in {}", p.display()))?
        }
        None => Selection::builtin_default(registry),
    };
    Ok(selection.with_overrides(registry, codec, options)?)
}

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
/// file's name).
pub fn maybe_gunzip(raw: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let gz = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
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
