//! The per-key checks of expected.json (`"checks": [...]`).

use super::model::{Data, Decoded, HashField, Key, Stream, show};
use super::report::{FileReport, Verdict};
use super::spec::{self, short};
use bytes::Bytes;
use ferry_rdb::{Encoding, StreamConsumer, StreamId, StreamMeta};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Fields that select the key rather than assert something about it.
const SELECTORS: &[&str] = &["db", "key", "index"];
/// Fields that only modify another field's comparison.
const MODIFIERS: &[&str] = &["score_tolerance", "expire_tolerance_ms"];
/// Free text: read by people, not checked.
const INFO: &[&str] = &["notes", "entries_deleted_flags"];

/// Skip reason of `json` checks on values `ferry_rdb::module` cannot render.
pub const NEEDS_MODULE_DECODER: &str = "needs module decoder for this module type";

/// Runs check number `n` of a file. With `skip`, every field is recorded as
/// skipped for that reason (the file is refused, so there is nothing to compare).
pub fn run_check(
    dec: &Decoded,
    n: usize,
    check: &Map<String, Value>,
    skip: Option<&'static str>,
    report: &mut FileReport,
) {
    let scope = format!("check {n} {}", describe(check));
    let exists = ("exists".to_owned(), Value::Bool(true));
    let mut fields: Vec<(&String, &Value)> = check
        .iter()
        .filter(|(f, _)| {
            !SELECTORS.contains(&f.as_str())
                && !MODIFIERS.contains(&f.as_str())
                && !INFO.contains(&f.as_str())
        })
        .collect();
    if fields.is_empty() {
        // A check that only names a key still says the key is there.
        fields.push((&exists.0, &exists.1));
    }
    if let Some(reason) = skip {
        for (field, _) in fields {
            report.push(&scope, field, Verdict::Skip(reason));
        }
        return;
    }
    let candidates = match select(dec, check) {
        Ok(c) => c,
        Err(e) => {
            for (field, _) in fields {
                report.push(&scope, field, Verdict::Fail(format!("expectation: {e}")));
            }
            return;
        }
    };
    let absent = check.get("absent").and_then(Value::as_bool) == Some(true);
    if absent {
        let verdict = Verdict::check(candidates.is_empty(), || {
            format!("key exists ({} matches)", candidates.len())
        });
        report.push(&scope, "absent", verdict);
        return;
    }
    if candidates.is_empty() {
        let why = match &dec.error {
            Some(e) => format!("key not found (decoding stopped: {})", e.message),
            None => "key not found".to_owned(),
        };
        for (field, _) in fields {
            report.push(&scope, field, Verdict::Fail(why.clone()));
        }
        return;
    }
    // Several candidates only when the check does not pin db and key: take the
    // one that satisfies the most fields.
    let mut best: Option<Vec<(&str, Verdict)>> = None;
    for key in candidates {
        let verdicts: Vec<(&str, Verdict)> = fields
            .iter()
            .map(|(field, want)| (field.as_str(), eval(key, field, want, check)))
            .collect();
        let fails = |v: &[(&str, Verdict)]| {
            v.iter()
                .filter(|(_, v)| matches!(v, Verdict::Fail(_)))
                .count()
        };
        if best.as_ref().is_none_or(|b| fails(&verdicts) < fails(b)) {
            best = Some(verdicts);
        }
    }
    for (field, verdict) in best.unwrap_or_default() {
        report.push(&scope, field, verdict);
    }
}

fn describe(check: &Map<String, Value>) -> String {
    let db = match check.get("db") {
        Some(Value::Null) | None => String::new(),
        Some(db) => format!(" db {db}"),
    };
    if let Some(i) = check.get("index") {
        format!("key #{i}{db}")
    } else if let Some(k) = check.get("key") {
        match spec::bytes(k) {
            Ok(k) => format!("key {}{db}", show(&k)),
            Err(_) => format!("key {}{db}", short(k)),
        }
    } else {
        let ty = check.get("type").and_then(Value::as_str).unwrap_or("key");
        format!("(any {ty}{db})")
    }
}

