//! Which arguments of a command are keys: from the source's own `COMMAND`
//! reply (so every command of that server version is known), plus the rules
//! for the commands whose keys move (`EVAL`'s numkeys, `XREADGROUP`'s
//! `STREAMS`, ...), which `COMMAND` marks `movablekeys` without placing.

use ferry_resp::{Frame, RawCommand};
use std::collections::HashMap;

/// Where a command's keys are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spec {
    /// Part index of the first key (0: no keys).
    first: i64,
    /// Part index of the last key; negative counts from the end (-1: last).
    last: i64,
    /// Distance between keys.
    step: i64,
    movable: bool,
    /// A container command (`XGROUP`, `OBJECT` ...) whose subcommands have
    /// entries of their own.
    container: bool,
}

/// Why a command's keys could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The source's `COMMAND` reply does not list it.
    #[error("unknown command {0:?}")]
    Unknown(String),
    /// Its arguments do not place the keys (a numkeys that is not a number
    /// or runs past the end).
    #[error("{0}: malformed key arguments")]
    Malformed(String),
}

/// The key positions of every command a server knows, read from its
/// `COMMAND` reply.
///
/// ```
/// use ferry_resp::{Command, Frame, RawCommand};
/// use ferry_sink::KeyTable;
///
/// // What `COMMAND` answers, reduced to two commands.
/// let entry = |name: &'static str, first, last, step| Frame::Array(vec![
///     Frame::bulk(name), Frame::Integer(-3), Frame::Array(vec![]),
///     Frame::Integer(first), Frame::Integer(last), Frame::Integer(step),
/// ]);
/// let table = KeyTable::from_command_reply(&Frame::Array(vec![
///     entry("mset", 1, -1, 2),
///     entry("eval", 0, 0, 0),
/// ]))?;
/// let mset = RawCommand::from(Command::new("MSET").arg("a").arg("1").arg("b").arg("2"));
/// assert_eq!(table.keys(&mset)?, [&b"a"[..], &b"b"[..]]);
/// let eval = RawCommand::from(Command::new("EVAL").arg("return 1").arg(1).arg("k").arg("x"));
/// assert_eq!(table.keys(&eval)?, [&b"k"[..]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    specs: HashMap<Vec<u8>, Spec>,
}

impl KeyTable {
    /// Reads the reply to `COMMAND` (RESP2 or RESP3), including the
    /// subcommands of container commands (`XGROUP CREATE` ...) on Redis 7+.
    ///
    /// # Errors
    /// The reply is not a list of command entries.
    pub fn from_command_reply(reply: &Frame) -> Result<KeyTable, String> {
        let Frame::Array(entries) = reply else {
            return Err(format!("COMMAND replied {}", reply.kind_name()));
        };
        let mut table = KeyTable::default();
        for entry in entries {
            table.add(entry)?;
        }
        Ok(table)
    }

    fn add(&mut self, entry: &Frame) -> Result<(), String> {
        let Frame::Array(fields) = entry else {
            return Err("a COMMAND entry that is not an array".into());
        };
        let int = |i: usize| match fields.get(i) {
            Some(Frame::Integer(n)) => Some(*n),
            _ => None,
        };
        let (Some(name), Some(first), Some(last), Some(step)) = (
            fields.first().and_then(Frame::as_bytes),
            int(3),
            int(4),
            int(5),
        ) else {
            return Err("a COMMAND entry without name or key positions".into());
        };
        let movable = match fields.get(2) {
            Some(Frame::Array(flags) | Frame::Set(flags)) => flags
                .iter()
                .any(|f| f.as_bytes().is_some_and(|b| &b[..] == b"movablekeys")),
            _ => false,
        };
        // Redis 7+: subcommands, entries of the same shape named "xgroup|create".
        let subs = match fields.get(9) {
            Some(Frame::Array(subs)) => subs.as_slice(),
            _ => &[],
        };
        self.specs.insert(
            name.to_ascii_lowercase(),
            Spec {
                first,
                last,
                step,
                movable,
                container: !subs.is_empty(),
            },
        );
        for sub in subs {
            self.add(sub)?;
        }
        Ok(())
    }

