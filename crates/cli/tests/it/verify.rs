//! `ferry verify` against real servers: identical datasets pass; each kind
//! of difference (missing, extra, value, TTL, type) is reported exactly, in
//! standalone → standalone, cluster → cluster and standalone → cluster
//! layouts; scores formatted differently by Redis 6.2 and 7.4 compare
//! equal; big keys are compared in windows; quick mode, sampling, rate
//! limiting, binary keys, passwords; and a writer changing both sides while
//! verify runs is absorbed by the rounds.

use crate::support::{bytes_of, code, ferry, stderr};
use ferry_testkit::dataset::fill_varied;
use ferry_testkit::{Client, RedisCluster, RedisServer, Reply, ServerKind};
use serde_json::Value;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `ferry verify --source S --target T EXTRA...`, with `--interval 0.2`
/// unless EXTRA has one.
fn verify_command(source: &str, target: &str, extra: &[&str]) -> std::process::Command {
    let mut cmd = ferry();
    cmd.arg("verify")
        .args(["--source", source, "--target", target])
        .args(extra);
    if !extra.contains(&"--interval") {
        cmd.args(["--interval", "0.2"]);
    }
    cmd
}

/// Runs `ferry verify` (see [`verify_command`]).
fn verify(source: &str, target: &str, extra: &[&str]) -> Output {
    verify_command(source, target, extra)
        .stdin(Stdio::null())
        .env_remove("FERRY_SOURCE_PASSWORD")
        .env_remove("FERRY_TARGET_PASSWORD")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts exit 0 and `identical` in the summary.
fn assert_identical(out: &Output) {
    assert_eq!(
        code(out),
        0,
        "verify found differences or failed:\n{}\n{}",
        stdout(out),
        stderr(out)
    );
    assert!(stdout(out).contains("identical"), "{}", stdout(out));
}

/// A line of a `--report` file: database, key, reason.
type Line = (u64, Vec<u8>, String);

/// `(db, key, reason)` of every line of a `--report` file, sorted.
fn report_lines(path: &Path) -> Vec<Line> {
    let text = std::fs::read(path).unwrap();
    let mut lines: Vec<Line> = crate::support::json_lines(&text)
        .iter()
        .map(|v| {
            (
                v["db"].as_u64().unwrap(),
                bytes_of(&v["key"]),
                v["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Runs verify with `--report` and returns its exit code, its output and
/// the report's lines.
fn verify_report(source: &str, target: &str, extra: &[&str]) -> (i32, String, Vec<Line>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.jsonl");
    let mut args = vec!["--report", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = verify(source, target, &args);
    let lines = report_lines(&path);
    (
        code(&out),
        format!("{}\n{}", stdout(&out), stderr(&out)),
        lines,
    )
}

fn line(db: u64, key: &[u8], reason: &str) -> Line {
    (db, key.to_vec(), reason.to_owned())
}

fn ok(reply: std::io::Result<Reply>) -> Reply {
    let reply = reply.unwrap();
    assert!(!reply.is_error(), "{reply:?}");
    reply
}

/// A pair of standalone servers filled with the same varied dataset.
fn varied_pair(seed: u64) -> (RedisServer, RedisServer) {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    fill_varied(&mut source.connect().unwrap(), seed).unwrap();
    fill_varied(&mut target.connect().unwrap(), seed).unwrap();
    (source, target)
}

/// The five differences, made on the target through `cmd` (any server or
/// cluster): the expected report lines (in database `db`).
fn make_differences(cmd: &dyn Fn(&[&[u8]]) -> Reply, db: u64) -> Vec<Line> {
    cmd(&[b"DEL", b"str:short:3"]);
    cmd(&[b"SET", b"only:on:target", b"x"]);
    cmd(&[b"HSET", b"hash:small", b"name", b"other"]);
    cmd(&[b"PEXPIRE", b"str:short:4", b"3600000"]);
    cmd(&[b"DEL", b"list:small"]);
    cmd(&[b"SET", b"list:small", b"now a string"]);
    let mut expected = vec![
        line(db, b"hash:small", "value"),
        line(db, b"list:small", "type"),
        line(db, b"only:on:target", "extra"),
        line(db, b"str:short:3", "missing"),
        line(db, b"str:short:4", "ttl"),
    ];
    expected.sort();
    expected
}

#[test]
fn identical_varied_datasets_pass_with_counts_per_database() {
    let (source, target) = varied_pair(61);
    let out = verify(&source.addr(), &target.addr(), &[]);
    assert_identical(&out);
    let text = stdout(&out);
    for db in 0..3 {
        assert!(text.contains(&format!("db {db} -> {db}: ")), "{text}");
    }
    let out = verify(&source.addr(), &target.addr(), &["--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["identical"], true);
    let keys = source.cmd(&["DBSIZE"]).unwrap().as_int().unwrap() as u64;
    let db0 = &summary["databases"][0];
    assert_eq!(db0["db"], 0);
    assert_eq!(db0["compared"].as_u64(), Some(keys), "{summary}");
    assert_eq!(db0["checked"].as_u64(), Some(keys), "{summary}");
    assert_eq!(summary["databases"].as_array().unwrap().len(), 3);
}

#[test]
fn each_difference_is_reported_exactly_between_standalone_servers() {
    let (source, target) = varied_pair(62);
    let mut expected = make_differences(&|args| target.cmd(args).unwrap(), 0);
    // And one in database 1.
    ok(target.cmd(&["SELECT", "1"]));
    ok(target.cmd(&["DEL", "db1:k0"]));
    ok(target.cmd(&["SELECT", "0"]));
    expected.push(line(1, b"db1:k0", "missing"));
    expected.sort();
    let (status, output, lines) = verify_report(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1, "{output}");
    assert_eq!(lines, expected, "{output}");
    assert!(
        output.contains("db 0 -> 0: ")
            && output.contains("1 missing, 1 extra, 3 different (type 1, value 1, ttl 1)"),
        "{output}"
    );
    assert!(
        output.contains("field \"name\": \"ferry\" on the source, \"other\" on the target"),
        "{output}"
    );
    assert!(
        output.contains("a list on the source, a string on the target"),
        "{output}"
    );
    assert!(output.contains("6 key(s) differ"), "{output}");
    // Rounds: the differences were compared again before being reported.
    assert!(output.contains("3 round(s)"), "{output}");
}

/// A source filled with the varied dataset and saved, and `clusters` clusters
/// holding the same keys (databases 1 and 2 mapped into 0) by `ferry restore`.
fn varied_clusters(seed: u64, clusters: usize) -> (RedisServer, Vec<RedisCluster>) {
    let source = RedisServer::start().unwrap();
    fill_varied(&mut source.connect().unwrap(), seed).unwrap();
    let rdb = source.save_rdb().unwrap();
    let mut out = Vec::new();
    for _ in 0..clusters {
        let cluster = RedisCluster::start(3).unwrap();
        let restored = ferry()
            .arg("restore")
            .arg(&rdb)
            .args(["--target", &cluster.addr(), "--progress", "none"])
            .args(["--db-map", "1:0", "--db-map", "2:0"])
            .stdin(Stdio::null())
            .env_remove("FERRY_TARGET_PASSWORD")
            .output()
            .unwrap();
        assert_eq!(code(&restored), 0, "{}", stderr(&restored));
        out.push(cluster);
    }
    (source, out)
}

#[test]
fn each_difference_is_reported_exactly_between_clusters() {
    let (source, clusters) = varied_clusters(63, 2);
    let (a, b) = (&clusters[0], &clusters[1]);
    let out = verify(&a.addr(), &b.addr(), &[]);
    assert_identical(&out);
    // A cluster source into a standalone target.
    let standalone = RedisServer::start().unwrap();
    let restored = ferry()
        .arg("restore")
        .arg(source.save_rdb().unwrap())
        .args(["--target", &standalone.addr(), "--progress", "none"])
        .args(["--db-map", "1:0", "--db-map", "2:0"])
        .stdin(Stdio::null())
        .env_remove("FERRY_TARGET_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(code(&restored), 0, "{}", stderr(&restored));
    assert_identical(&verify(&a.addr(), &standalone.addr(), &[]));
    assert!(
        stdout(&out).contains("cluster of 3 masters"),
        "{}",
        stdout(&out)
    );
    let mut expected = make_differences(&|args| b.cmd(args).unwrap(), 0);
    ok(b.cmd(&["DEL", "db2:k5"]));
    expected.push(line(0, b"db2:k5", "missing"));
    expected.sort();
    // Any node of each cluster will do.
    let (status, output, lines) =
        verify_report(&a.masters()[2].addr(), &b.masters()[1].addr(), &[]);
    assert_eq!(status, 1, "{output}");
    assert_eq!(lines, expected, "{output}");
}

#[test]
fn each_difference_is_reported_exactly_from_standalone_to_cluster() {
    let (source, clusters) = varied_clusters(64, 1);
    let cluster = &clusters[0];
    let map = ["--db-map", "1:0", "--db-map", "2:0"];
    // Databases 1 and 2 cannot be compared with a cluster unless mapped.
    let refused = verify(&source.addr(), &cluster.addr(), &[]);
    assert_eq!(code(&refused), 1);
    assert!(
        stderr(&refused).contains("--db-map 1:0 --db-map 2:0"),
        "{}",
        stderr(&refused)
    );
    assert_identical(&verify(&source.addr(), &cluster.addr(), &map));
    let mut expected = make_differences(&|args| cluster.cmd(args).unwrap(), 0);
    ok(cluster.cmd(&["DEL", "db1:k7"]));
    ok(cluster.cmd(&["SET", "db2:k8", "changed"]));
    expected.push(line(1, b"db1:k7", "missing"));
    // db2:k8 is some type in database 2: a string now on the target.
    let mut c = source.connect().unwrap();
    ok(c.cmd(&["SELECT", "2"]));
    let kind = c.cmd(&["TYPE", "db2:k8"]).unwrap();
    let reason = if kind.as_str() == Some("string") {
        "value"
    } else {
        "type"
    };
    expected.push(line(2, b"db2:k8", reason));
    expected.sort();
    let (status, output, lines) = verify_report(&source.addr(), &cluster.addr(), &map);
    assert_eq!(status, 1, "{output}");
    assert_eq!(lines, expected, "{output}");
    // The extra key is in none of the three source databases mapped to 0.
    assert!(
        output.contains("in none of source databases 0, 1, 2"),
        "{output}"
    );
}

#[test]
fn scores_written_by_redis_6_2_and_7_4_compare_as_numbers() {
    let source = RedisServer::start_version(ServerKind::Redis62).unwrap();
    let target = RedisServer::start_version(ServerKind::Redis74).unwrap();
    let scores = [
        "0.1",
        "0.2",
        "1e-300",
        "3.141592653589793",
        "inf",
        "-0",
        "1.1",
    ];
    for server in [&source, &target] {
        let mut c = server.connect().unwrap();
        for (i, score) in scores.iter().enumerate() {
            ok(c.cmd(&["ZADD", "small", score, &format!("m{i}")]));
        }
        // A big one, compared in windows.
        for chunk in 0..20 {
            let mut args = vec!["ZADD".to_owned(), "big".to_owned()];
            for i in chunk * 1000..(chunk + 1) * 1000 {
                args.push(format!("{}", f64::from(i) * 0.1));
                args.push(format!("member:{i}"));
            }
            ok(c.cmd(&args));
        }
    }
    // The two servers do write them differently.
    let six = source
        .cmd(&["ZRANGE", "small", "0", "0", "WITHSCORES"])
        .unwrap();
    let seven = target
        .cmd(&["ZRANGE", "small", "0", "0", "WITHSCORES"])
        .unwrap();
    assert_ne!(
        six, seven,
        "both servers format scores alike: the test proves nothing"
    );
    assert_identical(&verify(&source.addr(), &target.addr(), &[]));
    ok(target.cmd(&["ZADD", "small", "0.30000000000000004", "m0"]));
    let (status, output, lines) = verify_report(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1, "{output}");
    assert_eq!(lines, vec![line(0, b"small", "value")], "{output}");
}

/// Big keys of every type, 20 000 elements each, and a 1 MB string.
fn fill_big(client: &mut Client) {
    const N: usize = 20_000;
    let mut batch = |args: Vec<String>| ok(client.cmd(&args));
    for chunk in 0..N / 1000 {
        let range = chunk * 1000..(chunk + 1) * 1000;
        let mut h = vec!["HSET".to_owned(), "big:hash".to_owned()];
        let mut l = vec!["RPUSH".to_owned(), "big:list".to_owned()];
        let mut z = vec!["ZADD".to_owned(), "big:zset".to_owned()];
        let mut s = vec!["SADD".to_owned(), "big:set".to_owned()];
        for i in range.clone() {
            h.extend([format!("field:{i}"), format!("value {i}")]);
            l.push(format!("item {i}"));
            z.extend([format!("{}.5", i % 977), format!("member:{i}")]);
            s.push(format!("m:{i}"));
        }
        batch(h);
        batch(l);
        batch(z);
        batch(s);
    }
    for i in 0..N {
        batch(vec![
            "XADD".into(),
            "big:stream".into(),
            format!("{}-1", i + 1),
            "f".into(),
            format!("v{i}"),
        ]);
    }
    let text: String = (0..1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    batch(vec!["SET".into(), "big:string".into(), text]);
}

#[test]
fn big_keys_are_compared_in_windows_and_one_changed_element_is_found() {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    fill_big(&mut source.connect().unwrap());
    fill_big(&mut target.connect().unwrap());
    assert_identical(&verify(&source.addr(), &target.addr(), &[]));
    ok(target.cmd(&["HSET", "big:hash", "field:12345", "other"]));
    ok(target.cmd(&["LSET", "big:list", "15000", "other"]));
    ok(target.cmd(&["ZADD", "big:zset", "12.5", "member:19999"]));
    ok(target.cmd(&["SREM", "big:set", "m:777"]));
    ok(target.cmd(&["SADD", "big:set", "m:new"]));
    ok(target.cmd(&["XDEL", "big:stream", "15000-1"]));
    ok(target.cmd(&["XADD", "big:stream", "99999-1", "f", "v"]));
    ok(target.cmd(&["SETRANGE", "big:string", "1000000", "X"]));
    let (status, output, lines) = verify_report(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1, "{output}");
    let expected: Vec<_> = [
        "big:hash",
        "big:list",
        "big:set",
        "big:stream",
        "big:string",
        "big:zset",
    ]
    .iter()
    .map(|k| line(0, k.as_bytes(), "value"))
    .collect();
    assert_eq!(lines, expected, "{output}");
    for detail in [
        "field \"field:12345\": \"value 12345\" on the source, \"other\" on the target",
        "element 15000: \"item 15000\" on the source, \"other\" on the target",
        "member \"m:777\" is not on the target",
        "the strings differ from byte 1000000",
    ] {
        assert!(output.contains(detail), "{detail}\n{output}");
    }
}

#[test]
fn quick_mode_compares_types_and_lengths_only() {
    let (source, target) = varied_pair(65);
    // Same lengths: not seen in quick mode.
    ok(target.cmd(&["HSET", "hash:small", "name", "FERRY"]));
    ok(target.cmd(&["PEXPIRE", "str:short:4", "3600000"]));
    // Another length, another type.
    ok(target.cmd(&["RPUSH", "list:ints", "one more"]));
    ok(target.cmd(&["DEL", "set:small"]));
    ok(target.cmd(&["SET", "set:small", "x"]));
    let (status, output, lines) =
        verify_report(&source.addr(), &target.addr(), &["--mode", "quick"]);
    assert_eq!(status, 1, "{output}");
    assert_eq!(
        lines,
        vec![
            line(0, b"list:ints", "value"),
            line(0, b"set:small", "type")
        ],
        "{output}"
    );
    assert!(output.contains("quick comparison"), "{output}");
    // The full comparison sees them all.
    let (_, output, lines) = verify_report(&source.addr(), &target.addr(), &[]);
    assert_eq!(lines.len(), 4, "{output}");
}

/// `n` string keys `k:<i>` on `server`, skipping every `skip`-th when given.
fn fill_strings(server: &RedisServer, n: usize, skip: Option<usize>) {
    let mut c = server.connect().unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut args = vec!["MSET".to_owned()];
        for &i in chunk {
            if skip.is_some_and(|s| i % s == 0) {
                continue;
            }
            args.extend([format!("k:{i}"), format!("value {i}")]);
        }
        if args.len() > 1 {
            ok(c.cmd(&args));
        }
    }
}

#[test]
fn a_sample_compares_about_n_keys() {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    fill_strings(&source, 3000, None);
    fill_strings(&target, 3000, None);
    let out = verify(
        &source.addr(),
        &target.addr(),
        &["--sample", "300", "--format", "json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["sample"], 300);
    let compared = summary["total"]["compared"].as_u64().unwrap();
    assert!((100..=300).contains(&compared), "{summary}");
    // A third of the keys missing on the target: the sample finds some.
    let target = RedisServer::start().unwrap();
    fill_strings(&target, 3000, Some(3));
    let (status, output, lines) =
        verify_report(&source.addr(), &target.addr(), &["--sample", "300"]);
    assert_eq!(status, 1, "{output}");
    assert!(
        lines.len() > 20 && lines.len() < 300,
        "{} lines\n{output}",
        lines.len()
    );
    assert!(lines.iter().all(|(_, _, r)| r == "missing"), "{output}");
}

#[test]
fn a_key_pattern_limits_both_directions() {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    fill_strings(&source, 400, None);
    fill_strings(&target, 400, None);
    ok(target.cmd(&["DEL", "k:2"]));
    ok(target.cmd(&["SET", "other", "x"]));
    // k:1, k:10..k:19, k:100..k:199.
    let out = verify(&source.addr(), &target.addr(), &["-k", "k:1*"]);
    assert_identical(&out);
    assert!(
        stdout(&out).contains("111 compared, 111 target key(s) checked"),
        "{}",
        stdout(&out)
    );
    let (status, output, lines) = verify_report(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1, "{output}");
    assert_eq!(
        lines,
        vec![line(0, b"k:2", "missing"), line(0, b"other", "extra")]
    );
}

#[test]
fn the_rate_limit_slows_the_comparison_down() {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    fill_strings(&source, 400, None);
    fill_strings(&target, 400, None);
    let started = Instant::now();
    // About 800 commands to each server (PTTL and GETRANGE per key).
    assert_identical(&verify(&source.addr(), &target.addr(), &["--rate", "1000"]));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(600), "{took:?}");
}

#[test]
fn binary_keys_and_values_are_compared_and_reported_exactly() {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    let keys: [&[u8]; 4] = [b"bin:\0key\r\n\xff", b"\xff\xfe", b"", b"plain"];
    for server in [&source, &target] {
        let mut c = server.connect().unwrap();
        for key in keys {
            ok(c.cmd(&[b"SET", key, b"\0\r\n\xff value"]));
            let mut h = key.to_vec();
            h.extend_from_slice(b":h");
            ok(c.cmd(&[&b"HSET"[..], &h, b"\xff\0", b"\r\n"]));
        }
    }
    assert_identical(&verify(&source.addr(), &target.addr(), &[]));
    ok(target.cmd(&[b"SET", keys[0], b"\0\r\n\xfe value"]));
    ok(target.cmd(&[&b"HSET"[..], b"\xff\xfe:h", b"\xff\0", b"\r\r"]));
    ok(target.cmd(&[&b"DEL"[..], b""]));
    let (status, output, lines) = verify_report(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1, "{output}");
    assert_eq!(
        lines,
        vec![
            line(0, b"", "missing"),
            line(0, b"bin:\0key\r\n\xff", "value"),
            line(0, b"\xff\xfe:h", "value"),
        ],
        "{output}"
    );
    assert!(output.contains("\"bin:\\x00key\\r\\n\\xff\""), "{output}");
}

#[test]
fn passwords_come_from_files_the_environment_or_urls() {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    fill_strings(&source, 50, None);
    fill_strings(&target, 50, None);
    ok(source.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]));
    ok(target.cmd(&["CONFIG", "SET", "requirepass", "t0p"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "s3cret\n").unwrap();
    let out = ferry()
        .arg("verify")
        .args(["--source", &source.addr(), "--target", &target.addr()])
        .arg("--source-password-file")
        .arg(&file)
        .env("FERRY_TARGET_PASSWORD", "t0p")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_identical(&out);
    let url = format!("redis://:t0p@{}", target.addr());
    let out = ferry()
        .arg("verify")
        .args(["--source", &source.addr(), "--target", &url])
        .env("FERRY_SOURCE_PASSWORD", "s3cret")
        .env_remove("FERRY_TARGET_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_identical(&out);
    // No password: the error names the side and the server.
    let out = verify(&source.addr(), &url, &[]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("source {}", source.addr())) && err.contains("NOAUTH"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    for args in [
        &["--rounds", "0"][..],
        &["--db-map", "x"][..],
        &["--ttl-tolerance", "-1"][..],
        &["--mode", "slow"][..],
    ] {
        let out = verify("127.0.0.1:1", "127.0.0.1:2", args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    let out = ferry().args(["verify", "--help"]).output().unwrap();
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    for word in [
        "Examples:",
        "--ttl-tolerance",
        "--sample",
        "--rate",
        "--report",
        "Exit status",
    ] {
        assert!(help.contains(word), "{word}\n{help}");
    }
}

/// Keys the writer changes most.
const HOT_KEYS: u64 = 20;

/// Applies the same change to both servers, over and over, until stopped;
/// how many changes.
fn write_both(source: &RedisServer, target: &RedisServer, stop: &AtomicBool, n: usize) -> u64 {
    let mut a = source.connect().unwrap();
    let mut b = target.connect().unwrap();
    let mut rng = ferry_testkit::dataset::Rng::new(7);
    let mut writes = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Most changes go to a few hot keys.
        let i = if rng.chance(80) {
            rng.below(HOT_KEYS)
        } else {
            rng.below(n as u64)
        };
        let v = rng.below(1000).to_string();
        let change: Vec<Vec<String>> = match i % 4 {
            0 => vec![vec!["SET".into(), format!("k:{i}"), v]],
            1 => vec![vec!["HSET".into(), format!("h:{i}"), "f".into(), v]],
            2 => vec![
                vec!["RPUSH".into(), format!("l:{i}"), v],
                vec!["LTRIM".into(), format!("l:{i}"), "-5".into(), "-1".into()],
            ],
            _ => vec![
                vec![
                    "ZADD".into(),
                    format!("z:{i}"),
                    format!("{v}.5"),
                    "m".into(),
                ],
                vec!["PEXPIRE".into(), format!("z:{i}"), "600000".into()],
            ],
        };
        for cmd in &change {
            ok(a.cmd(cmd));
            // The target lags a little behind, as with a sync.
            std::thread::sleep(Duration::from_millis(2));
            ok(b.cmd(cmd));
        }
        writes += 1;
    }
    writes
}

#[test]
fn keys_changing_on_both_sides_while_verify_runs_are_not_reported() {
    const KEYS: usize = 4000;
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    let stop = AtomicBool::new(false);
    // Every key exists before verify starts.
    for server in [&source, &target] {
        let mut c = server.connect().unwrap();
        for i in 0..KEYS {
            let cmd: Vec<String> = match i % 4 {
                0 => vec!["SET".into(), format!("k:{i}"), "0".into()],
                1 => vec!["HSET".into(), format!("h:{i}"), "f".into(), "0".into()],
                2 => vec!["RPUSH".into(), format!("l:{i}"), "0".into()],
                _ => vec!["ZADD".into(), format!("z:{i}"), "0".into(), "m".into()],
            };
            ok(c.cmd(&cmd));
        }
    }
    let writes = AtomicU64::new(0);
    let out = std::thread::scope(|s| {
        s.spawn(|| writes.store(write_both(&source, &target, &stop, KEYS), Ordering::Relaxed));
        // Let the writer get going, then verify while it writes.
        std::thread::sleep(Duration::from_millis(200));
        let out = verify(
            &source.addr(),
            &target.addr(),
            // Slowed down, so that the writer changes keys all along.
            &["--rounds", "5", "--rate", "4000"],
        );
        stop.store(true, Ordering::Relaxed);
        out
    });
    let writes = writes.load(Ordering::Relaxed);
    assert!(writes > 100, "the writer made only {writes} changes");
    assert_identical(&out);
}

#[test]
fn a_difference_fixed_before_the_next_round_is_not_reported() {
    use std::io::{BufRead, BufReader};
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    fill_strings(&source, 100, None);
    fill_strings(&target, 100, None);
    ok(target.cmd(&["SET", "k:7", "stale"]));
    ok(target.cmd(&["DEL", "k:8"]));
    ok(target.cmd(&["SET", "k:extra", "x"]));
    let mut child = crate::support::ChildGuard(
        verify_command(&source.addr(), &target.addr(), &["--interval", "3"])
            .env_remove("FERRY_SOURCE_PASSWORD")
            .env_remove("FERRY_TARGET_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let err = child.0.stderr.take().unwrap();
    let mut lines = BufReader::new(err).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("round 2:") {
            break;
        }
    }
    assert!(seen.contains("round 2: comparing 3 key(s) again"), "{seen}");
    // The sync catches up before the next round.
    ok(target.cmd(&["SET", "k:7", "value 7"]));
    ok(target.cmd(&["SET", "k:8", "value 8"]));
    ok(target.cmd(&["DEL", "k:extra"]));
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(
        child.wait_for_exit(Duration::from_secs(30)),
        Some(0),
        "{seen}{}",
        rest.join("\n")
    );
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.0.stdout.take().unwrap(), &mut out).unwrap();
    assert!(
        out.contains("identical") && out.contains("2 round(s)"),
        "{out}"
    );
}

#[test]
fn redirects_of_a_cluster_target_are_followed() {
    let source = RedisServer::start().unwrap();
    let cluster = RedisCluster::start(3).unwrap();
    let mut keys: Vec<String> = (0..3000).map(|i| format!("k:{i}")).collect();
    keys.extend((0..100).map(|i| format!("{{tag}}:{i}")));
    let mut c = source.connect().unwrap();
    for key in &keys {
        ok(c.cmd(&["SET", key, &format!("value of {key}")]));
        ok(cluster.cmd(&["SET", key, &format!("value of {key}")]));
    }
    // Half of the slot of {tag} moved: its owner answers ASK for those keys.
    let slot = ferry_testkit::key_slot(b"{tag}");
    let owner = cluster.slot_owner(slot).port();
    let to = cluster
        .masters()
        .iter()
        .find(|m| m.port() != owner)
        .unwrap();
    assert_eq!(cluster.begin_slot_migration(slot, to, 50).unwrap(), 50);
    let out = verify(&source.addr(), &cluster.addr(), &[]);
    assert_identical(&out);
    assert!(
        stderr(&out).contains("redirect(s) (MOVED, ASK) followed"),
        "{}",
        stderr(&out)
    );
    // Slots moving while verify runs (slowly): MOVED.
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| verify(&source.addr(), &cluster.addr(), &["--rate", "2000"]));
        std::thread::sleep(Duration::from_millis(300));
        cluster.finish_slot_migration(slot, to).unwrap();
        for key in ["k:1", "k:2", "k:3"] {
            let slot = ferry_testkit::key_slot(key.as_bytes());
            let owner = cluster.slot_owner(slot).port();
            let to = cluster
                .masters()
                .iter()
                .find(|m| m.port() != owner)
                .unwrap();
            cluster.migrate_slot(slot, to).unwrap();
        }
        run.join().unwrap()
    });
    assert_identical(&out);
}
