//! Fuzz target `resp_roundtrip`: see `ferry_fuzz::resp_checks::resp_roundtrip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferry_fuzz::resp_checks::resp_roundtrip(data);
});
