//! A Redis Cluster of real `redis-server` nodes on free loopback ports.
//!
//! The nodes are [`RedisServer`]s started with `--cluster-enabled yes`; the
//! cluster is formed by `redis-cli --cluster create`, then awaited until every
//! node agrees on who owns each of the 16384 slots.

use crate::client::Reply;
use crate::server::{LOG_FILE_NAME, RedisServer, ServerBuilder, redis_cli};
use crate::versions::ServerKind;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Number of hash slots in a Redis Cluster.
pub const SLOT_COUNT: u16 = 16384;

/// How long a cluster may take, once its nodes answer PING, to be formed and
/// agree on its slots (and after a slot migration, to agree again).
pub const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// `cluster-node-timeout` of every node, in milliseconds.
pub const CLUSTER_NODE_TIMEOUT_MS: u64 = 5000;

/// Name of the file, in the directory of the first node started, that
/// `redis-cli --cluster create` writes its output to (quoted in errors).
const CREATE_LOG_FILE_NAME: &str = "cluster-create.log";

/// `redis-cli --cluster create` refuses fewer masters than this.
const MIN_MASTERS: usize = 3;

/// Keys asked for with one `CLUSTER GETKEYSINSLOT` and moved with one `MIGRATE`.
const MIGRATE_BATCH_KEYS: usize = 100;

/// The `timeout` argument of `MIGRATE`, in milliseconds.
const MIGRATE_TIMEOUT_MS: u64 = 10_000;

/// How often the cluster's state is polled while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Lines of each node's log that go into an error message.
const LOG_TAIL_LINES: usize = 40;

/// Commands whose second argument is not a key: [`RedisCluster::cmd`] sends
/// them to any master.
const KEYLESS_COMMANDS: &[&[u8]] = &[
    b"ACL",
    b"ASKING",
    b"AUTH",
    b"BGREWRITEAOF",
    b"BGSAVE",
    b"CLIENT",
    b"CLUSTER",
    b"COMMAND",
    b"CONFIG",
    b"DBSIZE",
    b"DEBUG",
    b"DISCARD",
    b"ECHO",
    b"EXEC",
    b"FLUSHALL",
    b"FLUSHDB",
    b"FUNCTION",
    b"HELLO",
    b"INFO",
    b"KEYS",
    b"LASTSAVE",
    b"LATENCY",
    b"MULTI",
    b"PING",
    b"PUBLISH",
    b"RANDOMKEY",
    b"READONLY",
    b"READWRITE",
    b"ROLE",
    b"SAVE",
    b"SCAN",
    b"SCRIPT",
    b"SELECT",
    b"SLOWLOG",
    b"TIME",
    b"UNWATCH",
    b"WAIT",
];

/// CRC16-XMODEM (polynomial 0x1021, initial value 0), as Redis Cluster uses it.
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &byte| {
        (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ byte)]
    })
}

/// The part of `key` that is hashed: what lies between the first `{` and the
/// first `}` after it, if that is not empty; else the whole key.
fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(len) = rest.iter().position(|&b| b == b'}')
            && len > 0
        {
            return &rest[..len];
        }
    }
    key
}

/// The hash slot of `key`, as `CLUSTER KEYSLOT` computes it: CRC16-XMODEM of
/// the key (or of its hash tag) modulo [`SLOT_COUNT`].
///
/// The hash tag is what lies between the first `{` and the first `}` after
/// it, when that is not empty: `{user1000}.following` and
/// `{user1000}.followers` share a slot, `foo{}{bar}` hashes whole and
/// `foo{{bar}}zap` hashes `{bar`.
///
/// ```
/// use ferry_testkit::key_slot;
///
/// assert_eq!(key_slot(b"foo"), 12182);
/// assert_eq!(key_slot(b"{foo}.bar"), key_slot(b"foo"));
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) % SLOT_COUNT
}

/// How to start a [`RedisCluster`]: how many masters, replicas per master,
/// which server, which further arguments. From [`RedisCluster::builder`].
///
/// ```no_run
/// use ferry_testkit::{RedisCluster, ServerKind};
///
/// let cluster = RedisCluster::builder()
///     .masters(3)
///     .replicas(1)
///     .version(ServerKind::Redis62)
///     .start()?;
/// assert_eq!(cluster.nodes().len(), 6);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    masters: usize,
    replicas: usize,
    kind: Option<ServerKind>,
    cli: Option<PathBuf>,
    args: Vec<String>,
}

impl Default for ClusterBuilder {
    fn default() -> ClusterBuilder {
        ClusterBuilder {
            masters: MIN_MASTERS,
            replicas: 0,
            kind: None,
            cli: None,
            args: Vec::new(),
        }
    }
}

