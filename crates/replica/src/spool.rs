//! A bounded queue of replication events between the readers of the
//! sources and the applier: in memory up to a budget, then in one local
//! file up to a budget, always in push order.
//!
//! A master disconnects a replica whose output buffer outgrows
//! `client-output-buffer-limit`, so its socket must be read at network
//! speed even when the target is slower: what the target has not taken yet
//! waits here.

use crate::session::Event;
use bytes::BytesMut;
use ferry_resp::Decoder;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// What an event costs in memory beyond its payload (the `Event`, its
/// queue slot, the `Bytes` handle), so that a flood of tiny commands is
/// bounded too.
const EVENT_OVERHEAD_BYTES: u64 = 64;
/// Buffer of the file's writer: pushes are small, appends should not be.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// Buffer of the file's reader.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Numbers the spools of this process, for unique file names.
static NEXT_SPOOL: AtomicU64 = AtomicU64::new(0);

/// Record tags of the file (see [`encode`]).
const TAG_FULL_RESYNC: u8 = 1;
const TAG_CONTINUE: u8 = 2;
const TAG_SNAPSHOT_START: u8 = 3;
const TAG_SNAPSHOT: u8 = 4;
const TAG_SNAPSHOT_END: u8 = 5;
const TAG_COMMAND: u8 = 6;

/// Where the spool keeps what does not fit in memory, and how much it may
/// hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The directory of the spool file (created if missing).
    pub dir: PathBuf,
    /// Events held in memory, in bytes: payloads plus a fixed overhead per
    /// event. Beyond it, events go to the file.
    pub memory_bytes: usize,
    /// Longest the spool file may grow, in bytes. When full, pushes wait.
    pub disk_bytes: u64,
}

impl SpoolConfig {
    /// Default [`SpoolConfig::memory_bytes`]: 64 MiB.
    pub const DEFAULT_MEMORY_BYTES: usize = 64 * 1024 * 1024;
    /// Default [`SpoolConfig::disk_bytes`]: 4 GiB.
    pub const DEFAULT_DISK_BYTES: u64 = 4 * 1024 * 1024 * 1024;

    /// A spool in `dir` with the default budgets.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolConfig {
            dir: dir.into(),
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
            disk_bytes: Self::DEFAULT_DISK_BYTES,
        }
    }
}

/// What the spool holds now, and counters since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Events in memory, in bytes (payloads plus a fixed overhead each).
    pub memory_bytes: u64,
    /// Bytes of the file not yet read back.
    pub disk_bytes: u64,
    /// Length of the file: what [`SpoolConfig::disk_bytes`] bounds. It
    /// returns to 0 once the reader has read all of it.
    pub disk_file_bytes: u64,
    /// Events queued, in memory and on disk.
    pub events: u64,
    /// Bytes written to the file in all.
    pub spilled_bytes_total: u64,
    /// Pushes that had to wait for room on disk.
    pub disk_full_waits: u64,
}

/// Why the spool could not take or give an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// Creating, writing, reading or truncating the spool file (or its
    /// directory) failed.
    #[error("spool file {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A record of the file does not decode: the file was changed by
    /// someone else, or the disk lost data.
    #[error("spool file {}: corrupt record at byte {offset}: {what}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the record starts in the file.
        offset: u64,
        /// What is wrong with it.
        what: String,
    },
    /// The [`SpoolReader`] was dropped: nobody will take the event.
    #[error("the spool's reader is gone")]
    Closed,
    /// The spool failed earlier (an error was returned to a writer or to
    /// the reader); what is in it can no longer be trusted.
    #[error("the spool already failed")]
    Failed,
}

