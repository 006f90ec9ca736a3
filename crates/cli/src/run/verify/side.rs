//! One side of the comparison, the source or the target: a standalone
//! server or a Redis Cluster, with the slot map that routes a key to its
//! master, connections per worker, and redirects.
//!
//! Requests go in [`Group`]s: the commands of one key, in one database,
//! answered in order by the key's node. [`Side::run`] sends each node its
//! groups in one pipeline (all nodes first, then all replies), and sends a
//! group again where it was redirected: `MOVED` to the node it names (and
//! the slot map is read again), `ASK` to the node it names behind
//! `ASKING`; `TRYAGAIN`, `LOADING` and `CLUSTERDOWN` wait a moment.

use super::conn::{Conn, Limiter};
use crate::error::CliError;
use bytes::{Bytes, BytesMut};
use ferry_resp::{Command, Decoder, Frame, RawCommand};
use ferry_sink::{Credentials, SLOT_COUNT, Slot};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Times one group is sent again after redirects before giving up.
const MAX_ATTEMPTS: u32 = 16;
/// First wait after `TRYAGAIN`, `LOADING` or `CLUSTERDOWN` (it grows).
const BACKOFF: Duration = Duration::from_millis(50);

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Source,
    Target,
}

impl Role {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Target => "target",
        }
    }
}

/// Which master serves each slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotMap {
    /// Masters' `host:port`, in the order of their first slot.
    pub(crate) nodes: Vec<Arc<str>>,
    /// Index in `nodes` of each slot's master.
    owner: Vec<u16>,
}

impl SlotMap {
    /// The map in a `CLUSTER SLOTS` reply; `host` stands for a node whose
    /// address is empty (a node that does not know its own address).
    ///
    /// # Errors
    /// The reply has an unexpected shape, or some slot has no master.
    pub(crate) fn from_cluster_slots(reply: &Frame, host: &str) -> Result<SlotMap, String> {
        let ranges = reply
            .as_elements()
            .ok_or_else(|| format!("CLUSTER SLOTS: unexpected {}", reply.kind_name()))?;
        let mut nodes: Vec<Arc<str>> = Vec::new();
        let mut owner = vec![u16::MAX; usize::from(SLOT_COUNT)];
        for range in ranges {
            let parts = range.as_elements().unwrap_or_default();
            let (Some(start), Some(end), Some(master)) = (
                parts.first().and_then(Frame::as_integer),
                parts.get(1).and_then(Frame::as_integer),
                parts.get(2).and_then(Frame::as_elements),
            ) else {
                return Err("CLUSTER SLOTS: a slot range of an unexpected shape".into());
            };
            let ip = master
                .first()
                .and_then(Frame::as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let Some(port) = master.get(1).and_then(Frame::as_integer) else {
                return Err("CLUSTER SLOTS: a master without a port".into());
            };
            let ip = if ip.is_empty() || ip == "?" {
                host.to_owned()
            } else {
                ip
            };
            let addr = if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            };
            let index = match nodes.iter().position(|n| **n == *addr) {
                Some(i) => i,
                None => {
                    nodes.push(addr.into());
                    nodes.len() - 1
                }
            };
            let index = u16::try_from(index).map_err(|_| "CLUSTER SLOTS: too many masters")?;
            let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
                return Err("CLUSTER SLOTS: a negative slot".into());
            };
            if start > end || end >= owner.len() {
                return Err(format!("CLUSTER SLOTS: slot range {start}-{end}"));
            }
            owner[start..=end].fill(index);
        }
        if let Some(slot) = owner.iter().position(|&o| o == u16::MAX) {
            return Err(format!(
                "slot {slot} is served by no master (the cluster is not healthy)"
            ));
        }
        Ok(SlotMap { nodes, owner })
    }

    /// The master of `key`'s slot.
    pub(crate) fn node_of(&self, key: &[u8]) -> Option<&Arc<str>> {
        let slot = usize::from(Slot::of(key).get());
        self.owner
            .get(slot)
            .and_then(|&i| self.nodes.get(usize::from(i)))
    }
}

/// How a side is laid out.
#[derive(Debug)]
enum Layout {
    Standalone,
    Cluster(RwLock<Arc<SlotMap>>),
}

