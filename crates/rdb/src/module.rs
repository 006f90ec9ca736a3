//! Module values: the typed items of a `MODULE_2` payload, and RedisJSON as text.
//!
//! A module value is opaque to Redis, but the `MODULE_2` format tags every
//! item it saves (integer, float, double, string) so the value can be framed
//! without the module. [`values`] lists those items; [`json_text`] turns a
//! RedisJSON (`ReJSON-RL`) value back into the JSON text `JSON.GET` returns.
//!
//! ```
//! use ferry_rdb::module::{values, Value};
//!
//! // UINT 5, STRING "hi", EOF
//! let payload = [2, 5, 5, 2, b'h', b'i', 0];
//! assert_eq!(values(&payload)?, vec![Value::Uint(5), Value::String("hi".into())]);
//! # Ok::<(), ferry_rdb::Error>(())
//! ```

use crate::cursor::{Cursor, Stop};
use crate::error::{Error, ErrorKind};
use crate::item::ModuleType;
use bytes::Bytes;

/// Largest string item decoded (the default element limit of the decoder).
const MAX_STRING_BYTES: u64 = 512 * 1024 * 1024;

/// One item a module saved.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A signed integer (opcode 1; Redis itself writes signed values as [`Value::Uint`]).
    Sint(i64),
    /// An unsigned integer, or a signed one's two's-complement bits.
    Uint(u64),
    /// A float.
    Float(f32),
    /// A double.
    Double(f64),
    /// A string.
    String(Bytes),
}

/// Lists the items of a `MODULE_2` payload (as carried by [`crate::Item::ModuleChunk`]s
/// or [`crate::ModuleAux::payload`]), up to its EOF opcode.
///
/// # Errors
/// [`ErrorKind::Corrupt`] or [`ErrorKind::Truncated`] with the offset in the payload.
pub fn values(payload: &[u8]) -> Result<Vec<Value>, Error> {
    let whole = Bytes::copy_from_slice(payload);
    let mut c = Cursor::new(payload);
    let mut out = Vec::new();
    let fail = |s: Stop, at: usize| match s {
        Stop::More(_) => Error::new(
            ErrorKind::Truncated {
                what: "module value",
            },
            at as u64,
        ),
        Stop::Bad(k, p) => Error::new(k, p as u64),
    };
    loop {
        let at = c.pos;
        let op = c.len("module opcode").map_err(|s| fail(s, at))?;
        let v = match op {
            0 => return Ok(out),
            1 => Value::Sint(c.len("module integer").map_err(|s| fail(s, at))? as i64),
            2 => Value::Uint(c.len("module integer").map_err(|s| fail(s, at))?),
            3 => Value::Float(c.f32_le().map_err(|s| fail(s, at))?),
            4 => Value::Double(c.f64_le().map_err(|s| fail(s, at))?),
            5 => {
                let s = c
                    .string(MAX_STRING_BYTES, "module string")
                    .map_err(|s| fail(s, at))?;
                let bytes = s.bytes(&whole).map_err(|k| Error::new(k, at as u64))?;
                Value::String(bytes)
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Corrupt {
                        what: "module opcode",
                    },
                    at as u64,
                ));
            }
        };
        out.push(v);
    }
}

