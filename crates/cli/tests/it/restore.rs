//! `ferry restore` against real servers: standalone and 3-master cluster
//! targets, across versions, and every way it must refuse or fail loudly.

use crate::support::{
    ChildGuard, cluster_snapshot, code, corpus_file, digest, ferry, rdb_files, stderr,
};
use ferry_testkit::dataset::{Snapshot, Value, fill_varied, snapshot};
use ferry_testkit::{RedisCluster, RedisServer, Reply, ServerKind, free_port};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

fn restore(file: &Path, target: &str, extra: &[&str]) -> Output {
    ferry()
        .arg("restore")
        .arg(file)
        .args(["--target", target, "--progress", "log"])
        .args(extra)
        .stdin(Stdio::null())
        .env_remove("FERRY_TARGET_PASSWORD")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(code(out), 0, "ferry failed:\n{err}");
    err
}

fn snap(server: &RedisServer) -> Snapshot {
    snapshot(&mut server.connect().unwrap()).unwrap()
}

fn assert_same(source: &Snapshot, target: &Snapshot) {
    let diff = source.diff(target, 1000);
    assert!(diff.is_empty(), "differences:\n{}", diff.join("\n"));
}

/// A source filled with every type and encoding, saved.
fn varied_source(seed: u64) -> (RedisServer, std::path::PathBuf) {
    let source = RedisServer::start().unwrap();
    fill_varied(&mut source.connect().unwrap(), seed).unwrap();
    let rdb = source.save_rdb().unwrap();
    (source, rdb)
}

#[test]
fn restores_every_type_into_standalone_by_restore_and_by_commands() {
    let (source, rdb) = varied_source(41);
    for mode in ["auto", "commands"] {
        let target = RedisServer::start().unwrap();
        let err = ok(&restore(&rdb, &target.addr(), &["--mode", mode]));
        assert!(err.contains("0 command(s) refused"), "{err}");
        assert_eq!(digest(&source), digest(&target), "--mode {mode}");
        if mode == "auto" {
            assert!(err.contains(" 0 by commands"), "{err}");
            assert_same(&snap(&source), &snap(&target));
        } else {
            // Replay cannot recreate consumers' times nor a pending entry
            // whose stream entry was deleted (as for `dump --format resp`).
            crate::roundtrip::assert_same_data(&source, &target, 0);
        }
    }
}

#[test]
fn restores_the_generated_dumps_of_every_version_into_redis_7_0() {
    let dir = corpus_file("generated/expected.json");
    let dir = dir.parent().unwrap();
    for name in [
        "redis-2.8.24_seed17111.rdb",
        "redis-3.2.13_seed17112.rdb",
        "redis-4.0.14_seed17113.rdb",
        "redis-5.0.14_seed17114.rdb",
        "redis-6.2.5_seed4.rdb",
        "redis-7.0.15_default_seed1.rdb",
        "redis-7.0.15_rdbcompression-no_seed2.rdb",
    ] {
        let file = dir.join(name);
        // What Redis 7.0 itself makes of the file.
        let reference = RedisServer::builder().rdb(&file).start().unwrap();
        let target = RedisServer::start().unwrap();
        ok(&restore(&file, &target.addr(), &[]));
        assert_eq!(digest(&reference), digest(&target), "{name}");
    }
}

#[test]
fn a_7_4_dump_goes_into_6_2_and_valkey_9_and_7_2_into_7_0() {
    let dir = corpus_file("generated/expected.json");
    let dir = dir.parent().unwrap();
    let file74 = dir.join("redis-7.4.1_hfe_seed5.rdb");
    let reference = RedisServer::builder()
        .version(ServerKind::Redis74)
        .rdb(&file74)
        .start()
        .unwrap();
    let expected = snap(&reference);
    for kind in [ServerKind::Redis62, ServerKind::Valkey91] {
        let target = RedisServer::start_version(kind).unwrap();
        let out = restore(&file74, &target.addr(), &["--skip-unsupported"]);
        let err = ok(&out);
        let got = snap(&target);
        if kind == ServerKind::Redis62 {
            // No hash field TTLs before 7.4: the fields land, their TTLs are
            // reported as left out.
            assert!(err.contains("without their TTL"), "{err}");
            assert!(!err.contains(" 0 by RESTORE"), "{err}");
        }
        assert_same_across_versions(&expected, &got);
    }
    let file72 = dir.join("redis-7.2.6_seed17115.rdb");
    let reference = RedisServer::builder()
        .version(ServerKind::Redis74)
        .rdb(&file72)
        .start()
        .unwrap();
    let target = RedisServer::start().unwrap();
    ok(&restore(&file72, &target.addr(), &[]));
    assert_same_across_versions(&snap(&reference), &snap(&target));
}

