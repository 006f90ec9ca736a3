//! Integration tests of `ferry` (one test binary): pure pieces (glob, JSON,
//! RESP, key quoting), output writers fed synthetic items, the built binary on
//! the RDB corpus, and round trips through real `redis-server`s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check;
mod cli;
mod corpus;
mod glob;
mod json;
mod keys;
mod resp;
mod restore;
mod roundtrip;
mod spill;
mod support;
mod sync;
mod sync_resume;
mod sync_support;
mod sync_topologies;
mod verify;
mod versions;
mod writers;
