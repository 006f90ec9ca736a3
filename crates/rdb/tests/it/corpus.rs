//! The RDB test corpus (`shared/testdata/rdb`, see its README.md): real files
//! from other projects' test suites and from real servers, with what those
//! sources assert about them in `<source>/expected.json`.
//!
//! Two tests, both data-driven and both reporting every failure before failing:
//!
//! - `corpus_files_meet_their_expectations`: every expected.json entry, file
//!   facts and per-key checks. Byte-identical copies (`duplicate_of` in
//!   INDEX.json) are decoded once, but their own expected.json entries (which
//!   come from other sources and often assert other things) are all checked.
//! - `every_indexed_file_decodes_to_its_end`: every INDEX.json file, copies
//!   included, decodes to `End` (or is refused as expected), and matches the
//!   INDEX facts (keys, version, encodings, opcodes, checksum state, AUX).
//!
//! Set `FERRY_TESTDATA` to use a corpus elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod file;
mod keys;
mod model;
mod report;
mod sha1;
mod spec;

use ferry_rdb::{Config, ErrorKind, Magic};
use model::{Decoded, decode_file};
use report::{FILE_SCOPE, FileReport, Report, Verdict};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// How a file must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `expect_error: true`: any decode error.
    Any,
    /// `expect_error: "checksum"`.
    Checksum,
    /// `expect_error: "unsupported rdb version"`.
    UnsupportedVersion,
    /// An opcode byte no stock server knows.
    UnknownOpcode(u8),
    /// A module value whose layout only the module knows.
    UnsupportedModule(&'static str),
}

impl Refusal {
    fn matches(self, kind: Option<&ErrorKind>) -> bool {
        match (self, kind) {
            (Refusal::Any, _) => true,
            (Refusal::Checksum, Some(ErrorKind::ChecksumMismatch { .. })) => true,
            (Refusal::UnsupportedVersion, Some(ErrorKind::UnsupportedVersion { .. })) => true,
            (Refusal::UnknownOpcode(b), Some(ErrorKind::UnknownOpcode { byte })) => *byte == b,
            (Refusal::UnsupportedModule(n), Some(ErrorKind::UnsupportedModule { name })) => {
                name == n
            }
            _ => false,
        }
    }
}

/// Files that must be refused although their expected.json has no
/// `expect_error`. Only a file the corpus README lists under "Files a stock
/// server refuses" may go here, and only for a reason that holds for any
/// reader, with the error kind it must produce, e.g.
/// `("librdb/redis_ent_opcode_ram_lru.rdb", Refusal::UnknownOpcode(0x6b))`.
///
/// The list is empty: ferry-rdb reads every other file of that README list,
/// on purpose, and the tests below check those files decode to `End`:
/// - MODULE_2 values and MODULE_AUX (librdb module*.rdb, misc_with_stream.rdb,
///   rdbtools redis_60_with_module_aux.rdb, redis-replicator dump-module-2.rdb)
///   are framed by their opcodes and skippable without the module;
/// - FUNCTION_PRE_GA (redis-rdb-cli/*.rdb, redis-replicator/function.rdb) is
///   read as [`ferry_rdb::PreGaFunction`];
/// - redis-replicator/module.rdb: its pre-GA (type 6) values are of Redis's
///   example module 'hellotype', whose layout the decoder knows;
/// - librdb/redis_ent_opcode_ram_lru.rdb: the decoder skips Redis Enterprise's
///   RAM_LRU opcode (107) as librdb does (`__RDB_OPCODE_RAM_LRU`), where a stock
///   server stops. To demand the refusal instead, add the example entry above;
/// - hdt3213-rdb/zipmap_big_len.rdb is a valid zipmap whose length byte is
///   >= 254 ("count the entries"), which HDT3213/rdb reads and checks.
const MUST_REFUSE: &[(&str, Refusal)] = &[];

#[test]
fn refusals_match_only_their_error_kind() {
    let checksum = ErrorKind::ChecksumMismatch {
        expected: 1,
        actual: 2,
    };
    let opcode = ErrorKind::UnknownOpcode { byte: 0x6b };
    let module = ErrorKind::UnsupportedModule {
        name: "hellotype".into(),
    };
    assert!(Refusal::Any.matches(None));
    assert!(Refusal::Checksum.matches(Some(&checksum)));
    assert!(!Refusal::Checksum.matches(Some(&opcode)));
    assert!(
        Refusal::UnsupportedVersion.matches(Some(&ErrorKind::UnsupportedVersion { version: 99 }))
    );
    assert!(Refusal::UnknownOpcode(0x6b).matches(Some(&opcode)));
    assert!(!Refusal::UnknownOpcode(0x6c).matches(Some(&opcode)));
    assert!(Refusal::UnsupportedModule("hellotype").matches(Some(&module)));
    assert!(!Refusal::UnsupportedModule("ReJSON-RL").matches(Some(&module)));
    assert!(!Refusal::UnsupportedModule("hellotype").matches(None));
}

