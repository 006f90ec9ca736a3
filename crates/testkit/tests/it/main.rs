//! ferry-testkit integration tests: against the real `redis-server` on `PATH`
//! and the servers `scripts/install-servers.sh` installs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster;
mod dataset;
mod relay;
mod server;
mod versions;
