//! The facts of a source that is an RDB file (`--source-file`, or the file
//! of `ferry restore`): one pass that skips values, so every key is counted
//! and sized exactly, in bounded memory.

use super::facts::NodeFacts;
use ferry_rdb::{Config, Encoding, Item, Kind, Magic, Reader};
use std::collections::BTreeMap;
use std::path::Path;

/// The module a module type name (9 characters, in the file) belongs to,
/// as `MODULE LIST` names it, for the modules of Redis Stack.
const MODULE_TYPES: &[(&str, &str)] = &[
    ("ReJSON-RL", "ReJSON"),
    ("MBbloom--", "bf"),
    ("MBbloomCF", "bf"),
    ("TopK-TYPE", "bf"),
    ("CMSk-TYPE", "bf"),
    ("TDIS-TYPE", "bf"),
    ("TSDB-TYPE", "timeseries"),
    ("ft_index0", "search"),
    ("ft_invidx", "search"),
    ("graphdata", "graph"),
];

/// The `MODULE LIST` name of the module that owns type `type_name`, or the
/// type name itself when it is not a known one.
pub fn module_of_type(type_name: &str) -> String {
    MODULE_TYPES
        .iter()
        .find(|(t, _)| *t == type_name)
        .map_or_else(|| type_name.to_owned(), |(_, m)| (*m).to_owned())
}

/// Reads the facts of the RDB file at `path`. Never fails: a file that
/// cannot be opened or read has `error`, naming the byte offset.
pub fn gather(path: &Path, verify_checksum: bool) -> NodeFacts {
    let mut facts = NodeFacts {
        addr: path.display().to_string(),
        master: true,
        ..NodeFacts::default()
    };
    if let Err(e) = read(path, verify_checksum, &mut facts) {
        facts.error = Some(e);
    }
    facts
}

fn read(path: &Path, verify_checksum: bool, facts: &mut NodeFacts) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let config = Config {
        skip_values: true,
        verify_checksum,
        ..Config::default()
    };
    let mut reader = Reader::with_config(std::io::BufReader::new(file), config);
    let mut keys: BTreeMap<u64, u64> = BTreeMap::new();
    let mut modules: Vec<String> = Vec::new();
    // (key, where its value starts) of the key being read.
    let mut current: Option<(bytes::Bytes, u64)> = None;
    while let Some(item) = reader.next() {
        match item.map_err(|e| e.to_string())? {
            Item::Header(header) => facts.valkey = header.magic == Magic::Valkey,
            Item::Aux { key, value } => {
                let value = String::from_utf8_lossy(&value);
                match &key[..] {
                    b"redis-ver" if !facts.valkey || facts.version.is_none() => {
                        facts.version = parse_version(&value);
                    }
                    b"valkey-ver" => {
                        facts.valkey = true;
                        facts.version = parse_version(&value);
                    }
                    b"used-mem" => facts.used_memory = value.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
            Item::Function(_) => facts.functions += 1,
            Item::ModuleAux(aux) => modules.push(module_of_type(&aux.module.name())),
            Item::Key(header) => {
                *keys.entry(header.db).or_default() += 1;
                match header.kind() {
                    Kind::Stream => facts.streams = true,
                    Kind::Module => {
                        if let Some(module) = header.module {
                            modules.push(module_of_type(&module.name()));
                        }
                    }
                    _ => {}
                }
                if has_field_ttls(header.encoding) {
                    facts.hash_field_ttls += 1;
                }
                current = Some((header.key.clone(), header.offset));
            }
            Item::KeyEnd => {
                if let Some((key, start)) = current.take() {
                    let size = reader.decoder().offset().saturating_sub(start);
                    if facts.biggest_key.as_ref().is_none_or(|(_, m)| size > *m) {
                        facts.biggest_key = Some((key.to_vec(), size));
                    }
                }
            }
            _ => {}
        }
    }
    facts.keyspace = keys.into_iter().collect();
    modules.sort();
    modules.dedup();
    facts.modules = modules;
    Ok(())
}

/// Encodings of hashes whose fields carry their own TTLs.
fn has_field_ttls(encoding: Encoding) -> bool {
    matches!(
        encoding,
        Encoding::HashMetadata
            | Encoding::HashListpackEx
            | Encoding::HashMetadataPreGa
            | Encoding::HashListpackExPreGa
            | Encoding::ValkeyHash2
    )
}

/// `7.4.1` as numbers (missing parts are 0).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_module_types_are_read() {
        assert_eq!(parse_version("7.4.1"), Some((7, 4, 1)));
        assert_eq!(parse_version("6.2"), Some((6, 2, 0)));
        assert_eq!(parse_version("x"), None);
        assert_eq!(module_of_type("ReJSON-RL"), "ReJSON");
        assert_eq!(module_of_type("mytype-AB"), "mytype-AB");
    }
}
