//! DUMP/RESTORE payloads: value bytes, 2-byte RDB version, CRC64.
