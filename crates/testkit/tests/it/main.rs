//! ferry-testkit integration tests: against the real `redis-server` on `PATH`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dataset;
mod server;
