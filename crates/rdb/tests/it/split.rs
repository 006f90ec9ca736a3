//! Chunk-split tests: every input decodes to the same items whether it is fed
//! whole, byte by byte or split at random points; truncations and corruptions
//! give errors, never panics or hangs; the fuzz seed corpora pass the fuzz
//! targets' checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::writer::{self, Rng, first_difference, same_item};
use bytes::BytesMut;
use ferry_rdb::{Config, Decoder, Error, ErrorKind, Item};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The fuzz targets' checks, shared so seeds and crash files become ordinary tests.
#[path = "../../../../fuzz/src/checks.rs"]
mod fuzz_checks;

/// Everything a decoder run produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Items in order.
    pub(crate) items: Vec<Item>,
    /// The first error from `decode`, else `finish()`'s result.
    pub(crate) result: Result<(), Error>,
    /// Bytes left in the buffer at the end.
    pub(crate) leftover: usize,
}

impl Outcome {
    /// Describes how two outcomes differ, if they do.
    pub(crate) fn difference(&self, other: &Outcome) -> Option<String> {
        if let Some(d) = first_difference(&self.items, &other.items) {
            return Some(d);
        }
        if self.result != other.result {
            return Some(format!(
                "results differ: {:?} vs {:?}",
                self.result, other.result
            ));
        }
        // After an error the buffer holds whatever had been fed; compare only complete runs.
        if self.result.is_ok() && self.leftover != other.leftover {
            return Some(format!(
                "leftover differs: {} vs {}",
                self.leftover, other.leftover
            ));
        }
        None
    }
}

/// Feeds `input` in pieces of the lengths `next_len` returns, decoding after each.
pub(crate) fn decode_split(
    input: &[u8],
    config: &Config,
    mut next_len: impl FnMut() -> usize,
) -> Outcome {
    let mut decoder = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let limit = input.len() * 8 + 1000;
    let mut at = 0;
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => {
                    items.push(item);
                    assert!(
                        items.len() <= limit,
                        "more than {limit} items from {} bytes",
                        input.len()
                    );
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        items,
                        result: Err(e),
                        leftover: buf.len(),
                    };
                }
            }
        }
        if at >= input.len() {
            break;
        }
        let n = next_len().clamp(1, input.len() - at);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
    }
    Outcome {
        items,
        result: decoder.finish(),
        leftover: buf.len(),
    }
}

/// Feeds the input in one piece.
pub(crate) fn decode_whole(input: &[u8], config: &Config) -> Outcome {
    decode_split(input, config, || usize::MAX)
}

/// Feeds the input one byte at a time.
pub(crate) fn decode_bytewise(input: &[u8], config: &Config) -> Outcome {
    decode_split(input, config, || 1)
}

/// Feeds the input in random pieces of up to `max` bytes.
pub(crate) fn decode_random(input: &[u8], config: &Config, seed: u64, max: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    decode_split(input, config, move || rng.range(1, max) as usize)
}

/// The configurations every input is decoded with.
fn configs() -> Vec<(&'static str, Config)> {
    vec![
        ("default", Config::default()),
        (
            "raw, 7-byte chunks",
            Config {
                raw: true,
                chunk_len: 7,
                ..Config::default()
            },
        ),
        (
            "skip_values",
            Config {
                skip_values: true,
                ..Config::default()
            },
        ),
    ]
}

/// Asserts that whole, byte-by-byte and random-split feeding agree.
fn assert_split_invariant(name: &str, input: &[u8], bytewise: bool) {
    for (cname, config) in configs() {
        let whole = decode_whole(input, &config);
        if bytewise {
            let one = decode_bytewise(input, &config);
            if let Some(d) = whole.difference(&one) {
                panic!("{name} ({cname}): whole vs byte by byte: {d}");
            }
        }
        for (seed, max) in [(1u64, 3u64), (2, 64), (3, 4096)] {
            let split = decode_random(input, &config, seed, max);
            if let Some(d) = whole.difference(&split) {
                panic!("{name} ({cname}): whole vs random split (seed {seed}, max {max}): {d}");
            }
        }
    }
}

