//! The event spool with real files: push order across memory and disk,
//! several writers, the end, waiting on a full disk budget, cancel-safety,
//! corrupt files, cleanup and stats.

use bytes::Bytes;
use ferry_replica::{Event, SpoolConfig, SpoolError, SpoolReader, SpoolWriter, spool};
use ferry_resp::{Command, RawCommand};
use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;
use tokio::time::timeout;

/// Long enough for a push or pop that can proceed to do so.
const SOON: Duration = Duration::from_secs(5);
/// Long enough to believe that a push waits.
const A_WHILE: Duration = Duration::from_millis(100);

fn config(dir: &tempfile::TempDir, memory_bytes: usize, disk_bytes: u64) -> SpoolConfig {
    SpoolConfig {
        memory_bytes,
        disk_bytes,
        ..SpoolConfig::new(dir.path())
    }
}

/// Event `i` of a varied sequence: every kind, commands with binary
/// arguments (CRLF inside), snapshot chunks of many sizes.
fn event(i: u64) -> Event {
    match i % 7 {
        0 => Event::FullResync {
            replid: format!("{i:040x}"),
            offset: i * 1000,
        },
        1 => Event::Continue {
            replid: format!("{:040}", i),
        },
        2 => Event::SnapshotStart {
            len: i.is_multiple_of(2).then_some(i * 3),
        },
        3 => Event::Snapshot(Bytes::from(
            (0..(i * 37 % 900) as usize)
                .map(|b| (b as u64 ^ i) as u8)
                .collect::<Vec<u8>>(),
        )),
        4 => Event::SnapshotEnd,
        _ => command(i, i * 11 + 3),
    }
}

fn command(i: u64, offset: u64) -> Event {
    let value: Vec<u8> = (0..(i % 300) as usize)
        .map(|b| [b'\r', b'\n', b'x', 0, 255][b % 5])
        .collect();
    Event::Command {
        command: RawCommand::from(Command::new("SET").arg(format!("key:{i}")).arg(value)),
        offset,
    }
}

async fn pop(reader: &mut SpoolReader) -> Option<(u32, Event)> {
    timeout(SOON, reader.pop())
        .await
        .expect("pop in time")
        .unwrap()
}

/// Compares exactly, and says so for commands' wire bytes and offsets.
fn assert_same(got: &(u32, Event), want: &(u32, Event)) {
    if let (
        Event::Command {
            command: a,
            offset: x,
        },
        Event::Command {
            command: b,
            offset: y,
        },
    ) = (&got.1, &want.1)
    {
        assert_eq!(a.wire(), b.wire());
        assert_eq!(x, y);
    }
    assert_eq!(got, want);
}

#[tokio::test]
async fn keeps_push_order_across_memory_disk_and_memory_again() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, mut reader) = spool(config(&dir, 2000, 1 << 30)).unwrap();
    let mut pushed = std::collections::VecDeque::new();
    let (mut saw_disk, mut memory_after_disk) = (false, false);
    let mut i = 0;
    // Rounds of pushes and pops of varying sizes: the spool fills memory,
    // spills, drains, returns to memory, spills again.
    for round in 0..40u64 {
        for _ in 0..(round * 7 % 23 + 1) {
            let shard = (i % 3) as u32;
            writer.push(shard, event(i)).await.unwrap();
            pushed.push_back((shard, event(i)));
            i += 1;
            let stats = writer.stats();
            saw_disk |= stats.disk_bytes > 0;
            memory_after_disk |= saw_disk && stats.disk_file_bytes == 0 && stats.memory_bytes > 0;
        }
        // Every fourth round drains the spool, so that pushes go back to
        // memory.
        let pops = if round % 4 == 3 {
            pushed.len()
        } else {
            (round * 5 % 19) as usize
        };
        for _ in 0..pops {
            let Some(want) = pushed.pop_front() else {
                break;
            };
            assert_same(&pop(&mut reader).await.unwrap(), &want);
        }
    }
    drop(writer);
    while let Some(got) = pop(&mut reader).await {
        assert_same(&got, &pushed.pop_front().unwrap());
    }
    assert!(pushed.is_empty());
    assert!(saw_disk && memory_after_disk, "both transitions happened");
    assert_eq!(reader.stats().events, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keeps_each_writers_order_with_many_writers() {
    const WRITERS: u32 = 6;
    const EVENTS: u64 = 600;
    let dir = tempfile::tempdir().unwrap();
    let (writer, mut reader) = spool(config(&dir, 8 * 1024, 1 << 30)).unwrap();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|shard| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for seq in 0..EVENTS {
                    writer.push(shard, command(seq, seq)).await.unwrap();
                    if seq.is_multiple_of(50) {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    drop(writer);
    let mut next = vec![0u64; WRITERS as usize];
    let mut spilled = false;
    while let Some((shard, got)) = pop(&mut reader).await {
        spilled |= reader.stats().disk_bytes > 0;
        let seq = &mut next[shard as usize];
        assert_eq!(got, command(*seq, *seq), "shard {shard}");
        *seq += 1;
    }
    assert_eq!(next, vec![EVENTS; WRITERS as usize]);
    assert!(spilled, "the memory budget was exceeded");
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn pop_returns_none_once_every_writer_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, mut reader) = spool(config(&dir, 200, 1 << 20)).unwrap();
    let other = writer.clone();
    for i in 0..5 {
        writer.push(0, command(i, i)).await.unwrap();
    }
    drop(writer);
    for i in 0..5 {
        assert_eq!(pop(&mut reader).await, Some((0, command(i, i))));
    }
    // A clone is still alive: the reader waits.
    assert!(timeout(A_WHILE, reader.pop()).await.is_err());
    // And wakes when it goes.
    let dropper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(other);
    });
    assert_eq!(pop(&mut reader).await, None);
    assert_eq!(pop(&mut reader).await, None);
    dropper.await.unwrap();
}

