//! What `ferry sync` is doing, for the status endpoint (`GET /status` as
//! JSON, `GET /metrics` in Prometheus's text format) and the log lines.
//!
//! The sync publishes a fresh [`SyncStatus`] on a [`Board`] a few times a
//! second; the endpoint only reads the board, so a slow or hostile client
//! never holds up the sync.

use crate::output::json::write_str;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request the endpoint reads.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Connecting to the source and the target, checking.
    #[default]
    Connecting,
    /// Receiving and writing a snapshot.
    FullSync,
    /// Applying the command stream, behind the source.
    Incremental,
    /// Everything the source had at its last reading is on the target.
    CaughtUp,
    /// Stopping: applying what was received, then exiting.
    Stopping,
    /// Stopped on an error.
    Failed,
}

impl Phase {
    /// The name shown in the status and the logs.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::FullSync => "full-sync",
            Phase::Incremental => "incremental",
            Phase::CaughtUp => "caught-up",
            Phase::Stopping => "stopping",
            Phase::Failed => "failed",
        }
    }

    /// The phase as a number, for an atomic.
    pub fn index(self) -> u8 {
        match self {
            Phase::Connecting => 0,
            Phase::FullSync => 1,
            Phase::Incremental => 2,
            Phase::CaughtUp => 3,
            Phase::Stopping => 4,
            Phase::Failed => 5,
        }
    }

    /// The phase of [`Phase::index`].
    pub fn from_index(index: u8) -> Phase {
        Phase::ALL
            .get(usize::from(index))
            .copied()
            .unwrap_or(Phase::Failed)
    }

    const ALL: [Phase; 6] = [
        Phase::Connecting,
        Phase::FullSync,
        Phase::Incremental,
        Phase::CaughtUp,
        Phase::Stopping,
        Phase::Failed,
    ];
}

/// One source shard: one replication session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardStatus {
    /// The node replicated from, `host:port`.
    pub source: String,
    /// Where this shard is.
    pub phase: Phase,
    /// Connected to the source now.
    pub connected: bool,
    /// The source's replication id.
    pub replid: String,
    /// The source's `master_repl_offset` at its last reading.
    pub source_offset: u64,
    /// Replication offset received so far.
    pub received_offset: u64,
    /// Replication offset up to which the target confirmed every write.
    pub applied_offset: u64,
    /// `source_offset - applied_offset`, or what was received beyond the
    /// applied offset when that is more.
    pub lag_bytes: u64,
    /// Age of the oldest received byte the target has not confirmed.
    pub lag_seconds: f64,
    /// Snapshot bytes received.
    pub snapshot_bytes: u64,
    /// The snapshot's length when the source announced it.
    pub snapshot_total: Option<u64>,
    /// Connections lost and resumed (`+CONTINUE`).
    pub reconnects: u64,
    /// Snapshots taken again after a lost connection.
    pub full_resyncs: u64,
}

/// The whole sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatus {
    /// The slowest shard's phase.
    pub phase: Phase,
    /// Seconds since the sync started.
    pub uptime_seconds: f64,
    /// The target, `host:port`.
    pub target: String,
    /// Per source shard.
    pub shards: Vec<ShardStatus>,
    /// Keys written by the snapshots.
    pub keys_written: u64,
    /// Commands of the stream received.
    pub commands_received: u64,
    /// Commands of the stream sent to the target.
    pub commands_applied: u64,
    /// Commands the target refused.
    pub commands_failed: u64,
    /// Commands that could not be applied (cross-slot on a cluster ...).
    pub commands_unapplied: u64,
    /// Transactions applied as separate commands.
    pub transactions_split: u64,
    /// Bytes waiting in the spool, in memory.
    pub spool_memory_bytes: u64,
    /// Bytes waiting in the spool, on disk.
    pub spool_disk_bytes: u64,
    /// The last errors and warnings, oldest first.
    pub errors: Vec<String>,
}

