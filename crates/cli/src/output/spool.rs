//! A byte buffer that moves to an anonymous temporary file once it outgrows a
//! limit, so that one huge key costs disk space, not memory.
//!
//! Outputs that may write a key only once it is complete (`--format jsonl`)
//! build its text in a [`Spool`] and copy it out at the end. Below the limit
//! nothing touches the disk. The file is created with [`tempfile::tempfile`]
//! in [`std::env::temp_dir`] (`$TMPDIR`, else `/tmp`) and has no name: the OS
//! deletes it when the spool is dropped, even if ferry is killed. It is
//! emptied after each key and used again for the next big one.

use std::fs::File;
use std::io::{self, Read, Seek, Write};

/// Default limit of one key's buffered output in memory (`--spill-bytes`);
/// the same as command replay's for pending entries.
pub const DEFAULT_SPILL_BYTES: usize = ferry_sink::replay::DEFAULT_SPILL_BYTES;

/// Size of the reads that copy a spilled spool out, and the least a spilled
/// spool buffers before it writes to its file again (whatever the limit).
const COPY_BUFFER_BYTES: usize = 64 * 1024;

/// Creates an anonymous temporary file for spilled data.
///
/// # Errors
/// The file cannot be created; the error names the directory.
pub fn temp_file() -> io::Result<File> {
    tempfile::tempfile().map_err(|e| temp_error(&e))
}

/// Adds where to an error of a temporary file, keeping its kind.
pub fn temp_error(e: &io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "temporary file in {} (for a large key): {e}",
            std::env::temp_dir().display()
        ),
    )
}

/// Bytes appended in memory, moved to a temporary file whenever more than
/// `limit` of them are buffered, and read back in order by [`Spool::drain`].
#[derive(Debug)]
pub struct Spool {
    /// Bytes not yet in the file: all of them until the first spill.
    buf: Vec<u8>,
    /// The temporary file, created at the first spill and kept (emptied) for
    /// the next contents.
    file: Option<File>,
    /// How many of the current bytes are in the file.
    in_file: u64,
    limit: usize,
}

impl Spool {
    /// An empty spool that keeps at most about `limit` bytes in memory (0
    /// spills every non-empty [`Spool::relieve`]).
    pub fn new(limit: usize) -> Self {
        Spool {
            buf: Vec::new(),
            file: None,
            in_file: 0,
            limit,
        }
    }

    /// The in-memory end of the spool, to append to. Call [`Spool::relieve`]
    /// after appending.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Moves the buffered bytes to the temporary file if there are more than
    /// the limit (once spilled: more than the limit and at least 64 KiB, so
    /// that a small limit does not mean one write per element).
    ///
    /// # Errors
    /// The temporary file cannot be created or written.
    #[inline]
    pub fn relieve(&mut self) -> io::Result<()> {
        let limit = if self.is_spilled() {
            self.limit.max(COPY_BUFFER_BYTES)
        } else {
            self.limit
        };
        if self.buf.len() > limit {
            self.spill()
        } else {
            Ok(())
        }
    }

    /// Moves the buffered bytes to the temporary file.
    fn spill(&mut self) -> io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(temp_file()?),
        };
        file.write_all(&self.buf).map_err(|e| temp_error(&e))?;
        self.in_file += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// True when some of the current bytes are in the temporary file.
    pub fn is_spilled(&self) -> bool {
        self.in_file > 0
    }

    /// Hands all bytes, in order and in pieces, to `sink`, then empties the
    /// spool (and its file). An error of `sink` is returned as is.
    ///
    /// # Errors
    /// The temporary file cannot be read, or `sink` fails.
    pub fn drain(&mut self, mut sink: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        if self.is_spilled() {
            let copied = self.copy_file(&mut sink);
            self.in_file = 0;
            // Empty the file for the next contents; start a new one if that fails.
            if let Some(file) = &mut self.file
                && (file.set_len(0).is_err() || file.rewind().is_err())
            {
                self.file = None;
            }
            copied?;
        }
        if !self.buf.is_empty() {
            sink(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Hands the bytes in the file to `sink`.
    fn copy_file(&mut self, sink: &mut impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        file.rewind().map_err(|e| temp_error(&e))?;
        let mut piece = vec![0; COPY_BUFFER_BYTES];
        let mut left = self.in_file;
        while left > 0 {
            let want = usize::try_from(left).map_or(piece.len(), |n| n.min(piece.len()));
            let n = match file.read(&mut piece[..want]) {
                Ok(0) => return Err(temp_error(&io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(temp_error(&e)),
            };
            sink(&piece[..n])?;
            left -= n as u64;
        }
        Ok(())
    }
}
