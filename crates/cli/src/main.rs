//! `ferry`: the command-line tool.

fn main() {}
