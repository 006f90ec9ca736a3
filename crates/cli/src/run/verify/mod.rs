//! `ferry verify --source URL --target URL`: compares every key of the
//! source with the target (type, value, expire time), and looks for keys
//! the target has and the source does not.
//!
//! - Feeders (`Feed`) `SCAN` every master of the source, database by
//!   database, and hand batches of keys to the workers; others `SCAN` the
//!   target the same way, for keys missing on the source. With `--sample N`
//!   the keys come from `RANDOMKEY` instead.
//! - Workers (`compare_keys`) read a batch on both sides at once, in
//!   pipelined round trips: `PTTL` and `GETRANGE` settle strings (most
//!   keys) in one; other types need `TYPE`, then their length and first
//!   elements (`compare`). Keys too big for that go to `big`, which
//!   compares them in windows. Target keys are looked up on the source with
//!   `EXISTS`, many keys per command (`absent_keys`).
//! - Rounds: keys that differ are compared again after `--interval`, up to
//!   `--rounds` times, so that keys a running sync is changing are not
//!   reported; only keys that still differ at the end are (`report`).
//!
//! Each side is a standalone server or a cluster (`side`), on
//! connections of our own that pipeline (`conn`), at most `--rate`
//! commands per second per server. Memory is bounded by the batches in
//! flight (`--parallel` of `BATCH_KEYS` keys, values read in bounded
//! pieces) and by the keys that differ (at most `MAX_RECHECKED_KEYS` are
//! kept for later rounds).

mod big;
mod compare;
mod conn;
mod feed;
mod report;
mod side;
mod work;

use crate::args::{VerifyArgs, VerifyFormat, VerifyModeArg};
use crate::error::CliError;
use crate::run::common::{DbMap, say};
use crate::target::{SOURCE_PASSWORD_ENV, TARGET_PASSWORD_ENV, TargetUrl, parse_with_password};
use bytes::Bytes;
use compare::Mode;
use feed::Feed;
use ferry_resp::Command;
use ferry_sink::{Credentials, TargetKind};
use report::{Found, Looked, Origin, Summary};
use side::{Role, Side};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Keys compared in one batch.
const BATCH_KEYS: usize = 512;
/// `SCAN ... COUNT`.
const SCAN_COUNT: usize = 1000;
/// `RANDOMKEY`s sent in one pipeline when sampling.
const SAMPLE_PIPELINE: usize = 1000;
/// Keys compared again in later rounds, at most; beyond that, differences
/// are reported as round 1 found them.
const MAX_RECHECKED_KEYS: usize = 1_000_000;
/// How often progress goes to stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Longest wait for a reply (a big `SCAN` or window on a busy server).
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `ferry verify`.
///
/// # Errors
/// Bad arguments ([`CliError::Usage`]), a server that cannot be reached or
/// fails, or keys that differ ([`CliError::Incomplete`]).
pub fn run(args: &VerifyArgs) -> Result<(), CliError> {
    let (source, source_password) = parse_with_password(
        &args.source,
        args.source_password_file.as_deref(),
        SOURCE_PASSWORD_ENV,
    )
    .map_err(|e| CliError::Usage(format!("--source: {e}")))?;
    let (target, target_password) = parse_with_password(
        &args.target,
        args.target_password_file.as_deref(),
        TARGET_PASSWORD_ENV,
    )
    .map_err(|e| CliError::Usage(format!("--target: {e}")))?;
    let db_map = DbMap::new(&args.db_map, target.db)?;
    if args.rounds == 0 {
        return Err(CliError::Usage("--rounds must be at least 1".into()));
    }
    if args.parallel == 0 {
        return Err(CliError::Usage("--parallel must be at least 1".into()));
    }
    if args.rate == Some(0) {
        return Err(CliError::Usage("--rate must be at least 1".into()));
    }
    if args.sample == Some(0) {
        return Err(CliError::Usage("--sample must be at least 1".into()));
    }
    let seconds = |name: &str, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(CliError::Usage(format!(
                "{name} must be a number of seconds, 0 or more"
            )))
        }
    };
    let tolerance = seconds("--ttl-tolerance", args.ttl_tolerance)?;
    let interval = seconds("--interval", args.interval)?;
    let creds = |url: &TargetUrl, password| Credentials {
        user: url.user.clone(),
        password,
        connect_timeout: Duration::from_secs(10),
        io_timeout: IO_TIMEOUT,
    };
    let plan = Plan {
        source_creds: creds(&source, source_password),
        target_creds: creds(&target, target_password),
        source,
        target,
        db_map,
        tolerance_ms: i64::try_from(tolerance.as_millis()).unwrap_or(i64::MAX),
        interval,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    runtime.block_on(verify(args, plan))
}

