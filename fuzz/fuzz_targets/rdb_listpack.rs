//! Fuzz target `rdb_listpack`: see `ferry_fuzz::checks::rdb_listpack`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_fuzz::checks::rdb_listpack(data);
});
