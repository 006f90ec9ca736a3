//! `ferry sync --source URL --target URL`: a replica of every source shard
//! that writes its snapshot and then its command stream to the target.
//!
//! - One reader task per source shard ([`shard::read`]) reads the socket at
//!   network speed into one spool (memory, then disk in `--work-dir`), so a
//!   slow target never makes the source drop Ferry, and resumes a broken
//!   connection where it stopped.
//! - One applier (this module) takes the spool in order: snapshots go
//!   through the same planner as `ferry restore`; commands through
//!   [`apply::Rules`]. Writes go to one sink; a shard's applied offset is
//!   confirmed when a [`ferry_sink::Barrier`] made after its writes passes.
//! - The status ([`status`]) is published a few times a second, for the log
//!   lines and `--status-addr`.

pub(crate) mod apply;
pub(crate) mod shard;
pub(crate) mod source;
pub(crate) mod status;

use crate::args::{
    OnBreakArg, OnConflict, Progress, SourcePrefer, SyncArgs, TargetKindArg, WriteModeArg,
};
use crate::error::CliError;
use crate::run::check;
use crate::run::common::{
    ConflictGuard, DbMap, FAILURES_SHOWN, conflict, connect_target, now_ms, plan_mode,
    print_failures, require_empty, say,
};
use crate::target::{SOURCE_PASSWORD_ENV, TARGET_PASSWORD_ENV, TargetUrl, parse_with_password};
use apply::{Apply, Rules, StreamState};
use bytes::BytesMut;
use ferry_rdb::Config as RdbConfig;
use ferry_replica::{Event, SpoolConfig, SpoolReader, SpoolStats, SpoolWriter};
use ferry_resp::Command;
use ferry_sink::plan::{Options, TargetCaps};
use ferry_sink::{
    Barrier, Expect, KeyTable, Planner, Report, ReportHandle, Sink, TargetKind, Write, WriteMode,
};
use shard::{OnBreak, ReaderConfig, ShardState};
use source::{Layout, Prefer, SourceAuth};
use status::{Board, Phase, ShardStatus, SyncStatus};
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

/// Keys of the source sampled for big keys by the checks before a sync.
const CHECK_SAMPLE_KEYS: u64 = 10_000;
/// How often the applier looks whether the writes of its barrier are
/// answered, while some await it (the barrier itself costs no round trip).
const TICK: Duration = Duration::from_millis(2);
/// How often the status is published.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// Errors and warnings kept for the status.
const STATUS_ERRORS_KEPT: usize = 20;

/// Runs `ferry sync`.
///
/// # Errors
/// Bad arguments, an unreachable or refusing source or target, a failed
/// check, or commands that could not be applied.
pub fn run(args: &SyncArgs) -> Result<(), CliError> {
    let (source, source_password) = parse_with_password(
        &args.source,
        args.source_password_file.as_deref(),
        SOURCE_PASSWORD_ENV,
    )
    .map_err(CliError::Usage)?;
    for node in &args.source_nodes {
        TargetUrl::parse(node).map_err(|e| CliError::Usage(format!("--source-nodes: {e}")))?;
    }
    let (target, target_password) = parse_with_password(
        &args.target,
        args.target_password_file.as_deref(),
        TARGET_PASSWORD_ENV,
    )
    .map_err(CliError::Usage)?;
    let db_map = DbMap::new(&args.db_map, target.db)?;
    check::validate_skips(&args.skip_check)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    let auth = SourceAuth {
        user: source.user.clone(),
        password: source_password,
    };
    runtime.block_on(sync(args, &source, auth, &target, target_password, &db_map))
}

/// A command of the stream that cannot be applied as it is.
struct Unapplied {
    shard: usize,
    offset: u64,
    command: String,
    keys: Vec<String>,
    why: String,
}

/// A snapshot being written.
struct Snapshot {
    rdb: ferry_rdb::Decoder,
    buf: BytesMut,
    planner: Planner,
    guard: ConflictGuard,
    /// The offset the stream continues from.
    offset: u64,
    /// The sink's failure count when it started.
    failed_before: u64,
}

