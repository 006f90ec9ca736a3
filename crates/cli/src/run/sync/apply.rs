//! How one command of the source's stream becomes writes for the target:
//! databases mapped, replication chatter dropped, transactions kept where
//! the target can run them, multi-key commands split by slot on a cluster,
//! and what cannot be applied reported with its keys.

use crate::run::common::DbMap;
use bytes::Bytes;
use ferry_resp::{Command, RawCommand};
use ferry_sink::{Expect, KeyTable, Slot, TargetKind, Write, WriteMode};
use std::collections::HashSet;

/// Commands a transaction may hold before it is applied as separate
/// commands (a huge script's effects): bounds what is held in memory.
pub const MAX_TRANSACTION_COMMANDS: usize = 10_000;

/// What to do with one command of the stream.
#[derive(Debug)]
pub enum Apply {
    /// Nothing to write (PING, REPLCONF, SELECT ...).
    Skip,
    /// These writes, in order.
    Writes(Vec<Write>),
    /// Cannot be applied to this target: why, and the keys.
    Unapplied(String, Vec<String>),
    /// Must stop the sync.
    Stop(String),
}

/// The rules for one target, shared by every shard.
#[derive(Debug)]
pub struct Rules<'a> {
    /// The target's kind.
    pub kind: TargetKind,
    /// The source's command table, to find keys.
    pub table: &'a KeyTable,
    /// Apply FLUSHALL/FLUSHDB.
    pub allow_flush: bool,
    /// Source database to target database.
    pub db_map: &'a DbMap,
    /// The target is older than 4.0: UNLINK is sent as DEL.
    pub unlink_as_del: bool,
}

/// What one shard's stream has set: its database and open transaction.
#[derive(Debug, Default)]
pub struct StreamState {
    /// The source database selected.
    pub db: u64,
    /// The commands of an open MULTI, if any.
    transaction: Option<Vec<RawCommand>>,
    /// Scripts already loaded on every master of a cluster target.
    scripts_loaded: HashSet<Bytes>,
}

/// What came of one command.
#[derive(Debug)]
pub struct Outcome {
    /// What to do.
    pub apply: Apply,
    /// A transaction was applied as separate commands.
    pub split_transaction: bool,
}

impl StreamState {
    /// True inside MULTI ... EXEC.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }
}

fn write_of(db: u64, key: Option<&[u8]>, command: Command) -> Write {
    Write {
        db,
        key: key.map(Bytes::copy_from_slice),
        command,
        mode: WriteMode::Commands,
        expect: Expect::Success,
        // Stream writes are counted as commands, not as keys written.
        last_of_key: false,
    }
}