/// Same data, but for what an older target cannot hold and what command
/// replay cannot recreate: a pending entry whose stream entry was deleted
/// (XCLAIM ignores it), in the `g-pending` group of `stream:main`.
fn assert_same_across_versions(expected: &Snapshot, got: &Snapshot) {
    let diff = without_7_x_metadata(expected).diff(&without_7_x_metadata(got), 1000);
    let pending_group =
        "stream:main\": group Group { name: [103, 45, 112, 101, 110, 100, 105, 110, 103]";
    assert!(
        diff.iter().all(|d| d.contains(pending_group)),
        "differences:\n{}",
        diff.join("\n")
    );
}

/// What a Redis 6.2 cannot hold: hash field TTLs (7.4), the stream
/// counters and consumer active times of 7.0/7.2; and consumers' seen times,
/// which command replay sets to the time of the replay.
fn without_7_x_metadata(snapshot: &Snapshot) -> Snapshot {
    let mut out = snapshot.clone();
    for entry in out.keys.values_mut() {
        entry.field_expire_at_ms.clear();
        if let Value::Stream(stream) = &mut entry.value {
            stream.first_id = None;
            stream.max_deleted_id = None;
            stream.entries_added = None;
            for group in &mut stream.groups {
                group.entries_read = None;
                for consumer in &mut group.consumers {
                    consumer.active_time_ms = None;
                    consumer.seen_time_ms = 0;
                }
            }
        }
    }
    out
}

#[test]
fn restores_into_a_three_master_cluster_with_databases_mapped() {
    let (source, rdb) = varied_source(42);
    let cluster = RedisCluster::start(3).unwrap();
    let refused = restore(&rdb, &cluster.addr(), &[]);
    assert_eq!(code(&refused), 1);
    let err = stderr(&refused);
    assert!(err.contains("--db-map 1:0 --db-map 2:0"), "{err}");
    assert_eq!(
        cluster.dbsize_total().unwrap(),
        0,
        "nothing written before refusing"
    );
    ok(&restore(
        &rdb,
        &cluster.addr(),
        &["--db-map", "1:0", "--db-map", "2:0"],
    ));
    let got = cluster_snapshot(&cluster);
    let mut expected = Snapshot::default();
    for ((_, key), entry) in snap(&source).keys {
        assert!(
            expected.keys.insert((0, key), entry).is_none(),
            "key collision"
        );
    }
    assert_same(&expected, &got);
}

#[test]
fn refuses_a_non_empty_target_unless_told_and_then_replaces_or_skips() {
    let (_source, rdb) = varied_source(43);
    let target = RedisServer::start().unwrap();
    target.cmd(&["SET", "db0:string:0", "mine"]).unwrap();
    let refused = restore(&rdb, &target.addr(), &[]);
    assert_eq!(code(&refused), 1);
    assert!(
        stderr(&refused).contains("already holds 1 key"),
        "{}",
        stderr(&refused)
    );
    let keys_before = target.cmd(&["DBSIZE"]).unwrap().as_int();
    assert_eq!(keys_before, Some(1));
    let skip = ok(&restore(&rdb, &target.addr(), &["--on-conflict", "skip"]));
    assert!(skip.contains("existing key(s) left as they were"), "{skip}");
    let replace = ok(&restore(
        &rdb,
        &target.addr(),
        &["--on-conflict", "replace"],
    ));
    assert!(replace.contains("0 command(s) refused"), "{replace}");
}

