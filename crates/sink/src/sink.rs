//! The writer: routes each [`Write`] to a connection of the target, keeps
//! the commands of one key in order, follows redirects, and reports; and
//! [`Barrier`]s, which tell without waiting how far writes are answered.

use crate::conn::{Conn, Credentials, info_field, keyspace, query, text};
use crate::error::{Error, Failure, ReplyError};
use crate::pipe::{BATCH_BYTES, Pipe, Report, Resend, Shared};
use crate::slot::{SLOT_COUNT, Slot};
use crate::write::Write;
use ferry_resp::{Command, Frame};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What kind of deployment the target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// One server (or a master with replicas): databases via `SELECT`.
    Standalone,
    /// A Redis Cluster: keys routed by slot to their master, db 0 only.
    Cluster,
    /// A proxy in front of several servers (twemproxy, Codis): commands
    /// only, no `SELECT`, no `MULTI`, no `RESTORE` for some.
    Proxy,
}

/// How the sink should treat the target.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// `host:port` of the target (any node of a cluster).
    pub addr: String,
    /// How to log in.
    pub credentials: Credentials,
    /// The target's kind; `None` detects it (`INFO cluster`).
    pub kind: Option<TargetKind>,
    /// Connections to a standalone target or a proxy (keys are spread over
    /// them by slot, so one key always uses one connection). A cluster gets
    /// one connection per master.
    pub parallel: usize,
    /// Bytes of commands sent and not yet answered, over all connections
    /// (each gets an equal share, at least [`MIN_PIPE_BUDGET_BYTES`]). Every
    /// such command is also held until answered, to be sent again after a
    /// redirect: this bounds the writer's memory.
    pub inflight_bytes: usize,
    /// Times one command is sent again after redirects or `TRYAGAIN`/
    /// `LOADING`/`CLUSTERDOWN` before it counts as failed.
    pub max_attempts: u32,
}

impl SinkConfig {
    /// Defaults for the target at `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        SinkConfig {
            addr: addr.into(),
            credentials: Credentials::default(),
            kind: None,
            parallel: 4,
            inflight_bytes: 16 * 1024 * 1024,
            max_attempts: 16,
        }
    }
}

/// The least in-flight budget a connection gets, in bytes.
pub const MIN_PIPE_BUDGET_BYTES: usize = 1024 * 1024;

/// A target ready to be written to. See the crate docs for an example.
#[derive(Debug)]
pub struct Sink {
    config: SinkConfig,
    kind: TargetKind,
    info: String,
    shared: Arc<Shared>,
    /// Connections: for a cluster, one per master, in `masters` order.
    pipes: Vec<Pipe>,
    /// Cluster: the index in `pipes` of each slot's master (`None` if
    /// no master owns it).
    slots: Vec<Option<usize>>,
    seq: u64,
    /// In-flight bytes each connection may have.
    pipe_budget: usize,
    /// Connections for queries ([`Sink::key_exists`]), by node, with the
    /// database each has selected.
    queries: HashMap<String, (Conn, u64)>,
}

