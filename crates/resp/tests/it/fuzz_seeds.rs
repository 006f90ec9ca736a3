//! The `resp_*` fuzz targets' checks, run on stable Rust over every seed
//! under `fuzz/corpus/resp_decode/` and `fuzz/corpus/resp_roundtrip/` (and
//! any crash files cargo-fuzz left in `fuzz/artifacts/resp_*/`), so seeds and
//! crash files are ordinary regression tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// The fuzz targets' checks, shared with the fuzz crate.
#[path = "../../../../fuzz/src/resp_checks.rs"]
mod resp_checks;

/// The `fuzz/` folder of the repository.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files directly in `dir`, sorted; none when it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Runs `check` on every file in `files`, naming the file that fails.
fn replay(files: &[PathBuf], check: fn(&[u8])) {
    for path in files {
        let data = std::fs::read(path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            eprintln!("{} failed its check", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn resp_decode_seeds_pass_the_decode_check() {
    let seeds = files_in(&fuzz_dir().join("corpus/resp_decode"));
    assert!(
        seeds.len() >= 20,
        "too few seeds in fuzz/corpus/resp_decode"
    );
    replay(&seeds, resp_checks::resp_decode);
}

#[test]
fn resp_roundtrip_seeds_pass_the_roundtrip_check() {
    let seeds = files_in(&fuzz_dir().join("corpus/resp_roundtrip"));
    assert!(
        seeds.len() >= 10,
        "too few seeds in fuzz/corpus/resp_roundtrip"
    );
    replay(&seeds, resp_checks::resp_roundtrip);
}

#[test]
fn every_seed_passes_both_checks() {
    for target in ["resp_decode", "resp_roundtrip"] {
        let seeds = files_in(&fuzz_dir().join("corpus").join(target));
        replay(&seeds, resp_checks::resp_decode);
        replay(&seeds, resp_checks::resp_roundtrip);
    }
}

#[test]
fn fuzz_crash_files_pass_both_checks() {
    for target in ["resp_decode", "resp_roundtrip"] {
        let crashes = files_in(&fuzz_dir().join("artifacts").join(target));
        replay(&crashes, resp_checks::resp_decode);
        replay(&crashes, resp_checks::resp_roundtrip);
    }
}

/// An over-long line whose first line break is a bare LF past the limit must
/// fail the same way fed whole and fed byte by byte (a regression test:
/// whole, the bare LF used to be reported; split, the limit).
#[test]
fn overlong_line_with_a_bare_lf_fails_the_same_whole_and_split() {
    use bytes::BytesMut;
    use ferry_resp::{Config, Decoder};

    for input in [&b"+abcdef\n"[..], b"-abcdef\n", b",123456\n", b"(123456\n"] {
        let config = Config::default().max_line_len(4);
        let whole = Decoder::with_config(config.clone())
            .decode(&mut BytesMut::from(input))
            .unwrap_err();
        let mut decoder = Decoder::with_config(config);
        let mut buf = BytesMut::new();
        let mut split = None;
        for &b in input {
            buf.extend_from_slice(&[b]);
            match decoder.decode(&mut buf) {
                Ok(None) => {}
                Ok(Some(frame)) => panic!("decoded {frame:?} from {input:?}"),
                Err(e) => {
                    split = Some(e);
                    break;
                }
            }
        }
        assert_eq!(Some(whole), split, "{input:?}");
    }
}
