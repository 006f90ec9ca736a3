//! `ferry check` against real servers: each check triggered on purpose,
//! then cleared.

use crate::support::{code, ferry};
use ferry_testkit::{RedisCluster, RedisServer, ServerKind, redis_stack_module};
use serde_json::Value;

/// Runs `ferry check` with JSON output: exit code and findings by id (the
/// worst level of each id).
fn check(source: &str, target: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let out = ferry()
        .args([
            "check", "--source", source, "--target", target, "--format", "json",
        ])
        .args(extra)
        .env_remove("FERRY_SOURCE_PASSWORD")
        .env_remove("FERRY_TARGET_PASSWORD")
        .output()
        .unwrap();
    findings_of(&out)
}

/// The exit code and the JSON findings of a `ferry check` run.
fn findings_of(out: &std::process::Output) -> (i32, Vec<Value>) {
    let findings = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (code(out), findings)
}

fn level(findings: &[Value], id: &str) -> String {
    let levels: Vec<&str> = findings
        .iter()
        .filter(|f| f["id"] == id)
        .filter_map(|f| f["level"].as_str())
        .collect();
    for l in ["fail", "alarm", "pass"] {
        if levels.contains(&l) {
            return l.to_owned();
        }
    }
    panic!("no finding {id}: {findings:?}")
}