    /// The number of commands known.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True when no command is known.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The keys of `cmd`, in argument order.
    ///
    /// # Errors
    /// The command is unknown to the source, or its arguments do not place
    /// its keys.
    pub fn keys<'a>(&self, cmd: &'a RawCommand) -> Result<Vec<&'a [u8]>, KeysError> {
        let parts: Vec<&[u8]> = cmd.parts().collect();
        let name = cmd.name().to_ascii_lowercase();
        let malformed = || KeysError::Malformed(String::from_utf8_lossy(&name).into_owned());
        if let Some(keys) = movable_keys(&name, &parts) {
            return keys.ok_or_else(malformed);
        }
        let unknown = || KeysError::Unknown(String::from_utf8_lossy(&name).into_owned());
        let mut spec = self.specs.get(&name).ok_or_else(unknown)?;
        if spec.container
            && let Some(sub) = parts.get(1)
        {
            let mut full = name.clone();
            full.push(b'|');
            full.extend(sub.to_ascii_lowercase());
            spec = self.specs.get(&full).unwrap_or(spec);
        }
        if spec.first <= 0 {
            return if spec.movable {
                Err(malformed())
            } else {
                Ok(Vec::new())
            };
        }
        // Positions come from the source's reply: bounded by the parts, and
        // stepped without overflow.
        let n = parts.len() as i64;
        let last = if spec.last < 0 {
            n + spec.last
        } else {
            spec.last.min(n - 1)
        };
        let (Ok(first), Ok(last)) = (usize::try_from(spec.first), usize::try_from(last)) else {
            return Ok(Vec::new());
        };
        let step = usize::try_from(spec.step).unwrap_or(1).max(1);
        Ok(parts
            .iter()
            .take(last.saturating_add(1))
            .skip(first)
            .step_by(step)
            .copied()
            .collect())
    }
}

/// Keys of the write commands whose keys move; `None` for other commands,
/// `Some(None)` when the arguments are malformed.
fn movable_keys<'a>(name: &[u8], parts: &[&'a [u8]]) -> Option<Option<Vec<&'a [u8]>>> {
    // `numkeys` at `at`, keys right after it; `before` keys that precede it.
    let counted = |at: usize, before: &[usize]| -> Option<Vec<&'a [u8]>> {
        let n: usize = std::str::from_utf8(parts.get(at)?).ok()?.parse().ok()?;
        let keys = parts.get(at + 1..)?.get(..n)?;
        let mut out: Vec<&[u8]> = before
            .iter()
            .filter_map(|&i| parts.get(i).copied())
            .collect();
        out.extend_from_slice(keys);
        Some(out)
    };
    Some(match name {
        b"eval" | b"evalsha" | b"eval_ro" | b"evalsha_ro" | b"fcall" | b"fcall_ro" => {
            counted(2, &[])
        }
        b"zunionstore" | b"zinterstore" | b"zdiffstore" => counted(2, &[1]),
        b"zunion" | b"zinter" | b"zdiff" | b"sintercard" | b"zmpop" | b"lmpop" => counted(1, &[]),
        b"bzmpop" | b"blmpop" => counted(2, &[]),
        b"xread" | b"xreadgroup" => {
            let at = parts
                .iter()
                .position(|p| p.eq_ignore_ascii_case(b"streams"))?;
            let rest = parts.get(at + 1..)?;
            (rest.len() % 2 == 0).then(|| rest[..rest.len() / 2].to_vec())
        }
        b"sort" | b"sort_ro" | b"georadius" | b"georadiusbymember" => {
            let mut keys = vec![*parts.get(1)?];
            let mut i = 2;
            while i + 1 < parts.len() {
                if parts[i].eq_ignore_ascii_case(b"store")
                    || parts[i].eq_ignore_ascii_case(b"storedist")
                {
                    keys.push(parts[i + 1]);
                }
                i += 1;
            }
            Some(keys)
        }
        b"migrate" => {
            let key = *parts.get(3)?;
            if key.is_empty() {
                let at = parts.iter().position(|p| p.eq_ignore_ascii_case(b"keys"))?;
                Some(parts.get(at + 1..)?.to_vec())
            } else {
                Some(vec![key])
            }
        }
        _ => return None,
    })
}