#[tokio::test]
async fn push_waits_while_the_disk_budget_is_full_and_resumes_once_drained() {
    let dir = tempfile::tempdir().unwrap();
    // No memory; 8 records of 113 bytes (tag, shard, length, 100 bytes)
    // fit in 1000, a ninth does not.
    let (writer, mut reader) = spool(config(&dir, 0, 1000)).unwrap();
    let chunk = |i: u8| Event::Snapshot(Bytes::from(vec![i; 100]));
    for i in 0..8 {
        timeout(SOON, writer.push(1, chunk(i)))
            .await
            .expect("room on disk")
            .unwrap();
    }
    assert_eq!(writer.stats().disk_file_bytes, 8 * 113);
    let blocked = tokio::spawn({
        let writer = writer.clone();
        async move { writer.push(1, chunk(8)).await }
    });
    tokio::time::sleep(A_WHILE).await;
    assert!(!blocked.is_finished(), "the ninth push waits");
    assert_eq!(writer.stats().disk_full_waits, 1);
    for i in 0..8 {
        assert_eq!(pop(&mut reader).await, Some((1, chunk(i))));
    }
    timeout(SOON, blocked).await.unwrap().unwrap().unwrap();
    assert_eq!(pop(&mut reader).await, Some((1, chunk(8))));
    assert_eq!(writer.stats().disk_full_waits, 1);
}