/// What the applier keeps per shard.
struct ShardApply {
    state: Arc<ShardState>,
    stream: StreamState,
    snapshot: Option<Snapshot>,
    snapshots: u32,
    /// Offset of the last command given to the sink (or skipped).
    applied: u64,
}

/// What the applier counts, read by the status task.
#[derive(Default)]
struct Live {
    commands_received: AtomicU64,
    commands_applied: AtomicU64,
    unapplied: AtomicU64,
    split_transactions: AtomicU64,
    snapshot_keys: AtomicU64,
    /// The last errors and warnings.
    errors: Mutex<Vec<String>>,
}

impl Live {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn note_error(&self, text: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() >= STATUS_ERRORS_KEPT {
            errors.remove(0);
        }
        errors.push(text);
    }

    fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The applier: everything the loop over the spool needs.
struct Applier<'a> {
    args: &'a SyncArgs,
    sink: Sink,
    kind: TargetKind,
    caps: TargetCaps,
    mode: ferry_sink::plan::Mode,
    table: KeyTable,
    db_map: &'a DbMap,
    unlink_as_del: bool,
    shards: Vec<ShardApply>,
    live: Arc<Live>,
    unapplied: Vec<Unapplied>,
    barrier: Option<(Barrier, Vec<u64>)>,
    barrier_offsets: Vec<u64>,
    started: Instant,
    writes: Vec<Write>,
}

