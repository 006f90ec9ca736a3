//! The file-level facts of expected.json (everything but `checks`).

use super::model::{Decoded, show};
use super::report::{FILE_SCOPE, FileReport, Verdict};
use super::sha1;
use super::spec::{self, short};
use ferry_rdb::ErrorKind;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

/// Handled elsewhere (`checks`, `expect_error`) or free text.
const NOT_FACTS: &[&str] = &["checks", "expect_error", "expected_output", "notes"];

/// Checks every file-level fact. With `skip`, every fact but `rdb_version` is
/// recorded as skipped for that reason (the file is refused).
pub fn run_facts(
    dec: &Decoded,
    exp: &Map<String, Value>,
    skip: Option<&'static str>,
    report: &mut FileReport,
) {
    for (field, want) in exp {
        if NOT_FACTS.contains(&field.as_str()) {
            continue;
        }
        let verdict = match skip {
            Some(reason) if field != "rdb_version" => Verdict::Skip(reason),
            _ => fact(dec, field, want).unwrap_or_else(Verdict::Fail),
        };
        report.push(FILE_SCOPE, field, verdict);
    }
}

/// The version from the header, or from the error that refused it.
pub fn version(dec: &Decoded) -> Option<u32> {
    dec.header.map(|h| h.version).or_else(|| {
        match dec.error.as_ref().and_then(|e| e.kind.as_ref()) {
            Some(ErrorKind::UnsupportedVersion { version }) => Some(*version),
            _ => None,
        }
    })
}

