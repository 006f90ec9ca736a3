//! `ferry restore FILE --target URL`: loads an RDB file into a running
//! target through [`ferry_sink`].
//!
//! The file is decoded on a blocking thread, where a [`Planner`] turns its
//! items into writes (RESTORE or command replay per key); the writes go
//! over a bounded channel to the async side, which hands them to the
//! [`Sink`]. Memory is bounded by the channel, the planner's per-key limit
//! and the sink's in-flight budget, not by the file.

use crate::args::{Progress, RestoreArgs, TargetKindArg};
use crate::error::CliError;
use crate::glob::Glob;
use crate::run::check;
use crate::run::common::{
    ConflictGuard, DbMap, conflict, connect_target, now_ms, plan_mode, print_failures,
    require_empty, say,
};
use crate::run::sync::source::SourceAuth;
use crate::target::{TARGET_PASSWORD_ENV, TargetUrl, resolve_password};
use ferry_rdb::{Config, Item, ReadError, Reader};
use ferry_sink::plan::{Mode, Options, Summary};
use ferry_sink::replay::Note;
use ferry_sink::{Planner, Report, Write};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Writes handed from the decoding thread to the sink at a time.
const WRITES_PER_MESSAGE: usize = 256;
/// Bytes of writes waiting between the decoding thread and the sink, at most
/// (a message may pass it by one write).
const QUEUED_BYTES: usize = 8 * 1024 * 1024;
/// Messages waiting between the two sides.
const CHANNEL_MESSAGES: usize = 64;

/// What the decoding thread sends.
enum Msg {
    /// Writes, and the bytes they hold (given back to the [`Queued`] count).
    Writes(Vec<Write>, usize),
    Note(Note),
    Done(Summary),
    Failed(ReadError),
}

/// Bytes of writes sent over the channel and not yet taken: the channel
/// bounds messages, this bounds memory (a message of big-key writes can be
/// megabytes).
#[derive(Default)]
struct Queued {
    /// Bytes queued, and whether the receiving side has stopped.
    state: std::sync::Mutex<(usize, bool)>,
    taken: std::sync::Condvar,
}

impl Queued {
    /// Waits (on the decoding thread) until there is room, then counts `n`.
    fn add(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !state.1 && state.0 > 0 && state.0 + n > QUEUED_BYTES {
            state = self.taken.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0 += n;
    }

    /// Gives `n` back (on the async side; never waits long).
    fn take(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(n);
        self.taken.notify_all();
    }

    /// The receiving side stopped: nothing waits for room any more.
    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.taken.notify_all();
    }
}

fn write_bytes(writes: &[Write]) -> usize {
    writes
        .iter()
        .map(|w| {
            w.command
                .parts()
                .iter()
                .map(|p| p.len() + 16)
                .sum::<usize>()
        })
        .sum()
}

