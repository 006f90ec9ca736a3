//! Workers: each takes batches of keys and compares them on both sides,
//! with connections of its own.

use super::big;
use super::compare::{self, Fault, First, Kind, Mismatch, Reason, Verdict, quote};
use super::report::{Found, Origin};
use super::side::{Group, Pool, Side};
use super::{Ctx, Job};
use crate::error::CliError;
use bytes::{Bytes, BytesMut};
use ferry_resp::{Command, Frame};
use ferry_sink::Slot;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// A worker: takes jobs until there are none; the differences it found.
pub(super) async fn work(
    ctx: Arc<Ctx>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
) -> Result<Vec<Found>, CliError> {
    let mut src = Pool::default();
    let mut tgt = Pool::default();
    let mut found = Vec::new();
    loop {
        let job = rx.lock().await.recv().await;
        let before = found.len();
        match job {
            None => break,
            Some(Job::Compare {
                src_db,
                dst_db,
                keys,
                first,
            }) => {
                if first {
                    ctx.count(src_db, dst_db, keys.len() as u64, 0);
                }
                let pools = (&mut src, &mut tgt);
                compare_keys(&ctx, pools, src_db, dst_db, keys, &mut found).await?;
            }
            Some(Job::Absent {
                dst_db,
                src_dbs,
                keys,
                recheck,
            }) => {
                if !recheck {
                    let src_db = src_dbs.first().copied().unwrap_or(dst_db);
                    ctx.count(src_db, dst_db, 0, keys.len() as u64);
                }
                let pools = (&mut src, &mut tgt);
                absent_keys(&ctx, pools, dst_db, src_dbs, keys, recheck, &mut found).await?;
            }
        }
        ctx.differing
            .fetch_add((found.len() - before) as u64, Ordering::Relaxed);
    }
    Ok(found)
}

/// Groups for `keys`, the commands `encode` appends for each (returning
/// how many), in database `db`, all encoded in one buffer.
fn encoded_groups(
    keys: &[&Bytes],
    db: u64,
    mut encode: impl FnMut(&Bytes, &mut BytesMut) -> usize,
) -> Vec<Group> {
    let mut wire = BytesMut::with_capacity(keys.iter().map(|k| 3 * k.len() + 96).sum());
    let mut ends = Vec::with_capacity(keys.len());
    for key in keys {
        let n = encode(key, &mut wire);
        ends.push((wire.len(), n));
    }
    let wire = wire.freeze();
    let mut start = 0;
    keys.iter()
        .zip(ends)
        .map(|(key, (end, n))| {
            let group = Group::encoded(db, (*key).clone(), wire.slice(start..end), n);
            start = end;
            group
        })
        .collect()
}

/// The same groups for the other side's database.
fn same_groups(groups: &[Group], db: u64) -> Vec<Group> {
    groups.iter().map(|g| g.with_db(db)).collect()
}

/// Keys of a batch by what they need next.
#[derive(Default)]
struct Steps {
    /// Settled, and not the same.
    verdicts: Vec<(usize, Verdict)>,
    /// Their types to read.
    typed: Vec<(usize, Option<Mismatch>)>,
    /// Their values to read.
    second: Vec<(usize, Kind, Option<Mismatch>)>,
}

impl Steps {
    fn add(&mut self, i: usize, step: First) {
        match step {
            First::Done(Verdict::Same) => {}
            First::Done(v) => self.verdicts.push((i, v)),
            First::Types { ttl } => self.typed.push((i, ttl)),
            First::Values { kind, ttl } => self.second.push((i, kind, ttl)),
        }
    }
}