async fn sync(
    args: &SyncArgs,
    source: &TargetUrl,
    auth: SourceAuth,
    target: &TargetUrl,
    target_password: Option<String>,
    db_map: &DbMap,
) -> Result<(), CliError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop_tx.send(true);
        });
    }
    // Listening first: a taken address is reported before anything is
    // checked, and none of our own connections can take the port. The
    // status says `connecting` while the checks run.
    let board = Arc::new(Board::default());
    if let Some(addr) = args.status_addr {
        let bound = status::serve(addr, board.clone()).await.map_err(|e| {
            CliError::Usage(format!("--status-addr {addr}: cannot listen there: {e}"))
        })?;
        say(format_args!(
            "status: http://{bound}/status (JSON), http://{bound}/metrics (Prometheus)"
        ));
    }
    let prefer = match args.source_prefer {
        SourcePrefer::Replica => Prefer::Replica,
        SourcePrefer::Master => Prefer::Master,
    };
    // The checks of `ferry check`, before anything else.
    let target_auth = SourceAuth {
        user: target.user.clone(),
        password: target_password.clone(),
    };
    let plan = check::Plan {
        source: check::SourceSpec::Live {
            addr: source.addr(),
            nodes: &args.source_nodes,
            auth: &auth,
            prefer,
            sample_keys: CHECK_SAMPLE_KEYS,
        },
        target: target.addr(),
        target_auth: &target_auth,
        target_proxy: args.target_kind == TargetKindArg::Proxy,
        db_map,
        on_conflict: args.on_conflict,
    };
    check::preflight(&plan, &args.skip_check).await?;
    let sink = connect_target(
        target,
        target_password,
        args.target_kind,
        args.parallel.max(1),
    )
    .await?;
    let kind = sink.kind();
    let (mode, caps) = plan_mode(&sink, WriteModeArg::Auto)?;
    let (layout, nodes) =
        source::discover(&source.addr(), &args.source_nodes, &auth, prefer).await?;
    match layout {
        Layout::Standalone => say(format_args!(
            "source {} is a standalone server",
            source.addr()
        )),
        Layout::Cluster | Layout::Nodes => say(format_args!(
            "source: {} shard(s): {}",
            nodes.len(),
            nodes
                .iter()
                .map(|n| match &n.master {
                    Some(master) => format!("{} (replica of {master})", n.addr),
                    None => n.addr.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    let first = nodes.first().map(|n| n.addr.clone()).unwrap_or_default();
    let table = KeyTable::from_command_reply(
        &source::query(&first, &auth, &Command::new("COMMAND")).await?,
    )
    .map_err(|e| CliError::Check(format!("source COMMAND: {e}")))?;

    // Keys may have come since the check.
    if !check::skipped(&args.skip_check, "target.empty") {
        require_empty(&sink, args.on_conflict).await?;
    }

    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("ferry-sync"));
    let mut spool_config = SpoolConfig::new(work_dir.clone());
    spool_config.memory_bytes =
        usize::try_from(args.spool_memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    spool_config.disk_bytes = args.spool_disk_mb.saturating_mul(1 << 20);
    let (spool_writer, mut spool) = ferry_replica::spool(spool_config).map_err(|e| {
        CliError::Usage(format!(
            "--work-dir {}: cannot spool there: {e}",
            work_dir.display()
        ))
    })?;

    let reader_config = Arc::new(ReaderConfig {
        auth: auth.clone(),
        on_break: match args.on_break {
            OnBreakArg::Fail => OnBreak::Fail,
            OnBreakArg::FullResync => OnBreak::FullResync,
        },
        reconnect_for: Duration::from_secs(args.reconnect_timeout.max(1)),
    });
    let mut readers = JoinSet::new();
    let mut pollers = JoinSet::new();
    let mut shards = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.into_iter().enumerate() {
        let state = Arc::new(ShardState::new(node));
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        readers.spawn(shard::read(
            index,
            state.clone(),
            reader_config.clone(),
            spool_writer.clone(),
            stop_rx.clone(),
        ));
        pollers.spawn(shard::poll_source_offset(
            state.clone(),
            auth.clone(),
            stop_rx.clone(),
        ));
        shards.push(ShardApply {
            state,
            stream: StreamState::default(),
            snapshot: None,
            snapshots: 0,
            applied: 0,
        });
    }
    say(format_args!(
        "sync: -> {} ({:?} target), spool in {}",
        target.addr(),
        kind,
        work_dir.display()
    ));

    let live = Arc::new(Live::default());
    let started = Instant::now();
    let status_task = tokio::spawn(report_status(StatusSources {
        shards: shards.iter().map(|s| s.state.clone()).collect(),
        live: live.clone(),
        report: sink.report_handle(),
        spool: spool_writer.clone(),
        board: board.clone(),
        target: target.addr(),
        started,
        log_every: Duration::from_secs(args.status_interval.max(1)),
        progress: args.progress,
        stop: stop_rx.clone(),
    }));
    let shard_count = shards.len();
    let unlink_as_del = !caps.valkey && caps.version < (4, 0, 0);
    let mut applier = Applier {
        args,
        sink,
        kind,
        caps,
        mode,
        table,
        db_map,
        unlink_as_del,
        shards,
        live: live.clone(),
        unapplied: Vec::new(),
        barrier: None,
        barrier_offsets: vec![0; shard_count],
        started,
        writes: Vec::new(),
    };
    drop(spool_writer);
    let outcome = applier.run(&mut spool, &mut readers, stop_rx).await;
    let _ = stop_tx.send(true);
    readers.abort_all();
    pollers.abort_all();
    let _ = status_task.await;
    applier.finish(outcome, &spool, &board, target).await
}

enum Step {
    Stop,
    Event(Result<Option<(u32, Event)>, ferry_replica::SpoolError>),
    Tick,
    Idle,
    Reader(Result<Result<(), CliError>, tokio::task::JoinError>),
}

impl Applier<'_> {
    async fn run(
        &mut self,
        spool: &mut SpoolReader,
        readers: &mut JoinSet<Result<(), CliError>>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), CliError> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        // Events handled since the spool last ran dry: their writes may sit
        // in partial batches.
        let mut queued = false;
        loop {
            // A barrier to watch, or offsets it has not covered yet.
            let waiting = self.barrier.is_some() || self.offsets_moved();
            let step = tokio::select! {
                biased;
                _ = stop.changed() => Step::Stop,
                popped = spool.pop() => Step::Event(popped),
                // The spool has nothing ready: send what is queued now
                // rather than wait for a batch to fill or for the tick, so
                // a quiet stream is applied without added delay.
                () = std::future::ready(()), if queued => Step::Idle,
                _ = tick.tick(), if waiting => Step::Tick,
                Some(joined) = readers.join_next() => Step::Reader(joined),
            };
            queued = matches!(step, Step::Event(Ok(Some(_))));
            match step {
                Step::Stop => {
                    say(format_args!(
                        "sync: stopping: confirming the writes in flight"
                    ));
                    return Ok(());
                }
                Step::Event(Ok(Some((shard, event)))) => {
                    self.handle(shard as usize, event).await?;
                }
                Step::Event(Ok(None)) => {
                    // The readers end on the stop signal too.
                    if *stop.borrow() {
                        return Ok(());
                    }
                    // A reader that failed dropped its end of the spool:
                    // its error says why.
                    while let Some(joined) = readers.join_next().await {
                        match joined {
                            Ok(Err(e)) => return Err(e),
                            Err(e) => {
                                return Err(CliError::Check(format!(
                                    "a source reader failed: {e}"
                                )));
                            }
                            Ok(Ok(())) => {}
                        }
                    }
                    return Err(CliError::Check("every source reader stopped".into()));
                }
                Step::Event(Err(e)) => return Err(CliError::Check(format!("spool: {e}"))),
                Step::Reader(Ok(Ok(()))) => {}
                Step::Reader(Ok(Err(e))) => return Err(e),
                Step::Reader(Err(e)) => {
                    return Err(CliError::Check(format!("a source reader failed: {e}")));
                }
                Step::Tick => self.confirm().await?,
                Step::Idle => {
                    self.sink.send_queued().await.map_err(CliError::Target)?;
                    self.confirm().await?;
                }
            }
        }
    }

    /// Passes barriers: a shard's offset is confirmed once every write made
    /// before the barrier was answered.
    async fn confirm(&mut self) -> Result<(), CliError> {
        if let Some((barrier, offsets)) = &mut self.barrier {
            match barrier.poll(&self.sink) {
                Some(true) => {
                    for (shard, offset) in self.shards.iter().zip(offsets.iter()) {
                        if shard.snapshot.is_none() && shard.snapshots > 0 {
                            shard.state.confirm(*offset);
                        }
                    }
                    self.barrier = None;
                }
                Some(false) => self.barrier = None,
                None => return Ok(()),
            }
        }
        if self.offsets_moved() {
            let offsets: Vec<u64> = self.shards.iter().map(|s| s.applied).collect();
            let barrier = self.sink.barrier().await.map_err(CliError::Target)?;
            self.barrier_offsets.clone_from(&offsets);
            self.barrier = Some((barrier, offsets));
        }
        Ok(())
    }

    /// Whether some shard applied past the offsets of the last barrier.
    fn offsets_moved(&self) -> bool {
        self.shards
            .iter()
            .zip(&self.barrier_offsets)
            .any(|(shard, at)| shard.applied != *at)
    }

    async fn handle(&mut self, i: usize, event: Event) -> Result<(), CliError> {
        let Some(shard) = self.shards.get_mut(i) else {
            return Err(CliError::Check(format!(
                "spool: an event of unknown shard {i}"
            )));
        };
        let addr = shard.state.node.addr.clone();
        match event {
            Event::FullResync { replid, offset } => {
                let again = shard.snapshots > 0;
                shard.snapshots += 1;
                shard.state.set_phase(Phase::FullSync);
                shard.stream = StreamState::default();
                shard.state.reset_confirmed();
                say(format_args!(
                    "sync: source {addr}: full copy of {replid} at offset {offset}"
                ));
                let mut on_conflict = self.args.on_conflict;
                if again {
                    on_conflict = self.prepare_resync(i).await?;
                }
                let mut options = Options::new(self.caps, now_ms());
                options.mode = self.mode;
                options.conflict = conflict(on_conflict);
                options.elements_from_raw = true;
                let failed_before = self.sink.report().failed;
                if let Some(shard) = self.shards.get_mut(i) {
                    shard.snapshot = Some(Snapshot {
                        rdb: ferry_rdb::Decoder::with_config(RdbConfig {
                            raw: true,
                            skip_values: true,
                            ..RdbConfig::default()
                        }),
                        buf: BytesMut::new(),
                        planner: Planner::new(options),
                        guard: ConflictGuard::new(on_conflict),
                        offset,
                        failed_before,
                    });
                }
            }
            Event::Continue { .. } => {
                if shard.snapshot.is_some() {
                    return Err(CliError::Check(format!(
                        "source {addr} continued a stream whose snapshot was not complete"
                    )));
                }
            }
            Event::SnapshotStart { .. } => {}
            Event::Snapshot(chunk) => self.snapshot(i, Some(&chunk)).await?,
            Event::SnapshotEnd => self.snapshot(i, None).await?,
            Event::Command { command, offset } => {
                Live::add(&self.live.commands_received, 1);
                if shard.snapshot.is_some() {
                    return Err(CliError::Check(format!(
                        "source {addr} sent a command before the end of its snapshot"
                    )));
                }
                let rules = Rules {
                    kind: self.kind,
                    table: &self.table,
                    allow_flush: self.args.allow_flush,
                    db_map: self.db_map,
                    unlink_as_del: self.unlink_as_del,
                };
                let name = String::from_utf8_lossy(command.name()).into_owned();
                let outcome = rules.apply(&mut shard.stream, command);
                if outcome.split_transaction {
                    Live::add(&self.live.split_transactions, 1);
                }
                let in_transaction = shard.stream.in_transaction();
                match outcome.apply {
                    Apply::Skip => {}
                    Apply::Stop(why) => {
                        return Err(CliError::Check(format!("source {addr}: {why}")));
                    }
                    Apply::Unapplied(why, keys) => {
                        Live::add(&self.live.unapplied, 1);
                        let text = format!(
                            "not applied: {name} at offset {offset} of {addr} (keys {}): {why}",
                            keys.join(", ")
                        );
                        if self.unapplied.len() < FAILURES_SHOWN {
                            self.unapplied.push(Unapplied {
                                shard: i,
                                offset,
                                command: name,
                                keys,
                                why,
                            });
                        }
                        self.live.note_error(text);
                    }
                    Apply::Writes(list) => {
                        Live::add(&self.live.commands_applied, list.len() as u64);
                        for write in list {
                            self.sink.write(write).await.map_err(CliError::Target)?;
                        }
                    }
                }
                // Inside MULTI nothing is written yet: the offset stays
                // before it until EXEC.
                if !in_transaction && let Some(shard) = self.shards.get_mut(i) {
                    shard.applied = offset;
                }
            }
        }
        Ok(())
    }

    /// Before a second snapshot of shard `i`: the keys of the first one are
    /// on the target. Returns how the new snapshot treats existing keys.
    async fn prepare_resync(&mut self, i: usize) -> Result<OnConflict, CliError> {
        // Whatever of the old stream is in flight lands first.
        self.sink.flush().await.map_err(CliError::Target)?;
        let addr = self
            .shards
            .get(i)
            .map(|s| s.state.node.addr.clone())
            .unwrap_or_default();
        if self.shards.len() == 1 && self.args.on_conflict == OnConflict::Fail {
            // The target was empty when the sync started: everything on it
            // came from this source, and the new copy replaces all of it
            // (keys deleted on the source meanwhile go too).
            say(format_args!(
                "sync: source {addr}: emptying the target (it held only this sync's keys) \
                 before the new copy"
            ));
            self.sink
                .write(Write {
                    db: 0,
                    key: None,
                    command: Command::new("FLUSHALL"),
                    mode: WriteMode::Commands,
                    expect: Expect::Success,
                    last_of_key: true,
                })
                .await
                .map_err(CliError::Target)?;
            self.sink.flush().await.map_err(CliError::Target)?;
            return Ok(OnConflict::Fail);
        }
        let text = format!(
            "source {addr}: new full copy over the first one: keys are replaced, but keys \
             deleted on the source meanwhile may remain on the target (ferry verify finds them)"
        );
        say(format_args!("warning: {text}"));
        self.live.note_error(text);
        Ok(OnConflict::Replace)
    }

    /// Feeds a piece of shard `i`'s snapshot (or its end) to its planner.
    async fn snapshot(&mut self, i: usize, chunk: Option<&[u8]>) -> Result<(), CliError> {
        let Some(shard) = self.shards.get_mut(i) else {
            return Ok(());
        };
        let addr = shard.state.node.addr.clone();
        let Some(snap) = shard.snapshot.as_mut() else {
            return Err(CliError::Check(format!(
                "source {addr} sent snapshot bytes outside a snapshot"
            )));
        };
        let bad =
            |e: &dyn std::fmt::Display| CliError::Check(format!("source {addr}'s snapshot: {e}"));
        if let Some(chunk) = chunk {
            snap.buf.extend_from_slice(chunk);
        }
        while let Some(item) = snap.rdb.decode(&mut snap.buf).map_err(|e| bad(&e))? {
            snap.planner
                .handle_item(item, &mut self.writes)
                .map_err(|e| bad(&e))?;
        }
        let end = chunk.is_none();
        let summary = end.then(|| snap.planner.finish(&mut self.writes));
        while let Some(note) = snap.planner.poll_note() {
            say(format_args!("warning: {note}"));
        }
        for mut write in self.writes.drain(..) {
            write.db = self.db_map.target(write.db);
            if snap
                .guard
                .admit(&mut self.sink, &write)
                .await
                .map_err(CliError::Target)?
            {
                self.sink.write(write).await.map_err(CliError::Target)?;
            }
        }
        let Some(summary) = summary else {
            return Ok(());
        };
        if !snap.buf.is_empty() || !snap.rdb.is_done() {
            return Err(bad(&"the transfer ended inside the RDB file"));
        }
        let offset = snap.offset;
        let failed_before = snap.failed_before;
        shard.snapshot = None;
        shard.applied = offset;
        shard.state.set_phase(Phase::Incremental);
        // Snapshot writes spread over several connections; the stream's
        // keyless writes take the first one: everything of the snapshot must
        // be answered before the stream starts.
        let report = self.sink.flush().await.map_err(CliError::Target)?;
        shard.state.confirm(offset);
        shard.state.set_snapshot_pending(false);
        let keys = report
            .keys_written()
            .saturating_sub(Live::get(&self.live.snapshot_keys));
        self.live
            .snapshot_keys
            .store(report.keys_written(), Ordering::Relaxed);
        say(format_args!(
            "sync: source {addr}: snapshot written: {keys} keys, {} expired skipped, in {:.1} s; \
             applying the stream from offset {offset}",
            summary.expired_keys_skipped,
            self.started.elapsed().as_secs_f64()
        ));
        if report.failed > failed_before {
            return Err(CliError::Incomplete(format!(
                "{} command(s) of the snapshot of {addr} were refused by the target (listed \
                 below)",
                report.failed - failed_before
            )));
        }
        Ok(())
    }

    /// Confirms what is in flight, publishes the last status and prints the
    /// summary.
    async fn finish(
        mut self,
        outcome: Result<(), CliError>,
        spool: &SpoolReader,
        board: &Board,
        target: &TargetUrl,
    ) -> Result<(), CliError> {
        let report = match self.sink.flush().await {
            Ok(report) => {
                for shard in &self.shards {
                    if shard.snapshot.is_none() && shard.snapshots > 0 {
                        shard.state.confirm(shard.applied);
                    }
                }
                report
            }
            Err(e) => {
                say(format_args!("error: target: {e}"));
                self.sink.report()
            }
        };
        let states: Vec<Arc<ShardState>> = self.shards.iter().map(|s| s.state.clone()).collect();
        let mut status = build_status(
            &states,
            &self.live,
            &report,
            spool.stats(),
            &target.addr(),
            self.started,
        );
        status.phase = if outcome.is_ok() {
            Phase::Stopping
        } else {
            Phase::Failed
        };
        board.publish(status.clone());
        for s in &status.shards {
            say(format_args!(
                "sync: source {}: stopped at offset {} confirmed by the target ({} received, {} \
                 at the source's last reading)",
                s.source, s.applied_offset, s.received_offset, s.source_offset
            ));
        }
        say(format_args!(
            "sync: {} keys written by snapshots, {} commands received, {} refused by the target, \
             {} not applicable, {} transactions applied as separate commands",
            status.keys_written,
            status.commands_received,
            report.failed,
            status.commands_unapplied,
            status.transactions_split
        ));
        print_failures(&report);
        for u in &self.unapplied {
            say(format_args!(
                "not applied: {} at offset {} of {} (keys {}): {}",
                u.command,
                u.offset,
                self.shards
                    .get(u.shard)
                    .map_or("?", |s| s.state.node.addr.as_str()),
                u.keys.join(", "),
                u.why
            ));
        }
        outcome?;
        let unapplied = Live::get(&self.live.unapplied);
        if report.failed > 0 || unapplied > 0 {
            return Err(CliError::Incomplete(format!(
                "{} command(s) were not applied (listed above)",
                report.failed + unapplied
            )));
        }
        Ok(())
    }
}

/// What the status task reads.
struct StatusSources {
    shards: Vec<Arc<ShardState>>,
    live: Arc<Live>,
    report: ReportHandle,
    /// For its statistics only.
    spool: SpoolWriter,
    board: Arc<Board>,
    target: String,
    started: Instant,
    log_every: Duration,
    progress: Progress,
    stop: watch::Receiver<bool>,
}

/// Publishes the status, draws the progress bar and logs status lines
/// until the sync stops. A task of its own: the applier may wait on a slow
/// target for long, and the status must show it.
async fn report_status(mut from: StatusSources) {
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last_log = Instant::now();
    let mut bar = Bar::new(from.progress);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = from.stop.changed() => break,
        }
        let status = build_status(
            &from.shards,
            &from.live,
            &from.report.get(),
            from.spool.stats(),
            &from.target,
            from.started,
        );
        bar.show(&status);
        if last_log.elapsed() >= from.log_every {
            last_log = Instant::now();
            bar.clear();
            log_status(&status);
        }
        from.board.publish(status);
    }
    bar.clear();
}