/// The keys a check can mean: by name (and db), by position, or any key of its type.
fn select<'a>(dec: &'a Decoded, check: &Map<String, Value>) -> Result<Vec<&'a Key>, String> {
    let db = match check.get("db") {
        None | Some(Value::Null) => None,
        Some(v) => Some(spec::u64_of(v)?),
    };
    let in_db = |k: &&Key| db.is_none_or(|db| k.header.db == db);
    if let Some(i) = check.get("index") {
        let i = usize::try_from(spec::u64_of(i)?).map_err(|e| e.to_string())?;
        return Ok(dec.keys.get(i).into_iter().filter(in_db).collect());
    }
    if let Some(name) = check.get("key") {
        let name = spec::bytes(name)?;
        return Ok(dec
            .keys
            .iter()
            .filter(|k| k.header.key[..] == name[..])
            .filter(in_db)
            .collect());
    }
    let ty = check.get("type").and_then(Value::as_str);
    Ok(dec
        .keys
        .iter()
        .filter(in_db)
        .filter(|k| ty.is_none_or(|t| k.header.kind().name() == t))
        .collect())
}

fn eval(key: &Key, field: &str, want: &Value, check: &Map<String, Value>) -> Verdict {
    match eval_inner(key, field, want, check) {
        Ok(v) => v,
        Err(e) => Verdict::Fail(e),
    }
}