impl Rules<'_> {
    /// Turns the stream's next command into writes.
    pub fn apply(&self, state: &mut StreamState, raw: RawCommand) -> Outcome {
        let plain = |apply| Outcome {
            apply,
            split_transaction: false,
        };
        if raw.is("multi") {
            if state.transaction.is_some() {
                return plain(Apply::Stop("the source sent MULTI inside MULTI".into()));
            }
            state.transaction = Some(Vec::new());
            return plain(Apply::Skip);
        }
        if raw.is("exec") {
            let Some(commands) = state.transaction.take() else {
                return plain(Apply::Stop("the source sent EXEC without MULTI".into()));
            };
            return self.transaction(state, commands);
        }
        if raw.is("discard") {
            state.transaction = None;
            return plain(Apply::Skip);
        }
        if let Some(commands) = &mut state.transaction {
            commands.push(raw);
            if commands.len() < MAX_TRANSACTION_COMMANDS {
                return plain(Apply::Skip);
            }
            // Too big to hold: what is held is applied now, the rest as it
            // comes; the transaction is split.
            let held = std::mem::take(commands);
            let mut outcome = self.separately(state, held);
            outcome.split_transaction = true;
            state.transaction = Some(Vec::new());
            return outcome;
        }
        plain(self.one(state, &raw))
    }

    /// Applies a transaction: kept as MULTI/EXEC on a standalone target,
    /// and on a cluster when every key is in one slot; otherwise its
    /// commands are applied one by one.
    fn transaction(&self, state: &mut StreamState, commands: Vec<RawCommand>) -> Outcome {
        if self.kind == TargetKind::Proxy || commands.is_empty() {
            let split = !commands.is_empty() && self.kind == TargetKind::Proxy;
            let mut outcome = self.separately(state, commands);
            outcome.split_transaction = split;
            return outcome;
        }
        let db_before = state.db;
        let mut writes = Vec::new();
        for raw in &commands {
            match self.one(state, raw) {
                Apply::Skip => {}
                Apply::Writes(list) => writes.extend(list),
                // One command of it cannot be applied: nothing of it is
                // applied as a transaction; go one by one, so the rest lands
                // and the bad one is reported.
                Apply::Unapplied(..) | Apply::Stop(_) => {
                    state.db = db_before;
                    let mut outcome = self.separately(state, commands);
                    outcome.split_transaction = true;
                    return outcome;
                }
            }
        }
        if writes.is_empty() {
            return Outcome {
                apply: Apply::Skip,
                split_transaction: false,
            };
        }
        let key = match self.kind {
            TargetKind::Cluster => {
                let first = writes.first().and_then(|w| w.key.clone());
                let one_slot = first.as_ref().is_some_and(|first| {
                    let slot = Slot::of(first);
                    writes
                        .iter()
                        .all(|w| w.key.as_ref().is_some_and(|k| Slot::of(k) == slot))
                });
                if !one_slot {
                    return Outcome {
                        apply: Apply::Writes(writes),
                        split_transaction: true,
                    };
                }
                first
            }
            _ => None,
        };
        let db = writes.first().map_or(0, |w| w.db);
        let mut all = Vec::with_capacity(writes.len() + 2);
        all.push(write_of(db, key.as_deref(), Command::new("MULTI")));
        all.extend(writes);
        all.push(write_of(db, key.as_deref(), Command::new("EXEC")));
        Outcome {
            apply: Apply::Writes(all),
            split_transaction: false,
        }
    }

    fn separately(&self, state: &mut StreamState, commands: Vec<RawCommand>) -> Outcome {
        let mut writes = Vec::new();
        for raw in commands {
            match self.one(state, &raw) {
                Apply::Skip => {}
                Apply::Writes(list) => writes.extend(list),
                other => {
                    // Apply what came before, then report: the caller sees
                    // the first failure only, which is what stops or is
                    // listed.
                    if writes.is_empty() {
                        return Outcome {
                            apply: other,
                            split_transaction: false,
                        };
                    }
                    return Outcome {
                        apply: match other {
                            Apply::Stop(why) => Apply::Stop(why),
                            _ => Apply::Writes(writes),
                        },
                        split_transaction: false,
                    };
                }
            }
        }
        Outcome {
            apply: if writes.is_empty() {
                Apply::Skip
            } else {
                Apply::Writes(writes)
            },
            split_transaction: false,
        }
    }

    /// One command outside a transaction.
    fn one(&self, state: &mut StreamState, raw: &RawCommand) -> Apply {
        let parse_db = |i: usize| {
            raw.arg(i)
                .and_then(|a| std::str::from_utf8(a).ok()?.parse::<u64>().ok())
        };
        if raw.is("select") {
            match parse_db(0) {
                Some(n) => state.db = n,
                None => return Apply::Stop("the source sent a SELECT without a database".into()),
            }
            return Apply::Skip;
        }
        // Replication chatter, and messages rather than data.
        if raw.is("ping") || raw.is("replconf") || raw.is("publish") || raw.is("spublish") {
            return Apply::Skip;
        }
        if !self.allow_flush && (raw.is("flushall") || raw.is("flushdb")) {
            return Apply::Stop(format!(
                "the source ran {}: stopped, as it would empty the target too (--allow-flush \
                 applies it)",
                String::from_utf8_lossy(raw.name()).to_uppercase()
            ));
        }
        let target_db = self.db_map.target(state.db);
        let mut command = Command::from(raw);
        if self.unlink_as_del && raw.is("unlink") {
            let mut del = Command::new("DEL");
            for arg in command.args() {
                del = del.arg(arg.clone());
            }
            command = del;
        }
        // Commands naming databases: the numbers are the source's.
        if raw.is("move") || raw.is("swapdb") {
            if self.kind != TargetKind::Standalone {
                return Apply::Unapplied(
                    "it moves keys between databases, which this target does not have".into(),
                    raw.arg(0)
                        .map(|k| vec![k.escape_ascii().to_string()])
                        .unwrap_or_default(),
                );
            }
            let (first, name) = if raw.is("move") {
                (1, "MOVE")
            } else {
                (0, "SWAPDB")
            };
            let mut mapped = Command::new(name);
            for (i, arg) in command.args().iter().enumerate() {
                match (i >= first, parse_db(i)) {
                    (true, Some(db)) => mapped = mapped.arg(self.db_map.target(db)),
                    _ => mapped = mapped.arg(arg.clone()),
                }
            }
            command = mapped;
        }
        if self.kind != TargetKind::Cluster {
            return Apply::Writes(vec![write_of(target_db, None, command)]);
        }
        if target_db != 0 {
            return Apply::Stop(format!(
                "the source writes to database {}, which a cluster does not have: map it with \
                 --db-map {}:0",
                state.db, state.db
            ));
        }
        let keys = match self.table.keys(raw) {
            Ok(keys) => keys,
            Err(e) => return Apply::Unapplied(e.to_string(), Vec::new()),
        };
        let shown = || keys.iter().map(|k| k.escape_ascii().to_string()).collect();
        let Some((first, rest)) = keys.split_first() else {
            // No key (FUNCTION LOAD, SCRIPT LOAD, FLUSHALL ...): every master.
            return Apply::Writes(vec![write_of(0, None, command)]);
        };
        let slot = Slot::of(first);
        if rest.iter().all(|k| Slot::of(k) == slot) {
            let mut writes = Vec::with_capacity(2);
            if raw.is("eval") || raw.is("eval_ro") {
                // A script run here may later be called by EVALSHA with keys
                // on another master: load it on all of them once.
                if let Some(body) = raw.part_bytes(1)
                    && state.scripts_loaded.insert(body.clone())
                {
                    writes.push(write_of(
                        0,
                        None,
                        Command::new("SCRIPT").arg("LOAD").arg(body),
                    ));
                }
            }
            writes.push(write_of(0, Some(first), command));
            return Apply::Writes(writes);
        }
        // Keys in several slots: the commands that are one write per key
        // are split; the others cannot be applied on a cluster.
        let name = if self.unlink_as_del && raw.is("unlink") {
            b"DEL".to_vec()
        } else {
            raw.name().to_vec()
        };
        if raw.is("del") || raw.is("unlink") || raw.is("touch") || raw.is("exists") {
            return Apply::Writes(
                keys.iter()
                    .map(|k| write_of(0, Some(k), Command::new(name.clone()).arg(k.to_vec())))
                    .collect(),
            );
        }
        if raw.is("mset") {
            return Apply::Writes(
                command
                    .args()
                    .chunks(2)
                    .filter(|kv| kv.len() == 2)
                    .map(|kv| {
                        write_of(
                            0,
                            Some(&kv[0]),
                            Command::new("MSET").arg(kv[0].clone()).arg(kv[1].clone()),
                        )
                    })
                    .collect(),
            );
        }
        Apply::Unapplied(
            "its keys are in several cluster slots, and it cannot be split".into(),
            shown(),
        )
    }
}
