//! `ferry check --source URL --target URL`: what must hold before a
//! migration, checked against the live servers. Each check has an id, a
//! level (`pass`, `alarm`, `fail`) and a message that says what to do.
//!
//! Facts are gathered first ([`facts`]), then judged by pure functions
//! ([`judge`]), so the rules are tested without servers.

mod facts;
mod judge;

use judge::{Finding, Level, Options, judge};

use crate::args::{CheckArgs, CheckFormat, SourcePrefer};
use crate::error::CliError;
use crate::output::json::write_str;
use crate::run::common::DbMap;
use crate::run::sync::source::{self, Prefer, SourceAuth};
use crate::target::{SOURCE_PASSWORD_ENV, TARGET_PASSWORD_ENV, parse_with_password};
use std::io::Write as _;

/// Runs `ferry check`.
///
/// # Errors
/// Bad arguments; [`CliError::Check`] when a check fails (after printing
/// every finding).
pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let (source, source_password) = parse_with_password(
        &args.source,
        args.source_password_file.as_deref(),
        SOURCE_PASSWORD_ENV,
    )
    .map_err(CliError::Usage)?;
    let (target, target_password) = parse_with_password(
        &args.target,
        args.target_password_file.as_deref(),
        TARGET_PASSWORD_ENV,
    )
    .map_err(CliError::Usage)?;
    let db_map = DbMap::new(&args.db_map, target.db)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    let source_auth = SourceAuth {
        user: source.user.clone(),
        password: source_password,
    };
    let target_auth = SourceAuth {
        user: target.user.clone(),
        password: target_password,
    };
    let findings =
        runtime.block_on(async {
            let prefer = match args.source_prefer {
                SourcePrefer::Replica => Prefer::Replica,
                SourcePrefer::Master => Prefer::Master,
            };
            let mut findings = Vec::new();
            let sources =
                match source::discover(&source.addr(), &args.source_nodes, &source_auth, prefer)
                    .await
                {
                    Ok((layout, nodes)) => Some((layout, nodes)),
                    Err(e) => {
                        findings.push(Finding::fail(
                            "source.connect",
                            format!("{e}; check the address, the network and the credentials"),
                        ));
                        None
                    }
                };
            let targets =
                match source::discover(&target.addr(), &[], &target_auth, Prefer::Master).await {
                    Ok((layout, nodes)) => Some((layout, nodes)),
                    Err(e) => {
                        findings.push(Finding::fail(
                            "target.connect",
                            format!("{e}; check the address, the network and the credentials"),
                        ));
                        None
                    }
                };
            let (Some((source_layout, source_nodes)), Some((target_layout, target_nodes))) =
                (sources, targets)
            else {
                return findings;
            };
            let mut source_facts = Vec::new();
            for node in &source_nodes {
                source_facts
                    .push(facts::gather(&node.addr, &source_auth, true, args.sample_keys).await);
            }
            let mut target_facts = Vec::new();
            for node in &target_nodes {
                target_facts.push(facts::gather(&node.addr, &target_auth, false, 0).await);
            }
            let options = Options {
                source_layout,
                target_layout,
                db_map: &db_map,
                on_conflict: args.on_conflict,
                source_user: source.user.clone(),
            };
            findings.extend(judge(&source_facts, &target_facts, &options));
            findings
        });
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