fn eval_inner(
    key: &Key,
    field: &str,
    want: &Value,
    check: &Map<String, Value>,
) -> Result<Verdict, String> {
    let h = &key.header;
    Ok(match field {
        "type" => {
            let want = want.as_str().ok_or("expectation: type is not a string")?;
            let got = h.kind().name();
            Verdict::check(want == got, || {
                format!("expected {want}, got {got} ({})", h.encoding.name())
            })
        }
        "rdb_type" => {
            let want = want
                .as_str()
                .ok_or("expectation: rdb_type is not a string")?;
            Verdict::eq(want, h.encoding.name())
        }
        "value" => Verdict::from_result(value(key, want, tolerance(check)?)),
        "value_pairs" => {
            let mut want_pairs = Vec::new();
            for pair in spec::array(want)? {
                match spec::bytes_list(pair)?.as_slice() {
                    [f, v] => want_pairs.push((f.clone(), v.clone())),
                    _ => return Err(format!("expectation: not a pair: {}", short(pair))),
                }
            }
            let got: Vec<(Vec<u8>, Vec<u8>)> = hash(key)?
                .iter()
                .map(|(f, v, _)| (f.to_vec(), v.to_vec()))
                .collect();
            Verdict::from_result(multiset_diff(want_pairs, got, |(f, v)| {
                format!("{}={}", show(f), show(v))
            }))
        }
        "len" => {
            let want = spec::u64_of(want)?;
            let got = match &key.data {
                Data::Stream(s) => meta(s)?.length,
                Data::Module { .. } => return Err("len of a module value".into()),
                d => d.count() as u64,
            };
            Verdict::eq(want, got)
        }
        "contains" => {
            let got: BTreeSet<&[u8]> = match &key.data {
                Data::List(v) | Data::Set(v) => v.iter().map(|b| &b[..]).collect(),
                Data::ZSet(v) => v.iter().map(|(m, _)| &m[..]).collect(),
                Data::Hash(v) => v.iter().map(|(f, _, _)| &f[..]).collect(),
                _ => return Err(format!("contains on a {}", h.kind())),
            };
            let missing: Vec<String> = spec::bytes_list(want)?
                .iter()
                .filter(|w| !got.contains(&w[..]))
                .map(|w| show(w))
                .collect();
            Verdict::check(missing.is_empty(), || {
                format!("{} missing: {}", missing.len(), first_few(&missing))
            })
        }
        "index_values" => {
            let list = list(key)?;
            let mut problems = Vec::new();
            for (i, w) in spec::object(want)? {
                let i: i64 = i.parse().map_err(|_| format!("expectation: index {i:?}"))?;
                let w = spec::bytes(w)?;
                let pos = if i < 0 { list.len() as i64 + i } else { i };
                match usize::try_from(pos).ok().and_then(|p| list.get(p)) {
                    Some(got) if got[..] == w[..] => {}
                    Some(got) => problems.push(format!("[{i}] {} != {}", show(got), show(&w))),
                    None => problems.push(format!("[{i}] out of range (len {})", list.len())),
                }
            }
            Verdict::check(problems.is_empty(), || first_few(&problems))
        }
        "fields" => {
            let got = hash_map(hash(key)?);
            let want = spec::bytes_map(want)?;
            Verdict::from_result(map_diff(&want, &got, false))
        }
        "field_value_lengths" => {
            let got = hash_map(hash(key)?);
            let mut problems = Vec::new();
            for (f, n) in spec::object(want)? {
                let n = spec::u64_of(n)?;
                match got.get(f.as_bytes()) {
                    Some(v) if v.len() as u64 == n => {}
                    Some(v) => problems.push(format!("{f}: {} bytes, expected {n}", v.len())),
                    None => problems.push(format!("{f}: no such field")),
                }
            }
            Verdict::check(problems.is_empty(), || first_few(&problems))
        }
        "scores" => Verdict::from_result(scores(key, want, tolerance(check)?, false)),
        "order" => {
            let mut sorted: Vec<&(Bytes, f64)> = zset(key)?.iter().collect();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let rank: BTreeMap<&[u8], usize> = sorted
                .iter()
                .enumerate()
                .map(|(i, (m, _))| (&m[..], i))
                .collect();
            let want = spec::bytes_list(want)?;
            let mut last = None;
            let mut problem = None;
            for w in &want {
                match rank.get(&w[..]) {
                    None => problem = Some(format!("{} is not a member", show(w))),
                    Some(&r) if last.is_some_and(|l| r <= l) => {
                        problem = Some(format!("{} is out of score order", show(w)));
                    }
                    Some(&r) => last = Some(r),
                }
                if problem.is_some() {
                    break;
                }
            }
            Verdict::check(problem.is_none(), || problem.unwrap_or_default())
        }
        "value_len" => Verdict::eq(spec::u64_of(want)?, string(key)?.len() as u64),
        "value_sha256" => {
            let want = want.as_str().ok_or("expectation: sha256 is not a string")?;
            let got: String = Sha256::digest(string(key)?)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Verdict::eq(want.to_ascii_lowercase(), got)
        }
        "expire_ms" => {
            let want = match want {
                Value::Null => None,
                v => Some(spec::i64_of(v)?),
            };
            Verdict::eq(want, h.expire_at_ms)
        }
        "expire_ms_approx" => {
            let approx = spec::i64_of(want)?;
            let tol = match check.get("expire_tolerance_ms") {
                Some(t) => spec::i64_of(t)?,
                None => 0,
            };
            match h.expire_at_ms {
                Some(got) => Verdict::check((got - approx).abs() <= tol, || {
                    format!("expected {approx} +- {tol}, got {got}")
                }),
                None => Verdict::Fail("no expire time".into()),
            }
        }
        "has_ttl" => Verdict::eq(spec::bool_of(want)?, h.expire_at_ms.is_some()),
        "field_expire_ms" => {
            let fields = hash(key)?;
            let mut want_ttl = BTreeMap::new();
            for (f, t) in spec::object(want)? {
                want_ttl.insert(f.as_bytes().to_vec(), spec::u64_of(t)?);
            }
            let mut problems = Vec::new();
            for (f, t) in &want_ttl {
                match fields.iter().find(|(g, _, _)| g[..] == f[..]) {
                    Some((_, _, got)) if *got == Some(*t) => {}
                    Some((_, _, got)) => {
                        problems.push(format!("{}: expected {t}, got {got:?}", show(f)));
                    }
                    None => problems.push(format!("{}: no such field", show(f))),
                }
            }
            // The map lists exactly the fields that have a TTL.
            for (f, _, got) in fields {
                if let Some(got) = got
                    && !want_ttl.contains_key(&f[..])
                {
                    problems.push(format!("{}: TTL {got} where none is expected", show(f)));
                }
            }
            Verdict::check(problems.is_empty(), || first_few(&problems))
        }
        "lru_idle" => Verdict::eq(Some(spec::u64_of(want)?), h.lru_idle),
        "lfu_freq" => Verdict::eq(Some(spec::u64_of(want)?), h.lfu_freq.map(u64::from)),
        "module_name" => {
            let want = want
                .as_str()
                .ok_or("expectation: module_name is not a string")?;
            Verdict::eq(Some(want.to_owned()), h.module.map(|m| m.name()))
        }
        "json" => {
            let want = want.as_str().ok_or("expectation: json is not a string")?;
            match module_json(key) {
                None => Verdict::Skip(NEEDS_MODULE_DECODER),
                Some(Err(e)) => Verdict::Fail(format!("module decoder: {e}")),
                Some(Ok(got)) => {
                    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
                    Verdict::check(parse(want).is_some() && parse(want) == parse(&got), || {
                        format!("expected {want}, got {got}")
                    })
                }
            }
        }
        "module_placeholder" => Verdict::from_result(module_placeholder(key, want)),
        "absent" => Verdict::check(!spec::bool_of(want)?, || "key exists".into()),
        "exists" => Verdict::Pass,
        "entries"
        | "last_id"
        | "first_id"
        | "max_deleted_id"
        | "entries_added"
        | "group_count"
        | "groups"
        | "groups_complete"
        | "deleted_ids"
        | "consumers_have_active_time" => stream_field(key, field, want, check)?,
        "listpacks" => Verdict::Skip("listpack count is not exposed by ferry-rdb items"),
        _ => Verdict::Fail(format!(
            "unknown expectation field {field:?}: the harness does not know how to check it"
        )),
    })
}

