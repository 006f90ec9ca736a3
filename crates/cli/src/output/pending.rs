//! A consumer group's pending entries, held while its consumers are read:
//! now part of command replay in [`ferry_sink::replay`], re-exported here.

pub use ferry_sink::replay::{Delivery, PendingEntries};