/// Compares `keys` of source database `src_db` with target database
/// `dst_db`; appends those that differ to `found`.
async fn compare_keys(
    ctx: &Ctx,
    (src, tgt): (&mut Pool, &mut Pool),
    src_db: u64,
    dst_db: u64,
    keys: Vec<Bytes>,
    found: &mut Vec<Found>,
) -> Result<(), CliError> {
    let mode = ctx.mode;
    let fault = |fault: Fault, key: &Bytes, a: &Group, b: &Group| match fault {
        Fault::Source(e) => ctx.source.fail(&a.node, format!("key {}: {e}", quote(key))),
        Fault::Target(e) => ctx.target.fail(&b.node, format!("key {}: {e}", quote(key))),
    };
    let mut steps = Steps::default();
    // Round trip 1, both sides at once: PTTL and GETRANGE (TYPE and
    // STRLEN in quick mode), which settle strings.
    let all: Vec<&Bytes> = keys.iter().collect();
    let mut a = encoded_groups(&all, src_db, |key, out| {
        compare::first_reads(key, mode, out)
    });
    let mut b = same_groups(&a, dst_db);
    tokio::try_join!(ctx.source.run(src, &mut a), ctx.target.run(tgt, &mut b))?;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        match compare::evaluate_first(mode, ctx.tolerance_ms, &x.replies, &y.replies) {
            Ok(step) => steps.add(i, step),
            Err(e) => return Err(fault(e, &keys[i], x, y)),
        }
    }
    // Round trip 2, for keys that are not strings: TYPE.
    let typed = std::mem::take(&mut steps.typed);
    if !typed.is_empty() {
        let some: Vec<&Bytes> = typed.iter().map(|(i, _)| &keys[*i]).collect();
        let mut a = encoded_groups(&some, src_db, |key, out| compare::type_read(key, out));
        let mut b = same_groups(&a, dst_db);
        tokio::try_join!(ctx.source.run(src, &mut a), ctx.target.run(tgt, &mut b))?;
        for ((x, y), (i, ttl)) in a.iter().zip(&b).zip(typed) {
            let (Some(rx), Some(ry)) = (x.replies.first(), y.replies.first()) else {
                continue;
            };
            match compare::evaluate_types(rx, ry, ttl) {
                // Not returned: types are read once.
                Ok(First::Types { .. }) => {}
                Ok(step) => steps.add(i, step),
                Err(e) => return Err(fault(e, &keys[i], x, y)),
            }
        }
    }
    let Steps {
        mut verdicts,
        second,
        ..
    } = steps;
    // Round trip 3, for collections: lengths and first elements.
    if !second.is_empty() {
        let some: Vec<&Bytes> = second.iter().map(|(i, _, _)| &keys[*i]).collect();
        let mut kinds = second.iter().map(|(_, kind, _)| kind);
        let mut a = encoded_groups(&some, src_db, |key, out| {
            kinds
                .next()
                .map_or(0, |kind| compare::value_reads(kind, key, mode, out))
        });
        let mut b = same_groups(&a, dst_db);
        tokio::try_join!(ctx.source.run(src, &mut a), ctx.target.run(tgt, &mut b))?;
        for ((x, y), (i, kind, ttl)) in a.iter().zip(&b).zip(second) {
            match compare::evaluate_values(&kind, mode, &x.replies, &y.replies, ttl) {
                Ok(Verdict::Same) => {}
                Ok(v) => verdicts.push((i, v)),
                Err(e) => return Err(fault(e, &keys[i], x, y)),
            }
        }
    }
    for (i, verdict) in verdicts {
        let key = &keys[i];
        let mismatch = match verdict {
            Verdict::Same => None,
            Verdict::Differ(m) => Some(m),
            Verdict::Big { kind, ttl } => {
                let big = big::Key {
                    ctx,
                    src: &mut *src,
                    tgt: &mut *tgt,
                    src_db,
                    dst_db,
                    key,
                };
                big::compare(big, &kind).await?.or(ttl)
            }
        };
        if let Some(mismatch) = mismatch {
            found.push(Found {
                src_db,
                dst_db,
                key: key.clone(),
                mismatch,
                origin: Origin::Forward,
            });
        }
    }
    Ok(())
}

