//! What `verify` found, and how it is shown: the text summary (per
//! database counts, the first differences), the JSON summary, and the
//! JSON-lines report of every difference.

use super::compare::{Mismatch, Reason};
use crate::output::json::{write_bytes, write_str};
use crate::output::keys::write_quoted;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

/// Where a difference was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Reading a source key.
    Forward,
    /// Scanning the target: the key is in none of these source databases.
    Reverse(Arc<[u64]>),
}

/// A key that differs.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Its source database.
    pub(crate) src_db: u64,
    /// Its target database.
    pub(crate) dst_db: u64,
    pub(crate) key: Bytes,
    pub(crate) mismatch: Mismatch,
    pub(crate) origin: Origin,
}

/// Keys looked at, per (source, target) database.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Looked {
    /// Source keys compared.
    pub(crate) compared: u64,
    /// Target keys looked up on the source.
    pub(crate) checked: u64,
}

/// Per-database counts of keys looked at and of differences by reason.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) looked: Looked,
    /// Differences, indexed like [`Reason::ALL`].
    pub(crate) by_reason: [u64; 5],
}

impl Counts {
    fn differ(&self) -> u64 {
        self.by_reason.iter().sum()
    }

    fn add(&mut self, other: &Counts) {
        self.looked.compared += other.looked.compared;
        self.looked.checked += other.looked.checked;
        for (a, b) in self.by_reason.iter_mut().zip(other.by_reason) {
            *a += b;
        }
    }
}

fn reason_index(reason: Reason) -> usize {
    Reason::ALL.iter().position(|&r| r == reason).unwrap_or(0)
}

/// Everything the summary shows.
#[derive(Debug)]
pub(crate) struct Summary<'a> {
    pub(crate) source: String,
    pub(crate) target: String,
    pub(crate) mode: &'static str,
    pub(crate) sample: Option<u64>,
    /// Rounds run (1 when nothing needed comparing again).
    pub(crate) rounds: u32,
    pub(crate) seconds: f64,
    pub(crate) looked: &'a BTreeMap<(u64, u64), Looked>,
    /// The differences left after the last round, in report order.
    pub(crate) found: &'a [Found],
    /// How many to list.
    pub(crate) shown: usize,
}

impl Summary<'_> {
    /// Counts per (source, target) database, and the total.
    fn counts(&self) -> (BTreeMap<(u64, u64), Counts>, Counts) {
        let mut per: BTreeMap<(u64, u64), Counts> = self
            .looked
            .iter()
            .map(|(&k, &looked)| {
                (
                    k,
                    Counts {
                        looked,
                        ..Counts::default()
                    },
                )
            })
            .collect();
        for f in self.found {
            per.entry((f.src_db, f.dst_db)).or_default().by_reason
                [reason_index(f.mismatch.reason)] += 1;
        }
        let mut total = Counts::default();
        for c in per.values() {
            total.add(c);
        }
        (per, total)
    }

    /// The text summary.
    pub(crate) fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        let (per, total) = self.counts();
        let what = match self.sample {
            Some(n) => format!("{} comparison of a sample of {n} key(s)", self.mode),
            None => format!("{} comparison", self.mode),
        };
        writeln!(out, "source: {}", self.source)?;
        writeln!(out, "target: {}", self.target)?;
        writeln!(
            out,
            "{what}, {} round(s), {:.1} s",
            self.rounds, self.seconds
        )?;
        for ((src, dst), c) in &per {
            writeln!(
                out,
                "db {src} -> {dst}: {} compared, {} target key(s) checked; {}",
                c.looked.compared,
                c.looked.checked,
                differences_text(c)
            )?;
        }
        if per.len() != 1 {
            writeln!(
                out,
                "total: {} compared, {} target key(s) checked; {}",
                total.looked.compared,
                total.looked.checked,
                differences_text(&total)
            )?;
        }
        if !self.found.is_empty() {
            writeln!(
                out,
                "{} key(s) differ{}:",
                self.found.len(),
                if self.found.len() > self.shown {
                    format!(" (the first {} below)", self.shown)
                } else {
                    String::new()
                }
            )?;
            for f in self.found.iter().take(self.shown) {
                let mut line = Vec::with_capacity(f.key.len() + 64);
                write!(line, "  {:<7} db {} ", f.mismatch.reason.name(), f.src_db)?;
                write_quoted(&mut line, &f.key);
                writeln!(line, ": {}", f.mismatch.detail)?;
                out.write_all(&line)?;
            }
        }
        if total.differ() == 0 {
            writeln!(out, "identical")?;
        }
        Ok(())
    }

    /// The JSON summary: one object.
    pub(crate) fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        let (per, total) = self.counts();
        let mut j = Vec::with_capacity(4096);
        j.extend_from_slice(b"{\"source\":");
        write_str(&mut j, &self.source);
        j.extend_from_slice(b",\"target\":");
        write_str(&mut j, &self.target);
        j.extend_from_slice(b",\"mode\":");
        write_str(&mut j, self.mode);
        match self.sample {
            Some(n) => write!(j, ",\"sample\":{n}")?,
            None => j.extend_from_slice(b",\"sample\":null"),
        }
        write!(
            j,
            ",\"rounds\":{},\"seconds\":{:.3},\"identical\":{},\"databases\":[",
            self.rounds,
            self.seconds,
            total.differ() == 0
        )?;
        for (i, ((src, dst), c)) in per.iter().enumerate() {
            if i > 0 {
                j.push(b',');
            }
            write!(j, "{{\"db\":{src},\"target_db\":{dst},")?;
            counts_json(&mut j, c)?;
            j.push(b'}');
        }
        j.extend_from_slice(b"],\"total\":{");
        counts_json(&mut j, &total)?;
        write!(
            j,
            "}},\"differences_total\":{},\"differences\":[",
            self.found.len()
        )?;
        for (i, f) in self.found.iter().take(self.shown).enumerate() {
            if i > 0 {
                j.push(b',');
            }
            found_json(&mut j, f)?;
        }
        j.extend_from_slice(b"]}\n");
        out.write_all(&j)
    }
}

