//! corpus tests.
