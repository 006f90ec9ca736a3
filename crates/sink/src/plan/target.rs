//! What a target server can load with `RESTORE`, and which commands it has.
//!
//! Sources, checked in the redis/redis and valkey-io/valkey repositories:
//!
//! - `RESTORE` exists since Redis 2.6 (`src/migrate.c` at tag 2.6.0). Up to
//!   3.2.0 `verifyDumpPayload` takes only its own RDB version (`rdbver !=
//!   REDIS_RDB_VERSION`); from 3.2.1 (commit a3f893b80 "RESTORE: accept RDB
//!   dumps with older versions", also in 4.0) any version up to its own
//!   (`rdbver > RDB_VERSION` is refused).
//! - `RDB_VERSION` by release tag (`src/rdb.h`): 2.6.0, 2.8.0 and 3.0.x: 6;
//!   3.2: 7; 4.0: 8; 5.0 to 6.2: 9; 7.0: 10; 7.2: 11; 7.4: 12 (Redis 8.0 still
//!   has 12).
//! - Valkey forked Redis 7.2.4: `RDB_VERSION` 11 in 7.2 and 8.x; Valkey's
//!   `src/rdb.h` `RDB_VERSION_MAP` adds 80 in 9.0 and 81 in 9.2 (its own
//!   formats, `VALKEY` magic). It reserves 12 to 79 for other products
//!   (`RDB_FOREIGN_VERSION_MIN`/`MAX`): `rdbIsVersionAccepted`, which
//!   `verifyDumpPayload` calls, refuses them under the default
//!   `rdb-version-check strict`, and `restoreCommand` refuses type bytes from
//!   22 (`RDB_FOREIGN_TYPE_MIN`) in a payload of a foreign version. So the
//!   highest Redis payload version Valkey 9 restores is 11. Valkey 9.1.2
//!   `DUMP` stamps 80 (checked on the server).
//! - `RESTORE ... ABSTTL`: Redis 5.0 (commit b5197f1fc, "Enhance RESTORE with
//!   RDBv9 new features").
//! - First RDB version of each type byte (the commit that added the type
//!   also bumped the version): 0 to 4 in RDB 1; zipmap hash 9, ziplist list
//!   10, intset 11 and ziplist sorted set 12 in RDB 2 (commit 6b52ad87c,
//!   Redis 2.4: "RDB version signature bumped to 2, now that direct saving of
//!   specially encoded types is implemented"); ziplist hash 13 in RDB 4
//!   (commit c7d7d0a80, "RDB version is now 4, because small hashes are now
//!   encoded as ziplists"); quicklist 14 in RDB 7 (commit 101b3a6e4, 3.2);
//!   binary-score sorted set 5 in RDB 8 (commit e6554bed9 "RDB v8") and the
//!   module types 6 and 7 with it (4.0); stream 15 in RDB 9 (5.0); 16 to 19
//!   in RDB 10 (7.0); 20 and 21 in RDB 11 (7.2); 22 to 25 in RDB 12 (7.4,
//!   22 and 23 being the release-candidate forms of 24 and 25). RDB 6 (2.6)
//!   added 24-bit integers to ziplists, which every server with `RESTORE`
//!   reads.
//! - Module type 6 (4.0 release candidates) is refused by Redis from 7.2
//!   (commit ac1cc5a6e, "Trim rdb loading code for pre-release formats"): it
//!   is never restored here.

use crate::replay::Features;
use ferry_rdb::{Encoding, Header, Magic};

/// A target server's product and version, and what follows from them.
///
/// ```
/// use ferry_sink::plan::TargetCaps;
///
/// let info = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n";
/// let target = TargetCaps::from_info(info).unwrap();
/// assert_eq!(target, TargetCaps::valkey(9, 1, 2));
/// assert_eq!(target.rdb_version(), Some(11));
/// assert_eq!(target.valkey_rdb_version(), Some(80));
/// assert!(target.supports_hash_field_ttl());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetCaps {
    /// `major.minor.patch` of the product (Valkey's own version for Valkey).
    pub version: (u32, u32, u32),
    /// Valkey rather than Redis.
    pub valkey: bool,
}

