#!/usr/bin/env bash
# Measures whether `ferry sync` keeps up with a source written at full speed:
# `redis-benchmark` sends SETs to the source for DURATION seconds while Ferry
# replicates them into a target. Everything runs on 127.0.0.1 with Debian's
# redis-server.
#
# Steps: start a source and a target redis-server on free loopback ports
# (`--save '' --appendonly no`); preload KEYS keys into the source; start
# `ferry sync --status-addr`; wait for the full copy (phase incremental, then
# caught-up); run `redis-benchmark -t set -P PIPELINE -c CLIENTS -r 1000000
# -d VALUE_BYTES` against the source for DURATION seconds; wait until the
# target has confirmed the source's last offset; compare DBSIZE.
#
# Two lag measurements run from 2 s before the writer until the end:
# - Ferry's status: `GET /status` every 100 ms (`lag_seconds`, `lag_bytes`,
#   `commands_applied`, the shard's offsets), with the source's SET count
#   and `master_repl_offset` read at the same moment;
# - an end-to-end probe: every PROBE_MS on average (randomly 0.5 to 1.5
#   times it), `SADD ferry-bench:probes N` on the source, then `SISMEMBER` on
#   the target every 0.5 ms until it is there; the time from the source's
#   reply to the member's arrival is the lag a reader of the target sees.
#
# Reported (a markdown table on stdout, then notes):
# - source SETs/s and stream MB/s: `cmdstat_set` calls (`INFO commandstats`)
#   and `master_repl_offset`, between the first and the last 100 ms sample
#   taken while the writer ran (not redis-benchmark's own figure);
# - Ferry's applied commands/s (`commands_applied`) and confirmed MB/s (the
#   shard's `applied_offset`) between the same two samples, timed by the
#   status's own `uptime_seconds`;
# - lag during the write: p50 / p99 / max of the probe, of the status's
#   `lag_seconds`, and of the bytes received but not yet confirmed
#   (`received_offset - applied_offset`), over the distinct status
#   publications (every 100 ms);
# - catch-up: from the writer's end until `applied_offset` reached the
#   source's `master_repl_offset` read at that moment;
# - Ferry's peak RSS (`VmHWM`), the CPU seconds of Ferry, both servers and
#   the two Python samplers during the write, how busy the whole machine was
#   (`/proc/stat`), and the gaps in the 100 ms sampling, so that figures from
#   a loaded machine can be read as such;
# - DBSIZE of source and target (the script fails if they differ).
#
# Usage: scripts/bench-sync.sh          (builds target/release/ferry first)
# Env:   DURATION=30 KEYS=100000 PIPELINE=16 CLIENTS=50 VALUE_BYTES=64
#        PROBE_MS=20 SKIP_BUILD=1 (use the existing binary)
#        WORK=DIR (keep the files there: logs, status.jsonl, probe.jsonl)
#        SOURCE_BENCH_ARGS="..." (more redis-benchmark arguments, e.g.
#        "--threads 2"), FERRY_ARGS="..." (more `ferry sync` arguments)
#        SYNC_TIMEOUT=300 CATCHUP_TIMEOUT=120 (seconds)
#        CONTROL_REPLICA=1: also start a redis-server replica of the source
#        (`--replicaof`) and probe it like the target: Redis's own
#        replication on the same machine at the same time, for comparison
#        (it costs the source a second stream and the machine a third server)
# Needs: redis-server, redis-cli, redis-benchmark (Debian: redis-tools),
#        python3, timeout (coreutils).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY:-$ROOT/target/release/ferry}
DURATION=${DURATION:-30}
KEYS=${KEYS:-100000}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
VALUE_BYTES=${VALUE_BYTES:-64}
PROBE_MS=${PROBE_MS:-20}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-300}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-120}
SOURCE_BENCH_ARGS=${SOURCE_BENCH_ARGS:-}
FERRY_ARGS=${FERRY_ARGS:-}
KEEP_WORK=1
if [[ -z "${WORK:-}" ]]; then
    WORK=$(mktemp -d -t ferry-bench-sync.XXXXXX)
    KEEP_WORK=0
