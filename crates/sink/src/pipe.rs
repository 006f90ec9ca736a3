//! A pipelined connection: commands are written in batches by one task and
//! their replies matched, in order, by another.
//!
//! The sending side ([`Pipe`]) encodes commands into a batch buffer; a full
//! batch goes to the writer task, which hands the batch's entries to the
//! reader task before writing its bytes, so every reply finds its entry.
//! In-flight bytes are bounded by a semaphore the reader gives back to as
//! batches are answered. The reader records outcomes in the shared state:
//! keys written, failures with their keys, and redirects/retries for the
//! sink to resend in order.

use crate::conn::Conn;
use crate::error::{Error, Failure, ReplyError};
use crate::write::{Expect, Write, WriteMode};
use bytes::{Bytes, BytesMut};
use ferry_resp::{Command, Decoder, Frame};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// A batch is sent once it holds this many bytes.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;
/// ... or this many commands.
const BATCH_COMMANDS: usize = 1024;
/// What holding one command until its reply costs besides its bytes (the
/// entry, the command's parts), counted against the in-flight budget.
const HELD_COMMAND_OVERHEAD_BYTES: usize = 256;
/// Failures kept with their details (all are counted).
pub const MAX_FAILURES_KEPT: usize = 1000;

/// What the writers did, for progress and the final summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Keys written with `RESTORE`.
    pub keys_restored: u64,
    /// Keys written by command replay.
    pub keys_replayed: u64,
    /// Function libraries loaded.
    pub functions: u64,
    /// Commands answered with success.
    pub commands: u64,
    /// Keys left as they were because they existed (`BUSYKEY` where allowed).
    pub keys_existing_skipped: u64,
    /// Commands that failed.
    pub failed: u64,
    /// The first [`MAX_FAILURES_KEPT`] failures.
    pub failures: Vec<Failure>,
    /// `MOVED` and `ASK` redirects followed.
    pub redirects: u64,
    /// Commands sent again after `TRYAGAIN`, `LOADING`, `CLUSTERDOWN`.
    pub retries: u64,
}

impl Report {
    /// Keys written, by any mode.
    pub fn keys_written(&self) -> u64 {
        self.keys_restored + self.keys_replayed
    }

    pub(crate) fn fail(&mut self, failure: Failure) {
        self.failed += 1;
        if self.failures.len() < MAX_FAILURES_KEPT {
            self.failures.push(failure);
        }
    }
}

/// A command whose reply asked for it to be sent again.
#[derive(Debug)]
pub(crate) struct Resend {
    pub(crate) seq: u64,
    pub(crate) write: Write,
    pub(crate) reason: ReplyError,
    pub(crate) attempts: u32,
}

/// State shared by the sink and its pipes' tasks.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) report: Mutex<Report>,
    pub(crate) resends: Mutex<Vec<Resend>>,
    pub(crate) resend_pending: AtomicBool,
    pub(crate) fatal: Mutex<Option<Error>>,
}

impl Shared {
    pub(crate) fn report(&self) -> MutexGuard<'_, Report> {
        // A poisoned lock only means a task panicked while counting; the
        // counts are still the best there is.
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn resends(&self) -> MutexGuard<'_, Vec<Resend>> {
        self.resends.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_fatal(&self, error: Error) {
        let mut fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        if fatal.is_none() {
            *fatal = Some(error);
        }
    }

