#!/usr/bin/env bash
# Times `ferry restore FILE` against the target's own ingest ceiling: the same
# dataset as a RESP file (`ferry dump --format resp FILE`) sent by
# `redis-cli --pipe`, for a standalone target and for a 3-master cluster
# (each master's share of the commands sent to it by its own redis-cli, all
# in parallel). Everything runs on 127.0.0.1 with Debian's redis-server.
#
# The dataset: KEYS keys (default 1,000,000) written by a real redis-server:
# 70% strings of 10-99 bytes, 10% hashes of 10 fields, 10% lists of 8 items,
# 5% sets and 5% sorted sets of 8 members; 1 key in 10 with a TTL.
#
# Each measurement runs RUNS times (default 3) into an empty target; the
# median wall time is reported, with Ferry's peak memory (its own summary).
#
# Usage: scripts/bench-restore.sh          (builds target/release/ferry first)
# Env:   KEYS=1000000 RUNS=3 SKIP_BUILD=1 WORK=DIR (keep files there)
#        PARALLEL=4 (ferry --parallel for the standalone target)
# Needs: redis-server, redis-cli, python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$ROOT/target/release/ferry}
KEYS=${KEYS:-1000000}
RUNS=${RUNS:-3}
PARALLEL=${PARALLEL:-4}
KEEP_WORK=1
if [[ -z "${WORK:-}" ]]; then
    WORK=$(mktemp -d -t ferry-bench-restore.XXXXXX)
    KEEP_WORK=0
fi
mkdir -p "$WORK"

for tool in redis-server redis-cli python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
if [[ -z "${SKIP_BUILD:-}" ]]; then
    (cd "$ROOT" && cargo build --release --locked -p ferry-cli)
fi
[[ -x "$FERRY" ]] || { echo "no ferry binary at $FERRY" >&2; exit 1; }

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ "$KEEP_WORK" == 0 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# A free port whose cluster bus port (+10000) is free too.
free_port() {
    python3 - <<'EOF'
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p > 55535: a.close(); continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()
EOF
}

# start_server NAME [args...]: starts redis-server in $WORK/NAME; sets PORT.
start_server() {
    local name=$1; shift
    local dir=$WORK/$name
    PORT=$(free_port)
    mkdir -p "$dir"
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$dir" --save '' \
        --appendonly no --logfile "$dir/log" "$@" </dev/null >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "redis-server $name did not start: $(tail -5 "$dir/log")" >&2
    exit 1
}

