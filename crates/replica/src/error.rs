//! Errors, each naming the step of the protocol where it happened.

use std::fmt;

/// A step of the replica's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// `PING`.
    Ping,
    /// `AUTH`.
    Auth,
    /// `REPLCONF listening-port`.
    ListeningPort,
    /// `REPLCONF capa eof capa psync2`.
    Capa,
    /// `PSYNC` (or `SYNC`).
    Psync,
    /// Receiving the snapshot.
    Snapshot,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Ping => "PING",
            Step::Auth => "AUTH",
            Step::ListeningPort => "REPLCONF listening-port",
            Step::Capa => "REPLCONF capa",
            Step::Psync => "PSYNC",
            Step::Snapshot => "the snapshot transfer",
        })
    }
}

/// Why the session stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The master refused a step ("source refused PSYNC: -NOPERM ...").
    #[error("source refused {step}: {reply}")]
    Refused {
        /// The step.
        step: Step,
        /// The master's reply.
        reply: String,
    },
    /// The master's reply to a step does not follow the protocol.
    #[error("source broke the protocol at {step}: {what}")]
    Protocol {
        /// The step.
        step: Step,
        /// What was wrong.
        what: String,
    },
    /// The command stream is not RESP.
    #[error("the command stream at replication offset {offset}: {source}")]
    Stream {
        /// Replication offset of the last byte taken before it.
        offset: u64,
        /// Where and what.
        source: ferry_resp::Error,
    },
    /// The session already failed.
    #[error("the replication session already failed")]
    Failed,
    /// A read, write or connect failed (driver).
    #[error("connection to the source {addr}: {source}")]
    Io {
        /// `host:port`.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Error {
    /// True when connecting again and asking to continue (`PSYNC <replid>
    /// <offset>`) may work: the connection broke, not the protocol.
    pub fn is_resumable(&self) -> bool {
        matches!(self, Error::Io { .. })
    }
}
