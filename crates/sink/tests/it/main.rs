//! ferry-sink integration tests: one binary, one module per area.

mod barrier;
mod keys;
mod plan;
mod replay;
mod sink;
