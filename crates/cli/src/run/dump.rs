//! `ferry dump FILE`: reads an RDB file and writes its selected keys in one of
//! the [`Format`]s.
//!
//! Reading, filtering and error handling live here; the formats are in
//! [`crate::output`]. Output goes through one buffered writer on stdout. On a
//! decoding error, everything complete so far (whole lines, whole commands) is
//! flushed, then the error is returned. A closed stdout (`| head`) ends the run
//! quietly with success.

use crate::args::{DumpArgs, Format};
use crate::error::CliError;
use crate::glob::Glob;
use crate::output::{JsonlOutput, KeysOutput, Output, RespOutput, Summary};
use crate::run::common::now_ms;
use ferry_rdb::{Config, Item, KeyHeader, Reader};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

/// Size of the stdout buffer.
const OUTPUT_BUFFER_BYTES: usize = 256 * 1024;

/// Which keys to dump.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Databases to keep; empty keeps all.
    pub dbs: Vec<u64>,
    /// Key pattern to match, if any.
    pub pattern: Option<Glob>,
}

impl Filter {
    /// True when the key belongs in the output.
    pub fn accepts(&self, header: &KeyHeader) -> bool {
        (self.dbs.is_empty() || self.dbs.contains(&header.db))
            && self
                .pattern
                .as_ref()
                .is_none_or(|p| p.is_match(&header.key))
    }
}

/// Runs `ferry dump`.
///
/// # Errors
/// The input cannot be opened, read or decoded; the output cannot be written
/// (except for a closed pipe, which ends the run quietly); or, for
/// `--format resp` without `--skip-unsupported`, some values could not be
/// written as commands.
pub fn run(args: &DumpArgs) -> Result<(), CliError> {
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(OUTPUT_BUFFER_BYTES, stdout.lock());
    let result = match args.format {
        Format::Jsonl => dump(args, JsonlOutput::with_spill_bytes(out, args.spill_bytes)),
        Format::Resp => dump(
            args,
            RespOutput::with_spill_bytes(out, now_ms(), args.spill_bytes),
        ),
        Format::Keys => dump(args, KeysOutput::new(out)),
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(CliError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e),
    };
    if args.format == Format::Resp {
        if !args.quiet {
            let _ = writeln!(io::stderr(), "ferry: {}", summary_line(&summary));
        }
        if summary.unsupported > 0 && !args.skip_unsupported {
            return Err(CliError::Unsupported {
                count: summary.unsupported,
            });
        }
    }
    Ok(())
}

/// The closing line of `--format resp` (after `ferry: ` on stderr).
pub fn summary_line(s: &Summary) -> String {
    format!(
        "summary: {} keys written, {} functions written, {} expired keys skipped, \
         {} expired hash fields skipped, {} empty keys skipped, {} unsupported values skipped",
        s.keys_written,
        s.functions_written,
        s.expired_keys_skipped,
        s.expired_fields_skipped,
        s.empty_keys_skipped,
        s.unsupported
    )
}

fn dump<O: Output>(args: &DumpArgs, mut output: O) -> Result<Summary, CliError> {
    let config = Config {
        verify_checksum: !args.no_verify_checksum,
        skip_values: args.format == Format::Keys,
        ..Config::default()
    };
    let filter = Filter {
        dbs: args.dbs.clone(),
        pattern: args
            .key_pattern
            .as_ref()
            .map(|p| Glob::new(p.as_encoded_bytes())),
    };
    let functions = !args.no_functions && args.format != Format::Keys;
    if args.file.as_os_str() == "-" {
        let reader = Reader::with_config(io::stdin().lock(), config);
        copy(reader, "<stdin>", &filter, functions, &mut output)
    } else {
        let file = File::open(&args.file).map_err(|source| CliError::Open {
            path: args.file.clone(),
            source,
        })?;
        let reader = Reader::with_config(file, config);
        copy(
            reader,
            &args.file.display().to_string(),
            &filter,
            functions,
            &mut output,
        )
    }
}

/// Feeds the selected items of `reader` to `output`.
///
/// # Errors
/// [`CliError::Read`] for bad input (after flushing what is complete),
/// [`CliError::Write`] when the output fails.
pub fn copy<R: Read, O: Output>(
    reader: Reader<R>,
    input: &str,
    filter: &Filter,
    functions: bool,
    output: &mut O,
) -> Result<Summary, CliError> {
    let mut selected = false;
    for item in reader {
        let item = match item {
            Ok(item) => item,
            Err(source) => {
                // Keep what is complete; the read error is what matters.
                let _ = output.finish();
                return Err(CliError::Read {
                    input: input.to_owned(),
                    source,
                });
            }
        };
        match item {
            Item::Key(header) => {
                selected = filter.accepts(&header);
                if selected {
                    output.begin_key(&header).map_err(CliError::Write)?;
                }
            }
            Item::KeyEnd => {
                if selected {
                    output.end_key().map_err(CliError::Write)?;
                }
                selected = false;
            }
            Item::Function(function) => {
                if functions {
                    output.function(&function).map_err(CliError::Write)?;
                }
            }
            Item::ModuleAux(aux) => output.module_aux(&aux).map_err(CliError::Write)?,
            Item::Header(_)
            | Item::Aux { .. }
            | Item::SelectDb(_)
            | Item::ResizeDb { .. }
            | Item::SlotInfo { .. }
            | Item::End { .. } => {}
            element => {
                if selected {
                    output.element(element).map_err(CliError::Write)?;
                }
            }
        }
    }
    output.finish().map_err(CliError::Write)
}