/// RedisJSON's `JSON.GET` text of a module value, from `ferry_rdb::module`;
/// `None` when the module decoder does not know the value's module type (the
/// check is then skipped).
fn module_json(key: &Key) -> Option<Result<String, String>> {
    let module = key.header.module?;
    let Data::Module { payload } = &key.data else {
        return Some(Err(wrong_kind(key, "module value")));
    };
    ferry_rdb::module::json_text(module, payload).map(|r| r.map_err(|e| e.to_string()))
}

/// librdb's text for an opaque module value:
/// `<Content of Module 'NAME'. Occupies a serialized size of N bytes>`, where N
/// counts the value after its key: the module id's length encoding and the payload.
fn module_placeholder(key: &Key, want: &Value) -> Result<(), String> {
    let want = want
        .as_str()
        .ok_or("expectation: module_placeholder is not a string")?;
    let bad = || format!("expectation: unknown placeholder {want:?}");
    let rest = want
        .strip_prefix("<Content of Module '")
        .and_then(|r| r.strip_suffix(" bytes>"))
        .ok_or_else(bad)?;
    let (name, size) = rest
        .split_once("'. Occupies a serialized size of ")
        .ok_or_else(bad)?;
    let size: u64 = size.parse().map_err(|_| bad())?;
    let module = key
        .header
        .module
        .ok_or("no module type in the key header")?;
    let Data::Module { payload } = &key.data else {
        return Err(format!(
            "not a module value ({})",
            key.header.encoding.name()
        ));
    };
    let id_len: u64 = match module.id {
        0..0x40 => 1,
        0x40..0x4000 => 2,
        0x4000..=0xFFFF_FFFF => 5,
        _ => 9,
    };
    let got_size = id_len + payload.len() as u64;
    if module.name() != name {
        return Err(format!("module {name:?} expected, got {:?}", module.name()));
    }
    if got_size != size {
        return Err(format!(
            "serialized size {size} expected, got {got_size} (id {id_len} + payload {})",
            payload.len()
        ));
    }
    Ok(())
}