/// The refusal a file must meet, from expected.json or [`MUST_REFUSE`].
fn refusal(name: &str, exp: Option<&Map<String, Value>>) -> Result<Option<Refusal>, String> {
    if let Some(&(_, r)) = MUST_REFUSE.iter().find(|(n, _)| *n == name) {
        return Ok(Some(r));
    }
    match exp.and_then(|e| e.get("expect_error")) {
        None | Some(Value::Bool(false)) | Some(Value::Null) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(Refusal::Any)),
        Some(Value::String(s)) if s == "checksum" => Ok(Some(Refusal::Checksum)),
        Some(Value::String(s)) if s == "unsupported rdb version" => {
            Ok(Some(Refusal::UnsupportedVersion))
        }
        Some(other) => Err(format!(
            "unknown expect_error {other}; the harness accepts any error for it"
        )),
    }
}

fn refusal_verdict(r: Refusal, dec: &Decoded) -> Verdict {
    match &dec.error {
        Some(e) => Verdict::check(r.matches(e.kind.as_ref()), || {
            format!("refused, but with {} instead of {r:?}", e.message)
        }),
        None => Verdict::Fail(format!("decoded without error, expected a refusal ({r:?})")),
    }
}

fn decode_verdict(dec: &Decoded) -> Verdict {
    match (&dec.error, dec.end) {
        (None, Some(_)) => Verdict::Pass,
        (Some(e), _) => Verdict::Fail(format!(
            "decode error after {} keys: {}",
            dec.keys.len(),
            e.message
        )),
        (None, None) => Verdict::Fail("no End item".into()),
    }
}

fn shape_verdict(dec: &Decoded) -> Verdict {
    Verdict::check(dec.violations.is_empty(), || {
        let shown: Vec<&str> = dec.violations.iter().take(3).map(String::as_str).collect();
        format!(
            "{} item-stream violations: {}",
            dec.violations.len(),
            shown.join("; ")
        )
    })
}

fn relaxed() -> Config {
    Config {
        verify_checksum: false,
        ..Config::default()
    }
}

/// Checks one expected.json entry against the decode of its bytes.
fn check_entry(
    dir: &Path,
    name: &str,
    canonical: &str,
    exp: &Map<String, Value>,
    dec: &Decoded,
) -> FileReport {
    let mut fr = FileReport::new(name);
    let refusal = match refusal(name, Some(exp)) {
        Ok(r) => r,
        Err(e) => {
            fr.push(FILE_SCOPE, "expect_error", Verdict::Fail(e));
            Some(Refusal::Any)
        }
    };
    let checks: &[Value] = match exp.get("checks") {
        Some(Value::Array(c)) => c,
        None => &[],
        Some(other) => {
            fr.push(
                FILE_SCOPE,
                "checks",
                Verdict::Fail(format!("expectation: checks is {}", spec::short(other))),
            );
            &[]
        }
    };
    let run_all = |dec: &Decoded, skip: Option<&'static str>, fr: &mut FileReport| {
        file::run_facts(dec, exp, skip, fr);
        for (n, check) in checks.iter().enumerate() {
            match check {
                Value::Object(check) => keys::run_check(dec, n, check, skip, fr),
                other => fr.push(
                    &format!("check {n}"),
                    "check",
                    Verdict::Fail(format!(
                        "expectation: not an object: {}",
                        spec::short(other)
                    )),
                ),
            }
        }
    };
    match refusal {
        None => {
            let mut verdict = decode_verdict(dec);
            if canonical != name
                && let Verdict::Fail(msg) = &mut verdict
            {
                msg.push_str(&format!(" (decoded as {canonical})"));
            }
            fr.push(FILE_SCOPE, "decodes to End", verdict);
            fr.push(FILE_SCOPE, "item stream shape", shape_verdict(dec));
            run_all(dec, None, &mut fr);
        }
        Some(Refusal::Checksum) => {
            fr.push(
                FILE_SCOPE,
                "expect_error",
                refusal_verdict(Refusal::Checksum, dec),
            );
            // The content is fine: check it with verification off.
            let lax = decode_file(&dir.join(canonical), relaxed());
            fr.push(
                FILE_SCOPE,
                "decodes to End without checksum verification",
                decode_verdict(&lax),
            );
            fr.push(FILE_SCOPE, "item stream shape", shape_verdict(&lax));
            run_all(&lax, None, &mut fr);
        }
        Some(r) => {
            fr.push(FILE_SCOPE, "expect_error", refusal_verdict(r, dec));
            run_all(dec, Some("file is refused as expected"), &mut fr);
        }
    }
    fr
}

