//! The `ferry` command-line tool, as a library so its pieces can be tested.
//!
//! `ferry dump FILE` prints an RDB file's contents (read with [`ferry_rdb`]) as
//! JSON lines, as the Redis commands that rebuild them, or as a key list; see
//! [`output`] for the formats and [`run::dump`] for the command.
//! `ferry restore FILE --target URL` loads the file into a running standalone
//! Redis, Redis Cluster or proxy through [`ferry_sink`] ([`run::restore`],
//! target URLs in [`target`]).
//!
//! What it does **not** do (yet): online migration (`sync`), `check`,
//! `verify`.
//!
//! ```
//! use ferry_cli::glob::matches;
//!
//! assert!(matches(b"user:[0-9]*", b"user:42:name"));
//! assert!(!matches(b"user:[0-9]*", b"user:x"));
//! ```
#![forbid(unsafe_code)]

pub mod args;
pub mod error;
pub mod glob;
pub mod output;
pub mod run;
pub mod target;
