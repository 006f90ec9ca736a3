//! One source shard: its replication session, read at network speed into
//! the spool, reconnected and continued (`PSYNC <replid> <offset>`) when
//! the connection breaks.

use crate::error::CliError;
use crate::run::common::say;
use crate::run::sync::source::{SOURCE_TIMEOUT, SourceAuth, SourceNode, info};
use crate::run::sync::status::Phase;
use ferry_replica::{Config as ReplicaConfig, Event, Replica, SpoolWriter};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// How often what was applied is acknowledged to the source.
const ACK_INTERVAL: Duration = Duration::from_secs(1);
/// After a snapshot, how often the source is acknowledged until its stream
/// starts, and for how long at most: after a diskless transfer the source
/// sends the stream only once acknowledged, and an acknowledgement that
/// arrives before it noticed the end of its transfer is not counted. Writes
/// pile up in its buffer for Ferry meanwhile.
const EARLY_ACK_INTERVAL: Duration = Duration::from_millis(100);
const EARLY_ACK_FOR: Duration = Duration::from_secs(5);
/// How often the source's own offset is read.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Arrival times kept for the lag in seconds (one per millisecond at most).
const MAX_ARRIVALS: usize = 200_000;
/// First pause before connecting again; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What to do when the source cannot continue where the broken connection
/// left off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBreak {
    /// Stop with an error saying so.
    Fail,
    /// Take a new full copy (keys of the target are replaced; keys deleted
    /// on the source meanwhile may remain: run `ferry verify`).
    FullResync,
}

/// How the readers behave.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Credentials of every source node.
    pub auth: SourceAuth,
    /// When continuing is not possible.
    pub on_break: OnBreak,
    /// How long to keep trying to reconnect.
    pub reconnect_for: Duration,
}

/// What a shard's reader, the applier and the status share.
#[derive(Debug)]
pub struct ShardState {
    /// The node replicated from.
    pub node: SourceNode,
    /// Connected now.
    pub connected: AtomicBool,
    /// Replication offset received.
    pub received: AtomicU64,
    /// Replication offset up to which the target confirmed every write
    /// (set by the applier).
    pub confirmed: AtomicU64,
    /// The source's `master_repl_offset` at its last reading.
    pub source_offset: AtomicU64,
    /// Whether `source_offset` was read at all (a new source's offset is 0).
    pub source_read: AtomicBool,
    /// Snapshot bytes received (of the current snapshot).
    pub snapshot_bytes: AtomicU64,
    /// Its announced length, `u64::MAX` when unknown (diskless).
    pub snapshot_total: AtomicU64,
    /// Connections resumed with `+CONTINUE`.
    pub reconnects: AtomicU64,
    /// Snapshots taken again after a break.
    pub full_resyncs: AtomicU64,
    /// The replication id.
    pub replid: Mutex<String>,
    /// Where the applier is with this shard ([`Phase`] as a number).
    phase: AtomicU8,
    /// (offset, when it arrived), oldest first, for the lag in seconds.
    arrivals: Mutex<VecDeque<(u64, Instant)>>,
    /// When the current snapshot started, for the lag while it is written.
    snapshot_started: Mutex<Option<Instant>>,
}

impl ShardState {
    /// A shard not yet connected.
    pub fn new(node: SourceNode) -> ShardState {
        ShardState {
            node,
            connected: AtomicBool::new(false),
            received: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
            source_offset: AtomicU64::new(0),
            source_read: AtomicBool::new(false),
            snapshot_bytes: AtomicU64::new(0),
            snapshot_total: AtomicU64::new(u64::MAX),
            reconnects: AtomicU64::new(0),
            full_resyncs: AtomicU64::new(0),
            replid: Mutex::new(String::new()),
            phase: AtomicU8::new(0),
            arrivals: Mutex::new(VecDeque::new()),
            snapshot_started: Mutex::new(None),
        }
    }

    /// Where the applier is with this shard.
    pub fn phase(&self) -> Phase {
        Phase::from_index(self.phase.load(Ordering::Acquire))
    }

