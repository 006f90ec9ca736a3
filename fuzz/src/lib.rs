//! Fuzz targets for Ferry's parsers: `ferry-rdb` (`rdb_*`) and `ferry-resp`
//! (`resp_*`). Run them with `cargo fuzz run <target>` (see
//! `fuzz/README.md`). The checks live in [`checks`] (RDB) and
//! [`resp_checks`] (RESP), so each library's test suite can replay the seed
//! corpora through them on stable Rust.
#![forbid(unsafe_code)]

pub mod checks;
pub mod resp_checks;