/// Runs `ferry restore`.
///
/// # Errors
/// Bad arguments, an unreachable or refusing target, a failed check, an
/// unreadable file, or keys that did not land (see [`CliError::exit_code`]).
pub fn run(args: &RestoreArgs) -> Result<(), CliError> {
    let path = args
        .file
        .clone()
        .or_else(|| args.input.clone())
        .ok_or_else(|| CliError::Usage("no input file".into()))?;
    let url = TargetUrl::parse(&args.target).map_err(CliError::Usage)?;
    let password = resolve_password(
        &url,
        args.target_password_file.as_deref(),
        std::env::var(TARGET_PASSWORD_ENV).ok(),
        args.target_password.as_deref(),
    )
    .map_err(CliError::Usage)?;
    let db_map = DbMap::new(&args.db_map, url.db)?;
    check::validate_skips(&args.skip_check)?;
    if args.parallel == 0 {
        return Err(CliError::Usage("--parallel must be at least 1".into()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Write)?;
    runtime.block_on(restore(args, &path, &url, password, &db_map))
}

fn open(path: &Path) -> Result<File, CliError> {
    File::open(path).map_err(|source| CliError::Open {
        path: path.to_owned(),
        source,
    })
}

async fn restore(
    args: &RestoreArgs,
    path: &Path,
    url: &TargetUrl,
    password: Option<String>,
    db_map: &DbMap,
) -> Result<(), CliError> {
    let file_len = open(path)?.metadata().map(|m| m.len()).unwrap_or(0);
    // The checks of `ferry check --source-file`, before anything else.
    let target_auth = SourceAuth {
        user: url.user.clone(),
        password: password.clone(),
    };
    let plan = check::Plan {
        source: check::SourceSpec::File {
            path,
            verify_checksum: !args.no_verify_checksum,
        },
        target: url.addr(),
        target_auth: &target_auth,
        target_proxy: args.target_kind == TargetKindArg::Proxy,
        db_map,
        on_conflict: args.on_conflict,
    };
    let mut skips = args.skip_check.clone();
    // Leaving out what the target cannot hold was asked for: it is
    // reported key by key, not refused up front.
    if args.skip_unsupported {
        skips.push("target.version".into());
    }
    check::preflight(&plan, &skips).await?;
    let mut sink = connect_target(url, password, args.target_kind, args.parallel).await?;
    if !check::skipped(&skips, "target.empty") {
        require_empty(&sink, args.on_conflict).await?;
    }
    let (mode, caps) = plan_mode(&sink, args.mode)?;
    let mut options = Options::new(caps, now_ms());
    options.mode = mode;
    options.conflict = conflict(args.on_conflict);
    options.big_value_bytes = args.big_value_bytes;
    // Values are not decoded unless a key is replayed (or asked for): most
    // keys go by RESTORE, and decoding them was most of the work.
    options.elements_from_raw = !args.decode_values;

    let read_bytes = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::channel::<Msg>(CHANNEL_MESSAGES);
    let queued = Arc::new(Queued::default());
    let reader = {
        let queued = queued.clone();
        let file = open(path)?;
        let read_bytes = read_bytes.clone();
        let pattern = args
            .key_pattern
            .as_ref()
            .map(|p| Glob::new(p.as_encoded_bytes()));
        let no_functions = args.no_functions;
        let decoder_config = Config {
            raw: mode != Mode::Commands,
            skip_values: mode != Mode::Commands && !args.decode_values,
            verify_checksum: !args.no_verify_checksum,
            ..Config::default()
        };
        tokio::task::spawn_blocking(move || {
            decode(
                Counting {
                    inner: file,
                    read: read_bytes,
                },
                decoder_config,
                Planner::new(options),
                pattern,
                no_functions,
                &Sender { tx, queued },
            )
        })
    };

    let started = Instant::now();
    let mut progress = Display::new(args.progress, file_len);
    let mut planned = 0u64;
    let mut notes = 0u64;
    let mut outcome: Result<Summary, CliError> =
        Err(CliError::Check("the file reader stopped".into()));
    let mut sink_error = None;
    let mut guard = ConflictGuard::new(args.on_conflict);
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Writes(writes, bytes) => {
                queued.take(bytes);
                for mut write in writes {
                    write.db = db_map.target(write.db);
                    planned += u64::from(write.last_of_key);
                    if args.dry_run {
                        continue;
                    }
                    match guard.admit(&mut sink, &write).await {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            sink_error = Some(e);
                            break;
                        }
                    }
                    if let Err(e) = sink.write(write).await {
                        sink_error = Some(e);
                        break;
                    }
                }
                if sink_error.is_some() {
                    break;
                }
            }
            Msg::Note(note) => {
                notes += 1;
                progress.clear();
                say(format_args!("warning: {note}"));
            }
            Msg::Done(summary) => outcome = Ok(summary),
            Msg::Failed(source) => {
                outcome = Err(CliError::Read {
                    input: path.display().to_string(),
                    source,
                });
            }
        }
        let keys = if args.dry_run {
            planned
        } else {
            sink.keys_written()
        };
        progress.tick(read_bytes.load(Ordering::Relaxed), keys, started.elapsed());
    }
    drop(rx);
    queued.close();
    let _ = reader.await;
    let report = if sink_error.is_none() && !args.dry_run {
        match sink.flush().await {
            Ok(report) => report,
            Err(e) => {
                sink_error = Some(e);
                sink.report()
            }
        }
    } else {
        sink.report()
    };
    progress.clear();
    let elapsed = started.elapsed();
    print_summary(args, &outcome, &report, planned, notes, elapsed);
    print_failures(&report);
    if let Some(e) = sink_error {
        return Err(CliError::Incomplete(format!(
            "{e}; {} key(s) were confirmed written before that, the rest of the file was not copied",
            report.keys_written()
        )));
    }
    let summary = outcome?;
    if report.failed > 0 {
        return Err(CliError::Incomplete(format!(
            "{} command(s) were refused by the target (listed above); those keys are missing or incomplete",
            report.failed
        )));
    }
    if summary.unsupported > 0 && !args.skip_unsupported {
        return Err(CliError::Unsupported {
            count: summary.unsupported,
        });
    }
    Ok(())
}

