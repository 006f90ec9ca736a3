//! Round trips: random datasets in every type and encoding are written with
//! the test writer and decoded; the items must be exactly what was written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::split::{decode_split, decode_whole};
use crate::writer::{
    self, Dataset, Entry, Expire, HashEnc, HashField, ListEnc, ListpackBuilder, LpEnc, ModuleOp,
    Op, Rng, SetEnc, StrEnc, StrStyle, Value, ZSetEnc, ZiplistBuilder, ZlEnc, first_difference,
    normalize,
};
use bytes::Bytes;
use ferry_rdb::{Config, ErrorKind, Item, Magic, dump};
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Strategies.

/// Decimal text of integers around every encoding boundary.
fn int_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        -20i64..20,
        -5000i64..5000,
        any::<i16>().prop_map(i64::from),
        -(1i64 << 24)..(1 << 24),
        any::<i32>().prop_map(i64::from),
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
    ]
    .prop_map(|v| v.to_string().into_bytes())
}

/// Strings that look like integers but are not canonical.
fn almost_ints() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        "-0",
        "007",
        "+5",
        " 1",
        "1 ",
        "9223372036854775808",
        "-9223372036854775809",
        "",
        "0x10",
        "1e3",
    ])
    .prop_map(|s| s.as_bytes().to_vec())
}

/// Bytes of an element: short, integer-like, compressible, medium.
fn elem() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        5 => vec(any::<u8>(), 0..16),
        4 => int_text(),
        1 => almost_ints(),
        2 => (any::<u8>(), 21usize..200).prop_map(|(b, n)| vec![b; n]),
        1 => "[a-c]{20,120}".prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 60..300),
    ]
    .boxed()
}

/// Occasionally large: crosses the 12-bit listpack and 14-bit ziplist string lengths.
fn elem_or_big() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        40 => elem(),
        1 => (4000usize..20000, any::<u8>()).prop_map(|(n, b)| {
            let mut rng = Rng::new(u64::from(b));
            rng.bytes(n)
        }),
        1 => (4000usize..20000).prop_map(|n| (0..n).map(|i| (i % 13) as u8).collect()),
    ]
    .boxed()
}

fn str_enc() -> impl Strategy<Value = StrEnc> {
    prop::sample::select(vec![
        StrEnc::Auto,
        StrEnc::Raw,
        StrEnc::Int,
        StrEnc::Lzf,
        StrEnc::LzfLiterals,
    ])
}

fn list_enc() -> impl Strategy<Value = ListEnc> {
    prop_oneof![
        Just(ListEnc::Linked),
        Just(ListEnc::Ziplist),
        (1usize..8).prop_map(|node_max| ListEnc::Quicklist { node_max }),
        (1usize..8, prop_oneof![Just(usize::MAX), 0usize..100]).prop_map(
            |(node_max, plain_over)| ListEnc::Quicklist2 {
                node_max,
                plain_over
            }
        ),
    ]
}

fn score(nan: bool) -> BoxedStrategy<f64> {
    let finite = prop_oneof![
        4 => (-1000i32..1000).prop_map(f64::from),
        2 => any::<i64>().prop_map(|v| v as f64),
        3 => any::<f64>().prop_filter("finite", |f| f.is_finite()),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.1),
        1 => Just(f64::MIN_POSITIVE),
    ];
    if nan {
        prop_oneof![10 => finite, 1 => Just(f64::NAN)].boxed()
    } else {
        finite.boxed()
    }
}

fn dedup(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|e| seen.insert(e.clone()));
    v
}

fn zset() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        ZSetEnc::Text,
        ZSetEnc::Binary,
        ZSetEnc::Ziplist,
        ZSetEnc::Listpack,
    ])
    .prop_flat_map(|enc| {
        let nan = matches!(enc, ZSetEnc::Text | ZSetEnc::Binary);
        vec((elem(), score(nan)), 0..20).prop_map(move |entries| Value::ZSet(enc, entries))
    })
}

fn ttl() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        2 => Just(None),
        3 => (1u64..(1 << 48)).prop_map(Some),
        1 => (1u64..1000).prop_map(Some),
    ]
}

fn hash() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            HashEnc::Hashtable,
            HashEnc::Zipmap,
            HashEnc::Ziplist,
            HashEnc::Listpack,
            HashEnc::ListpackEx,
            HashEnc::Metadata,
            HashEnc::ValkeyHash2,
            HashEnc::MetadataPreGa,
            HashEnc::ListpackExPreGa,
        ]),
        vec((elem(), elem_or_big(), ttl()), 0..20),
    )
        .prop_map(|(enc, fields)| {
            let fields = fields
                .into_iter()
                .map(|(field, value, expire_at_ms)| HashField {
                    field,
                    value,
                    expire_at_ms: if enc.has_ttls() { expire_at_ms } else { None },
                })
                .collect();
            Value::Hash(enc, fields)
        })
}

