//! A consumer group's pending entries, held while its consumers are read.
//!
//! An RDB file lists a group's pending entries (id, delivery time, delivery
//! count) before the consumers that own them, and command replay (`XCLAIM ...
//! TIME ms RETRYCOUNT n`) needs the time and count when a consumer names an id. A short list lives in a hash
//! map. A long one (more than about the spill limit in bytes), which Redis
//! writes in id order, moves to an anonymous temporary file of sorted blocks,
//! found through the first id of each block: what stays in memory is that id
//! per block and a claimed bit per entry, a quarter of a byte per entry.
//! Entries that come out of order (never written by Redis) stay in the map.

use ferry_rdb::{StreamId, StreamNack};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Creates the anonymous temporary file (in [`std::env::temp_dir`]; the OS
/// deletes it when it is closed, even if the process is killed).
fn temp_file() -> io::Result<File> {
    tempfile::tempfile().map_err(|e| temp_error(&e))
}

/// Adds where to an error of the temporary file, keeping its kind.
fn temp_error(e: &io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "temporary file in {} (for a large key): {e}",
            std::env::temp_dir().display()
        ),
    )
}

/// Delivery time (Unix ms) and delivery count of a pending entry.
pub type Delivery = (u64, u64);

/// About what one entry costs in the hash map, to turn bytes into entries.
const MAP_ENTRY_BYTES: usize = 64;
/// Entries per block of the file.
const BLOCK_ENTRIES: usize = 128;
/// One entry in the file: id ms, id seq, time, count.
const ENTRY_BYTES: usize = 8 * 4;
const BLOCK_BYTES: usize = BLOCK_ENTRIES * ENTRY_BYTES;

/// One group's pending entries; each can be claimed once.
#[derive(Debug)]
pub struct PendingEntries {
    /// Entries in memory: all of them while few, then those out of order.
    map: HashMap<StreamId, Delivery>,
    /// The last id added, while every id came after the one before it.
    last_ascending: Option<StreamId>,
    ascending: bool,
    /// Most entries in the map before the ascending ones move to `blocks`.
    max_in_memory: usize,
    blocks: Option<Blocks>,
}

impl PendingEntries {
    /// An empty list that keeps about `spill_bytes` of entries in memory.
    pub fn new(spill_bytes: usize) -> Self {
        PendingEntries {
            map: HashMap::new(),
            last_ascending: None,
            ascending: true,
            max_in_memory: spill_bytes / MAP_ENTRY_BYTES,
            blocks: None,
        }
    }

    /// Forgets every entry (a new group starts).
    pub fn clear(&mut self) {
        self.map.clear();
        self.last_ascending = None;
        self.ascending = true;
        self.blocks = None;
    }

    /// Adds an entry; a later entry with the same id replaces it.
    ///
    /// # Errors
    /// The temporary file cannot be created or written.
    pub fn insert(&mut self, nack: StreamNack) -> io::Result<()> {
        let delivery = (nack.delivery_time_ms, nack.delivery_count);
        self.ascending &= self.last_ascending.is_none_or(|last| nack.id > last);
        if !self.ascending {
            self.map.insert(nack.id, delivery);
            return Ok(());
        }
        self.last_ascending = Some(nack.id);
        if let Some(blocks) = &mut self.blocks {
            return blocks.push(nack.id, delivery);
        }
        self.map.insert(nack.id, delivery);
        if self.map.len() > self.max_in_memory {
            let mut sorted: Vec<(StreamId, Delivery)> = self.map.drain().collect();
            sorted.sort_unstable_by_key(|&(id, _)| id);
            let blocks = self.blocks.insert(Blocks::new()?);
            for (id, delivery) in sorted {
                blocks.push(id, delivery)?;
            }
        }
        Ok(())
    }

    /// Takes the entry with this id, if there is one not taken yet.
    ///
    /// # Errors
    /// The temporary file cannot be read or written.
    pub fn claim(&mut self, id: StreamId) -> io::Result<Option<Delivery>> {
        // An id can be in both places only if it was listed twice: the later
        // entry, in the map, wins, and both are used up.
        let from_map = self.map.remove(&id);
        let from_blocks = match &mut self.blocks {
            Some(blocks) => blocks.claim(id)?,
            None => None,
        };
        Ok(from_map.or(from_blocks))
    }

