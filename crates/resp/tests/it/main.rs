//! ferry-resp integration tests: one binary, one module per area.

mod codec;
mod command;
mod differential;
mod fuzz_seeds;
mod live;
mod raw_command;
mod spec;
mod split;
mod strict;