fn build_status(
    states: &[Arc<ShardState>],
    live: &Live,
    report: &Report,
    spool: SpoolStats,
    target: &str,
    started: Instant,
) -> SyncStatus {
    let shards: Vec<ShardStatus> = states
        .iter()
        .map(|st| {
            let source_offset = st.source_offset.load(Ordering::Acquire);
            let received = st.received.load(Ordering::Acquire);
            let applied = st.confirmed.load(Ordering::Acquire);
            let lag_bytes = source_offset.max(received).saturating_sub(applied);
            // Caught up: the target confirmed everything received and
            // everything the source had at its last reading (a source
            // never read yet may hold more).
            let phase = match st.phase() {
                Phase::Incremental
                    if st.source_read.load(Ordering::Acquire)
                        && applied >= source_offset
                        && applied >= received =>
                {
                    Phase::CaughtUp
                }
                phase => phase,
            };
            let total = st.snapshot_total.load(Ordering::Relaxed);
            ShardStatus {
                source: st.node.addr.clone(),
                phase,
                connected: st.connected.load(Ordering::Acquire),
                replid: st.replid(),
                source_offset,
                received_offset: received,
                applied_offset: applied,
                lag_bytes,
                lag_seconds: st.lag_seconds(),
                snapshot_bytes: st.snapshot_bytes.load(Ordering::Relaxed),
                snapshot_total: (total != u64::MAX).then_some(total),
                reconnects: st.reconnects.load(Ordering::Relaxed),
                full_resyncs: st.full_resyncs.load(Ordering::Relaxed),
            }
        })
        .collect();
    // The whole sync is as far as its slowest shard.
    let phase = shards
        .iter()
        .map(|s| s.phase)
        .min_by_key(|p| p.index())
        .unwrap_or(Phase::Connecting);
    SyncStatus {
        phase,
        uptime_seconds: started.elapsed().as_secs_f64(),
        target: target.to_owned(),
        shards,
        keys_written: Live::get(&live.snapshot_keys).max(report.keys_written()),
        commands_received: Live::get(&live.commands_received),
        commands_applied: Live::get(&live.commands_applied),
        commands_failed: report.failed,
        commands_unapplied: Live::get(&live.unapplied),
        transactions_split: Live::get(&live.split_transactions),
        spool_memory_bytes: spool.memory_bytes,
        spool_disk_bytes: spool.disk_bytes,
        errors: live.errors(),
    }
}

