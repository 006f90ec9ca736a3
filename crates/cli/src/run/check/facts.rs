//! What the checks need to know about one node, read from it.

use crate::run::sync::source::SourceAuth;
use ferry_resp::{Command, Frame};
use ferry_sink::{Client, info_field, keyspace};

/// Keys whose size `MEMORY USAGE` is asked for in one round trip.
const SAMPLE_BATCH: usize = 500;

/// One node's facts; `error` set when it could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeFacts {
    /// `host:port`.
    pub addr: String,
    /// Why the node could not be reached or read.
    pub error: Option<String>,
    /// `major.minor.patch` (Valkey's own version for Valkey).
    pub version: Option<(u32, u32, u32)>,
    /// Valkey rather than Redis.
    pub valkey: bool,
    /// `role:master`.
    pub master: bool,
    /// Replicas of this master (`host:port`).
    pub replicas: Vec<String>,
    /// `used_memory`.
    pub used_memory: u64,
    /// `maxmemory` (0: no limit).
    pub maxmemory: u64,
    /// `databases` (None when CONFIG is not allowed).
    pub databases: Option<u64>,
    /// `(db, keys)` of `INFO keyspace`.
    pub keyspace: Vec<(u64, u64)>,
    /// Keys with hash fields that expire (`subexpiry` of `INFO keyspace`).
    pub hash_field_ttls: u64,
    /// `(command, calls)` of `INFO commandstats`.
    pub commandstats: Vec<(String, u64)>,
    /// Loaded modules.
    pub modules: Vec<String>,
    /// Function libraries.
    pub functions: u64,
    /// Whether stream keys exist (sampled with `SCAN TYPE stream`).
    pub streams: bool,
    /// The biggest key sampled, with its `MEMORY USAGE`.
    pub biggest_key: Option<(Vec<u8>, u64)>,
    /// The hard limit of `client-output-buffer-limit replica`, in bytes
    /// (0: none).
    pub replica_buffer_limit: Option<u64>,
    /// For a source: the reply to `REPLCONF listening-port 0` when refused
    /// (the user lacks the replication right).
    pub replication_refused: Option<String>,
}

fn text(frame: &Frame) -> String {
    frame
        .as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn error_text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Error(e) => Some(String::from_utf8_lossy(e).into_owned()),
        _ => None,
    }
}

/// Reads the facts of `addr`; never fails: an unreachable node has `error`.
pub async fn gather(addr: &str, auth: &SourceAuth, source: bool, sample_keys: u64) -> NodeFacts {
    let mut facts = NodeFacts {
        addr: addr.to_owned(),
        ..NodeFacts::default()
    };
    if let Err(e) = read(&mut facts, auth, source, sample_keys).await {
        facts.error = Some(e.to_string());
    }
    facts
}