fn module_op() -> impl Strategy<Value = ModuleOp> {
    prop_oneof![
        any::<u64>().prop_map(ModuleOp::SInt),
        any::<u64>().prop_map(ModuleOp::UInt),
        any::<f32>().prop_map(ModuleOp::Float),
        any::<f64>().prop_map(ModuleOp::Double),
        elem().prop_map(ModuleOp::Str),
    ]
}

fn module_type_id() -> impl Strategy<Value = u64> {
    (
        prop::sample::select(vec![
            *b"ReJSON-RL",
            *b"hellotype",
            *b"MBbloom--",
            *b"TS-series",
        ]),
        0u64..1024,
    )
        .prop_map(|(name, encver)| writer::module_id(&name, encver))
}

/// A value of any type in any encoding.
pub(crate) fn value() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (elem_or_big(), str_enc()).prop_map(|(s, e)| Value::Str(s, e)),
        2 => (list_enc(), vec(elem_or_big(), 0..24)).prop_map(|(e, v)| Value::List(e, v)),
        1 => (
            prop::sample::select(vec![SetEnc::Hashtable, SetEnc::Listpack]),
            vec(elem(), 0..24),
        )
            .prop_map(|(e, v)| Value::Set(e, dedup(v))),
        1 => (
            prop::sample::select(vec![2u8, 4, 8]),
            vec(
                prop_oneof![
                    -100i64..100,
                    any::<i16>().prop_map(i64::from),
                    any::<i32>().prop_map(i64::from),
                    any::<i64>()
                ],
                0..30
            ),
        )
            .prop_map(|(w, v)| Value::Intset(w, v)),
        2 => zset(),
        2 => hash(),
        1 => (1u8..=3, any::<u64>()).prop_map(|(version, seed)| {
            Value::Stream(writer::gen_stream(&mut Rng::new(seed), version, 12))
        }),
        1 => (module_type_id(), vec(module_op(), 0..6)).prop_map(|(id, ops)| Value::Module(id, ops)),
    ]
    .boxed()
}

fn key_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..12),
        2 => int_text(),
        1 => "[a-z:]{1,40}".prop_map(String::into_bytes),
        1 => (any::<u8>(), 21usize..100).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        key_name(),
        prop_oneof![
            3 => Just(None),
            2 => any::<i64>().prop_map(|v| Some(Expire::Ms(v))),
            1 => any::<i32>().prop_map(|v| Some(Expire::Sec(v))),
        ],
        proptest::option::weighted(0.2, any::<u64>()),
        proptest::option::weighted(0.2, any::<u8>()),
        value(),
    )
        .prop_map(|(key, expire, idle, freq, value)| Entry {
            key,
            expire,
            idle,
            freq,
            value,
        })
}

fn top_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (elem(), elem()).prop_map(|(k, v)| Op::Aux(k, v)),
        1 => elem().prop_map(|c| Op::Function2([b"#!lua name=lib\n".to_vec(), c].concat())),
        1 => (elem(), proptest::option::of(elem()), elem())
            .prop_map(|(n, d, c)| Op::FunctionPreGa(n, b"LUA".to_vec(), d, c)),
        1 => (module_type_id(), 1u64..=2, vec(module_op(), 0..4))
            .prop_map(|(id, when, ops)| Op::ModuleAux(id, when, ops)),
    ]
}

/// One database's records: SELECTDB, maybe RESIZEDB and SLOT_INFO, keys.
fn db_ops() -> impl Strategy<Value = Vec<Op>> {
    (
        prop_oneof![4 => 0u64..16, 1 => any::<u64>()],
        any::<bool>(),
        any::<bool>(),
        vec(entry(), 0..8),
    )
        .prop_map(|(db, resize, slot, entries)| {
            let mut ops = vec![Op::SelectDb(db)];
            if resize {
                ops.push(Op::ResizeDb(entries.len() as u64, 0));
            }
            if slot {
                ops.push(Op::SlotInfo(db % 16384, entries.len() as u64, 1));
            }
            ops.extend(entries.into_iter().map(Op::Key));
            ops
        })
}

/// Field-TTL hashes are written in the form the file's magic allows.
fn fit_to_magic(magic: Magic, op: Op) -> Op {
    match op {
        Op::Key(mut e) => {
            if let Value::Hash(enc, fields) = e.value {
                let enc = match (magic, enc) {
                    (
                        Magic::Valkey,
                        HashEnc::ListpackEx
                        | HashEnc::Metadata
                        | HashEnc::MetadataPreGa
                        | HashEnc::ListpackExPreGa,
                    ) => HashEnc::ValkeyHash2,
                    (Magic::Redis, HashEnc::ValkeyHash2) => HashEnc::Metadata,
                    (_, enc) => enc,
                };
                e.value = Value::Hash(enc, fields);
            }
            Op::Key(e)
        }
        op => op,
    }
}