fn tolerance(check: &Map<String, Value>) -> Result<Option<f64>, String> {
    check
        .get("score_tolerance")
        .map(|t| {
            t.as_f64()
                .ok_or(format!("expectation: score_tolerance {t}"))
        })
        .transpose()
}

/// Scores are equal: exactly (same infinity), within `tol` if given, else within 1e-9 relative.
fn score_eq(want: f64, got: f64, tol: Option<f64>) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want == got {
        return true;
    }
    if want.is_infinite() || got.is_infinite() {
        return false;
    }
    let diff = (want - got).abs();
    match tol {
        Some(t) => diff <= t,
        None => diff <= 1e-9 * want.abs().max(got.abs()),
    }
}

fn value(key: &Key, want: &Value, tol: Option<f64>) -> Result<(), String> {
    match &key.data {
        Data::String { bytes, .. } => {
            let want = spec::bytes(want)?;
            if want == *bytes {
                Ok(())
            } else {
                let at = want.iter().zip(bytes).position(|(a, b)| a != b);
                Err(format!(
                    "expected {}, got {}{}",
                    show(&want),
                    show(bytes),
                    at.map(|i| format!(" (first difference at byte {i})"))
                        .unwrap_or_default()
                ))
            }
        }
        Data::List(got) => {
            let want = spec::bytes_list(want)?;
            if want.len() != got.len() {
                return Err(format!(
                    "expected {} elements, got {}",
                    want.len(),
                    got.len()
                ));
            }
            match want.iter().zip(got).position(|(w, g)| w[..] != g[..]) {
                None => Ok(()),
                Some(i) => Err(format!(
                    "element {i}: expected {}, got {}",
                    show(&want[i]),
                    show(&got[i])
                )),
            }
        }
        Data::Set(got) => {
            let got: Vec<Vec<u8>> = got.iter().map(|b| b.to_vec()).collect();
            multiset_diff(spec::bytes_list(want)?, got, |m| show(m))
        }
        Data::Hash(got) => map_diff(&spec::bytes_map(want)?, &hash_map(got), true),
        Data::ZSet(_) => scores(key, want, tol, true),
        Data::Stream(_) | Data::Module { .. } => Err(format!(
            "the harness has no `value` comparison for a {}",
            key.header.kind()
        )),
    }
}

/// Zset member -> score, all of them (`exact`) or a subset.
fn scores(key: &Key, want: &Value, tol: Option<f64>, exact: bool) -> Result<(), String> {
    let got: BTreeMap<&[u8], f64> = zset(key)?.iter().map(|(m, s)| (&m[..], *s)).collect();
    let mut problems = Vec::new();
    let want = spec::object(want)?;
    for (m, s) in want {
        let s = spec::score(s)?;
        match got.get(m.as_bytes()) {
            Some(&g) if score_eq(s, g, tol) => {}
            Some(&g) => problems.push(format!("{}: expected {s}, got {g}", show(m.as_bytes()))),
            None => problems.push(format!("{}: no such member", show(m.as_bytes()))),
        }
    }
    if exact && got.len() != want.len() {
        let extra: Vec<String> = got
            .keys()
            .filter(|m| std::str::from_utf8(m).map_or(true, |m| !want.contains_key(m)))
            .map(|m| show(m))
            .collect();
        problems.push(format!(
            "{} members, expected {}; unexpected: {}",
            got.len(),
            want.len(),
            first_few(&extra)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(first_few(&problems))
    }
}

fn hash_map(fields: &[HashField]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    fields
        .iter()
        .map(|(f, v, _)| (f.to_vec(), v.to_vec()))
        .collect()
}

/// `want` equals `got` (`exact`), or is a subset of it.
fn map_diff(
    want: &BTreeMap<Vec<u8>, Vec<u8>>,
    got: &BTreeMap<Vec<u8>, Vec<u8>>,
    exact: bool,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for (f, w) in want {
        match got.get(f) {
            Some(g) if g == w => {}
            Some(g) => problems.push(format!(
                "{}: expected {}, got {}",
                show(f),
                show(w),
                show(g)
            )),
            None => problems.push(format!("{}: missing", show(f))),
        }
    }
    if exact {
        for f in got.keys().filter(|f| !want.contains_key(*f)) {
            problems.push(format!("{}: unexpected", show(f)));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} differences ({} expected, {} decoded): {}",
            problems.len(),
            want.len(),
            got.len(),
            first_few(&problems)
        ))
    }
}