fn log_status(status: &SyncStatus) {
    let mb = |b: u64| b as f64 / 1e6;
    let snapshot: u64 = status.shards.iter().map(|s| s.snapshot_bytes).sum();
    say(format_args!(
        "sync: {}, lag {} bytes / {:.3} s, {:.1} MB of snapshots received, {} keys written, {} \
         commands applied, spool {:.1} MB in memory + {:.1} MB on disk",
        status.phase.name(),
        status.lag_bytes(),
        status.lag_seconds(),
        mb(snapshot),
        status.keys_written,
        status.commands_applied,
        mb(status.spool_memory_bytes),
        mb(status.spool_disk_bytes)
    ));
}

/// The progress bar during the full copy, on a terminal.
struct Bar {
    enabled: bool,
    drawn: bool,
}

impl Bar {
    fn new(mode: Progress) -> Bar {
        Bar {
            enabled: matches!(mode, Progress::Bar)
                || (mode == Progress::Auto && std::io::stderr().is_terminal()),
            drawn: false,
        }
    }

    fn show(&mut self, status: &SyncStatus) {
        if !self.enabled {
            return;
        }
        if status.phase != Phase::FullSync {
            self.clear();
            return;
        }
        let received: u64 = status.shards.iter().map(|s| s.snapshot_bytes).sum();
        let total: Option<u64> = status.shards.iter().map(|s| s.snapshot_total).sum();
        let mb = |b: u64| b as f64 / 1e6;
        let (fraction, of) = match total {
            Some(t) if t > 0 => (
                (received as f64 / t as f64).min(1.0),
                format!("/{:.1}", mb(t)),
            ),
            _ => (0.0, String::new()),
        };
        let width = 30;
        let done = (fraction * f64::from(width)) as usize;
        let _ = write!(
            std::io::stderr(),
            "\r[{}{}] full copy: {:.1}{of} MB received, {} keys written\x1b[K",
            "#".repeat(done),
            ".".repeat((width as usize).saturating_sub(done)),
            mb(received),
            status.keys_written
        );
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
            self.drawn = false;
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::sync::source::SourceNode;

    fn shard(source: Option<u64>, received: u64, confirmed: u64) -> Arc<ShardState> {
        let st = ShardState::new(SourceNode {
            addr: "127.0.0.1:1".into(),
            master: None,
        });
        st.set_phase(Phase::Incremental);
        if let Some(offset) = source {
            st.source_offset.store(offset, Ordering::Release);
            st.source_read.store(true, Ordering::Release);
        }
        st.received.store(received, Ordering::Release);
        st.confirm(confirmed);
        Arc::new(st)
    }

    fn status(st: Arc<ShardState>) -> ShardStatus {
        let status = build_status(
            &[st],
            &Live::default(),
            &Report::default(),
            SpoolStats::default(),
            "t",
            Instant::now(),
        );
        status
            .shards
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("one shard in, none out"))
    }

    #[test]
    fn bytes_received_but_unconfirmed_are_lag_not_caught_up() {
        // The source's last reading is older than what arrived since.
        let s = status(shard(Some(100), 150, 100));
        assert_eq!(s.phase, Phase::Incremental);
        assert_eq!(s.lag_bytes, 50);
    }

    #[test]
    fn everything_confirmed_is_caught_up_with_no_lag() {
        let s = status(shard(Some(150), 150, 150));
        assert_eq!(s.phase, Phase::CaughtUp);
        assert_eq!(s.lag_bytes, 0);
        assert!(s.lag_seconds.abs() < f64::EPSILON);
    }

    #[test]
    fn a_new_source_at_offset_zero_is_caught_up_once_read() {
        assert_eq!(status(shard(Some(0), 0, 0)).phase, Phase::CaughtUp);
        // Not read yet: it may hold more than what was received.
        assert_eq!(status(shard(None, 0, 0)).phase, Phase::Incremental);
    }

    #[test]
    fn the_source_ahead_of_what_arrived_is_lag() {
        let s = status(shard(Some(300), 200, 200));
        assert_eq!(s.phase, Phase::Incremental);
        assert_eq!(s.lag_bytes, 100);
    }
}