/// Feeds exactly what [`Decoder::needed`] asks for each time, first checking
/// that one byte less makes no progress (the hint is a lower bound).
fn decode_by_hint(name: &str, input: &[u8], config: &Config) -> Outcome {
    let mut decoder = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut at = 0;
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        items,
                        result: Err(e),
                        leftover: buf.len(),
                    };
                }
            }
        }
        if at >= input.len() {
            break;
        }
        let need = decoder.needed();
        if decoder.is_done() {
            buf.extend_from_slice(&input[at..]);
            at = input.len();
            continue;
        }
        assert!(
            need >= 1,
            "{name}: Ok(None) with needed() == 0 at offset {at}"
        );
        if need > 1 && at + need - 1 <= input.len() {
            buf.extend_from_slice(&input[at..at + need - 1]);
            at += need - 1;
            let before = decoder.offset();
            match decoder.decode(&mut buf) {
                Ok(None) => assert_eq!(
                    decoder.offset(),
                    before,
                    "{name}: progress with fewer bytes than needed() at {at}"
                ),
                other => panic!(
                    "{name}: needed() was {need} but {} bytes gave {other:?}",
                    need - 1
                ),
            }
            continue;
        }
        let n = need.clamp(1, input.len() - at);
        buf.extend_from_slice(&input[at..at + n]);
        at += n;
    }
    Outcome {
        items,
        result: decoder.finish(),
        leftover: buf.len(),
    }
}

#[test]
fn needed_is_a_lower_bound_and_feeding_it_decodes_the_same() {
    let mut inputs: Vec<(String, Vec<u8>)> = writer_samples(24)
        .into_iter()
        .enumerate()
        .map(|(i, w)| (format!("writer sample {i}"), w.bytes))
        .collect();
    inputs.extend(corpus_inputs());
    for (name, data) in &inputs {
        for (cname, config) in configs() {
            let whole = decode_whole(data, &config);
            let hinted = decode_by_hint(name, data, &config);
            if let Some(d) = whole.difference(&hinted) {
                panic!("{name} ({cname}): whole vs fed by needed(): {d}");
            }
        }
    }
}

/// Where the shared RDB test corpus is.
pub(crate) fn testdata_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FERRY_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rdb"),
    };
    dir.is_dir().then_some(dir)
}

/// Writer-generated datasets from a deterministic proptest runner.
pub(crate) fn writer_samples(count: usize) -> Vec<writer::Written> {
    let mut runner = TestRunner::deterministic();
    let strategy = crate::roundtrip::dataset();
    (0..count)
        .map(|_| {
            let ds = strategy.new_tree(&mut runner).unwrap().current();
            writer::write(&ds)
        })
        .collect()
}

/// The corpus files split tests run on: all of `generated/` and a handful of others.
fn corpus_inputs() -> Vec<(String, Vec<u8>)> {
    let Some(dir) = testdata_dir() else {
        eprintln!("RDB test corpus not found; set FERRY_TESTDATA");
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("generated"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rdb"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    for name in [
        "hdt3213-rdb/hash_as_listpack_with_hfe.rdb",
        "hdt3213-rdb/hash_with_hfe.rdb",
        "hdt3213-rdb/valkey_hash2_with_hfe.rdb",
        "hdt3213-rdb/ziplist_with_integers.rdb",
        "hdt3213-rdb/zipmap_big_len.rdb",
        "hdt3213-rdb/intset_64.rdb",
        "hdt3213-rdb/stream_listoacks_3.rdb",
        "hdt3213-rdb/function.rdb",
        "librdb/cluster_slot_info.rdb",
        "librdb/module.rdb",
        "librdb/hash_lp_with_hexpire_v12.rdb",
        "librdb/invalid_chksum_v8.rdb",
        "librdb/mem_policy_lfu.rdb",
        "dragonfly/redis_json.rdb",
        "redis-replicator/dump-module-2.rdb",
        "redis-replicator/function.rdb",
        "rdbtools/linkedlist.rdb",
        "redis/encodings.rdb",
    ] {
        let p = dir.join(name);
        if p.is_file() {
            paths.push(p);
        }
    }
    paths
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(&dir).unwrap_or(&p).display().to_string();
            let data = std::fs::read(&p).unwrap();
            (name, data)
        })
        .collect()
}

