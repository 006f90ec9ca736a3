//! Integration tests of ferry-resp: one binary, a module per subject.
