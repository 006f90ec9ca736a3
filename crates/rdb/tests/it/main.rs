//! ferry-rdb integration tests: one binary, one module per area.

mod corpus;
mod live;
mod roundtrip;
mod split;
mod writer;