impl ClusterBuilder {
    /// Number of masters, which share the slots (default 3, at least 3:
    /// `redis-cli --cluster create` refuses fewer).
    pub fn masters(mut self, masters: usize) -> ClusterBuilder {
        self.masters = masters;
        self
    }

    /// Number of replicas of each master (default 0).
    pub fn replicas(mut self, per_master: usize) -> ClusterBuilder {
        self.replicas = per_master;
        self
    }

    /// Runs the server of `kind` that `scripts/install-servers.sh` installed
    /// on every node, instead of the `redis-server` on `PATH`.
    pub fn version(mut self, kind: ServerKind) -> ClusterBuilder {
        self.kind = Some(kind);
        self
    }

    /// The `redis-cli` that forms the cluster, instead of [`redis_cli`]
    /// (the Debian 7.0 one also forms clusters of Redis 6.2, 7.4 and Valkey).
    pub fn cli(mut self, binary: &Path) -> ClusterBuilder {
        self.cli = Some(binary.to_path_buf());
        self
    }

    /// One more argument for every node, after the cluster's own (later arguments win).
    pub fn arg(mut self, arg: &str) -> ClusterBuilder {
        self.args.push(arg.to_owned());
        self
    }

    /// Starts `masters × (1 + replicas)` nodes, forms the cluster with
    /// `redis-cli --cluster create`, and returns once every node reports
    /// `cluster_state:ok`, every node agrees on the owner of all 16384 slots
    /// and every replica's link to its master is up.
    ///
    /// Each node is a [`RedisServer`] (its defaults, `127.0.0.1` only) with
    /// `--cluster-enabled yes --cluster-config-file nodes.conf
    /// --cluster-node-timeout 5000 --repl-diskless-sync-delay 0`, on a port
    /// whose cluster bus port (port + 10000) is free too.
    ///
    /// Whatever fails, every process started so far is stopped.
    ///
    /// # Errors
    /// `InvalidInput` for fewer than 3 masters; when a binary is missing (the
    /// message says how to install it), a node does not start (the message
    /// carries its log), `redis-cli` fails, or the cluster is not ready within
    /// [`CLUSTER_READY_TIMEOUT`] (the message carries the `redis-cli` output
    /// and every node's log).
    pub fn start(&self) -> io::Result<RedisCluster> {
        if self.masters < MIN_MASTERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a cluster needs at least {MIN_MASTERS} masters (redis-cli --cluster create \
                     refuses fewer), not {}",
                    self.masters
                ),
            ));
        }
        let total = self
            .replicas
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.masters));
        let Some(total) = total else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many cluster nodes",
            ));
        };
        let cli = match &self.cli {
            Some(cli) => cli.clone(),
            None => redis_cli()?,
        };
        let node_timeout = CLUSTER_NODE_TIMEOUT_MS.to_string();
        let mut builder = RedisServer::builder()
            .cluster_bus_port()
            .arg("--cluster-enabled")
            .arg("yes")
            .arg("--cluster-config-file")
            .arg("nodes.conf")
            .arg("--cluster-node-timeout")
            .arg(&node_timeout)
            .arg("--repl-diskless-sync-delay")
            .arg("0");
        if let Some(kind) = self.kind {
            builder = builder.version(kind);
        }
        for arg in &self.args {
            builder = builder.arg(arg);
        }
        start_nodes(&builder, total).and_then(|nodes| self.form(&cli, nodes))
    }

    /// Forms the cluster of started `nodes`; dropping them on an error stops them.
    fn form(&self, cli: &Path, nodes: Vec<RedisServer>) -> io::Result<RedisCluster> {
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        let create_log = nodes
            .first()
            .map(|n| n.dir().join(CREATE_LOG_FILE_NAME))
            .unwrap_or_default();
        create(cli, &nodes, self.replicas, &create_log, deadline)?;
        let expect = Expect {
            masters: Masters::Owners(self.masters),
            replicas_per_master: self.replicas,
            owner: None,
        };
        let state = match wait_consistent(&nodes, &expect, deadline) {
            Ok(state) => state,
            Err(reason) => {
                let cli_output = fs::read_to_string(&create_log).unwrap_or_default();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "cluster of {} nodes not ready within {CLUSTER_READY_TIMEOUT:?}: {reason}\n\
                         --- redis-cli --cluster create output ---\n{cli_output}{}",
                        nodes.len(),
                        describe_nodes(&nodes)
                    ),
                ));
            }
        };
        let nodes = masters_first(nodes, &state);
        let mut ids = Vec::with_capacity(nodes.len());
        for node in &nodes {
            let reply = node.cmd(&["CLUSTER", "MYID"])?.into_result()?;
            let id = reply.as_str().map(str::to_owned).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: CLUSTER MYID answered {reply:?}", node.addr()),
                )
            })?;
            ids.push(id);
        }
        let cluster = RedisCluster {
            nodes,
            ids,
            masters: self.masters,
            replicas_per_master: self.replicas,
            slots: RwLock::new(Vec::new()),
        };
        cluster.cache_slots(&state.ranges)?;
        Ok(cluster)
    }
}

