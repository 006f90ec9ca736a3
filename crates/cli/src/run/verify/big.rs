//! Keys too big for one read, compared in windows: never fetched whole.
//!
//! Lengths first (`STRLEN`, `LLEN`, `ZCARD`, `XLEN`, `HLEN`, `SCARD`); then
//! - strings by `GETRANGE` windows, lists by `LRANGE` windows, sorted sets
//!   by `ZRANGE ... WITHSCORES` rank windows (scores as numbers), several
//!   windows per round trip, side by side;
//! - streams by `XRANGE ... COUNT` windows, each starting after the last
//!   entry of the one before;
//! - hashes and sets, which have no order two servers share, from the
//!   source: each `HSCAN`/`SSCAN` chunk is looked up on the target (`HMGET`,
//!   `SISMEMBER`). With equal lengths, every source element found equal on
//!   the target means the two are equal.

use super::Ctx;
use super::compare::{
    CHANGED, Kind, Mismatch, Reason, compare_bytes, compare_entries, compare_items, compare_scored,
    entries, field_differs, int, into_pairs, items, next_stream_id, optional_items, quote,
    scan_cmd, scan_reply, scored, xrange_cmd, zrange_cmd,
};
use super::side::{Group, Pool, Role};
use crate::error::CliError;
use bytes::Bytes;
use ferry_resp::{Command, Frame};

/// Elements in one window.
const WINDOW_ELEMENTS: usize = 1000;
/// Bytes of a string in one window.
const WINDOW_BYTES: usize = 256 * 1024;
/// Windows sent in one round trip.
const WINDOWS_PER_TRIP: usize = 4;

/// Why a comparison stopped early.
enum Halt {
    /// The key differs.
    Differ(Mismatch),
    /// A server failed.
    Fail(CliError),
}

impl From<CliError> for Halt {
    fn from(e: CliError) -> Halt {
        Halt::Fail(e)
    }
}

type Step<T> = Result<T, Halt>;

fn differ<T>(detail: impl Into<String>) -> Step<T> {
    Err(Halt::Differ(Mismatch::new(Reason::Value, detail)))
}

/// One big key on both sides, with the connections to read it.
pub(crate) struct Key<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) src: &'a mut Pool,
    pub(crate) tgt: &'a mut Pool,
    pub(crate) src_db: u64,
    pub(crate) dst_db: u64,
    pub(crate) key: &'a Bytes,
}

/// Compares a `kind` key in windows; its difference, if any.
///
/// # Errors
/// A server fails or answers what makes no sense.
pub(crate) async fn compare(key: Key<'_>, kind: &Kind) -> Result<Option<Mismatch>, CliError> {
    let mut key = key;
    let outcome = match kind {
        Kind::String => key.string().await,
        Kind::List => key.list().await,
        Kind::ZSet => key.zset().await,
        Kind::Stream => key.stream().await,
        Kind::Hash => key.hash().await,
        Kind::Set => key.set().await,
        Kind::None | Kind::Other(_) => Ok(()),
    };
    match outcome {
        Ok(()) => Ok(None),
        Err(Halt::Differ(m)) => Ok(Some(m)),
        Err(Halt::Fail(e)) => Err(e),
    }
}

