//! Decoder throughput in input bytes per second.
//!
//! `cargo bench -p ferry-rdb --bench decode` decodes:
//! - `mixed`: a ~50 MB writer-generated file (many small strings; hashes,
//!   lists, sets and sorted sets in listpack and hashtable encodings; a few big
//!   values, one LZF-compressed), with the default config, with
//!   `skip_values`, and with `raw`;
//! - `corpus`: a real `redis-server` 7.0 dump from the shared test corpus
//!   (`FERRY_TESTDATA`, else `../../../shared/testdata/rdb`), when present.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/writer.rs"]
mod writer;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferry_rdb::{Config, Item, Magic, Reader};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;
use writer::{
    Entry, HashEnc, HashField, ListEnc, Op, Rng, SetEnc, StrEnc, StrStyle, Value, Writer, ZSetEnc,
};

fn entry(key: String, value: Value, rng: &mut Rng) -> Op {
    Op::Key(Entry {
        key: key.into_bytes(),
        expire: rng
            .chance(1, 5)
            .then(|| writer::Expire::Ms(1_800_000_000_000 + rng.below(1 << 30) as i64)),
        idle: None,
        freq: None,
        value,
    })
}

fn word(rng: &mut Rng, min: u64, max: u64) -> Vec<u8> {
    let len = rng.range(min, max) as usize;
    (0..len).map(|_| b'a' + rng.below(26) as u8).collect()
}

/// A mixed dataset of roughly 50 MB, written as Redis 7.2 would.
pub fn mixed_dataset() -> Vec<u8> {
    let mut rng = Rng::new(42);
    let mut w = Writer::new(Magic::Redis, 11, StrStyle::Redis, 1);
    w.aux(b"redis-ver", b"7.2.4");
    w.aux(b"redis-bits", b"64");
    w.select_db(0);
    let mut ops = Vec::new();
    // 300k small strings (half integers), ~15 MB.
    for i in 0..300_000u32 {
        let v = if i % 2 == 0 {
            rng.below(1 << 40).to_string().into_bytes()
        } else {
            word(&mut rng, 10, 120)
        };
        ops.push(entry(
            format!("string:{i}"),
            Value::Str(v, StrEnc::Auto),
            &mut rng,
        ));
    }
    // Listpack hashes (the common case): 40k x 12 fields, ~10 MB.
    for i in 0..40_000u32 {
        let fields = (0..12)
            .map(|f| HashField {
                field: format!("field{f}").into_bytes(),
                value: if f % 3 == 0 {
                    rng.below(100_000).to_string().into_bytes()
                } else {
                    word(&mut rng, 5, 30)
                },
                expire_at_ms: None,
            })
            .collect();
        ops.push(entry(
            format!("hash:{i}"),
            Value::Hash(HashEnc::Listpack, fields),
            &mut rng,
        ));
    }
    // Hashtable hashes: 200 x 1000 fields, ~8 MB.
    for i in 0..200u32 {
        let fields = (0..1000)
            .map(|f| HashField {
                field: format!("f:{f}").into_bytes(),
                value: word(&mut rng, 10, 40),
                expire_at_ms: None,
            })
            .collect();
        ops.push(entry(
            format!("bighash:{i}"),
            Value::Hash(HashEnc::Hashtable, fields),
            &mut rng,
        ));
    }
    // Lists (quicklist of listpacks), sets, sorted sets, ~6 MB.
    for i in 0..2_000u32 {
        let items: Vec<Vec<u8>> = (0..200).map(|_| word(&mut rng, 3, 20)).collect();
        ops.push(entry(
            format!("list:{i}"),
            Value::List(
                ListEnc::Quicklist2 {
                    node_max: 128,
                    plain_over: usize::MAX,
                },
                items,
            ),
            &mut rng,
        ));
        let ints: Vec<i64> = (0..100).map(|_| rng.below(1 << 30) as i64).collect();
        ops.push(entry(
            format!("intset:{i}"),
            Value::Intset(4, ints),
            &mut rng,
        ));
        let members: Vec<Vec<u8>> = (0..60)
            .map(|m| format!("member:{m}").into_bytes())
            .collect();
        let enc = if i % 4 == 0 {
            SetEnc::Hashtable
        } else {
            SetEnc::Listpack
        };
        ops.push(entry(
            format!("set:{i}"),
            Value::Set(enc, members),
            &mut rng,
        ));
        let entries: Vec<(Vec<u8>, f64)> = (0..60)
            .map(|m| {
                (
                    format!("player:{m}").into_bytes(),
                    rng.below(10_000) as f64 / 8.0,
                )
            })
            .collect();
        let enc = if i % 4 == 0 {
            ZSetEnc::Binary
        } else {
            ZSetEnc::Listpack
        };
        ops.push(entry(
            format!("zset:{i}"),
            Value::ZSet(enc, entries),
            &mut rng,
        ));
    }
    // A few big values: 4 x 2 MB random, one 4 MB compressible (LZF).
    for i in 0..4 {
        let v = rng.bytes(2 << 20);
        ops.push(entry(
            format!("blob:{i}"),
            Value::Str(v, StrEnc::Raw),
            &mut rng,
        ));
    }
    let text: Vec<u8> = (0..4 << 20).map(|i| b"lorem ipsum "[i % 12]).collect();
    ops.push(entry(
        "text".into(),
        Value::Str(text, StrEnc::Lzf),
        &mut rng,
    ));
    w.resize_db(ops.len() as u64, 0);
    for op in &ops {
        w.op(op);
    }
    w.finish(true).bytes
}

fn decode(bytes: &[u8], config: &Config) -> usize {
    let mut n = 0;
    for item in Reader::with_config(bytes, config.clone()) {
        match item {
            Ok(Item::Key(_)) => n += 1,
            Ok(i) => {
                black_box(i);
            }
            Err(e) => panic!("decode failed: {e}"),
        }
    }
    n
}

fn corpus_file() -> Option<(String, Vec<u8>)> {
    let dir = match std::env::var_os("FERRY_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rdb"),
    };
    let name = "generated/redis-7.0.15_rdbcompression-no_seed2.rdb";
    let data = std::fs::read(dir.join(name)).ok()?;
    Some((name.to_string(), data))
}

fn bench(c: &mut Criterion) {
    let mixed = mixed_dataset();
    eprintln!("mixed dataset: {} bytes", mixed.len());
    let mut group = c.benchmark_group("decode");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Bytes(mixed.len() as u64));
    let configs = [
        ("default", Config::default()),
        (
            "skip_values",
            Config {
                skip_values: true,
                ..Config::default()
            },
        ),
        (
            "raw",
            Config {
                raw: true,
                ..Config::default()
            },
        ),
    ];
    let mb = mixed.len() / 1_000_000;
    for (name, config) in &configs {
        group.bench_with_input(
            BenchmarkId::new(format!("mixed_{mb}mb"), name),
            &mixed,
            |b, data| b.iter(|| decode(data, config)),
        );
    }
    if let Some((name, data)) = corpus_file() {
        group.throughput(Throughput::Bytes(data.len() as u64));
        for (cname, config) in &configs[..2] {
            group.bench_with_input(BenchmarkId::new(name.clone(), cname), &data, |b, data| {
                b.iter(|| decode(data, config))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
