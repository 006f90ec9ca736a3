//! live tests.