impl Sink {
    /// Connects to the target, detects its kind unless told, and opens the
    /// connections.
    ///
    /// # Errors
    ///
    /// The target cannot be reached, refuses the credentials, or (for a
    /// cluster) has no usable slot map.
    pub async fn connect(config: SinkConfig) -> Result<Sink, Error> {
        let mut conn = Conn::open(&config.addr, &config.credentials).await?;
        let info = match conn.request(&Command::new("INFO").arg("server")).await? {
            // Proxies may refuse INFO: the version is then unknown.
            Frame::Error(_) if config.kind == Some(TargetKind::Proxy) => String::new(),
            frame => match text(&frame) {
                Some(info) => info,
                None => {
                    return Err(Error::setup(
                        &config.addr,
                        "INFO server",
                        format!(
                            "unexpected reply {frame:?}; if the target is a proxy, say so (kind proxy)"
                        ),
                    ));
                }
            },
        };
        let kind = match config.kind {
            Some(kind) => kind,
            None => {
                let cluster = conn.query(&Command::new("INFO").arg("cluster")).await?;
                let enabled = text(&cluster)
                    .as_deref()
                    .and_then(|i| info_field(i, "cluster_enabled").map(|v| v == "1"))
                    .unwrap_or(false);
                if enabled {
                    TargetKind::Cluster
                } else {
                    TargetKind::Standalone
                }
            }
        };
        let shared = Arc::new(Shared::default());
        let mut sink = Sink {
            kind,
            info,
            shared,
            pipes: Vec::new(),
            slots: vec![None; usize::from(SLOT_COUNT)],
            seq: 0,
            pipe_budget: MIN_PIPE_BUDGET_BYTES,
            queries: HashMap::new(),
            config,
        };
        match kind {
            TargetKind::Cluster => {
                let map = slot_map(&mut conn).await?;
                sink.pipe_budget = sink.share(map.masters.len());
                sink.apply_map(map).await?;
            }
            TargetKind::Standalone | TargetKind::Proxy => {
                sink.pipe_budget = sink.share(sink.config.parallel.max(1));
                for _ in 0..sink.config.parallel.max(1) {
                    let conn = Conn::open(&sink.config.addr, &sink.config.credentials).await?;
                    sink.pipes.push(sink.start_pipe(conn));
                }
            }
        }
        Ok(sink)
    }

    /// The target's kind.
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// The target's `INFO server` text (empty for a proxy that refuses it).
    pub fn server_info(&self) -> &str {
        &self.info
    }