    pub(crate) fn take_fatal(&self) -> Option<Error> {
        self.fatal.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What the reader expects, in order.
#[derive(Debug)]
enum Pending {
    /// A command given to the sink.
    Write {
        seq: u64,
        write: Write,
        attempts: u32,
        /// Bytes to give back to the in-flight budget once answered.
        release: usize,
    },
    /// A command of the pipe's own (`SELECT`, `ASKING`): must succeed.
    Internal { what: String, release: usize },
    /// Everything before it is answered.
    Marker(oneshot::Sender<()>),
}

/// A batch for the writer task.
#[derive(Debug)]
struct Batch {
    bytes: Bytes,
    entries: Vec<Pending>,
}

/// The sending side of a pipelined connection.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) addr: String,
    tx: mpsc::Sender<Batch>,
    out: BytesMut,
    entries: Vec<Pending>,
    /// Memory the queued commands hold: their wire bytes, and again their
    /// parts and entries until answered.
    cost: usize,
    /// The database the connection will be in after what was queued.
    db: u64,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
}

impl Pipe {
    /// Starts the tasks of a pipelined connection over `conn`.
    pub(crate) fn start(
        conn: Conn,
        shared: Arc<Shared>,
        inflight_bytes: usize,
        io_timeout: Duration,
    ) -> Pipe {
        let Conn {
            addr,
            stream,
            buf,
            decoder,
            ..
        } = conn;
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::channel::<Batch>(4);
        let (entries_tx, entries_rx) = mpsc::unbounded_channel::<Vec<Pending>>();
        let budget = Arc::new(Semaphore::new(inflight_bytes));
        tokio::spawn(write_task(
            addr.clone(),
            write,
            rx,
            entries_tx,
            shared.clone(),
        ));
        tokio::spawn(read_task(
            ReadState {
                addr: addr.clone(),
                read,
                buf,
                decoder,
                pending: VecDeque::new(),
                key_failed: false,
            },
            entries_rx,
            shared,
            budget.clone(),
            io_timeout,
        ));
        Pipe {
            addr,
            tx,
            out: BytesMut::with_capacity(BATCH_BYTES * 2),
            entries: Vec::new(),
            cost: 0,
            db: 0,
            budget,
            budget_bytes: inflight_bytes,
        }
    }

    /// Queues `write` (preceded by `SELECT` when its db differs and
    /// `select` is allowed, and by `ASKING` when `asking`); sends the batch
    /// when full.
    pub(crate) async fn push(
        &mut self,
        seq: u64,
        write: Write,
        attempts: u32,
        select: bool,
        asking: bool,
    ) -> Result<(), Error> {
        if write.db != self.db {
            if !select {
                return Err(Error::Unsupported(format!(
                    "{} cannot select database {}: map it to 0 (--db-map {}:0)",
                    self.addr, write.db, write.db
                )));
            }
            let select = Command::new("SELECT").arg(write.db);
            self.internal(&select, format!("SELECT {}", write.db));
            self.db = write.db;
        }
        if asking {
            self.internal(&Command::new("ASKING"), "ASKING".to_owned());
        }
        let start = self.out.len();
        write.command.encode(&mut self.out);
        self.cost += 2 * (self.out.len() - start) + HELD_COMMAND_OVERHEAD_BYTES;
        self.entries.push(Pending::Write {
            seq,
            write,
            attempts,
            release: 0,
        });
        if self.out.len() >= BATCH_BYTES
            || self.entries.len() >= BATCH_COMMANDS
            || self.cost >= self.budget_bytes / 4
        {
            self.send().await?;
        }
        Ok(())
    }

    fn internal(&mut self, cmd: &Command, what: String) {
        self.cost += HELD_COMMAND_OVERHEAD_BYTES;
        cmd.encode(&mut self.out);
        self.entries.push(Pending::Internal { what, release: 0 });
    }

    /// Sends what is queued, waiting for room in the in-flight budget.
    pub(crate) async fn send(&mut self) -> Result<(), Error> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let bytes = self.out.split().freeze();
        let mut entries = std::mem::take(&mut self.entries);
        // The budget is in bytes; a batch larger than all of it waits for
        // everything else to be answered and then goes alone.
        let cost = std::mem::take(&mut self.cost).clamp(1, self.budget_bytes);
        let permits = u32::try_from(cost).unwrap_or(u32::MAX);
        match self.budget.acquire_many(permits).await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(self.lost()),
        }
        if let Some(Pending::Write { release, .. } | Pending::Internal { release, .. }) =
            entries.last_mut()
        {
            *release = permits as usize;
        }
        self.tx
            .send(Batch { bytes, entries })
            .await
            .map_err(|_| self.lost())
    }

    /// Sends what is queued and a marker; the receiver fires once every
    /// command sent before it is answered.
    pub(crate) async fn mark(&mut self) -> Result<oneshot::Receiver<()>, Error> {
        self.send().await?;
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Batch {
                bytes: Bytes::new(),
                entries: vec![Pending::Marker(done)],
            })
            .await
            .map_err(|_| self.lost())?;
        Ok(wait)
    }

    fn lost(&self) -> Error {
        Error::io(
            &self.addr,
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the connection's tasks stopped",
            ),
        )
    }
}

