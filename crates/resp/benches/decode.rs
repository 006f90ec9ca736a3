//! Decoding throughput, beside `redis-protocol` on the same inputs.
//!
//! Run: `cargo bench -p ferry-resp --bench decode`. Figures are recorded in
//! docs/performance.md.

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferry_resp::{Command, Decoder, Frame};
use std::hint::black_box;

const PIPELINE: usize = 100_000;
const READ_BYTES: usize = 16 * 1024;

/// 100k `+OK` replies: what a target answers to a pipeline of SETs.
fn set_replies() -> Bytes {
    Bytes::from(b"+OK\r\n".repeat(PIPELINE))
}

/// 100k `SET key:N value` commands with 16 to 80-byte values: a replication
/// stream of small writes.
fn set_commands() -> Bytes {
    let mut out = BytesMut::new();
    for i in 0..PIPELINE {
        let value = vec![b'v'; 16 + i % 64];
        Command::new("SET")
            .arg(format!("key:{i:08}"))
            .arg(value)
            .encode(&mut out);
    }
    out.freeze()
}

/// One 64 MiB bulk string.
fn big_bulk() -> Bytes {
    Frame::Bulk(Bytes::from(vec![b'x'; 64 << 20])).to_bytes()
}

/// One array of `n` short bulk strings (an LRANGE or SCAN reply).
fn big_array(n: usize) -> Bytes {
    Frame::Array(
        (0..n)
            .map(|i| Frame::Bulk(Bytes::from(format!("member:{i}"))))
            .collect(),
    )
    .to_bytes()
}

/// Decodes every frame of a whole buffer with Ferry's decoder.
fn ferry_whole(mut buf: BytesMut) -> usize {
    let mut dec = Decoder::new();
    let mut total = 0;
    while let Some((frame, len)) = dec.decode(&mut buf).ok().flatten() {
        black_box(frame);
        total += len;
    }
    total
}

/// Decodes every command of a whole buffer with `decode_command`, which
/// keeps each command in its wire form, and reads every part of it (which
/// `redis-protocol` does while decoding) so that the comparison is fair.
fn ferry_commands_whole(mut buf: BytesMut) -> usize {
    let mut dec = Decoder::new();
    let mut total = 0;
    while let Some((cmd, len)) = dec.decode_command(&mut buf).ok().flatten() {
        cmd.parts().for_each(|p| {
            black_box(p);
        });
        total += len;
    }
    total
}

/// `decode_command` on `input` delivered `read` bytes at a time.
fn ferry_commands(input: &[u8], read: usize) -> usize {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::with_capacity(read.min(input.len()));
    let mut total = 0;
    for piece in input.chunks(read) {
        buf.extend_from_slice(piece);
        while let Some((cmd, len)) = dec.decode_command(&mut buf).ok().flatten() {
            cmd.parts().for_each(|p| {
                black_box(p);
            });
            total += len;
        }
    }
    total
}

/// The same with `redis-protocol`'s zero-copy decoder (RESP2).
fn redis_protocol_whole(mut buf: BytesMut) -> usize {
    let mut total = 0;
    while let Some((frame, len, _)) = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf)
        .ok()
        .flatten()
    {
        black_box(frame);
        total += len;
    }
    total
}

/// Decodes every frame of `input`, delivered `read` bytes at a time, with
/// Ferry's decoder. Returns the frames' total wire length.
fn ferry(input: &[u8], read: usize) -> usize {
    let mut dec = Decoder::new();
    let mut buf = BytesMut::with_capacity(read.min(input.len()));
    let mut total = 0;
    for piece in input.chunks(read) {
        buf.extend_from_slice(piece);
        while let Some((frame, len)) = dec.decode(&mut buf).ok().flatten() {
            black_box(frame);
            total += len;
        }
    }
    total
}

/// The same with `redis-protocol` (RESP2), the way its codec uses it: try
/// to decode the buffer; on "incomplete" wait for the next read.
fn redis_protocol(input: &[u8], read: usize) -> usize {
    let mut buf = BytesMut::with_capacity(read.min(input.len()));
    let mut total = 0;
    for piece in input.chunks(read) {
        buf.extend_from_slice(piece);
        while let Some((frame, len, _)) = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf)
            .ok()
            .flatten()
        {
            black_box(frame);
            total += len;
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    let cases: [(&str, Bytes, usize); 5] = [
        ("set_replies_100k/whole", set_replies(), usize::MAX),
        ("set_commands_100k/whole", set_commands(), usize::MAX),
        ("set_commands_100k/16KiB_reads", set_commands(), READ_BYTES),
        ("bulk_64MiB/16KiB_reads", big_bulk(), READ_BYTES),
        ("array_10k/16KiB_reads", big_array(10_000), READ_BYTES),
    ];
    for (name, input, read) in &cases {
        assert_eq!(ferry(input, *read), input.len());
        assert_eq!(redis_protocol(input, *read), input.len());
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Bytes(input.len() as u64));
        if input.len() > 1 << 20 {
            group.sample_size(10);
        }
        if *read >= input.len() {
            // The whole input is in one buffer before decoding starts: time
            // the decoding only.
            let setup = || BytesMut::from(&input[..]);
            group.bench_function(BenchmarkId::new("ferry", ""), |b| {
                b.iter_batched(setup, ferry_whole, BatchSize::LargeInput)
            });
            if name.starts_with("set_commands") {
                group.bench_function(BenchmarkId::new("ferry-decode_command", ""), |b| {
                    b.iter_batched(setup, ferry_commands_whole, BatchSize::LargeInput)
                });
            }
            group.bench_function(BenchmarkId::new("redis-protocol", ""), |b| {
                b.iter_batched(setup, redis_protocol_whole, BatchSize::LargeInput)
            });
        } else {
            // Reads are appended to the buffer as a socket reader would.
            group.bench_function(BenchmarkId::new("ferry", ""), |b| {
                b.iter(|| ferry(input, *read))
            });
            if name.starts_with("set_commands") {
                assert_eq!(ferry_commands(input, *read), input.len());
                group.bench_function(BenchmarkId::new("ferry-decode_command", ""), |b| {
                    b.iter(|| ferry_commands(input, *read))
                });
            }
            group.bench_function(BenchmarkId::new("redis-protocol", ""), |b| {
                b.iter(|| redis_protocol(input, *read))
            });
        }
        group.finish();
    }

    // Linear, not quadratic: the cost per byte of an array arriving in
    // 16 KiB reads stays the same as the array grows tenfold.
    // redis-protocol re-parses the frame from its start on every read, so
    // its cost grows with the square of the size: measured up to 100k only.
    let mut group = c.benchmark_group("array_in_16KiB_reads");
    group.sample_size(10);
    for n in [10_000, 100_000, 1_000_000] {
        let input = big_array(n);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("ferry", n), &input, |b, input| {
            b.iter(|| ferry(input, READ_BYTES))
        });
        if n <= 100_000 {
            group.bench_with_input(BenchmarkId::new("redis-protocol", n), &input, |b, input| {
                b.iter(|| redis_protocol(input, READ_BYTES))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
