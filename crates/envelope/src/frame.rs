//! Splitting a byte stream into records, in chunks, with the line each record starts on.
//!
//! Three layouts are told apart by the start of the stream:
//!
//! - **JSON Lines** (the first line holds more than a lone `{`): every non-blank line is a
//!   record; a broken line is one bad record and the next line starts afresh.
//! - **A JSON array** (the first byte `[`): every element is a record, read one by one, so a
//!   large array streams.
//! - **JSON documents** (the first line a lone `{`, as a pretty-printed page or envelope
//!   starts): every top-level value is a record (a page is expanded later).
//!
//! Values are delimited by a bracket-and-string scanner, not parsed: the parse (and with it
//! every syntax error, reported with the record's line) happens when the record is decoded.
//! A value cut by the end of the stream is a record of its own, which will fail to parse.

use std::io::{self, Read};
use std::ops::Range;

/// One record of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its bytes in [`Chunk::bytes`].
    pub range: Range<usize>,
    /// The line it starts on, from 1.
    pub line: u64,
}

/// The record of JSON Lines in `buf[start..end]` (one line, without its newline), trimmed
/// of white space; `None` for a blank line.
pub(crate) fn line_item(buf: &[u8], start: usize, end: usize, line: u64) -> Option<Item> {
    let end = start + buf[start..end].trim_ascii_end().len();
    let start = end - buf[start..end].trim_ascii_start().len();
    (start < end).then_some(Item {
        range: start..end,
        line,
    })
}

/// Whole records, in order.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The bytes the items point into.
    pub bytes: Vec<u8>,
    /// The records.
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Unknown,
    Lines,
    Documents,
}

/// Reads records from `R` in chunks of about a target size.
#[derive(Debug)]
pub struct Framer<R> {
    reader: R,
    layout: Layout,
    /// Bytes read and not yet handed out: `buf[..filled]`. What lies beyond (up to
    /// `buf.len()`) is room a read may fill, already initialised.
    buf: Vec<u8>,
    filled: usize,
    /// How far `buf` has been scanned.
    pos: usize,
    /// The line at `pos`.
    line: u64,
    eof: bool,
    error: Option<io::Error>,
    scan: Scan,
    /// Items found in `buf`, not yet handed out.
    items: Vec<Item>,
    /// Buffers of chunks handed out earlier, given back to be filled again.
    spare: Vec<Vec<u8>>,
}

/// The scanner's state between reads (documents layout).
#[derive(Debug, Default, Clone)]
struct Scan {
    depth: u32,
    in_string: bool,
    escape: bool,
    /// The top-level value is an array whose elements are the records.
    in_array: bool,
    /// The record being scanned: its start, its line, and whether it is a scalar.
    open: Option<(usize, u64, bool)>,
}

/// How much one read asks for.
const READ: usize = 128 * 1024;