#[test]
fn corpus_files_meet_their_expectations() {
    let dir = spec::corpus_dir();
    let index = spec::load_index(&dir);
    let expected = spec::load_expected(&dir);
    let mut report = Report::new(&format!("corpus expectations ({})", dir.display()));

    // The corpus itself: INDEX.json and the expected.json files name the same files.
    let mut corpus = FileReport::new("(INDEX vs expected.json)");
    for name in index.keys().filter(|n| !expected.contains_key(*n)) {
        corpus.push(name, "expected.json entry", Verdict::Fail("missing".into()));
    }
    for name in expected.keys().filter(|n| !index.contains_key(*n)) {
        corpus.push(name, "INDEX.json entry", Verdict::Fail("missing".into()));
    }
    corpus.push(FILE_SCOPE, "entries", Verdict::Pass);
    report.files.push(corpus);

    // Decode each distinct file once; check every entry that names its bytes.
    let mut by_bytes: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for name in expected.keys() {
        let canonical = index
            .get(name)
            .and_then(|e| e.get("duplicate_of"))
            .and_then(Value::as_str)
            .unwrap_or(name);
        by_bytes.entry(canonical.to_owned()).or_default().push(name);
    }
    let distinct = by_bytes.len();
    for (canonical, names) in &by_bytes {
        let dec = decode_file(&dir.join(canonical), Config::default());
        for name in names {
            report
                .files
                .push(check_entry(&dir, name, canonical, &expected[*name], &dec));
        }
    }
    report.files.sort_by(|a, b| a.name.cmp(&b.name));

    println!("{}", report.render());
    println!(
        "{} expected.json entries, {distinct} distinct files decoded",
        expected.len()
    );
    let failed = report.failed_files();
    assert!(
        failed == 0,
        "{failed} corpus files do not meet their expectations (see the table and failures above)"
    );
}

#[test]
fn every_indexed_file_decodes_to_its_end() {
    let dir = spec::corpus_dir();
    let index = spec::load_index(&dir);
    let expected = spec::load_expected(&dir);
    let mut report = Report::new(&format!("corpus INDEX.json ({})", dir.display()));
    for (name, facts) in &index {
        let mut fr = FileReport::new(name);
        check_indexed(&dir, name, facts, expected.get(name), &mut fr);
        report.files.push(fr);
    }
    println!("{}", report.render());
    let failed = report.failed_files();
    assert!(
        failed == 0,
        "{failed} of {} indexed files fail to decode as expected (see above)",
        index.len()
    );
}