/// Compares as multisets.
fn multiset_diff<T: Ord + Clone>(
    want: Vec<T>,
    got: Vec<T>,
    show_one: impl Fn(&T) -> String,
) -> Result<(), String> {
    let mut counts: BTreeMap<T, i64> = BTreeMap::new();
    for w in want {
        *counts.entry(w).or_default() += 1;
    }
    for g in got {
        *counts.entry(g).or_default() -= 1;
    }
    let missing: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(t, _)| show_one(t))
        .collect();
    let extra: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|(t, _)| show_one(t))
        .collect();
    if missing.is_empty() && extra.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} missing: {}; {} unexpected: {}",
            missing.len(),
            first_few(&missing),
            extra.len(),
            first_few(&extra)
        ))
    }
}

fn first_few(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(", ... ({} in all)", items.len()));
    }
    if s.is_empty() { "none".into() } else { s }
}

fn wrong_kind(key: &Key, want: &str) -> String {
    format!(
        "not a {want}: {} ({})",
        key.header.kind(),
        key.header.encoding.name()
    )
}

fn string(key: &Key) -> Result<&Vec<u8>, String> {
    match &key.data {
        Data::String { bytes, .. } => Ok(bytes),
        _ => Err(wrong_kind(key, "string")),
    }
}

fn list(key: &Key) -> Result<&Vec<Bytes>, String> {
    match &key.data {
        Data::List(v) => Ok(v),
        _ => Err(wrong_kind(key, "list")),
    }
}

fn zset(key: &Key) -> Result<&Vec<(Bytes, f64)>, String> {
    match &key.data {
        Data::ZSet(v) => Ok(v),
        _ => Err(wrong_kind(key, "zset")),
    }
}

fn hash(key: &Key) -> Result<&Vec<HashField>, String> {
    match &key.data {
        Data::Hash(v) => Ok(v),
        _ => Err(wrong_kind(key, "hash")),
    }
}

fn meta(s: &Stream) -> Result<&StreamMeta, String> {
    s.meta.as_ref().ok_or_else(|| "no StreamMeta".to_owned())
}

