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
//!
//! Markers go through the same queue with no bytes: the reader passes one
//! once every command before it is answered and counted in the report, and
//! records its number in the pipe's [`Progress`] (read by barriers without
//! waiting) or wakes whoever waits for it (`flush`).

use crate::conn::Conn;
use crate::error::{Error, Failure, ReplyError};
use crate::write::{Expect, Write, WriteMode};
use bytes::{Bytes, BytesMut};
use ferry_resp::{Command, Decoder, Frame};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Commands to send again. `resend_pending` and `resends_queued` change
    /// only under this lock, with the list.
    pub(crate) resends: Mutex<Vec<Resend>>,
    /// The list of resends is not empty: the next write settles first.
    pub(crate) resend_pending: AtomicBool,
    /// Resends ever queued: a barrier that sees it change cannot tell
    /// whether a write before it was redirected.
    pub(crate) resends_queued: AtomicU64,
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

    /// Queues a command to be sent again by the sink.
    fn queue_resend(&self, resend: Resend) {
        let mut resends = self.resends();
        resends.push(resend);
        self.resends_queued.fetch_add(1, Ordering::AcqRel);
        self.resend_pending.store(true, Ordering::Release);
    }

    /// Takes the commands to send again, in the order they were queued.
    pub(crate) fn take_resends(&self) -> Vec<Resend> {
        let mut resends = self.resends();
        self.resend_pending.store(false, Ordering::Release);
        std::mem::take(&mut *resends)
    }

    /// Resends queued so far, and whether none waits to be sent, read
    /// together.
    pub(crate) fn resend_state(&self) -> (u64, bool) {
        let resends = self.resends();
        (
            self.resends_queued.load(Ordering::Acquire),
            resends.is_empty(),
        )
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

/// How far a connection's replies have come, read by barriers without
/// waiting.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The number of the last marker passed (markers are numbered from 1
    /// per pipe, in the order they are sent).
    passed: AtomicU64,
    /// The connection is lost: a marker not passed yet never will be.
    lost: AtomicBool,
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
    /// Everything before it is answered: recorded in [`Progress`], and
    /// told to `done` if someone waits.
    Marker {
        id: u64,
        done: Option<oneshot::Sender<()>>,
    },
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
    progress: Arc<Progress>,
    /// The number of the last marker sent.
    markers: u64,
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
        let progress = Arc::new(Progress::default());
        tokio::spawn(write_task(
            addr.clone(),
            write,
            rx,
            entries_tx,
            shared.clone(),
            progress.clone(),
        ));
        tokio::spawn(read_task(
            ReadState {
                addr: addr.clone(),
                read,
                buf,
                decoder,
                pending: VecDeque::new(),
                key_failed: false,
                progress: progress.clone(),
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
            progress,
            markers: 0,
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
    /// command sent before it is answered (or the connection is lost).
    pub(crate) async fn mark(&mut self) -> Result<oneshot::Receiver<()>, Error> {
        let (done, wait) = oneshot::channel();
        self.send_marker(Some(done)).await?;
        Ok(wait)
    }

    /// Sends what is queued and a marker nobody waits for; returns its
    /// number, for [`Pipe::passed`].
    pub(crate) async fn marker(&mut self) -> Result<u64, Error> {
        self.send_marker(None).await
    }

    async fn send_marker(&mut self, done: Option<oneshot::Sender<()>>) -> Result<u64, Error> {
        self.send().await?;
        self.markers += 1;
        let id = self.markers;
        self.tx
            .send(Batch {
                bytes: Bytes::new(),
                entries: vec![Pending::Marker { id, done }],
            })
            .await
            .map_err(|_| self.lost())?;
        Ok(id)
    }

    /// Whether marker number `marker` of [`Pipe::marker`] has passed:
    /// `Some(true)` once every command sent before it is answered,
    /// `Some(false)` if the connection was lost first, `None` not yet.
    pub(crate) fn passed(&self, marker: u64) -> Option<bool> {
        if self.progress.passed.load(Ordering::Acquire) >= marker {
            return Some(true);
        }
        if !self.progress.lost.load(Ordering::Acquire) {
            return None;
        }
        // It may have passed just before the connection was lost.
        Some(self.progress.passed.load(Ordering::Acquire) >= marker)
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
    progress: Arc<Progress>,
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
            // What was written may never be answered: the reader fails it
            // when its time is up; barriers need not wait that long.
            progress.lost.store(true, Ordering::Release);
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
    progress: Arc<Progress>,
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
        // Markers at the front have nothing more to wait for (the replies
        // before them are counted already).
        pass_markers(&mut st, &shared, &mut Tally::default());
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
                    let why = "the target closed the connection";
                    let error = Error::io(&st.addr, std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        why,
                    ));
                    fail_pending(&mut st, &mut entries_rx, &shared, &budget, why, error);
                    return;
                }
                Ok(_) => {
                    // The entries of every byte written are in the channel
                    // already (they are sent first), maybe not yet received.
                    while let Ok(entries) = entries_rx.try_recv() {
                        st.pending.extend(entries);
                    }
                    if let Err(e) = handle_replies(&mut st, &shared, &budget) {
                        let why = e.to_string();
                        fail_pending(&mut st, &mut entries_rx, &shared, &budget, &why, e);
                        return;
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    let error = Error::io(&st.addr, e);
                    fail_pending(&mut st, &mut entries_rx, &shared, &budget, &why, error);
                    return;
                }
            },
            _ = tokio::time::sleep(io_timeout), if waiting => {
                let error = Error::Timeout {
                    addr: st.addr.clone(),
                    what: "replies to pipelined writes",
                    seconds: io_timeout.as_secs(),
                };
                fail_pending(&mut st, &mut entries_rx, &shared, &budget, "no reply in time", error);
                return;
            }
        }
    }
}