async fn read(
    facts: &mut NodeFacts,
    auth: &SourceAuth,
    source: bool,
    sample_keys: u64,
) -> Result<(), ferry_sink::Error> {
    let credentials = auth.credentials();
    let mut client = Client::open(&facts.addr, &credentials).await?;
    let info = text(&client.request(&Command::new("INFO").arg("all")).await?);
    if let Some(caps) = ferry_sink::TargetCaps::from_info(&info) {
        facts.version = Some(caps.version);
        facts.valkey = caps.valkey;
    }
    facts.master = info_field(&info, "role") == Some("master");
    facts.replicas = info
        .lines()
        .filter(|l| l.starts_with("slave") && l.contains("ip="))
        .filter_map(|l| {
            let field = |name: &str| {
                l.split([':', ','])
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            };
            Some(format!("{}:{}", field("ip")?, field("port")?))
        })
        .collect();
    let number = |name: &str| info_field(&info, name).and_then(|v| v.trim().parse::<u64>().ok());
    facts.used_memory = number("used_memory").unwrap_or(0);
    facts.maxmemory = number("maxmemory").unwrap_or(0);
    facts.keyspace = keyspace(&info).collect();
    facts.hash_field_ttls = info
        .lines()
        .filter(|l| l.starts_with("db"))
        .filter_map(|l| {
            l.split([':', ','])
                .find_map(|kv| kv.strip_prefix("subexpiry="))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum();
    facts.commandstats = info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect();
    let config = |reply: &Frame| -> Option<String> {
        match reply {
            Frame::Array(items) => items.get(1).map(text),
            _ => None,
        }
    };
    let databases = client
        .request(&Command::new("CONFIG").arg("GET").arg("databases"))
        .await?;
    facts.databases = config(&databases).and_then(|v| v.parse().ok());
    if let Frame::Array(items) = client.request(&Command::new("MODULE").arg("LIST")).await? {
        for module in &items {
            if let Frame::Array(fields) = module {
                let name = fields
                    .chunks(2)
                    .find(|kv| kv.first().map(text).as_deref() == Some("name"))
                    .and_then(|kv| kv.get(1).map(text));
                if let Some(name) = name {
                    facts.modules.push(name);
                }
            }
        }
    }
    if (facts.version.is_some_and(|v| v >= (7, 0, 0)) || facts.valkey)
        && let Frame::Array(libs) = client
            .request(&Command::new("FUNCTION").arg("LIST"))
            .await?
    {
        facts.functions = libs.len() as u64;
    }
    if !source {
        return Ok(());
    }
    let limit = client
        .request(
            &Command::new("CONFIG")
                .arg("GET")
                .arg("client-output-buffer-limit"),
        )
        .await?;
    facts.replica_buffer_limit = config(&limit).and_then(|v| replica_hard_limit(&v));
    let refused = client
        .request(&Command::new("REPLCONF").arg("listening-port").arg("0"))
        .await?;
    facts.replication_refused = error_text(&refused).filter(|e| e.starts_with("NOPERM"));
    sample(&mut client, facts, sample_keys).await
}

/// Walks up to `limit` keys of every database with SCAN, asking their size.
async fn sample(
    client: &mut Client,
    facts: &mut NodeFacts,
    limit: u64,
) -> Result<(), ferry_sink::Error> {
    let dbs: Vec<u64> = facts.keyspace.iter().map(|(db, _)| *db).collect();
    let scan_type = facts.version.is_some_and(|v| v >= (6, 0, 0)) || facts.valkey;
    let has_memory_usage = facts.version.is_some_and(|v| v >= (4, 0, 0)) || facts.valkey;
    let mut seen = 0u64;
    for db in dbs {
        if client
            .request(&Command::new("SELECT").arg(db))
            .await?
            .is_error()
        {
            continue;
        }
        // No SCAN TYPE before 6.0: the sample below asks TYPE instead.
        if scan_type && !facts.streams {
            facts.streams = scan_finds_type(client, "stream").await?;
        }
        let mut cursor = b"0".to_vec();
        loop {
            if seen >= limit {
                return Ok(());
            }
            let reply = client
                .request(
                    &Command::new("SCAN")
                        .arg(cursor.clone())
                        .arg("COUNT")
                        .arg(SAMPLE_BATCH),
                )
                .await?;
            let Frame::Array(parts) = reply else { break };
            let (Some(next), Some(Frame::Array(keys))) = (parts.first(), parts.get(1)) else {
                break;
            };
            cursor = next
                .as_bytes()
                .map_or_else(|| b"0".to_vec(), |b| b.to_vec());
            let keys: Vec<Vec<u8>> = keys
                .iter()
                .filter_map(|k| k.as_bytes().map(|b| b.to_vec()))
                .collect();
            seen += keys.len() as u64;
            if has_memory_usage && !keys.is_empty() {
                let asks: Vec<Command> = keys
                    .iter()
                    .map(|k| {
                        Command::new("MEMORY")
                            .arg("USAGE")
                            .arg(k.clone())
                            .arg("SAMPLES")
                            .arg(0)
                    })
                    .collect();
                let sizes = client.pipeline(&asks).await?;
                for (key, size) in keys.iter().zip(sizes) {
                    let Frame::Integer(n) = size else { continue };
                    let n = u64::try_from(n).unwrap_or(0);
                    if facts.biggest_key.as_ref().is_none_or(|(_, m)| n > *m) {
                        facts.biggest_key = Some((key.clone(), n));
                    }
                }
            }
            if !scan_type && !facts.streams && !keys.is_empty() {
                let asks: Vec<Command> = keys
                    .iter()
                    .map(|k| Command::new("TYPE").arg(k.clone()))
                    .collect();
                let types = client.pipeline(&asks).await?;
                facts.streams = types
                    .iter()
                    .any(|t| t.as_bytes().is_some_and(|b| &b[..] == b"stream"));
            }
            if cursor == b"0" {
                break;
            }
        }
    }
    Ok(())
}

/// Whether `SCAN ... TYPE kind` finds a key (walks the whole keyspace in
/// batches; the server filters, so only matches travel).
async fn scan_finds_type(client: &mut Client, kind: &str) -> Result<bool, ferry_sink::Error> {
    let mut cursor = b"0".to_vec();
    loop {
        let reply = client
            .request(
                &Command::new("SCAN")
                    .arg(cursor.clone())
                    .arg("COUNT")
                    .arg(1000)
                    .arg("TYPE")
                    .arg(kind),
            )
            .await?;
        let Frame::Array(parts) = reply else {
            return Ok(false);
        };
        if matches!(parts.get(1), Some(Frame::Array(keys)) if !keys.is_empty()) {
            return Ok(true);
        }
        cursor = match parts.first().and_then(Frame::as_bytes) {
            Some(c) if &c[..] != b"0" => c.to_vec(),
            _ => return Ok(false),
        };
    }
}

/// The hard limit of the `replica` (or `slave`) class of a
/// `client-output-buffer-limit` value, in bytes.
pub fn replica_hard_limit(value: &str) -> Option<u64> {
    let words: Vec<&str> = value.split_whitespace().collect();
    words.chunks(4).find_map(|class| match class {
        [name, hard, _, _] if *name == "replica" || *name == "slave" => parse_bytes(hard),
        _ => None,
    })
}

/// `256mb`, `1gb`, `1048576` as bytes.
fn parse_bytes(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = lower.split_at(
        lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len()),
    );
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_limit_is_read_from_the_config_value() {
        let v = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(replica_hard_limit(v), Some(268_435_456));
        assert_eq!(replica_hard_limit("replica 1mb 1mb 0"), Some(1 << 20));
        assert_eq!(replica_hard_limit("normal 0 0 0"), None);
        assert_eq!(parse_bytes("2gb"), Some(2 << 30));
        assert_eq!(parse_bytes("x"), None);
    }
}
