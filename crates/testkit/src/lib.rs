//! Test support for Ferry: real `redis-server` processes on free loopback ports,
//! a minimal RESP2 client, and a varied dataset to fill them with.
//!
//! - [`RedisServer`] spawns a server on `127.0.0.1:<free port>` in its own temp
//!   dir and waits until it answers PING; dropping it kills the process, waits
//!   for it and removes the dir.
//! - [`Client`] / [`Reply`] speak RESP2 synchronously, one command at a time or pipelined.
//! - [`dataset`] fills a server with every type and encoding and reads a
//!   server back into plain Rust values for comparisons.
//!
//! What it does **not** do: no async, no RESP3, no TLS, no addresses outside
//! loopback, and no installing of Redis: the binaries come from `PATH`
//! (`apt-get install redis-server redis-tools`) or `$FERRY_REDIS_SERVER` /
//! `$FERRY_REDIS_CLI`. It is a dev-dependency only.
//!
//! ```no_run
//! use ferry_testkit::{Reply, RedisServer};
//!
//! let server = RedisServer::start()?;
//! server.cmd(&["SET", "greeting", "hello"])?;
//! let mut client = server.connect()?;
//! assert_eq!(client.cmd(&["GET", "greeting"])?, Reply::Bulk(Some(b"hello".to_vec())));
//! let rdb = server.save_rdb()?;
//! assert!(rdb.starts_with(server.dir()));
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]

mod client;
pub mod dataset;
mod server;

pub use client::{Client, DEFAULT_IO_TIMEOUT, Reply};
pub use server::{
    LOG_FILE_NAME, RedisServer, START_TIMEOUT, redis_cli, redis_server, server_version,
};