async fn write_task(
    addr: String,
    mut write: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Batch>,
    entries_tx: mpsc::UnboundedSender<Vec<Pending>>,
    shared: Arc<Shared>,
) {
    while let Some(batch) = rx.recv().await {
        // Entries first: the reply may come before write_all returns.
        if entries_tx.send(batch.entries).is_err() {
            return;
        }
        if batch.bytes.is_empty() {
            continue;
        }
        if let Err(e) = write.write_all(&batch.bytes).await {
            shared.set_fatal(Error::io(&addr, e));
            return;
        }
    }
    let _ = write.shutdown().await;
}

struct ReadState {
    addr: String,
    read: OwnedReadHalf,
    buf: BytesMut,
    decoder: Decoder,
    pending: VecDeque<Pending>,
    /// A command of the key being written failed: it does not count as written.
    key_failed: bool,
}

async fn read_task(
    mut st: ReadState,
    mut entries_rx: mpsc::UnboundedReceiver<Vec<Pending>>,
    shared: Arc<Shared>,
    budget: Arc<Semaphore>,
    io_timeout: Duration,
) {
    let mut open = true;
    loop {
        // Markers at the front have nothing more to wait for.
        while matches!(st.pending.front(), Some(Pending::Marker(_))) {
            if let Some(Pending::Marker(done)) = st.pending.pop_front() {
                let _ = done.send(());
            }
        }
        if !open && st.pending.is_empty() {
            return;
        }
        let waiting = !st.pending.is_empty();
        tokio::select! {
            entries = entries_rx.recv(), if open => match entries {
                Some(entries) => st.pending.extend(entries),
                None => open = false,
            },
            read = st.read.read_buf(&mut st.buf), if waiting => match read {
                Ok(0) => {
                    fail_pending(&mut st, &mut entries_rx, &shared, &budget, "the target closed the connection");
                    shared.set_fatal(Error::io(&st.addr, std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the target closed the connection",
                    )));
                    return;
                }
                Ok(_) => {
                    // The entries of every byte written are in the channel
                    // already (they are sent first), maybe not yet received.
                    while let Ok(entries) = entries_rx.try_recv() {
                        st.pending.extend(entries);
                    }
                    if let Err(e) = handle_replies(&mut st, &shared, &budget) {
                        fail_pending(&mut st, &mut entries_rx, &shared, &budget, &e.to_string());
                        shared.set_fatal(e);
                        return;
                    }
                }
                Err(e) => {
                    fail_pending(&mut st, &mut entries_rx, &shared, &budget, &e.to_string());
                    shared.set_fatal(Error::io(&st.addr, e));
                    return;
                }
            },
            _ = tokio::time::sleep(io_timeout), if waiting => {
                fail_pending(&mut st, &mut entries_rx, &shared, &budget, "no reply in time");
                shared.set_fatal(Error::Timeout {
                    addr: st.addr.clone(),
                    what: "replies to pipelined writes",
                    seconds: io_timeout.as_secs(),
                });
                return;
            }
        }
    }
}

/// Successes counted while handling one read's replies, added to the
/// shared report once (not under its lock for every reply).
#[derive(Default)]
struct Tally {
    commands: u64,
    restored: u64,
    replayed: u64,
    functions: u64,
    existing: u64,
}

impl Tally {
    fn add_to(self, report: &mut Report) {
        report.commands += self.commands;
        report.keys_restored += self.restored;
        report.keys_replayed += self.replayed;
        report.functions += self.functions;
        report.keys_existing_skipped += self.existing;
    }
}

/// Matches every complete reply in the buffer with its entry.
fn handle_replies(st: &mut ReadState, shared: &Shared, budget: &Semaphore) -> Result<(), Error> {
    let mut tally = Tally::default();
    let result = handle_replies_counting(st, shared, budget, &mut tally);
    tally.add_to(&mut shared.report());
    result
}

