//! The rules: facts in, findings out.

use super::facts::NodeFacts;
use crate::args::OnConflict;
use crate::run::common::DbMap;
use crate::run::sync::source::Layout;
use std::collections::BTreeSet;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fine.
    Pass,
    /// Works, but the operator should look.
    Alarm,
    /// The migration would fail or lose data.
    Fail,
}

impl Level {
    /// `pass`, `alarm`, `fail`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Pass => "pass",
            Level::Alarm => "alarm",
            Level::Fail => "fail",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable id (`target.empty`), for `--skip-check` and machines.
    pub id: &'static str,
    /// How bad.
    pub level: Level,
    /// What was found and what to do.
    pub message: String,
}

impl Finding {
    fn new(id: &'static str, level: Level, message: impl Into<String>) -> Finding {
        Finding {
            id,
            level,
            message: message.into(),
        }
    }

    /// A passed check.
    pub fn pass(id: &'static str, message: impl Into<String>) -> Finding {
        Finding::new(id, Level::Pass, message)
    }

    /// An alarm.
    pub fn alarm(id: &'static str, message: impl Into<String>) -> Finding {
        Finding::new(id, Level::Alarm, message)
    }

    /// A failed check.
    pub fn fail(id: &'static str, message: impl Into<String>) -> Finding {
        Finding::new(id, Level::Fail, message)
    }
}

/// What the rules need besides the facts.
#[derive(Debug)]
pub struct Options<'a> {
    /// The source's layout.
    pub source_layout: Layout,
    /// The target's layout (`Nodes` is not used for targets).
    pub target_layout: Layout,
    /// `--db-map`.
    pub db_map: &'a DbMap,
    /// `--on-conflict`.
    pub on_conflict: OnConflict,
    /// The source's ACL user, if any.
    pub source_user: Option<String>,
    /// The source is an RDB file: nothing to connect or replicate from, and
    /// its keys are known exactly.
    pub source_file: bool,
    /// The target is a proxy (twemproxy, Codis): database 0 only, and what
    /// it does not answer is not held against it.
    pub target_proxy: bool,
}

/// The ids of every check, for `--skip-check`.
pub const CHECK_IDS: &[&str] = &[
    "source.connect",
    "source.file",
    "target.connect",
    "source.replication-right",
    "source.version",
    "target.version",
    "databases",
    "target.empty",
    "target.memory",
    "source.big-keys",
    "source.replicas",
    "cluster.multi-key",
    "modules",
];

/// Multi-key commands that need their keys in one slot on a cluster.
const MULTI_KEY_COMMANDS: &[&str] = &[
    "mset",
    "msetnx",
    "rename",
    "renamenx",
    "smove",
    "sunionstore",
    "sinterstore",
    "sdiffstore",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "zrangestore",
    "rpoplpush",
    "lmove",
    "blmove",
    "brpoplpush",
    "bitop",
    "pfmerge",
    "copy",
    "eval",
    "evalsha",
    "fcall",
    "multi",
    "geosearchstore",
];

fn version_text((a, b, c): (u32, u32, u32), valkey: bool) -> String {
    format!("{} {a}.{b}.{c}", if valkey { "Valkey" } else { "Redis" })
}

