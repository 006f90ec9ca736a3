//! Commands kept in their wire form.

use crate::command::Command;
use crate::error::NotACommand;
use crate::frame::Frame;
use bytes::{Bytes, BytesMut};
use std::fmt;
use std::ops::Range;

/// A command exactly as it arrived: its wire bytes, which are a non-empty
/// array of bulk strings, read in place.
///
/// [`Decoder::decode_command`](crate::Decoder::decode_command) returns these.
/// Taking a command costs one split of the read buffer and no allocation,
/// and the bytes can be forwarded unchanged ([`RawCommand::wire`]): what a
/// replica applying a master's stream mostly does. Parts are read from the
/// wire bytes on demand, as `&[u8]` or as zero-copy [`Bytes`].
///
/// The wire form of a command is canonical (lengths have no sign, no
/// leading zeros), so two `RawCommand`s are equal exactly when their parts
/// are.
///
/// ```
/// use ferry_resp::{Command, RawCommand};
///
/// let raw = RawCommand::from(&Command::new("SET").arg("k").arg("v"));
/// assert!(raw.is("set"));
/// assert_eq!(raw.arity(), 3);
/// assert_eq!(raw.args().collect::<Vec<_>>(), [&b"k"[..], &b"v"[..]]);
/// assert_eq!(&raw.wire()[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
/// assert_eq!(Command::from(&raw), Command::new("SET").arg("k").arg("v"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawCommand {
    /// A valid, complete `*N` array of N ≥ 1 bulk strings, nothing more.
    wire: Bytes,
    arity: usize,
}

impl RawCommand {
    /// `wire` was checked by the decoder: `arity` bulk strings, whole.
    pub(crate) fn from_checked(wire: Bytes, arity: usize) -> Self {
        RawCommand { wire, arity }
    }

    /// The exact bytes of the command on the wire.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The wire bytes, owned.
    pub fn into_wire(self) -> Bytes {
        self.wire
    }

    /// The number of parts: the name and its arguments (at least 1).
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// The name as received (any case).
    pub fn name(&self) -> &[u8] {
        self.parts().next().unwrap_or_default()
    }

    /// True when the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The name, then the arguments.
    pub fn parts(&self) -> Parts<'_> {
        Parts {
            spans: self.spans(),
        }
    }

    /// The arguments, without the name.
    pub fn args(&self) -> Parts<'_> {
        let mut parts = self.parts();
        parts.next();
        parts
    }

    /// Part `i` (0 is the name). Reading part `i` walks the `i` before it.
    pub fn part(&self, i: usize) -> Option<&[u8]> {
        self.parts().nth(i)
    }

    /// Argument `i` (0 is the first after the name).
    pub fn arg(&self, i: usize) -> Option<&[u8]> {
        self.part(i.checked_add(1)?)
    }

    /// Part `i` as a zero-copy slice of the wire bytes.
    pub fn part_bytes(&self, i: usize) -> Option<Bytes> {
        self.spans().nth(i).map(|r| self.wire.slice(r))
    }

    /// Appends the command's wire bytes to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.wire);
    }

    fn spans(&self) -> Spans<'_> {
        // Skip the `*N\r\n` header.
        let at = self
            .wire
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.wire.len(), |i| i + 1);
        Spans {
            wire: &self.wire,
            at,
            left: self.arity,
        }
    }
}

impl fmt::Debug for RawCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.parts().map(|p| p.escape_ascii().to_string()))
            .finish()
    }
}

/// Where each part's bytes are, read from the checked wire form.
#[derive(Clone)]
struct Spans<'a> {
    wire: &'a [u8],
    /// The next part's `$`.
    at: usize,
    left: usize,
}

impl Iterator for Spans<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if self.left == 0 {
            return None;
        }
        // `$<len>\r\n<bytes>\r\n`: the decoder checked every part, so only
        // the digits need reading; `get` keeps a broken invariant from
        // panicking.
        let mut i = self.at + 1;
        let mut len = 0usize;
        while let Some(&b) = self.wire.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            len = len.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
            i += 1;
        }
        let start = i + 2;
        let end = start.checked_add(len)?;
        if end + 2 > self.wire.len() {
            self.left = 0;
            return None;
        }
        self.at = end + 2;
        self.left -= 1;
        Some(start..end)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The parts of a [`RawCommand`], borrowed from its wire bytes.
#[derive(Clone)]
pub struct Parts<'a> {
    spans: Spans<'a>,
}

impl<'a> Iterator for Parts<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let wire = self.spans.wire;
        self.spans.next().and_then(|r| wire.get(r))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for Parts<'_> {}

impl fmt::Debug for Parts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.clone().map(|p| p.escape_ascii().to_string()))
            .finish()
    }
}

impl From<&Command> for RawCommand {
    fn from(cmd: &Command) -> Self {
        RawCommand {
            wire: cmd.to_bytes(),
            arity: cmd.parts().len(),
        }
    }
}

impl From<Command> for RawCommand {
    fn from(cmd: Command) -> Self {
        RawCommand::from(&cmd)
    }
}

impl From<&RawCommand> for Command {
    /// The parts as zero-copy slices of the wire bytes.
    fn from(raw: &RawCommand) -> Self {
        let mut spans = raw.spans();
        let name = spans.next().map_or_else(Bytes::new, |r| raw.wire.slice(r));
        let mut cmd = Command::with_capacity(name, raw.arity.saturating_sub(1));
        for r in spans {
            cmd.push_arg(raw.wire.slice(r));
        }
        cmd
    }
}

impl From<RawCommand> for Command {
    fn from(raw: RawCommand) -> Self {
        Command::from(&raw)
    }
}

impl From<RawCommand> for Frame {
    fn from(raw: RawCommand) -> Frame {
        Command::from(&raw).into_frame()
    }
}

impl TryFrom<Frame> for RawCommand {
    type Error = NotACommand;

    /// Accepts what [`Command`] accepts, and encodes it (one copy).
    fn try_from(frame: Frame) -> Result<Self, NotACommand> {
        Ok(RawCommand::from(&Command::try_from(frame)?))
    }
}
