//! Fuzz targets for `ferry-rdb` (run with `cargo +nightly fuzz run <target>`,
//! see `fuzz/README.md`). The checks live in [`checks`] so the `ferry-rdb`
//! test suite can replay the seed corpora through them on stable Rust.
#![forbid(unsafe_code)]

pub mod checks;
