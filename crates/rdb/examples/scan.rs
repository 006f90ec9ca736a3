//! Decodes RDB files and prints a one-line summary of each: keys, or the error.
//!
//! `cargo run -p ferry-rdb --example scan -- FILE...` (`SKIP_VALUES=1` lists keys only)

use ferry_rdb::{Config, Item, Reader};

fn main() {
    for path in std::env::args().skip(1) {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        let mut keys = 0u64;
        let mut result = String::from("ok");
        let config = Config {
            skip_values: std::env::var_os("SKIP_VALUES").is_some(),
            ..Config::default()
        };
        for item in Reader::with_config(file, config) {
            match item {
                Ok(Item::Key(_)) => keys += 1,
                Ok(_) => {}
                Err(e) => {
                    result = e.to_string();
                    break;
                }
            }
        }
        println!("{path}\t{keys}\t{result}");
    }
}