fn differences_text(c: &Counts) -> String {
    let [missing, extra, kind, value, ttl] = c.by_reason;
    format!(
        "{missing} missing, {extra} extra, {} different (type {kind}, value {value}, ttl {ttl})",
        kind + value + ttl
    )
}

fn counts_json(j: &mut Vec<u8>, c: &Counts) -> io::Result<()> {
    write!(
        j,
        "\"compared\":{},\"checked\":{}",
        c.looked.compared, c.looked.checked
    )?;
    for (reason, n) in Reason::ALL.iter().zip(c.by_reason) {
        write!(j, ",\"{}\":{n}", reason.name())?;
    }
    Ok(())
}

fn found_json(j: &mut Vec<u8>, f: &Found) -> io::Result<()> {
    write!(
        j,
        "{{\"db\":{},\"target_db\":{},\"key\":",
        f.src_db, f.dst_db
    )?;
    write_bytes(j, &f.key);
    j.extend_from_slice(b",\"reason\":");
    write_str(j, f.mismatch.reason.name());
    j.extend_from_slice(b",\"detail\":");
    write_str(j, &f.mismatch.detail);
    j.push(b'}');
    Ok(())
}

/// Writes every difference as a JSON line.
///
/// # Errors
/// The writer fails.
pub(crate) fn write_report(out: &mut impl Write, found: &[Found]) -> io::Result<()> {
    let mut line = Vec::with_capacity(256);
    for f in found {
        line.clear();
        found_json(&mut line, f)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    out.flush()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn found(key: &[u8], reason: Reason) -> Found {
        Found {
            src_db: 0,
            dst_db: 0,
            key: Bytes::copy_from_slice(key),
            mismatch: Mismatch::new(reason, "why"),
            origin: Origin::Forward,
        }
    }

    #[test]
    fn the_summary_counts_per_database_and_lists_binary_keys_escaped() {
        let looked = BTreeMap::from([(
            (0, 0),
            Looked {
                compared: 10,
                checked: 11,
            },
        )]);
        let found = [found(b"a\n\xff", Reason::Missing), found(b"b", Reason::Ttl)];
        let summary = Summary {
            source: "s".into(),
            target: "t".into(),
            mode: "full",
            sample: None,
            rounds: 2,
            seconds: 1.0,
            looked: &looked,
            found: &found,
            shown: 1,
        };
        let mut text = Vec::new();
        summary.write_text(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(
                "db 0 -> 0: 10 compared, 11 target key(s) checked; 1 missing, 0 extra, 1 different (type 0, value 0, ttl 1)"
            ),
            "{text}"
        );
        assert!(text.contains("  missing db 0 \"a\\n\\xff\": why"), "{text}");
        assert!(!text.contains("\"b\""), "{text}");
        let mut json = Vec::new();
        summary.write_json(&mut json).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains("\"total\":{\"compared\":10,\"checked\":11,\"missing\":1,\"extra\":0,\"type\":0,\"value\":0,\"ttl\":1}"), "{json}");
        let mut lines = Vec::new();
        write_report(&mut lines, &found).unwrap();
        let lines = String::from_utf8(lines).unwrap();
        assert_eq!(lines.lines().count(), 2);
        assert!(
            lines.starts_with("{\"db\":0,\"target_db\":0,\"key\":{\"base64\":"),
            "{lines}"
        );
    }
}