fn stream_field(
    key: &Key,
    field: &str,
    want: &Value,
    check: &Map<String, Value>,
) -> Result<Verdict, String> {
    let Data::Stream(s) = &key.data else {
        return Err(wrong_kind(key, "stream"));
    };
    let id = |v: &Value| spec::stream_id(v).map_err(|e| format!("expectation: {e}"));
    Ok(match field {
        "entries" => Verdict::from_result(entries(s, want)),
        "last_id" => Verdict::eq(id(want)?.to_string(), meta(s)?.last_id.to_string()),
        "first_id" => Verdict::eq(id(want)?.to_string(), meta(s)?.first_id.to_string()),
        "max_deleted_id" => Verdict::eq(id(want)?.to_string(), meta(s)?.max_deleted_id.to_string()),
        "entries_added" => Verdict::eq(spec::u64_of(want)?, meta(s)?.entries_added),
        "group_count" => Verdict::eq(spec::u64_of(want)?, meta(s)?.group_count),
        "groups" => Verdict::from_result(groups(s, key.header.encoding, want)),
        "groups_complete" => {
            if !spec::bool_of(want)? {
                Verdict::Pass
            } else {
                let listed = check
                    .get("groups")
                    .ok_or("expectation: groups_complete without groups")?;
                let want: BTreeSet<Vec<u8>> = spec::object(listed)?
                    .keys()
                    .map(|k| k.as_bytes().to_vec())
                    .collect();
                let got: BTreeSet<Vec<u8>> =
                    s.groups.iter().map(|g| g.header.name.to_vec()).collect();
                Verdict::check(want == got, || {
                    let show_set = |s: &BTreeSet<Vec<u8>>| {
                        s.iter().map(|n| show(n)).collect::<Vec<_>>().join(", ")
                    };
                    format!(
                        "groups [{}] expected, decoded [{}]",
                        show_set(&want),
                        show_set(&got)
                    )
                })
            }
        }
        "deleted_ids" => {
            let mut live = Vec::new();
            for v in spec::array(want)? {
                let d = id(v)?;
                if s.entries.iter().any(|e| e.id == d) {
                    live.push(d.to_string());
                }
            }
            Verdict::check(live.is_empty(), || {
                format!("deleted ids decoded as live entries: {}", first_few(&live))
            })
        }
        "consumers_have_active_time" => {
            let want = spec::bool_of(want)?;
            let consumers: Vec<_> = s.groups.iter().flat_map(|g| &g.consumers).collect();
            let with = consumers
                .iter()
                .filter(|c| c.header.active_time_ms.is_some())
                .count();
            let got = !consumers.is_empty() && with == consumers.len();
            Verdict::check(want == got, || {
                format!(
                    "{with} of {} consumers have an active time",
                    consumers.len()
                )
            })
        }
        _ => return Err(format!("unknown stream field {field}")),
    })
}