#[test]
fn replayed_keys_that_exist_are_skipped_whole_not_merged() {
    let (source, rdb) = varied_source(48);
    // A list of the source that the target already holds, as a string.
    let list = source
        .cmd(&["SCAN", "0", "TYPE", "list", "COUNT", "1000"])
        .unwrap()
        .into_array()
        .unwrap()[1]
        .as_array()
        .unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();
    let target = RedisServer::start().unwrap();
    target.cmd(&["SET", &list, "mine"]).unwrap();
    let err = ok(&restore(
        &rdb,
        &target.addr(),
        &["--mode", "commands", "--on-conflict", "skip"],
    ));
    assert!(err.contains("1 existing key(s) left as they were"), "{err}");
    assert_eq!(target.cmd(&["GET", &list]).unwrap().as_str(), Some("mine"));
    let keys = |s: &RedisServer| s.cmd(&["DBSIZE"]).unwrap().as_int();
    assert_eq!(keys(&target), keys(&source));
}

#[test]
fn the_fail_guard_of_replayed_keys_refuses_an_existing_key_by_name() {
    use ferry_cli::run::common::ABSENT_OR_FAIL_SCRIPT;
    let target = RedisServer::start().unwrap();
    let absent = target
        .cmd(&["EVAL", ABSENT_OR_FAIL_SCRIPT, "1", "k"])
        .unwrap();
    assert_eq!(absent.as_int(), Some(0));
    target.cmd(&["SET", "k", "v"]).unwrap();
    let exists = target
        .cmd(&["EVAL", ABSENT_OR_FAIL_SCRIPT, "1", "k"])
        .unwrap();
    assert!(
        matches!(&exists, Reply::Error(e) if e.starts_with("BUSYKEY")),
        "{exists:?}"
    );
    // And a replayed restore into an empty target passes the guard.
    let (source, rdb) = varied_source(49);
    let target = RedisServer::start().unwrap();
    let err = ok(&restore(&rdb, &target.addr(), &["--mode", "commands"]));
    assert!(err.contains("0 command(s) refused"), "{err}");
    assert_eq!(digest(&source), digest(&target));
}

#[test]
fn dry_run_writes_nothing_and_key_pattern_selects() {
    let (_source, rdb) = varied_source(44);
    let target = RedisServer::start().unwrap();
    let err = ok(&restore(&rdb, &target.addr(), &["--dry-run"]));
    assert!(err.contains("dry run"), "{err}");
    assert_eq!(target.cmd(&["DBSIZE"]).unwrap().as_int(), Some(0));
    ok(&restore(
        &rdb,
        &target.addr(),
        &["--key-pattern", "*stream*"],
    ));
    let mut c = target.connect().unwrap();
    let keys = c.cmd(&["KEYS", "*"]).unwrap().into_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        let key = key.into_bytes().unwrap();
        assert!(key.windows(6).any(|w| w == b"stream"), "{key:?}");
    }
}

