//! What `restore` and `sync` share: the target, the database map, the checks
//! before writing, conflicts with existing keys, and reporting.

use crate::args::{OnConflict, TargetKindArg, WriteModeArg};
use crate::error::CliError;
use crate::target::TargetUrl;
use ferry_resp::Command;
use ferry_sink::plan::{Conflict, Mode};
use ferry_sink::{
    Credentials, Expect, Report, Sink, SinkConfig, TargetCaps, TargetKind, Write, WriteMode,
};
use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

/// Refused commands listed on stderr at most (all are counted).
pub(crate) const FAILURES_SHOWN: usize = 20;

/// Sent before a replayed key's commands with `--on-conflict fail`: fails,
/// naming the key, when it exists.
pub const ABSENT_OR_FAIL_SCRIPT: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then \
     return redis.error_reply('BUSYKEY the key exists on the target (--on-conflict fail)') end \
     return 0";

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One line on stderr, prefixed with `ferry: `.
pub(crate) fn say(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr(), "ferry: {message}");
}

/// Where the keys of each source database go: `--db-map SRC:DST`, else the
/// target URL's `/db`, else the same number.
#[derive(Debug, Clone, Default)]
pub(crate) struct DbMap {
    explicit: BTreeMap<u64, u64>,
    default: Option<u64>,
}

impl DbMap {
    /// Parses the `--db-map` entries.
    pub(crate) fn new(entries: &[String], default: Option<u64>) -> Result<DbMap, CliError> {
        let mut explicit = BTreeMap::new();
        for entry in entries {
            let parsed = entry
                .split_once(':')
                .and_then(|(s, d)| Some((s.parse::<u64>().ok()?, d.parse::<u64>().ok()?)));
            let Some((src, dst)) = parsed else {
                return Err(CliError::Usage(format!(
                    "--db-map {entry:?}: expected SRC:DST, two database numbers"
                )));
            };
            if explicit.insert(src, dst).is_some() {
                return Err(CliError::Usage(format!(
                    "--db-map maps database {src} twice"
                )));
            }
        }
        Ok(DbMap { explicit, default })
    }

    /// The target database of source database `db`.
    pub(crate) fn target(&self, db: u64) -> u64 {
        self.explicit
            .get(&db)
            .copied()
            .or(self.default)
            .unwrap_or(db)
    }

    /// On a target with database 0 only: refuses source databases that do
    /// not map to 0, saying how to map them. `what` names where they are
    /// ("the file", "the source"); `hint` ends the message.
    pub(crate) fn check_db0(
        &self,
        dbs: impl IntoIterator<Item = u64>,
        kind: TargetKind,
        what: &str,
        hint: &str,
    ) -> Result<(), CliError> {
        let dbs: Vec<u64> = dbs.into_iter().collect();
        let off: Vec<String> = dbs
            .iter()
            .filter(|&&db| self.target(db) != 0)
            .map(|db| format!("--db-map {db}:0"))
            .collect();
        if kind == TargetKind::Standalone || off.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = dbs.iter().map(u64::to_string).collect();
        Err(CliError::Check(format!(
            "{what} has keys in database(s) {}, and a {} target has only database 0: map them \
             with {} (keys of the same name in different databases would then collide){hint}",
            list.join(", "),
            kind_name(kind),
            off.join(" ")
        )))
    }
}

/// `standalone`, `cluster` or `proxy`.
pub(crate) fn kind_name(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Standalone => "standalone",
        TargetKind::Cluster => "cluster",
        TargetKind::Proxy => "proxy",
    }
}

/// Connects to the target and says what it is.
pub(crate) async fn connect_target(
    url: &TargetUrl,
    password: Option<String>,
    kind: TargetKindArg,
    parallel: usize,
) -> Result<Sink, CliError> {
    let mut config = SinkConfig::new(url.addr());
    config.credentials = Credentials {
        user: url.user.clone(),
        password,
        ..Credentials::default()
    };
    config.kind = match kind {
        TargetKindArg::Auto => None,
        TargetKindArg::Standalone => Some(TargetKind::Standalone),
        TargetKindArg::Cluster => Some(TargetKind::Cluster),
        TargetKindArg::Proxy => Some(TargetKind::Proxy),
    };
    config.parallel = parallel;
    let sink = Sink::connect(config).await.map_err(CliError::Target)?;
    let version = TargetCaps::from_info(sink.server_info()).map_or_else(
        || "version unknown".to_owned(),
        |c| {
            let (a, b, p) = c.version;
            format!("{} {a}.{b}.{p}", if c.valkey { "Valkey" } else { "Redis" })
        },
    );
    say(format_args!(
        "target {} is {} ({version}), {} node(s)",
        url.addr(),
        kind_name(sink.kind()),
        sink.nodes().len()
    ));
    Ok(sink)
}