/// Makes a spool: the writers' half (clone it, one per source) and the
/// reader's half. The file is created now, empty, in `config.dir`, and
/// removed when both halves are dropped.
///
/// ```
/// use ferry_replica::{Event, SpoolConfig, spool};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let (writer, mut reader) = spool(SpoolConfig::new(dir.path()))?;
/// let second_source = writer.clone();
/// writer.push(0, Event::SnapshotEnd).await?;
/// second_source.push(1, Event::Continue { replid: "8f1c".into() }).await?;
/// drop((writer, second_source));
/// assert_eq!(reader.pop().await?, Some((0, Event::SnapshotEnd)));
/// assert!(matches!(reader.pop().await?, Some((1, Event::Continue { .. }))));
/// assert_eq!(reader.pop().await?, None); // every writer is gone
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The directory cannot be created or the file cannot be created or
/// opened ([`SpoolError::Io`]).
pub fn spool(config: SpoolConfig) -> Result<(SpoolWriter, SpoolReader), SpoolError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| SpoolError::Io { path, source }
    };
    std::fs::create_dir_all(&config.dir).map_err(io_err(&config.dir))?;
    let pid = std::process::id();
    // A file left by a process that had our pid (a crash, a container) is
    // not ours to reuse: take the next number.
    let (path, file) = loop {
        let n = NEXT_SPOOL.fetch_add(1, Ordering::Relaxed);
        let path = config.dir.join(format!("spool-{pid}-{n}.bin"));
        // Append mode: after the reader truncates the file, writes start
        // again at 0 without a seek.
        match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(file) => break (path, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&path)(e)),
        }
    };
    let reader_file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            // Nothing will own the file: do not leave it behind.
            let _ = std::fs::remove_file(&path);
            return Err(io_err(&path)(e));
        }
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            memory: VecDeque::new(),
            memory_bytes: 0,
            file: Some(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)),
            written: 0,
            read: 0,
            disk_events: 0,
            writers: 1,
            reader: true,
            failed: false,
            spilled_bytes_total: 0,
            disk_full_waits: 0,
        }),
        readable: Notify::new(),
        writable: Notify::new(),
        path,
        memory_budget: u64::try_from(config.memory_bytes).unwrap_or(u64::MAX),
        disk_budget: config.disk_bytes,
    });
    let reader = SpoolReader {
        disk: DiskReader {
            file: BufReader::with_capacity(READ_BUFFER_BYTES, reader_file),
            pos: 0,
        },
        failed: false,
        shared: Arc::clone(&shared),
    };
    Ok((SpoolWriter { shared }, reader))
}

/// The half that queues events. Clones share one spool; the reader sees
/// the end once every clone is dropped.
#[derive(Debug)]
pub struct SpoolWriter {
    shared: Arc<Shared>,
}

/// The half that takes events, in push order.
#[derive(Debug)]
pub struct SpoolReader {
    /// Declared before `shared` so that the file is closed before the
    /// last `Arc` removes it.
    disk: DiskReader,
    failed: bool,
    shared: Arc<Shared>,
}

/// The reader's own handle on the file.
#[derive(Debug)]
struct DiskReader {
    file: BufReader<File>,
    /// Where `file` is: the next record to read.
    pos: u64,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Woken on a push, on the last writer's drop and on a failure.
    readable: Notify,
    /// Woken when the reader empties the file, on its drop and on a
    /// failure.
    writable: Notify,
    path: PathBuf,
    memory_budget: u64,
    disk_budget: u64,
}

#[derive(Debug)]
struct State {
    /// Events in memory. All of them were pushed before any on disk: a
    /// push goes to memory only while the file holds no unread event.
    memory: VecDeque<Queued>,
    memory_bytes: u64,
    /// `None` only while the spool is dropped.
    file: Option<BufWriter<File>>,
    /// Bytes of records handed to `file` since it was last emptied.
    written: u64,
    /// Bytes of them the reader has taken.
    read: u64,
    /// Records in `read..written`.
    disk_events: u64,
    writers: usize,
    reader: bool,
    failed: bool,
    spilled_bytes_total: u64,
    disk_full_waits: u64,
}