/// A whole file: header, AUX/functions/module aux, several databases.
pub(crate) fn dataset() -> impl Strategy<Value = Dataset> {
    (
        prop_oneof![
            6 => Just((Magic::Redis, 12u32)),
            1 => prop::sample::select(vec![3u32, 6, 7, 9, 10, 11]).prop_map(|v| (Magic::Redis, v)),
            2 => Just((Magic::Valkey, 80u32)),
        ],
        prop::sample::select(vec![StrStyle::Plain, StrStyle::Redis, StrStyle::Mixed]),
        any::<u64>(),
        proptest::bool::weighted(0.9),
        vec(top_op(), 0..4),
        vec(db_ops(), 1..4),
    )
        .prop_map(|((magic, version), style, seed, checksum, top, dbs)| {
            let mut ops = top;
            ops.extend(dbs.into_iter().flatten());
            let ops = ops.into_iter().map(|op| fit_to_magic(magic, op)).collect();
            Dataset {
                magic,
                version,
                style,
                seed,
                checksum,
                ops,
            }
        })
}

// ---------------------------------------------------------------------------
// Checks.

/// Decodes `bytes` and compares with `want` (chunks merged on both sides).
fn assert_decodes_to(bytes: &[u8], config: &Config, want: &[Item]) -> Result<(), TestCaseError> {
    let out = decode_whole(bytes, config);
    if let Err(e) = &out.result {
        let prefix: Vec<String> = out.items.iter().rev().take(3).map(writer::short).collect();
        return Err(TestCaseError::fail(format!(
            "decode failed: {e} ({e:?}); last items: {prefix:?}"
        )));
    }
    prop_assert_eq!(out.leftover, 0, "bytes left after the end");
    let got = normalize(&out.items);
    if let Some(d) = first_difference(&got, &normalize(want)) {
        return Err(TestCaseError::fail(d));
    }
    Ok(())
}

