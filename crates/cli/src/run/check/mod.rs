//! `ferry check --source URL --target URL`: what must hold before a
//! migration, checked against the live servers. Each check has an id, a
//! level (`pass`, `alarm`, `fail`) and a message that says what to do.
//!
//! Facts are gathered first ([`facts`]), then judged by pure functions
//! ([`judge`]), so the rules are tested without servers.

mod facts;
mod file;
mod judge;

pub use judge::CHECK_IDS;
use judge::{Finding, Level, Options, judge};

use crate::args::{CheckArgs, CheckFormat, OnConflict, SourcePrefer};
use crate::error::CliError;
use crate::output::json::write_str;
use crate::run::common::{DbMap, say};
use crate::run::sync::source::{self, Layout, Prefer, SourceAuth};
use crate::target::{SOURCE_PASSWORD_ENV, TARGET_PASSWORD_ENV, parse_with_password};
use std::io::Write as _;
use std::path::Path;

/// Where the source's facts come from.
#[derive(Debug)]
pub(crate) enum SourceSpec<'a> {
    /// Live servers: a node (any node of a cluster), or a list of nodes.
    Live {
        /// `host:port` of the source (or of one of its nodes).
        addr: String,
        /// `--source-nodes`.
        nodes: &'a [String],
        /// Its credentials.
        auth: &'a SourceAuth,
        /// The node of each shard a sync uses.
        prefer: Prefer,
        /// Keys sampled for big keys.
        sample_keys: u64,
    },
    /// An RDB file.
    File {
        /// Its path.
        path: &'a Path,
        /// Check its CRC64 trailer.
        verify_checksum: bool,
    },
}

/// What a check run needs.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// The source.
    pub source: SourceSpec<'a>,
    /// `host:port` of the target (any node of a cluster).
    pub target: String,
    /// The target's credentials.
    pub target_auth: &'a SourceAuth,
    /// The target is a proxy (`--target-kind proxy`).
    pub target_proxy: bool,
    /// `--db-map`.
    pub db_map: &'a DbMap,
    /// `--on-conflict`.
    pub on_conflict: OnConflict,
}

/// Gathers the facts of every node and judges them.
pub(crate) async fn findings(plan: &Plan<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let (source_layout, source_user, source_facts) = match &plan.source {
        SourceSpec::Live {
            addr,
            nodes,
            auth,
            prefer,
            sample_keys,
        } => match source::discover(addr, nodes, auth, *prefer).await {
            Ok((layout, nodes)) => {
                let mut facts = Vec::new();
                for node in &nodes {
                    facts.push(facts::gather(&node.addr, auth, true, *sample_keys).await);
                }
                (layout, auth.user.clone(), Some(facts))
            }
            Err(e) => {
                findings.push(Finding::fail(
                    "source.connect",
                    format!("{e}; check the address, the network and the credentials"),
                ));
                (Layout::Standalone, None, None)
            }
        },
        SourceSpec::File {
            path,
            verify_checksum,
        } => {
            let (path, verify) = (path.to_path_buf(), *verify_checksum);
            // A whole pass over the file: off the async threads.
            let facts = tokio::task::spawn_blocking(move || file::gather(&path, verify))
                .await
                .unwrap_or_else(|e| facts::NodeFacts {
                    error: Some(format!("the reader stopped: {e}")),
                    ..facts::NodeFacts::default()
                });
            (Layout::Standalone, None, Some(vec![facts]))
        }
    };
    let targets = match source::discover(&plan.target, &[], plan.target_auth, Prefer::Master).await
    {
        Ok((layout, nodes)) => {
            let mut facts = Vec::new();
            for node in &nodes {
                let mut node_facts = facts::gather(&node.addr, plan.target_auth, false, 0).await;
                if plan.target_proxy && node_facts.error.is_some() {
                    // A proxy answers few admin commands: what it does not
                    // tell stays unknown.
                    node_facts = facts::NodeFacts {
                        addr: node.addr.clone(),
                        ..facts::NodeFacts::default()
                    };
                }
                facts.push(node_facts);
            }
            Some((layout, facts))
        }
        Err(e) => {
            findings.push(Finding::fail(
                "target.connect",
                format!("{e}; check the address, the network and the credentials"),
            ));
            None
        }
    };
    let (Some(source_facts), Some((target_layout, target_facts))) = (source_facts, targets) else {
        return findings;
    };
    let options = Options {
        source_layout,
        target_layout,
        db_map: plan.db_map,
        on_conflict: plan.on_conflict,
        source_user,
        source_file: matches!(plan.source, SourceSpec::File { .. }),
        target_proxy: plan.target_proxy,
    };
    findings.extend(judge(&source_facts, &target_facts, &options));
    findings
}

