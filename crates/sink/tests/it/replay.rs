//! Command replay: its writes against real servers, its options, its notes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::plan::{
    Applier, assert_same, caps_of, digest, now_ms, plan_into, snapshot, testdata, without,
};
use bytes::Bytes;
use ferry_rdb::{Encoding, Function, Item, KeyHeader, ModuleType, PreGaFunction, Reader, StreamId};
use ferry_sink::plan::{Mode, Options as PlanOptions};
use ferry_sink::replay::{DelBefore, KeyOutcome, Options, Replayer};
use ferry_sink::{NoteKind, Write, WriteMode};
use ferry_testkit::dataset::{self, Value};
use ferry_testkit::{RedisServer, ServerKind};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

const NOW_MS: i64 = 1_700_000_000_000;

fn header(key: &str, encoding: Encoding) -> KeyHeader {
    KeyHeader {
        db: 0,
        key: Bytes::copy_from_slice(key.as_bytes()),
        encoding,
        expire_at_ms: None,
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

/// Replays every key of `rdb` with `options` into `target`.
fn replay_file_into(rdb: &Path, options: Options, target: &RedisServer) -> Vec<Write> {
    let mut replayer = Replayer::new(options);
    let mut all = Vec::new();
    let mut writes = Vec::new();
    for item in Reader::new(BufReader::new(File::open(rdb).unwrap())) {
        match item.unwrap() {
            Item::Key(h) => replayer.begin_key(&h),
            Item::KeyEnd => {
                replayer.end_key(&mut writes);
            }
            Item::Function(f) => replayer.function(&f, &mut writes),
            Item::Header(_)
            | Item::Aux { .. }
            | Item::SelectDb(_)
            | Item::ResizeDb { .. }
            | Item::SlotInfo { .. }
            | Item::End { .. }
            | Item::ModuleAux(_) => {}
            element => replayer.element(element, &mut writes).unwrap(),
        }
        all.append(&mut writes);
    }
    replayer.finish(&mut writes);
    all.append(&mut writes);
    let mut applier = Applier::new(target);
    applier.apply(&mut all.clone());
    applier.drain();
    assert!(
        applier.errors.is_empty(),
        "{:?}",
        &applier.errors[..5.min(applier.errors.len())]
    );
    assert!(replayer.poll_note().is_none());
    all
}

#[test]
fn every_key_ends_with_one_last_write() {
    let source = RedisServer::start().unwrap();
    dataset::fill_varied(&mut source.connect().unwrap(), 3).unwrap();
    let rdb = source.save_rdb().unwrap();
    let target = RedisServer::start().unwrap();
    let writes = replay_file_into(&rdb, Options::new(now_ms()), &target);
    let mut last: HashMap<(u64, Bytes), usize> = HashMap::new();
    for (i, w) in writes.iter().enumerate() {
        assert_eq!(w.mode, WriteMode::Commands);
        let key = (w.db, w.key.clone().unwrap());
        if let Some(&at) = last.get(&key) {
            panic!("write {i} {:?} after the last one ({at})", w.command);
        }
        if w.last_of_key {
            last.insert(key, i);
        }
    }
    let keys = snapshot(&source).len();
    assert_eq!(last.len(), keys);
    assert_eq!(digest(&target), digest(&source));
}

#[test]
fn del_before_every_key_replaces_keys_of_another_type() {
    let source = RedisServer::start().unwrap();
    source.cmd(&["SET", "k", "string"]).unwrap();
    source.cmd(&["HSET", "h", "a", "1"]).unwrap();
    let rdb = source.save_rdb().unwrap();
    for (del, replaced) in [
        (DelBefore::Every, true),
        (DelBefore::Collections, true),
        (DelBefore::Never, false),
    ] {
        let target = RedisServer::start().unwrap();
        target.cmd(&["RPUSH", "k", "a list"]).unwrap();
        target.cmd(&["HSET", "h", "b", "2"]).unwrap();
        let mut options = Options::new(now_ms());
        options.del = del;
        let writes = replay_file_into(&rdb, options, &target);
        let dels = writes.iter().filter(|w| w.command.is("DEL")).count();
        assert_eq!(
            dels,
            match del {
                DelBefore::Every => 2,
                DelBefore::Collections => 1,
                DelBefore::Never => 0,
            }
        );
        // SET replaces a key of any type; HSET adds to a hash.
        assert_eq!(
            snapshot(&target).get(0, b"k").unwrap().value,
            Value::String(b"string".to_vec())
        );
        let fields = match snapshot(&target).get(0, b"h").unwrap().value.clone() {
            Value::Hash(h) => h.len(),
            other => panic!("{other:?}"),
        };
        assert_eq!(fields, if replaced { 1 } else { 2 }, "{del:?}");
    }
}

#[test]
fn a_redis_7_0_dump_replays_into_redis_6_2() {
    // Streams v2 (XSETID and XGROUP without the 7.0 options), listpacks.
    let rdb = testdata().join("generated/redis-7.0.15_default_seed1.rdb");
    let reference = RedisServer::builder().rdb(&rdb).start().unwrap();
    let target = RedisServer::builder()
        .version(ServerKind::Redis62)
        .start()
        .unwrap();
    let mut options = PlanOptions::new(caps_of(&target), now_ms());
    options.mode = Mode::Commands;
    let applied = plan_into(&rdb, options, &target);
    assert!(applied.notes.is_empty(), "{:?}", applied.notes);
    assert_eq!(applied.summary.restored_keys, 0);
    let want = without(snapshot(&reference), true, true);
    let got = without(snapshot(&target), true, true);
    assert_same(&want, &got, 1000, "7.0 dump into 6.2");
    assert_eq!(digest(&target), digest(&reference));
}

#[test]
fn values_without_a_command_form_become_notes() {
    let mut replayer = Replayer::new(Options::new(NOW_MS));
    let mut writes = Vec::new();

    let mut module = header("m", Encoding::Module2);
    module.module = Some(ModuleType {
        id: 5035677737576115203,
    });
    replayer.begin_key(&module);
    replayer
        .element(Item::ModuleChunk(b("opaque")), &mut writes)
        .unwrap();
    assert_eq!(replayer.end_key(&mut writes), KeyOutcome::Unsupported);

    replayer.begin_key(&header("z", Encoding::ZSetListpack));
    for (member, score) in [("a", 1.0), ("nan", f64::NAN), ("b", f64::INFINITY)] {
        let member = b(member);
        replayer
            .element(Item::ZSetEntry { member, score }, &mut writes)
            .unwrap();
    }
    assert_eq!(replayer.end_key(&mut writes), KeyOutcome::Written);

    replayer.function(
        &Function {
            code: b("#!lua name=old\nreturn 1"),
            pre_ga: Some(Box::new(PreGaFunction {
                name: b("old"),
                engine: b("LUA"),
                description: None,
            })),
        },
        &mut writes,
    );
    replayer.function(
        &Function {
            code: b("#!lua name=lib\nreturn 1"),
            pre_ga: None,
        },
        &mut writes,
    );

    let notes: Vec<String> = std::iter::from_fn(|| replayer.poll_note())
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        notes,
        [
            "db 0 key \"m\": module value (type ReJSON-RL) cannot be written as commands; skipped",
            "db 0 key \"z\": member \"nan\" has a NaN score, which ZADD refuses; skipped",
            "function \"old\" is in the format of Redis 7.0 release candidates, which \
             FUNCTION LOAD does not take; skipped",
        ]
    );
    let commands: Vec<Vec<&[u8]>> = writes
        .iter()
        .map(|w| w.command.parts().iter().map(|p| &p[..]).collect())
        .collect();
    assert_eq!(
        commands,
        [
            vec![&b"DEL"[..], b"z"],
            vec![&b"ZADD"[..], b"z", b"1.0", b"a", b"+inf", b"b"],
            vec![
                &b"FUNCTION"[..],
                b"LOAD",
                b"REPLACE",
                b"#!lua name=lib\nreturn 1"
            ],
        ]
    );
    assert!(writes[1].last_of_key && !writes[0].last_of_key);
    assert_eq!(writes[2].mode, WriteMode::Function);
    assert_eq!(writes[2].key, None);
    let s = replayer.summary();
    assert_eq!(
        (s.keys_written, s.functions_written, s.unsupported),
        (1, 1, 3)
    );
}

#[test]
fn old_targets_get_fields_without_ttls_and_plain_stream_commands() {
    let mut options = Options::new(NOW_MS);
    options.features = ferry_sink::TargetCaps::redis(6, 0, 0).replay_features();
    let mut replayer = Replayer::new(options);
    let mut writes = Vec::new();
    replayer.begin_key(&header("h", Encoding::HashListpackEx));
    for (field, ttl) in [
        ("a", None),
        ("b", Some(NOW_MS as u64 + 10)),
        ("gone", Some(1)),
    ] {
        let item = Item::HashField {
            field: b(field),
            value: b("v"),
            expire_at_ms: ttl,
        };
        replayer.element(item, &mut writes).unwrap();
    }
    replayer.end_key(&mut writes);

    replayer.begin_key(&header("s", Encoding::StreamListpacks3));
    let id = StreamId { ms: 5, seq: 1 };
    let items = [
        Item::StreamEntry(ferry_rdb::StreamEntry {
            id,
            fields: vec![(b("f"), b("v"))],
        }),
        Item::StreamMeta(ferry_rdb::StreamMeta {
            length: 1,
            last_id: id,
            first_id: id,
            max_deleted_id: StreamId::default(),
            entries_added: 1,
            group_count: 1,
        }),
        Item::StreamGroup(ferry_rdb::StreamGroup {
            name: b("g"),
            last_id: id,
            entries_read: Some(1),
            pel_len: 0,
        }),
        Item::StreamConsumer(ferry_rdb::StreamConsumer {
            name: b("idle"),
            seen_time_ms: 1,
            active_time_ms: None,
            pel_len: 0,
        }),
    ];
    for item in items {
        replayer.element(item, &mut writes).unwrap();
    }
    replayer.end_key(&mut writes);

    let commands: Vec<String> = writes
        .iter()
        .map(|w| {
            let parts: Vec<String> = w
                .command
                .parts()
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            parts.join(" ")
        })
        .collect();
    assert_eq!(
        commands,
        [
            "DEL h",
            "HSET h a v b v",
            "DEL s",
            "XADD s 5-1 f v",
            "XSETID s 5-1",
            "XGROUP CREATE s g 5-1",
        ]
    );
    let notes: Vec<NoteKind> = std::iter::from_fn(|| replayer.poll_note())
        .map(|n| n.kind)
        .collect();
    assert_eq!(
        notes,
        [
            NoteKind::FieldTtlsDropped { fields: 1 },
            NoteKind::ConsumerNotCreated {
                group: b("g"),
                consumer: b("idle")
            },
        ]
    );
    assert_eq!(replayer.summary().expired_fields_skipped, 1);
}