/// The decoded raw value bytes of each key, in order.
fn raw_values(items: &[Item]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    for item in items {
        match item {
            Item::Key(_) => cur = Some(Vec::new()),
            Item::Raw(b) => cur
                .as_mut()
                .expect("raw chunk outside a key")
                .extend_from_slice(b),
            Item::KeyEnd => out.push(cur.take().expect("KeyEnd without a key")),
            _ => {}
        }
    }
    out
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=5000 for a deeper run.
    #[test]
    fn decodes_exactly_what_the_writer_wrote(
        ds in dataset(),
        chunk_len in prop_oneof![Just(64 * 1024usize), 1usize..100],
    ) {
        let w = writer::write(&ds);
        let config = Config { chunk_len, ..Config::default() };
        assert_decodes_to(&w.bytes, &config, &w.expected)?;
    }

    #[test]
    fn raw_chunks_are_the_written_value_bytes_and_make_valid_dump_payloads(
        ds in dataset(),
        chunk_len in prop_oneof![Just(64 * 1024usize), 1usize..100],
    ) {
        let w = writer::write(&ds);
        let config = Config { raw: true, chunk_len, ..Config::default() };
        let out = decode_whole(&w.bytes, &config);
        prop_assert!(out.result.is_ok(), "{:?}", out.result);
        // Without the raw chunks, the items are the ordinary ones.
        let plain: Vec<Item> = out.items.iter().filter(|i| !matches!(i, Item::Raw(_))).cloned().collect();
        if let Some(d) = first_difference(&normalize(&plain), &normalize(&w.expected)) {
            return Err(TestCaseError::fail(d));
        }
        for item in &out.items {
            if let Item::Raw(b) = item {
                // Not bounded by chunk_len: see raw_and_string_chunks_are_at_most_chunk_len.
                prop_assert!(!b.is_empty(), "empty raw chunk");
            }
        }
        let raws = raw_values(&out.items);
        prop_assert_eq!(raws.len(), w.values.len());
        for (got, want) in raws.iter().zip(&w.values) {
            prop_assert!(got == &want.bytes, "raw bytes of key {:?} differ", Bytes::copy_from_slice(&want.key));
            let payload = dump::payload(got, 11);
            prop_assert_eq!(&payload, &writer::dump_payload(&want.bytes, 11));
            let (value, version) = dump::split(&payload).unwrap();
            prop_assert_eq!(value, &want.bytes[..]);
            prop_assert_eq!(version, 11);
            let mut bad = payload.clone();
            let at = bad.len() / 2;
            bad[at] ^= 0x20;
            prop_assert!(dump::split(&bad).is_err(), "flipped payload verified");
        }
    }

    #[test]
    fn skip_values_emits_the_same_keys_without_elements(ds in dataset()) {
        let w = writer::write(&ds);
        let config = Config { skip_values: true, ..Config::default() };
        let out = decode_whole(&w.bytes, &config);
        prop_assert!(out.result.is_ok(), "{:?}", out.result);
        let shape = |items: &[Item]| -> Vec<Item> {
            items.iter().filter_map(|i| match i {
                Item::Key(h) => {
                    let mut h = h.clone();
                    h.len = None;
                    Some(Item::Key(h))
                }
                Item::StringChunk(_) | Item::ListItem(_) | Item::SetMember(_)
                | Item::ZSetEntry { .. } | Item::HashField { .. } | Item::StreamEntry(_)
                | Item::StreamMeta(_) | Item::StreamGroup(_) | Item::StreamPending(_)
                | Item::StreamConsumer(_) | Item::StreamConsumerPending(_)
                | Item::ModuleChunk(_) => None,
                other => Some(other.clone()),
            }).collect()
        };
        let got = shape(&out.items);
        if let Some(d) = first_difference(&got, &shape(&w.expected)) {
            return Err(TestCaseError::fail(d));
        }
    }

    #[test]
    fn a_flipped_byte_is_an_error_with_checksums_on(
        ds in dataset(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let mut ds = ds;
        ds.checksum = true;
        if ds.magic == Magic::Redis && ds.version < 5 {
            ds.version = 9;
        }
        let w = writer::write(&ds);
        let mut bytes = w.bytes.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let out = decode_whole(&bytes, &Config::default());
        prop_assert!(
            out.result.is_err() || out.leftover > 0,
            "flipping byte {} of {} (xor {:#04x}) went unnoticed", i, bytes.len(), xor
        );
        // Without the check, also no panic, and split feeding agrees.
        let lenient = Config { verify_checksum: false, ..Config::default() };
        let whole = decode_whole(&bytes, &lenient);
        let mut n = 0usize;
        let split = decode_split(&bytes, &lenient, || { n += 1; n % 11 + 1 });
        if let Some(d) = whole.difference(&split) {
            return Err(TestCaseError::fail(d));
        }
    }
}

// ---------------------------------------------------------------------------
// Deterministic cases for every entry encoding.

/// One-key file with the given value bytes (type byte first) under `REDIS0012`.
fn one_key_file(type_and_value: &[u8]) -> Vec<u8> {
    let mut f = b"REDIS0012".to_vec();
    f.push(type_and_value[0]);
    f.extend_from_slice(&[3, b'k', b'e', b'y']);
    f.extend_from_slice(&type_and_value[1..]);
    f.push(0xff);
    let crc = ferry_rdb::crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

fn rdb_string(blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    writer::put_len(&mut out, blob.len() as u64);
    out.extend_from_slice(blob);
    out
}

/// Elements at every listpack/ziplist encoding boundary.
fn boundary_elements() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        0i64,
        12,
        13,
        127,
        128,
        -1,
        -128,
        -129,
        4095,
        4096,
        -4096,
        -4097,
        i64::from(i16::MAX),
        i64::from(i16::MIN),
        i64::from(i16::MAX) + 1,
        (1 << 23) - 1,
        -(1 << 23),
        1 << 23,
        i64::from(i32::MAX),
        i64::from(i32::MIN),
        i64::from(i32::MAX) + 1,
        i64::MAX,
        i64::MIN,
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect();
    for n in [0usize, 1, 63, 64, 127, 128, 4095, 4096, 16383, 16384, 70000] {
        v.push((0..n).map(|i| b'a' + (i % 26) as u8).collect());
    }
    v
}

#[test]
fn listpack_entries_in_every_encoding_decode() {
    let elems = boundary_elements();
    let mut lp = ListpackBuilder::new();
    let mut want = Vec::new();
    for e in &elems {
        for enc in writer::lp_encodings(e) {
            lp.push_as(enc, e);
            want.push(Item::SetMember(Bytes::copy_from_slice(e)));
        }
    }
    // Every encoding was used at least once.
    for enc in [
        LpEnc::Uint7,
        LpEnc::Int13,
        LpEnc::Int16,
        LpEnc::Int24,
        LpEnc::Int32,
        LpEnc::Int64,
        LpEnc::Str6,
        LpEnc::Str12,
        LpEnc::Str32,
    ] {
        assert!(elems.iter().any(|e| writer::lp_encodings(e).contains(&enc)));
    }
    let count = lp.count();
    let mut value = vec![20u8];
    value.extend_from_slice(&rdb_string(&lp.finish()));
    let file = one_key_file(&value);
    let out = decode_whole(&file, &Config::default());
    assert!(out.result.is_ok(), "{:?}", out.result);
    let got: Vec<Item> = out
        .items
        .iter()
        .filter(|i| matches!(i, Item::SetMember(_)))
        .cloned()
        .collect();
    assert_eq!(first_difference(&got, &want), None);
    assert!(matches!(&out.items[1], Item::Key(h) if h.len == Some(count)));
}

#[test]
fn ziplist_entries_in_every_encoding_decode() {
    let elems = boundary_elements();
    let mut zl = ZiplistBuilder::new();
    let mut want = Vec::new();
    let mut wide = false;
    for e in &elems {
        for enc in writer::zl_encodings(e) {
            zl.push_as(enc, e, wide);
            wide = !wide;
            want.push(Item::ListItem(Bytes::copy_from_slice(e)));
        }
    }
    for v in 0..=12 {
        zl.push_as(ZlEnc::Imm4, v.to_string().as_bytes(), false);
        want.push(Item::ListItem(Bytes::from(v.to_string())));
    }
    let mut value = vec![10u8];
    value.extend_from_slice(&rdb_string(&zl.finish()));
    let file = one_key_file(&value);
    let out = decode_whole(&file, &Config::default());
    assert!(out.result.is_ok(), "{:?}", out.result);
    let got: Vec<Item> = out
        .items
        .iter()
        .filter(|i| matches!(i, Item::ListItem(_)))
        .cloned()
        .collect();
    assert_eq!(first_difference(&got, &want), None);
}

#[test]
fn string_encodings_and_wide_lengths_decode() {
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (vec![0xc0, 0x85], b"-123".to_vec()),
        (vec![0xc1, 0x39, 0x30], b"12345".to_vec()),
        (vec![0xc1, 0x05, 0x00], b"5".to_vec()),
        (vec![0xc2, 0xff, 0xff, 0xff, 0x7f], b"2147483647".to_vec()),
        (vec![0xc2, 0x00, 0x00, 0x00, 0x80], b"-2147483648".to_vec()),
        (
            vec![0x81, 0, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'],
            b"hi".to_vec(),
        ),
        (vec![0x80, 0, 0, 0, 2, b'h', b'i'], b"hi".to_vec()),
        (vec![0x40, 2, b'h', b'i'], b"hi".to_vec()),
        (vec![0], Vec::new()),
    ];
    for (enc, text) in cases {
        let mut value = vec![0u8];
        value.extend_from_slice(&enc);
        let file = one_key_file(&value);
        let out = decode_whole(&file, &Config::default());
        assert!(out.result.is_ok(), "{enc:?}: {:?}", out.result);
        let got = normalize(&out.items);
        assert_eq!(got[2], Item::StringChunk(Bytes::from(text)), "{enc:?}");
    }
}

#[test]
fn lzf_compressor_output_is_valid_lzf() {
    let mut rng = Rng::new(3);
    let inputs: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        vec![b'x'; 1000],
        (0..5000).map(|i| (i % 251) as u8).collect(),
        rng.bytes(3000),
        b"abcabcabcabcabcabcabcabcabc hello hello hello".repeat(50),
        (0..20000).map(|i| ((i / 7) % 3) as u8).collect(),
    ];
    for input in inputs {
        for data in [writer::lzf_compress(&input), writer::lzf_literals(&input)] {
            assert_eq!(lzf::decompress(&data, input.len()).unwrap(), input);
            assert_eq!(
                ferry_rdb::lzf::decompress(&data, input.len()).unwrap(),
                input
            );
        }
    }
}