#[derive(Debug)]
struct Queued {
    shard: u32,
    event: Event,
    size: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and every update of the
        // state is complete before anything that could fail: a poisoned
        // lock still guards a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn io(&self, source: io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Marks the spool failed and wakes everyone waiting, so that they see
    /// it rather than wait forever.
    fn fail(&self, mut state: MutexGuard<'_, State>) {
        state.failed = true;
        drop(state);
        self.readable.notify_one();
        self.writable.notify_waiters();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        // Drop the buffered bytes rather than flush them into a file about
        // to be removed.
        if let Some(file) = state.file.take() {
            drop(file.into_parts());
        }
        // A drop cannot report a failure; the name says whose it was.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl State {
    fn stats(&self) -> SpoolStats {
        SpoolStats {
            memory_bytes: self.memory_bytes,
            disk_bytes: self.written - self.read,
            disk_file_bytes: self.written,
            events: self.memory.len() as u64 + self.disk_events,
            spilled_bytes_total: self.spilled_bytes_total,
            disk_full_waits: self.disk_full_waits,
        }
    }

    fn file(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the spool file is closed"))
    }
}

impl Clone for SpoolWriter {
    fn clone(&self) -> Self {
        self.shared.lock().writers += 1;
        SpoolWriter {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.writers -= 1;
        let last = state.writers == 0;
        drop(state);
        if last {
            self.shared.readable.notify_one();
        }
    }
}

impl SpoolWriter {
    /// Queues one event of shard `shard` (the source it came from, handed
    /// back by [`SpoolReader::pop`]). Waits (does not fail) while the disk
    /// budget is full, until the reader frees room.
    ///
    /// Goes to memory while the file holds no unread event and the memory
    /// budget has room, else to the end of the file. The file's room comes
    /// back only once the reader has read all of it. An event larger than
    /// the whole disk budget is taken when the file is empty, rather than
    /// never.
    ///
    /// Dropping the future before it completes drops the event unqueued.
    ///
    /// # Errors
    ///
    /// The reader is gone ([`SpoolError::Closed`]), writing the file
    /// failed ([`SpoolError::Io`], after which the spool is failed), or
    /// the spool failed before ([`SpoolError::Failed`]).
    pub async fn push(&self, shard: u32, event: Event) -> Result<(), SpoolError> {
        let shared = &*self.shared;
        let size = memory_size(&event);
        let record = record_len(&event);
        let mut waited = false;
        loop {
            // Registered before the state is checked: a wake-up between the
            // check and the wait is not missed.
            let mut notified = pin!(shared.writable.notified());
            notified.as_mut().enable();
            {
                let mut state = shared.lock();
                if state.failed {
                    return Err(SpoolError::Failed);
                }
                if !state.reader {
                    return Err(SpoolError::Closed);
                }
                if state.disk_events == 0
                    && state.memory_bytes.saturating_add(size) <= shared.memory_budget
                {
                    state.memory.push_back(Queued { shard, event, size });
                    state.memory_bytes += size;
                    drop(state);
                    shared.readable.notify_one();
                    return Ok(());
                }
                if state.written == 0 || state.written.saturating_add(record) <= shared.disk_budget
                {
                    let result = state.file().and_then(|f| encode(f, shard, &event));
                    if let Err(e) = result {
                        // Part of the record may be in the file: nothing
                        // after it could be read back.
                        shared.fail(state);
                        return Err(shared.io(e));
                    }
                    state.written += record;
                    state.disk_events += 1;
                    state.spilled_bytes_total += record;
                    drop(state);
                    shared.readable.notify_one();
                    return Ok(());
                }
                if !waited {
                    waited = true;
                    state.disk_full_waits += 1;
                }
            }
            notified.await;
        }
    }

    /// What the spool holds now.
    pub fn stats(&self) -> SpoolStats {
        self.shared.lock().stats()
    }