fn message(findings: &[Value], id: &str) -> String {
    findings
        .iter()
        .filter(|f| f["id"] == id)
        .filter_map(|f| f["message"].as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn two_fresh_servers_pass_and_a_non_empty_target_fails_until_emptied() {
    let source = RedisServer::start().unwrap();
    source.cmd(&["SET", "a", "1"]).unwrap();
    let target = RedisServer::start().unwrap();
    let (status, found) = check(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 0, "{found:?}");
    assert!(found.iter().all(|f| f["level"] == "pass"), "{found:?}");

    target.cmd(&["SET", "mine", "1"]).unwrap();
    let (status, found) = check(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1);
    assert_eq!(level(&found, "target.empty"), "fail");
    assert!(message(&found, "target.empty").contains("--on-conflict"));
    let (status, found) = check(
        &source.addr(),
        &target.addr(),
        &["--on-conflict", "replace"],
    );
    assert_eq!(status, 0, "{found:?}");
    assert_eq!(level(&found, "target.empty"), "alarm");
    target.cmd(&["FLUSHALL"]).unwrap();
    assert_eq!(check(&source.addr(), &target.addr(), &[]).0, 0);
}

#[test]
fn a_small_maxmemory_fails_or_alarms_with_the_fix() {
    let source = RedisServer::start().unwrap();
    let target = RedisServer::start().unwrap();
    let used: u64 = {
        let info = String::from_utf8(
            source
                .cmd(&["INFO", "memory"])
                .unwrap()
                .into_bytes()
                .unwrap(),
        )
        .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    target
        .cmd(&["CONFIG", "SET", "maxmemory", &(used / 2).to_string()])
        .unwrap();
    let (status, found) = check(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1);
    assert_eq!(level(&found, "target.memory"), "fail");
    assert!(message(&found, "target.memory").contains("CONFIG SET maxmemory"));
    target
        .cmd(&["CONFIG", "SET", "maxmemory", &(used * 5 / 4).to_string()])
        .unwrap();
    let (status, found) = check(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 0);
    assert_eq!(level(&found, "target.memory"), "alarm");
    target
        .cmd(&["CONFIG", "SET", "maxmemory", &(used * 4).to_string()])
        .unwrap();
    assert_eq!(
        level(
            &check(&source.addr(), &target.addr(), &[]).1,
            "target.memory"
        ),
        "pass"
    );
}

#[test]
fn several_databases_into_a_cluster_fail_unless_mapped() {
    let source = RedisServer::start().unwrap();
    source.cmd(&["SET", "a", "1"]).unwrap();
    source.cmd(&["SELECT", "4"]).unwrap();
    let mut c = source.connect().unwrap();
    c.cmd(&["SELECT", "4"]).unwrap();
    c.cmd(&["SET", "b", "1"]).unwrap();
    c.cmd(&["MSET", "x", "1", "y", "2"]).unwrap();
    let cluster = RedisCluster::start(3).unwrap();
    let (status, found) = check(&source.addr(), &cluster.addr(), &[]);
    assert_eq!(status, 1);
    assert_eq!(level(&found, "databases"), "fail");
    assert!(
        message(&found, "databases").contains("--db-map 4:0"),
        "{found:?}"
    );
    assert_eq!(level(&found, "cluster.multi-key"), "alarm");
    assert!(message(&found, "cluster.multi-key").contains("MSET"));
    let (status, found) = check(&source.addr(), &cluster.addr(), &["--db-map", "4:0"]);
    assert_eq!(status, 0, "{found:?}");
    assert_eq!(level(&found, "databases"), "pass");
}

#[test]
fn a_user_without_the_replication_right_fails_until_granted() {
    let source = RedisServer::start().unwrap();
    source
        .cmd(&[
            "ACL",
            "SETUSER",
            "reader",
            "on",
            ">pw",
            "~*",
            "+@read",
            "+info",
            "+config|get",
            "+module|list",
            "+function|list",
            "+select",
            "+scan",
            "+memory",
            "+ping",
            "-replconf",
        ])
        .unwrap();
    let target = RedisServer::start().unwrap();
    let url = format!("redis://reader:pw@{}", source.addr());
    let (status, found) = check(&url, &target.addr(), &[]);
    assert_eq!(status, 1, "{found:?}");
    assert_eq!(level(&found, "source.replication-right"), "fail");
    assert!(message(&found, "source.replication-right").contains("ACL SETUSER reader +psync"));
    source
        .cmd(&["ACL", "SETUSER", "reader", "+psync", "+sync", "+replconf"])
        .unwrap();
    let (status, found) = check(&url, &target.addr(), &[]);
    assert_eq!(status, 0, "{found:?}");
}

#[test]
fn hash_field_ttls_of_redis_7_4_fail_into_7_0_and_valkey_into_6_2_alarms() {
    let source = RedisServer::start_version(ServerKind::Redis74).unwrap();
    source.cmd(&["HSET", "h", "f", "v", "g", "w"]).unwrap();
    source
        .cmd(&["HEXPIRE", "h", "1000", "FIELDS", "1", "f"])
        .unwrap();
    let target = RedisServer::start().unwrap();
    let (status, found) = check(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 1, "{found:?}");
    assert_eq!(level(&found, "target.version"), "fail");
    assert!(message(&found, "target.version").contains("hash fields with TTLs"));
    // Without field TTLs, an older target is only an alarm.
    // (HPERSIST leaves the key counted in `subexpiry` until Redis looks at
    // it again: write the hash anew instead.)
    source.cmd(&["DEL", "h"]).unwrap();
    source.cmd(&["HSET", "h", "f", "v", "g", "w"]).unwrap();
    let (status, found) = check(&source.addr(), &target.addr(), &[]);
    assert_eq!(status, 0, "{found:?}");
    assert_eq!(level(&found, "target.version"), "alarm");

    let valkey = RedisServer::start_version(ServerKind::Valkey91).unwrap();
    valkey.cmd(&["XADD", "s", "*", "a", "1"]).unwrap();
    let old = RedisServer::start_version(ServerKind::Redis62).unwrap();
    let (status, found) = check(&valkey.addr(), &old.addr(), &[]);
    assert_eq!(status, 0, "{found:?}");
    assert_eq!(level(&found, "target.version"), "alarm");
    // A Valkey 9 target clears it.
    let same = RedisServer::start_version(ServerKind::Valkey91).unwrap();
    let (status, found) = check(&valkey.addr(), &same.addr(), &[]);
    assert_eq!(status, 0, "{found:?}");
    assert_eq!(level(&found, "target.version"), "pass");
}

/// Redis Stack's server with RedisJSON loaded.
fn redis_stack_with_json() -> RedisServer {
    let module = redis_stack_module("rejson.so").unwrap();
    RedisServer::builder()
        .version(ServerKind::Redis74)
        .arg("--loadmodule")
        .arg(module.to_str().unwrap())
        .start()
        .unwrap()
}

/// `ferry check --source-file FILE --target URL`, JSON output.
fn check_file(file: &std::path::Path, target: &str) -> (i32, Vec<Value>) {
    let out = ferry()
        .args(["check", "--source-file"])
        .arg(file)
        .args(["--target", target, "--format", "json"])
        .env_remove("FERRY_TARGET_PASSWORD")
        .output()
        .unwrap();
    findings_of(&out)
}

#[test]
fn redis_json_keys_fail_into_a_target_without_the_module_live_and_from_a_file() {
    let source = redis_stack_with_json();
    source
        .cmd(&["JSON.SET", "doc", "$", r#"{"a":[1,2,3]}"#])
        .unwrap();
    source.cmd(&["SET", "big", &"x".repeat(300_000)]).unwrap();
    let plain = RedisServer::start().unwrap();
    let (status, found) = check(&source.addr(), &plain.addr(), &[]);
    assert_eq!(status, 1, "{found:?}");
    assert_eq!(level(&found, "modules"), "fail");
    assert!(message(&found, "modules").contains("ReJSON"), "{found:?}");

    // The same from the file: the module is known by its type, and the
    // biggest key exactly.
    let rdb = source.save_rdb().unwrap();
    let (status, found) = check_file(&rdb, &plain.addr());
    assert_eq!(status, 1, "{found:?}");
    assert_eq!(level(&found, "modules"), "fail");
    assert!(message(&found, "modules").contains("ReJSON"), "{found:?}");
    assert_eq!(level(&found, "source.file"), "pass");
    assert!(
        message(&found, "source.file").contains("2 keys"),
        "{found:?}"
    );
    assert!(
        message(&found, "source.big-keys").contains("\"big\""),
        "{found:?}"
    );
    assert_eq!(level(&found, "target.version"), "alarm");
    assert!(found.iter().all(|f| f["id"] != "source.replication-right"));

    // A target with the module clears it, both ways.
    let stack = redis_stack_with_json();
    let (status, found) = check(&source.addr(), &stack.addr(), &[]);
    assert_eq!(status, 0, "{found:?}");
    assert_eq!(level(&found, "modules"), "pass");
    let (status, found) = check_file(&rdb, &stack.addr());
    assert_eq!(status, 0, "{found:?}");
    assert_eq!(level(&found, "modules"), "pass");
}

#[test]
fn a_damaged_source_file_fails_with_where() {
    let source = RedisServer::start().unwrap();
    source.cmd(&["SET", "k", "v"]).unwrap();
    let rdb = source.save_rdb().unwrap();
    let bytes = std::fs::read(&rdb).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.rdb");
    std::fs::write(&cut, &bytes[..bytes.len() - 12]).unwrap();
    let target = RedisServer::start().unwrap();
    let (status, found) = check_file(&cut, &target.addr());
    assert_eq!(status, 1, "{found:?}");
    assert_eq!(level(&found, "source.file"), "fail");
    assert!(
        message(&found, "source.file").contains("offset"),
        "{found:?}"
    );
}