#[test]
fn writer_files_decode_the_same_whole_bytewise_and_split() {
    for (i, w) in writer_samples(24).iter().enumerate() {
        assert_split_invariant(&format!("writer sample {i}"), &w.bytes, true);
    }
}

#[test]
fn corpus_files_decode_the_same_whole_bytewise_and_split() {
    for (name, data) in corpus_inputs() {
        // Byte by byte for all; it is O(n) per file.
        assert_split_invariant(&name, &data, true);
    }
}

fn assert_every_prefix_truncated(name: &str, input: &[u8]) {
    let config = Config::default();
    let full = decode_whole(input, &config);
    assert!(full.result.is_ok(), "{name}: {:?}", full.result);
    for len in 0..input.len() {
        let out = decode_whole(&input[..len], &config);
        match &out.result {
            Err(e) if matches!(e.kind(), ErrorKind::Truncated { .. }) => {}
            other => panic!("{name}: prefix of {len} bytes: want Truncated, got {other:?}"),
        }
        // What was emitted is a prefix of the full decode.
        for (i, item) in out.items.iter().enumerate() {
            if !matches!(
                item,
                Item::StringChunk(_) | Item::Raw(_) | Item::ModuleChunk(_)
            ) {
                assert!(
                    same_item(item, &full.items[i]),
                    "{name}: prefix of {len} bytes: item {i} is {item:?}, full decode has {:?}",
                    full.items[i]
                );
            }
        }
    }
}

#[test]
fn every_prefix_of_a_small_file_is_truncated() {
    let samples = writer_samples(24);
    let small = samples
        .iter()
        .filter(|w| w.bytes.len() < 3000 && w.expected.len() > 10)
        .take(2);
    for (i, w) in small.enumerate() {
        assert_every_prefix_truncated(&format!("writer sample {i}"), &w.bytes);
    }
    if let Some(dir) = testdata_dir() {
        for name in [
            "hdt3213-rdb/ziplist_with_integers.rdb",
            "hdt3213-rdb/hash_as_listpack_with_hfe.rdb",
            "dragonfly/redis_json.rdb",
        ] {
            if let Ok(data) = std::fs::read(dir.join(name)) {
                assert_every_prefix_truncated(name, &data);
            }
        }
    }
}

/// Runs `f` on another thread; fails if it does not finish within `limit`,
/// naming the case it was on.
fn with_deadline(limit: Duration, f: impl FnOnce(Arc<AtomicU64>) + Send + 'static) {
    let case = Arc::new(AtomicU64::new(u64::MAX));
    let c = case.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        f(c);
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = handle.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "no result after {limit:?}: hang at case {}",
            case.load(Ordering::SeqCst)
        ),
    }
}

fn corrupt(input: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut data = input.to_vec();
    for _ in 0..rng.range(1, 4) {
        let at = rng.below(data.len() as u64) as usize;
        data[at] = match rng.below(4) {
            0 => data[at] ^ (1 << rng.below(8)),
            1 => 0xff,
            2 => 0,
            _ => rng.next_u64() as u8,
        };
    }
    data
}