#[test]
fn crs_port_style_arguments_and_passwords_kept_out_of_ps() {
    let (source, rdb) = varied_source(45);
    let target = RedisServer::start().unwrap();
    target
        .cmd(&["CONFIG", "SET", "requirepass", "pw1"])
        .unwrap();
    let addr = target.addr();
    // crs-port's -i -t -A -n.
    let out = ferry()
        .args(["restore", "-i"])
        .arg(&rdb)
        .args(["-t", &addr, "-A", "pw1", "-n", "2", "--progress", "none"])
        .env_remove("FERRY_TARGET_PASSWORD")
        .output()
        .unwrap();
    ok(&out);
    let mut c = target.connect().unwrap();
    c.cmd(&["AUTH", "pw1"]).unwrap();
    assert_eq!(
        c.cmd(&["DEBUG", "DIGEST"])
            .unwrap()
            .as_str()
            .map(str::to_owned),
        Some(digest(&source))
    );
    c.cmd(&["FLUSHALL"]).unwrap();
    // From the environment, and from a file.
    let out = ferry()
        .arg("restore")
        .arg(&rdb)
        .args(["--target", &addr, "--progress", "none"])
        .env("FERRY_TARGET_PASSWORD", "pw1")
        .output()
        .unwrap();
    ok(&out);
    c.cmd(&["FLUSHALL"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "pw1\n").unwrap();
    ok(&restore(
        &rdb,
        &addr,
        &["--target-password-file", file.to_str().unwrap()],
    ));
    // A wrong one.
    let wrong = restore(&rdb, &format!("redis://:nope@{addr}"), &[]);
    assert_eq!(code(&wrong), 1);
    assert!(
        stderr(&wrong).contains("refused the credentials"),
        "{}",
        stderr(&wrong)
    );
}

#[test]
fn unreachable_and_dying_targets_fail_with_a_clear_message() {
    let (_source, rdb) = varied_source(46);
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let out = restore(&rdb, &addr, &[]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));

    // A target that dies while ferry waits for its replies: writes paused
    // (ferry connects, checks, and sends), then killed.
    let target = RedisServer::start().unwrap();
    target.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr");
    let mut child = ChildGuard(
        ferry()
            .arg("restore")
            .arg(&rdb)
            .args(["--target", &target.addr(), "--progress", "none"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // A paused write counts as a blocked client: then ferry has writes in
    // flight.
    let started = std::time::Instant::now();
    loop {
        let info = target.cmd(&["INFO", "clients"]).unwrap();
        let blocked = info
            .as_str()
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap();
        if blocked >= 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "ferry never sent a write"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-9", &target.pid().to_string()])
        .status()
        .unwrap();
    let code = child.wait_for_exit(Duration::from_secs(60));
    let err = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("lost") || err.contains("closed"), "{err}");
}

#[test]
fn a_target_that_refuses_writes_names_the_keys_and_exits_1() {
    let (_source, rdb) = varied_source(47);
    let target = RedisServer::start().unwrap();
    target.cmd(&["CONFIG", "SET", "maxmemory", "1"]).unwrap();
    // The check before the restore sees it first and writes nothing.
    let out = restore(&rdb, &target.addr(), &[]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("check: fail   target.memory"), "{err}");
    assert!(err.contains("--skip-check"), "{err}");
    assert!(!err.contains("not written"), "{err}");
    // Told to go on, each refused key is named.
    let out = restore(&rdb, &target.addr(), &["--skip-check", "target.memory"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("not written: db 0 key \""), "{err}");
    assert!(err.contains("OOM"), "{err}");
    assert!(err.contains("refused by the target"), "{err}");
}

/// The peak memory `ferry restore` reports, in bytes.
fn reported_peak_bytes(stderr: &str) -> f64 {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("ferry: peak memory "))
        .unwrap_or_else(|| panic!("no peak memory line in:\n{stderr}"));
    let mb: f64 = line.trim_end_matches(" MB").parse().unwrap();
    mb * 1e6
}

#[test]
fn a_200_mb_string_and_a_2_million_field_hash_restore_in_bounded_memory() {
    let source = RedisServer::start().unwrap();
    // 200 MB that LZF cannot compress, so that the file holds them all.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let value: Vec<u8> = (0..200_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    source
        .cmd(&[b"SET".as_slice(), b"big:string", &value])
        .unwrap();
    drop(value);
    source
        .cmd(&[
            "EVAL",
            "for i = 1, 2000000 do redis.call('HSET', KEYS[1], 'field:' .. i, 'value:' .. i) end",
            "1",
            "big:hash",
        ])
        .unwrap();
    source.cmd(&["SET", "small", "x"]).unwrap();
    let rdb = source.save_rdb().unwrap();
    let target = RedisServer::start().unwrap();
    let err = ok(&restore(&rdb, &target.addr(), &[]));
    assert!(err.contains("3 key(s) written"), "{err}");
    assert!(err.contains("1 by RESTORE, 2 by commands"), "{err}");
    assert!(err.contains("0 command(s) refused"), "{err}");
    let peak = reported_peak_bytes(&err);
    assert!(peak < 100e6, "peak memory {peak} bytes\n{err}");
    assert_eq!(digest(&source), digest(&target));
    assert_eq!(
        target.cmd(&["HLEN", "big:hash"]).unwrap().as_int(),
        Some(2_000_000)
    );
    assert_eq!(
        target.cmd(&["STRLEN", "big:string"]).unwrap().as_int(),
        Some(200_000_000)
    );
}

#[test]
fn every_corpus_file_that_redis_7_0_7_4_or_valkey_9_loads_is_restored_with_the_same_digest() {
    let files = rdb_files(&crate::support::testdata());
    let targets = [
        (None, RedisServer::start().unwrap()),
        (
            Some(ServerKind::Redis74),
            RedisServer::start_version(ServerKind::Redis74).unwrap(),
        ),
        (
            Some(ServerKind::Valkey91),
            RedisServer::start_version(ServerKind::Valkey91).unwrap(),
        ),
    ];
    let (mut loaded, mut refused) = ([0, 0, 0], Vec::new());
    'files: for file in &files {
        for (i, (kind, target)) in targets.iter().enumerate() {
            // What the server itself makes of the file; files it refuses
            // (newer formats, modules it lacks, damaged files) are not this
            // test's.
            let mut builder = RedisServer::builder();
            if let Some(kind) = kind {
                builder = builder.version(*kind);
            }
            let Ok(reference) = builder.rdb(file).start() else {
                continue;
            };
            loaded[i] += 1;
            target.cmd(&["FLUSHALL"]).unwrap();
            target.cmd(&["FUNCTION", "FLUSH"]).unwrap();
            // Functions in the 7.0 release candidates' format have no
            // FUNCTION LOAD form: warned about and left out; keys are what
            // is compared.
            let out = restore(file, &target.addr(), &["--skip-unsupported"]);
            assert!(
                code(&out) == 0,
                "{}: exit {}\n{}",
                file.display(),
                code(&out),
                stderr(&out)
            );
            assert_eq!(digest(&reference), digest(target), "{}", file.display());
            continue 'files;
        }
        refused.push(file.file_name().unwrap().to_string_lossy().into_owned());
    }
    eprintln!(
        "of {} corpus files, {} restored into Redis 7.0, {} more into Redis 7.4, {} more into \
         Valkey 9.1; loaded by none: {}",
        files.len(),
        loaded[0],
        loaded[1],
        loaded[2],
        refused.join(", ")
    );
    assert!(
        loaded[0] >= 150 && loaded[1] >= 20 && loaded[2] >= 2,
        "too few files loaded: {loaded:?}"
    );
}

#[test]
fn a_proxy_target_gets_commands_without_select() {
    // No proxy here: a standalone server told it is one still shows that
    // no SELECT is sent (the file's db 1 must be mapped) and replay works.
    let (source, rdb) = varied_source(50);
    let target = RedisServer::start().unwrap();
    let refused = restore(&rdb, &target.addr(), &["--target-kind", "proxy"]);
    assert_eq!(code(&refused), 1);
    assert!(
        stderr(&refused).contains("--db-map 1:0"),
        "{}",
        stderr(&refused)
    );
    let err = ok(&restore(
        &rdb,
        &target.addr(),
        &[
            "--target-kind",
            "proxy",
            "--mode",
            "commands",
            "--key-pattern",
            "*",
            "--db-map",
            "1:0",
            "--db-map",
            "2:0",
        ],
    ));
    assert!(err.contains("is proxy"), "{err}");
    let keys = |s: &RedisServer| s.cmd(&["DBSIZE"]).unwrap().as_int().unwrap();
    let mut c = source.connect().unwrap();
    let mut total = 0;
    for db in 0..3 {
        c.cmd(&["SELECT", &db.to_string()]).unwrap();
        total += c.cmd(&["DBSIZE"]).unwrap().as_int().unwrap();
    }
    assert_eq!(keys(&target), total);
}

#[test]
fn a_target_still_loading_its_dataset_gets_every_key_after_retries() {
    // A target that starts by loading 3M keys answers LOADING for a while.
    let seed = RedisServer::start().unwrap();
    seed.cmd(&["DEBUG", "POPULATE", "3000000", "pop", "100"])
        .unwrap();
    let big = seed.save_rdb().unwrap();
    let (_source, rdb) = varied_source(51);
    let port = free_port().unwrap();
    let dir = big.parent().unwrap();
    let server = ferry_testkit::redis_server().unwrap();
    // Started by hand: the testkit waits until a server has loaded its data.
    let _target = ChildGuard(
        std::process::Command::new(server)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--dbfilename")
            .arg(big.file_name().unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until it accepts, and check that it is still loading.
    let addr = format!("127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let mut ping = loop {
        if let Ok(stream) = std::net::TcpStream::connect(&addr) {
            break stream;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the target never listened"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    std::io::Write::write_all(&mut ping, b"PING\r\n").unwrap();
    let mut reply = [0u8; 8];
    std::io::Read::read_exact(&mut ping, &mut reply).unwrap();
    assert_eq!(
        &reply, b"-LOADING",
        "the target loaded too fast for this test"
    );
    let err = ok(&restore(&rdb, &addr, &["--on-conflict", "replace"]));
    assert!(err.contains("0 command(s) refused"), "{err}");
    assert!(
        err.contains("sent again after TRYAGAIN/LOADING"),
        "no retry seen:\n{err}"
    );
}
