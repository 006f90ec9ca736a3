#!/usr/bin/env bash
# Times `ferry verify` between two loopback servers holding the same KEYS
# keys, against a plain `redis-cli --scan | wc -l` of the source (the
# target: verify within 3x of it).
#
#   KEYS=1000000 scripts/bench-verify.sh
#
# Environment:
#   KEYS           keys on each server (default 1000000): DEBUG POPULATE
#                  strings, plus MIXED% of them as small hashes, lists, sets
#                  and sorted sets written with `redis-cli --pipe`
#   MIXED          percent of KEYS written as collections (default 10)
#   VERIFY_ARGS    more arguments for `ferry verify` (e.g. "--parallel 8")
#   FERRY          the ferry binary (default: a release build of this tree)
#   REDIS_SERVER, REDIS_CLI   the server and client (default: from PATH)
#   PORT_A, PORT_B the servers' ports (default 17391, 17392)
set -euo pipefail

KEYS=${KEYS:-1000000}
MIXED=${MIXED:-10}
VERIFY_ARGS=${VERIFY_ARGS:-}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
PORT_A=${PORT_A:-17391}
PORT_B=${PORT_B:-17392}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)

cleanup() {
    for port in "$PORT_A" "$PORT_B"; do
        "$REDIS_CLI" -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${FERRY:-}" ]]; then
    (cd "$ROOT" && cargo build --release -q -p ferry-cli)
    FERRY="$ROOT/target/release/ferry"
fi

for port in "$PORT_A" "$PORT_B"; do
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --enable-debug-command yes --daemonize yes --dir "$WORK" \
        --logfile "$WORK/$port.log" --pidfile "$WORK/$port.pid" --dbfilename "$port.rdb"
done
for port in "$PORT_A" "$PORT_B"; do
    for _ in $(seq 50); do
        "$REDIS_CLI" -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
done

collections=$((KEYS * MIXED / 100))
strings=$((KEYS - collections))
echo "filling both servers: $strings strings (DEBUG POPULATE), $collections collections"
awk -v n="$collections" 'BEGIN {
    for (i = 0; i < n; i++) {
        t = i % 4
        if (t == 0) printf "HSET h:%d f1 v%d f2 w%d f3 x\r\n", i, i, i
        else if (t == 1) printf "RPUSH l:%d a %d c d\r\n", i, i
        else if (t == 2) printf "SADD s:%d a %d c\r\n", i, i
        else printf "ZADD z:%d 0.1 a %d.5 b 3 c\r\n", i, i
    }
}' >"$WORK/collections.txt"
for port in "$PORT_A" "$PORT_B"; do
    "$REDIS_CLI" -p "$port" debug populate "$strings" key 16 >/dev/null
    if [[ $collections -gt 0 ]]; then
        "$REDIS_CLI" -p "$port" --pipe <"$WORK/collections.txt" >/dev/null
    fi
    echo "  127.0.0.1:$port: $("$REDIS_CLI" -p "$port" dbsize) keys"
done

seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >"$WORK/out" 2>"$WORK/err"
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

scan=$(seconds sh -c "'$REDIS_CLI' -p $PORT_A --scan | wc -l")
echo "redis-cli --scan | wc -l: $(cat "$WORK/out") keys in $scan s"

# shellcheck disable=SC2086
full=$(seconds "$FERRY" verify -s "127.0.0.1:$PORT_A" -t "127.0.0.1:$PORT_B" $VERIFY_ARGS)
grep -E "^(db|total|identical)" "$WORK/out" | sed 's/^/  /'
echo "ferry verify (full): $full s ($(echo "scale=2; $full / $scan" | bc)x the scan)"

# shellcheck disable=SC2086
quick=$(seconds "$FERRY" verify -s "127.0.0.1:$PORT_A" -t "127.0.0.1:$PORT_B" --mode quick $VERIFY_ARGS)
echo "ferry verify --mode quick: $quick s ($(echo "scale=2; $quick / $scan" | bc)x the scan)"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $("$REDIS_SERVER" --version | cut -d' ' -f3)"