fn entries(s: &Stream, want: &Value) -> Result<(), String> {
    let want = spec::array(want)?;
    let mut problems = Vec::new();
    if want.len() != s.entries.len() {
        problems.push(format!(
            "expected {} entries, got {}",
            want.len(),
            s.entries.len()
        ));
    }
    for (i, (w, g)) in want.iter().zip(&s.entries).enumerate() {
        let w = spec::object(w)?;
        let wid = spec::stream_id(w.get("id").ok_or("expectation: entry without id")?)?;
        if wid != g.id {
            problems.push(format!("entry {i}: id expected {wid}, got {}", g.id));
            break;
        }
        let wf = spec::bytes_map(w.get("fields").ok_or("expectation: entry without fields")?)?;
        let gf: BTreeMap<Vec<u8>, Vec<u8>> = g
            .fields
            .iter()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect();
        if let Err(e) = map_diff(&wf, &gf, true) {
            problems.push(format!("entry {i} ({wid}) fields: {e}"));
            break;
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// A consumer's active time as a server reports it: stored from
/// STREAM_LISTPACKS_3 on; older formats have none and Redis (7.2+) takes the
/// seen time on load, as the sources' expectations do.
fn active_time(encoding: Encoding, c: &StreamConsumer) -> Option<u64> {
    match encoding {
        Encoding::StreamListpacks | Encoding::StreamListpacks2 => {
            c.active_time_ms.or(Some(c.seen_time_ms))
        }
        _ => c.active_time_ms,
    }
}

fn groups(s: &Stream, encoding: Encoding, want: &Value) -> Result<(), String> {
    let mut problems = Vec::new();
    for (name, spec_) in spec::object(want)? {
        let Some(g) = s
            .groups
            .iter()
            .find(|g| g.header.name[..] == *name.as_bytes())
        else {
            problems.push(format!("group {name:?} not found"));
            continue;
        };
        for (f, w) in spec::object(spec_)? {
            let p = |what: String| format!("group {name:?} {f}: {what}");
            match f.as_str() {
                "pel" => {
                    let w = spec::u64_of(w)?;
                    if w != g.pending.len() as u64 {
                        problems.push(p(format!("expected {w}, got {}", g.pending.len())));
                    }
                }
                "consumers" => {
                    let w = spec::u64_of(w)?;
                    if w != g.consumers.len() as u64 {
                        problems.push(p(format!("expected {w}, got {}", g.consumers.len())));
                    }
                }
                "last_id" => {
                    let w = spec::stream_id(w)?;
                    if w != g.header.last_id {
                        problems.push(p(format!("expected {w}, got {}", g.header.last_id)));
                    }
                }
                "entries_read" => {
                    let w = match w {
                        Value::Null => None,
                        w => Some(spec::u64_of(w)?),
                    };
                    if w != g.header.entries_read {
                        problems.push(p(format!(
                            "expected {w:?}, got {:?}",
                            g.header.entries_read
                        )));
                    }
                }
                "pending" => {
                    let w = spec::array(w)?;
                    if w.len() != g.pending.len() {
                        problems.push(p(format!(
                            "expected {} entries, got {}",
                            w.len(),
                            g.pending.len()
                        )));
                    }
                    for (i, (w, got)) in w.iter().zip(&g.pending).enumerate() {
                        let w = spec::object(w)?;
                        let wid = spec::stream_id(w.get("id").ok_or("expectation: no id")?)?;
                        let time = w.get("delivery_time_ms").map(spec::u64_of).transpose()?;
                        let count = w.get("delivery_count").map(spec::u64_of).transpose()?;
                        if wid != got.id
                            || time.is_some_and(|t| t != got.delivery_time_ms)
                            || count.is_some_and(|c| c != got.delivery_count)
                        {
                            problems.push(p(format!(
                                "[{i}] expected {wid} time {time:?} count {count:?}, got {} \
                                 time {} count {}",
                                got.id, got.delivery_time_ms, got.delivery_count
                            )));
                            break;
                        }
                    }
                }
                "consumer_details" => {
                    for c in spec::array(w)? {
                        let c = spec::object(c)?;
                        let cname = spec::bytes(c.get("name").ok_or("expectation: no name")?)?;
                        let Some(got) = g.consumers.iter().find(|x| x.header.name[..] == cname[..])
                        else {
                            problems.push(p(format!("consumer {} not found", show(&cname))));
                            continue;
                        };
                        for (cf, cw) in c {
                            let ok = match cf.as_str() {
                                "name" => true,
                                "seen_time_ms" => spec::u64_of(cw)? == got.header.seen_time_ms,
                                "active_time_ms" => {
                                    let cw = match cw {
                                        Value::Null => None,
                                        cw => Some(spec::u64_of(cw)?),
                                    };
                                    cw == active_time(encoding, &got.header)
                                }
                                "pending" => {
                                    let ids = spec::array(cw)?
                                        .iter()
                                        .map(spec::stream_id)
                                        .collect::<Result<Vec<StreamId>, _>>()?;
                                    ids == got.pending
                                }
                                _ => {
                                    problems.push(p(format!("unknown consumer field {cf:?}")));
                                    true
                                }
                            };
                            if !ok {
                                problems.push(p(format!(
                                    "consumer {} {cf}: expected {}, got {}",
                                    show(&cname),
                                    short(cw),
                                    match cf.as_str() {
                                        "seen_time_ms" => format!("{}", got.header.seen_time_ms),
                                        "active_time_ms" => format!(
                                            "{:?} (stored: {:?})",
                                            active_time(encoding, &got.header),
                                            got.header.active_time_ms
                                        ),
                                        _ => got
                                            .pending
                                            .iter()
                                            .map(ToString::to_string)
                                            .collect::<Vec<_>>()
                                            .join(","),
                                    }
                                )));
                            }
                        }
                    }
                }
                "consumer_pel" => {
                    let w = spec::array(w)?
                        .iter()
                        .map(spec::u64_of)
                        .collect::<Result<Vec<u64>, _>>()?;
                    let got: Vec<u64> =
                        g.consumers.iter().map(|c| c.pending.len() as u64).collect();
                    if w != got {
                        problems.push(p(format!("expected {w:?}, got {got:?}")));
                    }
                }
                _ => problems.push(p("unknown group field; the harness cannot check it".into())),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(first_few(&problems))
    }
}