/// Successes counted while handling one read's replies, added to the
/// shared report once (not under its lock for every reply).
#[derive(Default, PartialEq, Eq)]
struct Tally {
    commands: u64,
    restored: u64,
    replayed: u64,
    functions: u64,
    existing: u64,
}

impl Tally {
    fn is_empty(&self) -> bool {
        *self == Tally::default()
    }

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
        pass_markers(st, shared, tally);
        let Some(entry) = st.pending.pop_front() else {
            return Err(Error::setup(
                &st.addr,
                "pipelined writes",
                "a reply to no command",
            ));
        };
        match entry {
            Pending::Marker { .. } => {}
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

/// Passes the markers at the front of the queue: every reply before them
/// is handled. What `tally` counted goes to the report first, so that
/// whoever sees a marker passed finds those replies in the report.
fn pass_markers(st: &mut ReadState, shared: &Shared, tally: &mut Tally) {
    if !matches!(st.pending.front(), Some(Pending::Marker { .. })) {
        return;
    }
    if !tally.is_empty() {
        std::mem::take(tally).add_to(&mut shared.report());
    }
    while matches!(st.pending.front(), Some(Pending::Marker { .. })) {
        if let Some(Pending::Marker { id, done }) = st.pending.pop_front() {
            st.progress.passed.store(id, Ordering::Release);
            if let Some(done) = done {
                let _ = done.send(());
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
        None if is_exec(&write) && exec_failed(shared, &write, frame) => st.key_failed = true,
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
            shared.queue_resend(Resend {
                seq,
                write,
                reason,
                attempts,
            });
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

/// True for `EXEC`, whose reply holds the replies of a transaction.
fn is_exec(write: &Write) -> bool {
    write.command.name().eq_ignore_ascii_case(b"EXEC")
}

/// Records the failures in the reply to `EXEC`; true if there were any.
fn exec_failed(shared: &Shared, write: &Write, frame: &Frame) -> bool {
    let errors = exec_errors(frame);
    if errors.is_empty() {
        return false;
    }
    let mut report = shared.report();
    for message in errors {
        report.fail(Failure {
            db: write.db,
            key: write.key.clone(),
            command: "EXEC".to_owned(),
            message,
        });
    }
    true
}

/// What went wrong in a transaction, from the reply to its `EXEC`: one
/// message per command that failed, with its position among the commands
/// queued (from 1), or one for a transaction aborted (a nil reply: a
/// watched key changed). Empty when every command succeeded. (`EXECABORT`,
/// a transaction refused whole, is an error reply, handled as any other.)
fn exec_errors(frame: &Frame) -> Vec<String> {
    match frame {
        Frame::NullArray | Frame::Null | Frame::NullBulk => {
            vec!["transaction aborted: EXEC answered nil (a watched key changed)".to_owned()]
        }
        Frame::Array(replies) => replies
            .iter()
            .enumerate()
            .filter_map(|(i, reply)| match reply {
                Frame::Error(text) | Frame::BulkError(text) => Some(format!(
                    "{} (command {} of {} in the transaction)",
                    String::from_utf8_lossy(text),
                    i + 1,
                    replies.len()
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The connection is gone: every command still waiting (or handed over and
/// not yet waited for) has an unknown outcome, and is reported as such with
/// its key. Then `error` is set, and only then is the connection marked lost
/// and are waiting markers woken, so that whoever sees a marker fail finds
/// the failures and the error.
fn fail_pending(
    st: &mut ReadState,
    rx: &mut mpsc::UnboundedReceiver<Vec<Pending>>,
    shared: &Shared,
    budget: &Semaphore,
    why: &str,
    error: Error,
) {
    rx.close();
    while let Ok(entries) = rx.try_recv() {
        st.pending.extend(entries);
    }
    let mut waiting = Vec::new();
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
            Pending::Marker { done, .. } => waiting.extend(done),
        }
    }
    shared.set_fatal(error);
    st.progress.lost.store(true, Ordering::Release);
    // Wake anyone waiting for budget: sends now fail on the closed channel.
    budget.close();
    for done in waiting {
        let _ = done.send(());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn error(text: &'static str) -> Frame {
        Frame::Error(Bytes::from_static(text.as_bytes()))
    }

    #[test]
    fn exec_errors_name_each_failed_command_with_its_position() {
        let reply = Frame::Array(vec![
            Frame::Simple(Bytes::from_static(b"OK")),
            error("ERR value is not an integer or out of range"),
            Frame::Integer(3),
            Frame::BulkError(Bytes::from_static(b"WRONGTYPE Operation against a key")),
        ]);
        assert_eq!(
            exec_errors(&reply),
            [
                "ERR value is not an integer or out of range (command 2 of 4 in the transaction)",
                "WRONGTYPE Operation against a key (command 4 of 4 in the transaction)",
            ]
        );
    }

    #[test]
    fn exec_errors_count_an_aborted_transaction_once() {
        for nil in [Frame::NullArray, Frame::Null] {
            let errors = exec_errors(&nil);
            assert_eq!(errors.len(), 1);
            assert!(errors[0].contains("aborted"), "{errors:?}");
        }
    }

    #[test]
    fn exec_errors_accept_successful_and_empty_transactions() {
        let ok = Frame::Array(vec![
            Frame::Simple(Bytes::from_static(b"OK")),
            Frame::NullBulk,
            Frame::Array(Vec::new()),
        ]);
        assert!(exec_errors(&ok).is_empty());
        assert!(exec_errors(&Frame::Array(Vec::new())).is_empty());
        // Not a reply to EXEC at all: nothing to say.
        assert!(exec_errors(&Frame::Simple(Bytes::from_static(b"QUEUED"))).is_empty());
    }

    #[test]
    fn exec_is_recognised_in_any_case() {
        let write = |name: &str| Write {
            db: 0,
            key: None,
            command: Command::new(name),
            mode: WriteMode::Commands,
            expect: Expect::Success,
            last_of_key: true,
        };
        assert!(is_exec(&write("EXEC")));
        assert!(is_exec(&write("exec")));
        assert!(is_exec(&write("Exec")));
        assert!(!is_exec(&write("EXECABORT")));
        assert!(!is_exec(&write("MULTI")));
    }
}