    /// The spool file (it exists as long as either half does).
    pub fn disk_path(&self) -> &Path {
        &self.shared.path
    }
}

impl Drop for SpoolReader {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.reader = false;
        // Nobody will take them: free the memory now, not when the last
        // writer goes.
        state.memory.clear();
        state.memory_bytes = 0;
        drop(state);
        self.shared.writable.notify_waiters();
    }
}

impl SpoolReader {
    /// The next event in push order, with its shard; `Ok(None)` once every
    /// [`SpoolWriter`] is dropped and the spool is empty.
    ///
    /// Cancel-safe (it may be a branch of `tokio::select!`): the only wait
    /// is for a push, and an event is taken only by a call that returns it,
    /// so a dropped future loses nothing.
    ///
    /// # Errors
    ///
    /// Reading or truncating the file failed ([`SpoolError::Io`]), a record
    /// does not decode ([`SpoolError::Corrupt`]), or the spool failed
    /// before ([`SpoolError::Failed`]). The spool is failed after any of
    /// them.
    pub async fn pop(&mut self) -> Result<Option<(u32, Event)>, SpoolError> {
        loop {
            if self.failed {
                return Err(SpoolError::Failed);
            }
            let mut notified = pin!(self.shared.readable.notified());
            notified.as_mut().enable();
            let span = {
                let mut state = self.shared.lock();
                if state.failed {
                    return Err(SpoolError::Failed);
                }
                if let Some(queued) = state.memory.pop_front() {
                    state.memory_bytes -= queued.size;
                    return Ok(Some((queued.shard, queued.event)));
                }
                if state.disk_events > 0 {
                    // The records to read must be in the file, not in the
                    // writer's buffer.
                    if let Err(e) = state.file().and_then(|f| f.flush()) {
                        self.failed = true;
                        self.shared.fail(state);
                        return Err(self.shared.io(e));
                    }
                    Some((state.read, state.written))
                } else if state.writers == 0 {
                    return Ok(None);
                } else {
                    None
                }
            };
            if let Some((start, end)) = span {
                // Read without the lock: writers only append past `end`,
                // and only this reader truncates.
                return match self.disk.take(&self.shared, start, end) {
                    Ok(taken) => Ok(Some(taken)),
                    Err(e) => {
                        self.failed = true;
                        self.shared.fail(self.shared.lock());
                        Err(e)
                    }
                };
            }
            notified.await;
        }
    }

    /// What the spool holds now.
    pub fn stats(&self) -> SpoolStats {
        self.shared.lock().stats()
    }

    /// The spool file (it exists as long as either half does).
    pub fn disk_path(&self) -> &Path {
        &self.shared.path
    }
}

impl DiskReader {
    /// Reads the record at `start` (the records up to `end` are whole in
    /// the file), and empties the file when it was the last one. Any error
    /// leaves the spool to be failed by the caller.
    fn take(&mut self, shared: &Shared, start: u64, end: u64) -> Result<(u32, Event), SpoolError> {
        let taken = self.read_record(&shared.path, start, end)?;
        let len = self.pos - start;
        let mut state = shared.lock();
        state.read += len;
        state.disk_events -= 1;
        if state.disk_events == 0 {
            // All read: start the file again, so that its length (what the
            // budget bounds) goes back to 0 and pushes return to memory.
            state
                .file()
                .and_then(|f| f.get_ref().set_len(0))
                .map_err(|e| shared.io(e))?;
            state.written = 0;
            state.read = 0;
            drop(state);
            // Also drops what the buffer read ahead.
            self.file
                .seek(SeekFrom::Start(0))
                .map_err(|e| shared.io(e))?;
            self.pos = 0;
            shared.writable.notify_waiters();
        }
        Ok(taken)
    }