/// Starts `count` nodes one after the other; on an error, the ones started are dropped (stopped).
fn start_nodes(builder: &ServerBuilder, count: usize) -> io::Result<Vec<RedisServer>> {
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        let node = builder.start().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cluster node {} of {count} did not start: {e}", i + 1),
            )
        })?;
        nodes.push(node);
    }
    Ok(nodes)
}

/// Runs `redis-cli --cluster create`, its output going to `log`, killed at `deadline`.
fn create(
    cli: &Path,
    nodes: &[RedisServer],
    replicas: usize,
    log: &Path,
    deadline: Instant,
) -> io::Result<()> {
    let out = File::create(log)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", log.display())))?;
    let err = out.try_clone()?;
    let mut command = Command::new(cli);
    command.args(["--cluster", "create"]);
    command.args(nodes.iter().map(RedisServer::addr));
    command.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot run {}: {e}; install it with `apt-get install redis-tools` \
                     (or set FERRY_REDIS_CLI)",
                    cli.display()
                ),
            )
        })?;
    let failure = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => break format!("exited with {status}"),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break format!("still running after {CLUSTER_READY_TIMEOUT:?}, killed");
            }
            Ok(None) => std::thread::sleep(POLL_INTERVAL),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                break format!("cannot wait for it: {e}");
            }
        }
    };
    let output = fs::read_to_string(log).unwrap_or_else(|e| format!("(no output: {e})"));
    Err(io::Error::other(format!(
        "{} --cluster create {failure}\n--- redis-cli output ({}) ---\n{output}{}",
        cli.display(),
        log.display(),
        describe_nodes(nodes)
    )))
}

/// A Redis Cluster of real `redis-server` processes on `127.0.0.1`, each in
/// its own temp dir.
///
/// Dropping it stops every node (see [`RedisServer`]).
///
/// ```no_run
/// use ferry_testkit::{RedisCluster, key_slot};
///
/// let cluster = RedisCluster::start(3)?;
/// cluster.cmd(&["SET", "{user1}.name", "Ada"])?;
/// let owner = cluster.slot_owner(key_slot(b"{user1}.name"));
/// assert_eq!(owner.cmd(&["GET", "{user1}.name"])?.as_str(), Some("Ada"));
///
/// // Move the slot (with its keys) to another master.
/// let [first, second, ..] = cluster.masters() else { unreachable!() };
/// let to = if owner.port() == first.port() { second } else { first };
/// cluster.migrate_slot(key_slot(b"user1"), to)?;
/// assert_eq!(cluster.slot_owner(key_slot(b"user1")).port(), to.port());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    /// Masters (by their first slot), then replicas (by master, then port).
    nodes: Vec<RedisServer>,
    /// `CLUSTER MYID` of each node.
    ids: Vec<String>,
    masters: usize,
    replicas_per_master: usize,
    /// Index in `nodes` of the owner of each slot.
    slots: RwLock<Vec<usize>>,
}

impl RedisCluster {
    /// A [`ClusterBuilder`] to choose the number of masters and replicas, the
    /// server and more arguments.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// Starts a cluster of `masters` masters without replicas, running the
    /// `redis-server` on `PATH`. The same as `RedisCluster::builder().masters(masters).start()`.
    ///
    /// # Errors
    /// As [`ClusterBuilder::start`].
    pub fn start(masters: usize) -> io::Result<RedisCluster> {
        RedisCluster::builder().masters(masters).start()
    }

    /// Every node: the masters (by their first slot), then the replicas (by master, then port).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes that were masters when the cluster started, by their first slot.
    ///
    /// A master stays here after losing all its slots, though Redis then
    /// makes it a replica of the new owner (`cluster-allow-replica-migration`).
    pub fn masters(&self) -> &[RedisServer] {
        &self.nodes[..self.masters]
    }

    /// The nodes that were replicas when the cluster started, by master, then port.
    pub fn replicas(&self) -> &[RedisServer] {
        &self.nodes[self.masters..]
    }

    /// A master's address, `127.0.0.1:PORT`: where a cluster client can start.
    pub fn addr(&self) -> String {
        self.any_master().addr()
    }

    /// The node's `CLUSTER MYID`; `None` for a server not in this cluster.
    pub fn node_id(&self, node: &RedisServer) -> Option<&str> {
        self.index_of(node).map(|i| self.ids[i].as_str())
    }

