//! `ferry sync --source URL --target URL`: a replica of the source that
//! writes the snapshot and then the command stream to the target.
//!
//! The snapshot goes through the same planner as `ferry restore` (RESTORE or
//! replay per key); the command stream is applied in the source's order: one
//! connection to a standalone target, one per master on a cluster (where a
//! key's commands keep their order). Keys are found with the source's own
//! `COMMAND` table.

use crate::args::{SyncArgs, WriteModeArg};
use crate::error::CliError;
use crate::run::common::{
    ConflictGuard, DbMap, FAILURES_SHOWN, conflict, connect_target, now_ms, plan_mode,
    print_failures, require_empty, say,
};
use crate::target::{TARGET_PASSWORD_ENV, TargetUrl, resolve_password};
use bytes::BytesMut;
use ferry_rdb::Config as RdbConfig;
use ferry_replica::{Config as ReplicaConfig, Event, Replica};
use ferry_resp::{Command, Frame, RawCommand};
use ferry_sink::plan::Options;
use ferry_sink::{Credentials, Expect, KeyTable, Planner, Slot, TargetKind, Write, WriteMode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

/// Environment variable holding the source's password.
pub const SOURCE_PASSWORD_ENV: &str = "FERRY_SOURCE_PASSWORD";
/// How long to wait for the source to connect and answer.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the applied offset is acknowledged to the source.
const ACK_INTERVAL: Duration = Duration::from_secs(1);

/// Runs `ferry sync`.
///
/// # Errors
/// Bad arguments, an unreachable or refusing source or target, a failed
/// check, or commands that could not be applied.
pub fn run(args: &SyncArgs) -> Result<(), CliError> {
    let source = TargetUrl::parse(&args.source).map_err(CliError::Usage)?;
    let source_password = resolve_password(
        &source,
        args.source_password_file.as_deref(),
        std::env::var(SOURCE_PASSWORD_ENV).ok(),
        None,
    )
    .map_err(CliError::Usage)?;
    let target = TargetUrl::parse(&args.target).map_err(CliError::Usage)?;
    let target_password = resolve_password(
        &target,
        args.target_password_file.as_deref(),
        std::env::var(TARGET_PASSWORD_ENV).ok(),
        None,
    )
    .map_err(CliError::Usage)?;
    let db_map = DbMap::new(&args.db_map, target.db)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    runtime.block_on(sync(
        args,
        &source,
        source_password,
        &target,
        target_password,
        &db_map,
    ))
}

/// One request to the source on a connection of its own.
async fn source_query(
    url: &TargetUrl,
    password: Option<&str>,
    cmd: &Command,
) -> Result<Frame, CliError> {
    let credentials = Credentials {
        user: url.user.clone(),
        password: password.map(str::to_owned),
        connect_timeout: SOURCE_TIMEOUT,
        io_timeout: SOURCE_TIMEOUT,
    };
    ferry_sink::query(&url.addr(), &credentials, cmd)
        .await
        .map_err(|e| CliError::Check(format!("source: {e}")))
}

/// A command the stream carries that cannot be applied as it is.
struct Unapplied {
    offset: u64,
    command: String,
    keys: Vec<String>,
    why: String,
}

async fn sync(
    args: &SyncArgs,
    source: &TargetUrl,
    source_password: Option<String>,
    target: &TargetUrl,
    target_password: Option<String>,
    db_map: &DbMap,
) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut sink = connect_target(
        target,
        target_password,
        args.target_kind,
        args.parallel.max(1),
    )
    .await?;
    let kind = sink.kind();
    let (mode, caps) = plan_mode(&sink, WriteModeArg::Auto)?;
    let table = KeyTable::from_command_reply(
        &source_query(source, source_password.as_deref(), &Command::new("COMMAND")).await?,
    )
    .map_err(|e| CliError::Check(format!("source COMMAND: {e}")))?;

    // Checks before anything is written.
    if kind != TargetKind::Standalone {
        let info = source_query(
            source,
            source_password.as_deref(),
            &Command::new("INFO").arg("keyspace"),
        )
        .await?;
        let info = info
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let dbs = ferry_sink::keyspace(&info).map(|(db, _)| db);
        db_map.check_db0(dbs, kind, "the source", "")?;
    }
    require_empty(&sink, args.on_conflict).await?;

    let config = ReplicaConfig {
        user: source.user.clone(),
        password: source_password,
        listening_port: 0,
        resume: None,
    };
    let mut replica = Replica::connect(&source.addr(), config, SOURCE_TIMEOUT)
        .await
        .map_err(|e| CliError::Check(e.to_string()))?;
    let mut options = Options::new(caps, now_ms());
    options.mode = mode;
    options.conflict = conflict(args.on_conflict);
    options.elements_from_raw = true;
    let mut planner = Planner::new(options);
    let mut rdb = ferry_rdb::Decoder::with_config(RdbConfig {
        raw: true,
        skip_values: true,
        ..RdbConfig::default()
    });
    let mut rdb_buf = BytesMut::new();
    let mut writes = Vec::new();
    let mut db = 0u64;
    let mut phase = "connecting";
    let mut commands = 0u64;
    let mut applied = 0u64;
    let mut unapplied: Vec<Unapplied> = Vec::new();
    let mut unapplied_count = 0u64;
    let mut split_transactions = 0u64;
    let started = Instant::now();
    let mut last_ack = Instant::now();
    let mut last_status = Instant::now();
    let status_every = Duration::from_secs(args.status_interval.max(1));
    say(format_args!(
        "sync: {} -> {} ({:?} target)",
        source.addr(),
        target.addr(),
        kind
    ));
    let mut guard = ConflictGuard::new(args.on_conflict);
    let mut snapshot_keys = 0;
    // Status lines and ACKs, events or not: a master starts streaming to a
    // replica that got a diskless snapshot only on an ACK that comes after
    // it saw the transfer end, which the first ACK may precede.
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let outcome: Result<(), CliError> = 'events: loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        let event = tokio::select! {
            event = replica.next_event() => event,
            _ = tick.tick() => {
                if last_ack.elapsed() >= ACK_INTERVAL && replica.session().is_streaming() {
                    last_ack = Instant::now();
                    if let Err(e) = replica.ack(applied).await {
                        break Err(CliError::Check(format!("source: {e}")));
                    }
                }
                if last_status.elapsed() >= status_every {
                    last_status = Instant::now();
                    say(format_args!(
                        "sync: {phase}, offset {}, {} keys written, {commands} commands applied",
                        replica.session().offset(),
                        sink.keys_written()
                    ));
                }
                continue;
            }
        };
        let event = match event {
            Ok(Some(event)) => event,
            Ok(None) => break Err(CliError::Check("the source closed the connection".into())),
            Err(e) => break Err(CliError::Check(format!("source: {e}"))),
        };
        match event {
            Event::FullResync { replid, offset } => {
                phase = "full-sync";
                applied = offset;
                say(format_args!(
                    "sync: full copy from {replid} at offset {offset}"
                ));
            }
            Event::Continue { replid } => {
                phase = "incremental";
                say(format_args!("sync: continuing {replid}"));
            }
            Event::SnapshotStart { .. } => {}
            Event::Snapshot(_) | Event::SnapshotEnd => {
                let end = event == Event::SnapshotEnd;
                if let Event::Snapshot(chunk) = event {
                    rdb_buf.extend_from_slice(&chunk);
                }
                loop {
                    let item = match rdb.decode(&mut rdb_buf) {
                        Ok(Some(item)) => item,
                        Ok(None) => break,
                        Err(e) => {
                            break 'events Err(CliError::Check(format!(
                                "the source's snapshot: {e}"
                            )));
                        }
                    };
                    if let Err(e) = planner.handle_item(item, &mut writes) {
                        break 'events Err(CliError::Check(format!("the source's snapshot: {e}")));
                    }
                }
                let summary = end.then(|| planner.finish(&mut writes));
                while let Some(note) = planner.poll_note() {
                    say(format_args!("warning: {note}"));
                }
                for mut write in writes.drain(..) {
                    write.db = db_map.target(write.db);
                    let written = match guard.admit(&mut sink, &write).await {
                        Ok(true) => sink.write(write).await,
                        Ok(false) => Ok(()),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = written {
                        break 'events Err(CliError::Target(e));
                    }
                }
                let Some(summary) = summary else { continue };
                let report = match sink.flush().await {
                    Ok(report) => report,
                    Err(e) => break Err(CliError::Target(e)),
                };
                snapshot_keys = report.keys_written();
                say(format_args!(
                    "sync: snapshot written: {snapshot_keys} keys ({} by RESTORE, {} by commands), \
                     {} expired skipped, in {:.1} s",
                    report.keys_restored,
                    report.keys_replayed,
                    summary.expired_keys_skipped,
                    started.elapsed().as_secs_f64()
                ));
                if report.failed > 0 {
                    break Err(CliError::Incomplete(format!(
                        "{} command(s) of the snapshot were refused by the target (listed above)",
                        report.failed
                    )));
                }
                // Stream writes have no key on a standalone target or a
                // proxy: they all take the first connection, in order.
                phase = "incremental";
            }
            Event::Command { command, offset } => {
                commands += 1;
                match apply(&command, kind, &table, args, db_map, &mut db) {
                    Apply::Skip => {}
                    Apply::SplitTransaction => split_transactions += 1,
                    Apply::Stop(why) => break Err(CliError::Check(why)),
                    Apply::Unapplied(why, keys) => {
                        unapplied_count += 1;
                        if unapplied.len() < FAILURES_SHOWN {
                            unapplied.push(Unapplied {
                                offset,
                                command: String::from_utf8_lossy(command.name()).into_owned(),
                                keys,
                                why,
                            });
                        }
                    }
                    Apply::Writes(list) => {
                        for write in list {
                            if let Err(e) = sink.write(write).await {
                                break 'events Err(CliError::Target(e));
                            }
                        }
                    }
                }
                applied = offset;
            }
        }
    };
    let report = match sink.flush().await {
        Ok(report) => report,
        Err(e) => {
            say(format_args!("error: target: {e}"));
            sink.report()
        }
    };
    say(format_args!(
        "sync: stopped at offset {applied}: {snapshot_keys} keys written by the snapshot, \
         {commands} commands received, {} refused by the target, {unapplied_count} not \
         applicable, {split_transactions} transactions applied as separate commands",
        report.failed
    ));
    print_failures(&report);
    for u in &unapplied {
        say(format_args!(
            "not applied: {} at offset {} (keys {}): {}",
            u.command,
            u.offset,
            u.keys.join(", "),
            u.why
        ));
    }
    outcome?;
    if report.failed > 0 || unapplied_count > 0 {
        return Err(CliError::Incomplete(format!(
            "{} command(s) were not applied (listed above)",
            report.failed + unapplied_count
        )));
    }
    Ok(())
}