impl<R: Read> Framer<R> {
    /// A framer over `reader` (buffering of its own: no `BufReader` needed).
    pub fn new(reader: R) -> Self {
        Framer {
            reader,
            layout: Layout::Unknown,
            buf: Vec::new(),
            filled: 0,
            pos: 0,
            line: 1,
            eof: false,
            error: None,
            scan: Scan::default(),
            items: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Gives back the bytes of a chunk handed out earlier, to hold a later chunk: a run that
    /// recycles its buffers touches no new memory once it is going (fresh pages cost the kernel
    /// a fault and a clear each).
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        if self.spare.len() < 4 {
            self.spare.push(bytes);
        }
    }

    /// The read error that ended the stream early, if one did. The records read before it
    /// were handed out, the last one possibly cut.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// The next chunk of whole records, of about `target` bytes (one record may exceed it);
    /// `None` at the end of the stream. A read error ends the stream (see
    /// [`Framer::take_error`]).
    pub fn next_chunk(&mut self, target: usize) -> Option<Chunk> {
        loop {
            let have = self.items.last().map_or(0, |i| i.range.end);
            if have >= target || (self.eof && self.pos >= self.filled) {
                break;
            }
            if self.pos >= self.filled {
                self.fill();
                continue;
            }
            match self.layout {
                Layout::Unknown => self.detect(),
                Layout::Lines => self.scan_lines(),
                Layout::Documents => self.scan_documents(),
            }
        }
        if self.eof && self.pos >= self.filled {
            self.finish_open();
        }
        if self.items.is_empty() {
            return None;
        }
        let cut = self.items.last().map_or(0, |i| i.range.end);
        // The next chunk's buffer: what is left of this one, with room for a whole chunk and
        // the reads that may pass it.
        let left = self.filled - cut;
        let need = left.max(target) + 2 * READ;
        let mut rest = match self.spare.pop() {
            // A buffer given back keeps its bytes: they are overwritten, not zeroed again.
            Some(b) if b.capacity() >= need => b,
            _ => Vec::with_capacity(need),
        };
        if rest.len() < left {
            rest.resize(left, 0);
        }
        rest[..left].copy_from_slice(&self.buf[cut..self.filled]);
        self.buf.truncate(cut);
        let bytes = std::mem::replace(&mut self.buf, rest);
        self.filled = left;
        self.pos -= cut;
        if let Some((start, _, _)) = &mut self.scan.open {
            *start -= cut;
        }
        Some(Chunk {
            bytes,
            items: std::mem::take(&mut self.items),
        })
    }

    fn fill(&mut self) {
        if self.eof {
            return;
        }
        // Read straight into the buffer (no `BufReader` in between: that would copy every byte
        // once more). Safe Rust reads into initialised bytes only: room that no earlier chunk
        // used is zeroed once, and a recycled buffer's old bytes are simply overwritten.
        let start = self.filled;
        if self.buf.len() < start + READ {
            self.buf.resize(start + READ, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[start..start + READ]) {
                Ok(n) => {
                    self.filled = start + n;
                    self.eof = n == 0;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    self.eof = true;
                    return;
                }
            }
        }
    }

    /// Decides the layout from the first line (reading until it is whole).
    fn detect(&mut self) {
        let bytes = &self.buf[self.pos..self.filled];
        // A UTF-8 byte order mark is not content.
        if self.pos == 0 && bytes.starts_with(b"\xef\xbb\xbf") {
            self.pos = 3;
            return;
        }
        let Some(i) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
            self.line += count_lines(bytes);
            self.pos = self.filled;
            return;
        };
        self.line += count_lines(&bytes[..i]);
        self.pos += i;
        let rest = &self.buf[self.pos..self.filled];
        let line_end = memchr::memchr(b'\n', rest);
        if line_end.is_none() && !self.eof {
            // The first line is not whole yet.
            let before = self.filled;
            self.fill();
            if self.filled == before && !self.eof {
                return;
            }
            return;
        }
        let first = &rest[..line_end.unwrap_or(rest.len())];
        self.layout = if rest[0] == b'[' || first.trim_ascii() == b"{" {
            Layout::Documents
        } else {
            Layout::Lines
        };
    }