fi
mkdir -p "$WORK"
rm -f "$WORK/poll.stop"

for tool in redis-server redis-cli python3 timeout; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
command -v redis-benchmark >/dev/null || {
    echo "missing: redis-benchmark (Debian and Ubuntu ship it in redis-tools: apt-get install redis-tools)" >&2
    exit 1
}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$ROOT" && cargo build --release --locked -p ferry-cli)
fi
[[ -x "$FERRY" ]] || { echo "no ferry binary at $FERRY" >&2; exit 1; }

PIDS=()
cleanup() {
    touch "$WORK/poll.stop" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ "$KEEP_WORK" == 0 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "bench-sync: $*" >&2
    if [[ -s "$WORK/ferry.log" ]]; then
        echo "--- last lines of ferry's log:" >&2
        tail -20 "$WORK/ferry.log" >&2
    fi
    exit 1
}

# A free loopback port.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

rcli() { timeout 10 redis-cli -h 127.0.0.1 "$@"; }

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
        rcli -p "$PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "redis-server $name did not start: $(tail -5 "$dir/log")" >&2
    exit 1
}

now() { python3 -c 'import time; print("%.6f" % time.time())'; }

# status_field EXPR: a Python expression over the status `s` (a dict) and its
# first shard `sh`, printed; "unreachable" when the endpoint does not answer.
status_field() {
    python3 - "$STATUS_PORT" "$1" <<'EOF'
import json, sys, urllib.request
port, expr = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/status" % port, timeout=2) as r:
        s = json.load(r)
except Exception:
    print("unreachable"); sys.exit(0)
sh = s["shards"][0] if s.get("shards") else {}
print(eval(expr))
EOF
}

# wait_for SECONDS WHAT EXPR: until status_field EXPR prints True.
wait_for() {
    local limit=$1 what=$2 expr=$3
    local deadline=$(( $(date +%s) + limit )) got
    while :; do
        kill -0 "$FERRY_PID" 2>/dev/null || fail "ferry sync exited while waiting for $what"
        got=$(status_field "$expr")
        [[ "$got" == True ]] && return 0
        [[ "$(status_field 's["phase"]')" == failed ]] && fail "ferry sync failed"
        (( $(date +%s) < deadline )) || fail "no $what after $limit s (status: $(status_field 's'))"
        sleep 0.1
    done
}