/// What to do with one command of the stream.
enum Apply {
    Skip,
    SplitTransaction,
    Writes(Vec<Write>),
    Unapplied(String, Vec<String>),
    Stop(String),
}

fn write_of(db: u64, key: Option<&[u8]>, command: Command) -> Write {
    Write {
        db,
        key: key.map(bytes::Bytes::copy_from_slice),
        command,
        mode: WriteMode::Commands,
        expect: Expect::Success,
        last_of_key: true,
    }
}

fn apply(
    raw: &RawCommand,
    kind: TargetKind,
    table: &KeyTable,
    args: &SyncArgs,
    db_map: &DbMap,
    db: &mut u64,
) -> Apply {
    let target_db = db_map.target(*db);
    if raw.is("select") {
        match raw
            .arg(0)
            .and_then(|a| std::str::from_utf8(a).ok()?.parse::<u64>().ok())
        {
            Some(n) => *db = n,
            None => return Apply::Stop("the source sent a SELECT without a database".into()),
        }
        return Apply::Skip;
    }
    if raw.is("ping") || raw.is("replconf") {
        return Apply::Skip;
    }
    if kind != TargetKind::Standalone && (raw.is("multi") || raw.is("exec")) {
        return Apply::SplitTransaction;
    }
    if !args.allow_flush && (raw.is("flushall") || raw.is("flushdb")) {
        return Apply::Stop(format!(
            "the source ran {}: stopped, as it would empty the target too (--allow-flush \
             applies it)",
            String::from_utf8_lossy(raw.name()).to_uppercase()
        ));
    }
    let command = Command::from(raw);
    if kind != TargetKind::Cluster {
        return Apply::Writes(vec![write_of(target_db, None, command)]);
    }
    if target_db != 0 {
        return Apply::Stop(format!(
            "the source writes to database {}, which a cluster does not have: map it with \
             --db-map {}:0",
            *db, *db
        ));
    }
    let keys = match table.keys(raw) {
        Ok(keys) => keys,
        Err(e) => return Apply::Unapplied(e.to_string(), Vec::new()),
    };
    let shown = || keys.iter().map(|k| k.escape_ascii().to_string()).collect();
    match keys.split_first() {
        // No key (FUNCTION LOAD, SCRIPT LOAD, FLUSHALL ...): every master.
        None => Apply::Writes(vec![write_of(0, None, command)]),
        Some((first, rest)) => {
            let slot = Slot::of(first);
            if rest.iter().all(|k| Slot::of(k) == slot) {
                return Apply::Writes(vec![write_of(0, Some(first), command)]);
            }
            // Keys in several slots: the commands that are one write per key
            // are split; the others cannot be applied on a cluster.
            if raw.is("del") || raw.is("unlink") || raw.is("touch") {
                return Apply::Writes(
                    keys.iter()
                        .map(|k| {
                            write_of(
                                0,
                                Some(k),
                                Command::new(raw.name().to_vec()).arg(k.to_vec()),
                            )
                        })
                        .collect(),
                );
            }
            if raw.is("mset") {
                return Apply::Writes(
                    command
                        .args()
                        .chunks(2)
                        .filter(|kv| kv.len() == 2)
                        .map(|kv| {
                            write_of(
                                0,
                                Some(&kv[0]),
                                Command::new("MSET").arg(kv[0].clone()).arg(kv[1].clone()),
                            )
                        })
                        .collect(),
                );
            }
            Apply::Unapplied(
                "its keys are in several cluster slots, and it cannot be split".into(),
                shown(),
            )
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
