//! Feeders: where the keys come from. `SCAN` of every database of a node
//! (the source's, to compare; the target's, to find extra keys), or, with
//! `--sample N`, `RANDOMKEY`s in proportion to each database's size; in
//! batches of `BATCH_KEYS` handed to the workers over a bounded channel.

use super::side::Role;
use super::{BATCH_KEYS, Ctx, Job, SAMPLE_PIPELINE, SCAN_COUNT, Scan, compare};
use crate::error::CliError;
use crate::glob::Glob;
use bytes::Bytes;
use ferry_resp::{Command, Frame};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where a feeder's keys come from and go.
pub(super) struct Feed {
    pub(super) ctx: Arc<Ctx>,
    pub(super) role: Role,
    pub(super) node: Arc<str>,
    pub(super) pattern: Option<Bytes>,
    pub(super) tx: mpsc::Sender<Job>,
}

impl Feed {
    /// `SCAN`s each database of `scans` on this node, in batches.
    pub(super) async fn scan(self, scans: Vec<Scan>) -> Result<(), CliError> {
        let side = self.ctx.side(self.role);
        let mut conn = side.open(&self.node).await?;
        for scan in scans {
            side.select(&mut conn, scan.db()).await?;
            let mut cursor = Bytes::from_static(b"0");
            let mut batch = Vec::with_capacity(BATCH_KEYS);
            loop {
                let mut cmd = Command::new("SCAN").arg(&cursor);
                if let Some(p) = &self.pattern {
                    cmd = cmd.arg("MATCH").arg(p);
                }
                let cmd = cmd.arg("COUNT").arg(SCAN_COUNT);
                let reply = side.request(&mut conn, &cmd).await?;
                let (next, keys) =
                    compare::scan_reply(&reply, "SCAN").map_err(|e| side.fail(&self.node, e))?;
                for key in keys {
                    batch.push(key);
                    if batch.len() >= BATCH_KEYS {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_KEYS));
                        if self.tx.send(scan.job(full)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                if &next[..] == b"0" {
                    break;
                }
                cursor = next;
            }
            if !batch.is_empty() && self.tx.send(scan.job(batch)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Sends about `n × keys / total` random keys of each database in
    /// `scans` (with its key count) on this node.
    pub(super) async fn sample(
        self,
        scans: Vec<(Scan, u64)>,
        n: u64,
        total: u64,
    ) -> Result<(), CliError> {
        let side = self.ctx.side(self.role);
        let mut conn = side.open(&self.node).await?;
        let glob = self.pattern.as_ref().map(|p| Glob::new(&p[..]));
        for (scan, keys) in scans {
            let want = (u128::from(n) * u128::from(keys)).div_ceil(u128::from(total.max(1)));
            let want = usize::try_from(want)
                .unwrap_or(usize::MAX)
                .min(usize::try_from(keys).unwrap_or(usize::MAX));
            side.select(&mut conn, scan.db()).await?;
            let mut seen = HashSet::with_capacity(want);
            let mut batch = Vec::with_capacity(BATCH_KEYS);
            // Random keys repeat, and some do not match --key-pattern: ask
            // until there are enough, up to four times as many.
            let mut asked = 0;
            let limit = want.saturating_mul(4);
            while seen.len() < want && asked < limit {
                let asks = (want - seen.len()).min(SAMPLE_PIPELINE);
                asked += asks;
                let cmds = vec![Command::new("RANDOMKEY"); asks];
                let replies = conn
                    .pipeline(&cmds)
                    .await
                    .map_err(|e| side.fail(&self.node, e))?;
                for reply in replies {
                    if let Some(e) = reply.error_message() {
                        return Err(side.fail(
                            &self.node,
                            format!("RANDOMKEY refused: {}", String::from_utf8_lossy(e)),
                        ));
                    }
                    let Frame::Bulk(key) = reply else { continue };
                    if seen.len() >= want
                        || glob.as_ref().is_some_and(|g| !g.is_match(&key))
                        || !seen.insert(key.clone())
                    {
                        continue;
                    }
                    batch.push(key);
                    if batch.len() >= BATCH_KEYS {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_KEYS));
                        if self.tx.send(scan.job(full)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
            if !batch.is_empty() && self.tx.send(scan.job(batch)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}