    /// The master that owns `slot`, as of the cluster's start or the last
    /// completed migration (during [`RedisCluster::begin_slot_migration`], still the source).
    ///
    /// # Panics
    /// When `slot` is not below [`SLOT_COUNT`].
    pub fn slot_owner(&self, slot: u16) -> &RedisServer {
        assert!(slot < SLOT_COUNT, "slot {slot} out of 0..{SLOT_COUNT}");
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        &self.nodes[slots[usize::from(slot)]]
    }

    /// Runs one command on the master owning the slot of its first key (see
    /// below), on that node's cached connection; commands without keys go to
    /// any master. A server error, including a `MOVED` or `ASK` redirect, is
    /// `Ok(Reply::Error)`: redirects are not followed.
    ///
    /// The first key is `args[1]`, except: none for the commands of the
    /// server and connection (`PING`, `INFO`, `CLUSTER`, `CONFIG`, `DBSIZE`,
    /// `FLUSHALL`, `SCAN`, `KEYS`, `WAIT`, …); after `numkeys` for `EVAL`,
    /// `EVALSHA` and `FCALL` (none when 0); `args[2]` for `OBJECT`, `MEMORY`
    /// and `XINFO`; after `STREAMS` for `XREAD` and `XREADGROUP`.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> io::Result<Reply> {
        let node = match first_key(args) {
            Some(key) => self.slot_owner(key_slot(key)),
            None => self.any_master(),
        };
        node.cmd(args)
    }

    /// The sum of `DBSIZE` over the masters.
    ///
    /// # Errors
    /// On I/O errors or a reply that is not a count.
    pub fn dbsize_total(&self) -> io::Result<u64> {
        let mut total = 0u64;
        for master in self.masters() {
            let reply = master.cmd(&["DBSIZE"])?.into_result()?;
            let size = reply.as_int().and_then(|n| u64::try_from(n).ok());
            let Some(size) = size else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: DBSIZE answered {reply:?}", master.addr()),
                ));
            };
            total += size;
        }
        Ok(total)
    }

    /// `FLUSHALL` on every master (replicas follow through replication).
    ///
    /// # Errors
    /// On I/O errors or a server error.
    pub fn flushall(&self) -> io::Result<()> {
        for master in self.masters() {
            master
                .cmd(&["FLUSHALL"])?
                .into_result()
                .map_err(|e| io::Error::other(format!("{}: FLUSHALL: {e}", master.addr())))?;
        }
        Ok(())
    }

    /// Moves `slot`, with its keys, from its owner to the master `to`: `CLUSTER
    /// SETSLOT IMPORTING` on `to`, `MIGRATING` on the owner, `GETKEYSINSLOT`
    /// and `MIGRATE` until the slot is empty there, then `SETSLOT NODE` on
    /// `to`, the owner and the other masters. Returns once every node agrees
    /// that `to` owns the slot, with the number of keys moved. Moving a slot
    /// to its owner does nothing.
    ///
    /// # Errors
    /// `InvalidInput` when `slot` is out of range or `to` is not a master of
    /// this cluster; on I/O or server errors; `TimedOut` when the nodes do not
    /// agree within [`CLUSTER_READY_TIMEOUT`].
    pub fn migrate_slot(&self, slot: u16, to: &RedisServer) -> io::Result<usize> {
        let (from, to) = self.migration_ends(slot, to)?;
        if from == to {
            return Ok(0);
        }
        let moved = self.begin_slot_migration(slot, &self.nodes[to], usize::MAX)?;
        Ok(moved + self.finish_slot_migration(slot, &self.nodes[to])?)
    }

    /// Starts moving `slot` from its owner to the master `to` and leaves it
    /// half-way: `CLUSTER SETSLOT IMPORTING` on `to`, `MIGRATING` on the owner,
    /// then at most `max_keys` of its keys moved with `MIGRATE`. Returns the
    /// number of keys moved.
    ///
    /// Until [`RedisCluster::finish_slot_migration`], the owner answers `ASK`
    /// for the keys moved (and for new ones), `to` serves them after
    /// `ASKING`, and [`RedisCluster::slot_owner`] is still the owner.
    ///
    /// # Errors
    /// `InvalidInput` when `slot` is out of range, `to` is not a master of
    /// this cluster or already owns the slot; on I/O or server errors.
    pub fn begin_slot_migration(
        &self,
        slot: u16,
        to: &RedisServer,
        max_keys: usize,
    ) -> io::Result<usize> {
        let (from, to) = self.migration_ends(slot, to)?;
        if from == to {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "slot {slot} already belongs to {}: nothing to migrate",
                    self.nodes[to].addr()
                ),
            ));
        }
        let slot_text = slot.to_string();
        self.cluster_ok(
            to,
            &[
                "CLUSTER",
                "SETSLOT",
                &slot_text,
                "IMPORTING",
                &self.ids[from],
            ],
        )?;
        self.cluster_ok(
            from,
            &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &self.ids[to]],
        )?;
        self.move_keys(slot, from, to, max_keys)
    }

    /// Completes a migration of `slot` to `to` started with
    /// [`RedisCluster::begin_slot_migration`]: moves the keys left, then
    /// `CLUSTER SETSLOT NODE` on `to`, the owner and the other masters, and
    /// waits until every node agrees that `to` owns the slot. Returns the
    /// number of keys moved.
    ///
    /// # Errors
    /// As [`RedisCluster::migrate_slot`].
    pub fn finish_slot_migration(&self, slot: u16, to: &RedisServer) -> io::Result<usize> {
        let (from, to) = self.migration_ends(slot, to)?;
        if from == to {
            return Ok(0);
        }
        let moved = self.move_keys(slot, from, to, usize::MAX)?;
        let slot_text = slot.to_string();
        let others = (0..self.masters).filter(|&i| i != from && i != to);
        for node in [to, from].into_iter().chain(others) {
            self.cluster_ok(
                node,
                &["CLUSTER", "SETSLOT", &slot_text, "NODE", &self.ids[to]],
            )?;
        }
        let expect = Expect {
            masters: self.master_ports(),
            replicas_per_master: self.replicas_per_master,
            owner: Some((slot, self.nodes[to].port())),
        };
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        let state = wait_consistent(&self.nodes, &expect, deadline).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "slot {slot} moved to {}, but the nodes do not agree within \
                     {CLUSTER_READY_TIMEOUT:?}: {reason}{}",
                    self.nodes[to].addr(),
                    describe_nodes(&self.nodes)
                ),
            )
        })?;
        self.cache_slots(&state.ranges)?;
        Ok(moved)
    }

    /// Waits until every node reports `cluster_state:ok`, they agree on the
    /// owner of every slot and every replica's link is up, then takes that
    /// slot map for [`RedisCluster::slot_owner`] and [`RedisCluster::cmd`]:
    /// after changing slots by hand, for instance.
    ///
    /// # Errors
    /// `TimedOut` (with every node's log) when that does not happen within
    /// [`CLUSTER_READY_TIMEOUT`].
    pub fn wait_consistent(&self) -> io::Result<()> {
        let expect = Expect {
            masters: self.master_ports(),
            replicas_per_master: self.replicas_per_master,
            owner: None,
        };
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        let state = wait_consistent(&self.nodes, &expect, deadline).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "cluster not consistent within {CLUSTER_READY_TIMEOUT:?}: {reason}{}",
                    describe_nodes(&self.nodes)
                ),
            )
        })?;
        self.cache_slots(&state.ranges)
    }

    fn master_ports(&self) -> Masters {
        Masters::Ports(self.masters().iter().map(RedisServer::port).collect())
    }

    fn any_master(&self) -> &RedisServer {
        &self.nodes[0]
    }

    fn index_of(&self, node: &RedisServer) -> Option<usize> {
        self.nodes.iter().position(|n| n.port() == node.port())
    }

    /// Indices of the owner of `slot` and of the master `to`.
    fn migration_ends(&self, slot: u16, to: &RedisServer) -> io::Result<(usize, usize)> {
        if slot >= SLOT_COUNT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("slot {slot} out of 0..{SLOT_COUNT}"),
            ));
        }
        let Some(to) = self.index_of(to).filter(|&i| i < self.masters) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a master of this cluster", to.addr()),
            ));
        };
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        Ok((slots[usize::from(slot)], to))
    }

    /// Runs a command on node `i` that must not fail; the error names the node and the command.
    fn cluster_ok(&self, i: usize, args: &[&str]) -> io::Result<Reply> {
        let node = &self.nodes[i];
        node.cmd(args)?
            .into_result()
            .map_err(|e| io::Error::other(format!("{}: {}: {e}", node.addr(), args.join(" "))))
    }

    /// Moves at most `max_keys` keys of `slot` from node `from` to node `to` with `MIGRATE`.
    fn move_keys(&self, slot: u16, from: usize, to: usize, max_keys: usize) -> io::Result<usize> {
        let source = &self.nodes[from];
        let port = self.nodes[to].port().to_string();
        let timeout = MIGRATE_TIMEOUT_MS.to_string();
        let slot_text = slot.to_string();
        let mut moved = 0;
        while moved < max_keys {
            let batch = (max_keys - moved).min(MIGRATE_BATCH_KEYS).to_string();
            let reply = self.cluster_ok(from, &["CLUSTER", "GETKEYSINSLOT", &slot_text, &batch])?;
            let keys: Vec<Vec<u8>> = reply
                .into_array()
                .unwrap_or_default()
                .into_iter()
                .filter_map(Reply::into_bytes)
                .collect();
            if keys.is_empty() {
                break;
            }
            let mut args: Vec<&[u8]> = vec![
                b"MIGRATE",
                b"127.0.0.1",
                port.as_bytes(),
                b"",
                b"0",
                timeout.as_bytes(),
                b"KEYS",
            ];
            args.extend(keys.iter().map(Vec::as_slice));
            source.cmd(&args)?.into_result().map_err(|e| {
                io::Error::other(format!(
                    "{}: MIGRATE of {} keys of slot {slot} to port {port}: {e}",
                    source.addr(),
                    keys.len()
                ))
            })?;
            moved += keys.len();
        }
        Ok(moved)
    }

    /// Takes `ranges` (agreed by every node) as the slot map.
    fn cache_slots(&self, ranges: &[SlotRange]) -> io::Result<()> {
        let mut map = vec![usize::MAX; usize::from(SLOT_COUNT)];
        for range in ranges {
            let Some(owner) = self.nodes.iter().position(|n| n.port() == range.master) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "slots {}-{} owned by port {}, not a node of this cluster",
                        range.start, range.end, range.master
                    ),
                ));
            };
            for slot in range.start..=range.end {
                map[usize::from(slot)] = owner;
            }
        }
        if let Some(slot) = map.iter().position(|&i| i == usize::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("slot {slot} has no owner"),
            ));
        }
        *self.slots.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(())
    }
}