    fn read_record(
        &mut self,
        path: &Path,
        start: u64,
        end: u64,
    ) -> Result<(u32, Event), SpoolError> {
        if self.pos != start {
            self.file
                .seek(SeekFrom::Start(start))
                .map_err(|source| SpoolError::Io {
                    path: path.to_owned(),
                    source,
                })?;
            self.pos = start;
        }
        let mut r = RecordReader {
            file: &mut self.file,
            pos: &mut self.pos,
            end,
            start,
            path,
        };
        let tag = r.u8()?;
        let shard = r.u32()?;
        let event = match tag {
            TAG_FULL_RESYNC => {
                let replid = r.string()?;
                let offset = r.u64()?;
                Event::FullResync { replid, offset }
            }
            TAG_CONTINUE => Event::Continue {
                replid: r.string()?,
            },
            TAG_SNAPSHOT_START => {
                let known = r.u8()?;
                let len = r.u64()?;
                let len = match known {
                    0 => None,
                    1 => Some(len),
                    other => return Err(r.corrupt(format!("length flag {other}, not 0 or 1"))),
                };
                Event::SnapshotStart { len }
            }
            TAG_SNAPSHOT => {
                let len = r.u64()?;
                Event::Snapshot(r.bytes(len)?.freeze())
            }
            TAG_SNAPSHOT_END => Event::SnapshotEnd,
            TAG_COMMAND => {
                let offset = r.u64()?;
                let len = r.u64()?;
                let mut wire = r.bytes(len)?;
                let command = match Decoder::new().decode_command(&mut wire) {
                    Ok(Some((command, n))) if wire.is_empty() && n as u64 == len => command,
                    Ok(_) => return Err(r.corrupt("a command that is not one whole RESP command")),
                    Err(e) => return Err(r.corrupt(format!("a command that is not RESP: {e}"))),
                };
                Event::Command { command, offset }
            }
            other => return Err(r.corrupt(format!("unknown record tag {other}"))),
        };
        Ok((shard, event))
    }
}

/// Reads the fields of one record, never past `end` (what the writers
/// wrote), so that a corrupt length cannot make it allocate more than the
/// file holds.
struct RecordReader<'a> {
    file: &'a mut BufReader<File>,
    pos: &'a mut u64,
    end: u64,
    start: u64,
    path: &'a Path,
}

