//! A test-only RDB writer.
