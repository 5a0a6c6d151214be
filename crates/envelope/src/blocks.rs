//! A JSON Lines file read in blocks by the decoding threads themselves, at known offsets.
//!
//! Copying a file from the kernel into memory is a fifth of a re-decode's work: on one reader
//! thread it is the part that does not scale. A regular file can be read anywhere at once, so
//! the decoding threads read it: block `k` holds the lines that start in the file's bytes
//! `[k * size, (k + 1) * size)`. A thread reads its block (one byte before it, to see whether
//! a line starts at its first byte, and past its end to the end of its last line) and counts
//! its newlines; the lines' numbers follow once every earlier block is counted. The records
//! and their lines are exactly those a [`Framer`](crate::Framer) finds in the same file.
//!
//! Only a plain file whose first line is a record (JSON Lines) is read this way; a gzip file,
//! standard input, a JSON array and pretty-printed documents are framed on one thread.

use std::fs::File;
use std::io;
use std::ops::Range;

use crate::frame::{Chunk, line_item};

/// How much is read past a block's end at a time while looking for the end of its last line.
const MORE: usize = 64 * 1024;

/// How a file looks at its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// JSON Lines, the records from this offset (past a byte order mark).
    Lines(u64),
    /// Anything else (gzip, a JSON array or documents, unsure): framed on one thread.
    Other,
}

/// Looks at the start of `file`, as the [`Framer`](crate::Framer) decides its layout.
pub(crate) fn start(file: &File) -> io::Result<Start> {
    let mut head = vec![0; MORE];
    let mut filled = 0;
    while filled < MORE {
        match read_at(file, &mut head[filled..], filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    head.truncate(filled);
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Start::Other);
    }
    let origin = if head.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let body = &head[origin..];
    let Some(i) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
        // Blank so far: too little to tell (or an empty file, which either way has no records).
        return Ok(Start::Other);
    };
    let rest = &body[i..];
    let Some(nl) = memchr::memchr(b'\n', rest) else {
        return Ok(Start::Other); // the first line is longer than the look: no guess
    };
    let first = &rest[..nl];
    if rest[0] == b'[' || first.trim_ascii() == b"{" {
        return Ok(Start::Other);
    }
    Ok(Start::Lines(origin as u64))
}

/// A block read by [`read`]: its lines are `bytes[lines]`.
#[derive(Debug)]
pub(crate) struct Block {
    pub bytes: Vec<u8>,
    pub lines: Range<usize>,
    /// Newlines in `bytes[lines]`: how far the next block's line numbers are from this one's.
    pub newlines: u64,
}

/// Reads the lines of `file` (of `len` bytes, records from `origin`) that start in `[from,
/// to)`, into `buf` (a spare buffer or an empty one).
pub(crate) fn read(
    file: &File,
    origin: u64,
    from: u64,
    to: u64,
    len: u64,
    mut buf: Vec<u8>,
) -> io::Result<Block> {
    // From one byte before the block: a line starts at `from` if that byte ends a line.
    let at = if from <= origin { origin } else { from - 1 };
    let mut filled = 0;
    let mut want = (to.min(len) - at) as usize;
    let mut eof = false;
    let mut end = None;
    loop {
        while filled < want && !eof {
            if buf.len() < want {
                buf.resize(want, 0);
            }
            let n = read_at(file, &mut buf[filled..want], at + filled as u64)?;
            eof = n == 0;
            filled += n;
        }
        if to >= len {
            break;
        }
        // The block's last line ends at the first newline from the byte before `to`.
        let from_last = (to - 1 - at) as usize;
        if from_last < filled
            && let Some(i) = memchr::memchr(b'\n', &buf[from_last..filled])
        {
            end = Some(from_last + i + 1);
            break;
        }
        if eof {
            break;
        }
        want = filled + MORE;
    }
    let end = end.unwrap_or(filled);
    let start = if from <= origin {
        0
    } else {
        memchr::memchr(b'\n', &buf[..filled]).map_or(filled, |i| i + 1)
    };
    let lines = start.min(end)..end;
    let newlines = memchr::memchr_iter(b'\n', &buf[lines.clone()]).count() as u64;
    Ok(Block {
        bytes: buf,
        lines,
        newlines,
    })
}

/// The records of a block whose first line is `first_line`, as a chunk.
pub(crate) fn chunk(block: Block, first_line: u64, mut items: Vec<crate::Item>) -> Chunk {
    items.clear();
    let Block { bytes, lines, .. } = block;
    let mut line = first_line;
    let mut pos = lines.start;
    while pos < lines.end {
        let end = memchr::memchr(b'\n', &bytes[pos..lines.end]).map_or(lines.end, |i| pos + i);
        if let Some(item) = line_item(&bytes, pos, end, line) {
            items.push(item);
        }
        pos = end + 1;
        line += 1;
    }
    Chunk { bytes, items }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::windows::fs::FileExt;
    file.seek_read(buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Framer;
    use std::io::Write;

    /// Records with their lines.
    type Records = Vec<(Vec<u8>, u64)>;

    /// The records and lines of `text` as a framer finds them, and read in blocks of `size`.
    fn both(text: &[u8], size: u64) -> (Records, Records) {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(text).unwrap();
        let mut framer = Framer::new(text);
        let mut want = Vec::new();
        while let Some(c) = framer.next_chunk(7) {
            for i in &c.items {
                want.push((c.bytes[i.range.clone()].to_vec(), i.line));
            }
        }
        let Start::Lines(origin) = start(&f).unwrap() else {
            return (want, Vec::new());
        };
        let len = text.len() as u64;
        let mut got = Vec::new();
        let mut line = 1;
        let mut from = origin;
        while from < len {
            let to = (from + size).min(len);
            let block = read(&f, origin, from, to, len, Vec::new()).unwrap();
            let newlines = block.newlines;
            let c = chunk(block, line, Vec::new());
            for i in &c.items {
                got.push((c.bytes[i.range.clone()].to_vec(), i.line));
            }
            line += newlines;
            from = to;
        }
        (want, got)
    }

    #[test]
    fn blocks_give_the_framers_records_and_lines() {
        let text = b"\xef\xbb\xbf\n{\"a\":1}\r\n\n  {\"b\":22}  \n{\"c\":333}\n\n{\"d\":4}";
        for size in 1..=text.len() as u64 + 1 {
            let (want, got) = both(text, size);
            assert_eq!(want.len(), 4);
            assert_eq!(got, want, "blocks of {size}");
        }
    }

    #[test]
    fn other_layouts_are_left_to_the_framer() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"[{\"a\":1},\n{\"b\":2}]\n").unwrap();
        assert_eq!(start(&f).unwrap(), Start::Other);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"{\n  \"a\": 1\n}\n").unwrap();
        assert_eq!(start(&f).unwrap(), Start::Other);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[0x1f, 0x8b, 8, 0]).unwrap();
        assert_eq!(start(&f).unwrap(), Start::Other);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any JSON Lines-ish text (short lines of a few bytes, blank lines, CRs, spaces, a
        /// last line with or without its newline), any block size.
        #[test]
        fn any_lines_any_block_size(
            lines in proptest::collection::vec("[{}a \r]{0,12}", 1..40),
            last_newline: bool,
            size in 1u64..64,
        ) {
            let mut text = String::from("{\"x\":0}\n");
            text.push_str(&lines.join("\n"));
            if last_newline {
                text.push('\n');
            }
            let (want, got) = both(text.as_bytes(), size);
            proptest::prop_assert_eq!(got, want);
        }
    }
}
