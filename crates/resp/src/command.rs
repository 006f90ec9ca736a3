//! Commands: arrays of bulk strings, built and taken apart.

use crate::error::NotACommand;
use crate::frame::{self, Frame, blob_len, header_len};
use bytes::{Bytes, BytesMut};

/// A command as Redis reads it: a name and its arguments, each a binary-safe
/// string.
///
/// ```
/// use ferry_resp::Command;
///
/// let cmd = Command::new("SET").arg("k").arg(b"v".as_slice()).arg("PX").arg(1500u64);
/// assert!(cmd.is("set"));
/// assert_eq!(cmd.args().len(), 4);
/// assert_eq!(&cmd.to_bytes()[..], b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n1500\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// The name first, then the arguments; never empty.
    parts: Vec<Bytes>,
}

impl Command {
    /// A command with no arguments yet.
    pub fn new(name: impl Arg) -> Self {
        Command {
            parts: vec![name.into_arg()],
        }
    }

    /// A command with room for `args` arguments.
    pub fn with_capacity(name: impl Arg, args: usize) -> Self {
        let mut parts = Vec::with_capacity(args + 1);
        parts.push(name.into_arg());
        Command { parts }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Arg) -> Self {
        self.parts.push(arg.into_arg());
        self
    }

    /// Adds an argument in place.
    pub fn push_arg(&mut self, arg: impl Arg) -> &mut Self {
        self.parts.push(arg.into_arg());
        self
    }

    /// The name as it was given or received (any case).
    pub fn name(&self) -> &[u8] {
        // `parts` is never empty: built with a name, or checked in `try_from`.
        self.parts.first().map_or(&[], |b| &b[..])
    }

    /// True when the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The arguments, without the name.
    pub fn args(&self) -> &[Bytes] {
        self.parts.get(1..).unwrap_or(&[])
    }

    /// The name followed by the arguments.
    pub fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    /// The name followed by the arguments, owned.
    pub fn into_parts(self) -> Vec<Bytes> {
        self.parts
    }

    /// Appends the command's wire form (an array of bulk strings) to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        frame::header(out, b'*', self.parts.len());
        for part in &self.parts {
            frame::blob(out, b'$', part);
        }
    }

    /// The command's wire form.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }

    /// The number of bytes [`Command::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        header_len(self.parts.len()) + self.parts.iter().map(|p| blob_len(p.len())).sum::<usize>()
    }

    /// The command as an array frame.
    pub fn into_frame(self) -> Frame {
        Frame::Array(self.parts.into_iter().map(Frame::Bulk).collect())
    }
}

impl TryFrom<Frame> for Command {
    type Error = NotACommand;

    /// Accepts a non-empty array whose elements are all bulk strings, which
    /// is how clients and masters send commands.
    fn try_from(frame: Frame) -> Result<Self, NotACommand> {
        let Frame::Array(items) = frame else {
            return Err(NotACommand(frame));
        };
        if items.is_empty() || !items.iter().all(|f| matches!(f, Frame::Bulk(_))) {
            return Err(NotACommand(Frame::Array(items)));
        }
        let parts = items
            .into_iter()
            .filter_map(|f| match f {
                Frame::Bulk(b) => Some(b),
                _ => None,
            })
            .collect();
        Ok(Command { parts })
    }
}

impl From<Command> for Frame {
    fn from(cmd: Command) -> Frame {
        cmd.into_frame()
    }
}

/// A value usable as a command name or argument.
///
/// Strings and byte slices are copied; `Bytes` and `Vec<u8>` are taken
/// without copying; integers are written in decimal; floats as the
/// shortest decimal that reads back to the same value (`inf`, `-inf` for
/// infinities), which is what Redis accepts as a score.
pub trait Arg {
    /// The argument's bytes.
    fn into_arg(self) -> Bytes;
}

impl Arg for Bytes {
    fn into_arg(self) -> Bytes {
        self
    }
}

impl Arg for &Bytes {
    fn into_arg(self) -> Bytes {
        self.clone()
    }
}

impl Arg for Vec<u8> {
    fn into_arg(self) -> Bytes {
        Bytes::from(self)
    }
}

impl Arg for String {
    fn into_arg(self) -> Bytes {
        Bytes::from(self)
    }
}

impl Arg for &str {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl Arg for &String {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl Arg for &[u8] {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> Arg for &[u8; N] {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

macro_rules! integer_args {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn into_arg(self) -> Bytes {
                Bytes::copy_from_slice(itoa::Buffer::new().format(self).as_bytes())
            }
        }
    )*};
}

integer_args!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl Arg for f64 {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(frame::format_double(self, &mut ryu::Buffer::new()).as_bytes())
    }
}