# source_counters: SET calls, total commands, replication offset, CPU seconds.
source_counters() {
    rcli -p "$SRC" info all | tr -d '\r' | python3 -c '
import sys
f = dict(l.split(":", 1) for l in sys.stdin.read().splitlines() if ":" in l)
sets = 0
for part in f.get("cmdstat_set", "").split(","):
    if part.startswith("calls="):
        sets = int(part[6:])
cpu = float(f["used_cpu_user"]) + float(f["used_cpu_sys"])
print(sets, f["total_commands_processed"], f["master_repl_offset"], "%.3f" % cpu)'
}
server_cpu() {
    rcli -p "$1" info cpu | tr -d '\r' | python3 -c '
import sys
f = dict(l.split(":", 1) for l in sys.stdin.read().splitlines() if ":" in l)
print("%.3f" % (float(f["used_cpu_user"]) + float(f["used_cpu_sys"])))'
}
# CPU seconds of a process (user + system).
proc_cpu() {
    python3 -c '
import os, sys
f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print("%.3f" % ((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")))' "$1"
}
# Busy and total jiffies of the whole machine.
machine_cpu() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# --- servers and the preloaded data -------------------------------------------
echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# The source starts the transfer of a full copy at once (Redis 7.0 otherwise
# waits 5 s for more replicas); nothing else differs from its defaults.
start_server source --repl-diskless-sync-delay 0; SRC=$PORT
start_server target; TGT=$PORT
if (( KEYS > 0 )); then
    echo "preloading $KEYS keys ..." >&2
    python3 - "$KEYS" "$VALUE_BYTES" <<'EOF' | timeout 300 redis-cli -h 127.0.0.1 -p "$SRC" --pipe >/dev/null
import sys
out = sys.stdout.buffer
n, size = int(sys.argv[1]), int(sys.argv[2])
value = b"x" * size
batch = []
for i in range(n):
    key = b"preload:%d" % i
    batch.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value))
    if len(batch) == 10000:
        out.write(b"".join(batch)); batch = []
out.write(b"".join(batch))
EOF
    [[ "$(rcli -p "$SRC" dbsize)" == "$KEYS" ]] || fail "preload left $(rcli -p "$SRC" dbsize) keys"
fi

# --- ferry sync -----------------------------------------------------------------
STATUS_PORT=$(free_port)
mkdir -p "$WORK/spool"
# shellcheck disable=SC2086 # FERRY_ARGS is a list of words
"$FERRY" sync --source "127.0.0.1:$SRC" --target "127.0.0.1:$TGT" \
    --status-addr "127.0.0.1:$STATUS_PORT" --work-dir "$WORK/spool" \
    --progress log $FERRY_ARGS </dev/null 2> "$WORK/ferry.log" >/dev/null &
FERRY_PID=$!
PIDS+=("$FERRY_PID")
t_sync=$(now)
wait_for "$SYNC_TIMEOUT" "full copy" 's["phase"] in ("incremental", "caught-up")'
t_copied=$(now)
# `caught-up` needs a nonzero `master_repl_offset`, which an idle source
# reaches with its first PING to replicas (repl-ping-replica-period, 10 s).
wait_for 60 "phase caught-up" 's["phase"] == "caught-up"'
echo "full copy of $(rcli -p "$TGT" dbsize) keys: incremental after $(python3 -c "print('%.2f' % ($t_copied - $t_sync))") s, caught-up after $(python3 -c "print('%.2f' % ($(now) - $t_sync))") s" >&2
if [[ "${CONTROL_REPLICA:-0}" == 1 ]]; then
    start_server control --replicaof 127.0.0.1 "$SRC"; CONTROL=$PORT
    for _ in $(seq 600); do
        rcli -p "$CONTROL" info replication | grep -q '^master_link_status:up' && break
        sleep 0.1
    done
    rcli -p "$CONTROL" info replication | grep -q '^master_link_status:up' \
        || fail "the control replica did not connect to the source"
fi

# --- the status poller and the end-to-end probe ---------------------------------
# Every 100 ms: Ferry's status, and the source's SET count and replication
# offset (over one connection kept open).
python3 - "$STATUS_PORT" "$SRC" "$WORK/status.jsonl" "$WORK/poll.stop" <<'EOF' &
import json, os, socket, sys, time, urllib.request
port, src_port, path, stop = sys.argv[1:5]
url = "http://127.0.0.1:%s/status" % port
src = socket.create_connection(("127.0.0.1", int(src_port)), timeout=5)
src_in = src.makefile("rb")
def source_counters():
    src.sendall(b"*3\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n$11\r\nreplication\r\n")
    n = int(src_in.readline()[1:])
    text = src_in.read(n + 2).decode()
    sets, offset = 0, None
    for line in text.splitlines():
        if line.startswith("cmdstat_set:"):
            sets = int(line.split("calls=", 1)[1].split(",", 1)[0])
        elif line.startswith("master_repl_offset:"):
            offset = int(line.split(":", 1)[1])
    return sets, offset
with open(path, "w") as out:
    next_at = time.monotonic()
    while not os.path.exists(stop):
        t = time.time()
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                s = json.load(r)
            sh = s["shards"][0] if s["shards"] else {}
            row = {k: s.get(k) for k in ("phase", "uptime_seconds", "lag_seconds", "lag_bytes",
                                         "commands_applied", "commands_received",
                                         "spool_memory_bytes", "spool_disk_bytes")}
            row.update({k: sh.get(k) for k in ("source_offset", "received_offset", "applied_offset")})
        except Exception as e:
            row = {"error": str(e)}
        row["t"] = t
        row["src_sets"], row["src_offset"] = source_counters()
        out.write(json.dumps(row) + "\n"); out.flush()
        next_at = max(next_at + 0.1, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))