    /// The addresses of the connections' nodes (a cluster's masters).
    pub fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self.pipes.iter().map(|p| p.addr.clone()).collect();
        nodes.dedup();
        nodes
    }

    /// Keys written so far (answered), without copying the whole report.
    pub fn keys_written(&self) -> u64 {
        self.shared.report().keys_written()
    }

    /// What was done so far (answered commands only).
    pub fn report(&self) -> Report {
        self.shared.report().clone()
    }

    /// A handle that reads the report from another task, also while this
    /// sink waits for room to write (for a status page).
    pub fn report_handle(&self) -> ReportHandle {
        ReportHandle(self.shared.clone())
    }

    /// Queues one command. Returns once it is queued (waiting while the
    /// in-flight budget is spent); its outcome goes to the [`Report`].
    ///
    /// # Errors
    ///
    /// A connection was lost or a redirect could not be followed: nothing
    /// more can be written.
    pub async fn write(&mut self, write: Write) -> Result<(), Error> {
        self.check_fatal()?;
        if self.shared.resend_pending.load(Ordering::Acquire) {
            self.settle().await?;
        }
        self.seq += 1;
        let seq = self.seq;
        self.route(seq, write, 0, None).await
    }

    /// The sequence number of the last write given to [`Sink::write`]: 1 for
    /// the first, 0 before any. Resends keep the number of their write.
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Puts a marker behind everything written so far on every connection
    /// (sending partial batches now) and returns a [`Barrier`], which tells
    /// without waiting when every write up to [`Sink::last_seq`] is
    /// answered. Costs one marker per connection; does not wait for replies.
    ///
    /// One exception: if writes answered with a redirect or a retry
    /// (`MOVED`, `ASK`, `TRYAGAIN`, `LOADING`, `CLUSTERDOWN`) wait to be sent
    /// again, they are sent first, as the next [`Sink::write`] would, which
    /// waits until every write before them is answered. Otherwise a caller
    /// with nothing more to write would never see them sent, nor a barrier
    /// pass.
    ///
    /// # Errors
    ///
    /// As [`Sink::write`].
    pub async fn barrier(&mut self) -> Result<Barrier, Error> {
        self.check_fatal()?;
        if self.shared.resend_pending.load(Ordering::Acquire) {
            self.settle().await?;
        }
        // Read before the markers go: a resend counted here was sent before
        // them, or is still waiting (then the barrier cannot pass).
        let (resends, clean) = self.shared.resend_state();
        let mut markers = Vec::with_capacity(self.pipes.len());
        for pipe in &mut self.pipes {
            markers.push(pipe.marker().await?);
        }
        Ok(Barrier {
            seq: self.seq,
            shared: self.shared.clone(),
            resends,
            clean,
            markers,
            next: 0,
            decided: None,
        })
    }

    /// Sends the partial batch of every connection now, without waiting for
    /// replies. A caller that has nothing more to write for the moment
    /// calls it so that what it wrote does not wait for a batch to fill.
    ///
    /// # Errors
    ///
    /// As [`Sink::write`].
    pub async fn send_queued(&mut self) -> Result<(), Error> {
        self.check_fatal()?;
        for pipe in &mut self.pipes {
            pipe.send().await?;
        }
        Ok(())
    }

    /// Sends everything queued and waits until every command is answered,
    /// following redirects. [`Sink::barrier`] tells the same without
    /// waiting.
    ///
    /// # Errors
    ///
    /// As [`Sink::write`].
    pub async fn flush(&mut self) -> Result<Report, Error> {
        self.settle().await?;
        Ok(self.report())
    }

    /// Keys in the target, summed over masters (`DBSIZE` of db 0 on a
    /// cluster; of every db on a standalone target, from `INFO keyspace`).
    ///
    /// # Errors
    ///
    /// A node cannot be queried.
    pub async fn key_count(&self) -> Result<u64, Error> {
        let mut total = 0;
        for addr in self.nodes() {
            let info = query(
                &addr,
                &self.config.credentials,
                &Command::new("INFO").arg("keyspace"),
            )
            .await?;
            let info = text(&info).unwrap_or_default();
            total += keyspace(&info).map(|(_, keys)| keys).sum::<u64>();
        }
        Ok(total)
    }

    /// True when `key` exists in database `db` of the target (asked on a
    /// connection of its own, so it does not wait for queued writes).
    ///
    /// # Errors
    ///
    /// The node cannot be queried.
    pub async fn key_exists(&mut self, db: u64, key: &[u8]) -> Result<bool, Error> {
        let addr = match self.kind {
            TargetKind::Cluster => match self.slots[usize::from(Slot::of(key).get())] {
                Some(i) => self.pipes[i].addr.clone(),
                None => {
                    return Err(Error::SlotMap(format!(
                        "no master serves slot {}",
                        Slot::of(key).get()
                    )));
                }
            },
            _ => self.config.addr.clone(),
        };
        if !self.queries.contains_key(&addr) {
            let conn = Conn::open(&addr, &self.config.credentials).await?;
            self.queries.insert(addr.clone(), (conn, 0));
        }
        let Some((conn, selected)) = self.queries.get_mut(&addr) else {
            return Err(Error::setup(&addr, "EXISTS", "no connection"));
        };
        if *selected != db {
            conn.query(&Command::new("SELECT").arg(db)).await?;
            *selected = db;
        }
        match conn.query(&Command::new("EXISTS").arg(key)).await? {
            Frame::Integer(n) => Ok(n > 0),
            other => Err(Error::setup(
                &addr,
                "EXISTS",
                format!("unexpected reply {other:?}"),
            )),
        }
    }

    /// Counts a key left as it was because it existed.
    pub fn record_existing_skipped(&self) {
        self.shared.report().keys_existing_skipped += 1;
    }

    fn share(&self, connections: usize) -> usize {
        (self.config.inflight_bytes / connections.max(1))
            .max(MIN_PIPE_BUDGET_BYTES)
            .max(BATCH_BYTES)
    }

    fn start_pipe(&self, conn: Conn) -> Pipe {
        Pipe::start(
            conn,
            self.shared.clone(),
            self.pipe_budget,
            self.config.credentials.io_timeout,
        )
    }

    fn check_fatal(&self) -> Result<(), Error> {
        match self.shared.take_fatal() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sends `write` where it belongs: `to` (an ASK target) or by key.
    async fn route(
        &mut self,
        seq: u64,
        write: Write,
        attempts: u32,
        ask: Option<usize>,
    ) -> Result<(), Error> {
        let select = self.kind == TargetKind::Standalone;
        if let Some(i) = ask {
            return self.pipes[i].push(seq, write, attempts, select, true).await;
        }
        match (&write.key, self.kind) {
            (None, TargetKind::Cluster) => {
                // A keyless write (FUNCTION LOAD) goes to every master; it
                // counts once.
                let n = self.pipes.len();
                for i in 0..n {
                    let mut copy = write.clone();
                    copy.last_of_key = write.last_of_key && i == 0;
                    self.pipes[i]
                        .push(seq, copy, attempts, false, false)
                        .await?;
                }
                Ok(())
            }
            (None, _) => {
                self.pipes[0]
                    .push(seq, write, attempts, select, false)
                    .await
            }
            (Some(key), TargetKind::Cluster) => {
                let slot = Slot::of(key);
                match self.slots[usize::from(slot.get())] {
                    Some(i) => self.pipes[i].push(seq, write, attempts, false, false).await,
                    None => {
                        self.shared.report().fail(Failure {
                            db: write.db,
                            key: write.key.clone(),
                            command: String::from_utf8_lossy(write.command.name()).into_owned(),
                            message: format!("no master serves slot {}", slot.get()),
                        });
                        Ok(())
                    }
                }
            }
            (Some(key), _) => {
                let i = usize::from(Slot::of(key).get()) % self.pipes.len();
                self.pipes[i]
                    .push(seq, write, attempts, select, false)
                    .await
            }
        }
    }

    /// Waits until everything sent is answered, then sends again, in their
    /// original order, the commands that were redirected or asked to retry;
    /// repeats until none is left.
    async fn settle(&mut self) -> Result<(), Error> {
        let mut round = 0u32;
        loop {
            let mut marks = Vec::with_capacity(self.pipes.len());
            for pipe in &mut self.pipes {
                marks.push(pipe.mark().await?);
            }
            for mark in marks {
                if mark.await.is_err() {
                    self.check_fatal()?;
                }
            }
            self.check_fatal()?;
            let mut resends: Vec<Resend> = self.shared.take_resends();
            if resends.is_empty() {
                return Ok(());
            }
            resends.sort_by_key(|r| r.seq);
            if resends
                .iter()
                .any(|r| matches!(r.reason, ReplyError::Moved { .. }))
            {
                self.refresh_map().await?;
            }
            if resends
                .iter()
                .any(|r| matches!(r.reason, ReplyError::Retry(_)))
            {
                // TRYAGAIN / LOADING / CLUSTERDOWN: give the cluster time.
                let wait = Duration::from_millis(50u64 << round.min(5));
                tokio::time::sleep(wait).await;
            }
            round += 1;
            for r in resends {
                let attempts = r.attempts + 1;
                {
                    let mut report = self.shared.report();
                    match r.reason {
                        ReplyError::Retry(_) => report.retries += 1,
                        _ => report.redirects += 1,
                    }
                }
                if attempts > self.config.max_attempts {
                    self.shared.report().fail(Failure {
                        db: r.write.db,
                        key: r.write.key.clone(),
                        command: String::from_utf8_lossy(r.write.command.name()).into_owned(),
                        message: format!("gave up after {attempts} attempts: {:?}", r.reason),
                    });
                    continue;
                }
                let ask = match &r.reason {
                    ReplyError::Ask { addr, .. } => Some(self.pipe_for(addr).await?),
                    _ => None,
                };
                self.route(r.seq, r.write, attempts, ask).await?;
            }
        }
    }

    /// The index of the connection to `addr`, opened if needed.
    async fn pipe_for(&mut self, addr: &str) -> Result<usize, Error> {
        if let Some(i) = self.pipes.iter().position(|p| p.addr == addr) {
            return Ok(i);
        }
        let conn = Conn::open(addr, &self.config.credentials).await?;
        self.pipes.push(self.start_pipe(conn));
        Ok(self.pipes.len() - 1)
    }

    async fn refresh_map(&mut self) -> Result<(), Error> {
        let mut last = None;
        for addr in self.nodes() {
            match Conn::open(&addr, &self.config.credentials).await {
                Ok(mut conn) => match slot_map(&mut conn).await {
                    Ok(map) => return self.apply_map(map).await,
                    Err(e) => last = Some(e),
                },
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::SlotMap("no node to ask".into())))
    }

    async fn apply_map(&mut self, map: SlotMap) -> Result<(), Error> {
        let mut index = HashMap::new();
        for (i, addr) in map.masters.iter().enumerate() {
            index.insert(i, self.pipe_for(addr).await?);
        }
        for (slot, owner) in map.owners.iter().enumerate() {
            self.slots[slot] = owner.and_then(|o| index.get(&o).copied());
        }
        Ok(())
    }
}