/// The process's peak resident memory, from Linux's `/proc/self/status`.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn print_summary(
    args: &RestoreArgs,
    outcome: &Result<Summary, CliError>,
    report: &Report,
    planned: u64,
    notes: u64,
    elapsed: Duration,
) {
    let secs = elapsed.as_secs_f64().max(0.001);
    if args.dry_run {
        say(format_args!(
            "dry run: {planned} key(s) would be written, nothing was sent ({:.1} s)",
            secs
        ));
    } else {
        let keys = report.keys_written();
        say(format_args!(
            "{keys} key(s) written in {secs:.1} s ({:.0} keys/s): {} by RESTORE, {} by commands; \
             {} function(s); {} existing key(s) left as they were; {} command(s) refused",
            keys as f64 / secs,
            report.keys_restored,
            report.keys_replayed,
            report.functions,
            report.keys_existing_skipped,
            report.failed,
        ));
    }
    if report.redirects + report.retries > 0 {
        say(format_args!(
            "{} redirect(s) (MOVED/ASK) followed, {} command(s) sent again after \
             TRYAGAIN/LOADING/CLUSTERDOWN",
            report.redirects, report.retries
        ));
    }
    if let Some(peak) = peak_rss_bytes() {
        say(format_args!("peak memory {:.1} MB", peak as f64 / 1e6));
    }
    if let Ok(s) = outcome {
        say(format_args!(
            "skipped: {} expired key(s), {} expired hash field(s), {} empty key(s); {} value(s) \
             this target cannot hold ({notes} warning(s))",
            s.expired_keys_skipped, s.expired_fields_skipped, s.empty_keys_skipped, s.unsupported
        ));
    }
}