/// The first Redis RDB version that has `encoding`'s type byte, `None` for
/// the types never restored across products or releases: Redis 7.4's
/// release-candidate hashes (22, 23), Valkey's hash (22 in `VALKEY` files) and
/// the 4.0 release-candidate module type (6).
pub fn first_rdb_version(encoding: Encoding) -> Option<u32> {
    Some(match encoding {
        Encoding::String | Encoding::List | Encoding::Set | Encoding::ZSet | Encoding::Hash => 1,
        Encoding::HashZipmap
        | Encoding::ListZiplist
        | Encoding::SetIntset
        | Encoding::ZSetZiplist => 2,
        Encoding::HashZiplist => 4,
        Encoding::ListQuicklist => 7,
        Encoding::ZSet2 | Encoding::Module2 => 8,
        Encoding::StreamListpacks => 9,
        Encoding::HashListpack
        | Encoding::ZSetListpack
        | Encoding::ListQuicklist2
        | Encoding::StreamListpacks2 => 10,
        Encoding::SetListpack | Encoding::StreamListpacks3 => 11,
        Encoding::HashMetadata | Encoding::HashListpackEx => 12,
        Encoding::ModulePreGa
        | Encoding::HashMetadataPreGa
        | Encoding::HashListpackExPreGa
        | Encoding::ValkeyHash2 => return None,
        // A type added to the decoder later: not restored until listed here.
        _ => return None,
    })
}

/// The first Valkey RDB version (`VALKEY` magic) of Valkey's own hash with
/// field TTLs (type 22).
const VALKEY_HASH2_RDB_VERSION: u32 = 80;

impl TargetCaps {
    /// A Redis server.
    pub fn redis(major: u32, minor: u32, patch: u32) -> Self {
        TargetCaps {
            version: (major, minor, patch),
            valkey: false,
        }
    }

    /// A Valkey server (its own version number, not the `redis_version` it reports).
    pub fn valkey(major: u32, minor: u32, patch: u32) -> Self {
        TargetCaps {
            version: (major, minor, patch),
            valkey: true,
        }
    }

    /// Reads the product and version from the text of `INFO server`:
    /// `valkey_version:9.1.2` (or `server_name:valkey` with `redis_version`)
    /// for Valkey, else `redis_version:7.0.15`. `None` when no version can be
    /// read. A missing patch (or minor) number counts as 0.
    pub fn from_info(info: &str) -> Option<Self> {
        let field = |name: &str| crate::info_field(info, name);
        let valkey_version = field("valkey_version");
        let valkey =
            valkey_version.is_some() || field("server_name").is_some_and(|n| n == "valkey");
        let (major, minor, patch) = parse_version(valkey_version.or(field("redis_version"))?)?;
        Some(TargetCaps {
            version: (major, minor, patch),
            valkey,
        })
    }

    fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        self.version >= (major, minor, patch)
    }

    /// The highest `REDIS` RDB version whose payloads the target's `RESTORE`
    /// accepts; `None` before Redis 2.6, which has no `RESTORE`.
    pub fn rdb_version(&self) -> Option<u32> {
        if self.valkey {
            // Every Valkey (7.2 on) takes Redis payloads up to 11; 9.0 on
            // refuses 12 to 79 (module documentation).
            return Some(11);
        }
        Some(match self.version {
            (0..=1, ..) | (2, 0..=5, _) => return None,
            (2, ..) | (3, 0..=1, _) => 6,
            (3, ..) => 7,
            (4, ..) => 8,
            (5..=6, ..) => 9,
            (7, 0..=1, _) => 10,
            (7, 2..=3, _) => 11,
            _ => 12,
        })
    }

    /// The highest `VALKEY` RDB version the target restores: 80 on Valkey
    /// 9.0 and 9.1, 81 from 9.2; `None` for Redis and older Valkey.
    pub fn valkey_rdb_version(&self) -> Option<u32> {
        if !self.valkey || !self.at_least(9, 0, 0) {
            None
        } else if self.at_least(9, 2, 0) {
            Some(81)
        } else {
            Some(80)
        }
    }

    /// `RESTORE` takes payloads of older RDB versions than the server's own
    /// (Redis 3.2.1+, every Valkey). Older servers take only their own.
    pub fn accepts_older_payloads(&self) -> bool {
        self.valkey || self.at_least(3, 2, 1)
    }

    /// `RESTORE ... ABSTTL` (Redis 5.0+, every Valkey).
    pub fn supports_abs_ttl(&self) -> bool {
        self.valkey || self.at_least(5, 0, 0)
    }

    /// `FUNCTION LOAD` (Redis 7.0+, every Valkey).
    pub fn supports_functions(&self) -> bool {
        self.valkey || self.at_least(7, 0, 0)
    }

    /// Hash field TTLs, `HPEXPIREAT` (Redis 7.4+, Valkey 9.0+).
    pub fn supports_hash_field_ttl(&self) -> bool {
        if self.valkey {
            self.at_least(9, 0, 0)
        } else {
            self.at_least(7, 4, 0)
        }
    }

    /// The commands command replay may use on this target.
    pub fn replay_features(&self) -> Features {
        Features {
            hash_field_ttl: self.supports_hash_field_ttl(),
            stream_v2: self.valkey || self.at_least(7, 0, 0),
            create_consumer: self.valkey || self.at_least(6, 2, 0),
            multi_field_hset: self.valkey || self.at_least(4, 0, 0),
        }
    }

    /// Whether the target can `RESTORE` a value of `encoding` from a file
    /// with header `source`, and if so the RDB version to stamp in the
    /// payload: the source's version or the target's highest, whichever is
    /// lower (exactly the target's for servers that take only their own), and
    /// never below the type's first version. A value from a `VALKEY` file is
    /// restored on Redis only for the types the two share (0 to 21); Valkey's
    /// hash with field TTLs only on Valkey 9.0+.
    pub fn restore_version(&self, source: Header, encoding: Encoding) -> Option<u16> {
        let stamp = match source.magic {
            Magic::Valkey if encoding == Encoding::ValkeyHash2 => {
                let max = self.valkey_rdb_version()?;
                source.version.min(max).max(VALKEY_HASH2_RDB_VERSION)
            }
            Magic::Valkey => {
                let first = first_rdb_version(encoding)?;
                match self.valkey_rdb_version() {
                    Some(max) => source.version.min(max),
                    None => {
                        let max = self.rdb_version()?;
                        if first > max {
                            return None;
                        }
                        // A VALKEY version is above every REDIS one.
                        max
                    }
                }
            }
            Magic::Redis => {
                let first = first_rdb_version(encoding)?;
                let max = self.rdb_version()?;
                if first > max {
                    return None;
                }
                if self.accepts_older_payloads() {
                    source.version.min(max).max(first)
                } else {
                    max
                }
            }
        };
        u16::try_from(stamp).ok()
    }
}

