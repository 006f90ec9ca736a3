//! Streaming, sans-IO decoder for the RDB files of every Redis and Valkey version.
//!
//! `ferry-rdb` reads the RDB format — backup files, `redis-cli --rdb` output, and
//! the snapshot a master streams to a replica — from RDB version 1 (Redis 2.x) to
//! 12 (Redis 7.4 and later), plus Valkey's `VALKEY080`. It emits element-level
//! [`Item`]s: a key header, then one item per list element, hash field, set
//! member, sorted-set entry or stream entry, and long strings in bounded chunks,
//! so memory stays bounded however large one key is.
//!
//! What it does **not** do: no I/O of its own in the core ([`Decoder`] is fed
//! bytes; [`Reader`] is a thin sync wrapper over [`std::io::Read`]), no async
//! runtime, no interpretation of module values beyond their framing, and no
//! writing of whole RDB files. It builds DUMP payloads for `RESTORE` ([`dump`]).
//!
//! ```
//! use ferry_rdb::{Item, Reader};
//!
//! // An empty RDB 9 file: header, EOF opcode, CRC64 trailer.
//! let mut file = b"REDIS0009\xff".to_vec();
//! file.extend_from_slice(&ferry_rdb::crc64(&file).to_le_bytes());
//!
//! let mut keys = 0;
//! for item in Reader::new(&file[..]) {
//!     match item? {
//!         Item::Key(header) => { keys += 1; println!("{:?}", header.key) }
//!         Item::End { checksum } => assert!(checksum.is_some()),
//!         _ => {}
//!     }
//! }
//! assert_eq!(keys, 0);
//! # Ok::<(), ferry_rdb::ReadError>(())
//! ```
#![forbid(unsafe_code)]

mod cursor;
mod decoder;
pub mod dump;
mod encodings;
mod error;
mod item;
pub mod lzf;
pub mod module;
mod reader;

pub use decoder::{Config, Decoder};
pub use error::{Error, ErrorKind, ReadError};
pub use item::{
    Encoding, Function, Header, Item, KeyHeader, Kind, Magic, ModuleAux, ModuleType, PreGaFunction,
    StreamConsumer, StreamEntry, StreamGroup, StreamId, StreamMeta, StreamNack,
};
pub use reader::Reader;

/// The highest `REDIS` RDB version this crate reads.
pub const MAX_REDIS_VERSION: u32 = 12;
/// The highest `VALKEY` RDB version this crate reads.
pub const MAX_VALKEY_VERSION: u32 = 80;

/// CRC-64 as Redis computes it (Jones polynomial, reflected; CRC-64/REDIS).
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, data)
}