    /// Sets where the applier is with this shard.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase.index(), Ordering::Release);
    }

    /// The replication id.
    pub fn replid(&self) -> String {
        self.replid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn note_arrival(&self, offset: u64) {
        self.received.store(offset, Ordering::Release);
        let now = Instant::now();
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        if arrivals
            .back()
            .is_some_and(|(_, t)| now.duration_since(*t) < Duration::from_millis(1))
        {
            if let Some(last) = arrivals.back_mut() {
                last.0 = offset;
            }
            return;
        }
        if arrivals.len() >= MAX_ARRIVALS {
            arrivals.pop_front();
        }
        arrivals.push_back((offset, now));
    }

    /// Records that the target confirmed everything up to `offset`.
    pub fn confirm(&self, offset: u64) {
        // Only the applier writes it, in order; a new full copy starts over
        // with `reset_confirmed`.
        self.confirmed.store(offset, Ordering::Release);
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the last confirmed sample: it bounds when the next
        // unconfirmed byte can have arrived.
        while arrivals.len() > 1 && arrivals.get(1).is_some_and(|(o, _)| *o <= offset) {
            arrivals.pop_front();
        }
    }

    /// Forgets the confirmed offset: a new full copy starts.
    pub fn reset_confirmed(&self) {
        self.confirmed.store(0, Ordering::Release);
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Seconds since the oldest byte the target has not confirmed arrived.
    pub fn lag_seconds(&self) -> f64 {
        if let Some(started) = *self
            .snapshot_started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            return started.elapsed().as_secs_f64();
        }
        let confirmed = self.confirmed.load(Ordering::Acquire);
        if self.received.load(Ordering::Acquire) <= confirmed {
            return 0.0;
        }
        let arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        // The first unconfirmed byte arrived after the last sample at or
        // below `confirmed`: the front, once pruned.
        arrivals
            .front()
            .map_or(0.0, |(_, t)| t.elapsed().as_secs_f64())
    }

    /// Marks the shard's snapshot as written (or not).
    pub fn set_snapshot_pending(&self, pending: bool) {
        *self
            .snapshot_started
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = pending.then(Instant::now);
    }
}

