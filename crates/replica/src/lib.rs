//! Acts as a Redis replica: the handshake (`PING`, `AUTH`, `REPLCONF`),
//! `PSYNC` (or `SYNC` on masters without it), the snapshot in both forms
//! (`$<len>` and diskless `$EOF:<mark>`, keep-alive newlines before it) and
//! then the command stream, with the replication offset tracked byte for
//! byte. `REPLCONF GETACK` is answered by the session itself, and the
//! snapshot is acknowledged once received (a master streams commands to a
//! replica that got a diskless snapshot only after that first ACK).
//!
//! - [`Session`] is the protocol without I/O: fed the master's bytes, it
//!   returns [`Event`]s and says what to send ([`Session::poll_transmit`]).
//!   The snapshot is handed out in pieces as it arrives (an RDB file, to be
//!   fed to `ferry-rdb`), never held whole.
//! - [`Replica`] (feature `tokio`, on by default) drives a session over TCP.
//! - [`spool()`] (feature `tokio`) queues the events of one or more sources
//!   for an applier that may be slower: in memory up to a budget, then in a
//!   local file up to a budget, in push order. The sources are read at
//!   network speed, so a master does not drop them for a full output
//!   buffer while the target lags.
//!
//! What it does **not** do (yet): apply anything, reconnect by itself, TLS.
//! Nor does it send ACKs on a timer: the caller must acknowledge what it
//! applied about every second ([`Replica::ack`]), as Redis's replicas do,
//! also when nothing arrives. A master may hold the command stream back
//! until an ACK comes after it has seen a diskless transfer end.
//!
//! ```
//! use bytes::BytesMut;
//! use ferry_replica::{Config, Event, Session};
//!
//! let mut session = Session::new(Config::default());
//! assert_eq!(&session.poll_transmit().unwrap()[..], b"*1\r\n$4\r\nPING\r\n");
//! let mut from_master = BytesMut::from(&b"+PONG\r\n+OK\r\n+OK\r\n"[..]);
//! from_master.extend_from_slice(b"+FULLRESYNC 8f1c0c5a2d7e4b9aa6b3c1d2e3f4a5b6c7d8e9f0 100\r\n");
//! assert_eq!(
//!     session.handle_input(&mut from_master)?,
//!     Some(Event::FullResync { replid: "8f1c0c5a2d7e4b9aa6b3c1d2e3f4a5b6c7d8e9f0".into(), offset: 100 })
//! );
//! from_master.extend_from_slice(b"\n\n$3\r\nRDB*1\r\n$4\r\nPING\r\n");
//! assert_eq!(session.handle_input(&mut from_master)?, Some(Event::SnapshotStart { len: Some(3) }));
//! assert!(matches!(session.handle_input(&mut from_master)?, Some(Event::Snapshot(b)) if &b[..] == b"RDB"));
//! assert_eq!(session.handle_input(&mut from_master)?, Some(Event::SnapshotEnd));
//! // The snapshot is acknowledged at its offset.
//! assert!(session.poll_transmit().is_some_and(|b| b.ends_with(b"ACK\r\n$3\r\n100\r\n")));
//! match session.handle_input(&mut from_master)? {
//!     Some(Event::Command { command, offset }) => {
//!         assert!(command.is("ping"));
//!         assert_eq!(offset, 114);
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), ferry_replica::Error>(())
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "tokio")]
mod driver;
mod error;
mod session;
#[cfg(feature = "tokio")]
mod spool;

#[cfg(feature = "tokio")]
pub use driver::Replica;
pub use error::{Error, Step};
pub use session::{Config, Event, Session};
#[cfg(feature = "tokio")]
pub use spool::{SpoolConfig, SpoolError, SpoolReader, SpoolStats, SpoolWriter, spool};
