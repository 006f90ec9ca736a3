#!/usr/bin/env bash
# Times `ferry dump --format keys FILE` against `redis-check-rdb FILE` on RDB
# files written by a real redis-server (Debian's 7.0):
#   mixed.rdb     >= 500 MB of strings, hashes, lists, sets and sorted sets in
#                 listpack/intset and hashtable/skiplist encodings
#   big-lzf.rdb   one 1 GB string, saved with rdbcompression yes (LZF)
#   big-raw.rdb   the same string, saved with rdbcompression no
# Each command runs 3 times on a warm page cache; the fastest run is reported
# with its peak RSS (from /usr/bin/time -v) and MB/s (file bytes / wall time).
#
# Usage: scripts/bench-dump.sh            (builds target/release/ferry first)
# Env:   WORK=DIR        keep the files there (default: a temp dir, removed)
#        TARGET_MB=500   size of mixed.rdb to reach; BIG_MB=1024 big string size
#        SKIP_BUILD=1    use the existing target/release/ferry
#        RUNS=3          runs per command
#        REUSE=1         keep existing files in WORK instead of regenerating
#        FORMATS=keys    ferry dump formats to time (e.g. "keys jsonl": jsonl decodes every value)
# Needs: redis-server, redis-cli, redis-check-rdb, python3, /usr/bin/time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$ROOT/target/release/ferry}
TARGET_MB=${TARGET_MB:-500}
BIG_MB=${BIG_MB:-1024}
RUNS=${RUNS:-3}
FORMATS=${FORMATS:-keys}
KEEP_WORK=1
if [[ -z "${WORK:-}" ]]; then
    WORK=$(mktemp -d -t ferry-bench-dump.XXXXXX)
    KEEP_WORK=0
fi
mkdir -p "$WORK"

for tool in redis-server redis-cli redis-check-rdb python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

if [[ -z "${SKIP_BUILD:-}" ]]; then
    (cd "$ROOT" && cargo build --release --locked -p ferry-cli)
fi
[[ -x "$FERRY" ]] || { echo "no ferry binary at $FERRY" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER_PID=
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "$KEEP_WORK" == 0 ]]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }
# A command that must answer OK (redis-cli exits 0 on error replies).
ok() {
    local reply
    reply=$(cli "$@")
    [[ "$reply" == OK ]] || { echo "$*: $reply" >&2; exit 1; }
}

# Commands in RESP for `redis-cli --pipe`: random base64 payloads (which LZF
# barely compresses), sized so the RDB reaches TARGET_MB.
gen_mixed() {
    python3 - "$1" <<'EOF'
import base64, os, random, sys

scale = float(sys.argv[1])
out = sys.stdout.buffer
random.seed(7)

def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))

def rnd(n):
    return base64.b64encode(os.urandom(n * 3 // 4 + 3))[:n]

def n(x):
    return max(1, int(x * scale))

# Small strings: about 40% of the file.
for i in range(n(1_300_000)):
    cmd("SET", "str:%d" % i, rnd(random.randint(60, 240)) if i % 4 else str(random.getrandbits(40)))
# Listpack hashes (100 fields) and hashtable hashes (2000 fields).
for i in range(n(20_000)):
    args = ["HSET", "hash:%d" % i]
    for f in range(100):
        args += ["field:%d" % f, rnd(random.randint(10, 60))]
    cmd(*args)
for i in range(n(400)):
    for part in range(4):
        args = ["HSET", "bighash:%d" % i]
        for f in range(part * 500, part * 500 + 500):
            args += ["field:%d" % f, rnd(random.randint(20, 80))]
        cmd(*args)
# Lists (quicklist of listpacks).
for i in range(n(15_000)):
    cmd("RPUSH", "list:%d" % i, *[rnd(random.randint(10, 60)) for _ in range(120)])
# Sets: intsets, listpack sets (7.2+; 7.0 writes hashtables), hashtable sets.
for i in range(n(20_000)):
    cmd("SADD", "intset:%d" % i, *[str(random.getrandbits(31)) for _ in range(100)])
for i in range(n(5_000)):
    cmd("SADD", "set:%d" % i, *[rnd(random.randint(8, 40)) for _ in range(200)])
# Sorted sets: listpack (<= 128 entries) and skiplist.
for i in range(n(10_000)):
    args = ["ZADD", "zset:%d" % i]
    for m in range(100):
        args += [str(random.random() * 1000), rnd(random.randint(8, 30))]
    cmd(*args)
for i in range(n(400)):
    args = ["ZADD", "bigzset:%d" % i]
    for m in range(2000):
        args += [str(random.random() * 1e6), "member:%d" % m]
    cmd(*args)
# Some TTLs.
for i in range(0, n(1_300_000), 10):
    cmd("PEXPIRE", "str:%d" % i, 10**10)
EOF
}

# About 1 MB of compressible text per APPEND (words from a small vocabulary).
gen_big() {
    python3 - "$1" <<'EOF'
import random, sys

mb = int(sys.argv[1])
out = sys.stdout.buffer
random.seed(11)
words = [("".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(random.randint(2, 9)))).encode() for _ in range(4000)]
blocks = []
for _ in range(8):
    b = bytearray()
    while len(b) < 1 << 20:
        b += random.choice(words) + b" "
    blocks.append(bytes(b[: 1 << 20]))
for i in range(mb):
    chunk = blocks[i % len(blocks)]
    out.write(b"*3\r\n$6\r\nAPPEND\r\n$3\r\nbig\r\n$%d\r\n%s\r\n" % (len(chunk), chunk))
EOF
}