/// How keys are written to this target, and what it can load. A target
/// that hides its version (a proxy refusing INFO) gets commands any Redis
/// since 2.8 knows.
pub(crate) fn plan_mode(sink: &Sink, mode: WriteModeArg) -> Result<(Mode, TargetCaps), CliError> {
    Ok(match (TargetCaps::from_info(sink.server_info()), mode) {
        (Some(caps), WriteModeArg::Auto) => (Mode::Auto, caps),
        (Some(caps), WriteModeArg::Restore) => (Mode::Restore, caps),
        (Some(caps), WriteModeArg::Commands) => (Mode::Commands, caps),
        (None, WriteModeArg::Restore) => {
            return Err(CliError::Check(
                "the target does not say its version (INFO refused), so RESTORE payloads \
                 cannot be chosen for it: use --mode commands"
                    .into(),
            ));
        }
        (None, _) => (Mode::Commands, TargetCaps::redis(2, 8, 0)),
    })
}

/// The planner's conflict policy for `--on-conflict`.
pub(crate) fn conflict(on_conflict: OnConflict) -> Conflict {
    match on_conflict {
        OnConflict::Fail => Conflict::Fail,
        OnConflict::Replace => Conflict::Replace,
        OnConflict::Skip => Conflict::Skip,
    }
}

/// With `--on-conflict fail` (the default), the target must hold no key.
pub(crate) async fn require_empty(sink: &Sink, on_conflict: OnConflict) -> Result<(), CliError> {
    if on_conflict != OnConflict::Fail {
        return Ok(());
    }
    let keys = sink.key_count().await.map_err(CliError::Target)?;
    if keys > 0 {
        return Err(CliError::Check(format!(
            "the target already holds {keys} key(s); empty it, or say what to do with existing \
             keys: --on-conflict replace or --on-conflict skip"
        )));
    }
    Ok(())
}

/// Lists the commands the target refused, each with its key.
pub(crate) fn print_failures(report: &Report) {
    for f in report.failures.iter().take(FAILURES_SHOWN) {
        let key = f.key.as_deref().map_or("(no key)".to_owned(), |k| {
            format!("\"{}\"", k.escape_ascii())
        });
        say(format_args!(
            "not written: db {} key {key}: {} refused: {}",
            f.db, f.command, f.message
        ));
    }
    if report.failed as usize > FAILURES_SHOWN {
        say(format_args!(
            "... and {} more refused command(s)",
            report.failed as usize - FAILURES_SHOWN
        ));
    }
}

/// Keeps replayed keys from merging into keys the target already has.
///
/// Replayed keys cannot be refused by the target as RESTORE can (BUSYKEY).
/// With `skip`, each is looked up first (a round trip per replayed key) and
/// its writes dropped when it exists. With `fail`, the target was found
/// empty; a key created on it since is caught by a script sent ahead of the
/// key's commands in the same pipeline, which fails naming the key (its
/// commands still apply: the run ends in error).
#[derive(Debug)]
pub(crate) struct ConflictGuard {
    on_conflict: OnConflict,
    /// The next write starts a key.
    key_starts: bool,
    /// The current key's writes are dropped.
    dropping: bool,
}

impl ConflictGuard {
    pub(crate) fn new(on_conflict: OnConflict) -> Self {
        ConflictGuard {
            on_conflict,
            key_starts: true,
            dropping: false,
        }
    }

    /// Whether `write` (the writes of one key come in a row, the last marked
    /// `last_of_key`) goes to the target; sends the `fail` guard first when
    /// it starts a replayed key.
    pub(crate) async fn admit(
        &mut self,
        sink: &mut Sink,
        write: &Write,
    ) -> Result<bool, ferry_sink::Error> {
        let starts = std::mem::replace(&mut self.key_starts, write.last_of_key);
        if !starts {
            return Ok(!self.dropping);
        }
        self.dropping = false;
        let (WriteMode::Commands, Some(key)) = (write.mode, &write.key) else {
            return Ok(true);
        };
        match self.on_conflict {
            OnConflict::Replace => {}
            OnConflict::Fail => {
                sink.write(Write {
                    db: write.db,
                    key: Some(key.clone()),
                    command: Command::new("EVAL")
                        .arg(ABSENT_OR_FAIL_SCRIPT)
                        .arg(1u8)
                        .arg(key),
                    mode: WriteMode::Commands,
                    expect: Expect::Success,
                    last_of_key: false,
                })
                .await?;
            }
            OnConflict::Skip => {
                if sink.key_exists(write.db, key).await? {
                    sink.record_existing_skipped();
                    self.dropping = true;
                }
            }
        }
        Ok(!self.dropping)
    }
}