fn check_indexed(
    dir: &Path,
    name: &str,
    facts: &Value,
    exp: Option<&Map<String, Value>>,
    fr: &mut FileReport,
) {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let sha: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let want = facts.get("sha256").and_then(Value::as_str).unwrap_or("");
            fr.push(FILE_SCOPE, "sha256", Verdict::eq(want, sha.as_str()));
        }
        Err(e) => {
            fr.push(FILE_SCOPE, "readable", Verdict::Fail(e.to_string()));
            return;
        }
    }
    let refusal = match refusal(name, exp) {
        Ok(r) => r,
        Err(e) => {
            fr.push(FILE_SCOPE, "expect_error", Verdict::Fail(e));
            Some(Refusal::Any)
        }
    };
    let dec = decode_file(&path, Config::default());
    let lax;
    let facts_of: Option<&Decoded> = match refusal {
        None => {
            fr.push(FILE_SCOPE, "decodes to End", decode_verdict(&dec));
            fr.push(FILE_SCOPE, "item stream shape", shape_verdict(&dec));
            Some(&dec)
        }
        Some(Refusal::Checksum) => {
            fr.push(
                FILE_SCOPE,
                "expect_error",
                refusal_verdict(Refusal::Checksum, &dec),
            );
            lax = decode_file(&path, relaxed());
            fr.push(
                FILE_SCOPE,
                "decodes to End without checksum verification",
                decode_verdict(&lax),
            );
            Some(&lax)
        }
        Some(r) => {
            fr.push(FILE_SCOPE, "expect_error", refusal_verdict(r, &dec));
            None
        }
    };
    let want_version = facts.get("rdb_version").and_then(Value::as_u64);
    fr.push(
        FILE_SCOPE,
        "rdb_version",
        Verdict::eq(want_version, file::version(&dec).map(u64::from)),
    );
    let Some(dec) = facts_of else {
        return;
    };
    if facts.get("scan_error").is_some_and(|e| !e.is_null()) {
        // The indexer stopped early: its counts describe a prefix only.
        let why = "INDEX.json has a scan_error: its counts are partial";
        fr.push(FILE_SCOPE, "keys", Verdict::Skip(why));
        return;
    }
    let want_keys = facts.get("keys").and_then(Value::as_u64);
    fr.push(
        FILE_SCOPE,
        "keys",
        Verdict::eq(want_keys, Some(dec.keys.len() as u64)),
    );
    let magic = match dec.header.map(|h| h.magic) {
        Some(Magic::Redis) => "REDIS",
        Some(Magic::Valkey) => "VALKE",
        None => "",
    };
    let want_magic = facts.get("magic").and_then(Value::as_str).unwrap_or("");
    fr.push(FILE_SCOPE, "magic", Verdict::eq(want_magic, magic));
    let want_types = index_counts(facts.get("types"));
    let got_types = file::counts(dec.keys.iter().map(|k| k.header.encoding.name()));
    fr.push(FILE_SCOPE, "types", Verdict::eq(want_types, got_types));

    let mut opcodes = file::counts([]);
    let mut put = |name: &str, n: usize| {
        if n > 0 {
            opcodes.insert(name.to_owned(), n as u64);
        }
    };
    put("AUX", dec.aux.len());
    put("SELECTDB", dec.select_db.len());
    put("RESIZEDB", dec.resize_db.len());
    put("SLOT_INFO", dec.slot_info.len());
    put("MODULE_AUX", dec.module_aux.len());
    put(
        "FUNCTION2",
        dec.functions.iter().filter(|f| f.pre_ga.is_none()).count(),
    );
    put(
        "FUNCTION_PRE_GA",
        dec.functions.iter().filter(|f| f.pre_ga.is_some()).count(),
    );
    put(
        "IDLE",
        dec.keys
            .iter()
            .filter(|k| k.header.lru_idle.is_some())
            .count(),
    );
    put(
        "FREQ",
        dec.keys
            .iter()
            .filter(|k| k.header.lfu_freq.is_some())
            .count(),
    );
    put(
        "EXPIRETIME*",
        dec.keys
            .iter()
            .filter(|k| k.header.expire_at_ms.is_some())
            .count(),
    );
    put("EOF", usize::from(dec.end.is_some()));
    // The decoder does not tell EXPIRETIME (seconds) from EXPIRETIME_MS.
    let mut want_opcodes = index_counts(facts.get("opcodes"));
    let expires = want_opcodes.remove("EXPIRETIME").unwrap_or(0)
        + want_opcodes.remove("EXPIRETIME_MS").unwrap_or(0);
    if expires > 0 {
        want_opcodes.insert("EXPIRETIME*".into(), expires);
    }
    fr.push(FILE_SCOPE, "opcodes", Verdict::eq(want_opcodes, opcodes));

    let checksum = match dec.end {
        Some(None) => "none (pre-v5)",
        Some(Some(0)) => "zero (disabled)",
        Some(Some(_)) if refusal == Some(Refusal::Checksum) => "MISMATCH",
        Some(Some(_)) => "ok",
        None => "(no End)",
    };
    let want_checksum = facts.get("checksum").and_then(Value::as_str).unwrap_or("");
    fr.push(FILE_SCOPE, "checksum", Verdict::eq(want_checksum, checksum));

    let mut aux_problems = Vec::new();
    if let Some(Value::Object(aux)) = facts.get("aux") {
        for (k, v) in aux {
            let want = v.as_str().unwrap_or_default();
            let found = dec
                .aux
                .iter()
                .any(|(ak, av)| index_text(ak) == *k && index_text(av) == want);
            if !found {
                aux_problems.push(format!("{k}={}", spec::short(v)));
            }
        }
    }
    fr.push(
        FILE_SCOPE,
        "aux",
        Verdict::check(aux_problems.is_empty(), || {
            format!("not decoded: {}", aux_problems.join(", "))
        }),
    );
}

/// How INDEX.json writes bytes: as UTF-8 text, or one Latin-1 character per
/// byte when they are not valid UTF-8 (e.g. the 0xdb around legacy Lua AUX names).
fn index_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// INDEX.json's `{name: count}` objects.
fn index_counts(v: Option<&Value>) -> BTreeMap<String, u64> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(u64::MAX)))
                .collect()
        })
        .unwrap_or_default()
}