impl SyncStatus {
    /// The status as a JSON object.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        let field = |out: &mut Vec<u8>, name: &str, value: &str| {
            if out.len() > 1 {
                out.push(b',');
            }
            write_str(out, name);
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
        };
        out.push(b'{');
        field(&mut out, "phase", &json_str(self.phase.name()));
        field(&mut out, "uptime_seconds", &json_f64(self.uptime_seconds));
        field(&mut out, "target", &json_str(&self.target));
        let mut shards = String::from("[");
        for (i, s) in self.shards.iter().enumerate() {
            if i > 0 {
                shards.push(',');
            }
            let _ = write!(
                shards,
                "{{\"source\":{},\"phase\":{},\"connected\":{},\"replid\":{},\
                 \"source_offset\":{},\"received_offset\":{},\"applied_offset\":{},\
                 \"lag_bytes\":{},\"lag_seconds\":{},\"snapshot_bytes\":{},\
                 \"snapshot_total\":{},\"reconnects\":{},\"full_resyncs\":{}}}",
                json_str(&s.source),
                json_str(s.phase.name()),
                s.connected,
                json_str(&s.replid),
                s.source_offset,
                s.received_offset,
                s.applied_offset,
                s.lag_bytes,
                json_f64(s.lag_seconds),
                s.snapshot_bytes,
                s.snapshot_total
                    .map_or_else(|| "null".to_owned(), |n| n.to_string()),
                s.reconnects,
                s.full_resyncs
            );
        }
        shards.push(']');
        field(&mut out, "shards", &shards);
        field(&mut out, "lag_bytes", &self.lag_bytes().to_string());
        field(&mut out, "lag_seconds", &json_f64(self.lag_seconds()));
        for (name, value) in self.counters() {
            field(&mut out, name, &value.to_string());
        }
        let errors: Vec<String> = self.errors.iter().map(|e| json_str(e)).collect();
        field(&mut out, "errors", &format!("[{}]", errors.join(",")));
        out.push(b'}');
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The largest lag in bytes of any shard.
    pub fn lag_bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.lag_bytes).max().unwrap_or(0)
    }

    /// The largest lag in seconds of any shard.
    pub fn lag_seconds(&self) -> f64 {
        self.shards
            .iter()
            .map(|s| s.lag_seconds)
            .fold(0.0, f64::max)
    }

    fn counters(&self) -> [(&'static str, u64); 8] {
        [
            ("keys_written", self.keys_written),
            ("commands_received", self.commands_received),
            ("commands_applied", self.commands_applied),
            ("commands_failed", self.commands_failed),
            ("commands_unapplied", self.commands_unapplied),
            ("transactions_split", self.transactions_split),
            ("spool_memory_bytes", self.spool_memory_bytes),
            ("spool_disk_bytes", self.spool_disk_bytes),
        ]
    }

    /// The status in Prometheus's text exposition format.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(2048);
        let metric = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(
                out,
                "# HELP ferry_{name} {help}\n# TYPE ferry_{name} {kind}"
            );
        };
        metric(
            &mut out,
            "phase",
            "gauge",
            "1 for the phase the sync is in.",
        );
        for phase in Phase::ALL {
            let _ = writeln!(
                out,
                "ferry_phase{{phase=\"{}\"}} {}",
                phase.name(),
                u8::from(phase == self.phase)
            );
        }
        metric(
            &mut out,
            "uptime_seconds",
            "gauge",
            "Seconds since the sync started.",
        );
        let _ = writeln!(out, "ferry_uptime_seconds {}", self.uptime_seconds);
        let help = [
            ("keys_written", "counter", "Keys written by the snapshots."),
            (
                "commands_received",
                "counter",
                "Commands of the stream received.",
            ),
            (
                "commands_applied",
                "counter",
                "Commands of the stream sent to the target.",
            ),
            ("commands_failed", "counter", "Commands the target refused."),
            (
                "commands_unapplied",
                "counter",
                "Commands that could not be applied.",
            ),
            (
                "transactions_split",
                "counter",
                "Transactions applied as separate commands.",
            ),
            (
                "spool_memory_bytes",
                "gauge",
                "Bytes waiting in the spool, in memory.",
            ),
            (
                "spool_disk_bytes",
                "gauge",
                "Bytes waiting in the spool, on disk.",
            ),
        ];
        for ((name, value), (_, kind, text)) in self.counters().into_iter().zip(help) {
            let name = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_owned()
            };
            metric(&mut out, &name, kind, text);
            let _ = writeln!(out, "ferry_{name} {value}");
        }
        type ShardField = fn(&ShardStatus) -> String;
        let shard_metrics: [(&str, &str, &str, ShardField); 8] = [
            (
                "shard_connected",
                "gauge",
                "1 while connected to the source.",
                |s| u8::from(s.connected).to_string(),
            ),
            (
                "source_offset",
                "gauge",
                "The source's replication offset at its last reading.",
                |s| s.source_offset.to_string(),
            ),
            (
                "received_offset",
                "gauge",
                "Replication offset received.",
                |s| s.received_offset.to_string(),
            ),
            (
                "applied_offset",
                "gauge",
                "Replication offset confirmed by the target.",
                |s| s.applied_offset.to_string(),
            ),
            (
                "lag_bytes",
                "gauge",
                "Replication bytes not yet confirmed by the target.",
                |s| s.lag_bytes.to_string(),
            ),
            (
                "lag_seconds",
                "gauge",
                "Age of the oldest byte not yet confirmed by the target.",
                |s| s.lag_seconds.to_string(),
            ),
            (
                "reconnects_total",
                "counter",
                "Connections to the source lost and resumed.",
                |s| s.reconnects.to_string(),
            ),
            (
                "full_resyncs_total",
                "counter",
                "Snapshots taken again after a lost connection.",
                |s| s.full_resyncs.to_string(),
            ),
        ];
        for (name, kind, text, value) in shard_metrics {
            metric(&mut out, name, kind, text);
            for s in &self.shards {
                let _ = writeln!(
                    out,
                    "ferry_{name}{{source=\"{}\"}} {}",
                    prometheus_label(&s.source),
                    value(s)
                );
            }
        }
        out
    }
}