/// The JSON text of a RedisJSON value, or `None` when `module` is not
/// RedisJSON or its encoding version is not one this crate knows (0, 2, 3).
///
/// # Errors
/// When the payload does not have the layout its encoding version implies.
pub fn json_text(module: ModuleType, payload: &[u8]) -> Option<Result<String, Error>> {
    if module.name() != "ReJSON-RL" {
        return None;
    }
    let bad = || {
        Error::new(
            ErrorKind::Corrupt {
                what: "RedisJSON value",
            },
            0,
        )
    };
    let items = match values(payload) {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    match module.encver() {
        // RedisJSON 2.x saves the serialized document as one string (encver 2
        // adds legacy index data after it).
        2 | 3 => Some(match items.first() {
            Some(Value::String(s)) => String::from_utf8(s.to_vec()).map_err(|_| bad()),
            _ => Err(bad()),
        }),
        // RedisJSON 1.x saves a tree of typed nodes.
        0 => {
            let mut out = String::new();
            let mut it = items.into_iter();
            Some(
                json_node(&mut it, &mut out, 0)
                    .map(|()| out)
                    .map_err(|()| bad()),
            )
        }
        _ => None,
    }
}

const MAX_JSON_DEPTH: usize = 512;

fn json_node(
    it: &mut impl Iterator<Item = Value>,
    out: &mut String,
    depth: usize,
) -> Result<(), ()> {
    if depth > MAX_JSON_DEPTH {
        return Err(());
    }
    let Some(Value::Uint(kind)) = it.next() else {
        return Err(());
    };
    match kind {
        0x1 => out.push_str("null"),
        0x2 => match it.next() {
            Some(Value::String(s)) => json_string(&s, out),
            _ => return Err(()),
        },
        0x4 => match it.next() {
            Some(Value::Double(d)) if d.is_finite() => {
                let mut b = ryu::Buffer::new();
                out.push_str(b.format_finite(d));
            }
            _ => return Err(()),
        },
        0x8 => match it.next() {
            Some(Value::Uint(v)) => out.push_str(&(v as i64).to_string()),
            Some(Value::Sint(v)) => out.push_str(&v.to_string()),
            _ => return Err(()),
        },
        0x10 => match it.next() {
            Some(Value::String(s)) => out.push_str(if s.first() == Some(&b'1') {
                "true"
            } else {
                "false"
            }),
            _ => return Err(()),
        },
        0x20 => {
            let Some(Value::Uint(n)) = it.next() else {
                return Err(());
            };
            out.push('{');
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                if it.next() != Some(Value::Uint(0x80)) {
                    return Err(());
                }
                let Some(Value::String(k)) = it.next() else {
                    return Err(());
                };
                json_string(&k, out);
                out.push(':');
                json_node(it, out, depth + 1)?;
            }
            out.push('}');
        }
        0x40 => {
            let Some(Value::Uint(n)) = it.next() else {
                return Err(());
            };
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                json_node(it, out, depth + 1)?;
            }
            out.push(']');
        }
        _ => return Err(()),
    }
    Ok(())
}

fn json_string(s: &[u8], out: &mut String) {
    out.push('"');
    for ch in String::from_utf8_lossy(s).chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_every_opcode_and_refuses_unknown_ones() {
        let mut p = vec![1, 7, 2, 0x81, 0, 0, 0, 0, 0, 0, 1, 0, 3];
        p.extend_from_slice(&1.5f32.to_le_bytes());
        p.push(4);
        p.extend_from_slice(&2.5f64.to_le_bytes());
        p.extend_from_slice(&[5, 1, b'x', 0]);
        assert_eq!(
            values(&p).unwrap(),
            vec![
                Value::Sint(7),
                Value::Uint(256),
                Value::Float(1.5),
                Value::Double(2.5),
                Value::String("x".into())
            ]
        );
        assert!(values(&[9]).is_err());
        assert!(values(&[2, 1]).is_err());
    }

    #[test]
    fn redisjson_v1_tree_becomes_text() {
        let rejson_v0 = ModuleType { id: rejson_id(0) };
        // {"a":[1,true]}; node kinds 0x40 and 0x80 take 14-bit lengths.
        let p = [
            2, 0x20, 2, 1, 2, 0x40, 0x80, 5, 1, b'a', 2, 0x40, 0x40, 2, 2, 2, 0x8, 2, 1, 2, 0x10,
            5, 1, b'1', 0,
        ];
        assert_eq!(
            json_text(rejson_v0, &p).unwrap().unwrap(),
            r#"{"a":[1,true]}"#
        );
    }

    fn rejson_id(encver: u64) -> u64 {
        let charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id = 0u64;
        for ch in b"ReJSON-RL" {
            let idx = charset.iter().position(|c| c == ch).unwrap() as u64;
            id = (id << 6) | idx;
        }
        (id << 10) | encver
    }
}