/// A side: where it is, how to log in, how it is laid out.
#[derive(Debug)]
pub(crate) struct Side {
    pub(crate) role: Role,
    /// The address given on the command line.
    pub(crate) addr: Arc<str>,
    host: String,
    creds: Credentials,
    layout: Layout,
    rate: Option<u64>,
    limiters: Mutex<HashMap<String, Arc<Limiter>>>,
    /// `Redis 7.0.15` or `Valkey 9.1.2`, when the server says.
    pub(crate) version: String,
    /// Redirects followed.
    pub(crate) redirects: AtomicU64,
}

/// One key's commands.
#[derive(Debug)]
pub(crate) struct Group {
    /// The database (standalone only; a cluster has database 0).
    pub(crate) db: u64,
    /// The key, for routing (and messages).
    pub(crate) key: Bytes,
    /// The commands, encoded.
    wire: Bytes,
    /// How many commands `wire` holds.
    count: usize,
    /// The replies, one per command, once run.
    pub(crate) replies: Vec<Frame>,
    /// The node that answered (for messages).
    pub(crate) node: Arc<str>,
    /// Where a redirect sends the next attempt, and whether it is an
    /// `ASK` (sent behind `ASKING`).
    redirect: Option<(Arc<str>, bool)>,
}

impl Group {
    /// `cmds` for `key` in database `db`.
    pub(crate) fn new(db: u64, key: Bytes, cmds: &[Command]) -> Group {
        let mut wire = BytesMut::with_capacity(cmds.iter().map(Command::encoded_len).sum());
        for cmd in cmds {
            cmd.encode(&mut wire);
        }
        Group::encoded(db, key, wire.freeze(), cmds.len())
    }

    /// The commands, one by one.
    fn commands(&self) -> Vec<RawCommand> {
        let mut wire = BytesMut::from(&self.wire[..]);
        let mut decoder = Decoder::new();
        let mut out = Vec::with_capacity(self.count);
        while let Ok(Some((cmd, _))) = decoder.decode_command(&mut wire) {
            out.push(cmd);
        }
        out
    }

    /// The same commands for the same key in database `db`.
    pub(crate) fn with_db(&self, db: u64) -> Group {
        Group::encoded(db, self.key.clone(), self.wire.clone(), self.count)
    }

    /// `count` commands already encoded in `wire`.
    pub(crate) fn encoded(db: u64, key: Bytes, wire: Bytes, count: usize) -> Group {
        Group {
            db,
            key,
            wire,
            count,
            replies: Vec::new(),
            node: Arc::from(""),
            redirect: None,
        }
    }
}

/// A worker's connections to one side, by node.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    conns: HashMap<String, Conn>,
}

/// A reply [`Side::run`] waits for.
enum Expect {
    Select(u64),
    Asking,
    /// All the replies of a group.
    Group(usize),
    /// One reply of a group.
    Reply(usize),
}

/// What a reply asks of the router.
enum Redirect {
    Moved(Arc<str>),
    Ask(Arc<str>),
    Wait,
}

fn redirect_of(frame: &Frame) -> Option<Redirect> {
    let message = frame.error_message()?;
    let text = String::from_utf8_lossy(message);
    let mut words = text.split_ascii_whitespace();
    match words.next()? {
        "MOVED" => Some(Redirect::Moved(words.nth(1)?.into())),
        "ASK" => Some(Redirect::Ask(words.nth(1)?.into())),
        "TRYAGAIN" | "LOADING" | "CLUSTERDOWN" => Some(Redirect::Wait),
        _ => None,
    }
}

impl Side {
    /// Connects to `addr`, finds out whether it is a cluster node and, if
    /// so, reads its slot map.
    ///
    /// # Errors
    /// The server cannot be reached, refuses the credentials, or is a
    /// cluster with slots no master serves.
    pub(crate) async fn connect(
        role: Role,
        addr: Arc<str>,
        host: String,
        creds: Credentials,
        rate: Option<u64>,
    ) -> Result<Side, CliError> {
        let mut side = Side {
            role,
            addr,
            host,
            creds,
            layout: Layout::Standalone,
            rate,
            limiters: Mutex::new(HashMap::new()),
            version: String::new(),
            redirects: AtomicU64::new(0),
        };
        let mut conn = side.open(&side.addr).await?;
        let info = side
            .request(&mut conn, &Command::new("INFO").arg("server"))
            .await?;
        let info = info
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        side.version = match (
            ferry_sink::info_field(&info, "valkey_version"),
            ferry_sink::info_field(&info, "redis_version"),
        ) {
            (Some(v), _) => format!("Valkey {v}"),
            (None, Some(v)) => format!("Redis {v}"),
            (None, None) => "version unknown".into(),
        };
        let cluster = side
            .request(&mut conn, &Command::new("INFO").arg("cluster"))
            .await?;
        let cluster = cluster
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if ferry_sink::info_field(&cluster, "cluster_enabled") == Some("1") {
            let map = side.read_slots(&mut conn).await?;
            side.layout = Layout::Cluster(RwLock::new(Arc::new(map)));
        }
        Ok(side)
    }