#[test]
fn large_values_arrive_in_bounded_chunks() {
    let mut rng = Rng::new(11);
    let big = rng.bytes(300_000);
    let pattern: Vec<u8> = (0..1_000_000).map(|i| (i % 97) as u8).collect();
    let fields: Vec<HashField> = (0..70_000)
        .map(|i| HashField {
            field: format!("f{i}").into_bytes(),
            value: i.to_string().into_bytes(),
            expire_at_ms: None,
        })
        .collect();
    let ds = Dataset {
        magic: Magic::Redis,
        version: 12,
        style: StrStyle::Redis,
        seed: 1,
        checksum: true,
        ops: vec![
            Op::SelectDb(0),
            Op::Key(Entry {
                key: b"big".to_vec(),
                expire: None,
                idle: None,
                freq: None,
                value: Value::Str(big.clone(), StrEnc::Raw),
            }),
            Op::Key(Entry {
                key: b"pattern".to_vec(),
                expire: None,
                idle: None,
                freq: None,
                value: Value::Str(pattern.clone(), StrEnc::Lzf),
            }),
            Op::Key(Entry {
                key: b"hash".to_vec(),
                expire: None,
                idle: None,
                freq: None,
                value: Value::Hash(HashEnc::Listpack, fields),
            }),
        ],
    };
    let w = writer::write(&ds);
    let config = Config {
        chunk_len: 4096,
        ..Config::default()
    };
    let out = decode_whole(&w.bytes, &config);
    assert!(out.result.is_ok(), "{:?}", out.result);
    for item in &out.items {
        if let Item::StringChunk(c) = item {
            // One compressed chunk of 4096 bytes expands to at most 4096 / 3 * 264 bytes.
            assert!(
                c.len() <= 4096 / 3 * 264 + 264,
                "string chunk of {} bytes",
                c.len()
            );
        }
    }
    assert_eq!(first_difference(&normalize(&out.items), &w.expected), None);
    // 70 000 fields: the listpack header count saturates, so the length is unknown.
    assert!(
        out.items
            .iter()
            .any(|i| matches!(i, Item::Key(h) if &h.key[..] == b"hash" && h.len.is_none()))
    );
}

