//! The checks behind the fuzz targets.
//!
//! Each target is a thin `fuzz_target!` around one function here, and the
//! `ferry-rdb` test suite includes this file to replay every file under
//! `fuzz/corpus/<target>/` through the same function, so seeds and crash
//! files are ordinary regression tests. Depends only on `ferry-rdb`, `bytes`
//! and `lzf` (the oracle).

use bytes::BytesMut;
use ferry_rdb::{Config, Decoder, Error, Item};

/// Runs the check of RDB fuzz target `target` on `data` (nothing for a RESP
/// target); `false` for an unknown target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "rdb_decode" => rdb_decode(data),
        "rdb_lzf" => rdb_lzf(data),
        "rdb_listpack" => rdb_listpack(data),
        "rdb_ziplist" => rdb_ziplist(data),
        // RESP targets: their checks are in `resp_checks`, replayed by
        // ferry-resp's test suite (`crates/resp/tests/it/fuzz_seeds.rs`);
        // known here so that ferry-rdb's replay of `fuzz/corpus/` accepts
        // their folders without depending on ferry-resp.
        "resp_decode" | "resp_roundtrip" => {}
        _ => return false,
    }
    true
}

/// What one decoder run produced.
#[derive(Debug)]
struct Run {
    items: Vec<Item>,
    result: Result<(), Error>,
    leftover: usize,
}

/// Decodes `input` fed in two pieces, cut at `split`.
fn decode(input: &[u8], config: &Config, split: usize) -> Run {
    let mut decoder = Decoder::with_config(config.clone());
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let limit = input.len() * 8 + 1000;
    for piece in [&input[..split], &input[split..]] {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => {
                    items.push(item);
                    assert!(items.len() <= limit, "endless items");
                }
                Ok(None) => break,
                Err(e) => {
                    return Run {
                        items,
                        result: Err(e),
                        leftover: buf.len(),
                    };
                }
            }
        }
    }
    Run {
        items,
        result: decoder.finish(),
        leftover: buf.len(),
    }
}

fn assert_same(whole: &Run, split: &Run, at: usize) {
    assert_eq!(
        whole.items.len(),
        split.items.len(),
        "item count differs when split at {at}: whole {whole:?}, split {split:?}"
    );
    for (i, (a, b)) in whole.items.iter().zip(&split.items).enumerate() {
        // Debug text makes NaN scores equal.
        assert!(
            a == b || format!("{a:?}") == format!("{b:?}"),
            "item {i} differs when split at {at}: {a:?} vs {b:?}"
        );
    }
    assert_eq!(
        whole.result, split.result,
        "result differs when split at {at}"
    );
    if whole.result.is_ok() {
        assert_eq!(
            whole.leftover, split.leftover,
            "leftover differs when split at {at}"
        );
    }
}

/// A split point chosen by the input's last two bytes.
fn split_point(data: &[u8]) -> usize {
    let n = data.len();
    if n < 2 {
        return n / 2;
    }
    usize::from(u16::from_le_bytes([data[n - 2], data[n - 1]])) % (n + 1)
}

fn configs() -> [Config; 3] {
    [
        Config::default(),
        Config {
            verify_checksum: false,
            raw: true,
            chunk_len: 16,
            ..Config::default()
        },
        Config {
            verify_checksum: false,
            skip_values: true,
            ..Config::default()
        },
    ]
}

/// Whole and split decoding agree, under several configurations.
fn check_split(data: &[u8], at: usize) {
    for config in configs() {
        let whole = decode(data, &config, data.len());
        if let Err(e) = &whole.result {
            assert!(
                e.offset() <= data.len() as u64,
                "error offset {} past the input ({} bytes): {e}",
                e.offset(),
                data.len()
            );
        }
        let split = decode(data, &config, at);
        assert_same(&whole, &split, at);
        if config.raw && whole.result.is_ok() {
            check_raw(&whole.items);
        }
    }
}

/// In raw mode every key's raw chunks start with its type byte.
fn check_raw(items: &[Item]) {
    let mut raw: Option<Vec<u8>> = None;
    let mut type_byte = 0;
    for item in items {
        match item {
            Item::Key(h) => {
                raw = Some(Vec::new());
                type_byte = h.encoding.type_byte();
            }
            Item::Raw(b) => {
                if let Some(r) = raw.as_mut() {
                    r.extend_from_slice(b);
                }
            }
            Item::KeyEnd => {
                let r = raw.take().unwrap_or_default();
                assert_eq!(
                    r.first(),
                    Some(&type_byte),
                    "raw value without its type byte"
                );
            }
            _ => {}
        }
    }
}

/// `rdb_decode`: arbitrary bytes decode the same whole and split at a point
/// the input chooses (its last two bytes); small inputs also byte by byte.
pub fn rdb_decode(data: &[u8]) {
    check_split(data, split_point(data));
    if data.len() <= 512 {
        let config = Config {
            verify_checksum: false,
            ..Config::default()
        };
        let whole = decode(data, &config, data.len());
        let mut decoder = Decoder::with_config(config);
        let mut buf = BytesMut::new();
        let mut items = Vec::new();
        let mut result = Ok(());
        'feed: for b in data {
            buf.extend_from_slice(&[*b]);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(item)) => items.push(item),
                    Ok(None) => break,
                    Err(e) => {
                        result = Err(e);
                        break 'feed;
                    }
                }
            }
        }
        if result.is_ok() {
            result = decoder.finish();
        }
        let bytewise = Run {
            items,
            result,
            leftover: buf.len(),
        };
        assert_same(&whole, &bytewise, 1);
    }
}