    /// Is it a cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.layout, Layout::Cluster(_))
    }

    /// The masters: every node of a cluster, or the one server.
    pub(crate) fn masters(&self) -> Vec<Arc<str>> {
        match &self.layout {
            Layout::Standalone => vec![self.addr.clone()],
            Layout::Cluster(map) => map.read().unwrap_or_else(|e| e.into_inner()).nodes.clone(),
        }
    }

    /// `standalone` or `cluster of N masters`.
    pub(crate) fn describe(&self) -> String {
        match &self.layout {
            Layout::Standalone => format!("{}, standalone, {}", self.addr, self.version),
            Layout::Cluster(_) => format!(
                "{}, cluster of {} masters, {}",
                self.addr,
                self.masters().len(),
                self.version
            ),
        }
    }

    /// An error naming this side and `node`.
    pub(crate) fn fail(&self, node: &str, message: impl std::fmt::Display) -> CliError {
        CliError::Check(format!("{} {node}: {message}", self.role.name()))
    }

    /// A new connection to `node`.
    ///
    /// # Errors
    /// The node cannot be reached or refuses the credentials.
    pub(crate) async fn open(&self, node: &str) -> Result<Conn, CliError> {
        let limiter = self.rate.map(|rate| {
            self.limiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(node.to_owned())
                .or_insert_with(|| Arc::new(Limiter::new(rate)))
                .clone()
        });
        Conn::open(node, &self.creds, limiter)
            .await
            .map_err(|e| self.fail(node, e))
    }

    /// Sends one command and returns its reply; an error reply is an error.
    pub(crate) async fn request(&self, conn: &mut Conn, cmd: &Command) -> Result<Frame, CliError> {
        let reply = conn
            .request(cmd)
            .await
            .map_err(|e| self.fail(&conn.addr, e))?;
        if let Some(e) = reply.error_message() {
            return Err(self.fail(
                &conn.addr,
                format!(
                    "{} refused: {}",
                    String::from_utf8_lossy(cmd.name()),
                    String::from_utf8_lossy(e)
                ),
            ));
        }
        Ok(reply)
    }

    /// Selects `db` on a connection (nothing on a cluster, which has only 0).
    pub(crate) async fn select(&self, conn: &mut Conn, db: u64) -> Result<(), CliError> {
        if conn.db != db {
            self.request(conn, &Command::new("SELECT").arg(db)).await?;
            conn.db = db;
        }
        Ok(())
    }

    async fn read_slots(&self, conn: &mut Conn) -> Result<SlotMap, CliError> {
        let reply = self
            .request(conn, &Command::new("CLUSTER").arg("SLOTS"))
            .await?;
        SlotMap::from_cluster_slots(&reply, &self.host).map_err(|e| self.fail(&conn.addr, e))
    }

    /// Reads the slot map again, from any master that answers.
    async fn refresh(&self) -> Result<(), CliError> {
        let Layout::Cluster(map) = &self.layout else {
            return Ok(());
        };
        let mut last = None;
        let mut candidates = self.masters();
        candidates.push(self.addr.clone());
        for node in candidates {
            let node = &*node;
            let attempt = async {
                let mut conn = self.open(node).await?;
                self.read_slots(&mut conn).await
            };
            match attempt.await {
                Ok(fresh) => {
                    *map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| self.fail(&self.addr, "no node to read the slot map from")))
    }

    fn node_of(&self, map: Option<&SlotMap>, group: &Group) -> Arc<str> {
        if let Some((node, _)) = &group.redirect {
            return node.clone();
        }
        map.and_then(|map| map.node_of(&group.key))
            .unwrap_or(&self.addr)
            .clone()
    }

    /// Runs every group on its key's node and fills in the replies,
    /// following redirects.
    ///
    /// # Errors
    /// A node cannot be reached or fails, `SELECT` is refused, or a key is
    /// still redirected after many attempts.
    pub(crate) async fn run(&self, pool: &mut Pool, groups: &mut [Group]) -> Result<(), CliError> {
        let mut pending: Vec<usize> = (0..groups.len()).collect();
        let mut attempt = 0;
        let mut refreshed = false;
        while !pending.is_empty() {
            let map = match &self.layout {
                Layout::Standalone => None,
                Layout::Cluster(map) => Some(map.read().unwrap_or_else(|e| e.into_inner()).clone()),
            };
            // Groups by node, in order.
            let mut by_node: Vec<(Arc<str>, Vec<usize>)> = Vec::new();
            for &i in &pending {
                let node = self.node_of(map.as_deref(), &groups[i]);
                match by_node.iter_mut().find(|(n, _)| *n == node) {
                    Some((_, list)) => list.push(i),
                    None => by_node.push((node, vec![i])),
                }
            }
            // Every node gets its pipeline, then every reply is read.
            let mut expected: Vec<Vec<Expect>> = Vec::with_capacity(by_node.len());
            for (node, list) in &by_node {
                if !pool.conns.contains_key(&**node) {
                    let conn = self.open(node).await?;
                    pool.conns.insert(node.to_string(), conn);
                }
                let mut expect = Vec::with_capacity(list.len() * 3);
                if let Some(conn) = pool.conns.get_mut(&**node) {
                    for &i in list {
                        let group = &mut groups[i];
                        if conn.db != group.db {
                            conn.push(&Command::new("SELECT").arg(group.db));
                            conn.db = group.db;
                            expect.push(Expect::Select(group.db));
                        }
                        if group.redirect.as_ref().is_some_and(|(_, ask)| *ask) {
                            // ASKING lets one command through: one before each.
                            for cmd in group.commands() {
                                conn.push(&Command::new("ASKING"));
                                conn.push_encoded(cmd.wire(), 1);
                                expect.push(Expect::Asking);
                                expect.push(Expect::Reply(i));
                            }
                        } else {
                            conn.push_encoded(&group.wire, group.count);
                            expect.push(Expect::Group(i));
                        }
                        group.replies.clear();
                        group.replies.reserve_exact(group.count);
                        group.node.clone_from(node);
                    }
                    if let Err(e) = conn.flush().await {
                        pool.conns.remove(&**node);
                        return Err(self.fail(node, e));
                    }
                }
                expected.push(expect);
            }
            for ((node, _), expect) in by_node.iter().zip(&expected) {
                let Some(conn) = pool.conns.get_mut(&**node) else {
                    continue;
                };
                if let Err(e) = self.read_replies(conn, groups, expect).await {
                    pool.conns.remove(&**node);
                    return Err(e);
                }
            }
            // Redirected groups go again.
            let mut moved = false;
            let mut wait = false;
            let mut again = Vec::new();
            for &i in &pending {
                let group = &mut groups[i];
                group.redirect = None;
                let redirect = group.replies.iter().find_map(redirect_of);
                match redirect {
                    None => continue,
                    Some(Redirect::Wait) => wait = true,
                    Some(Redirect::Moved(node)) => {
                        moved = true;
                        group.redirect = Some((node, false));
                    }
                    Some(Redirect::Ask(node)) => group.redirect = Some((node, true)),
                }
                if group.redirect.is_some() {
                    self.redirects.fetch_add(1, Ordering::Relaxed);
                }
                again.push(i);
            }
            if again.is_empty() {
                break;
            }
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                let group = &groups[again[0]];
                let why = group
                    .replies
                    .iter()
                    .find_map(|f| f.error_message())
                    .map(|e| String::from_utf8_lossy(e).into_owned())
                    .unwrap_or_default();
                return Err(self.fail(
                    &group.node,
                    format!(
                        "key \"{}\" still redirected after {MAX_ATTEMPTS} attempts ({why})",
                        group.key.escape_ascii()
                    ),
                ));
            }
            if moved && !refreshed {
                // The group goes where MOVED said either way; a map that
                // cannot be read now is read again at the next MOVED.
                refreshed = self.refresh().await.is_ok();
            }
            // Nodes that disagree send a key back and forth a few times.
            if wait || attempt > 2 {
                tokio::time::sleep(BACKOFF * attempt).await;
            }
            pending = again;
        }
        Ok(())
    }

    /// Reads the replies `expect` lists, as [`Side::run`] sent them.
    async fn read_replies(
        &self,
        conn: &mut Conn,
        groups: &mut [Group],
        expect: &[Expect],
    ) -> Result<(), CliError> {
        for e in expect {
            match *e {
                Expect::Select(db) => {
                    let reply = conn.read().await.map_err(|e| self.fail(&conn.addr, e))?;
                    if let Some(message) = reply.error_message() {
                        return Err(self.fail(
                            &conn.addr,
                            format!("SELECT {db} refused: {}", String::from_utf8_lossy(message)),
                        ));
                    }
                }
                Expect::Asking => {
                    // An error here shows again in the command's reply.
                    conn.read().await.map_err(|e| self.fail(&conn.addr, e))?;
                }
                Expect::Reply(i) => {
                    let reply = conn.read().await.map_err(|e| self.fail(&conn.addr, e))?;
                    groups[i].replies.push(reply);
                }
                Expect::Group(i) => {
                    let group = &mut groups[i];
                    for _ in 0..group.count {
                        let reply = conn.read().await.map_err(|e| self.fail(&conn.addr, e))?;
                        group.replies.push(reply);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn node(ip: &str, port: i64) -> Frame {
        Frame::Array(vec![
            Frame::Bulk(Bytes::copy_from_slice(ip.as_bytes())),
            Frame::Integer(port),
            Frame::Bulk(Bytes::from_static(b"id")),
        ])
    }

    fn range(start: i64, end: i64, master: Frame) -> Frame {
        Frame::Array(vec![Frame::Integer(start), Frame::Integer(end), master])
    }

    #[test]
    fn cluster_slots_give_each_slot_its_master() {
        let reply = Frame::Array(vec![
            range(0, 5460, node("10.0.0.1", 7000)),
            range(10923, 16383, node("", 7002)),
            range(5461, 10922, node("::1", 7001)),
        ]);
        let map = SlotMap::from_cluster_slots(&reply, "h").unwrap();
        assert_eq!(map.nodes.len(), 3);
        // "foo" is in slot 12182.
        let at = |key: &[u8]| map.node_of(key).map(|n| n.to_string());
        assert_eq!(at(b"foo").as_deref(), Some("h:7002"));
        let low = (0u32..)
            .map(|i| format!("k{i}"))
            .find(|k| Slot::of(k.as_bytes()).get() <= 5460)
            .unwrap();
        assert_eq!(at(low.as_bytes()).as_deref(), Some("10.0.0.1:7000"));
        let mid = (0u32..)
            .map(|i| format!("k{i}"))
            .find(|k| (5461..=10922).contains(&Slot::of(k.as_bytes()).get()))
            .unwrap();
        assert_eq!(at(mid.as_bytes()).as_deref(), Some("[::1]:7001"));
    }

    #[test]
    fn a_slot_without_a_master_is_refused() {
        let reply = Frame::Array(vec![range(0, 16000, node("a", 1))]);
        let err = SlotMap::from_cluster_slots(&reply, "h").unwrap_err();
        assert!(err.contains("slot 16001 is served by no master"), "{err}");
        assert!(SlotMap::from_cluster_slots(&Frame::Integer(1), "h").is_err());
    }

    #[test]
    fn redirects_are_read_from_error_replies() {
        let error = |text: &'static str| Frame::Error(Bytes::from_static(text.as_bytes()));
        assert!(matches!(
            redirect_of(&error("MOVED 3999 127.0.0.1:6381")),
            Some(Redirect::Moved(n)) if &*n == "127.0.0.1:6381"
        ));
        assert!(matches!(
            redirect_of(&error("ASK 3999 127.0.0.1:6382")),
            Some(Redirect::Ask(n)) if &*n == "127.0.0.1:6382"
        ));
        assert!(matches!(
            redirect_of(&error(
                "TRYAGAIN Multiple keys request during rehashing of slot"
            )),
            Some(Redirect::Wait)
        ));
        assert!(redirect_of(&error("WRONGTYPE x")).is_none());
        assert!(redirect_of(&Frame::Integer(1)).is_none());
    }
}