impl RecordReader<'_> {
    fn corrupt(&self, what: impl Into<String>) -> SpoolError {
        SpoolError::Corrupt {
            path: self.path.to_owned(),
            offset: self.start,
            what: what.into(),
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), SpoolError> {
        let left = self.end.saturating_sub(*self.pos);
        if buf.len() as u64 > left {
            return Err(self.corrupt(format!(
                "{} bytes wanted, {left} left in the records written",
                buf.len()
            )));
        }
        match self.file.read_exact(buf) {
            Ok(()) => {
                *self.pos += buf.len() as u64;
                Ok(())
            }
            // The writers wrote these bytes: the file was cut by someone.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.corrupt("the file ends inside the record"))
            }
            Err(source) => Err(SpoolError::Io {
                path: self.path.to_owned(),
                source,
            }),
        }
    }

    fn u8(&mut self) -> Result<u8, SpoolError> {
        let mut b = [0; 1];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    fn u32(&mut self) -> Result<u32, SpoolError> {
        let mut b = [0; 4];
        self.fill(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, SpoolError> {
        let mut b = [0; 8];
        self.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn bytes(&mut self, len: u64) -> Result<BytesMut, SpoolError> {
        // Checked against what is left before allocating.
        let left = self.end.saturating_sub(*self.pos);
        let len = match usize::try_from(len) {
            Ok(len) if len as u64 <= left => len,
            _ => return Err(self.corrupt(format!("a length of {len}, {left} bytes left"))),
        };
        let mut buf = BytesMut::zeroed(len);
        self.fill(&mut buf)?;
        Ok(buf)
    }

    fn string(&mut self) -> Result<String, SpoolError> {
        let len = self.u64()?;
        let bytes = self.bytes(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.corrupt("a replication id not UTF-8"))
    }
}

/// What `event` counts against the memory budget.
fn memory_size(event: &Event) -> u64 {
    let payload = match event {
        Event::FullResync { replid, .. } | Event::Continue { replid } => replid.len(),
        Event::Snapshot(chunk) => chunk.len(),
        Event::Command { command, .. } => command.wire().len(),
        Event::SnapshotStart { .. } | Event::SnapshotEnd => 0,
    };
    payload as u64 + EVENT_OVERHEAD_BYTES
}

/// The length of `event`'s record in the file (what [`encode`] writes).
fn record_len(event: &Event) -> u64 {
    // Tag and shard.
    let head = 1 + 4;
    let body = match event {
        Event::FullResync { replid, .. } => 8 + replid.len() + 8,
        Event::Continue { replid } => 8 + replid.len(),
        Event::SnapshotStart { .. } => 1 + 8,
        Event::Snapshot(chunk) => 8 + chunk.len(),
        Event::SnapshotEnd => 0,
        Event::Command { command, .. } => 8 + 8 + command.wire().len(),
    };
    (head + body) as u64
}

/// Writes `event`'s record: a tag byte, the shard (u32 LE), then the
/// fields, lengths and numbers as u64 LE, a command as its wire bytes.
fn encode(out: &mut impl Write, shard: u32, event: &Event) -> io::Result<()> {
    let len = |n: usize| (n as u64).to_le_bytes();
    match event {
        Event::FullResync { replid, offset } => {
            out.write_all(&[TAG_FULL_RESYNC])?;
            out.write_all(&shard.to_le_bytes())?;
            out.write_all(&len(replid.len()))?;
            out.write_all(replid.as_bytes())?;
            out.write_all(&offset.to_le_bytes())
        }
        Event::Continue { replid } => {
            out.write_all(&[TAG_CONTINUE])?;
            out.write_all(&shard.to_le_bytes())?;
            out.write_all(&len(replid.len()))?;
            out.write_all(replid.as_bytes())
        }
        Event::SnapshotStart { len: known } => {
            out.write_all(&[TAG_SNAPSHOT_START])?;
            out.write_all(&shard.to_le_bytes())?;
            out.write_all(&[u8::from(known.is_some())])?;
            out.write_all(&known.unwrap_or(0).to_le_bytes())
        }
        Event::Snapshot(chunk) => {
            out.write_all(&[TAG_SNAPSHOT])?;
            out.write_all(&shard.to_le_bytes())?;
            out.write_all(&len(chunk.len()))?;
            out.write_all(chunk)
        }
        Event::SnapshotEnd => {
            out.write_all(&[TAG_SNAPSHOT_END])?;
            out.write_all(&shard.to_le_bytes())
        }
        Event::Command { command, offset } => {
            out.write_all(&[TAG_COMMAND])?;
            out.write_all(&shard.to_le_bytes())?;
            out.write_all(&offset.to_le_bytes())?;
            out.write_all(&len(command.wire().len()))?;
            out.write_all(command.wire())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ferry_resp::{Command, RawCommand};

    #[test]
    fn record_len_is_what_encode_writes() {
        let events = [
            Event::FullResync {
                replid: "a".repeat(40),
                offset: 7,
            },
            Event::Continue { replid: "b".into() },
            Event::SnapshotStart { len: Some(3) },
            Event::SnapshotStart { len: None },
            Event::Snapshot(Bytes::from_static(b"RDB")),
            Event::SnapshotEnd,
            Event::Command {
                command: RawCommand::from(Command::new("SET").arg("k").arg("v")),
                offset: 9,
            },
        ];
        for event in events {
            let mut out = Vec::new();
            encode(&mut out, 3, &event).unwrap();
            assert_eq!(out.len() as u64, record_len(&event), "{event:?}");
        }
    }
}