/// Decodes `per_input` seeded corruptions of each input: whole and split
/// feeding agree, checksums catch them, and (when `check_offsets`) error
/// offsets point into the input.
fn run_corruptions(per_input: u64, check_offsets: bool) {
    let mut inputs: Vec<Vec<u8>> = writer_samples(24)
        .into_iter()
        .map(|w| w.bytes)
        .filter(|b| b.len() < 20_000)
        .take(8)
        .collect();
    if let Some(dir) = testdata_dir() {
        for name in [
            "hdt3213-rdb/ziplist_with_integers.rdb",
            "hdt3213-rdb/hash_as_listpack_with_hfe.rdb",
            "hdt3213-rdb/stream_listoacks_3.rdb",
            "librdb/module.rdb",
            "dragonfly/redis_json.rdb",
        ] {
            if let Ok(data) = std::fs::read(dir.join(name)) {
                inputs.push(data);
            }
        }
    }
    with_deadline(Duration::from_secs(120), move |case| {
        let lenient = Config {
            verify_checksum: false,
            ..Config::default()
        };
        for (i, input) in inputs.iter().enumerate() {
            let original = decode_whole(input, &Config::default());
            let checked = matches!(
                original.items.last(),
                Some(Item::End { checksum: Some(c) }) if *c != 0
            );
            for seed in 0..per_input {
                case.store((i as u64) << 32 | seed, Ordering::SeqCst);
                let data = corrupt(input, seed);
                let whole = decode_whole(&data, &lenient);
                let split = decode_random(&data, &lenient, seed, 37);
                if let Some(d) = whole.difference(&split) {
                    panic!("input {i}, corruption seed {seed}: whole vs split: {d}");
                }
                if check_offsets && let Err(e) = &whole.result {
                    assert!(
                        e.offset() <= data.len() as u64,
                        "input {i}, corruption seed {seed}: error offset {} past the input ({} bytes): {e}",
                        e.offset(),
                        data.len()
                    );
                }
                let strict = decode_whole(&data, &Config::default());
                if checked && data != *input {
                    assert!(
                        strict.result.is_err() || strict.leftover > 0,
                        "input {i}, corruption seed {seed}: decoded without error with checksums on"
                    );
                }
            }
        }
    });
}

#[test]
fn random_corruptions_give_errors_or_items_never_panics() {
    run_corruptions(150, false);
}

/// Errors inside an LZF-compressed compact blob (ziplist, listpack, intset,
/// zipmap) report the blob's stream offset plus the offset inside the
/// *decompressed* blob, which can point past the end of the input.
#[test]
fn corrupted_inputs_report_offsets_inside_the_input() {
    run_corruptions(150, true);
}

#[test]
fn an_error_in_an_lzf_compressed_ziplist_points_into_the_input() {
    // REDIS0009, list ziplist "k", LZF string (clen 24, len 295): a ziplist
    // with one 280-byte entry and an end byte before its end.
    let hex = "5245444953303030390a016bc318412707270100000a000000200602411861e0ff00e1060701ffffffff5f0fe72c676409";
    let data: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let out = decode_whole(&data, &Config::default());
    let err = out.result.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Corrupt { .. }), "{err:?}");
    assert!(
        err.offset() < data.len() as u64,
        "error at offset {} of a {}-byte input: {err}",
        err.offset(),
        data.len()
    );
}