fn handle_replies_counting(
    st: &mut ReadState,
    shared: &Shared,
    budget: &Semaphore,
    tally: &mut Tally,
) -> Result<(), Error> {
    loop {
        let frame = match st.decoder.decode(&mut st.buf) {
            Ok(Some((frame, _))) => frame,
            Ok(None) => return Ok(()),
            Err(source) => {
                return Err(Error::Protocol {
                    addr: st.addr.clone(),
                    source,
                });
            }
        };
        // Markers have no reply.
        while matches!(st.pending.front(), Some(Pending::Marker(_))) {
            if let Some(Pending::Marker(done)) = st.pending.pop_front() {
                let _ = done.send(());
            }
        }
        let Some(entry) = st.pending.pop_front() else {
            return Err(Error::setup(
                &st.addr,
                "pipelined writes",
                "a reply to no command",
            ));
        };
        match entry {
            Pending::Marker(_) => {}
            Pending::Internal { what, release } => {
                budget.add_permits(release);
                if let Some(e) = ReplyError::of(&frame) {
                    let message = match e {
                        ReplyError::Fail(m) | ReplyError::Retry(m) | ReplyError::Busy(m) => m,
                        other => format!("{other:?}"),
                    };
                    return Err(Error::setup(&st.addr, what, message));
                }
            }
            Pending::Write {
                seq,
                write,
                attempts,
                release,
            } => {
                budget.add_permits(release);
                outcome(st, shared, tally, seq, write, attempts, &frame);
            }
        }
    }
}

fn outcome(
    st: &mut ReadState,
    shared: &Shared,
    tally: &mut Tally,
    seq: u64,
    write: Write,
    attempts: u32,
    frame: &Frame,
) {
    let last = write.last_of_key;
    match ReplyError::of(frame) {
        None => {
            tally.commands += 1;
            if last && !st.key_failed {
                match write.mode {
                    WriteMode::Restore => tally.restored += 1,
                    WriteMode::Commands => tally.replayed += 1,
                    WriteMode::Function => tally.functions += 1,
                }
            }
        }
        Some(ReplyError::Busy(_)) if write.expect == Expect::SuccessOrBusy => {
            tally.existing += 1;
        }
        Some(
            reason @ (ReplyError::Moved { .. } | ReplyError::Ask { .. } | ReplyError::Retry(_)),
        ) => {
            shared.resends().push(Resend {
                seq,
                write,
                reason,
                attempts,
            });
            shared.resend_pending.store(true, Ordering::Release);
            // The key's outcome is decided where it is sent again.
            return;
        }
        Some(ReplyError::Busy(message) | ReplyError::Fail(message)) => {
            st.key_failed = true;
            shared.report().fail(Failure {
                db: write.db,
                key: write.key.clone(),
                command: String::from_utf8_lossy(write.command.name()).into_owned(),
                message,
            });
        }
    }
    if last {
        st.key_failed = false;
    }
}

/// The connection is gone: every command still waiting (or handed over and
/// not yet waited for) has an unknown outcome, and is reported as such with
/// its key.
fn fail_pending(
    st: &mut ReadState,
    rx: &mut mpsc::UnboundedReceiver<Vec<Pending>>,
    shared: &Shared,
    budget: &Semaphore,
    why: &str,
) {
    rx.close();
    while let Ok(entries) = rx.try_recv() {
        st.pending.extend(entries);
    }
    for entry in st.pending.drain(..) {
        match entry {
            Pending::Write { write, release, .. } => {
                budget.add_permits(release);
                shared.report().fail(Failure {
                    db: write.db,
                    key: write.key.clone(),
                    command: String::from_utf8_lossy(write.command.name()).into_owned(),
                    message: format!("not confirmed by {}: {why}", st.addr),
                });
            }
            Pending::Internal { release, .. } => budget.add_permits(release),
            Pending::Marker(done) => {
                let _ = done.send(());
            }
        }
    }
    // Wake anyone waiting for budget: sends now fail on the closed channel.
    budget.close();
}