/// `rdb_lzf`: the first 4 bytes claim an output length (kept under 1 MiB),
/// the rest is LZF data. Our decompressor must agree with the `lzf` crate
/// wherever that one produces exactly the claimed length, and streaming in
/// two pieces must agree with decompressing whole.
pub fn rdb_lzf(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let claimed = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize % (1 << 20);
    let input = &data[4..];
    let ours = ferry_rdb::lzf::decompress(input, claimed);
    if let Ok(out) = &ours {
        assert_eq!(out.len(), claimed, "output length differs from the claim");
    }
    if !input.is_empty() {
        match (&ours, lzf::decompress(input, claimed)) {
            (Ok(a), Ok(b)) => assert_eq!(a, &b, "output differs from the lzf crate's"),
            (Ok(_), Err(e)) => panic!("we decompressed what the lzf crate refuses: {e:?}"),
            (Err(e), Ok(b)) => assert_ne!(
                b.len(),
                claimed,
                "the lzf crate decompressed exactly the claimed length; we said {e:?}"
            ),
            (Err(_), Err(_)) => {}
        }
    }
    let at = split_point(input).min(input.len());
    let mut stream = ferry_rdb::lzf::StreamDecoder::new(claimed);
    let streamed = stream.feed(&input[..at], false).and_then(|mut head| {
        head.extend(stream.feed(&input[at..], true)?);
        Ok(head)
    });
    match (&ours, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "streamed output differs (split at {at})"),
        (Err(_), Err(_)) => {}
        _ => panic!("whole {ours:?} vs streamed {streamed:?} (split at {at})"),
    }
}

/// A minimal RDB holding one key `k` of type `type_byte` whose value is
/// `prefix` then `blob` as an RDB string then `suffix`.
fn wrap(type_byte: u8, prefix: &[u8], blob: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut f = b"REDIS0012".to_vec();
    f.extend_from_slice(&[type_byte, 1, b'k']);
    f.extend_from_slice(prefix);
    let n = blob.len() as u64;
    if n < 64 {
        f.push(n as u8);
    } else if n < 16384 {
        f.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else {
        f.push(0x80);
        f.extend_from_slice(&(n as u32).to_be_bytes());
    }
    f.extend_from_slice(blob);
    f.extend_from_slice(suffix);
    f.push(0xff);
    let crc = ferry_rdb::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

/// Applies the flag bits: 8 = set the 4-byte total length, 16 = set the end byte.
fn fix_blob(flags: u8, blob: &[u8]) -> Vec<u8> {
    let mut b = blob.to_vec();
    if flags & 8 != 0 && b.len() >= 4 {
        let n = (b.len() as u32).to_le_bytes();
        b[..4].copy_from_slice(&n);
    }
    if flags & 16 != 0
        && let Some(last) = b.last_mut()
    {
        *last = 0xff;
    }
    b
}

/// Decodes a wrapped blob, checks split invariance and, where it decodes,
/// that raw mode returns the value's exact bytes.
fn check_wrapped(file: &[u8], value_at: usize) {
    check_split(file, split_point(file));
    let config = Config {
        raw: true,
        chunk_len: 16,
        ..Config::default()
    };
    let run = decode(file, &config, file.len());
    if run.result.is_ok() {
        let raw: Vec<u8> = run
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Raw(b) => Some(&b[..]),
                _ => None,
            })
            .flatten()
            .copied()
            .collect();
        let mut want = vec![file[9]];
        want.extend_from_slice(&file[value_at..file.len() - 9]);
        assert_eq!(raw, want, "raw bytes differ from the value's bytes");
    }
}

/// `rdb_listpack`: byte 0 is flags (low 3 bits pick the type: hash 16,
/// zset 17, set 20, quicklist-2 node 18, listpack-ex 25, pre-GA 23, stream
/// 19, stream 21; bits 8/16 fix the header length / end byte); the rest is
/// the listpack.
pub fn rdb_listpack(data: &[u8]) {
    let Some((&flags, blob)) = data.split_first() else {
        return;
    };
    let blob = fix_blob(flags, blob);
    let types = [16u8, 17, 20, 18, 25, 23, 19, 21];
    let t = types[usize::from(flags & 7)];
    let mut stream_tail = vec![0u8, 0, 0];
    if t == 19 || t == 21 {
        stream_tail.extend_from_slice(&[0, 0, 0, 0, 0]);
    }
    stream_tail.push(0);
    let (prefix, suffix): (Vec<u8>, Vec<u8>) = match t {
        18 => (vec![1, 2], vec![]),
        25 => (vec![0; 8], vec![]),
        19 | 21 => {
            let mut p = vec![1, 16];
            p.extend_from_slice(&[0; 16]);
            (p, stream_tail)
        }
        _ => (vec![], vec![]),
    };
    let file = wrap(t, &prefix, &blob, &suffix);
    check_wrapped(&file, 12);
}

/// `rdb_ziplist`: byte 0 is flags (low 2 bits pick the type: list 10,
/// zset 12, hash 13, quicklist node 14; bits 8/16 as for listpacks); the
/// rest is the ziplist.
pub fn rdb_ziplist(data: &[u8]) {
    let Some((&flags, blob)) = data.split_first() else {
        return;
    };
    let mut blob = fix_blob(flags, blob);
    if flags & 8 != 0 && blob.len() >= 8 {
        // Point the tail offset somewhere plausible, too.
        let tail = (blob.len().saturating_sub(2) as u32).to_le_bytes();
        blob[4..8].copy_from_slice(&tail);
    }
    let types = [10u8, 12, 13, 14];
    let t = types[usize::from(flags & 3)];
    let prefix: Vec<u8> = if t == 14 { vec![1] } else { vec![] };
    let file = wrap(t, &prefix, &blob, &[]);
    check_wrapped(&file, 12);
}
