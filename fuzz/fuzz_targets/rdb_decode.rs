//! Fuzz target `rdb_decode`: see `ferry_fuzz::checks::rdb_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_fuzz::checks::rdb_decode(data);
});
