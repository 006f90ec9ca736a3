//! RESP encoding and score arguments.

use ferry_cli::output::resp::{score_arg, write_command};

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    write_command(&mut out, &[b"SET", b"k\r\n", b""]).unwrap();
    assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n");
    let parsed = crate::support::parse_resp(&out);
    assert_eq!(
        parsed,
        vec![vec![b"SET".to_vec(), b"k\r\n".to_vec(), Vec::new()]]
    );
}

#[test]
fn scores_round_trip_through_strtod_syntax() {
    assert_eq!(score_arg(f64::INFINITY).unwrap(), "+inf");
    assert_eq!(score_arg(f64::NEG_INFINITY).unwrap(), "-inf");
    assert_eq!(score_arg(f64::NAN), None);
    assert_eq!(score_arg(1.0).unwrap(), "1.0");
    assert_eq!(score_arg(-0.0).unwrap(), "-0.0");
    for s in [
        0.1,
        1e-300,
        1.2345678901234568e17,
        -998765.1507219768,
        5e-324,
        f64::MAX,
    ] {
        let text = score_arg(s).unwrap();
        assert_eq!(
            text.parse::<f64>().unwrap().to_bits(),
            s.to_bits(),
            "{text}"
        );
    }
}
