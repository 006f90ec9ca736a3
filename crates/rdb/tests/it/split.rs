//! split tests.
