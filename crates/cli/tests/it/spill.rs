//! Keys too big for memory: the temporary-file path (`--spill-bytes`, hidden)
//! writes byte for byte what the in-memory path writes, leaves nothing behind,
//! prints only complete lines when the input is cut, and keeps memory bounded.

use crate::support::{
    assert_ok, bytes_of, code, dump, ferry, json_lines, rdb_files, spawn, stderr, temp_dir,
};
use ferry_cli::output::pending::PendingEntries;
use ferry_cli::output::spool::{DEFAULT_SPILL_BYTES, Spool};
use ferry_cli::output::{JsonlOutput, RespOutput};
use ferry_cli::run::dump::{Filter, copy};
use ferry_rdb::{Reader, StreamId, StreamNack};
use std::collections::HashMap;
use std::path::Path;

/// The start of an RDB 9 file: header and `SELECTDB 0`.
const RDB_HEAD: &[u8] = b"REDIS0009\xfe\x00";
/// The end of an RDB file: `EOF` and a zero checksum (not checked).
const RDB_TAIL: &[u8] = b"\xff\0\0\0\0\0\0\0\0";

/// Appends a plain string key, lengths in their 32-bit form.
fn put_string_key(rdb: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    rdb.push(0);
    for s in [key, value] {
        rdb.push(0x80);
        rdb.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
        rdb.extend_from_slice(s);
    }
}

/// An RDB file of string keys in db 0.
fn rdb_of_strings(keys: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut rdb = RDB_HEAD.to_vec();
    for (key, value) in keys {
        put_string_key(&mut rdb, key.as_bytes(), value);
    }
    rdb.extend_from_slice(RDB_TAIL);
    rdb
}

/// About `len` bytes of UTF-8 text with escapes and characters of 2, 3 and 4
/// bytes; its 14-byte period makes the decoder's 64 KiB chunks split
/// characters at every possible place.
fn text(len: usize) -> Vec<u8> {
    let unit = "a€😀\"\\\n\u{1}é";
    assert_eq!(unit.len(), 14);
    unit.repeat(len / unit.len() + 1).into_bytes()
}

/// Strings of 1.3 MB, a few times the decoder's chunk, UTF-8 or not in
/// different ways, after a small key.
fn big_strings() -> Vec<(&'static str, Vec<u8>)> {
    let valid = text(1_300_000);
    let mut late_bad = valid.clone();
    late_bad.push(0xff);
    let mut early_bad = vec![0xc3];
    early_bad.extend_from_slice(&valid);
    let mut cut_char = valid.clone();
    cut_char.extend_from_slice(&"😀".as_bytes()[..3]);
    // A 4-byte character across the first chunk boundary, 2 bytes each side.
    let mut straddle = vec![b'x'; 65534];
    straddle.extend_from_slice("😀".as_bytes());
    straddle.extend_from_slice(&valid[..100_000]);
    let binary: Vec<u8> = (0..1_300_000u64).map(|i| (i * 7919 % 251) as u8).collect();
    vec![
        ("small", b"v".to_vec()),
        ("valid", valid),
        ("late-bad", late_bad),
        ("early-bad", early_bad),
        ("cut-char", cut_char),
        ("straddle", straddle),
        ("binary", binary),
    ]
}

/// `ferry dump FILE --format jsonl|resp` in this process, with a spill limit:
/// the output and how the run ended.
fn dump_in_process(file: &Path, resp: bool, spill_bytes: usize) -> (Vec<u8>, String) {
    let reader = Reader::new(std::fs::File::open(file).unwrap());
    let mut out = Vec::new();
    let input = file.display().to_string();
    let filter = Filter::default();
    let result = if resp {
        let mut output = RespOutput::with_spill_bytes(&mut out, 1_700_000_000_000, spill_bytes);
        copy(reader, &input, &filter, true, &mut output)
    } else {
        let mut output = JsonlOutput::with_spill_bytes(&mut out, spill_bytes);
        copy(reader, &input, &filter, true, &mut output)
    };
    let ended = match result {
        Ok(summary) => format!("{summary:?}"),
        Err(e) => e.to_string(),
    };
    (out, ended)
}

