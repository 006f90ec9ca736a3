//! ferry-sink integration tests: one binary, one module per area.

mod plan;
mod replay;
mod sink;
