//! Compact encodings decoded from one bounded blob.