    fn scan_lines(&mut self) {
        let rest = &self.buf[self.pos..self.filled];
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            if self.eof {
                self.push_line(self.pos, self.filled);
                self.pos = self.filled;
            } else {
                self.fill();
            }
            return;
        };
        let end = self.pos + nl;
        self.push_line(self.pos, end);
        self.pos = end + 1;
        self.line += 1;
    }

    fn push_line(&mut self, start: usize, end: usize) {
        if let Some(item) = line_item(&self.buf, start, end, self.line) {
            self.items.push(item);
        }
    }

    fn scan_documents(&mut self) {
        let mut s = std::mem::take(&mut self.scan);
        let mut i = self.pos;
        let level = u32::from(s.in_array);
        while i < self.filled {
            let b = self.buf[i];
            if b == b'\n' {
                self.line += 1;
            }
            if s.in_string {
                if s.escape {
                    s.escape = false;
                } else if b == b'\\' {
                    s.escape = true;
                } else if b == b'"' {
                    s.in_string = false;
                    if s.depth == level
                        && let Some((start, line, _)) = s.open.take()
                    {
                        self.items.push(Item {
                            range: start..i + 1,
                            line,
                        });
                    }
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => {
                    if s.depth == level && s.open.is_none() {
                        s.open = Some((i, self.line, false));
                    }
                    s.in_string = true;
                }
                b'{' | b'[' => {
                    if s.depth == 0 && b == b'[' && s.open.is_none() {
                        s.in_array = true;
                        s.depth = 1;
                        i += 1;
                        break; // the item level changed: rescan from here
                    }
                    if s.depth == level && s.open.is_none() {
                        s.open = Some((i, self.line, false));
                    }
                    s.depth += 1;
                }
                b'}' | b']' => {
                    if s.open.is_some_and(|(_, _, scalar)| scalar) && s.depth == level {
                        self.end_scalar(&mut s, i);
                    }
                    if s.depth == 0 {
                        // A stray closer: a record of its own, which will fail to parse.
                        self.items.push(Item {
                            range: i..i + 1,
                            line: self.line,
                        });
                    } else {
                        s.depth -= 1;
                        if s.in_array && s.depth == 0 {
                            s.in_array = false;
                            i += 1;
                            break;
                        }
                        if s.depth == level
                            && let Some((start, line, _)) = s.open.take()
                        {
                            self.items.push(Item {
                                range: start..i + 1,
                                line,
                            });
                        }
                    }
                }
                b',' => {
                    if s.depth == level {
                        self.end_scalar(&mut s, i);
                    }
                }
                b if b.is_ascii_whitespace() => {
                    if s.depth == level {
                        self.end_scalar(&mut s, i);
                    }
                }
                _ => {
                    if s.depth == level && s.open.is_none() {
                        s.open = Some((i, self.line, true));
                    }
                }
            }
            i += 1;
            if self.items.len() > 64 {
                break;
            }
        }
        self.pos = i;
        self.scan = s;
    }

    fn end_scalar(&mut self, s: &mut Scan, i: usize) {
        if let Some((start, line, true)) = s.open {
            self.items.push(Item {
                range: start..i,
                line,
            });
            s.open = None;
        }
    }

    /// At the end of the stream: a record still open was cut; hand it out as it is.
    fn finish_open(&mut self) {
        if let Some((start, line, _)) = self.scan.open.take() {
            let end = self.filled;
            if start < end {
                self.items.push(Item {
                    range: start..end,
                    line,
                });
            }
        }
        self.scan = Scan::default();
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record's text and line, reading `input` in chunks of `target` bytes through a
    /// reader that returns `step` bytes at a time.
    fn records(input: &str, target: usize, step: usize) -> Vec<(String, u64)> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut f = Framer::new(Trickle(input.as_bytes(), step));
        let mut out = Vec::new();
        while let Some(chunk) = f.next_chunk(target) {
            for item in chunk.items {
                let text = std::str::from_utf8(&chunk.bytes[item.range]).unwrap();
                out.push((text.to_string(), item.line));
            }
        }
        assert!(f.take_error().is_none());
        out
    }

    fn all_ways(input: &str) -> Vec<(String, u64)> {
        let first = records(input, 1 << 20, 1 << 20);
        for target in [1, 7, 100] {
            for step in [1, 3, 64] {
                assert_eq!(records(input, target, step), first, "{target} {step}");
            }
        }
        first
    }

    fn owned(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(s, l)| (s.to_string(), *l)).collect()
    }

    #[test]
    fn json_lines_are_records_and_blank_lines_are_not() {
        let input = "{\"a\":1}\n\n  {\"b\":\"}\"}\r\n{\"c\":[1,\n{\"d\":2}";
        assert_eq!(
            all_ways(input),
            owned(&[
                ("{\"a\":1}", 1),
                ("{\"b\":\"}\"}", 3),
                ("{\"c\":[1,", 4),
                ("{\"d\":2}", 5)
            ])
        );
    }

    #[test]
    fn pretty_documents_are_records_with_their_first_line() {
        let input = "\n{\n  \"meta\": {},\n  \"objs\": [ {\"x\": \"a}\\\"b\"} ]\n}\n{\n\"y\":1}\n";
        assert_eq!(
            all_ways(input),
            owned(&[
                (
                    "{\n  \"meta\": {},\n  \"objs\": [ {\"x\": \"a}\\\"b\"} ]\n}",
                    2
                ),
                ("{\n\"y\":1}", 6)
            ])
        );
    }

    #[test]
    fn array_elements_are_records() {
        let input = "[\n {\"a\":[1,2]},\n {\"b\":{}} , 5, \"s\" ,\n{\"c\":1}\n]\n[{\"d\":1}]";
        assert_eq!(
            all_ways(input),
            owned(&[
                ("{\"a\":[1,2]}", 2),
                ("{\"b\":{}}", 3),
                ("5", 3),
                ("\"s\"", 3),
                ("{\"c\":1}", 4),
                ("{\"d\":1}", 6)
            ])
        );
    }

    #[test]
    fn a_cut_value_is_a_record_of_its_own() {
        assert_eq!(
            all_ways("[{\"a\":1},{\"b\":[1,2"),
            owned(&[("{\"a\":1}", 1), ("{\"b\":[1,2", 1)])
        );
        assert_eq!(
            all_ways("{\n\"a\": {\"b\": 1"),
            owned(&[("{\n\"a\": {\"b\": 1", 1)])
        );
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(all_ways("").is_empty());
        assert!(all_ways(" \n\n ").is_empty());
        assert_eq!(all_ways("\u{feff}{\"a\":1}"), owned(&[("{\"a\":1}", 1)]));
    }

    #[test]
    fn a_read_error_ends_the_stream_with_what_was_read() {
        struct Failing(bool);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 {
                    return Err(io::Error::other("corrupt"));
                }
                self.0 = true;
                let t = b"{\"a\":1}\n{\"b\"";
                buf[..t.len()].copy_from_slice(t);
                Ok(t.len())
            }
        }
        let mut f = Framer::new(Failing(false));
        let c = f.next_chunk(1 << 20).unwrap();
        assert_eq!(c.items.len(), 2);
        assert_eq!(&c.bytes[c.items[1].range.clone()], b"{\"b\"");
        assert!(f.next_chunk(1 << 20).is_none());
        assert_eq!(f.take_error().unwrap().to_string(), "corrupt");
    }
}