/// Checks that `--skip-check` names only known checks.
///
/// # Errors
/// [`CliError::Usage`] naming the unknown id and the known ones.
pub fn validate_skips(skips: &[String]) -> Result<(), CliError> {
    for id in skips {
        if id != "all" && !CHECK_IDS.contains(&id.as_str()) {
            return Err(CliError::Usage(format!(
                "--skip-check {id}: no such check; the checks are: all, {}",
                CHECK_IDS.join(", ")
            )));
        }
    }
    Ok(())
}

/// Whether `--skip-check` names check `id` (or `all`).
pub fn skipped(skips: &[String], id: &str) -> bool {
    skips.iter().any(|s| s == id || s == "all")
}

/// Runs the checks before a migration (`ferry sync`, `ferry restore`):
/// prints alarms and failures on stderr, and stops on a failure that
/// `skips` does not name.
///
/// # Errors
/// [`CliError::Check`] naming the failed checks.
pub(crate) async fn preflight(plan: &Plan<'_>, skips: &[String]) -> Result<(), CliError> {
    let found = findings(plan).await;
    let skipped = |id: &str| skipped(skips, id);
    let mut failed = Vec::new();
    for f in &found {
        match f.level {
            Level::Pass => {}
            Level::Alarm => say(format_args!("check: alarm  {}: {}", f.id, f.message)),
            Level::Fail if skipped(f.id) => say(format_args!(
                "check: fail   {} (going on: --skip-check {}): {}",
                f.id, f.id, f.message
            )),
            Level::Fail => {
                say(format_args!("check: fail   {}: {}", f.id, f.message));
                if !failed.contains(&f.id) {
                    failed.push(f.id);
                }
            }
        }
    }
    let count = |l: Level| found.iter().filter(|f| f.level == l).count();
    say(format_args!(
        "check: {} passed, {} alarm(s), {} failed",
        count(Level::Pass),
        count(Level::Alarm),
        count(Level::Fail)
    ));
    if failed.is_empty() {
        return Ok(());
    }
    Err(CliError::Check(format!(
        "check(s) failed before anything was written: {} (above); fix them, or name them with \
         --skip-check to go on anyway",
        failed.join(", ")
    )))
}

/// Runs `ferry check`.
///
/// # Errors
/// Bad arguments; [`CliError::Check`] when a check fails (after printing
/// every finding).
pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let (target, target_password) = parse_with_password(
        &args.target,
        args.target_password_file.as_deref(),
        TARGET_PASSWORD_ENV,
    )
    .map_err(CliError::Usage)?;
    let db_map = DbMap::new(&args.db_map, target.db)?;
    let source_auth;
    let source = match (&args.source, &args.source_file) {
        (_, Some(path)) => SourceSpec::File {
            path,
            verify_checksum: true,
        },
        (Some(url), None) => {
            let (source, source_password) = parse_with_password(
                url,
                args.source_password_file.as_deref(),
                SOURCE_PASSWORD_ENV,
            )
            .map_err(CliError::Usage)?;
            source_auth = SourceAuth {
                user: source.user.clone(),
                password: source_password,
            };
            SourceSpec::Live {
                addr: source.addr(),
                nodes: &args.source_nodes,
                auth: &source_auth,
                prefer: match args.source_prefer {
                    SourcePrefer::Replica => Prefer::Replica,
                    SourcePrefer::Master => Prefer::Master,
                },
                sample_keys: args.sample_keys,
            }
        }
        (None, None) => {
            return Err(CliError::Usage(
                "give the source: --source URL, or --source-file FILE".into(),
            ));
        }
    };
    let target_auth = SourceAuth {
        user: target.user.clone(),
        password: target_password,
    };
    let plan = Plan {
        source,
        target: target.addr(),
        target_auth: &target_auth,
        target_proxy: false,
        db_map: &db_map,
        on_conflict: args.on_conflict,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    let findings = runtime.block_on(findings(&plan));
    print(&findings, args.format);
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    if failed > 0 {
        return Err(CliError::Check(format!(
            "{failed} check(s) failed (listed above): fix them and check again"
        )));
    }
    Ok(())
}

fn print(findings: &[Finding], format: CheckFormat) {
    let mut out = std::io::stdout().lock();
    match format {
        CheckFormat::Text => {
            for f in findings {
                let _ = writeln!(out, "{:<5}  {:<26} {}", f.level.name(), f.id, f.message);
            }
            let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
            let _ = writeln!(
                out,
                "{} passed, {} alarm(s), {} failed",
                count(Level::Pass),
                count(Level::Alarm),
                count(Level::Fail)
            );
        }
        CheckFormat::Json => {
            let mut buf = Vec::new();
            for f in findings {
                buf.extend_from_slice(b"{\"id\":");
                write_str(&mut buf, f.id);
                buf.extend_from_slice(b",\"level\":");
                write_str(&mut buf, f.level.name());
                buf.extend_from_slice(b",\"message\":");
                write_str(&mut buf, &f.message);
                buf.extend_from_slice(b"}\n");
            }
            let _ = out.write_all(&buf);
        }
    }
}