/// The checked command line.
struct Plan {
    source: TargetUrl,
    source_creds: Credentials,
    target: TargetUrl,
    target_creds: Credentials,
    db_map: DbMap,
    tolerance_ms: i64,
    interval: Duration,
}

/// What the workers share.
pub(crate) struct Ctx {
    pub(crate) source: Side,
    pub(crate) target: Side,
    mode: Mode,
    tolerance_ms: i64,
    /// Keys looked at in round 1, per (source, target) database.
    looked: Mutex<BTreeMap<(u64, u64), Looked>>,
    compared: AtomicU64,
    checked: AtomicU64,
    differing: AtomicU64,
}

impl Ctx {
    fn side(&self, role: Role) -> &Side {
        match role {
            Role::Source => &self.source,
            Role::Target => &self.target,
        }
    }

    fn count(&self, src_db: u64, dst_db: u64, compared: u64, checked: u64) {
        let mut looked = self.looked.lock().unwrap_or_else(|e| e.into_inner());
        let entry = looked.entry((src_db, dst_db)).or_default();
        entry.compared += compared;
        entry.checked += checked;
        self.compared.fetch_add(compared, Ordering::Relaxed);
        self.checked.fetch_add(checked, Ordering::Relaxed);
    }
}

/// Work for a worker.
enum Job {
    /// Keys of source database `src_db` to compare with target database
    /// `dst_db`; `first`: counted as compared.
    Compare {
        src_db: u64,
        dst_db: u64,
        keys: Vec<Bytes>,
        first: bool,
    },
    /// Keys of target database `dst_db`, reported unless one of the
    /// `src_dbs` has them; `recheck`: only while the target still has them.
    Absent {
        dst_db: u64,
        src_dbs: Arc<[u64]>,
        keys: Vec<Bytes>,
        recheck: bool,
    },
}

/// One database to scan on one side, and where its keys go.
#[derive(Debug, Clone)]
enum Scan {
    /// Source database `src_db`, compared with target database `dst_db`.
    Forward { src_db: u64, dst_db: u64 },
    /// Target database `dst_db`, whose keys should be in one of `src_dbs`.
    Reverse { dst_db: u64, src_dbs: Arc<[u64]> },
}

impl Scan {
    /// The database scanned.
    fn db(&self) -> u64 {
        match self {
            Scan::Forward { src_db, .. } => *src_db,
            Scan::Reverse { dst_db, .. } => *dst_db,
        }
    }

    fn job(&self, keys: Vec<Bytes>) -> Job {
        match self {
            Scan::Forward { src_db, dst_db } => Job::Compare {
                src_db: *src_db,
                dst_db: *dst_db,
                keys,
                first: true,
            },
            Scan::Reverse { dst_db, src_dbs } => Job::Absent {
                dst_db: *dst_db,
                src_dbs: src_dbs.clone(),
                keys,
                recheck: false,
            },
        }
    }
}