#[test]
fn a_bad_checksum_is_reported_as_such() {
    let ds = Dataset {
        magic: Magic::Redis,
        version: 11,
        style: StrStyle::Plain,
        seed: 0,
        checksum: true,
        ops: vec![Op::Key(Entry {
            key: b"k".to_vec(),
            expire: None,
            idle: None,
            freq: None,
            value: Value::Str(b"v".to_vec(), StrEnc::Raw),
        })],
    };
    let mut bytes = writer::write(&ds).bytes;
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    let out = decode_whole(&bytes, &Config::default());
    let err = out.result.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::ChecksumMismatch { .. }),
        "{err:?}"
    );
    let lenient = Config {
        verify_checksum: false,
        ..Config::default()
    };
    assert!(decode_whole(&bytes, &lenient).result.is_ok());
}

/// String chunks are at most `chunk_len` bytes, also for LZF strings (one
/// compressed chunk can expand 88-fold); raw chunks hold whole units, so they
/// exceed `chunk_len` by less than one unit.
#[test]
fn string_chunks_are_at_most_chunk_len_and_raw_chunks_close() {
    let pattern: Vec<u8> = (0..100_000).map(|i| (i % 97) as u8).collect();
    let fields: Vec<HashField> = (0..100)
        .map(|i| HashField {
            field: format!("field-{i}").into_bytes(),
            value: vec![b'v'; 50],
            expire_at_ms: None,
        })
        .collect();
    let key = |key: &[u8], value| {
        Op::Key(Entry {
            key: key.to_vec(),
            expire: None,
            idle: None,
            freq: None,
            value,
        })
    };
    let ds = Dataset {
        magic: Magic::Redis,
        version: 12,
        style: StrStyle::Plain,
        seed: 1,
        checksum: true,
        ops: vec![
            key(b"pattern", Value::Str(pattern.clone(), StrEnc::Lzf)),
            key(b"literal", Value::Str(pattern.clone(), StrEnc::LzfLiterals)),
            key(b"plain", Value::Str(pattern, StrEnc::Raw)),
            key(b"hash", Value::Hash(HashEnc::Listpack, fields)),
        ],
    };
    let w = writer::write(&ds);
    let largest_unit = w.values.iter().map(|v| v.bytes.len()).max().unwrap_or(0);
    for chunk_len in [1usize, 100, 1024, 64 * 1024] {
        let config = Config {
            raw: true,
            chunk_len,
            ..Config::default()
        };
        let out = decode_whole(&w.bytes, &config);
        assert!(out.result.is_ok(), "{:?}", out.result);
        for item in &out.items {
            match item {
                Item::StringChunk(c) => assert!(
                    c.len() <= chunk_len,
                    "chunk_len {chunk_len}: {} bytes in {}",
                    c.len(),
                    writer::short(item)
                ),
                Item::Raw(c) => assert!(c.len() < chunk_len + largest_unit),
                _ => {}
            }
        }
        let plain: Vec<Item> = out
            .items
            .iter()
            .filter(|i| !matches!(i, Item::Raw(_)))
            .cloned()
            .collect();
        assert_eq!(first_difference(&normalize(&plain), &w.expected), None);
    }
}

// ---------------------------------------------------------------------------
// The writer against real servers: what it writes must load (with deep
// payload sanitization) into the server versions that write those encodings,
// with the values the decoder tests expect.

/// What a server must return for a key after loading a writer file.
#[derive(Debug)]
enum Want {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(u64),
}

/// Which server a loadable dataset is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Debian's redis-server 7.0 (RDB 10).
    Redis70,
    /// Redis 7.4.1 (RDB 12: listpack sets, stream v3, field TTLs).
    Redis74,
    /// Valkey 9.1.2 (VALKEY080).
    Valkey91,
}

/// Distinct elements: words, binary, integers, long runs.
fn distinct_elems(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    while out.len() < n {
        let e = match rng.below(6) {
            0 => (rng.next_u64() as i64 >> rng.below(63))
                .to_string()
                .into_bytes(),
            1 => {
                let l = rng.range(60, 20_000) as usize;
                let mut v = vec![b'x'; l];
                v.extend_from_slice(out.len().to_string().as_bytes());
                v
            }
            2 => {
                let l = rng.range(1, 300) as usize;
                rng.bytes(l)
            }
            _ => {
                let mut v = writer::gen_small(rng);
                v.extend_from_slice(format!("#{}", out.len()).as_bytes());
                v
            }
        };
        if seen.insert(e.clone()) {
            out.push(e);
        }
    }
    out
}

