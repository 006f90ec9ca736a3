//! Finding the corpus and reading its JSON vocabulary (README.md of the corpus).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_rdb::StreamId;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The corpus folder: `$FERRY_TESTDATA` (the `rdb` folder itself or its
/// parent), else `shared/testdata/rdb` beside the `main/` checkout.
///
/// Panics with a clear message when it is missing: a missing corpus must not
/// look like a passing test.
pub fn corpus_dir() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os("FERRY_TESTDATA") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            vec![dir.clone(), dir.join("rdb")]
        }
        None => vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rdb")],
    };
    for dir in &candidates {
        if dir.join("INDEX.json").is_file() {
            return dir.canonicalize().unwrap_or_else(|_| dir.clone());
        }
    }
    panic!(
        "RDB test corpus not found (looked for INDEX.json in {}). Set FERRY_TESTDATA to the \
         corpus folder (shared/testdata/rdb), or clone the repository as main/ beside shared/.",
        candidates
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Reads a JSON file that must hold an object.
pub fn read_object(path: &Path) -> Map<String, Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => panic!("{} does not hold a JSON object", path.display()),
        Err(e) => panic!("{} is not valid JSON: {e}", path.display()),
    }
}

/// INDEX.json: `"<source>/<file>.rdb"` -> facts.
pub fn load_index(dir: &Path) -> Map<String, Value> {
    read_object(&dir.join("INDEX.json"))
}

/// Every `<source>/expected.json`, flattened to `"<source>/<file>.rdb"` -> expectations.
pub fn load_expected(dir: &Path) -> BTreeMap<String, Map<String, Value>> {
    let mut all = BTreeMap::new();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    sources.sort();
    assert!(
        !sources.is_empty(),
        "no <source>/expected.json under {}",
        dir.display()
    );
    for source in sources {
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (file, facts) in read_object(&source.join("expected.json")) {
            match facts {
                Value::Object(facts) => {
                    all.insert(format!("{name}/{file}"), facts);
                }
                _ => panic!("{name}/expected.json: entry {file} is not an object"),
            }
        }
    }
    all
}

/// A byte string: a JSON string (its UTF-8 bytes) or `{"b64": "..."}`.
pub fn bytes(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Object(m) if m.len() == 1 => match m.get("b64") {
            Some(Value::String(b)) => STANDARD
                .decode(b)
                .map_err(|e| format!("bad base64 {b:?}: {e}")),
            _ => Err(format!("not a byte string: {v}")),
        },
        _ => Err(format!("not a byte string: {v}")),
    }
}

/// A list of byte strings.
pub fn bytes_list(v: &Value) -> Result<Vec<Vec<u8>>, String> {
    match v {
        Value::Array(a) => a.iter().map(bytes).collect(),
        _ => Err(format!("not an array: {}", short(v))),
    }
}

/// An object whose values are byte strings, keyed by the UTF-8 bytes of its keys.
pub fn bytes_map(v: &Value) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
    object(v)?
        .iter()
        .map(|(k, v)| Ok((k.as_bytes().to_vec(), bytes(v)?)))
        .collect()
}

/// A zset score: a JSON number or `"inf"` / `"-inf"`.
pub fn score(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("bad score {n}")),
        Value::String(s) => match s.as_str() {
            "inf" | "+inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            _ => Err(format!("bad score {s:?}")),
        },
        _ => Err(format!("bad score {v}")),
    }
}

/// A stream id `"ms-seq"`.
pub fn stream_id(v: &Value) -> Result<StreamId, String> {
    let s = v.as_str().ok_or_else(|| format!("not a stream id: {v}"))?;
    let (ms, seq) = s
        .split_once('-')
        .ok_or_else(|| format!("not a stream id: {s:?}"))?;
    Ok(StreamId {
        ms: ms.parse().map_err(|_| format!("not a stream id: {s:?}"))?,
        seq: seq.parse().map_err(|_| format!("not a stream id: {s:?}"))?,
    })
}

pub fn u64_of(v: &Value) -> Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("not an unsigned integer: {v}"))
}

pub fn i64_of(v: &Value) -> Result<i64, String> {
    v.as_i64().ok_or_else(|| format!("not an integer: {v}"))
}

pub fn bool_of(v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| format!("not a boolean: {v}"))
}

pub fn object(v: &Value) -> Result<&Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("not an object: {}", short(v)))
}

pub fn array(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("not an array: {}", short(v)))
}

/// A JSON value shortened for messages.
pub fn short(v: &Value) -> String {
    const MAX_CHARS: usize = 80;
    let s = v.to_string();
    if s.len() > MAX_CHARS {
        let mut end = MAX_CHARS;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}