    /// True once entries went to the temporary file.
    pub fn is_spilled(&self) -> bool {
        self.blocks.is_some()
    }
}

/// Entries in ascending id order: full blocks in the file, the rest in
/// `tail`, each encoded as `ENTRY_BYTES` (id ms, id seq, time, count,
/// little-endian). Whether an entry was claimed is one bit in memory.
#[derive(Debug)]
struct Blocks {
    file: File,
    /// The first id of each block in the file.
    firsts: Vec<StreamId>,
    /// The entries after the last full block.
    tail: Vec<u8>,
    /// The block read last: its number and bytes.
    cached: Option<(usize, Vec<u8>)>,
    /// One bit per entry, by position.
    claimed: Vec<u64>,
}

impl Blocks {
    fn new() -> io::Result<Self> {
        Ok(Blocks {
            file: temp_file()?,
            firsts: Vec::new(),
            tail: Vec::with_capacity(BLOCK_BYTES),
            cached: None,
            claimed: Vec::new(),
        })
    }

    /// Appends an entry whose id is above all others.
    fn push(&mut self, id: StreamId, delivery: Delivery) -> io::Result<()> {
        for v in [id.ms, id.seq, delivery.0, delivery.1] {
            self.tail.extend_from_slice(&v.to_le_bytes());
        }
        let count = self.firsts.len() * BLOCK_ENTRIES + self.tail.len() / ENTRY_BYTES;
        self.claimed.resize(count.div_ceil(64), 0);
        if self.tail.len() == BLOCK_BYTES {
            self.firsts.push(entry(&self.tail, 0).0);
            self.file
                .seek(SeekFrom::End(0))
                .and_then(|_| self.file.write_all(&self.tail))
                .map_err(|e| temp_error(&e))?;
            self.tail.clear();
        }
        Ok(())
    }

    fn claim(&mut self, id: StreamId) -> io::Result<Option<Delivery>> {
        let tail_first = (!self.tail.is_empty()).then(|| entry(&self.tail, 0).0);
        let (number, bytes) = if tail_first.is_some_and(|first| first <= id) {
            (self.firsts.len(), self.tail.as_slice())
        } else {
            match self
                .firsts
                .partition_point(|&first| first <= id)
                .checked_sub(1)
            {
                Some(number) => (number, self.load(number)?),
                None => return Ok(None),
            }
        };
        let (records, _) = bytes.as_chunks::<ENTRY_BYTES>();
        let Ok(i) = records.binary_search_by_key(&id, |r| entry(r, 0).0) else {
            return Ok(None);
        };
        let delivery = entry(&records[i], 0).1;
        let position = number * BLOCK_ENTRIES + i;
        let (word, bit) = (position / 64, 1u64 << (position % 64));
        if self.claimed[word] & bit != 0 {
            return Ok(None);
        }
        self.claimed[word] |= bit;
        Ok(Some(delivery))
    }

    /// The bytes of block `number`, read unless it is the cached one.
    fn load(&mut self, number: usize) -> io::Result<&[u8]> {
        if self.cached.as_ref().is_none_or(|(n, _)| *n != number) {
            let mut bytes = self.cached.take().map(|(_, b)| b).unwrap_or_default();
            bytes.resize(BLOCK_BYTES, 0);
            // usize to u64 is lossless on every supported target.
            let offset = number as u64 * BLOCK_BYTES as u64;
            self.file
                .seek(SeekFrom::Start(offset))
                .and_then(|_| self.file.read_exact(&mut bytes))
                .map_err(|e| temp_error(&e))?;
            self.cached = Some((number, bytes));
        }
        Ok(self.cached.as_ref().map_or(&[], |(_, bytes)| bytes))
    }
}

/// The id and delivery of entry `i` of encoded entries.
fn entry(bytes: &[u8], i: usize) -> (StreamId, Delivery) {
    let word = |k: usize| {
        let at = i * ENTRY_BYTES + k * 8;
        let mut b = [0; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(b)
    };
    (
        StreamId {
            ms: word(0),
            seq: word(1),
        },
        (word(2), word(3)),
    )
}