file_mb() { python3 -c "import os,sys; print(os.path.getsize(sys.argv[1]) / 1e6)" "$1"; }

generate() {
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$WORK" --dbfilename mixed.rdb --enable-protected-configs yes \
        --proto-max-bulk-len 2gb --client-query-buffer-limit 2gb \
        --logfile "$WORK/redis.log" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        cli ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
    cli ping | grep -q PONG
    echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$PORT, files in $WORK"

    # 1. The mixed file; grow the scale until it reaches TARGET_MB.
    SCALE=1.15
    while :; do
        ok FLUSHALL
        echo "filling (scale $SCALE)..."
        gen_mixed "$SCALE" | cli --pipe >/dev/null
        ok CONFIG SET dbfilename mixed.rdb
        ok SAVE
        SIZE=$(file_mb "$WORK/mixed.rdb")
        echo "mixed.rdb: $SIZE MB, $(cli DBSIZE) keys"
        if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$SIZE" "$TARGET_MB"; then
            break
        fi
        SCALE=$(python3 -c "import sys; print(round(float(sys.argv[1]) * float(sys.argv[2]) / float(sys.argv[3]) * 1.05, 3))" "$SCALE" "$TARGET_MB" "$SIZE")
    done

    # 2. One big string, saved compressed and not.
    ok FLUSHALL
    echo "appending a $BIG_MB MB string..."
    gen_big "$BIG_MB" | cli --pipe >/dev/null
    echo "big: $(cli STRLEN big) bytes"
    ok CONFIG SET rdbcompression yes
    ok CONFIG SET dbfilename big-lzf.rdb
    ok SAVE
    ok CONFIG SET rdbcompression no
    ok CONFIG SET dbfilename big-raw.rdb
    ok SAVE
    ok FLUSHALL
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

if [[ -n "${REUSE:-}" && -f "$WORK/mixed.rdb" && -f "$WORK/big-lzf.rdb" && -f "$WORK/big-raw.rdb" ]]; then
    echo "reusing the files in $WORK"
else
    generate
fi

# Runs a command RUNS times; prints "seconds max_rss_kb" of the fastest run.
measure() {
    local best_s="" best_kb="" s kb log
    log=$(mktemp)
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -v "$@" >/dev/null 2>"$log" || {
            echo "failed: $*" >&2
            tail -n 30 "$log" >&2
            rm -f "$log"
            return 1
        }
        s=$(python3 - "$log" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t)
parts = [float(p) for p in m.group(1).split(":")]
sec = 0.0
for p in parts:
    sec = sec * 60 + p
print(sec)
EOF
)
        kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
        if [[ -z "$best_s" ]] || python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$s" "$best_s"; then
            best_s=$s
            best_kb=$kb
        fi
    done
    rm -f "$log"
    echo "$best_s $best_kb"
}

echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
printf '%-12s %10s  %-24s %9s %10s %12s\n' file MB tool seconds MB/s "peak RSS MB"
for f in mixed.rdb big-lzf.rdb big-raw.rdb; do
    path="$WORK/$f"
    mb=$(file_mb "$path")
    cat "$path" >/dev/null  # warm the page cache
    tools=()
    for fmt in $FORMATS; do
        tools+=("ferry:$fmt")
    done
    for tool in "${tools[@]}" redis-check-rdb; do
        if [[ "$tool" == ferry:* ]]; then
            read -r s kb < <(measure "$FERRY" dump --format "${tool#ferry:}" "$path")
            label="ferry dump --format ${tool#ferry:}"
        else
            read -r s kb < <(measure redis-check-rdb "$path")
            label="redis-check-rdb"
        fi
        python3 - "$f" "$mb" "$label" "$s" "$kb" <<'EOF'
import sys
f, mb, label, s, kb = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
print("%-12s %10.1f  %-24s %9.2f %10.1f %12.1f" % (f, mb, label, s, mb / s if s > 0 else float("inf"), kb / 1024))
EOF
    done
done