/// Judges the facts of every source and target node.
pub fn judge(sources: &[NodeFacts], targets: &[NodeFacts], options: &Options<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    // Connectivity first: nothing else can be judged for a node not read.
    let unreachable = |nodes: &[NodeFacts], id, side: &str, out: &mut Vec<Finding>| {
        let bad: Vec<String> = nodes
            .iter()
            .filter_map(|n| Some(format!("{}: {}", n.addr, n.error.as_ref()?)))
            .collect();
        if bad.is_empty() {
            out.push(Finding::pass(
                id,
                format!("every {side} node answers ({})", nodes.len()),
            ));
        } else {
            out.push(Finding::fail(
                id,
                format!("{side} node(s) cannot be read: {}; check the address, the network and the credentials", bad.join("; ")),
            ));
        }
    };
    if options.source_file {
        for n in sources {
            match &n.error {
                None => out.push(Finding::pass(
                    "source.file",
                    format!(
                        "{} is a complete RDB file ({} keys)",
                        n.addr,
                        n.keyspace.iter().map(|(_, k)| k).sum::<u64>()
                    ),
                )),
                Some(e) => out.push(Finding::fail(
                    "source.file",
                    format!("{} cannot be read: {e}", n.addr),
                )),
            }
        }
    } else {
        unreachable(sources, "source.connect", "source", &mut out);
    }
    unreachable(targets, "target.connect", "target", &mut out);
    let sources: Vec<&NodeFacts> = sources.iter().filter(|n| n.error.is_none()).collect();
    let targets: Vec<&NodeFacts> = targets.iter().filter(|n| n.error.is_none()).collect();
    if sources.is_empty() || targets.is_empty() {
        return out;
    }

    // The right to replicate.
    if !options.source_file {
        replication_right(&sources, options, &mut out);
    }

    // Versions.
    let oldest_source = sources
        .iter()
        .filter_map(|n| n.version.map(|v| (v, n.valkey)))
        .min();
    let oldest_target = targets
        .iter()
        .filter_map(|n| n.version.map(|v| (v, n.valkey)))
        .min();
    match oldest_source {
        Some((v, _)) if !sources.iter().any(|n| n.valkey) && v < (2, 8, 0) => out.push(Finding::fail(
            "source.version",
            format!("the source is Redis {}.{}.{}: replication from before 2.8 (no PSYNC) is not supported", v.0, v.1, v.2),
        )),
        Some((v, valkey)) => out.push(Finding::pass("source.version", format!("source is {}", version_text(v, valkey)))),
        None if options.source_file => out.push(Finding::alarm("source.version", "the file does not say which server wrote it (no redis-ver field): the target's version is not compared with it")),
        None => out.push(Finding::alarm("source.version", "the source's version is unknown (INFO server hides it)")),
    }
    // Valkey 7.2 continues Redis 7.2; later Valkey versions are newer than
    // any Redis 7.2 for these purposes.
    let comparable = |(v, valkey): ((u32, u32, u32), bool)| {
        if valkey && v >= (8, 0, 0) {
            (7, 4, 0)
        } else {
            v
        }
    };
    if let (Some(s), Some(t)) = (oldest_source, oldest_target) {
        let (sv, tv) = (comparable(s), comparable(t));
        let any = |f: &dyn Fn(&NodeFacts) -> bool| sources.iter().any(|n| f(n));
        let mut blockers = Vec::new();
        if tv < (5, 0, 0) && any(&|n| n.streams) {
            blockers.push("streams (need 5.0)");
        }
        if tv < (7, 0, 0) && any(&|n| n.functions > 0) {
            blockers.push("function libraries (need 7.0)");
        }
        if tv < (7, 4, 0) && !t.1 && any(&|n| n.hash_field_ttls > 0) {
            blockers.push("hash fields with TTLs (need Redis 7.4 or Valkey 9)");
        }
        if t.1
            && t.0 < (9, 0, 0)
            && any(&|n| n.hash_field_ttls > 0)
            && !blockers.iter().any(|b| b.starts_with("hash"))
        {
            blockers.push("hash fields with TTLs (need Redis 7.4 or Valkey 9)");
        }
        if !blockers.is_empty() {
            out.push(Finding::fail(
                "target.version",
                format!(
                    "the target ({}) cannot hold what the source ({}) has: {}; use a newer target",
                    version_text(t.0, t.1),
                    version_text(s.0, s.1),
                    blockers.join(", ")
                ),
            ));
        } else if tv < sv {
            out.push(Finding::alarm(
                "target.version",
                format!(
                    "the target ({}) is older than the source ({}): keys whose encoding it does not know are rebuilt with commands (slower); commands it lacks fail",
                    version_text(t.0, t.1),
                    version_text(s.0, s.1)
                ),
            ));
        } else {
            out.push(Finding::pass(
                "target.version",
                format!("target is {}", version_text(t.0, t.1)),
            ));
        }
    }

    // Databases.
    let used: BTreeSet<u64> = sources
        .iter()
        .flat_map(|n| {
            n.keyspace
                .iter()
                .filter(|(_, keys)| *keys > 0)
                .map(|(db, _)| *db)
        })
        .collect();
    let mapped: BTreeSet<u64> = used.iter().map(|db| options.db_map.target(*db)).collect();
    let single_db = options.target_layout == Layout::Cluster || options.target_proxy;
    if single_db && mapped.iter().any(|db| *db != 0) {
        let maps: Vec<String> = used
            .iter()
            .filter(|db| options.db_map.target(**db) != 0)
            .map(|db| format!("--db-map {db}:0"))
            .collect();
        out.push(Finding::fail(
            "databases",
            format!(
                "the source uses databases {} but a {} has only database 0: map them ({}), which merges their keys",
                join(&used),
                if options.target_proxy { "proxy" } else { "cluster" },
                maps.join(" ")
            ),
        ));
    } else if let Some(limit) = targets.iter().filter_map(|n| n.databases).min() {
        match mapped.iter().find(|db| **db >= limit) {
            Some(db) => out.push(Finding::fail(
                "databases",
                format!("the target has {limit} databases but database {db} is needed: raise `databases` on the target, or map it with --db-map"),
            )),
            None => out.push(Finding::pass("databases", format!("databases used: {}", if used.is_empty() { "none".to_owned() } else { join(&used) }))),
        }
    } else {
        out.push(Finding::alarm("databases", "the target's `databases` setting cannot be read (CONFIG GET refused): make sure it covers the source's databases"));
    }

    // An empty target.
    let target_keys: u64 = targets
        .iter()
        .flat_map(|n| n.keyspace.iter().map(|(_, k)| *k))
        .sum();
    match (target_keys, options.on_conflict) {
        (0, _) => out.push(Finding::pass("target.empty", "the target is empty")),
        (n, OnConflict::Fail) => out.push(Finding::fail(
            "target.empty",
            format!("the target already holds {n} key(s): empty it (FLUSHALL), or say what to do with existing keys (--on-conflict replace|skip)"),
        )),
        (n, mode) => out.push(Finding::alarm(
            "target.empty",
            format!("the target holds {n} key(s); they will be {} (--on-conflict {})", if mode == OnConflict::Replace { "replaced where the source has the same key" } else { "kept where the source has the same key" }, if mode == OnConflict::Replace { "replace" } else { "skip" }),
        )),
    }

    // Memory.
    let source_memory: u64 = sources.iter().map(|n| n.used_memory).sum();
    let limits: Vec<u64> = targets.iter().map(|n| n.maxmemory).collect();
    if options.target_proxy && targets.iter().all(|n| n.version.is_none()) {
        out.push(Finding::alarm(
            "target.memory",
            "the proxy does not tell its backends' memory: make sure they have room for the source's data",
        ));
    } else if limits.contains(&0) {
        out.push(Finding::pass(
            "target.memory",
            "the target has no maxmemory limit",
        ));
    } else {
        let target_memory: u64 = limits.iter().sum();
        let mb = |b: u64| b as f64 / 1e6;
        let fix = format!(
            "raise the target's maxmemory to at least {:.0} MB (CONFIG SET maxmemory {})",
            mb(source_memory * 3 / 2),
            source_memory * 3 / 2 / targets.len().max(1) as u64
        );
        if target_memory < source_memory {
            out.push(Finding::fail("target.memory", format!("the target's maxmemory ({:.1} MB) is below the source's used memory ({:.1} MB): {fix}", mb(target_memory), mb(source_memory))));
        } else if target_memory.saturating_mul(2) < source_memory.saturating_mul(3) {
            out.push(Finding::alarm("target.memory", format!("the target's maxmemory ({:.1} MB) is under 1.5x the source's used memory ({:.1} MB): {fix}", mb(target_memory), mb(source_memory))));
        } else {
            out.push(Finding::pass("target.memory", format!("the target's maxmemory ({:.1} MB) is at least 1.5x the source's used memory ({:.1} MB)", mb(target_memory), mb(source_memory))));
        }
    }

    // Big keys against the replica output buffer.
    for n in &sources {
        match (&n.biggest_key, n.replica_buffer_limit) {
            (Some((key, size)), Some(limit)) if limit > 0 && *size >= limit / 2 => out.push(Finding::alarm(
                "source.big-keys",
                format!(
                    "{}: key \"{}\" takes {size} bytes, near the replica output buffer limit ({limit} bytes): a write to it can make the source drop Ferry; raise it: CONFIG SET client-output-buffer-limit \"replica {} {} 60\"",
                    n.addr,
                    key.escape_ascii(),
                    size.saturating_mul(4),
                    size.saturating_mul(2)
                ),
            )),
            (Some((key, size)), _) if options.source_file => out.push(Finding::pass("source.big-keys", format!("{}: the biggest key is \"{}\" ({size} bytes in the file)", n.addr, key.escape_ascii()))),
            (Some((key, size)), _) => out.push(Finding::pass("source.big-keys", format!("{}: the biggest key sampled is \"{}\" ({size} bytes)", n.addr, key.escape_ascii()))),
            (None, _) => out.push(Finding::pass("source.big-keys", format!("{}: no key sampled", n.addr))),
        }
    }

    // Replicas to sync from.
    if options.source_layout == Layout::Standalone {
        for n in &sources {
            if n.master && !n.replicas.is_empty() {
                out.push(Finding::alarm(
                    "source.replicas",
                    format!("{} is a master with replicas ({}): sync from a replica to spare the master: --source {}", n.addr, n.replicas.join(", "), n.replicas[0]),
                ));
            }
        }
    }

    // Standard to cluster: multi-key commands in use.
    // A file has no command statistics.
    if !options.source_file
        && options.source_layout != Layout::Cluster
        && options.target_layout == Layout::Cluster
    {
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for n in &sources {
            for (name, calls) in &n.commandstats {
                if *calls > 0 && MULTI_KEY_COMMANDS.contains(&name.as_str()) {
                    used.insert(name.as_str());
                }
            }
        }
        if used.is_empty() {
            out.push(Finding::pass(
                "cluster.multi-key",
                "the source ran no multi-key command (INFO commandstats)",
            ));
        } else {
            out.push(Finding::alarm(
                "cluster.multi-key",
                format!(
                    "the source runs multi-key commands ({}) whose keys must share a hash slot on a cluster; keys without a common {{tag}} make them fail there (Ferry reports each it cannot apply)",
                    used.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }

    // Modules.
    // Valkey 9 lists its built-in Lua engine as a module.
    let source_modules: BTreeSet<&str> = sources
        .iter()
        .flat_map(|n| n.modules.iter().map(String::as_str))
        .filter(|m| !m.eq_ignore_ascii_case("lua"))
        .collect();
    let missing: Vec<&str> = source_modules
        .iter()
        .filter(|m| !targets.iter().all(|t| t.modules.iter().any(|tm| tm == *m)))
        .copied()
        .collect();
    if missing.is_empty() {
        out.push(Finding::pass(
            "modules",
            if source_modules.is_empty() {
                "no module on the source".to_owned()
            } else {
                format!(
                    "the target has the source's modules ({})",
                    source_modules
                        .iter()
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        ));
    } else {
        out.push(Finding::fail(
            "modules",
            format!("the source has module(s) the target lacks: {}; load them on every target node (MODULE LOAD) or their keys cannot be written", missing.join(", ")),
        ));
    }
    out
}

fn replication_right(sources: &[&NodeFacts], options: &Options<'_>, out: &mut Vec<Finding>) {
    let refused: Vec<String> = sources
        .iter()
        .filter_map(|n| Some(format!("{}: {}", n.addr, n.replication_refused.as_ref()?)))
        .collect();
    if refused.is_empty() {
        out.push(Finding::pass(
            "source.replication-right",
            "the source user may replicate (REPLCONF accepted)",
        ));
    } else {
        let user = options.source_user.as_deref().unwrap_or("default");
        out.push(Finding::fail(
            "source.replication-right",
            format!(
                "the source refuses replication to user {user:?} ({}): grant it with ACL SETUSER {user} +psync +sync +replconf, or use another user",
                refused.join("; ")
            ),
        ));
    }
}

fn join(dbs: &BTreeSet<u64>) -> String {
    dbs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(addr: &str) -> NodeFacts {
        NodeFacts {
            addr: addr.into(),
            version: Some((7, 0, 15)),
            master: true,
            databases: Some(16),
            used_memory: 1_000_000,
            ..NodeFacts::default()
        }
    }

    fn level(findings: &[Finding], id: &str) -> Level {
        findings
            .iter()
            .filter(|f| f.id == id)
            .map(|f| f.level)
            .max()
            .unwrap_or(Level::Pass)
    }

    fn options(db_map: &DbMap) -> Options<'_> {
        Options {
            source_layout: Layout::Standalone,
            target_layout: Layout::Standalone,
            db_map,
            on_conflict: OnConflict::Fail,
            source_user: None,
            source_file: false,
            target_proxy: false,
        }
    }

    #[test]
    fn everything_passes_on_two_fresh_servers() {
        let map = DbMap::default();
        let found = judge(&[node("s")], &[node("t")], &options(&map));
        assert!(found.iter().all(|f| f.level == Level::Pass), "{found:?}");
    }

    #[test]
    fn each_rule_is_triggered() {
        let map = DbMap::default();
        let mut source = node("s");
        source.keyspace = vec![(0, 5), (3, 1)];
        source.streams = true;
        source.functions = 1;
        source.modules = vec!["ReJSON".into()];
        source.replicas = vec!["r:1".into()];
        source.replication_refused = Some("NOPERM".into());
        source.used_memory = 10_000_000;
        source.biggest_key = Some((b"big".to_vec(), 900_000));
        source.replica_buffer_limit = Some(1 << 20);
        source.commandstats = vec![("mset".into(), 4), ("get".into(), 9)];
        let mut target = node("t");
        target.version = Some((6, 2, 5));
        target.keyspace = vec![(0, 1)];
        target.maxmemory = 5_000_000;
        let mut opts = options(&map);
        opts.target_layout = Layout::Cluster;
        let found = judge(&[source], &[target], &opts);
        for (id, want) in [
            ("source.replication-right", Level::Fail),
            ("target.version", Level::Fail),
            ("databases", Level::Fail),
            ("target.empty", Level::Fail),
            ("target.memory", Level::Fail),
            ("source.big-keys", Level::Alarm),
            ("source.replicas", Level::Alarm),
            ("cluster.multi-key", Level::Alarm),
            ("modules", Level::Fail),
        ] {
            assert_eq!(level(&found, id), want, "{id}: {found:#?}");
        }
        let db = found
            .iter()
            .find(|f| f.id == "databases")
            .map(|f| f.message.clone())
            .unwrap_or_default();
        assert!(db.contains("--db-map 3:0"), "{db}");
    }

    #[test]
    fn memory_between_one_and_one_and_a_half_times_is_an_alarm() {
        let map = DbMap::default();
        let mut target = node("t");
        target.maxmemory = 1_200_000;
        let found = judge(&[node("s")], &[target], &options(&map));
        assert_eq!(level(&found, "target.memory"), Level::Alarm);
    }

    #[test]
    fn an_unreachable_node_fails_and_stops_the_rest() {
        let map = DbMap::default();
        let mut target = node("t");
        target.error = Some("connection refused".into());
        let found = judge(&[node("s")], &[target], &options(&map));
        assert_eq!(level(&found, "target.connect"), Level::Fail);
        assert_eq!(found.len(), 2);
    }
}
