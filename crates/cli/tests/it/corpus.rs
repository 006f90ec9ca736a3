//! `ferry dump` (jsonl) on the generated corpus files, against `generated/expected.json`
//! (every key, read back from the server that wrote the file).

use crate::support::{assert_ok, bytes_of, dump, json_lines, testdata};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

type Bytes = Vec<u8>;

fn expected(file: &str) -> Value {
    let path = testdata().join("generated/expected.json");
    let all: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    all.get(file)
        .unwrap_or_else(|| panic!("{file} not in {}", path.display()))
        .clone()
}

fn list(v: &Value) -> Vec<Bytes> {
    v.as_array().unwrap().iter().map(bytes_of).collect()
}

fn score(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        _ => v.as_f64().unwrap(),
    }
}

/// Our `[[a, b, ...], ...]` pairs as a map of the first two elements.
pub fn pairs(v: &Value) -> BTreeMap<Bytes, Bytes> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (bytes_of(&p[0]), bytes_of(&p[1])))
        .collect()
}

/// The fields of our hash value (`[[field, value, expire_at_ms?], ...]`) that
/// have their own expire time.
pub fn field_ttls(v: &Value) -> BTreeMap<Bytes, u64> {
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get(2).map(|ms| (bytes_of(&p[0]), ms.as_u64().unwrap())))
        .collect()
}

/// The corpus's `{field: value}` object (or `value_pairs`).
fn object_or_pairs(check: &Value) -> BTreeMap<Bytes, Bytes> {
    match (check.get("value"), check.get("value_pairs")) {
        (Some(Value::Object(o)), _) => o
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), bytes_of(v)))
            .collect(),
        (_, Some(p)) => pairs(p),
        _ => panic!("no hash value in {check}"),
    }
}

/// Compares one key's line with its check; returns the differences.
fn compare(check: &Value, got: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut expect = |what: &str, ok: bool, detail: String| {
        if !ok {
            errs.push(format!("{what}: {detail}"));
        }
    };
    let ty = check["type"].as_str().unwrap();
    expect(
        "type",
        got["type"] == check["type"],
        format!("{} vs {}", got["type"], ty),
    );
    let expire = &got["expire_at_ms"];
    if let Some(ms) = check.get("expire_ms") {
        expect("expire", expire == ms, format!("{expire} vs {ms}"));
    } else if check.get("has_ttl").is_some() {
        expect("expire", !expire.is_null(), "no TTL".into());
    } else {
        expect("expire", expire.is_null(), format!("{expire} vs none"));
    }
    let value = &got["value"];
    match ty {
        "string" => {
            let bytes = bytes_of(value);
            if let Some(v) = check.get("value") {
                expect(
                    "value",
                    bytes == bytes_of(v),
                    format!("{} bytes differ", bytes.len()),
                );
            }
            if let Some(len) = check.get("value_len") {
                expect(
                    "len",
                    Some(bytes.len() as u64) == len.as_u64(),
                    format!("{}", bytes.len()),
                );
                let sha = format!("{:x}", Sha256::digest(&bytes));
                expect("sha256", check["value_sha256"] == sha.as_str(), sha);
            }
        }
        "list" => expect(
            "list",
            list(value) == list(&check["value"]),
            "elements differ".into(),
        ),
        "set" => {
            let a: BTreeSet<Bytes> = list(value).into_iter().collect();
            let b: BTreeSet<Bytes> = list(&check["value"]).into_iter().collect();
            expect("set", a == b, format!("{} vs {} members", a.len(), b.len()));
        }
        "zset" => {
            let want = check["value"].as_object().unwrap();
            let got_pairs = value.as_array().unwrap();
            expect(
                "zset len",
                got_pairs.len() == want.len(),
                format!("{}", got_pairs.len()),
            );
            for p in got_pairs {
                let member = String::from_utf8(bytes_of(&p[0])).unwrap();
                let (g, w) = (score(&p[1]), want.get(&member).map(score));
                expect(
                    "score",
                    w.is_some_and(|w| w.to_bits() == g.to_bits()),
                    format!("{member}: {g} vs {w:?}"),
                );
            }
        }
        "hash" => {
            expect(
                "hash",
                pairs(value) == object_or_pairs(check),
                "fields differ".into(),
            );
            let ttls = field_ttls(value);
            let want: BTreeMap<Bytes, u64> = check
                .get("field_expire_ms")
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_u64().unwrap()))
                        .collect()
                })
                .unwrap_or_default();
            expect("field ttls", ttls == want, format!("{ttls:?} vs {want:?}"));
        }
        "stream" => {
            let entries = value["entries"].as_array().unwrap();
            let want = check["entries"].as_array().unwrap();
            expect(
                "entries",
                entries.len() == want.len(),
                format!("{}", entries.len()),
            );
            for (g, w) in entries.iter().zip(want) {
                expect(
                    "entry id",
                    g["id"] == w["id"],
                    format!("{} vs {}", g["id"], w["id"]),
                );
                let w_fields: BTreeMap<Bytes, Bytes> = w["fields"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), bytes_of(v)))
                    .collect();
                expect(
                    "entry fields",
                    pairs(&g["fields"]) == w_fields,
                    format!("{}", g["id"]),
                );
            }
            expect(
                "length",
                value["length"] == check["len"],
                format!("{}", value["length"]),
            );
            for field in ["last_id", "first_id", "max_deleted_id", "entries_added"] {
                if let Some(w) = check.get(field) {
                    expect(
                        field,
                        &value[field] == w,
                        format!("{} vs {w}", value[field]),
                    );
                }
            }
            let groups = value["groups"].as_array().unwrap();
            let want = check["groups"].as_object().unwrap();
            expect(
                "groups",
                groups.len() == want.len(),
                format!("{}", groups.len()),
            );
            for g in groups {
                let name = g["name"].as_str().unwrap();
                let Some(w) = want.get(name) else {
                    expect("group", false, format!("unexpected group {name}"));
                    continue;
                };
                let pel = g["pending"].as_array().unwrap().len() as u64;
                expect(
                    "pel",
                    w["pel"].as_u64() == Some(pel),
                    format!("{name}: {pel}"),
                );
                let consumers = g["consumers"].as_array().unwrap();
                let consumers_pel: usize = consumers
                    .iter()
                    .map(|c| c["pending"].as_array().unwrap().len())
                    .sum();
                expect(
                    "consumer pel",
                    consumers_pel as u64 == pel,
                    name.to_string(),
                );
                expect(
                    "consumers",
                    w["consumers"].as_u64() == Some(consumers.len() as u64),
                    format!("{name}: {}", consumers.len()),
                );
                expect(
                    "group last_id",
                    g["last_id"] == w["last_id"],
                    name.to_string(),
                );
                if let Some(n) = w.get("entries_read") {
                    expect("entries_read", &g["entries_read"] == n, name.to_string());
                }
            }
        }
        other => expect("type", false, format!("unexpected type {other}")),
    }
    errs
}