/// A point in the stream of writes, from [`Sink::barrier`]: passed once
/// every write given to the sink before it is answered and counted in the
/// [`Report`] (as a success or a failure), including writes redirected
/// (`MOVED`, `ASK`) or retried (`TRYAGAIN`, `LOADING`, `CLUSTERDOWN`) and
/// sent again.
///
/// The sink sends a redirected write again only after every write before it
/// is answered, so a barrier's markers may all be answered while a write
/// before them still waits to be sent again. The rule: a barrier passes
/// when all its markers are answered, no resend was waiting when it was
/// made, and no resend was queued since (the sink counts them). Otherwise
/// it is inconclusive, even when the resend was of a later write: make a
/// new barrier ([`Sink::barrier`] sends the waiting resends first, so the
/// next one can pass). A lost connection makes it inconclusive too.
///
/// ```no_run
/// # async fn run(sink: &mut ferry_sink::Sink) -> Result<(), ferry_sink::Error> {
/// let mut barrier = sink.barrier().await?;
/// // ... more writes, then, from time to time:
/// match barrier.poll(sink) {
///     Some(true) => println!("writes up to {} are answered", barrier.seq()),
///     Some(false) => barrier = sink.barrier().await?,
///     None => {} // not yet
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Barrier {
    seq: u64,
    /// The sink's shared state: a barrier of another sink never passes.
    shared: Arc<Shared>,
    /// Resends ever queued when the barrier was made.
    resends: u64,
    /// No resend was waiting to be sent when the barrier was made.
    clean: bool,
    /// The number of the barrier's marker on each connection, by index.
    markers: Vec<u64>,
    /// Markers before this index are passed.
    next: usize,
    decided: Option<bool>,
}

