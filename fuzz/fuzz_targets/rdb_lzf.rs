//! Fuzz target `rdb_lzf`: see `ferry_fuzz::checks::rdb_lzf`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_fuzz::checks::rdb_lzf(data);
});
