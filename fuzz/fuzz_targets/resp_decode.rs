//! Fuzz target `resp_decode`: see `ferry_fuzz::resp_checks::resp_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_fuzz::resp_checks::resp_decode(data);
});
