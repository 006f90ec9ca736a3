//! The crate's errors, and how server error replies are classified.

use bytes::Bytes;
use ferry_resp::Frame;
use std::io;

/// Something that stops a writer: it can no longer guarantee that what it
/// is given reaches the target.
///
/// Per-key failures (an error reply to one command) do not stop a writer:
/// they are recorded in its [`crate::Report`] with the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// Authentication was refused.
    #[error("{addr} refused the credentials: {message}")]
    Auth {
        /// `host:port`.
        addr: String,
        /// The server's reply.
        message: String,
    },
    /// A command needed to set a connection up was refused or answered
    /// unexpectedly.
    #[error("{addr}: {step} failed: {message}")]
    Setup {
        /// `host:port`.
        addr: String,
        /// What was being done (`SELECT 3`, `CLUSTER SHARDS` ...).
        step: String,
        /// The server's reply, or what was wrong with it.
        message: String,
    },
    /// A read or write failed, or the target closed the connection.
    #[error("connection to {addr} lost: {source}")]
    Io {
        /// `host:port`.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The target sent bytes that are not RESP.
    #[error("{addr} sent malformed RESP: {source}")]
    Protocol {
        /// `host:port`.
        addr: String,
        /// Where and what.
        source: ferry_resp::Error,
    },
    /// The target did not answer in time.
    #[error("{addr}: no answer within {seconds} s ({what})")]
    Timeout {
        /// `host:port`.
        addr: String,
        /// What was awaited.
        what: &'static str,
        /// The limit.
        seconds: u64,
    },
    /// The cluster's slot map could not be used.
    #[error("cluster slot map: {0}")]
    SlotMap(String),
    /// A write a target of this kind cannot take (a database other than 0
    /// on a cluster or a proxy).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(addr: &str, source: io::Error) -> Error {
        Error::Io {
            addr: addr.to_owned(),
            source,
        }
    }

    pub(crate) fn setup(addr: &str, step: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Setup {
            addr: addr.to_owned(),
            step: step.into(),
            message: message.into(),
        }
    }
}

/// What an error reply asks the writer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// `MOVED slot host:port`: the slot lives elsewhere now; refresh the map
    /// and send again.
    Moved {
        /// The slot.
        slot: u16,
        /// Its owner.
        addr: String,
    },
    /// `ASK slot host:port`: this key is being migrated; send `ASKING` and
    /// the command once to that node.
    Ask {
        /// The slot.
        slot: u16,
        /// The node importing it.
        addr: String,
    },
    /// `TRYAGAIN`, `LOADING`, `CLUSTERDOWN`, `MASTERDOWN`: wait and send again.
    Retry(String),
    /// `BUSYKEY`: the key exists (RESTORE without REPLACE).
    Busy(String),
    /// Anything else: the command failed.
    Fail(String),
}

impl ReplyError {
    /// Classifies an error reply's text.
    pub fn classify(text: &[u8]) -> ReplyError {
        let text = String::from_utf8_lossy(text).into_owned();
        let mut words = text.split_ascii_whitespace();
        match words.next() {
            Some(kind @ ("MOVED" | "ASK")) => {
                let slot = words.next().and_then(|s| s.parse::<u16>().ok());
                let addr = words.next().map(str::to_owned);
                match (slot, addr) {
                    (Some(slot), Some(addr)) if kind == "MOVED" => ReplyError::Moved { slot, addr },
                    (Some(slot), Some(addr)) => ReplyError::Ask { slot, addr },
                    _ => ReplyError::Fail(text),
                }
            }
            Some("TRYAGAIN" | "LOADING" | "CLUSTERDOWN" | "MASTERDOWN") => ReplyError::Retry(text),
            Some("BUSYKEY") => ReplyError::Busy(text),
            _ => ReplyError::Fail(text),
        }
    }

    /// The error text of a reply frame, if it is an error.
    pub fn of(frame: &Frame) -> Option<ReplyError> {
        match frame {
            Frame::Error(text) | Frame::BulkError(text) => Some(ReplyError::classify(text)),
            _ => None,
        }
    }
}

/// One command the target refused: which key, and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Source database of the key.
    pub db: u64,
    /// The key (`None` for a command without one).
    pub key: Option<Bytes>,
    /// The command's name.
    pub command: String,
    /// The server's error, or why the command's outcome is unknown.
    pub message: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn classifies_redirects_and_retries() {
        assert_eq!(
            ReplyError::classify(b"MOVED 3999 127.0.0.1:6381"),
            ReplyError::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            }
        );
        assert_eq!(
            ReplyError::classify(b"ASK 1 127.0.0.1:7000"),
            ReplyError::Ask {
                slot: 1,
                addr: "127.0.0.1:7000".into()
            }
        );
        assert!(matches!(
            ReplyError::classify(b"MOVED x"),
            ReplyError::Fail(_)
        ));
        assert!(matches!(
            ReplyError::classify(b"TRYAGAIN Multiple keys request during rehashing of slot"),
            ReplyError::Retry(_)
        ));
        assert!(matches!(
            ReplyError::classify(b"LOADING Redis is loading the dataset in memory"),
            ReplyError::Retry(_)
        ));
        assert!(matches!(
            ReplyError::classify(b"BUSYKEY Target key name already exists."),
            ReplyError::Busy(_)
        ));
        assert!(matches!(
            ReplyError::classify(b"ERR bad"),
            ReplyError::Fail(_)
        ));
    }
}