#[test]
fn spilling_every_key_changes_no_byte_of_any_corpus_file() {
    let files = rdb_files(&crate::support::testdata());
    assert!(files.len() > 200, "{} files", files.len());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for first in 0..threads {
            let files = &files;
            scope.spawn(move || {
                for file in files.iter().skip(first).step_by(threads) {
                    for resp in [false, true] {
                        let memory = dump_in_process(file, resp, DEFAULT_SPILL_BYTES);
                        let spilled = dump_in_process(file, resp, 0);
                        let shown = format!("{} (resp: {resp})", file.display());
                        assert_eq!(spilled.1, memory.1, "{shown}");
                        assert!(spilled.0 == memory.0, "{shown}: output differs");
                    }
                }
            });
        }
    });
}

#[test]
fn spilled_big_strings_are_byte_identical_and_keep_utf8_or_base64() {
    let keys = big_strings();
    let dir = temp_dir("spill-strings");
    let path = dir.join("big.rdb");
    std::fs::write(&path, rdb_of_strings(&keys)).unwrap();
    let memory = dump(&path, &[]);
    assert_ok(&memory);
    let lines = json_lines(&memory.stdout);
    assert_eq!(lines.len(), keys.len());
    for (line, (key, value)) in lines.iter().zip(&keys) {
        assert_eq!(line["key"], *key);
        let is_text = line["value"].is_string();
        assert_eq!(is_text, std::str::from_utf8(value).is_ok(), "{key}");
        assert!(bytes_of(&line["value"]) == *value, "{key}: value differs");
    }
    for limit in ["0", "1", "100003", "1000000"] {
        let spilled = dump(&path, &["--spill-bytes", limit]);
        assert_ok(&spilled);
        assert!(spilled.stdout == memory.stdout, "limit {limit}: differs");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_spill_path_writes_to_the_temporary_directory_and_leaves_nothing() {
    let dir = temp_dir("spill-tmpdir");
    let path = dir.join("big.rdb");
    std::fs::write(&path, rdb_of_strings(&big_strings())).unwrap();
    let run = |tmp: &Path, extra: &[&str]| {
        ferry()
            .args(["dump", path.to_str().unwrap()])
            .args(extra)
            .env("TMPDIR", tmp)
            .output()
            .unwrap()
    };
    let memory = run(&dir.join("missing"), &[]);
    assert_ok(&memory);
    for format in ["jsonl", "resp"] {
        let out = run(&dir.join("missing"), &["-f", format, "--spill-bytes", "0"]);
        if format == "resp" {
            // Strings go out as SET and APPEND: nothing to spill.
            assert_ok(&out);
            continue;
        }
        assert_eq!(code(&out), 1);
        let err = stderr(&out);
        assert!(
            err.starts_with("ferry: error: cannot write the output: temporary file in ")
                && err.contains("missing"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let spilled = run(&tmp, &["--spill-bytes", "1000"]);
    assert_ok(&spilled);
    assert!(spilled.stdout == memory.stdout);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn input_cut_inside_a_spilled_key_leaves_only_the_complete_lines_before_it() {
    let keys = big_strings();
    let rdb = rdb_of_strings(&keys);
    let dir = temp_dir("spill-truncated");
    let path = dir.join("big.rdb");
    std::fs::write(&path, &rdb).unwrap();
    let full = dump(&path, &[]);
    assert_ok(&full);
    let mut line_ends = vec![0];
    line_ends.extend(
        (0..full.stdout.len())
            .filter(|&i| full.stdout[i] == b'\n')
            .map(|i| i + 1),
    );
    let mut value_end = RDB_HEAD.len();
    for (i, (key, value)) in keys.iter().enumerate() {
        let mut k = Vec::new();
        put_string_key(&mut k, key.as_bytes(), value);
        value_end += k.len();
        for cut in [value_end - value.len().div_ceil(2), value_end - 1] {
            std::fs::write(&path, &rdb[..cut]).unwrap();
            for limit in ["0", "100003", "8388608"] {
                let out = dump(&path, &["--spill-bytes", limit]);
                assert_eq!(code(&out), 1, "cut {cut}");
                assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));
                assert!(
                    out.stdout == full.stdout[..line_ends[i]],
                    "cut {cut} in key {key}, limit {limit}: {} bytes printed",
                    out.stdout.len()
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn spool_keeps_data_in_memory_up_to_the_limit_then_in_a_file() {
    let mut spool = Spool::new(10);
    spool.buf().extend_from_slice(b"0123456789");
    spool.relieve().unwrap();
    assert!(!spool.is_spilled());
    spool.buf().extend_from_slice(b"a");
    spool.relieve().unwrap();
    assert!(spool.is_spilled());
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    spool.buf().extend_from_slice(&big);
    spool.relieve().unwrap();
    spool.buf().extend_from_slice(b"end");
    let mut got = Vec::new();
    spool
        .drain(|piece| {
            got.extend_from_slice(piece);
            Ok(())
        })
        .unwrap();
    let mut want = b"0123456789a".to_vec();
    want.extend_from_slice(&big);
    want.extend_from_slice(b"end");
    assert!(got == want);
    assert!(!spool.is_spilled());
    spool
        .drain(|piece| panic!("drained twice: {} bytes", piece.len()))
        .unwrap();
}

#[test]
fn pending_entries_in_a_file_answer_like_a_hash_map() {
    // A list in id order, then some out of order and repeated, claimed in a
    // scattered order, some twice, some never listed.
    let nack = |ms: u64, time: u64| StreamNack {
        id: StreamId { ms, seq: ms % 3 },
        delivery_time_ms: time,
        delivery_count: ms,
    };
    let mut nacks: Vec<StreamNack> = (0..20_000).map(|ms| nack(ms * 2, 1)).collect();
    nacks.extend([nack(7, 2), nack(4, 2), nack(40_001, 2), nack(7, 3)]);
    let mut claims: Vec<u64> = (0..45_000).map(|i| i * 7919 % 45_000).collect();
    claims.extend([4, 7, 7, 40_001, 39_998]);
    for limit in [0, 64, 6400, 1 << 20, usize::MAX] {
        let mut pel = PendingEntries::new(limit);
        let mut model = HashMap::new();
        for n in &nacks {
            pel.insert(*n).unwrap();
            model.insert(n.id, (n.delivery_time_ms, n.delivery_count));
        }
        assert_eq!(pel.is_spilled(), limit < 20_000 * 64, "limit {limit}");
        for &ms in &claims {
            let id = StreamId { ms, seq: ms % 3 };
            assert_eq!(
                pel.claim(id).unwrap(),
                model.remove(&id),
                "limit {limit}, id {id}"
            );
        }
        pel.clear();
        assert!(!pel.is_spilled());
        assert_eq!(pel.claim(StreamId { ms: 2, seq: 2 }).unwrap(), None);
    }
}

/// Peak resident memory of a running process, from `/proc`.
#[cfg(target_os = "linux")]
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .parse::<u64>()
        .unwrap();
    kb * 1024
}

#[cfg(target_os = "linux")]
#[test]
fn a_string_of_64_mib_is_written_in_bounded_memory() {
    use std::io::{Read, Write};

    let value = text(64 << 20);
    let mut line = br#"{"db":0,"key":"huge","type":"string","expire_at_ms":null,"value":"#.to_vec();
    ferry_cli::output::json::write_bytes(&mut line, &value);
    line.extend_from_slice(b"}\n");
    let mut rdb = RDB_HEAD.to_vec();
    put_string_key(&mut rdb, b"huge", &value);
    drop(value);

    // The file comes on stdin, its end held back: once the key's line is out
    // (all but the last output buffer), the process waits for it.
    let mut child = spawn(&["dump", "-"]);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&rdb).map(|()| stdin));
    let mut stdout = child.stdout.take().unwrap();
    let mut got = vec![0; line.len() - 256 * 1024];
    stdout.read_exact(&mut got).unwrap();
    let peak = peak_rss_bytes(child.id());
    let mut stdin = feeder.join().unwrap().unwrap();
    stdin.write_all(RDB_TAIL).unwrap();
    drop(stdin);
    stdout.read_to_end(&mut got).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out);
    assert!(got == line, "output differs");
    // Holding the value and its line would take over 130 MiB; the rest is
    // the debug binary's own pages, which grow with the code.
    assert!(peak < 40 << 20, "peak RSS {} MiB", peak >> 20);
}