/// `7.0.15` → `(7, 0, 15)`; missing parts are 0, extra parts and a suffix
/// after the numbers (`7.4.0-rc1`) are ignored.
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|p| {
        let digits: &str = &p[..p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len())];
        digits.parse::<u32>().ok()
    });
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_file(version: u32) -> Header {
        Header {
            magic: Magic::Redis,
            version,
        }
    }

    #[test]
    fn reads_redis_and_valkey_info() {
        let redis = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        assert_eq!(
            TargetCaps::from_info(redis),
            Some(TargetCaps::redis(7, 0, 15))
        );
        let valkey = "redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.1.2\r\n";
        assert_eq!(
            TargetCaps::from_info(valkey),
            Some(TargetCaps::valkey(9, 1, 2))
        );
        let old_valkey = "redis_version:7.2.4\nserver_name:valkey\n";
        assert_eq!(
            TargetCaps::from_info(old_valkey),
            Some(TargetCaps::valkey(7, 2, 4))
        );
        assert_eq!(
            TargetCaps::from_info("redis_version:7.4.0-rc1"),
            Some(TargetCaps::redis(7, 4, 0))
        );
        assert_eq!(TargetCaps::from_info("# Server\r\n"), None);
        assert_eq!(TargetCaps::from_info("redis_version:x"), None);
    }

    #[test]
    fn rdb_versions_follow_the_release_history() {
        let table = [
            ((2, 4, 18), None),
            ((2, 6, 0), Some(6)),
            ((2, 8, 24), Some(6)),
            ((3, 0, 7), Some(6)),
            ((3, 2, 13), Some(7)),
            ((4, 0, 14), Some(8)),
            ((5, 0, 14), Some(9)),
            ((6, 2, 5), Some(9)),
            ((7, 0, 15), Some(10)),
            ((7, 2, 6), Some(11)),
            ((7, 4, 1), Some(12)),
            ((8, 0, 0), Some(12)),
        ];
        for ((a, b, c), want) in table {
            assert_eq!(
                TargetCaps::redis(a, b, c).rdb_version(),
                want,
                "{a}.{b}.{c}"
            );
        }
        for v in [(7, 2, 4), (8, 0, 1), (8, 1, 0), (9, 0, 0), (9, 1, 2)] {
            assert_eq!(TargetCaps::valkey(v.0, v.1, v.2).rdb_version(), Some(11));
        }
        assert_eq!(TargetCaps::valkey(8, 1, 0).valkey_rdb_version(), None);
        assert_eq!(TargetCaps::valkey(9, 1, 2).valkey_rdb_version(), Some(80));
        assert_eq!(TargetCaps::valkey(9, 2, 0).valkey_rdb_version(), Some(81));
        assert_eq!(TargetCaps::redis(7, 4, 1).valkey_rdb_version(), None);
    }

    #[test]
    fn stamps_the_lower_version_when_the_target_knows_the_type() {
        let on_62 = TargetCaps::redis(6, 2, 5);
        assert_eq!(
            on_62.restore_version(redis_file(12), Encoding::String),
            Some(9)
        );
        assert_eq!(
            on_62.restore_version(redis_file(12), Encoding::HashZiplist),
            Some(9)
        );
        assert_eq!(
            on_62.restore_version(redis_file(12), Encoding::HashListpack),
            None
        );
        assert_eq!(
            on_62.restore_version(redis_file(6), Encoding::ZSetZiplist),
            Some(6)
        );
        assert_eq!(
            on_62.restore_version(redis_file(8), Encoding::ListQuicklist),
            Some(8)
        );
        let on_70 = TargetCaps::redis(7, 0, 15);
        assert_eq!(
            on_70.restore_version(redis_file(11), Encoding::StreamListpacks3),
            None
        );
        assert_eq!(
            on_70.restore_version(redis_file(11), Encoding::StreamListpacks2),
            Some(10)
        );
        assert_eq!(
            on_70.restore_version(redis_file(12), Encoding::HashMetadata),
            None
        );
        assert_eq!(
            on_70.restore_version(redis_file(10), Encoding::Module2),
            Some(10)
        );
        let on_74 = TargetCaps::redis(7, 4, 1);
        assert_eq!(
            on_74.restore_version(redis_file(12), Encoding::HashListpackEx),
            Some(12)
        );
        assert_eq!(
            on_74.restore_version(redis_file(12), Encoding::HashListpackExPreGa),
            None
        );
        assert_eq!(
            on_74.restore_version(redis_file(12), Encoding::ModulePreGa),
            None
        );
        // Only its own version before 3.2.1.
        let on_30 = TargetCaps::redis(3, 0, 7);
        assert_eq!(
            on_30.restore_version(redis_file(3), Encoding::String),
            Some(6)
        );
        assert_eq!(
            on_30.restore_version(redis_file(9), Encoding::ListQuicklist),
            None
        );
        assert_eq!(
            TargetCaps::redis(2, 4, 0).restore_version(redis_file(2), Encoding::String),
            None
        );
    }

    #[test]
    fn valkey_takes_shared_types_only_and_its_own_hash() {
        let valkey_file = Header {
            magic: Magic::Valkey,
            version: 80,
        };
        let on_valkey = TargetCaps::valkey(9, 1, 2);
        assert_eq!(
            on_valkey.restore_version(redis_file(12), Encoding::SetListpack),
            Some(11)
        );
        assert_eq!(
            on_valkey.restore_version(redis_file(12), Encoding::HashMetadata),
            None
        );
        assert_eq!(
            on_valkey.restore_version(valkey_file, Encoding::ValkeyHash2),
            Some(80)
        );
        assert_eq!(
            on_valkey.restore_version(valkey_file, Encoding::StreamListpacks3),
            Some(80)
        );
        let on_74 = TargetCaps::redis(7, 4, 1);
        assert_eq!(
            on_74.restore_version(valkey_file, Encoding::ValkeyHash2),
            None
        );
        assert_eq!(
            on_74.restore_version(valkey_file, Encoding::SetListpack),
            Some(12)
        );
        let on_70 = TargetCaps::redis(7, 0, 15);
        assert_eq!(
            on_70.restore_version(valkey_file, Encoding::SetListpack),
            None
        );
        assert_eq!(
            on_70.restore_version(valkey_file, Encoding::HashListpack),
            Some(10)
        );
        let on_valkey8 = TargetCaps::valkey(8, 0, 1);
        assert_eq!(
            on_valkey8.restore_version(valkey_file, Encoding::ValkeyHash2),
            None
        );
        assert_eq!(
            on_valkey8.restore_version(valkey_file, Encoding::String),
            Some(11)
        );
    }

    #[test]
    fn features_follow_the_version() {
        assert_eq!(
            TargetCaps::redis(7, 4, 1).replay_features(),
            Features::default()
        );
        assert_eq!(
            TargetCaps::valkey(9, 0, 0).replay_features(),
            Features::default()
        );
        let old = TargetCaps::redis(6, 2, 5).replay_features();
        assert!(!old.hash_field_ttl && !old.stream_v2 && old.create_consumer);
        assert!(!TargetCaps::redis(4, 0, 14).supports_abs_ttl());
        assert!(TargetCaps::redis(5, 0, 0).supports_abs_ttl());
        assert!(!TargetCaps::redis(6, 2, 5).supports_functions());
        assert!(!TargetCaps::valkey(8, 1, 0).supports_hash_field_ttl());
    }
}