#[tokio::test]
async fn a_waiting_push_fails_when_the_reader_goes() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, reader) = spool(config(&dir, 0, 10)).unwrap();
    writer.push(0, command(1, 1)).await.unwrap();
    let blocked = tokio::spawn({
        let writer = writer.clone();
        async move { writer.push(0, command(2, 2)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(reader);
    let result = timeout(SOON, blocked).await.unwrap().unwrap();
    assert!(matches!(result, Err(SpoolError::Closed)), "{result:?}");
    assert!(matches!(
        writer.push(0, command(3, 3)).await,
        Err(SpoolError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_inside_select_with_a_busy_timer_loses_nothing() {
    const EVENTS: u64 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let (writer, mut reader) = spool(config(&dir, 4 * 1024, 1 << 30)).unwrap();
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS {
            writer.push(2, event(i)).await.unwrap();
            // Pauses, so that the reader often waits and is cancelled.
            if i.is_multiple_of(100) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let (mut next, mut ticks) = (0u64, 0u64);
    loop {
        tokio::select! {
            biased;
            _ = ticker.tick() => ticks += 1,
            popped = reader.pop() => match popped.unwrap() {
                Some(got) => {
                    assert_same(&got, &(2, event(next)));
                    next += 1;
                }
                None => break,
            },
        }
    }
    assert_eq!(next, EVENTS);
    assert!(ticks > 10, "the timer cancelled pops ({ticks} ticks)");
    producer.await.unwrap();
}

/// Pushes two commands to disk, writes `garbage` at the start of the file,
/// and returns the first pop's error.
async fn pop_after_writing(garbage: &[u8]) -> (SpoolError, SpoolWriter, SpoolReader) {
    let dir = tempfile::tempdir().unwrap();
    let (writer, mut reader) = spool(config(&dir, 0, 1 << 20)).unwrap();
    writer.push(0, command(1, 1)).await.unwrap();
    writer.push(0, command(2, 2)).await.unwrap();
    // Over what is in the file, or before what the writer still buffers:
    // either way the reader finds these bytes first.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(reader.disk_path())
        .unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(garbage).unwrap();
    drop(file);
    let err = timeout(SOON, reader.pop()).await.unwrap().unwrap_err();
    (err, writer, reader)
}

#[tokio::test]
async fn a_corrupt_spool_file_is_an_error_naming_file_and_offset() {
    // An unknown tag.
    let (err, writer, mut reader) = pop_after_writing(&[0xEE; 16]).await;
    let path = reader.disk_path().to_owned();
    assert!(
        matches!(&err, SpoolError::Corrupt { path: p, offset: 0, .. } if *p == path),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains("byte 0") && text.contains("tag 238"),
        "{text}"
    );
    // The spool is failed for both halves from now on.
    assert!(matches!(reader.pop().await, Err(SpoolError::Failed)));
    assert!(matches!(
        writer.push(0, command(3, 3)).await,
        Err(SpoolError::Failed)
    ));

    // A length longer than what was written: an error, not an allocation.
    let mut huge = vec![4u8, 0, 0, 0, 0];
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    let (err, ..) = pop_after_writing(&huge).await;
    assert!(
        matches!(&err, SpoolError::Corrupt { offset: 0, what, .. } if what.contains("length")),
        "{err:?}"
    );

    // A command record whose bytes are not RESP.
    let mut not_resp = vec![6u8, 0, 0, 0, 0];
    not_resp.extend_from_slice(&7u64.to_le_bytes());
    not_resp.extend_from_slice(&20u64.to_le_bytes());
    not_resp.extend_from_slice(b"this is not a RESP c");
    let (err, ..) = pop_after_writing(&not_resp).await;
    assert!(
        matches!(&err, SpoolError::Corrupt { offset: 0, what, .. } if what.contains("command")),
        "{err:?}"
    );

    // A replication id that is not UTF-8.
    let mut bad_replid = vec![2u8, 0, 0, 0, 0];
    bad_replid.extend_from_slice(&2u64.to_le_bytes());
    bad_replid.extend_from_slice(&[0xff, 0xfe]);
    let (err, ..) = pop_after_writing(&bad_replid).await;
    assert!(matches!(&err, SpoolError::Corrupt { .. }), "{err:?}");
}

#[tokio::test]
async fn the_file_is_made_in_a_new_directory_and_removed_when_both_halves_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    let (writer, reader) = spool(SpoolConfig::new(&nested)).unwrap();
    let path = reader.disk_path().to_owned();
    assert!(path.starts_with(&nested) && path.exists());
    assert_eq!(writer.disk_path(), path);
    // A second spool in the same directory has its own file.
    let (w2, r2) = spool(SpoolConfig::new(&nested)).unwrap();
    assert_ne!(r2.disk_path(), path);
    drop((w2, r2));

    writer.push(0, command(1, 1)).await.unwrap();
    drop(reader);
    assert!(path.exists(), "the writer still holds it");
    drop(writer);
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(&nested).unwrap().count(), 0);
}

#[tokio::test]
async fn stats_tell_memory_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    // Two 100-byte chunks fit in memory (100 + 64 each), a third does not.
    let (writer, mut reader) = spool(config(&dir, 400, 1 << 20)).unwrap();
    let chunk = |i: u8| Event::Snapshot(Bytes::from(vec![i; 100]));
    writer.push(0, chunk(0)).await.unwrap();
    writer.push(0, chunk(1)).await.unwrap();
    let stats = writer.stats();
    assert_eq!(
        (stats.memory_bytes, stats.disk_bytes, stats.events),
        (328, 0, 2)
    );
    writer.push(0, chunk(2)).await.unwrap();
    // Once something is on disk, what follows goes there too.
    writer.push(0, Event::SnapshotEnd).await.unwrap();
    let stats = reader.stats();
    assert_eq!(stats.memory_bytes, 328);
    assert_eq!(stats.disk_bytes, 113 + 5);
    assert_eq!(stats.disk_file_bytes, 113 + 5);
    assert_eq!(stats.events, 4);
    assert_eq!(stats.spilled_bytes_total, 113 + 5);
    pop(&mut reader).await.unwrap();
    pop(&mut reader).await.unwrap();
    pop(&mut reader).await.unwrap();
    let stats = reader.stats();
    assert_eq!(
        (stats.memory_bytes, stats.disk_bytes, stats.events),
        (0, 5, 1)
    );
    assert_eq!(stats.disk_file_bytes, 113 + 5);
    assert_eq!(pop(&mut reader).await, Some((0, Event::SnapshotEnd)));
    // Drained: the file starts again, pushes return to memory.
    assert_eq!(
        reader.stats(),
        ferry_replica::SpoolStats {
            spilled_bytes_total: 118,
            ..Default::default()
        }
    );
    writer.push(0, chunk(3)).await.unwrap();
    assert_eq!(writer.stats().memory_bytes, 164);
    assert_eq!(std::fs::metadata(reader.disk_path()).unwrap().len(), 0);
}