/// `(node, db) -> keys` from each master's `INFO keyspace`.
async fn keyspace(side: &Side) -> Result<BTreeMap<(Arc<str>, u64), u64>, CliError> {
    let mut out = BTreeMap::new();
    for node in side.masters() {
        let mut conn = side.open(&node).await?;
        let info = side
            .request(&mut conn, &Command::new("INFO").arg("keyspace"))
            .await?;
        let text = info
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        for (db, keys) in ferry_sink::keyspace(&text) {
            out.insert((node.clone(), db), keys);
        }
    }
    Ok(out)
}

/// The number of databases of a standalone source (`CONFIG GET databases`,
/// 16 when refused).
async fn database_count(side: &Side) -> u64 {
    let Ok(mut conn) = side.open(&side.addr).await else {
        return 16;
    };
    let reply = side
        .request(
            &mut conn,
            &Command::new("CONFIG").arg("GET").arg("databases"),
        )
        .await;
    reply
        .ok()
        .and_then(|r| {
            let items = r.as_elements()?.to_vec();
            let value = items.get(1)?.as_bytes()?.clone();
            std::str::from_utf8(&value).ok()?.parse().ok()
        })
        .unwrap_or(16)
}

async fn verify(args: &VerifyArgs, plan: Plan) -> Result<(), CliError> {
    let started = Instant::now();
    let rate = args.rate;
    let (source, target) = tokio::try_join!(
        Side::connect(
            Role::Source,
            plan.source.addr().into(),
            plan.source.host.clone(),
            plan.source_creds.clone(),
            rate,
        ),
        Side::connect(
            Role::Target,
            plan.target.addr().into(),
            plan.target.host.clone(),
            plan.target_creds.clone(),
            rate,
        )
    )?;
    say(format_args!("source: {}", source.describe()));
    say(format_args!("target: {}", target.describe()));
    let (src_space, tgt_space) = tokio::try_join!(keyspace(&source), keyspace(&target))?;

    // Which databases: those of the source (its URL's /db alone when it has
    // one), and every database number the target uses, whose keys are
    // extra unless a source database maps there.
    let src_dbs: BTreeSet<u64> = src_space
        .keys()
        .map(|(_, db)| *db)
        .filter(|db| plan.source.db.is_none_or(|only| only == *db))
        .collect();
    let universe: BTreeSet<u64> = if source.is_cluster() {
        BTreeSet::from([0])
    } else if let Some(db) = plan.source.db {
        BTreeSet::from([db])
    } else {
        let count = database_count(&source).await;
        src_dbs
            .iter()
            .copied()
            .chain(tgt_space.keys().map(|(_, db)| *db))
            .chain([0])
            .filter(|&db| db < count)
            .collect()
    };
    if target.is_cluster() {
        plan.db_map.check_db0(
            src_dbs.iter().copied(),
            TargetKind::Cluster,
            "the source",
            ", or choose one with a /db in the source URL",
        )?;
    }
    let tgt_dbs: BTreeSet<u64> = tgt_space.keys().map(|(_, db)| *db).collect();
    let mut reverse: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &s in &universe {
        let d = plan.db_map.target(s);
        if tgt_dbs.contains(&d) && (!target.is_cluster() || d == 0) {
            reverse.entry(d).or_default().push(s);
        }
    }
    let forward: Vec<Scan> = src_dbs
        .iter()
        .map(|&s| Scan::Forward {
            src_db: s,
            dst_db: plan.db_map.target(s),
        })
        .collect();
    let reverse: Vec<Scan> = reverse
        .into_iter()
        .map(|(dst_db, srcs)| Scan::Reverse {
            dst_db,
            src_dbs: srcs.into(),
        })
        .collect();

    let mode = match args.mode {
        VerifyModeArg::Full => Mode::Full,
        VerifyModeArg::Quick => Mode::Quick,
    };
    let ctx = Arc::new(Ctx {
        source,
        target,
        mode,
        tolerance_ms: plan.tolerance_ms,
        looked: Mutex::new(BTreeMap::new()),
        compared: AtomicU64::new(0),
        checked: AtomicU64::new(0),
        differing: AtomicU64::new(0),
    });
    for scan in &forward {
        ctx.count(scan.db(), plan.db_map.target(scan.db()), 0, 0);
    }
    let pattern = args
        .key_pattern
        .as_ref()
        .map(|p| Bytes::copy_from_slice(p.as_encoded_bytes()));
    let progress = tokio::spawn(report_progress(ctx.clone(), started));

    // Round 1: everything.
    let (tx, rx) = mpsc::channel::<Job>(args.parallel * 2);
    let mut feeders = JoinSet::new();
    let spaces = [
        (Role::Source, &src_space, &forward),
        (Role::Target, &tgt_space, &reverse),
    ];
    for (role, space, scans) in spaces {
        let masters = ctx.side(role).masters();
        for node in masters {
            let mine: Vec<(Scan, u64)> = scans
                .iter()
                .filter_map(|scan| {
                    let keys = space.get(&(node.clone(), scan.db()))?;
                    Some((scan.clone(), *keys))
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            let feed = Feed {
                ctx: ctx.clone(),
                role,
                node,
                pattern: pattern.clone(),
                tx: tx.clone(),
            };
            match args.sample {
                None => feeders.spawn(feed.scan(mine.into_iter().map(|(s, _)| s).collect())),
                Some(n) => {
                    let total: u64 = space.values().sum();
                    feeders.spawn(feed.sample(mine, n, total))
                }
            };
        }
    }
    drop(tx);
    let mut found = pass(&ctx, args.parallel, feeders, rx).await;
    let mut rounds = 1;
    while let Ok(list) = &found {
        if list.is_empty() || rounds >= args.rounds {
            break;
        }
        rounds += 1;
        let (again, kept) = if list.len() > MAX_RECHECKED_KEYS {
            say(format_args!(
                "{} keys differ: comparing the first {MAX_RECHECKED_KEYS} again, the others are \
                 reported as they are",
                list.len()
            ));
            (
                list[..MAX_RECHECKED_KEYS].to_vec(),
                list[MAX_RECHECKED_KEYS..].to_vec(),
            )
        } else {
            (list.clone(), Vec::new())
        };
        say(format_args!(
            "round {rounds}: comparing {} key(s) again in {:.1} s",
            again.len(),
            plan.interval.as_secs_f64()
        ));
        tokio::time::sleep(plan.interval).await;
        found = recheck(&ctx, args.parallel, again).await.map(|mut f| {
            f.extend(kept);
            f
        });
    }
    progress.abort();
    for side in [&ctx.source, &ctx.target] {
        let redirects = side.redirects.load(Ordering::Relaxed);
        if redirects > 0 {
            say(format_args!(
                "{}: {redirects} redirect(s) (MOVED, ASK) followed",
                side.role.name()
            ));
        }
    }
    let mut found = found?;
    found.sort_by(|a, b| {
        (a.src_db, a.dst_db, &a.key, a.mismatch.reason).cmp(&(
            b.src_db,
            b.dst_db,
            &b.key,
            b.mismatch.reason,
        ))
    });
    found.dedup_by(|a, b| a.src_db == b.src_db && a.dst_db == b.dst_db && a.key == b.key);

    if let Some(path) = &args.report {
        let file = std::fs::File::create(path).map_err(|source| CliError::Open {
            path: path.clone(),
            source,
        })?;
        let mut out = std::io::BufWriter::new(file);
        report::write_report(&mut out, &found).map_err(CliError::Write)?;
    }
    let looked = ctx.looked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let summary = Summary {
        source: ctx.source.describe(),
        target: ctx.target.describe(),
        mode: match mode {
            Mode::Full => "full",
            Mode::Quick => "quick",
        },
        sample: args.sample,
        rounds,
        seconds: started.elapsed().as_secs_f64(),
        looked: &looked,
        found: &found,
        shown: args.show,
    };
    let mut stdout = std::io::stdout().lock();
    match args.format {
        VerifyFormat::Text => summary.write_text(&mut stdout),
        VerifyFormat::Json => summary.write_json(&mut stdout),
    }
    .and_then(|()| stdout.flush())
    .map_err(CliError::Write)?;
    if found.is_empty() {
        Ok(())
    } else {
        Err(CliError::Incomplete(format!(
            "{} key(s) differ between the source and the target{}",
            found.len(),
            match &args.report {
                Some(path) => format!(" (all listed in {})", path.display()),
                None => String::new(),
            }
        )))
    }
}

/// A progress line on stderr now and then.
async fn report_progress(ctx: Arc<Ctx>, started: Instant) {
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let compared = ctx.compared.load(Ordering::Relaxed);
        say(format_args!(
            "verify: {compared} key(s) compared ({:.0}/s), {} target key(s) checked, {} differ \
             so far",
            compared as f64 / started.elapsed().as_secs_f64().max(0.001),
            ctx.checked.load(Ordering::Relaxed),
            ctx.differing.load(Ordering::Relaxed)
        ));
    }
}

/// Runs the workers on what the feeders send; the differences found.
async fn pass(
    ctx: &Arc<Ctx>,
    parallel: usize,
    mut feeders: JoinSet<Result<(), CliError>>,
    rx: mpsc::Receiver<Job>,
) -> Result<Vec<Found>, CliError> {
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut workers = JoinSet::new();
    for _ in 0..parallel {
        workers.spawn(work::work(ctx.clone(), rx.clone()));
    }
    drop(rx);
    let mut found = Vec::new();
    let mut failure = None;
    loop {
        let joined = tokio::select! {
            Some(r) = workers.join_next() => r.map(|r| r.map(|f| found.extend(f))),
            Some(r) = feeders.join_next() => r,
            else => break,
        };
        let error = match joined {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(e) => CliError::Check(format!("a verify task failed: {e}")),
        };
        failure = Some(error);
        break;
    }
    if let Some(e) = failure {
        workers.shutdown().await;
        feeders.shutdown().await;
        return Err(e);
    }
    Ok(found)
}

/// Compares the keys found in the round before again.
async fn recheck(
    ctx: &Arc<Ctx>,
    parallel: usize,
    found: Vec<Found>,
) -> Result<Vec<Found>, CliError> {
    // Grouped by databases and origin, in batches.
    let mut jobs: Vec<Job> = Vec::new();
    let mut forward: BTreeMap<(u64, u64), Vec<Bytes>> = BTreeMap::new();
    let mut absent: BTreeMap<(u64, Vec<u64>), Vec<Bytes>> = BTreeMap::new();
    for f in found {
        match f.origin {
            Origin::Forward => forward.entry((f.src_db, f.dst_db)).or_default().push(f.key),
            Origin::Reverse(srcs) => absent
                .entry((f.dst_db, srcs.to_vec()))
                .or_default()
                .push(f.key),
        }
    }
    for ((src_db, dst_db), keys) in forward {
        for chunk in keys.chunks(BATCH_KEYS) {
            jobs.push(Job::Compare {
                src_db,
                dst_db,
                keys: chunk.to_vec(),
                first: false,
            });
        }
    }
    for ((dst_db, srcs), keys) in absent {
        let src_dbs: Arc<[u64]> = srcs.into();
        for chunk in keys.chunks(BATCH_KEYS) {
            jobs.push(Job::Absent {
                dst_db,
                src_dbs: src_dbs.clone(),
                keys: chunk.to_vec(),
                recheck: true,
            });
        }
    }
    let (tx, rx) = mpsc::channel::<Job>(parallel * 2);
    let mut feeders = JoinSet::new();
    feeders.spawn(async move {
        for job in jobs {
            if tx.send(job).await.is_err() {
                break;
            }
        }
        Ok(())
    });
    ctx.differing.store(0, Ordering::Relaxed);
    pass(ctx, parallel, feeders, rx).await
}