EOF
POLL_PID=$!
PIDS+=("$POLL_PID")
# The probe: `SADD` rather than `SET`, so that the source's SET count is the
# writer's; a random interval (0.5 to 1.5 times PROBE_MS), so that it does not
# fall into step with Ferry's 10 ms tick.
python3 - "$SRC" "$TGT" "${CONTROL:-0}" "$WORK/probe.jsonl" "$WORK/poll.stop" "$PROBE_MS" <<'EOF' &
import json, os, random, socket, sys, time
src_port, tgt_port, control_port, path, stop, every = sys.argv[1:7]
every = float(every) / 1000
def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, s.makefile("rb")
def call(conn, *args):
    s, f = conn
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    line = f.readline()
    if not line.startswith(b":"):
        raise SystemExit("probe: unexpected reply %r" % line)
    return line
src = connect(src_port)
# Ferry's target, and a real replica of the source when CONTROL is set.
readers = {"lag": connect(tgt_port)}
if control_port != "0":
    readers["control"] = connect(control_port)
key = b"ferry-bench:probes"
with open(path, "w") as out:
    i = 0
    while not os.path.exists(stop):
        i += 1
        member = b"%d" % i
        t = time.time()
        call(src, b"SADD", key, member)
        written = time.monotonic()
        row = {"t": t}
        waiting = dict(readers)
        while waiting and time.monotonic() - written < 10:
            for name, conn in list(waiting.items()):
                if call(conn, b"SISMEMBER", key, member) == b":1\r\n":
                    row[name] = time.monotonic() - written
                    del waiting[name]
            if waiting:
                time.sleep(0.0005)
        for name in waiting:
            row[name] = None
        out.write(json.dumps(row) + "\n"); out.flush()
        time.sleep(every * random.uniform(0.5, 1.5))
EOF
PROBE_PID=$!
PIDS+=("$PROBE_PID")
sleep 2

# --- the writer -------------------------------------------------------------------
read -r sets0 cmds0 off0 scpu0 <<<"$(source_counters)"
tcpu0=$(server_cpu "$TGT"); fcpu0=$(proc_cpu "$FERRY_PID")
pcpu0=$(python3 -c "print($(proc_cpu "$POLL_PID") + $(proc_cpu "$PROBE_PID"))"); read -r mbusy0 mtotal0 <<<"$(machine_cpu)"
load0=$(cut -d' ' -f1 /proc/loadavg)
t0=$(now)
echo "writing for $DURATION s: redis-benchmark -t set -P $PIPELINE -c $CLIENTS -r 1000000 -d $VALUE_BYTES $SOURCE_BENCH_ARGS" >&2
# shellcheck disable=SC2086 # SOURCE_BENCH_ARGS is a list of words
timeout -s INT -k 5 "$DURATION" redis-benchmark -h 127.0.0.1 -p "$SRC" -t set \
    -P "$PIPELINE" -c "$CLIENTS" -r 1000000 -d "$VALUE_BYTES" -n 2000000000 -q \
    $SOURCE_BENCH_ARGS </dev/null > "$WORK/benchmark.log" 2>&1 &
BENCH_PID=$!
PIDS+=("$BENCH_PID")
rc=0; wait "$BENCH_PID" || rc=$?
t1=$(now)
read -r sets1 cmds1 off1 scpu1 <<<"$(source_counters)"
tcpu1=$(server_cpu "$TGT"); fcpu1=$(proc_cpu "$FERRY_PID")
pcpu1=$(python3 -c "print($(proc_cpu "$POLL_PID") + $(proc_cpu "$PROBE_PID"))"); read -r mbusy1 mtotal1 <<<"$(machine_cpu)"
load1=$(cut -d' ' -f1 /proc/loadavg)
# 124: stopped by `timeout`, as intended; 0: it finished its requests early.
if [[ $rc != 124 && $rc != 0 ]]; then
    fail "redis-benchmark exited with $rc: $(tr '\r' '\n' < "$WORK/benchmark.log" | tail -3)"