/// A dataset every encoding of which `target` loads, and what it must hold.
fn loadable_dataset(seed: u64, target: Target) -> (Dataset, Vec<(Vec<u8>, Want)>) {
    let mut rng = Rng::new(seed);
    let (magic, version) = match target {
        Target::Redis70 => (Magic::Redis, 10),
        Target::Redis74 => (Magic::Redis, 12),
        Target::Valkey91 => (Magic::Valkey, 80),
    };
    let modern = target != Target::Redis70;
    let style = [StrStyle::Plain, StrStyle::Redis, StrStyle::Mixed][(seed % 3) as usize];
    let mut ops = vec![Op::SelectDb(0)];
    let mut wants = Vec::new();
    for k in 0..30 {
        let n = rng.range(1, 25) as usize;
        let elems = distinct_elems(&mut rng, n);
        let (value, want) = match rng.below(10) {
            0 | 1 => {
                let enc = [
                    StrEnc::Auto,
                    StrEnc::Raw,
                    StrEnc::Int,
                    StrEnc::Lzf,
                    StrEnc::LzfLiterals,
                ][rng.below(5) as usize];
                (
                    Value::Str(elems[0].clone(), enc),
                    Want::Str(elems[0].clone()),
                )
            }
            2 => {
                let enc = [
                    ListEnc::Linked,
                    ListEnc::Ziplist,
                    ListEnc::Quicklist { node_max: 5 },
                    ListEnc::Quicklist2 {
                        node_max: 4,
                        plain_over: 100,
                    },
                ][rng.below(4) as usize];
                (Value::List(enc, elems.clone()), Want::List(elems))
            }
            3 => {
                let enc = if modern && rng.chance(1, 2) {
                    SetEnc::Listpack
                } else {
                    SetEnc::Hashtable
                };
                (Value::Set(enc, elems.clone()), Want::Set(elems))
            }
            4 => {
                let mut ints: Vec<i64> = (0..n)
                    .map(|_| rng.next_u64() as i64 >> rng.below(64))
                    .collect();
                ints.sort_unstable();
                ints.dedup();
                let want = ints.iter().map(|v| v.to_string().into_bytes()).collect();
                let width = [2u8, 4, 8][rng.below(3) as usize];
                (Value::Intset(width, ints), Want::Set(want))
            }
            5 | 6 => {
                let enc = [
                    ZSetEnc::Text,
                    ZSetEnc::Binary,
                    ZSetEnc::Ziplist,
                    ZSetEnc::Listpack,
                ][rng.below(4) as usize];
                let entries: Vec<(Vec<u8>, f64)> = elems
                    .into_iter()
                    .map(|m| {
                        let s = match rng.below(5) {
                            0 => rng.below(1000) as f64,
                            1 => rng.next_u64() as f64 / 7.0,
                            2 => -0.5,
                            3 => f64::INFINITY,
                            _ => f64::NEG_INFINITY,
                        };
                        (m, s)
                    })
                    .collect();
                (Value::ZSet(enc, entries.clone()), Want::ZSet(entries))
            }
            7 | 8 => {
                let encs: &[HashEnc] = match target {
                    Target::Redis70 => &[
                        HashEnc::Hashtable,
                        HashEnc::Zipmap,
                        HashEnc::Ziplist,
                        HashEnc::Listpack,
                    ],
                    Target::Redis74 => &[
                        HashEnc::Listpack,
                        HashEnc::ListpackEx,
                        HashEnc::Metadata,
                        HashEnc::MetadataPreGa,
                        HashEnc::ListpackExPreGa,
                    ],
                    Target::Valkey91 => &[HashEnc::Hashtable, HashEnc::ValkeyHash2],
                };
                let enc = rng.pick(encs);
                let fields: Vec<HashField> = elems
                    .into_iter()
                    .map(|f| HashField {
                        field: f,
                        value: writer::gen_small(&mut rng),
                        // In the future, so the server keeps them.
                        expire_at_ms: (enc.has_ttls() && rng.chance(1, 2))
                            .then(|| 4_000_000_000_000 + rng.below(1 << 30)),
                    })
                    .collect();
                let want = fields
                    .iter()
                    .map(|f| (f.field.clone(), f.value.clone()))
                    .collect();
                (Value::Hash(enc, fields), Want::Hash(want))
            }
            _ => {
                let v = if modern {
                    rng.range(1, 3) as u8
                } else {
                    rng.range(1, 2) as u8
                };
                let s = writer::gen_stream(&mut rng, v, 12);
                let len = s.length;
                if len == 0 {
                    continue;
                }
                (Value::Stream(s), Want::Stream(len))
            }
        };
        let key = format!("key:{k}").into_bytes();
        wants.push((key.clone(), want));
        ops.push(Op::Key(Entry {
            key,
            expire: None,
            idle: None,
            freq: None,
            value,
        }));
    }
    let ds = Dataset {
        magic,
        version,
        style,
        seed,
        checksum: true,
        ops,
    };
    (ds, wants)
}