/// Decodes the file and plans its writes (on a blocking thread).
fn decode<R: Read>(
    input: R,
    config: Config,
    mut planner: Planner,
    pattern: Option<Glob>,
    no_functions: bool,
    tx: &Sender,
) {
    let mut writes = Vec::with_capacity(WRITES_PER_MESSAGE * 2);
    // Bytes of `writes[..counted]`.
    let mut bytes = 0;
    let mut counted = 0;
    let mut skipping = false;
    let send = |msg: Msg| tx.send(msg);
    for item in Reader::with_config(io::BufReader::with_capacity(256 * 1024, input), config) {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                // What a key cut short had ready still goes out.
                planner.finish(&mut writes);
                if !writes.is_empty() {
                    let _ = send(Msg::writes(std::mem::take(&mut writes)));
                }
                let _ = send(Msg::Failed(e));
                return;
            }
        };
        match &item {
            Item::Key(header) => {
                skipping = pattern.as_ref().is_some_and(|p| !p.is_match(&header.key));
                if skipping {
                    continue;
                }
            }
            Item::KeyEnd if skipping => {
                skipping = false;
                continue;
            }
            Item::Function(_) if no_functions => continue,
            _ if skipping => continue,
            _ => {}
        }
        if let Err(e) = planner.handle_item(item, &mut writes) {
            let _ = send(Msg::Failed(ReadError::Io(e)));
            return;
        }
        while let Some(note) = planner.poll_note() {
            if !send(Msg::Note(note)) {
                return;
            }
        }
        bytes += write_bytes(&writes[counted..]);
        counted = writes.len();
        if writes.len() >= WRITES_PER_MESSAGE || bytes >= QUEUED_BYTES / 8 {
            let full = std::mem::replace(&mut writes, Vec::with_capacity(WRITES_PER_MESSAGE * 2));
            if !send(Msg::Writes(full, std::mem::take(&mut bytes))) {
                return;
            }
            counted = 0;
        }
    }
    let summary = planner.finish(&mut writes);
    while let Some(note) = planner.poll_note() {
        if !send(Msg::Note(note)) {
            return;
        }
    }
    if !writes.is_empty() && !send(Msg::writes(writes)) {
        return;
    }
    let _ = send(Msg::Done(summary));
}

impl Msg {
    fn writes(writes: Vec<Write>) -> Msg {
        let bytes = write_bytes(&writes);
        Msg::Writes(writes, bytes)
    }
}

/// The decoding thread's end of the channel.
struct Sender {
    tx: mpsc::Sender<Msg>,
    queued: Arc<Queued>,
}

impl Sender {
    /// Sends `msg`, first waiting for room when it holds writes; false when
    /// the other side is gone.
    fn send(&self, msg: Msg) -> bool {
        if let Msg::Writes(_, bytes) = &msg {
            self.queued.add(*bytes);
        }
        self.tx.blocking_send(msg).is_ok()
    }
}

/// Counts the bytes read, for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Progress on stderr: a redrawn bar on a terminal, or a log line every
/// few seconds.
struct Display {
    bar: bool,
    quiet: bool,
    total: u64,
    last: Option<Instant>,
    drawn: bool,
}

impl Display {
    fn new(mode: Progress, total: u64) -> Display {
        let terminal = io::stderr().is_terminal();
        Display {
            bar: matches!(mode, Progress::Bar) || (mode == Progress::Auto && terminal),
            quiet: mode == Progress::None,
            total,
            last: None,
            drawn: false,
        }
    }

    fn tick(&mut self, read: u64, keys: u64, elapsed: Duration) {
        if self.quiet {
            return;
        }
        let every = if self.bar {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        if self.last.is_none() {
            self.last = Some(Instant::now());
            return;
        }
        self.last = Some(Instant::now());
        let secs = elapsed.as_secs_f64().max(0.001);
        let fraction = if self.total > 0 {
            (read as f64 / self.total as f64).min(1.0)
        } else {
            0.0
        };
        let eta = if fraction > 0.0 {
            format!("{:.0} s", secs / fraction - secs)
        } else {
            "?".to_owned()
        };
        let mb = |b: u64| b as f64 / 1e6;
        let text = format!(
            "{:>3.0}% {:.1}/{:.1} MB read, {keys} keys written, {:.0} keys/s, ETA {eta}",
            fraction * 100.0,
            mb(read),
            mb(self.total),
            keys as f64 / secs
        );
        if self.bar {
            let width = 30;
            let done = (fraction * width as f64) as usize;
            let _ = write!(
                io::stderr(),
                "\r[{}{}] {text}\x1b[K",
                "#".repeat(done),
                ".".repeat(width - done)
            );
            self.drawn = true;
        } else {
            say(format_args!("restore: {text}"));
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            let _ = write!(io::stderr(), "\r\x1b[K");
            self.drawn = false;
        }
    }
}
