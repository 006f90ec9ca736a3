//! `--format resp`: the commands that rebuild the dataset, as RESP arrays of
//! bulk strings, for `redis-cli --pipe`.
//!
//! The commands come from command replay ([`ferry_sink::replay::Replayer`],
//! which documents them): per key, in file order, `DEL key` before a list,
//! set, sorted set, hash or stream, the value in bounded commands, then
//! `PEXPIREAT`; `FUNCTION LOAD REPLACE code` for function libraries. This
//! output adds `SELECT db` when the database changes, and prints the
//! replayer's notes (values no command can rebuild) as warnings on stderr.
//!
//! Memory: values go out as their items arrive, in bounded commands. Only a
//! consumer group's pending entries wait for the group's consumers, in a
//! [`ferry_sink::replay::PendingEntries`] that moves to a temporary file once
//! it is large.

use super::spool::DEFAULT_SPILL_BYTES;
use super::{Output, Summary};
use ferry_rdb::{Function, Item, KeyHeader, ModuleAux};
use ferry_sink::WriteMode;
use ferry_sink::replay::{Options, Replayer};
use std::io::{self, Write};

pub use ferry_sink::replay::{
    MAX_BATCH_BYTES, MAX_BATCH_ELEMENTS, MAX_STRING_PIECE_BYTES, score_arg,
};

/// Writes the RESP array header `*n\r\n`.
fn write_array_header<W: Write>(out: &mut W, n: usize) -> io::Result<()> {
    out.write_all(b"*")?;
    out.write_all(itoa::Buffer::new().format(n).as_bytes())?;
    out.write_all(b"\r\n")
}

/// Writes one bulk string `$len\r\nbytes\r\n`.
fn write_bulk<W: Write>(out: &mut W, arg: &[u8]) -> io::Result<()> {
    out.write_all(b"$")?;
    out.write_all(itoa::Buffer::new().format(arg.len()).as_bytes())?;
    out.write_all(b"\r\n")?;
    out.write_all(arg)?;
    out.write_all(b"\r\n")
}

/// Writes one command as a RESP array of bulk strings.
///
/// # Errors
/// Writing failed.
pub fn write_command<W: Write>(out: &mut W, args: &[&[u8]]) -> io::Result<()> {
    write_array_header(out, args.len())?;
    for arg in args {
        write_bulk(out, arg)?;
    }
    Ok(())
}

/// Writes `--format resp`.
#[derive(Debug)]
pub struct RespOutput<W: Write> {
    out: W,
    replayer: Replayer,
    /// The database the commands written so far selected.
    db: Option<u64>,
    /// The replayer's writes of the current call, emptied after each.
    writes: Vec<ferry_sink::Write>,
}

impl<W: Write> RespOutput<W> {
    /// Writes commands to `out`; keys and hash fields that expire at or before
    /// `now_ms` (Unix ms) are left out.
    pub fn new(out: W, now_ms: i64) -> Self {
        Self::with_spill_bytes(out, now_ms, DEFAULT_SPILL_BYTES)
    }

    /// As [`RespOutput::new`]; a stream consumer group's pending entries
    /// beyond about `spill_bytes` wait in a temporary file for their consumers.
    pub fn with_spill_bytes(out: W, now_ms: i64, spill_bytes: usize) -> Self {
        let mut options = Options::new(now_ms);
        options.spill_bytes = spill_bytes;
        RespOutput {
            out,
            replayer: Replayer::new(options),
            db: None,
            writes: Vec::new(),
        }
    }

    /// Writes the replayer's pending writes (with `SELECT` where the database
    /// changes) and prints its notes as warnings.
    fn drain(&mut self) -> io::Result<()> {
        while let Some(note) = self.replayer.poll_note() {
            // A closed stderr is no reason to stop.
            let _ = writeln!(io::stderr(), "ferry: warning: {note}");
        }
        let mut result = Ok(());
        for write in self.writes.drain(..) {
            if result.is_err() {
                break;
            }
            result = write_one(&mut self.out, &mut self.db, &write);
        }
        self.writes.clear();
        result
    }
}

/// Writes one command, after `SELECT` if its key is in another database.
fn write_one<W: Write>(
    out: &mut W,
    db: &mut Option<u64>,
    write: &ferry_sink::Write,
) -> io::Result<()> {
    if write.mode != WriteMode::Function && *db != Some(write.db) {
        let n = itoa::Buffer::new().format(write.db).to_owned();
        write_command(out, &[b"SELECT", n.as_bytes()])?;
        *db = Some(write.db);
    }
    let parts = write.command.parts();
    write_array_header(out, parts.len())?;
    for part in parts {
        write_bulk(out, part)?;
    }
    Ok(())
}

impl<W: Write> Output for RespOutput<W> {
    fn begin_key(&mut self, header: &KeyHeader) -> io::Result<()> {
        self.replayer.begin_key(header);
        self.drain()
    }

    fn element(&mut self, item: Item) -> io::Result<()> {
        let fed = self.replayer.element(item, &mut self.writes);
        let drained = self.drain();
        fed.and(drained)
    }

    fn end_key(&mut self) -> io::Result<()> {
        self.replayer.end_key(&mut self.writes);
        self.drain()
    }

    fn function(&mut self, function: &Function) -> io::Result<()> {
        self.replayer.function(function, &mut self.writes);
        self.drain()
    }

    fn module_aux(&mut self, aux: &ModuleAux) -> io::Result<()> {
        self.replayer.module_aux(aux);
        self.drain()
    }

    fn finish(&mut self) -> io::Result<Summary> {
        self.replayer.finish(&mut self.writes);
        self.drain()?;
        self.out.flush()?;
        let s = self.replayer.summary();
        Ok(Summary {
            keys_written: s.keys_written,
            functions_written: s.functions_written,
            expired_keys_skipped: s.expired_keys_skipped,
            expired_fields_skipped: s.expired_fields_skipped,
            empty_keys_skipped: s.empty_keys_skipped,
            unsupported: s.unsupported,
        })
    }
}