fn count_map(
    dec: &Decoded,
    want: &Value,
    by: impl Fn(&super::model::Key) -> String,
) -> Result<Verdict, String> {
    let mut problems = Vec::new();
    for (k, n) in spec::object(want)? {
        let n = spec::u64_of(n)?;
        let got = dec.keys.iter().filter(|key| by(key) == *k).count() as u64;
        if got != n {
            problems.push(format!("{k}: expected {n}, got {got}"));
        }
    }
    Ok(Verdict::check(problems.is_empty(), || problems.join(", ")))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn fact(dec: &Decoded, field: &str, want: &Value) -> Result<Verdict, String> {
    Ok(match field {
        "rdb_version" => Verdict::eq(Some(spec::u64_of(want)?), version(dec).map(u64::from)),
        "keys" => Verdict::eq(spec::u64_of(want)?, dec.keys.len() as u64),
        "keys_per_db" => count_map(dec, want, |k| k.header.db.to_string())?,
        "type_counts" => count_map(dec, want, |k| k.header.kind().name().to_owned())?,
        "type_counts_per_db" => {
            let mut problems = Vec::new();
            for (db, types) in spec::object(want)? {
                let db: u64 = db.parse().map_err(|_| format!("expectation: db {db:?}"))?;
                for (ty, n) in spec::object(types)? {
                    let n = spec::u64_of(n)?;
                    let got = dec
                        .keys
                        .iter()
                        .filter(|k| k.header.db == db && k.header.kind().name() == ty)
                        .count() as u64;
                    if got != n {
                        problems.push(format!("db {db} {ty}: expected {n}, got {got}"));
                    }
                }
            }
            Verdict::check(problems.is_empty(), || problems.join(", "))
        }
        "keys_loaded_by_redis" => {
            // What a server keeps: not an empty collection, not already expired.
            let now = now_ms();
            let kept = dec
                .keys
                .iter()
                .filter(|k| !k.data.is_empty_collection())
                .filter(|k| k.header.expire_at_ms.is_none_or(|t| t > now))
                .count() as u64;
            Verdict::eq(spec::u64_of(want)?, kept)
        }
        "keys_distinct_names" => {
            let names: BTreeSet<&[u8]> = dec.keys.iter().map(|k| &k.header.key[..]).collect();
            Verdict::eq(spec::u64_of(want)?, names.len() as u64)
        }
        "aux" => {
            let mut problems = Vec::new();
            for (k, v) in spec::object(want)? {
                let v = spec::bytes(v)?;
                let values: Vec<&[u8]> = dec
                    .aux
                    .iter()
                    .filter(|(ak, _)| ak[..] == *k.as_bytes())
                    .map(|(_, av)| &av[..])
                    .collect();
                if !values.contains(&&v[..]) {
                    problems.push(match values.first() {
                        Some(got) => format!("{k}: expected {}, got {}", show(&v), show(got)),
                        None => format!("{k}: missing"),
                    });
                }
            }
            Verdict::check(problems.is_empty(), || problems.join(", "))
        }
        "aux_fields" => Verdict::eq(spec::u64_of(want)?, dec.aux.len() as u64),
        "functions" => {
            let mut want = spec::bytes_list(want)?;
            let mut got: Vec<Vec<u8>> = dec
                .functions
                .iter()
                .filter(|f| f.pre_ga.is_none())
                .map(|f| f.code.to_vec())
                .collect();
            want.sort();
            got.sort();
            Verdict::check(want == got, || {
                format!(
                    "expected {} libraries, got {}: [{}]",
                    want.len(),
                    got.len(),
                    got.iter().map(|c| show(c)).collect::<Vec<_>>().join(", ")
                )
            })
        }
        "functions_pre_ga" => {
            type Lib = (Vec<u8>, Vec<u8>, Option<Vec<u8>>, Vec<u8>);
            let mut want_libs: Vec<Lib> = Vec::new();
            for f in spec::array(want)? {
                let f = spec::object(f)?;
                let get = |k: &str| {
                    f.get(k)
                        .ok_or(format!("expectation: function without {k}"))
                        .and_then(spec::bytes)
                };
                let description = match f.get("description") {
                    None | Some(Value::Null) => None,
                    Some(d) => Some(spec::bytes(d)?),
                };
                want_libs.push((get("name")?, get("engine")?, description, get("code")?));
            }
            let mut got: Vec<Lib> = Vec::new();
            for f in &dec.functions {
                if let Some(p) = &f.pre_ga {
                    got.push((
                        p.name.to_vec(),
                        p.engine.to_vec(),
                        p.description.as_ref().map(|d| d.to_vec()),
                        f.code.to_vec(),
                    ));
                }
            }
            want_libs.sort();
            got.sort();
            Verdict::check(want_libs == got, || {
                format!(
                    "expected {} pre-GA functions, got {}: [{}]",
                    want_libs.len(),
                    got.len(),
                    got.iter()
                        .map(|(n, e, d, c)| format!(
                            "name {} engine {} description {} code {}",
                            show(n),
                            show(e),
                            d.as_deref().map_or("null".to_owned(), show),
                            show(c)
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
        }
        "slot_info" => {
            let w = spec::object(want)?;
            let get = |k: &str| {
                w.get(k)
                    .ok_or(format!("expectation: slot_info without {k}"))
                    .and_then(spec::u64_of)
            };
            let want = [get("slotId")?, get("slotSize")?, get("slotSExpiresSize")?];
            Verdict::check(dec.slot_info.contains(&want), || {
                format!("{want:?} not among {:?}", dec.slot_info)
            })
        }
        "slot_info_per_key" => {
            let mut want_slots = Vec::new();
            for s in spec::array(want)? {
                match spec::array(s)?.as_slice() {
                    [a, b, c] => want_slots.push(Some([
                        spec::u64_of(a)?,
                        spec::u64_of(b)?,
                        spec::u64_of(c)?,
                    ])),
                    _ => return Err(format!("expectation: slot triple {}", short(s))),
                }
            }
            let got: Vec<Option<[u64; 3]>> = dec.keys.iter().map(|k| k.slot_info).collect();
            Verdict::eq(want_slots, got)
        }
        "resizedb" => {
            let w = spec::object(want)?;
            let get = |k: &str| {
                w.get(k)
                    .ok_or(format!("expectation: resizedb without {k}"))
                    .and_then(spec::u64_of)
            };
            let want = (get("size")?, get("expires")?);
            Verdict::check(dec.resize_db.contains(&want), || {
                format!("{want:?} not among {:?}", dec.resize_db)
            })
        }
        "checksum_u64" => Verdict::eq(Some(Some(spec::u64_of(want)?)), dec.end),
        "module_types" => {
            let want: BTreeSet<String> = spec::array(want)?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or("expectation: module type")
                })
                .collect::<Result<_, _>>()?;
            let got: BTreeSet<String> = dec
                .keys
                .iter()
                .filter_map(|k| k.header.module.map(|m| m.name()))
                .collect();
            Verdict::eq(want, got)
        }
        "empty_keys" => {
            let want: BTreeSet<Vec<u8>> = spec::bytes_list(want)?.into_iter().collect();
            let got: BTreeSet<Vec<u8>> = dec
                .keys
                .iter()
                .filter(|k| k.data.is_empty_collection())
                .map(|k| k.header.key.to_vec())
                .collect();
            Verdict::check(want == got, || {
                let list = |s: &BTreeSet<Vec<u8>>| {
                    s.iter().map(|k| show(k)).collect::<Vec<_>>().join(", ")
                };
                format!("expected [{}], empty: [{}]", list(&want), list(&got))
            })
        }
        "key_order" => {
            let want = spec::bytes_list(want)?;
            let got: Vec<Vec<u8>> = dec.keys.iter().map(|k| k.header.key.to_vec()).collect();
            Verdict::check(want == got, || {
                let list = |s: &[Vec<u8>]| s.iter().map(|k| show(k)).collect::<Vec<_>>().join(", ");
                format!("expected [{}], got [{}]", list(&want), list(&got))
            })
        }
        "scripts_sha1" => {
            let want: BTreeSet<String> = spec::array(want)?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_ascii_lowercase)
                        .ok_or("expectation: sha1")
                })
                .collect::<Result<_, _>>()?;
            let got: BTreeSet<String> = dec
                .aux
                .iter()
                .filter(|(k, _)| &k[..] == b"lua")
                .map(|(_, v)| sha1::hex(v))
                .collect();
            Verdict::eq(want, got)
        }
        _ => Verdict::Fail(format!(
            "unknown file-level field {field:?}: the harness does not know how to check it"
        )),
    })
}

/// Counts by name, for INDEX.json's `types` and `opcodes`.
pub fn counts<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for n in names {
        *m.entry(n.to_owned()).or_default() += 1;
    }
    m
}
