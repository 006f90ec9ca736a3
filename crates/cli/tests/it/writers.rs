//! Output writers fed synthetic decoder items: exact JSON shapes and command sequences.

use bytes::Bytes;
use ferry_cli::output::{JsonlOutput, Output, RespOutput, Summary};
use ferry_rdb::{
    Encoding, Function, Item, KeyHeader, ModuleType, PreGaFunction, StreamConsumer, StreamEntry,
    StreamGroup, StreamId, StreamMeta, StreamNack,
};
use serde_json::{Value, json};

const NOW_MS: i64 = 1_700_000_000_000;

fn header(db: u64, key: &str, encoding: Encoding, expire_at_ms: Option<i64>) -> KeyHeader {
    KeyHeader {
        db,
        key: Bytes::copy_from_slice(key.as_bytes()),
        encoding,
        expire_at_ms,
        lru_idle: None,
        lfu_freq: None,
        len: None,
        module: None,
        offset: 0,
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId { ms, seq }
}

/// A key: its header and element items.
struct Key(KeyHeader, Vec<Item>);

fn feed(output: &mut impl Output, keys: Vec<Key>) -> Summary {
    for Key(h, items) in keys {
        output.begin_key(&h).unwrap();
        for item in items {
            output.element(item).unwrap();
        }
        output.end_key().unwrap();
    }
    output.finish().unwrap()
}

fn jsonl(keys: Vec<Key>) -> Vec<Value> {
    let mut buf = Vec::new();
    feed(&mut JsonlOutput::new(&mut buf), keys);
    crate::support::json_lines(&buf)
}

fn resp(keys: Vec<Key>) -> (Vec<Vec<String>>, Summary) {
    let mut buf = Vec::new();
    let summary = feed(&mut RespOutput::new(&mut buf, NOW_MS), keys);
    let commands = crate::support::parse_resp(&buf)
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
        .collect();
    (commands, summary)
}

fn stream_items() -> Vec<Item> {
    vec![
        Item::StreamEntry(StreamEntry {
            id: id(1, 0),
            fields: vec![(b("f"), b("v")), (b("f"), b("again"))],
        }),
        Item::StreamEntry(StreamEntry {
            id: id(1, 2),
            fields: vec![(Bytes::from_static(b"\xff"), b("x"))],
        }),
        Item::StreamMeta(StreamMeta {
            length: 2,
            last_id: id(5, 0),
            first_id: id(1, 0),
            max_deleted_id: id(1, 1),
            entries_added: 3,
            group_count: 2,
        }),
        Item::StreamGroup(StreamGroup {
            name: b("g1"),
            last_id: id(1, 2),
            entries_read: Some(3),
            pel_len: 2,
        }),
        Item::StreamPending(StreamNack {
            id: id(1, 0),
            delivery_time_ms: 111,
            delivery_count: 2,
        }),
        Item::StreamPending(StreamNack {
            id: id(1, 2),
            delivery_time_ms: 222,
            delivery_count: 1,
        }),
        Item::StreamConsumer(StreamConsumer {
            name: b("alice"),
            seen_time_ms: 333,
            active_time_ms: Some(300),
            pel_len: 2,
        }),
        Item::StreamConsumerPending(id(1, 0)),
        Item::StreamConsumerPending(id(1, 2)),
        Item::StreamConsumer(StreamConsumer {
            name: b("bob"),
            seen_time_ms: 444,
            active_time_ms: None,
            pel_len: 0,
        }),
        Item::StreamGroup(StreamGroup {
            name: b("g2"),
            last_id: id(0, 0),
            entries_read: Some(u64::MAX),
            pel_len: 0,
        }),
    ]
}

#[test]
fn jsonl_stream_object_has_entries_metadata_groups_pel_and_consumers() {
    let lines = jsonl(vec![Key(
        header(3, "s", Encoding::StreamListpacks3, None),
        stream_items(),
    )]);
    assert_eq!(
        lines,
        vec![json!({
            "db": 3, "key": "s", "type": "stream", "expire_at_ms": null,
            "value": {
                "entries": [
                    {"id": "1-0", "fields": [["f", "v"], ["f", "again"]]},
                    {"id": "1-2", "fields": [[{"base64": "/w=="}, "x"]]}
                ],
                "length": 2, "last_id": "5-0", "first_id": "1-0", "max_deleted_id": "1-1",
                "entries_added": 3,
                "groups": [
                    {
                        "name": "g1", "last_id": "1-2", "entries_read": 3,
                        "pending": [
                            {"id": "1-0", "delivery_time_ms": 111, "delivery_count": 2},
                            {"id": "1-2", "delivery_time_ms": 222, "delivery_count": 1}
                        ],
                        "consumers": [
                            {"name": "alice", "seen_time_ms": 333, "active_time_ms": 300,
                             "pending": ["1-0", "1-2"]},
                            {"name": "bob", "seen_time_ms": 444, "active_time_ms": null,
                             "pending": []}
                        ]
                    },
                    {"name": "g2", "last_id": "0-0", "entries_read": null, "pending": [],
                     "consumers": []}
                ]
            }
        })]
    );
}

#[test]
fn jsonl_shapes_of_strings_lists_sets_zsets_hashes() {
    let lines = jsonl(vec![
        Key(
            header(0, "str", Encoding::String, Some(NOW_MS)),
            vec![Item::StringChunk(b("hel")), Item::StringChunk(b("lo"))],
        ),
        Key(
            header(0, "bin", Encoding::String, None),
            // A UTF-8 sequence split across chunks is still UTF-8 as a whole.
            vec![
                Item::StringChunk(Bytes::from_static(b"caf\xc3")),
                Item::StringChunk(Bytes::from_static(b"\xa9")),
            ],
        ),
        Key(
            header(0, "raw", Encoding::String, None),
            vec![Item::StringChunk(Bytes::from_static(b"\x00\xff"))],
        ),
        Key(
            header(1, "l", Encoding::ListQuicklist2, None),
            vec![Item::ListItem(b("a")), Item::ListItem(b("b"))],
        ),
        Key(
            header(1, "set", Encoding::SetIntset, None),
            vec![Item::SetMember(b("1")), Item::SetMember(b("2"))],
        ),
        Key(
            header(1, "z", Encoding::ZSetListpack, None),
            vec![
                Item::ZSetEntry {
                    member: b("a"),
                    score: f64::NEG_INFINITY,
                },
                Item::ZSetEntry {
                    member: b("b"),
                    score: 1.5,
                },
                Item::ZSetEntry {
                    member: b("c"),
                    score: 2.0,
                },
            ],
        ),
        Key(
            header(1, "h", Encoding::HashListpackEx, None),
            vec![
                Item::HashField {
                    field: b("f1"),
                    value: b("v1"),
                    expire_at_ms: None,
                },
                Item::HashField {
                    field: b("f2"),
                    value: b("v2"),
                    expire_at_ms: Some(9_000_000_000_000),
                },
            ],
        ),
        Key(header(1, "empty", Encoding::Set, None), vec![]),
    ]);
    let want = [
        json!({"db":0,"key":"str","type":"string","expire_at_ms":NOW_MS,"value":"hello"}),
        json!({"db":0,"key":"bin","type":"string","expire_at_ms":null,"value":"café"}),
        json!({"db":0,"key":"raw","type":"string","expire_at_ms":null,"value":{"base64":"AP8="}}),
        json!({"db":1,"key":"l","type":"list","expire_at_ms":null,"value":["a","b"]}),
        json!({"db":1,"key":"set","type":"set","expire_at_ms":null,"value":["1","2"]}),
        json!({"db":1,"key":"z","type":"zset","expire_at_ms":null,
               "value":[["a","-inf"],["b",1.5],["c",2.0]]}),
        json!({"db":1,"key":"h","type":"hash","expire_at_ms":null,
               "value":[["f1","v1"],["f2","v2",9_000_000_000_000u64]]}),
        json!({"db":1,"key":"empty","type":"set","expire_at_ms":null,"value":[]}),
    ];
    assert_eq!(lines, want);
}

#[test]
fn jsonl_module_values_and_functions() {
    let mut h = header(0, "m", Encoding::Module2, None);
    let module = ModuleType {
        id: 5035677737576115203,
    };
    h.module = Some(module);
    let mut buf = Vec::new();
    let mut out = JsonlOutput::new(&mut buf);
    out.function(&Function {
        code: b("#!lua name=lib\nreturn 1"),
        pre_ga: None,
    })
    .unwrap();
    out.function(&Function {
        code: b("return 2"),
        pre_ga: Some(Box::new(PreGaFunction {
            name: b("old"),
            engine: b("LUA"),
            description: None,
        })),
    })
    .unwrap();
    out.begin_key(&h).unwrap();
    out.element(Item::ModuleChunk(Bytes::from_static(b"\x05\x07")))
        .unwrap();
    out.element(Item::ModuleChunk(Bytes::from_static(b"\xff\x00")))
        .unwrap();
    out.end_key().unwrap();
    let summary = out.finish().unwrap();
    assert_eq!((summary.keys_written, summary.functions_written), (1, 2));
    assert_eq!(
        crate::support::json_lines(&buf),
        vec![
            json!({"function": "#!lua name=lib\nreturn 1"}),
            json!({"function": "return 2",
                   "pre_ga": {"name": "old", "engine": "LUA", "description": null}}),
            json!({"db":0,"key":"m","type":"module","expire_at_ms":null,
                   "value":{"module":"ReJSON-RL","id":5035677737576115203u64,"encver":3,
                            "payload":"BQf/AA=="}}),
        ]
    );
}

#[test]
fn jsonl_never_writes_a_key_that_did_not_end() {
    let mut buf = Vec::new();
    let mut out = JsonlOutput::new(&mut buf);
    out.begin_key(&header(0, "done", Encoding::String, None))
        .unwrap();
    out.element(Item::StringChunk(b("x"))).unwrap();
    out.end_key().unwrap();
    out.begin_key(&header(0, "cut", Encoding::ListQuicklist2, None))
        .unwrap();
    out.element(Item::ListItem(b("a"))).unwrap();
    // The input fails here: the caller flushes and stops.
    out.finish().unwrap();
    drop(out);
    assert_eq!(
        buf,
        b"{\"db\":0,\"key\":\"done\",\"type\":\"string\",\"expire_at_ms\":null,\"value\":\"x\"}\n"
    );
}

#[test]
fn resp_lists_go_out_in_batches_of_512_after_select_and_del() {
    let items = (0..1200)
        .map(|i| Item::ListItem(b(&i.to_string())))
        .collect();
    let (cmds, summary) = resp(vec![Key(
        header(2, "l", Encoding::ListQuicklist2, Some(NOW_MS + 1000)),
        items,
    )]);
    assert_eq!(cmds[0], ["SELECT", "2"]);
    assert_eq!(cmds[1], ["DEL", "l"]);
    let lens: Vec<usize> = cmds[2..5].iter().map(|c| c.len() - 2).collect();
    assert_eq!(lens, [512, 512, 176]);
    assert!(cmds[2..5].iter().all(|c| c[0] == "RPUSH" && c[1] == "l"));
    assert_eq!(cmds[2][2], "0");
    assert_eq!(cmds[4].last().unwrap(), "1199");
    let expire = (NOW_MS + 1000).to_string();
    assert_eq!(cmds[5], ["PEXPIREAT", "l", expire.as_str()]);
    assert_eq!(cmds.len(), 6);
    assert_eq!(summary.keys_written, 1);
}

#[test]
fn resp_batches_are_cut_at_about_a_megabyte() {
    let big = Bytes::from(vec![b'x'; 300 * 1024]);
    let items = (0..5).map(|_| Item::SetMember(big.clone())).collect();
    let (cmds, _) = resp(vec![Key(header(0, "s", Encoding::Set, None), items)]);
    let sadds: Vec<usize> = cmds
        .iter()
        .filter(|c| c[0] == "SADD")
        .map(|c| c.len() - 2)
        .collect();
    assert_eq!(sadds, [4, 1]);
}

#[test]
fn resp_strings_are_set_then_appended_chunk_by_chunk() {
    let (cmds, _) = resp(vec![
        Key(
            header(0, "big", Encoding::String, Some(NOW_MS + 5)),
            vec![
                Item::StringChunk(b("aa")),
                Item::StringChunk(b("bb")),
                Item::StringChunk(b("cc")),
            ],
        ),
        Key(
            header(0, "empty", Encoding::String, None),
            vec![Item::StringChunk(Bytes::new())],
        ),
    ]);
    let expire = (NOW_MS + 5).to_string();
    let huge = Bytes::from(vec![b'y'; 1024 * 1024 + 1]);
    let (huge_cmds, _) = resp(vec![Key(
        header(0, "huge", Encoding::String, None),
        vec![Item::StringChunk(huge)],
    )]);
    let pieces: Vec<(&str, usize)> = huge_cmds[1..]
        .iter()
        .map(|c| (c[0].as_str(), c[2].len()))
        .collect();
    assert_eq!(pieces, [("SET", 524288), ("APPEND", 524288), ("APPEND", 1)]);
    assert_eq!(
        cmds,
        vec![
            vec!["SELECT", "0"],
            vec!["SET", "big", "aa"],
            vec!["APPEND", "big", "bb"],
            vec!["APPEND", "big", "cc"],
            vec!["PEXPIREAT", "big", expire.as_str()],
            vec!["SET", "empty", ""],
        ]
    );
}

#[test]
fn resp_leaves_out_expired_and_empty_keys_and_counts_them() {
    let (cmds, summary) = resp(vec![
        Key(
            header(0, "gone", Encoding::String, Some(NOW_MS)),
            vec![Item::StringChunk(b("x"))],
        ),
        Key(header(0, "empty", Encoding::ListZiplist, None), vec![]),
        Key(
            header(0, "h", Encoding::HashMetadata, None),
            vec![Item::HashField {
                field: b("f"),
                value: b("v"),
                expire_at_ms: Some(1),
            }],
        ),
    ]);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(
        summary,
        Summary {
            expired_keys_skipped: 2,
            expired_fields_skipped: 1,
            empty_keys_skipped: 1,
            ..Summary::default()
        }
    );
}

#[test]
fn resp_zsets_and_hashes_with_field_ttls() {
    let later = (NOW_MS + 10) as u64;
    let (cmds, summary) = resp(vec![
        Key(
            header(0, "z", Encoding::ZSet2, None),
            vec![
                Item::ZSetEntry {
                    member: b("a"),
                    score: f64::INFINITY,
                },
                Item::ZSetEntry {
                    member: b("n"),
                    score: f64::NAN,
                },
                Item::ZSetEntry {
                    member: b("b"),
                    score: -0.25,
                },
            ],
        ),
        Key(
            header(0, "h", Encoding::HashListpackEx, None),
            vec![
                Item::HashField {
                    field: b("f1"),
                    value: b("v1"),
                    expire_at_ms: Some(later),
                },
                Item::HashField {
                    field: b("f2"),
                    value: b("v2"),
                    expire_at_ms: Some(later),
                },
                Item::HashField {
                    field: b("old"),
                    value: b("v"),
                    expire_at_ms: Some(5),
                },
                Item::HashField {
                    field: b("f3"),
                    value: b("v3"),
                    expire_at_ms: None,
                },
                Item::HashField {
                    field: b("f4"),
                    value: b("v4"),
                    expire_at_ms: Some(later + 1),
                },
            ],
        ),
    ]);
    let l = later.to_string();
    let l1 = (later + 1).to_string();
    assert_eq!(
        cmds,
        vec![
            vec!["SELECT", "0"],
            vec!["DEL", "z"],
            vec!["ZADD", "z", "+inf", "a", "-0.25", "b"],
            vec!["DEL", "h"],
            vec!["HSET", "h", "f1", "v1", "f2", "v2", "f3", "v3", "f4", "v4"],
            vec!["HPEXPIREAT", "h", l.as_str(), "FIELDS", "2", "f1", "f2"],
            vec!["HPEXPIREAT", "h", l1.as_str(), "FIELDS", "1", "f4"],
        ]
    );
    assert_eq!(summary.unsupported, 1);
    assert_eq!(summary.expired_fields_skipped, 1);
}

#[test]
fn resp_streams_rebuild_entries_metadata_groups_consumers_and_pel() {
    let (cmds, summary) = resp(vec![Key(
        header(0, "s", Encoding::StreamListpacks3, None),
        stream_items(),
    )]);
    let want: Vec<Vec<&str>> = vec![
        vec!["SELECT", "0"],
        vec!["DEL", "s"],
        vec!["XADD", "s", "1-0", "f", "v", "f", "again"],
        vec!["XADD", "s", "1-2", "\u{fffd}", "x"],
        vec![
            "XSETID",
            "s",
            "5-0",
            "ENTRIESADDED",
            "3",
            "MAXDELETEDID",
            "1-1",
        ],
        vec!["XGROUP", "CREATE", "s", "g1", "1-2", "ENTRIESREAD", "3"],
        vec!["XGROUP", "CREATECONSUMER", "s", "g1", "alice"],
        vec![
            "XCLAIM",
            "s",
            "g1",
            "alice",
            "0",
            "1-0",
            "TIME",
            "111",
            "RETRYCOUNT",
            "2",
            "FORCE",
            "JUSTID",
        ],
        vec![
            "XCLAIM",
            "s",
            "g1",
            "alice",
            "0",
            "1-2",
            "TIME",
            "222",
            "RETRYCOUNT",
            "1",
            "FORCE",
            "JUSTID",
        ],
        vec!["XGROUP", "CREATECONSUMER", "s", "g1", "bob"],
        vec!["XGROUP", "CREATE", "s", "g2", "0-0"],
    ];
    assert_eq!(cmds, want);
    assert_eq!(summary.keys_written, 1);
}

#[test]
fn resp_empty_streams_are_created_with_a_temporary_group() {
    let (cmds, _) = resp(vec![Key(
        header(0, "s", Encoding::StreamListpacks2, None),
        vec![Item::StreamMeta(StreamMeta {
            length: 0,
            last_id: id(7, 1),
            first_id: id(0, 0),
            max_deleted_id: id(0, 0),
            entries_added: 4,
            group_count: 0,
        })],
    )]);
    assert_eq!(
        cmds,
        vec![
            vec!["SELECT", "0"],
            vec!["DEL", "s"],
            vec![
                "XGROUP",
                "CREATE",
                "s",
                "ferry-dump-tmp-group",
                "0",
                "MKSTREAM"
            ],
            vec!["XGROUP", "DESTROY", "s", "ferry-dump-tmp-group"],
            vec![
                "XSETID",
                "s",
                "7-1",
                "ENTRIESADDED",
                "4",
                "MAXDELETEDID",
                "0-0"
            ],
        ]
    );
}

#[test]
fn resp_v1_streams_set_the_last_id_without_the_7_0_counters() {
    // Redis 5.0 to 6.2 write no counters (the decoder gives the length as
    // entries added); XSETID with ENTRIESADDED would fail on those servers.
    let commands = |encoding| resp(vec![Key(header(0, "s", encoding, None), stream_items())]).0;
    let v1 = commands(Encoding::StreamListpacks);
    let v3 = commands(Encoding::StreamListpacks3);
    assert_eq!(v1.len(), v3.len());
    let differing: Vec<_> = v1.iter().zip(&v3).filter(|(a, b)| a != b).collect();
    assert_eq!(
        differing,
        vec![(
            &vec!["XSETID".to_owned(), "s".into(), "5-0".into()],
            &vec![
                "XSETID".to_owned(),
                "s".into(),
                "5-0".into(),
                "ENTRIESADDED".into(),
                "3".into(),
                "MAXDELETEDID".into(),
                "1-1".into()
            ]
        )]
    );
}

#[test]
fn resp_selects_only_when_the_database_changes_and_reports_modules() {
    let mut module = header(1, "m", Encoding::Module2, None);
    module.module = Some(ModuleType { id: 0 });
    let (cmds, summary) = resp(vec![
        Key(
            header(1, "a", Encoding::String, None),
            vec![Item::StringChunk(b("1"))],
        ),
        Key(module, vec![Item::ModuleChunk(b("payload"))]),
        Key(
            header(1, "b", Encoding::String, None),
            vec![Item::StringChunk(b("2"))],
        ),
        Key(
            header(0, "c", Encoding::String, None),
            vec![Item::StringChunk(b("3"))],
        ),
    ]);
    assert_eq!(
        cmds,
        vec![
            vec!["SELECT", "1"],
            vec!["SET", "a", "1"],
            vec!["SET", "b", "2"],
            vec!["SELECT", "0"],
            vec!["SET", "c", "3"],
        ]
    );
    assert_eq!(summary.unsupported, 1);
    assert_eq!(summary.keys_written, 3);
}

#[test]
fn resp_functions_are_loaded_with_replace() {
    let mut buf = Vec::new();
    let mut out = RespOutput::new(&mut buf, NOW_MS);
    out.function(&Function {
        code: b("#!lua name=lib\nreturn 1"),
        pre_ga: None,
    })
    .unwrap();
    let summary = out.finish().unwrap();
    drop(out);
    assert_eq!(summary.functions_written, 1);
    assert_eq!(
        crate::support::parse_resp(&buf),
        vec![vec![
            b"FUNCTION".to_vec(),
            b"LOAD".to_vec(),
            b"REPLACE".to_vec(),
            b"#!lua name=lib\nreturn 1".to_vec()
        ]]
    );
}

/// Pieces of `bytes` of sizes 1, 2, 3, ... (cycling up to `max`).
fn pieces(bytes: &[u8], max: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut n = 1;
    while !rest.is_empty() {
        let take = n.min(rest.len());
        out.push(Bytes::copy_from_slice(&rest[..take]));
        rest = &rest[take..];
        n = n % max + 1;
    }
    out
}

/// Keys of every type, with string values in uneven chunks that split
/// multi-byte characters, and a module payload in pieces of 1 to 7 bytes.
fn keys_of_every_shape() -> Vec<Key> {
    let text = "a€😀\"\\\n\u{1}é\u{7f}".repeat(300).into_bytes();
    let mut late_bad = text.clone();
    late_bad.push(0xff);
    let mut cut_char = text.clone();
    cut_char.extend_from_slice(b"\xf0\x9f\x98");
    let binary: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let string = |key: &str, value: &[u8], max: usize| {
        Key(
            header(0, key, Encoding::String, None),
            pieces(value, max)
                .into_iter()
                .map(Item::StringChunk)
                .collect(),
        )
    };
    let mut module = header(0, "m", Encoding::Module2, Some(NOW_MS));
    module.module = Some(ModuleType {
        id: 5035677737576115203,
    });
    vec![
        string("text", &text, 13),
        string("late-bad", &late_bad, 5),
        string("cut-char", &cut_char, 97),
        string("binary", &binary, 64),
        string("empty", b"", 1),
        Key(
            header(1, "l", Encoding::ListQuicklist2, None),
            (0..3000)
                .map(|i| Item::ListItem(b(&format!("item-{i}-é"))))
                .collect(),
        ),
        Key(
            header(1, "h", Encoding::HashListpackEx, None),
            (0..2000)
                .map(|i| Item::HashField {
                    field: b(&format!("f{i}")),
                    value: Bytes::copy_from_slice(&binary[i % 100..i % 100 + 3]),
                    expire_at_ms: i.is_multiple_of(3).then_some(9_000_000_000_000),
                })
                .collect(),
        ),
        Key(
            header(2, "s", Encoding::StreamListpacks3, None),
            stream_items(),
        ),
        Key(
            module,
            pieces(&binary[..1000], 7)
                .into_iter()
                .map(Item::ModuleChunk)
                .collect(),
        ),
    ]
}

fn jsonl_with_spill(keys: Vec<Key>, spill_bytes: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    feed(
        &mut JsonlOutput::with_spill_bytes(&mut buf, spill_bytes),
        keys,
    );
    buf
}

#[test]
fn jsonl_keys_spilled_to_a_file_are_written_byte_for_byte_as_in_memory() {
    let in_memory = jsonl_with_spill(keys_of_every_shape(), usize::MAX);
    let lines = crate::support::json_lines(&in_memory);
    assert_eq!(lines.len(), 9);
    assert!(lines[0]["value"].is_string());
    for (i, l) in lines[1..4].iter().enumerate() {
        assert!(l["value"].get("base64").is_some(), "key {i}: {l}");
    }
    assert_eq!(lines[4]["value"], "");
    for spill_bytes in [0, 1, 2, 3, 1000, 4099] {
        let spilled = jsonl_with_spill(keys_of_every_shape(), spill_bytes);
        assert!(spilled == in_memory, "spill limit {spill_bytes}");
    }
}

#[test]
fn jsonl_never_writes_a_spilled_key_that_did_not_end() {
    let mut buf = Vec::new();
    let mut out = JsonlOutput::with_spill_bytes(&mut buf, 0);
    out.begin_key(&header(0, "done", Encoding::String, None))
        .unwrap();
    out.element(Item::StringChunk(b("x"))).unwrap();
    out.end_key().unwrap();
    for (key, encoding, item) in [
        ("cut", Encoding::String, Item::StringChunk(b("abc"))),
        ("cut", Encoding::ListQuicklist2, Item::ListItem(b("a"))),
    ] {
        out.begin_key(&header(0, key, encoding, None)).unwrap();
        for _ in 0..100 {
            out.element(item.clone()).unwrap();
        }
    }
    // The input fails here: the caller flushes and stops.
    out.finish().unwrap();
    drop(out);
    assert_eq!(
        buf,
        b"{\"db\":0,\"key\":\"done\",\"type\":\"string\",\"expire_at_ms\":null,\"value\":\"x\"}\n"
    );
}

/// Whether the test stream's groups list entry `ms` as pending: all but
/// those ending in 5, then (out of id order) 5, 15 and 25 again.
fn in_group_pel(ms: u64) -> bool {
    ms % 10 != 5 || [5, 15, 25].contains(&ms)
}

/// Whether a consumer of the test stream lists entry `ms`.
fn in_consumer_pel(ms: u64) -> bool {
    !ms.is_multiple_of(11) && in_group_pel(ms)
}

/// A stream whose groups list many pending entries: owned by consumers in
/// turn, some by none; some added late, out of id order, 1 and 5 twice; then
/// ids claimed a second time (7, 5) and one the group does not list.
fn stream_with_long_pending_lists() -> Vec<Item> {
    let entries = 3000u64;
    let mut items: Vec<Item> = (1..=entries)
        .map(|ms| {
            Item::StreamEntry(StreamEntry {
                id: id(ms, 0),
                fields: vec![(b("f"), b(&ms.to_string()))],
            })
        })
        .collect();
    items.push(Item::StreamMeta(StreamMeta {
        length: entries,
        last_id: id(entries, 0),
        first_id: id(1, 0),
        max_deleted_id: id(0, 0),
        entries_added: entries,
        group_count: 2,
    }));
    let nack = |ms: u64, time: u64| {
        Item::StreamPending(StreamNack {
            id: id(ms, 0),
            delivery_time_ms: time + ms,
            delivery_count: ms % 5 + 1,
        })
    };
    for (group, consumers) in [("g1", 7u64), ("g2", 2)] {
        items.push(Item::StreamGroup(StreamGroup {
            name: b(group),
            last_id: id(entries, 0),
            entries_read: Some(entries),
            pel_len: 0,
        }));
        items.extend(
            (1..=entries)
                .filter(|&ms| ms % 10 != 5)
                .map(|ms| nack(ms, 1000)),
        );
        items.extend([15, 5, 25, 5, 1].map(|ms| nack(ms, 2000)));
        for c in 0..consumers {
            items.push(Item::StreamConsumer(StreamConsumer {
                name: b(&format!("{group}-c{c}")),
                seen_time_ms: 1,
                active_time_ms: Some(1),
                pel_len: 0,
            }));
            let ids = (1..=entries).filter(|&ms| ms % consumers == c && in_consumer_pel(ms));
            items.extend(ids.map(|ms| Item::StreamConsumerPending(id(ms, 0))));
        }
        items.extend([7, entries + 1, 5].map(|ms| Item::StreamConsumerPending(id(ms, 0))));
    }
    items
}

fn resp_with_spill(spill_bytes: usize) -> (Vec<u8>, Summary) {
    let mut buf = Vec::new();
    let keys = vec![Key(
        header(0, "s", Encoding::StreamListpacks3, None),
        stream_with_long_pending_lists(),
    )];
    let summary = feed(
        &mut RespOutput::with_spill_bytes(&mut buf, NOW_MS, spill_bytes),
        keys,
    );
    (buf, summary)
}

#[test]
fn resp_long_pending_lists_in_a_temporary_file_give_the_same_commands() {
    let (in_memory, summary) = resp_with_spill(usize::MAX);
    let claims: Vec<Vec<Vec<u8>>> = crate::support::parse_resp(&in_memory)
        .into_iter()
        .filter(|c| c[0] == b"XCLAIM")
        .collect();
    let listed = (1..=3000).filter(|&ms| in_consumer_pel(ms)).count();
    assert_eq!(claims.len(), 2 * listed);
    // The 7, unknown and 5 claimed again at the end of each group.
    assert_eq!(summary.unsupported, 2 * 3);
    // Entry 1 was listed twice: the later time counts.
    let first = claims.iter().find(|c| c[5] == b"1-0").unwrap();
    assert_eq!(first[7], b"2001");
    for spill_bytes in [0, 64, 100, 1000, 20_000] {
        let (spilled, spilled_summary) = resp_with_spill(spill_bytes);
        assert!(spilled == in_memory, "spill limit {spill_bytes}");
        assert_eq!(spilled_summary, summary);
    }
}