fn check_file(file: &str) {
    let expected = expected(file);
    let out = dump(&testdata().join("generated").join(file), &[]);
    assert_ok(&out);
    let lines = json_lines(&out.stdout);
    let mut got: BTreeMap<(u64, Bytes), Value> = BTreeMap::new();
    let mut per_db: BTreeMap<String, u64> = BTreeMap::new();
    for line in lines {
        assert!(
            line.get("function").is_none(),
            "no functions in generated files"
        );
        let db = line["db"].as_u64().unwrap();
        *per_db.entry(db.to_string()).or_default() += 1;
        let key = bytes_of(&line["key"]);
        let dup = got.insert((db, key.clone()), line);
        assert!(
            dup.is_none(),
            "key {:?} twice",
            key.escape_ascii().to_string()
        );
    }
    assert_eq!(
        got.len() as u64,
        expected["keys"].as_u64().unwrap(),
        "key count"
    );
    for (db, n) in expected["keys_per_db"].as_object().unwrap() {
        assert_eq!(per_db.get(db).copied(), n.as_u64(), "keys in db {db}");
    }
    let mut errors = Vec::new();
    for check in expected["checks"].as_array().unwrap() {
        let db = check["db"].as_u64().unwrap();
        let key = bytes_of(&check["key"]);
        let shown = key.escape_ascii().to_string();
        match got.get(&(db, key)) {
            None => errors.push(format!("db {db} key {shown}: missing")),
            Some(line) => errors.extend(
                compare(check, line)
                    .into_iter()
                    .map(|e| format!("db {db} key {shown}: {e}")),
            ),
        }
    }
    assert!(
        errors.is_empty(),
        "{file}: {} differences:\n{}",
        errors.len(),
        errors[..errors.len().min(30)].join("\n")
    );
}

macro_rules! corpus_tests {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                check_file($file);
            }
        )*
    };
}

corpus_tests! {
    jsonl_matches_expected_redis_2_8 => "redis-2.8.24_seed17111.rdb",
    jsonl_matches_expected_redis_3_2 => "redis-3.2.13_seed17112.rdb",
    jsonl_matches_expected_redis_4_0 => "redis-4.0.14_seed17113.rdb",
    jsonl_matches_expected_redis_5_0 => "redis-5.0.14_seed17114.rdb",
    jsonl_matches_expected_redis_6_2 => "redis-6.2.5_seed4.rdb",
    jsonl_matches_expected_redis_7_0 => "redis-7.0.15_default_seed1.rdb",
    jsonl_matches_expected_redis_7_0_via_redis_cli_rdb => "redis-7.0.15_default_seed1_redis-cli-rdb.rdb",
    jsonl_matches_expected_redis_7_0_without_checksum => "redis-7.0.15_rdbchecksum-no_seed3.rdb",
    jsonl_matches_expected_redis_7_0_without_compression => "redis-7.0.15_rdbcompression-no_seed2.rdb",
    jsonl_matches_expected_redis_7_2 => "redis-7.2.6_seed17115.rdb",
    jsonl_matches_expected_redis_7_4_with_field_ttls => "redis-7.4.1_hfe_seed5.rdb",
    jsonl_matches_expected_valkey_9_with_field_ttls => "valkey-9.1.2_hfe_seed6.rdb",
}

#[test]
fn every_generated_file_has_a_test() {
    let dir = testdata().join("generated");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rdb"))
        .collect();
    files.sort();
    let source = include_str!("corpus.rs");
    for f in files {
        assert!(source.contains(&format!("\"{f}\"")), "no test for {f}");
    }
}