fi
(( sets1 > sets0 )) || fail "the source received no SET: $(tr '\r' '\n' < "$WORK/benchmark.log" | tail -3)"

# --- catching up --------------------------------------------------------------------
# The source's offset at the writer's end confirmed by the target, and the
# status saying so from a source reading taken after it.
wait_for "$CATCHUP_TIMEOUT" "catch-up" \
    "sh['applied_offset'] >= $off1 and sh['source_offset'] >= $off1 and s['phase'] == 'caught-up'"
sleep 0.3
touch "$WORK/poll.stop"
hwm_kb=$(awk '/^VmHWM:/{print $2}' "/proc/$FERRY_PID/status")
src_keys=$(rcli -p "$SRC" dbsize); tgt_keys=$(rcli -p "$TGT" dbsize)
kill -0 "$FERRY_PID" 2>/dev/null || fail "ferry sync exited"

# --- the report ---------------------------------------------------------------------
T0=$t0 T1=$t1 SETS0=$sets0 SETS1=$sets1 CMDS0=$cmds0 CMDS1=$cmds1 OFF1=$off1 \
SCPU=$(python3 -c "print($scpu1 - $scpu0)") TCPU=$(python3 -c "print($tcpu1 - $tcpu0)") \
FCPU=$(python3 -c "print($fcpu1 - $fcpu0)") PCPU=$(python3 -c "print($pcpu1 - $pcpu0)") \
BUSY=$(python3 -c "print(100.0 * ($mbusy1 - $mbusy0) / ($mtotal1 - $mtotal0))") \
LOAD="$load0 -> $load1" CORES=$(nproc) HWM_KB=$hwm_kb SRC_KEYS=$src_keys TGT_KEYS=$tgt_keys \
PIPELINE=$PIPELINE CLIENTS=$CLIENTS PROBE_MS=$PROBE_MS \
python3 - "$WORK/status.jsonl" "$WORK/probe.jsonl" <<'EOF'
import json, math, os, sys
e = os.environ
t0, t1 = float(e["T0"]), float(e["T1"])
sets0, sets1, off1 = int(e["SETS0"]), int(e["SETS1"]), int(e["OFF1"])

def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]

def pct(values, p):
    v = sorted(values)  # nearest rank
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]

def three(values, unit=""):
    if not values:
        return "n/a"
    return "%s / %s / %s%s" % (*("%.0f" % x for x in (pct(values, 50), pct(values, 99), max(values))), unit)

polls = load(sys.argv[1])
errors = [r for r in polls if "error" in r]
rows = [r for r in polls if "error" not in r]
# The rates: between the first sample with the writer under way and the
# last one before it stopped (the source's SET count strictly between its
# values before and after).
active = [r for r in rows if t0 <= r["t"] <= t1 and sets0 < r["src_sets"] < sets1]
if len(active) < 2:
    raise SystemExit("bench-sync: too few samples while the writer ran (%d)" % len(active))
a, b = active[0], active[-1]
span = b["t"] - a["t"]
set_rate = (b["src_sets"] - a["src_sets"]) / span
stream_mbs = (b["src_offset"] - a["src_offset"]) / span / 1e6
ferry_span = b["uptime_seconds"] - a["uptime_seconds"]
applied_rate = (b["commands_applied"] - a["commands_applied"]) / ferry_span
confirmed_mbs = (b["applied_offset"] - a["applied_offset"]) / ferry_span / 1e6

# The lag: distinct status publications (every 100 ms) during the write.
seen, during = set(), []
for r in rows:
    if t0 <= r["t"] <= t1 and r["uptime_seconds"] not in seen:
        seen.add(r["uptime_seconds"])
        during.append(r)
status_ms = [r["lag_seconds"] * 1000 for r in during]
unconfirmed = [r["received_offset"] - r["applied_offset"] for r in during]
after = [r for r in rows if r["t"] > t1]
reached = next((r["t"] - t1 for r in after if r["applied_offset"] >= off1), None)
reported = next((r["t"] - t1 for r in after
                 if r["phase"] == "caught-up" and r["source_offset"] >= off1), None)