impl Barrier {
    /// The [`Sink::last_seq`] when the barrier was made: the writes it
    /// waits for are those numbered up to it.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether the barrier is passed, without waiting: `Some(true)` once
    /// every write up to [`Barrier::seq`] is answered; `Some(false)` when
    /// that can never be told from this barrier (a resend was queued since
    /// it was made, or a connection was lost: make a new one); `None` not
    /// yet. Once `Some`, the answer stays.
    pub fn poll(&mut self, sink: &Sink) -> Option<bool> {
        if self.decided.is_none() {
            self.decided = self.decide(sink);
        }
        self.decided
    }

    fn decide(&mut self, sink: &Sink) -> Option<bool> {
        if !self.clean || !Arc::ptr_eq(&self.shared, &sink.shared) {
            return Some(false);
        }
        while let Some(&marker) = self.markers.get(self.next) {
            // Connections are only ever added, so indices stay.
            let Some(pipe) = sink.pipes.get(self.next) else {
                return Some(false);
            };
            match pipe.passed(marker) {
                Some(true) => self.next += 1,
                Some(false) => return Some(false),
                // Decided already if a resend was queued.
                None => return (!self.no_resend_since()).then_some(false),
            }
        }
        // Read after the markers passed: a resend of a write before them was
        // queued before they passed.
        Some(self.no_resend_since())
    }

    fn no_resend_since(&self) -> bool {
        self.shared.resends_queued.load(Ordering::Acquire) == self.resends
    }
}

/// Reads a [`Sink`]'s report from anywhere: see [`Sink::report_handle`].
#[derive(Debug, Clone)]
pub struct ReportHandle(Arc<Shared>);

impl ReportHandle {
    /// What was done so far (answered commands only).
    pub fn get(&self) -> Report {
        self.0.report().clone()
    }
}

/// Who serves each slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotMap {
    /// `host:port` of each master.
    pub(crate) masters: Vec<String>,
    /// Per slot, the index of its master in `masters`.
    pub(crate) owners: Vec<Option<usize>>,
}

/// Reads the slot map from `CLUSTER SHARDS` (Redis 7.0+), falling back to
/// `CLUSTER SLOTS`.
async fn slot_map(conn: &mut Conn) -> Result<SlotMap, Error> {
    let shards = conn.request(&Command::new("CLUSTER").arg("SHARDS")).await?;
    if !shards.is_error() {
        return parse_shards(&shards);
    }
    let slots = conn.query(&Command::new("CLUSTER").arg("SLOTS")).await?;
    parse_slots(&slots)
}

