//! Output formats of `ferry dump`: each turns the decoder's items for the
//! selected keys into bytes on a writer.

pub mod json;
pub mod keys;
pub mod pending;
pub mod resp;
pub mod spool;

use ferry_rdb::{Function, Item, KeyHeader, ModuleAux};
use std::io;

pub use json::JsonlOutput;
pub use keys::KeysOutput;
pub use resp::RespOutput;

/// What an output did, for the closing summary and the exit code: the
/// counts `ferry-sink`'s replayer keeps, which `--format resp` reports as they
/// are and the other formats fill in themselves.
pub use ferry_sink::replay::Summary;

/// A sink for the selected keys of an RDB file.
///
/// The caller feeds, per key, [`Output::begin_key`], the key's element items
/// (strings chunks, list items, ... as [`Item`]s) through [`Output::element`],
/// then [`Output::end_key`]. Functions and module AUX data come outside keys.
pub trait Output {
    /// A selected key starts.
    ///
    /// # Errors
    /// Writing failed.
    fn begin_key(&mut self, header: &KeyHeader) -> io::Result<()>;

    /// An element item of the current key.
    ///
    /// # Errors
    /// Writing failed.
    fn element(&mut self, item: Item) -> io::Result<()>;

    /// The current key is complete.
    ///
    /// # Errors
    /// Writing failed.
    fn end_key(&mut self) -> io::Result<()>;

    /// A function library.
    ///
    /// # Errors
    /// Writing failed.
    fn function(&mut self, function: &Function) -> io::Result<()>;

    /// Data a module saved outside keys. Ignored unless the format must report it.
    ///
    /// # Errors
    /// Writing failed.
    fn module_aux(&mut self, aux: &ModuleAux) -> io::Result<()> {
        let _ = aux;
        Ok(())
    }

    /// Flushes everything complete and tells what was done.
    ///
    /// # Errors
    /// Writing failed.
    fn finish(&mut self) -> io::Result<Summary>;
}
