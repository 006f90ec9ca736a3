//! Decodes RDB files and prints a one-line summary of each: keys, or the error.
//!
//! `cargo run -p ferry-rdb --example scan -- FILE...`

use ferry_rdb::{Item, Reader};

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
        for item in Reader::new(std::io::BufReader::new(file)) {
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
