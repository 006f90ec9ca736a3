//! Fuzz target `rdb_listpack`: see `ferry_rdb_fuzz::checks::rdb_listpack`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_rdb_fuzz::checks::rdb_listpack(data);
});