# The poller asks every 100 ms: a longer gap means it did not get the CPU.
gaps = [y["t"] - x["t"] for x, y in zip(polls, polls[1:]) if t0 <= y["t"] <= t1]
stalls = [g for g in gaps if g >= 0.25]

probes = load(sys.argv[2])
def probe(name, when):
    got = [p for p in probes if when(p["t"]) and name in p]
    return [p[name] * 1000 for p in got if p[name] is not None], sum(1 for p in got if p[name] is None)
probe_ms, lost = probe("lag", lambda t: t0 <= t <= t1)
idle_ms, _ = probe("lag", lambda t: t < t0)
control_ms, control_lost = probe("control", lambda t: t0 <= t <= t1)
if not probe_ms:
    raise SystemExit("bench-sync: no probe arrived during the write")
over = lambda v: sum(1 for x in v if x >= 50)
fmt = lambda x: "n/a" if x is None else "%.2f s" % x

print()
print("| -P × -c | source SETs/s | ferry applied cmd/s | end-to-end lag p50 / p99 / max | "
      "status `lag_seconds` p50 / p99 / max | unconfirmed bytes p50 / p99 / max | catch-up | ferry peak RSS |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
print("| %s × %s | %.0f | %.0f | %s | %s | %s | %s | %.1f MB |" % (
    e["PIPELINE"], e["CLIENTS"], set_rate, applied_rate, three(probe_ms, " ms"),
    three(status_ms, " ms"), three(unconfirmed), fmt(reached), int(e["HWM_KB"]) / 1024))
print()
print("- writer: %.2f s between start and stop (rates over the %.2f s sampled inside it): "
      "%d SETs (%d commands in all); stream %.1f MB/s from the source, %.1f MB/s confirmed by the target"
      % (t1 - t0, span, sets1 - sets0, int(e["CMDS1"]) - int(e["CMDS0"]), stream_mbs, confirmed_mbs))
print("- end-to-end probe (every %s ms on average): %d during the write, %d at 50 ms or more, %d lost (10 s); "
      "idle before the write: p50 %s ms, max %s ms over %d" % (
          e["PROBE_MS"], len(probe_ms), over(probe_ms), lost,
          "%.1f" % pct(idle_ms, 50) if idle_ms else "n/a", "%.1f" % max(idle_ms) if idle_ms else "n/a",
          len(idle_ms)))
if control_ms or control_lost:
    print("- control (a redis-server replica of the source, same probes): p50 / p99 / max %s, "
          "%d at 50 ms or more, %d lost" % (three(control_ms, " ms"), over(control_ms), control_lost))
print("- status: %d distinct publications during the write; %d said caught-up, %d had lag_seconds > 0"
      % (len(during), sum(1 for r in during if r["phase"] == "caught-up"), sum(1 for x in status_ms if x > 0)))
print("- catch-up after the writer stopped: target confirmed the source's offset after %s, "
      "status caught-up (with a later source reading) after %s" % (fmt(reached), fmt(reported)))
print("- CPU seconds during the write: ferry %.1f, source redis %.1f, target redis %.1f, "
      "status poller and probe %.1f; machine %.0f%% busy over %s cores (all processes, others' too); "
      "load average %s" % (float(e["FCPU"]), float(e["SCPU"]), float(e["TCPU"]), float(e["PCPU"]),
                            float(e["BUSY"]), e["CORES"], e["LOAD"]))
print("- status poller held up (a gap of 250 ms or more between its 100 ms polls): %d times, longest %.2f s"
      % (len(stalls), max(stalls) if stalls else 0.0))
print("- keys: source %s, target %s%s" % (e["SRC_KEYS"], e["TGT_KEYS"],
                                          "" if e["SRC_KEYS"] == e["TGT_KEYS"] else "  MISMATCH"))
if errors:
    print("- %d status polls failed (first: %s)" % (len(errors), errors[0]["error"]))
EOF
[[ "$src_keys" == "$tgt_keys" ]] || fail "DBSIZE differs: source $src_keys, target $tgt_keys"