/// The first key of a command, by the rules of [`RedisCluster::cmd`].
fn first_key<A: AsRef<[u8]>>(args: &[A]) -> Option<&[u8]> {
    let name = args.first()?.as_ref().to_ascii_uppercase();
    let arg = |i: usize| args.get(i).map(AsRef::as_ref);
    match name.as_slice() {
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
            let numkeys: usize = std::str::from_utf8(arg(2)?).ok()?.parse().ok()?;
            if numkeys == 0 { None } else { arg(3) }
        }
        b"OBJECT" | b"MEMORY" | b"XINFO" => arg(2),
        b"XREAD" | b"XREADGROUP" => {
            let streams = args
                .iter()
                .position(|a| a.as_ref().eq_ignore_ascii_case(b"STREAMS"))?;
            arg(streams + 1)
        }
        name if KEYLESS_COMMANDS.contains(&name) => None,
        _ => arg(1),
    }
}

/// Which nodes [`check_consistent`] takes for masters.
enum Masters {
    /// While forming: those owning slots, which must be this many.
    Owners(usize),
    /// Once formed: the nodes on these ports, whether they own slots or not.
    Ports(Vec<u16>),
}

/// Slots `start..=end` owned by the master listening on port `master`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SlotRange {
    start: u16,
    end: u16,
    master: u16,
}