fn int(frame: &Frame) -> Option<i64> {
    match frame {
        Frame::Integer(n) => Some(*n),
        other => text(other).and_then(|t| t.parse().ok()),
    }
}

/// Pairs of a RESP2 flat key/value array or a RESP3 map.
fn pairs(frame: &Frame) -> Vec<(String, &Frame)> {
    match frame {
        Frame::Map(pairs) => pairs
            .iter()
            .filter_map(|(k, v)| text(k).map(|k| (k, v)))
            .collect(),
        Frame::Array(items) => items
            .chunks_exact(2)
            .filter_map(|kv| text(&kv[0]).map(|k| (k, &kv[1])))
            .collect(),
        _ => Vec::new(),
    }
}

struct MapBuilder {
    masters: Vec<String>,
    owners: Vec<Option<usize>>,
}

impl MapBuilder {
    fn new() -> Self {
        MapBuilder {
            masters: Vec::new(),
            owners: vec![None; usize::from(SLOT_COUNT)],
        }
    }

    fn assign(&mut self, addr: String, start: i64, end: i64) -> Result<(), Error> {
        if !(0..i64::from(SLOT_COUNT)).contains(&start)
            || !(start..i64::from(SLOT_COUNT)).contains(&end)
        {
            return Err(Error::SlotMap(format!("bad slot range {start}-{end}")));
        }
        let i = match self.masters.iter().position(|a| *a == addr) {
            Some(i) => i,
            None => {
                self.masters.push(addr);
                self.masters.len() - 1
            }
        };
        for slot in start..=end {
            self.owners[slot as usize] = Some(i);
        }
        Ok(())
    }

    fn finish(self) -> Result<SlotMap, Error> {
        if self.masters.is_empty() {
            return Err(Error::SlotMap("no master serves any slot".into()));
        }
        Ok(SlotMap {
            masters: self.masters,
            owners: self.owners,
        })
    }
}

fn parse_shards(reply: &Frame) -> Result<SlotMap, Error> {
    let Frame::Array(shards) = reply else {
        return Err(Error::SlotMap(format!("CLUSTER SHARDS replied {reply:?}")));
    };
    let mut map = MapBuilder::new();
    for shard in shards {
        let fields = pairs(shard);
        let ranges: Vec<i64> = match fields.iter().find(|(k, _)| k == "slots") {
            Some((_, Frame::Array(v))) => v.iter().filter_map(int).collect(),
            _ => Vec::new(),
        };
        let master = match fields.iter().find(|(k, _)| k == "nodes") {
            Some((_, Frame::Array(nodes))) => nodes.iter().find_map(|node| {
                let f = pairs(node);
                let get = |name: &str| f.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
                let role = get("role").and_then(text);
                if role.as_deref() != Some("master") {
                    return None;
                }
                let port = get("port").and_then(int)?;
                let host = get("ip")
                    .and_then(text)
                    .filter(|h| !h.is_empty() && h != "?")
                    .or_else(|| get("endpoint").and_then(text))?;
                Some(format!("{host}:{port}"))
            }),
            _ => None,
        };
        if let Some(addr) = master {
            for range in ranges.chunks_exact(2) {
                map.assign(addr.clone(), range[0], range[1])?;
            }
        }
    }
    map.finish()
}

fn parse_slots(reply: &Frame) -> Result<SlotMap, Error> {
    let Frame::Array(ranges) = reply else {
        return Err(Error::SlotMap(format!("CLUSTER SLOTS replied {reply:?}")));
    };
    let mut map = MapBuilder::new();
    for range in ranges {
        let Frame::Array(items) = range else { continue };
        let (Some(start), Some(end), Some(Frame::Array(node))) = (
            items.first().and_then(int),
            items.get(1).and_then(int),
            items.get(2),
        ) else {
            continue;
        };
        let (Some(host), Some(port)) = (node.first().and_then(text), node.get(1).and_then(int))
        else {
            continue;
        };
        map.assign(format!("{host}:{port}"), start, end)?;
    }
    map.finish()
}