now() { python3 -c 'import time; print(time.time())'; }
median() { python3 -c 'import sys, statistics; print("%.2f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }

# --- the dataset -------------------------------------------------------------
start_server source --dbfilename dump.rdb; SRC=$PORT
echo "generating $KEYS keys ..."
python3 - "$KEYS" > "$WORK/gen.resp" <<'EOF'
import sys
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
n = int(sys.argv[1])
for i in range(n):
    r = i % 20
    if r < 14:
        key = "str:%d" % i
        cmd("SET", key, "v" * (10 + i % 90))
    elif r < 16:
        key = "hash:%d" % i
        cmd("HSET", key, *sum([["f%d" % j, "val%d" % j] for j in range(10)], []))
    elif r < 18:
        key = "list:%d" % i
        cmd("RPUSH", key, *["item%d" % j for j in range(8)])
    elif r < 19:
        key = "set:%d" % i
        cmd("SADD", key, *["m%d" % j for j in range(8)])
    else:
        key = "zset:%d" % i
        cmd("ZADD", key, *sum([[str(j * 1.5), "m%d" % j] for j in range(8)], []))
    if i % 10 == 3:
        cmd("PEXPIRE", key, 86400000)
EOF
redis-cli -p "$SRC" --pipe < "$WORK/gen.resp" >/dev/null
redis-cli -p "$SRC" save >/dev/null
RDB=$WORK/source/dump.rdb
"$FERRY" dump --format resp --quiet "$RDB" > "$WORK/dump.resp"
echo "dataset: $(redis-cli -p "$SRC" dbsize) keys, RDB $(du -m "$RDB" | cut -f1) MB, RESP $(du -m "$WORK/dump.resp" | cut -f1) MB"

# --- standalone ---------------------------------------------------------------
start_server target; TGT=$PORT
pipe_times=(); ferry_times=(); peaks=()
for run in $(seq "$RUNS"); do
    redis-cli -p "$TGT" flushall >/dev/null
    t0=$(now); redis-cli -p "$TGT" --pipe < "$WORK/dump.resp" >/dev/null; t1=$(now)
    pipe_times+=("$(python3 -c "print($t1 - $t0)")")
    redis-cli -p "$TGT" flushall >/dev/null
    t0=$(now)
    "$FERRY" restore "$RDB" --target "127.0.0.1:$TGT" --parallel "$PARALLEL" --progress none 2> "$WORK/ferry.log"
    t1=$(now)
    ferry_times+=("$(python3 -c "print($t1 - $t0)")")
    peaks+=("$(sed -n 's/^ferry: peak memory \(.*\) MB$/\1/p' "$WORK/ferry.log")")
    [[ "$(redis-cli -p "$TGT" dbsize)" == "$KEYS" ]] || { echo "ferry left $(redis-cli -p "$TGT" dbsize) keys" >&2; exit 1; }
done
P=$(median "${pipe_times[@]}"); F=$(median "${ferry_times[@]}")
echo "standalone: redis-cli --pipe ${P} s, ferry restore ${F} s (ratio $(python3 -c "print('%.2f' % ($F / $P))")), ferry peak memory $(median "${peaks[@]}") MB"

# --- 3-master cluster ---------------------------------------------------------
NODES=()
for i in 1 2 3; do
    start_server "node$i" --cluster-enabled yes --cluster-config-file nodes.conf
    NODES+=("$PORT")
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${NODES[@]}") --cluster-yes >/dev/null
for _ in $(seq 200); do
    ok=1
    for p in "${NODES[@]}"; do
        redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || ok=0
    done
    [[ $ok == 1 ]] && break
    sleep 0.1
done
# Each master's share of the RESP file, by the slot of each command's key.
python3 - "$WORK/dump.resp" "$WORK" "${NODES[@]}" <<'EOF'
import subprocess, sys
path, work, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc
def slot(key):
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % 16384
owner = [None] * 16384
for p in ports:
    out = subprocess.run(["redis-cli", "-p", p, "cluster", "myid"], capture_output=True, text=True).stdout.strip()
    nodes = subprocess.run(["redis-cli", "-p", p, "cluster", "nodes"], capture_output=True, text=True).stdout
    for line in nodes.splitlines():
        f = line.split()
        if f[0] != out:
            continue
        for r in f[8:]:
            a, _, b = r.partition("-")
            for s in range(int(a), int(b or a) + 1):
                owner[s] = p
files = {p: open("%s/part-%s.resp" % (work, p), "wb") for p in ports}
data = open(path, "rb").read()
i = 0
while i < len(data):
    start = i
    nl = data.index(b"\r\n", i); n = int(data[i + 1:nl]); i = nl + 2
    args = []
    for _ in range(n):
        nl = data.index(b"\r\n", i); ln = int(data[i + 1:nl]); i = nl + 2
        args.append(data[i:i + ln]); i += ln + 2
    if args[0].upper() == b"SELECT":
        continue
    files[owner[slot(args[1])]].write(data[start:i])
EOF
pipe_times=(); ferry_times=(); peaks=()
for run in $(seq "$RUNS"); do
    for p in "${NODES[@]}"; do redis-cli -p "$p" flushall >/dev/null; done
    t0=$(now)
    pipes=()
    for p in "${NODES[@]}"; do
        redis-cli -p "$p" --pipe < "$WORK/part-$p.resp" >/dev/null &
        pipes+=($!)
    done
    for pid in "${pipes[@]}"; do wait "$pid"; done
    t1=$(now)
    pipe_times+=("$(python3 -c "print($t1 - $t0)")")
    total=0; for p in "${NODES[@]}"; do total=$((total + $(redis-cli -p "$p" dbsize))); done
    [[ "$total" == "$KEYS" ]] || { echo "redis-cli --pipe left $total keys" >&2; exit 1; }
    for p in "${NODES[@]}"; do redis-cli -p "$p" flushall >/dev/null; done
    t0=$(now)
    "$FERRY" restore "$RDB" --target "127.0.0.1:${NODES[0]}" --progress none 2> "$WORK/ferry.log"
    t1=$(now)
    ferry_times+=("$(python3 -c "print($t1 - $t0)")")
    peaks+=("$(sed -n 's/^ferry: peak memory \(.*\) MB$/\1/p' "$WORK/ferry.log")")
    total=0; for p in "${NODES[@]}"; do total=$((total + $(redis-cli -p "$p" dbsize))); done
    [[ "$total" == "$KEYS" ]] || { echo "ferry left $total keys" >&2; exit 1; }
done
P=$(median "${pipe_times[@]}"); F=$(median "${ferry_times[@]}")
echo "cluster (3 masters): redis-cli --pipe ${P} s, ferry restore ${F} s (ratio $(python3 -c "print('%.2f' % ($F / $P))")), ferry peak memory $(median "${peaks[@]}") MB"