/// The agreed state of a cluster.
#[derive(Debug)]
struct State {
    /// Sorted, covering every slot.
    ranges: Vec<SlotRange>,
    /// Port of each replica's master.
    replica_of: BTreeMap<u16, u16>,
}

/// What [`check_consistent`] requires besides agreement.
struct Expect {
    masters: Masters,
    replicas_per_master: usize,
    /// `(slot, port)`: the master on `port` must own `slot`.
    owner: Option<(u16, u16)>,
}

/// Polls [`check_consistent`] until it holds; `Err` with the last reason at `deadline`.
fn wait_consistent(
    nodes: &[RedisServer],
    expect: &Expect,
    deadline: Instant,
) -> Result<State, String> {
    loop {
        match check_consistent(nodes, expect) {
            Ok(state) => return Ok(state),
            Err(reason) if Instant::now() > deadline => return Err(reason),
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// `Ok` when every node reports `cluster_state:ok` with every slot assigned
/// and every node known, all nodes see the same slot map covering every slot
/// with the expected number of masters (and owner of a slot, if any), and
/// every other node is a replica whose link to its master is up, each master
/// having the expected number of them. `Err` says what is not so yet.
fn check_consistent(nodes: &[RedisServer], expect: &Expect) -> Result<State, String> {
    let mut agreed: Option<(Vec<SlotRange>, String)> = None;
    for node in nodes {
        let addr = node.addr();
        let info = node
            .cmd(&["CLUSTER", "INFO"])
            .map_err(|e| format!("{addr}: CLUSTER INFO: {e}"))?;
        let text = info
            .as_str()
            .ok_or_else(|| format!("{addr}: CLUSTER INFO answered {info:?}"))?;
        let field = |name| info_field(text, name).unwrap_or("?");
        if field("cluster_state") != "ok"
            || field("cluster_slots_assigned") != SLOT_COUNT.to_string()
            || field("cluster_known_nodes") != nodes.len().to_string()
        {
            return Err(format!(
                "{addr} reports cluster_state:{} cluster_slots_assigned:{} cluster_known_nodes:{} \
                 (of {} nodes)",
                field("cluster_state"),
                field("cluster_slots_assigned"),
                field("cluster_known_nodes"),
                nodes.len()
            ));
        }
        let reply = node
            .cmd(&["CLUSTER", "SLOTS"])
            .map_err(|e| format!("{addr}: CLUSTER SLOTS: {e}"))?;
        let ranges = parse_slots(&reply).map_err(|e| format!("{addr}: CLUSTER SLOTS: {e}"))?;
        match &agreed {
            None => agreed = Some((ranges, addr)),
            Some((first, first_addr)) if *first != ranges => {
                return Err(format!(
                    "{addr} sees slots {ranges:?}, {first_addr} sees {first:?}"
                ));
            }
            Some(_) => {}
        }
    }
    let Some((ranges, _)) = agreed else {
        return Err("no nodes".to_owned());
    };
    if let Some((slot, port)) = expect.owner {
        let owner = ranges.iter().find(|r| (r.start..=r.end).contains(&slot));
        if owner.map(|r| r.master) != Some(port) {
            return Err(format!(
                "slot {slot} not yet owned by port {port}: {owner:?}"
            ));
        }
    }
    let mut owners: Vec<u16> = ranges.iter().map(|r| r.master).collect();
    owners.sort_unstable();
    owners.dedup();
    let masters = match &expect.masters {
        Masters::Owners(count) if owners.len() != *count => {
            return Err(format!(
                "{} masters own slots, not {count}: {ranges:?}",
                owners.len()
            ));
        }
        Masters::Owners(_) => owners,
        Masters::Ports(ports) => {
            if let Some(stranger) = owners.iter().find(|p| !ports.contains(p)) {
                return Err(format!(
                    "port {stranger}, not a master, owns slots: {ranges:?}"
                ));
            }
            ports.clone()
        }
    };
    let mut replica_of = BTreeMap::new();
    for node in nodes.iter().filter(|n| !masters.contains(&n.port())) {
        let addr = node.addr();
        let info = node
            .cmd(&["INFO", "replication"])
            .map_err(|e| format!("{addr}: INFO replication: {e}"))?;
        let text = info.as_str().unwrap_or_default();
        let role = info_field(text, "role").unwrap_or("?");
        let link = info_field(text, "master_link_status").unwrap_or("?");
        let master = info_field(text, "master_port").and_then(|p| p.parse::<u16>().ok());
        match master {
            Some(master) if role == "slave" && link == "up" && masters.contains(&master) => {
                replica_of.insert(node.port(), master);
            }
            _ => {
                return Err(format!(
                    "{addr} is not yet a connected replica of a master: role:{role} \
                     master_link_status:{link} master_port:{master:?}"
                ));
            }
        }
    }
    for master in &masters {
        let count = replica_of.values().filter(|&m| m == master).count();
        if count != expect.replicas_per_master {
            return Err(format!(
                "master on port {master} has {count} connected replicas, not {}",
                expect.replicas_per_master
            ));
        }
    }
    Ok(State { ranges, replica_of })
}

/// Parses a `CLUSTER SLOTS` reply into ranges sorted by start, checking that
/// they cover every slot exactly once.
fn parse_slots(reply: &Reply) -> Result<Vec<SlotRange>, String> {
    let items = reply
        .as_array()
        .ok_or_else(|| format!("not an array: {reply:?}"))?;
    let mut ranges = Vec::with_capacity(items.len());
    for item in items {
        let parts = item
            .as_array()
            .ok_or_else(|| format!("range not an array: {item:?}"))?;
        let slot = |i: usize| {
            parts
                .get(i)
                .and_then(Reply::as_int)
                .and_then(|n| u16::try_from(n).ok())
                .filter(|&n| n < SLOT_COUNT)
        };
        let master = parts
            .get(2)
            .and_then(Reply::as_array)
            .and_then(|m| m.get(1))
            .and_then(Reply::as_int)
            .and_then(|p| u16::try_from(p).ok());
        match (slot(0), slot(1), master) {
            (Some(start), Some(end), Some(master)) if start <= end => {
                ranges.push(SlotRange { start, end, master });
            }
            _ => return Err(format!("malformed range: {item:?}")),
        }
    }
    ranges.sort_by_key(|r| r.start);
    let mut next = 0u32;
    for range in &ranges {
        if u32::from(range.start) != next {
            return Err(format!(
                "slot {next} not covered (next range starts at {})",
                range.start
            ));
        }
        next = u32::from(range.end) + 1;
    }
    if next != u32::from(SLOT_COUNT) {
        return Err(format!("slots from {next} not covered"));
    }
    Ok(ranges)
}

/// The value of `name:` in an `INFO` or `CLUSTER INFO` text.
fn info_field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Masters by their first slot, then replicas by master, then port.
fn masters_first(nodes: Vec<RedisServer>, state: &State) -> Vec<RedisServer> {
    let mut master_rank: BTreeMap<u16, usize> = BTreeMap::new();
    for range in &state.ranges {
        let next = master_rank.len();
        master_rank.entry(range.master).or_insert(next);
    }
    let mut keyed: Vec<((usize, usize, u16), RedisServer)> = nodes
        .into_iter()
        .map(|node| {
            let port = node.port();
            let key = match master_rank.get(&port) {
                Some(&rank) => (0, rank, port),
                None => {
                    let master = state.replica_of.get(&port);
                    let rank = master.and_then(|m| master_rank.get(m)).copied();
                    (1, rank.unwrap_or(usize::MAX), port)
                }
            };
            (key, node)
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    keyed.into_iter().map(|(_, node)| node).collect()
}

/// Each node's address, pid and the end of its log, for error messages.
fn describe_nodes(nodes: &[RedisServer]) -> String {
    let mut out = String::new();
    for node in nodes {
        let log = node.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        out.push_str(&format!(
            "\n--- node {} (pid {}), last {} lines of {} ---\n{}",
            node.addr(),
            node.pid(),
            tail.len(),
            node.dir().join(LOG_FILE_NAME).display(),
            tail.join("\n")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_slot_matches_known_values() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % SLOT_COUNT);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{}"), crc16(b"{}") % SLOT_COUNT);
        assert_eq!(key_slot(b"no}close{"), crc16(b"no}close{") % SLOT_COUNT);
    }

    #[test]
    fn hash_tag_is_between_the_first_open_and_the_next_close() {
        assert_eq!(hash_tag(b"a{b}c"), b"b");
        assert_eq!(hash_tag(b"a{}c{d}"), b"a{}c{d}");
        assert_eq!(hash_tag(b"{{x}}"), b"{x");
        assert_eq!(hash_tag(b"a{bc"), b"a{bc");
        assert_eq!(hash_tag(b"a}b{c}"), b"c");
    }

    #[test]
    fn first_key_skips_keyless_commands_and_finds_script_and_stream_keys() {
        let key = |args: &[&str]| first_key(args).map(<[u8]>::to_vec);
        assert_eq!(key(&["SET", "k", "v"]), Some(b"k".to_vec()));
        assert_eq!(key(&["get", "k"]), Some(b"k".to_vec()));
        assert_eq!(key(&["PING"]), None);
        assert_eq!(key(&["CLUSTER", "INFO"]), None);
        assert_eq!(key(&["config", "get", "maxmemory"]), None);
        assert_eq!(key(&["EVAL", "return 1", "0"]), None);
        assert_eq!(
            key(&["EVAL", "return 1", "2", "a", "b"]),
            Some(b"a".to_vec())
        );
        assert_eq!(key(&["OBJECT", "ENCODING", "k"]), Some(b"k".to_vec()));
        assert_eq!(
            key(&["XREAD", "COUNT", "2", "streams", "s", "0"]),
            Some(b"s".to_vec())
        );
        assert_eq!(key(&[]), None);
    }

    fn range(start: i64, end: i64, port: i64) -> Reply {
        let node = Reply::Array(Some(vec![
            Reply::Bulk(Some(b"127.0.0.1".to_vec())),
            Reply::Int(port),
            Reply::Bulk(Some(b"id".to_vec())),
        ]));
        Reply::Array(Some(vec![Reply::Int(start), Reply::Int(end), node]))
    }

    #[test]
    fn parse_slots_sorts_ranges_and_requires_full_coverage() {
        let reply = Reply::Array(Some(vec![range(8000, 16383, 7001), range(0, 7999, 7000)]));
        let Ok(ranges) = parse_slots(&reply) else {
            panic!("full coverage parses");
        };
        assert_eq!(
            ranges,
            [
                SlotRange {
                    start: 0,
                    end: 7999,
                    master: 7000
                },
                SlotRange {
                    start: 8000,
                    end: 16383,
                    master: 7001
                },
            ]
        );
        let gap = Reply::Array(Some(vec![range(0, 10, 7000), range(12, 16383, 7001)]));
        assert!(parse_slots(&gap).is_err());
        let short = Reply::Array(Some(vec![range(0, 16000, 7000)]));
        assert!(parse_slots(&short).is_err());
        assert!(parse_slots(&Reply::Array(None)).is_err());
        assert!(parse_slots(&Reply::Int(1)).is_err());
    }

    #[test]
    fn info_field_reads_crlf_lines() {
        let text = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\n";
        assert_eq!(info_field(text, "cluster_state"), Some("ok"));
        assert_eq!(info_field(text, "cluster_slots_assigned"), Some("16384"));
        assert_eq!(info_field(text, "cluster_slots"), None);
    }
}