/// Looks `keys` of target database `dst_db` up in the source databases
/// `src_dbs`; appends those found in none to `found` (with `recheck`, only
/// those the target still has).
///
/// Keys are asked many at a time (`EXISTS k1 k2 ...` counts the keys that
/// exist; keys of one slot on a cluster): only where the count falls short
/// is each key asked alone.
async fn absent_keys(
    ctx: &Ctx,
    (src, tgt): (&mut Pool, &mut Pool),
    dst_db: u64,
    src_dbs: Arc<[u64]>,
    keys: Vec<Bytes>,
    recheck: bool,
    found: &mut Vec<Found>,
) -> Result<(), CliError> {
    let mut absent: Vec<Bytes> = keys;
    for &db in src_dbs.iter() {
        if absent.is_empty() {
            break;
        }
        // Keys together by slot on a cluster (a multi-key command must stay
        // in one slot), all together on a standalone server.
        let mut bundles: BTreeMap<u16, Vec<Bytes>> = BTreeMap::new();
        for key in absent.drain(..) {
            let slot = if ctx.source.is_cluster() {
                Slot::of(&key).get()
            } else {
                0
            };
            bundles.entry(slot).or_default().push(key);
        }
        let bundles: Vec<Vec<Bytes>> = bundles.into_values().collect();
        let mut groups: Vec<Group> = bundles
            .iter()
            .filter_map(|keys| {
                let mut cmd = Command::with_capacity(Bytes::from_static(b"EXISTS"), keys.len());
                for key in keys {
                    cmd.push_arg(key);
                }
                Some(Group::new(db, keys.first()?.clone(), &[cmd]))
            })
            .collect();
        ctx.source.run(src, &mut groups).await?;
        // Bundles short of their count: each key alone.
        let mut singles: Vec<Group> = Vec::new();
        for (group, keys) in groups.iter().zip(bundles) {
            let count = exists_count(&ctx.source, group)?;
            if count < keys.len() as i64 {
                singles.extend(keys.into_iter().map(|key| {
                    let cmd = Command::new(Bytes::from_static(b"EXISTS")).arg(&key);
                    Group::new(db, key, &[cmd])
                }));
            }
        }
        if singles.is_empty() {
            continue;
        }
        ctx.source.run(src, &mut singles).await?;
        for group in singles {
            if exists_count(&ctx.source, &group)? == 0 {
                absent.push(group.key);
            }
        }
    }
    if absent.is_empty() {
        return Ok(());
    }
    if recheck {
        let mut groups: Vec<Group> = absent
            .drain(..)
            .map(|key| {
                let cmd = Command::new(Bytes::from_static(b"EXISTS")).arg(&key);
                Group::new(dst_db, key, &[cmd])
            })
            .collect();
        ctx.target.run(tgt, &mut groups).await?;
        for group in groups {
            if exists_count(&ctx.target, &group)? > 0 {
                absent.push(group.key);
            }
        }
    }
    let src_db = src_dbs.first().copied().unwrap_or(dst_db);
    let on = if src_dbs.len() == 1 {
        format!("not in source database {src_db}")
    } else {
        format!(
            "in none of source databases {}",
            src_dbs
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    found.extend(absent.into_iter().map(|key| Found {
        src_db,
        dst_db,
        key,
        mismatch: Mismatch::new(Reason::Extra, format!("on the target, {on}")),
        origin: Origin::Reverse(src_dbs.clone()),
    }));
    Ok(())
}

/// The count an `EXISTS` group got.
fn exists_count(side: &Side, group: &Group) -> Result<i64, CliError> {
    let reply = group.replies.first();
    match reply.and_then(Frame::as_integer) {
        Some(n) => Ok(n),
        None => Err(side.fail(
            &group.node,
            format!(
                "key {}: EXISTS: {}",
                quote(&group.key),
                reply.map_or_else(
                    || "no reply".to_owned(),
                    |r| r.error_message().map_or_else(
                        || r.kind_name().to_owned(),
                        |e| { String::from_utf8_lossy(e).into_owned() }
                    )
                )
            ),
        )),
    }
}