fn json_str(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    write_str(&mut out, text);
    String::from_utf8_lossy(&out).into_owned()
}

fn json_f64(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "null".to_owned()
    }
}

fn prometheus_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The latest status, shared by the sync (which publishes) and the endpoint
/// (which reads).
#[derive(Debug, Default)]
pub struct Board {
    status: Mutex<SyncStatus>,
}

impl Board {
    /// Replaces the status.
    pub fn publish(&self, status: SyncStatus) {
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// A copy of the status.
    pub fn get(&self) -> SyncStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Binds `addr` and serves the board until the runtime stops; returns the
/// address bound (port 0 picks a free one).
///
/// # Errors
/// The address cannot be bound.
pub async fn serve(addr: SocketAddr, board: Arc<Board>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors and such: try again shortly rather
                // than spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let board = board.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &board)).await;
            });
        }
    });
    Ok(bound)
}

/// Reads one request and answers it, then closes the connection.
async fn answer(mut stream: TcpStream, board: &Board) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
        if request.len() > MAX_REQUEST_BYTES {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "too large\n",
            )
            .await;
        }
    }
    let line = request
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(&[]);
    let mut words = line.split(|&b| b == b' ');
    let method = words.next().unwrap_or(&[]);
    let path = words.next().unwrap_or(&[]);
    let path = path.split(|&b| b == b'?').next().unwrap_or(&[]);
    if method != b"GET" && method != b"HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        )
        .await;
    }
    match path {
        b"/status" => {
            let body = board.get().to_json() + "\n";
            respond(&mut stream, "200 OK", "application/json", &body).await
        }
        b"/metrics" => {
            let body = board.get().to_prometheus();
            respond(&mut stream, "200 OK", "text/plain; version=0.0.4", &body).await
        }
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "try GET /status (JSON) or GET /metrics (Prometheus)\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SyncStatus {
        SyncStatus {
            phase: Phase::Incremental,
            uptime_seconds: 12.5,
            target: "127.0.0.1:7001".into(),
            shards: vec![ShardStatus {
                source: "127.0.0.1:\"6379".into(),
                phase: Phase::CaughtUp,
                connected: true,
                replid: "abc".into(),
                source_offset: 100,
                received_offset: 100,
                applied_offset: 90,
                lag_bytes: 10,
                lag_seconds: 0.25,
                ..ShardStatus::default()
            }],
            commands_applied: 7,
            errors: vec!["a \"quoted\"\nerror".into()],
            ..SyncStatus::default()
        }
    }

    #[test]
    fn json_is_an_object_with_the_fields() {
        let json = sample().to_json();
        assert!(json.starts_with("{\"phase\":\"incremental\""), "{json}");
        assert!(json.contains("\"applied_offset\":90"), "{json}");
        assert!(json.contains("\"lag_seconds\":0.250"), "{json}");
        assert!(json.contains("\"commands_applied\":7"), "{json}");
        assert!(json.contains("\\\"quoted\\\"\\n"), "{json}");
        assert!(json.contains("\"source\":\"127.0.0.1:\\\"6379\""), "{json}");
        assert!(json.ends_with("]}"), "{json}");
    }

    #[test]
    fn prometheus_has_help_type_and_labels() {
        let text = sample().to_prometheus();
        assert!(
            text.contains("ferry_phase{phase=\"incremental\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ferry_phase{phase=\"caught-up\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ferry_commands_applied_total counter"),
            "{text}"
        );
        assert!(text.contains("ferry_commands_applied_total 7"), "{text}");
        assert!(
            text.contains("ferry_applied_offset{source=\"127.0.0.1:\\\"6379\"} 90"),
            "{text}"
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(line.rsplit(' ').count(), 2, "{line}");
        }
    }
}
