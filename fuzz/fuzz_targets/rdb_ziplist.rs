//! Fuzz target `rdb_ziplist`: see `ferry_fuzz::checks::rdb_ziplist`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_fuzz::checks::rdb_ziplist(data);
});