fn bulks(reply: ferry_testkit::Reply) -> Vec<Vec<u8>> {
    reply
        .into_array()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.into_bytes().unwrap_or_default())
        .collect()
}

fn pairs(flat: Vec<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    flat.chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

/// Writes `seeds` datasets for `target`, loads each into a fresh server and
/// checks every key's value.
fn check_against_server(target: Target, seeds: std::ops::Range<u64>) {
    use ferry_testkit::{RedisServer, ServerKind};
    let kind = match target {
        Target::Redis70 => None,
        Target::Redis74 => Some(ServerKind::Redis74),
        Target::Valkey91 => Some(ServerKind::Valkey91),
    };
    // A missing server fails the test (its error names scripts/install-servers.sh).
    if let Some(kind) = kind {
        ferry_testkit::versioned_server(kind).expect("versioned server");
    }
    let dir = std::env::temp_dir().join(format!("ferry-writer-{target:?}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for seed in seeds {
        let (ds, wants) = loadable_dataset(seed, target);
        let w = writer::write(&ds);
        let path = dir.join(format!("seed{seed}.rdb"));
        std::fs::write(&path, &w.bytes).unwrap();
        // The decoder reads what the server reads.
        let out = decode_whole(&w.bytes, &Config::default());
        assert!(
            out.result.is_ok(),
            "{target:?} seed {seed}: {:?}",
            out.result
        );
        if let Some(d) = first_difference(&normalize(&out.items), &normalize(&w.expected)) {
            panic!("{target:?} seed {seed}: {d}");
        }
        let mut builder = RedisServer::builder()
            .rdb(&path)
            .arg("--sanitize-dump-payload")
            .arg("yes");
        if let Some(kind) = kind {
            builder = builder.version(kind);
        }
        let server = builder
            .start()
            .unwrap_or_else(|e| panic!("{target:?} seed {seed}: the server refused the file: {e}"));
        let dbsize = server.cmd(&["DBSIZE"]).unwrap().as_int();
        assert_eq!(dbsize, Some(wants.len() as i64), "{target:?} seed {seed}");
        for (key, want) in &wants {
            let k = &key[..];
            let ctx = format!("{target:?} seed {seed} key {}", String::from_utf8_lossy(k));
            match want {
                Want::Str(v) => {
                    let got = server.cmd(&[&b"GET"[..], k]).unwrap().into_bytes();
                    assert_eq!(got.as_ref(), Some(v), "{ctx}");
                }
                Want::List(items) => {
                    let got = bulks(server.cmd(&[&b"LRANGE"[..], k, b"0", b"-1"]).unwrap());
                    assert_eq!(&got, items, "{ctx}");
                }
                Want::Set(members) => {
                    let mut got = bulks(server.cmd(&[&b"SMEMBERS"[..], k]).unwrap());
                    got.sort();
                    let mut want = members.clone();
                    want.sort();
                    assert_eq!(got, want, "{ctx}");
                }
                Want::ZSet(entries) => {
                    let got = pairs(bulks(
                        server
                            .cmd(&[&b"ZRANGE"[..], k, b"0", b"-1", b"WITHSCORES"])
                            .unwrap(),
                    ));
                    let mut got: Vec<(Vec<u8>, f64)> = got
                        .into_iter()
                        .map(|(m, s)| {
                            let s = String::from_utf8_lossy(&s).parse::<f64>().unwrap();
                            (m, s)
                        })
                        .collect();
                    got.sort_by(|a, b| a.0.cmp(&b.0));
                    let mut want = entries.clone();
                    want.sort_by(|a, b| a.0.cmp(&b.0));
                    assert_eq!(got.len(), want.len(), "{ctx}");
                    for ((gm, gs), (wm, ws)) in got.iter().zip(&want) {
                        assert_eq!(gm, wm, "{ctx}");
                        // Redis prints scores with 17 significant digits.
                        assert!(
                            gs == ws || (gs - ws).abs() <= ws.abs() * 1e-15,
                            "{ctx}: score {gs} vs {ws}"
                        );
                    }
                }
                Want::Hash(fields) => {
                    let mut got = pairs(bulks(server.cmd(&[&b"HGETALL"[..], k]).unwrap()));
                    got.sort();
                    let mut want = fields.clone();
                    want.sort();
                    assert_eq!(got, want, "{ctx}");
                }
                Want::Stream(len) => {
                    let got = server.cmd(&[&b"XLEN"[..], k]).unwrap().as_int();
                    assert_eq!(got, Some(*len as i64), "{ctx}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn writer_files_load_into_redis_7_0_with_the_written_values() {
    check_against_server(Target::Redis70, 0..40);
}

#[test]
fn writer_files_load_into_redis_7_4_with_the_written_values() {
    check_against_server(Target::Redis74, 0..40);
}

#[test]
fn writer_files_load_into_valkey_9_with_the_written_values() {
    check_against_server(Target::Valkey91, 0..40);
}
