//! `ferry sync --source URL --target URL`: a replica of the source that
//! writes the snapshot and then the command stream to the target.
//!
//! The snapshot goes through the same planner as `ferry restore` (RESTORE or
//! replay per key); the command stream is applied in the source's order: one
//! connection to a standalone target, one per master on a cluster (where a
//! key's commands keep their order). Keys are found with the source's own
//! `COMMAND` table.

use crate::args::{OnConflict, SyncArgs, TargetKindArg};
use crate::error::CliError;
use crate::run::restore::{now_ms, parse_db_map, require_empty, say};
use crate::target::{TARGET_PASSWORD_ENV, TargetUrl, resolve_password};
use bytes::BytesMut;
use ferry_rdb::Config as RdbConfig;
use ferry_replica::{Config as ReplicaConfig, Event, Replica};
use ferry_resp::{Command, Decoder, Frame, RawCommand};
use ferry_sink::plan::{Conflict, Options};
use ferry_sink::{
    Credentials, Expect, KeyTable, Planner, Sink, SinkConfig, Slot, TargetCaps, TargetKind, Write,
    WriteMode,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Environment variable holding the source's password.
pub const SOURCE_PASSWORD_ENV: &str = "FERRY_SOURCE_PASSWORD";
/// How long to wait for the source to connect and answer.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the applied offset is acknowledged to the source.
const ACK_INTERVAL: Duration = Duration::from_secs(1);
/// Commands that cannot be applied, listed on stderr at most.
const FAILURES_SHOWN: usize = 20;

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
    let db_map = parse_db_map(&args.db_map)?;
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

/// One request on a fresh connection to the source (for `COMMAND` and
/// `INFO`): connect, authenticate, send, read one reply.
async fn source_query(
    url: &TargetUrl,
    password: Option<&str>,
    cmd: &Command,
) -> Result<Frame, CliError> {
    let addr = url.addr();
    let fail = |what: String| CliError::Check(format!("source {addr}: {what}"));
    let mut stream = tokio::time::timeout(SOURCE_TIMEOUT, TcpStream::connect(&addr))
        .await
        .map_err(|_| fail("no connection in time".into()))?
        .map_err(|e| fail(format!("cannot connect: {e}")))?;
    let mut out = BytesMut::new();
    if let Some(password) = password {
        let mut auth = Command::new("AUTH");
        if let Some(user) = &url.user {
            auth.push_arg(user.as_str());
        }
        auth.push_arg(password);
        auth.encode(&mut out);
    }
    cmd.encode(&mut out);
    stream
        .write_all(&out)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut replies = Vec::new();
    let wanted = 1 + usize::from(password.is_some());
    while replies.len() < wanted {
        if let Some((frame, _)) = decoder.decode(&mut buf).map_err(|e| fail(e.to_string()))? {
            replies.push(frame);
            continue;
        }
        let read = tokio::time::timeout(SOURCE_TIMEOUT, stream.read_buf(&mut buf))
            .await
            .map_err(|_| fail("no reply in time".into()))?
            .map_err(|e| fail(e.to_string()))?;
        if read == 0 {
            return Err(fail("closed the connection".into()));
        }
    }
    if password.is_some()
        && let Some(Frame::Error(e)) = replies.first()
    {
        return Err(fail(format!("AUTH failed: {}", String::from_utf8_lossy(e))));
    }
    match replies.pop() {
        Some(Frame::Error(e)) => Err(fail(format!(
            "{} refused: {}",
            String::from_utf8_lossy(cmd.name()),
            String::from_utf8_lossy(&e)
        ))),
        Some(frame) => Ok(frame),
        None => Err(fail("no reply".into())),
    }
}

/// Where each source database goes.
fn map_db(map: &BTreeMap<u64, u64>, default: Option<u64>, db: u64) -> u64 {
    map.get(&db).copied().or(default).unwrap_or(db)
}

/// A command the stream carries that cannot be applied as it is.
struct Unapplied {
    offset: u64,
    command: String,
    keys: Vec<String>,
    why: String,
}

async fn connect_sink(
    url: &TargetUrl,
    password: Option<String>,
    kind: TargetKindArg,
    parallel: usize,
) -> Result<Sink, CliError> {
    let mut config = SinkConfig::new(url.addr());
    config.credentials = Credentials {
        user: url.user.clone(),
        password,
        ..Credentials::default()
    };
    config.kind = match kind {
        TargetKindArg::Auto => None,
        TargetKindArg::Standalone => Some(TargetKind::Standalone),
        TargetKindArg::Cluster => Some(TargetKind::Cluster),
        TargetKindArg::Proxy => Some(TargetKind::Proxy),
    };
    config.parallel = parallel;
    Sink::connect(config).await.map_err(CliError::Target)
}

async fn sync(
    args: &SyncArgs,
    source: &TargetUrl,
    source_password: Option<String>,
    target: &TargetUrl,
    target_password: Option<String>,
    db_map: &BTreeMap<u64, u64>,
) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut sink = connect_sink(
        target,
        target_password.clone(),
        args.target_kind,
        args.parallel.max(1),
    )
    .await?;
    let kind = sink.kind();
    let caps = TargetCaps::from_info(sink.server_info()).unwrap_or(TargetCaps::redis(2, 8, 0));
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
        let info = match &info {
            Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => {
                String::from_utf8_lossy(b).into_owned()
            }
            _ => String::new(),
        };
        let off: Vec<u64> = info
            .lines()
            .filter_map(|l| l.strip_prefix("db")?.split(':').next()?.parse::<u64>().ok())
            .filter(|&db| map_db(db_map, target.db, db) != 0)
            .collect();
        if !off.is_empty() {
            let fix: Vec<String> = off.iter().map(|db| format!("--db-map {db}:0")).collect();
            return Err(CliError::Check(format!(
                "the source has keys in database(s) other than 0, and this target has only \
                 database 0: map them with {}",
                fix.join(" ")
            )));
        }
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
    options.conflict = match args.on_conflict {
        OnConflict::Fail => Conflict::Fail,
        OnConflict::Replace => Conflict::Replace,
        OnConflict::Skip => Conflict::Skip,
    };
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
    let outcome: Result<(), CliError> = loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        // Every second, events or not: a master starts streaming to a
        // replica that got a diskless snapshot only on an ACK that comes
        // after it saw the transfer end, which the first ACK may precede.
        if last_ack.elapsed() >= ACK_INTERVAL && replica.session().is_streaming() {
            last_ack = Instant::now();
            if let Err(e) = replica.ack(applied).await {
                break Err(CliError::Check(format!("source: {e}")));
            }
        }
        // The source sends a PING every 10 s at least: waiting here is
        // bounded, and a signal is seen within that.
        let event = tokio::select! {
            event = replica.next_event() => event,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if last_status.elapsed() >= status_every {
                    last_status = Instant::now();
                    let r = sink.report();
                    say(format_args!(
                        "sync: {phase}, offset {}, {} keys written, {commands} commands applied",
                        replica.session().offset(),
                        r.keys_written()
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
            Event::Snapshot(chunk) => {
                rdb_buf.extend_from_slice(&chunk);
                loop {
                    let item = match rdb.decode(&mut rdb_buf) {
                        Ok(Some(item)) => item,
                        Ok(None) => break,
                        Err(e) => {
                            return Err(CliError::Check(format!("the source's snapshot: {e}")));
                        }
                    };
                    planner
                        .handle_item(item, &mut writes)
                        .map_err(|e| CliError::Check(format!("the source's snapshot: {e}")))?;
                }
                while let Some(note) = planner.poll_note() {
                    say(format_args!("warning: {note}"));
                }
                for mut write in writes.drain(..) {
                    write.db = map_db(db_map, target.db, write.db);
                    sink.write(write).await.map_err(CliError::Target)?;
                }
            }
            Event::SnapshotEnd => {
                let summary = planner.finish(&mut writes);
                for mut write in writes.drain(..) {
                    write.db = map_db(db_map, target.db, write.db);
                    sink.write(write).await.map_err(CliError::Target)?;
                }
                let report = sink.flush().await.map_err(CliError::Target)?;
                say(format_args!(
                    "sync: snapshot written: {} keys ({} by RESTORE, {} by commands), {} expired \
                     skipped, in {:.1} s",
                    report.keys_written(),
                    report.keys_restored,
                    report.keys_replayed,
                    summary.expired_keys_skipped,
                    started.elapsed().as_secs_f64()
                ));
                if report.failed > 0 {
                    print_failures(&report.failures);
                    break Err(CliError::Incomplete(format!(
                        "{} command(s) of the snapshot were refused by the target (listed above)",
                        report.failed
                    )));
                }
                if kind == TargetKind::Standalone && args.parallel > 1 {
                    // The stream is applied over one connection, in order.
                    sink =
                        connect_sink(target, target_password.clone(), args.target_kind, 1).await?;
                }
                phase = "incremental";
            }
            Event::Command { command, offset } => {
                commands += 1;
                match apply(&command, kind, &table, args, db_map, target.db, &mut db) {
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
                            sink.write(write).await.map_err(CliError::Target)?;
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
        "sync: stopped at offset {applied}: {} keys written by the snapshot, {commands} commands \
         received, {} refused by the target, {unapplied_count} not applicable, {split_transactions} \
         transactions applied as separate commands",
        report.keys_written(),
        report.failed
    ));
    print_failures(&report.failures);
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

fn print_failures(failures: &[ferry_sink::Failure]) {
    for f in failures.iter().take(FAILURES_SHOWN) {
        let key = f.key.as_deref().map_or("(no key)".to_owned(), |k| {
            format!("\"{}\"", k.escape_ascii())
        });
        say(format_args!(
            "not written: db {} key {key}: {} refused: {}",
            f.db, f.command, f.message
        ));
    }
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
    db_map: &BTreeMap<u64, u64>,
    default_db: Option<u64>,
    db: &mut u64,
) -> Apply {
    let name = raw.name().to_ascii_lowercase();
    let target_db = map_db(db_map, default_db, *db);
    match &name[..] {
        b"select" => {
            match raw
                .arg(0)
                .and_then(|a| std::str::from_utf8(a).ok()?.parse::<u64>().ok())
            {
                Some(n) => *db = n,
                None => return Apply::Stop("the source sent a SELECT without a database".into()),
            }
            return Apply::Skip;
        }
        b"ping" | b"replconf" => return Apply::Skip,
        b"multi" | b"exec" if kind != TargetKind::Standalone => return Apply::SplitTransaction,
        b"flushall" | b"flushdb" if !args.allow_flush => {
            return Apply::Stop(format!(
                "the source ran {}: stopped, as it would empty the target too (--allow-flush \
                 applies it)",
                String::from_utf8_lossy(raw.name()).to_uppercase()
            ));
        }
        _ => {}
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
            match &name[..] {
                b"del" | b"unlink" | b"touch" => Apply::Writes(
                    keys.iter()
                        .map(|k| {
                            write_of(
                                0,
                                Some(k),
                                Command::new(raw.name().to_vec()).arg(k.to_vec()),
                            )
                        })
                        .collect(),
                ),
                b"mset" => Apply::Writes(
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
                ),
                _ => Apply::Unapplied(
                    "its keys are in several cluster slots, and it cannot be split".into(),
                    shown(),
                ),
            }
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