impl Key<'_> {
    fn cmd(&self, name: &'static [u8]) -> Command {
        Command::new(Bytes::from_static(name)).arg(self.key)
    }

    /// Runs `cmds` for this key on one side; its replies. `WRONGTYPE`
    /// means the key was replaced meanwhile.
    async fn one(&mut self, role: Role, cmds: Vec<Command>) -> Step<Vec<Frame>> {
        let (side, pool, db) = match role {
            Role::Source => (&self.ctx.source, &mut *self.src, self.src_db),
            Role::Target => (&self.ctx.target, &mut *self.tgt, self.dst_db),
        };
        let mut groups = [Group::new(db, self.key.clone(), &cmds)];
        side.run(pool, &mut groups).await?;
        let [group] = groups;
        self.check(role, &group.node, group.replies)
    }

    /// Runs `cmds` on both sides at once.
    async fn both(&mut self, cmds: Vec<Command>) -> Step<(Vec<Frame>, Vec<Frame>)> {
        let mut src = [Group::new(self.src_db, self.key.clone(), &cmds)];
        let mut tgt = [Group::new(self.dst_db, self.key.clone(), &cmds)];
        tokio::try_join!(
            self.ctx.source.run(self.src, &mut src),
            self.ctx.target.run(self.tgt, &mut tgt)
        )?;
        let [src] = src;
        let [tgt] = tgt;
        let a = self.check(Role::Source, &src.node, src.replies)?;
        let b = self.check(Role::Target, &tgt.node, tgt.replies)?;
        Ok((a, b))
    }

    fn check(&self, role: Role, node: &str, replies: Vec<Frame>) -> Step<Vec<Frame>> {
        for reply in &replies {
            if let Some(e) = reply.error_message() {
                if e.starts_with(b"WRONGTYPE") {
                    return differ(CHANGED);
                }
                return Err(self.fault(
                    role,
                    node,
                    format!("refused: {}", String::from_utf8_lossy(e)),
                ));
            }
        }
        Ok(replies)
    }

    fn fault(&self, role: Role, node: &str, message: String) -> Halt {
        let side = match role {
            Role::Source => &self.ctx.source,
            Role::Target => &self.ctx.target,
        };
        Halt::Fail(side.fail(node, format!("key {}: {message}", quote(self.key))))
    }

    /// Parses a reply, naming the side when it makes no sense.
    fn parse<T>(&self, role: Role, parsed: Result<T, String>) -> Step<T> {
        parsed.map_err(|e| {
            let side = match role {
                Role::Source => &self.ctx.source,
                Role::Target => &self.ctx.target,
            };
            Halt::Fail(side.fail(&side.addr, format!("key {}: {e}", quote(self.key))))
        })
    }

    /// The lengths on both sides, which must be equal.
    async fn lengths(&mut self, name: &'static [u8], unit: &str) -> Step<usize> {
        let (a, b) = self.both(vec![self.cmd(name)]).await?;
        let what = String::from_utf8_lossy(name);
        let la = self.parse(
            Role::Source,
            a.first()
                .ok_or("no reply".to_owned())
                .and_then(|f| int(f, &what)),
        )?;
        let lb = self.parse(
            Role::Target,
            b.first()
                .ok_or("no reply".to_owned())
                .and_then(|f| int(f, &what)),
        )?;
        if la != lb {
            return differ(format!("{la} {unit} on the source, {lb} on the target"));
        }
        Ok(usize::try_from(la).unwrap_or(0))
    }

    /// Windows of `window` elements from 0 to `len`, a few per round trip:
    /// `make(start, stop)` builds the command of one window, `cmp(start,
    /// source reply, target reply)` compares it.
    async fn windows(
        &mut self,
        len: usize,
        window: usize,
        make: impl Fn(&Bytes, usize, usize) -> Command,
        cmp: impl Fn(&Self, usize, &Frame, &Frame) -> Step<()>,
    ) -> Step<()> {
        let mut start = 0;
        while start < len {
            let mut cmds = Vec::with_capacity(WINDOWS_PER_TRIP);
            let mut starts = Vec::with_capacity(WINDOWS_PER_TRIP);
            while cmds.len() < WINDOWS_PER_TRIP && start < len {
                cmds.push(make(self.key, start, start + window - 1));
                starts.push(start);
                start += window;
            }
            let (a, b) = self.both(cmds).await?;
            for ((at, x), y) in starts.into_iter().zip(&a).zip(&b) {
                cmp(self, at, x, y)?;
            }
        }
        Ok(())
    }

    async fn string(&mut self) -> Step<()> {
        let len = self.lengths(b"STRLEN", "bytes").await?;
        self.windows(
            len,
            WINDOW_BYTES,
            |key, start, stop| {
                Command::new(Bytes::from_static(b"GETRANGE"))
                    .arg(key)
                    .arg(start)
                    .arg(stop)
            },
            |this, at, x, y| {
                let a = this.parse(Role::Source, super::compare::bulk(x, "GETRANGE"))?;
                let b = this.parse(Role::Target, super::compare::bulk(y, "GETRANGE"))?;
                compare_bytes(at, &a, &b, WINDOW_BYTES).map_or(Ok(()), differ)
            },
        )
        .await
    }

    async fn list(&mut self) -> Step<()> {
        let len = self.lengths(b"LLEN", "elements").await?;
        self.windows(
            len,
            WINDOW_ELEMENTS,
            |key, start, stop| {
                Command::new(Bytes::from_static(b"LRANGE"))
                    .arg(key)
                    .arg(start)
                    .arg(stop)
            },
            |this, at, x, y| {
                let a = this.parse(Role::Source, items(x, "LRANGE"))?;
                let b = this.parse(Role::Target, items(y, "LRANGE"))?;
                compare_items(at, &a, &b).map_or(Ok(()), differ)
            },
        )
        .await
    }

    async fn zset(&mut self) -> Step<()> {
        let len = self.lengths(b"ZCARD", "members").await?;
        self.windows(len, WINDOW_ELEMENTS, zrange_cmd, |this, at, x, y| {
            let a = this.parse(Role::Source, scored(x, "ZRANGE"))?;
            let b = this.parse(Role::Target, scored(y, "ZRANGE"))?;
            compare_scored(at, &a, &b).map_or(Ok(()), differ)
        })
        .await
    }

    async fn stream(&mut self) -> Step<()> {
        self.lengths(b"XLEN", "entries").await?;
        let mut start = b"-".to_vec();
        loop {
            let cmd = xrange_cmd(self.key, &start, WINDOW_ELEMENTS);
            let (a, b) = self.both(vec![cmd]).await?;
            let (Some(a), Some(b)) = (a.first(), b.first()) else {
                return differ(CHANGED);
            };
            let a = self.parse(Role::Source, entries(a, "XRANGE"))?;
            let b = self.parse(Role::Target, entries(b, "XRANGE"))?;
            if let Some(d) = compare_entries(&a, &b) {
                return differ(d);
            }
            let last = match a.last() {
                Some((id, _)) if a.len() == WINDOW_ELEMENTS => id,
                _ => return Ok(()),
            };
            match next_stream_id(last) {
                Some(next) => start = next.into_bytes(),
                None => return Ok(()),
            }
        }
    }

    async fn hash(&mut self) -> Step<()> {
        self.lengths(b"HLEN", "fields").await?;
        let mut cursor = Bytes::from_static(b"0");
        loop {
            let scan = scan_cmd(b"HSCAN", self.key, &cursor, WINDOW_ELEMENTS);
            let reply = self.one(Role::Source, vec![scan]).await?;
            let (next, flat) = self.parse(
                Role::Source,
                reply
                    .first()
                    .ok_or("no reply".to_owned())
                    .and_then(|f| scan_reply(f, "HSCAN")),
            )?;
            let pairs = self.parse(Role::Source, into_pairs(flat, "HSCAN"))?;
            if !pairs.is_empty() {
                let mut hmget = self.cmd(b"HMGET");
                for (field, _) in &pairs {
                    hmget.push_arg(field);
                }
                let reply = self.one(Role::Target, vec![hmget]).await?;
                let values = self.parse(
                    Role::Target,
                    reply
                        .first()
                        .ok_or("no reply".to_owned())
                        .and_then(|f| optional_items(f, "HMGET")),
                )?;
                for ((field, value), other) in pairs.iter().zip(&values) {
                    match other {
                        None => {
                            return differ(format!("field {} is not on the target", quote(field)));
                        }
                        Some(other) if other != value => {
                            return differ(field_differs(field, value, other));
                        }
                        Some(_) => {}
                    }
                }
                if values.len() != pairs.len() {
                    return differ(CHANGED);
                }
            }
            if &next[..] == b"0" {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn set(&mut self) -> Step<()> {
        self.lengths(b"SCARD", "members").await?;
        let mut cursor = Bytes::from_static(b"0");
        loop {
            let scan = scan_cmd(b"SSCAN", self.key, &cursor, WINDOW_ELEMENTS);
            let reply = self.one(Role::Source, vec![scan]).await?;
            let (next, members) = self.parse(
                Role::Source,
                reply
                    .first()
                    .ok_or("no reply".to_owned())
                    .and_then(|f| scan_reply(f, "SSCAN")),
            )?;
            if !members.is_empty() {
                let cmds = members
                    .iter()
                    .map(|m| self.cmd(b"SISMEMBER").arg(m))
                    .collect();
                let replies = self.one(Role::Target, cmds).await?;
                for (member, reply) in members.iter().zip(&replies) {
                    let found = self.parse(Role::Target, int(reply, "SISMEMBER"))?;
                    if found != 1 {
                        return differ(format!("member {} is not on the target", quote(member)));
                    }
                }
            }
            if &next[..] == b"0" {
                return Ok(());
            }
            cursor = next;
        }
    }
}