/// The seed corpora under `fuzz/corpus/<target>/`.
fn fuzz_corpus() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut out = Vec::new();
    let Ok(targets) = std::fs::read_dir(&root) else {
        return out;
    };
    for t in targets.flatten() {
        let target = t.file_name().to_string_lossy().into_owned();
        if let Ok(files) = std::fs::read_dir(t.path()) {
            for f in files.flatten() {
                if f.path().is_file() {
                    out.push((target.clone(), f.path()));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn fuzz_seed_corpora_pass_their_targets_checks() {
    let corpus = fuzz_corpus();
    assert!(
        !corpus.is_empty(),
        "no seeds found under fuzz/corpus/<target>/"
    );
    for (target, path) in corpus {
        let data = std::fs::read(&path).unwrap();
        let known =
            std::panic::catch_unwind(|| fuzz_checks::run(&target, &data)).unwrap_or_else(|p| {
                eprintln!("{target} seed {} failed", path.display());
                std::panic::resume_unwind(p)
            });
        assert!(known, "unknown fuzz target directory {target}");
    }
}

/// Regenerates the writer-made fuzz seeds: `REGEN_FUZZ_SEEDS=1 cargo test -p
/// ferry-rdb --test it -- --ignored regenerate_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand to refresh fuzz/corpus"]
fn regenerate_fuzz_seeds() {
    if std::env::var_os("REGEN_FUZZ_SEEDS").is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let put = |target: &str, name: &str, data: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    // rdb_decode: small writer files.
    let samples = writer_samples(40);
    for (i, w) in samples
        .iter()
        .filter(|w| w.bytes.len() < 8000)
        .take(12)
        .enumerate()
    {
        put("rdb_decode", &format!("writer-{i:02}.rdb"), &w.bytes);
    }
    // rdb_lzf: 4-byte claimed length, then LZF data.
    let mut rng = Rng::new(7);
    let texts: Vec<Vec<u8>> = vec![
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
        b"abcabcabcabcabcabc hello hello hello world world".to_vec(),
        (0..600).map(|i| (i % 7) as u8 + b'a').collect(),
        rng.bytes(100),
        b"x".to_vec(),
    ];
    for (i, t) in texts.iter().enumerate() {
        for (kind, data) in [
            ("c", writer::lzf_compress(t)),
            ("l", writer::lzf_literals(t)),
        ] {
            let mut seed = (t.len() as u32).to_le_bytes().to_vec();
            seed.extend_from_slice(&data);
            put("rdb_lzf", &format!("{kind}{i}"), &seed);
        }
    }
    // rdb_listpack / rdb_ziplist: a flags byte, then a blob.
    let elems: Vec<&[u8]> = vec![
        b"field",
        b"1",
        b"-3",
        b"127",
        b"4095",
        b"-4096",
        b"32767",
        b"8388607",
        b"2147483647",
        b"9223372036854775807",
        b"",
        b"0.5",
    ];
    for (i, sel) in [0u8, 1, 2, 3, 4, 5].iter().enumerate() {
        let mut lp = writer::ListpackBuilder::new();
        let mut zl = writer::ZiplistBuilder::new();
        let n = if i % 2 == 0 { 12 } else { 6 };
        for e in elems.iter().take(n) {
            lp.push(e, None);
            zl.push(e, None);
        }
        let mut s = vec![*sel];
        s.extend_from_slice(&lp.finish());
        put("rdb_listpack", &format!("lp{i}"), &s);
        let mut s = vec![*sel];
        s.extend_from_slice(&zl.finish());
        put("rdb_ziplist", &format!("zl{i}"), &s);
    }
    // Stream listpacks (selectors 6 and 7): a master entry, one same-fields
    // entry, one entry with its own fields, one deleted entry.
    let mut lp = writer::ListpackBuilder::new();
    for e in [
        &b"2"[..],
        b"1",
        b"2",
        b"a",
        b"b",
        b"0", // master: 2 live, 1 deleted, fields a b
        b"2",
        b"0",
        b"0",
        b"x",
        b"y",
        b"5", // same fields
        b"0",
        b"1",
        b"0",
        b"1",
        b"c",
        b"z",
        b"6", // own fields
        b"3",
        b"2",
        b"1",
        b"p",
        b"q",
        b"5", // deleted, same fields
    ] {
        lp.push(e, None);
    }
    let blob = lp.finish();
    for sel in [6u8, 7] {
        let mut s = vec![sel];
        s.extend_from_slice(&blob);
        put("rdb_listpack", &format!("stream{sel}"), &s);
    }
}
