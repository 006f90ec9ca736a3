//! Real round trips: an RDB written (or loaded) by a real `redis-server`, through
//! `ferry dump --format resp | redis-cli --pipe`, into an empty server; both
//! servers must agree on `DEBUG DIGEST`.

use crate::support::{corpus_file, ferry, stderr, temp_dir, testdata};
use ferry_testkit::{RedisServer, Reply, dataset, redis_cli, redis_server, server_version};
use std::path::Path;
use std::process::Stdio;

fn digest(server: &RedisServer) -> String {
    let reply = server.cmd(&["DEBUG", "DIGEST"]).unwrap();
    match reply {
        Reply::Status(s) => s,
        Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!(
            "DEBUG DIGEST failed ({other:?}); the server needs --enable-debug-command on 7.0+"
        ),
    }
}

fn keyspace(server: &RedisServer) -> Vec<(u64, i64)> {
    (0..16u64)
        .map(|db| {
            let mut c = server.connect().unwrap();
            c.cmd(&["SELECT", &db.to_string()]).unwrap();
            (db, c.cmd(&["DBSIZE"]).unwrap().as_int().unwrap())
        })
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// `ferry dump RDB --format resp | redis-cli -p PORT --pipe`; returns redis-cli's report.
fn pipe_into(rdb: &Path, target: &RedisServer) -> String {
    let mut dump = ferry()
        .args(["dump", rdb.to_str().unwrap(), "--format", "resp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let commands = dump.stdout.take().unwrap();
    let cli = std::process::Command::new(redis_cli().unwrap())
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &target.port().to_string(),
            "--pipe",
        ])
        .stdin(Stdio::from(commands))
        .output()
        .unwrap();
    let dumped = dump.wait_with_output().unwrap();
    assert!(dumped.status.success(), "ferry dump: {}", stderr(&dumped));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&cli.stdout),
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(cli.status.success(), "redis-cli --pipe: {report}");
    assert!(report.contains("errors: 0,"), "redis-cli --pipe: {report}");
    report
}

/// The highest RDB version the local `redis-server` loads.
fn max_rdb_version() -> u64 {
    match server_version(&redis_server().unwrap()).unwrap() {
        (major, ..) if major >= 8 => 12,
        (7, minor, _) if minor >= 4 => 12,
        (7, 2, _) => 11,
        (7, ..) => 10,
        (6, ..) | (5, ..) => 9,
        _ => 8,
    }
}

#[test]
fn resp_round_trip_of_a_filled_server_keeps_the_digest_and_the_data() {
    let source = RedisServer::start().unwrap();
    let mut client = source.connect().unwrap();
    dataset::fill_varied(&mut client, 7).unwrap();
    let want_digest = digest(&source);
    let want = dataset::snapshot(&mut client).unwrap().without_times();
    let rdb = source.save_rdb().unwrap();

    let target = RedisServer::start().unwrap();
    pipe_into(&rdb, &target);
    assert_eq!(digest(&target), want_digest);
    assert_eq!(keyspace(&target), keyspace(&source));

    // Beyond the digest (which ignores TTL values and stream groups): the
    // only difference allowed is the pending entry whose stream entry was
    // deleted, which XCLAIM cannot recreate.
    let got = dataset::snapshot(&mut target.connect().unwrap())
        .unwrap()
        .without_times();
    let diffs = want.diff(&got, 0);
    assert!(
        diffs.iter().all(|d| d.contains("stream:main")),
        "unexpected differences:\n{}",
        diffs.join("\n")
    );
    assert!(diffs.len() <= 1, "differences:\n{}", diffs.join("\n"));
}

#[test]
fn resp_round_trip_of_generated_corpus_files_keeps_the_digest() {
    let max = max_rdb_version();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata().join("generated/expected.json")).unwrap())
            .unwrap();
    let mut tested = Vec::new();
    for (file, facts) in manifest.as_object().unwrap() {
        if facts["rdb_version"].as_u64().unwrap() > max || file.starts_with("valkey") {
            continue;
        }
        let dir = temp_dir(&format!("load-{file}"));
        std::fs::copy(corpus_file(&format!("generated/{file}")), dir.join(file)).unwrap();
        let source = RedisServer::start_with(
            &redis_server().unwrap(),
            &[
                "--dir",
                dir.to_str().unwrap(),
                "--dbfilename",
                file,
                "--enable-debug-command",
                "local",
            ],
        )
        .unwrap();
        assert_eq!(
            keyspace(&source)
                .iter()
                .map(|&(_, n)| n as u64)
                .sum::<u64>(),
            facts["keys"].as_u64().unwrap(),
            "{file} did not load"
        );
        let target = RedisServer::start().unwrap();
        pipe_into(&dir.join(file), &target);
        assert_eq!(digest(&target), digest(&source), "{file}");
        assert_eq!(keyspace(&target), keyspace(&source), "{file}");
        tested.push(file.clone());
        drop(source);
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(
        tested.len() >= 9,
        "only {tested:?} could be loaded (max RDB {max})"
    );
}