/// Reads shard `index` into the spool until `stop` turns true or the
/// source fails for good.
///
/// # Errors
/// The source refused, broke the protocol, or could not continue and
/// `--on-break fail` was given; or the spool failed.
pub async fn read(
    index: u32,
    state: std::sync::Arc<ShardState>,
    config: std::sync::Arc<ReaderConfig>,
    spool: SpoolWriter,
    mut stop: watch::Receiver<bool>,
) -> Result<(), CliError> {
    let addr = state.node.addr.clone();
    let mut resume: Option<(String, u64)> = None;
    let mut failing_since: Option<Instant> = None;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let outcome = session(index, &state, &config, &spool, &mut stop, resume.clone()).await;
        state.connected.store(false, Ordering::Release);
        let broke = match outcome {
            Ok(Ended::Stopped) => return Ok(()),
            Ok(Ended::Broke {
                streaming,
                why,
                progressed,
            }) => {
                if progressed {
                    failing_since = None;
                    backoff = FIRST_BACKOFF;
                }
                (streaming, why)
            }
            Err(e) => return Err(e),
        };
        let (streaming, why) = broke;
        let received = state.received.load(Ordering::Acquire);
        if streaming {
            resume = Some((state.replid(), received));
            say(format_args!(
                "sync: source {addr}: connection lost at offset {received} ({why}); \
                 reconnecting to continue from there"
            ));
        } else if resume.is_some() {
            // Lost again while resuming: keep asking for the same offset.
            say(format_args!(
                "sync: source {addr}: reconnecting failed ({why}); trying again"
            ));
        } else if config.on_break == OnBreak::FullResync {
            say(format_args!(
                "sync: source {addr}: connection lost during the snapshot ({why}); \
                 taking a new full copy (--on-break full-resync)"
            ));
        } else {
            return Err(CliError::Check(format!(
                "source {addr}: connection lost during the snapshot ({why}); a snapshot cannot \
                 be continued: stopped (--on-break full-resync takes a new full copy)"
            )));
        }
        let since = *failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= config.reconnect_for {
            return Err(CliError::Check(format!(
                "source {addr}: could not reconnect for {} s ({why}): stopped at offset \
                 {received}",
                config.reconnect_for.as_secs()
            )));
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return Ok(()),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How a session ended without a lasting error.
enum Ended {
    /// Told to stop.
    Stopped,
    /// The connection broke.
    Broke {
        /// The snapshot was received whole: the stream can be continued.
        streaming: bool,
        /// What happened.
        why: String,
        /// Something was received before it broke.
        progressed: bool,
    },
}

async fn session(
    index: u32,
    state: &ShardState,
    config: &ReaderConfig,
    spool: &SpoolWriter,
    stop: &mut watch::Receiver<bool>,
    resume: Option<(String, u64)>,
) -> Result<Ended, CliError> {
    let addr = state.node.addr.as_str();
    let resuming = resume.clone();
    let replica_config = ReplicaConfig {
        user: config.auth.user.clone(),
        password: config.auth.password.clone(),
        listening_port: 0,
        resume,
    };
    let broke = |streaming: bool, why: String, progressed: bool| {
        Ok(Ended::Broke {
            streaming,
            why,
            progressed,
        })
    };
    let mut replica = match Replica::connect(addr, replica_config, SOURCE_TIMEOUT).await {
        Ok(replica) => replica,
        Err(e) => return broke(resuming.is_some(), e.to_string(), false),
    };
    state.connected.store(true, Ordering::Release);
    let mut progressed = false;
    let mut tick = tokio::time::interval(ACK_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Set from the end of a snapshot until the first command.
    let mut early_acks_until: Option<Instant> = None;
    let push = |event: Event| async move {
        spool
            .push(index, event)
            .await
            .map_err(|e| CliError::Check(format!("spool: {e}")))
    };
    loop {
        let event = tokio::select! {
            event = replica.next_event() => event,
            _ = tick.tick() => {
                if replica.session().is_streaming() {
                    let confirmed = state.confirmed.load(Ordering::Acquire);
                    if let Err(e) = replica.ack(confirmed).await {
                        return broke(true, e.to_string(), progressed);
                    }
                }
                continue;
            }
            () = tokio::time::sleep(EARLY_ACK_INTERVAL), if early_acks_until.is_some() => {
                if early_acks_until.is_some_and(|until| Instant::now() >= until) {
                    early_acks_until = None;
                }
                let confirmed = state.confirmed.load(Ordering::Acquire);
                if let Err(e) = replica.ack(confirmed).await {
                    return broke(true, e.to_string(), progressed);
                }
                continue;
            }
            _ = stop.changed() => return Ok(Ended::Stopped),
        };
        let streaming = replica.session().is_streaming();
        let event = match event {
            Ok(Some(event)) => event,
            Ok(None) => {
                return broke(
                    streaming,
                    "the source closed the connection".into(),
                    progressed,
                );
            }
            Err(e) if e.is_resumable() => {
                // A session that was asked to continue is still resumable
                // while it has not been told otherwise.
                let resumable = streaming || (resuming.is_some() && !progressed);
                return broke(resumable, e.to_string(), progressed);
            }
            Err(e) => return Err(CliError::Check(e.to_string())),
        };
        progressed = true;
        match &event {
            Event::FullResync { replid, offset } => {
                if let Some((old, at)) = &resuming {
                    if config.on_break == OnBreak::Fail {
                        return Err(CliError::Check(format!(
                            "source {addr} cannot continue replication {old} from offset {at} \
                             (its backlog no longer holds it, or it is another server now) and \
                             wants to send a new full copy: stopped (--on-break full-resync \
                             accepts it)"
                        )));
                    }
                    state.full_resyncs.fetch_add(1, Ordering::Relaxed);
                    say(format_args!(
                        "sync: source {addr} cannot continue from offset {at}: taking a new \
                         full copy"
                    ));
                }
                *state.replid.lock().unwrap_or_else(|e| e.into_inner()) = replid.clone();
                state.received.store(*offset, Ordering::Release);
                state.snapshot_bytes.store(0, Ordering::Relaxed);
                state.snapshot_total.store(u64::MAX, Ordering::Relaxed);
                state.set_snapshot_pending(true);
            }
            Event::Continue { replid } => {
                *state.replid.lock().unwrap_or_else(|e| e.into_inner()) = replid.clone();
                state.reconnects.fetch_add(1, Ordering::Relaxed);
                say(format_args!(
                    "sync: source {addr}: continuing from offset {}",
                    replica.session().offset()
                ));
            }
            Event::SnapshotStart { len } => {
                state
                    .snapshot_total
                    .store(len.unwrap_or(u64::MAX), Ordering::Relaxed);
            }
            Event::Snapshot(chunk) => {
                state
                    .snapshot_bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            Event::SnapshotEnd => early_acks_until = Some(Instant::now() + EARLY_ACK_FOR),
            Event::Command { offset, .. } => {
                early_acks_until = None;
                state.note_arrival(*offset);
            }
        }
        push(event).await?;
    }
}

/// Reads the source's own replication offset every half second, for the
/// lag and `caught-up`, until `stop`.
pub async fn poll_source_offset(
    state: std::sync::Arc<ShardState>,
    auth: SourceAuth,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        // A connection per reading: a kept one would be one more client on
        // the source (and through any proxy in between) for two requests a
        // second.
        let Ok(text) = info(&state.node.addr, &auth, "replication").await else {
            continue;
        };
        if let Some(offset) = ferry_sink::info_field(&text, "master_repl_offset")
            .and_then(|o| o.trim().parse::<u64>().ok())
        {
            state.source_offset.store(offset, Ordering::Release);
            state.source_read.store(true, Ordering::Release);
        }
    }
}
