//! The built binary: errors and exit statuses, filters, stdin, formats, pipes.

use crate::support::{
    assert_ok, bytes_of, code, corpus_file, dump, ferry, json_lines, parse_resp, run,
    run_with_stdin, stderr, temp_dir,
};
use std::io::Read;
use std::process::Stdio;

const SEED1: &str = "generated/redis-7.0.15_default_seed1.rdb";
const SEED1_KEYS: usize = 685;

/// Asserts a failure with status 1 and exactly one `ferry: error:` line naming a byte offset.
#[track_caller]
fn assert_one_line_error(out: &std::process::Output, needle: &str) -> String {
    let err = stderr(out);
    assert_eq!(code(out), 1, "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected: {err}");
    assert!(lines[0].starts_with("ferry: error: "), "{err}");
    assert!(lines[0].contains(needle), "{needle:?} not in {err}");
    lines[0].to_owned()
}

#[test]
fn truncated_files_fail_with_the_offset_after_complete_json_lines() {
    let data = std::fs::read(corpus_file(SEED1)).unwrap();
    let dir = temp_dir("truncated");
    let mut seen_partial = false;
    for cut in [5, 9, 200, 100_000, 250_000, data.len() - 9, data.len() - 1] {
        let path = dir.join(format!("cut-{cut}.rdb"));
        std::fs::write(&path, &data[..cut]).unwrap();
        let out = dump(&path, &[]);
        let line = assert_one_line_error(&out, "byte offset");
        assert!(line.contains("truncated"), "{line}");
        let lines = json_lines(&out.stdout);
        assert!(
            lines.len() < SEED1_KEYS || cut >= data.len() - 9,
            "{cut}: {}",
            lines.len()
        );
        seen_partial |= !lines.is_empty() && lines.len() < SEED1_KEYS;
        for l in &lines {
            assert!(l.get("key").is_some() && l.get("value").is_some(), "{l}");
        }
    }
    assert!(
        seen_partial,
        "some cut should leave complete keys before the error"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn truncated_input_on_stdin_fails_the_same_way() {
    let data = std::fs::read(corpus_file(SEED1)).unwrap();
    let out = run_with_stdin(&["dump", "-"], &data[..300_000]);
    let line = assert_one_line_error(&out, "byte offset");
    assert!(line.starts_with("ferry: error: <stdin>: "), "{line}");
    assert!(!json_lines(&out.stdout).is_empty());
}

#[test]
fn a_bad_checksum_fails_after_all_keys_unless_verification_is_off() {
    let mut data = std::fs::read(corpus_file(SEED1)).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x55;
    let dir = temp_dir("checksum");
    let path = dir.join("bad-crc.rdb");
    std::fs::write(&path, &data).unwrap();
    let out = dump(&path, &[]);
    let line = assert_one_line_error(&out, "byte offset");
    assert!(line.contains("checksum mismatch"), "{line}");
    assert_eq!(json_lines(&out.stdout).len(), SEED1_KEYS);
    let out = dump(&path, &["--no-verify-checksum"]);
    assert_ok(&out);
    assert_eq!(json_lines(&out.stdout).len(), SEED1_KEYS);
    let _ = std::fs::remove_dir_all(dir);

    let out = dump(&corpus_file("librdb/invalid_chksum_v8.rdb"), &[]);
    assert_one_line_error(&out, "checksum mismatch");
}

#[test]
fn corrupt_unknown_and_missing_inputs_fail_with_one_line() {
    let out = dump(&corpus_file("redis/corrupt_ziplist.rdb"), &[]);
    assert_one_line_error(&out, "byte offset");
    json_lines(&out.stdout);
    let out = dump(&corpus_file("librdb/future_v19.rdb"), &[]);
    assert_one_line_error(&out, "unsupported RDB version 99");
    let out = run_with_stdin(&["dump", "-"], b"this is not an RDB file at all");
    assert_one_line_error(&out, "bad magic");
    assert!(out.stdout.is_empty());
    let out = run_with_stdin(&["dump", "-"], b"");
    assert_one_line_error(&out, "byte offset 0");
    let out = run(&["dump", "/nonexistent/ferry/dump.rdb"]);
    assert_one_line_error(&out, "cannot open /nonexistent/ferry/dump.rdb");
}

#[test]
fn stdin_gives_the_same_output_as_the_file() {
    let path = corpus_file(SEED1);
    let data = std::fs::read(&path).unwrap();
    for format in ["jsonl", "resp", "keys"] {
        let from_file = dump(&path, &["-f", format, "-q"]);
        let from_stdin = run_with_stdin(&["dump", "-", "--format", format, "-q"], &data);
        assert_ok(&from_file);
        assert_ok(&from_stdin);
        assert!(from_file.stdout == from_stdin.stdout, "{format} differs");
    }
}

#[test]
fn db_filter_keeps_only_the_given_databases() {
    let path = corpus_file(SEED1);
    let out = dump(&path, &["--db", "1"]);
    assert_ok(&out);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 228);
    assert!(lines.iter().all(|l| l["db"] == 1));
    let out = dump(&path, &["--db", "0", "--db", "2"]);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 229 + 228);
    assert!(lines.iter().all(|l| l["db"] == 0 || l["db"] == 2));
    let out = dump(&path, &["--db", "7"]);
    assert_ok(&out);
    assert!(out.stdout.is_empty());
}

#[test]
fn key_pattern_filter_uses_redis_globs_on_raw_bytes() {
    let path = corpus_file(SEED1);
    let all = json_lines(&dump(&path, &[]).stdout);
    let keys: Vec<Vec<u8>> = all.iter().map(|l| bytes_of(&l["key"])).collect();
    for pattern in [
        "db0:str:*",
        "db[12]:hash:*",
        "*:zset:s?ecial",
        "db?:bin:*",
        "*\\:list\\:*",
    ] {
        let out = dump(&path, &["--key-pattern", pattern]);
        assert_ok(&out);
        let got: Vec<Vec<u8>> = json_lines(&out.stdout)
            .iter()
            .map(|l| bytes_of(&l["key"]))
            .collect();
        let want: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| ferry_cli::glob::matches(pattern.as_bytes(), k))
            .cloned()
            .collect();
        assert!(!want.is_empty(), "{pattern} selects nothing");
        assert_eq!(got, want, "{pattern}");
    }
    // The binary key of each db: `db0:bin:\0key\r\n\xff\xfe`.
    let out = dump(&path, &["-k", "db?:bin:*", "--db", "0"]);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(bytes_of(&lines[0]["key"]), b"db0:bin:\x00key\r\n\xff\xfe");
    assert!(lines[0]["key"].get("base64").is_some());
}

#[test]
fn keys_format_lists_db_type_and_quoted_key() {
    let out = dump(&corpus_file(SEED1), &["--format", "keys"]);
    assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), SEED1_KEYS);
    assert!(lines.contains(&"0\tstring\t\"db0:bin:\\x00key\\r\\n\\xff\\xfe\""));
    assert!(lines.contains(&"2\tstream\tdb2:stream:main"));
    assert!(lines.contains(&"1\tzset\tdb1:zset:special"));
    for l in &lines {
        let parts: Vec<&str> = l.split('\t').collect();
        assert_eq!(parts.len(), 3, "{l}");
        assert!(["string", "list", "set", "zset", "hash", "stream", "module"].contains(&parts[1]));
    }
}

#[test]
fn resp_format_is_well_formed_bounded_and_summarised() {
    let out = dump(&corpus_file(SEED1), &["--format", "resp"]);
    assert_ok(&out);
    let commands = parse_resp(&out.stdout);
    assert_eq!(commands[0], [b"SELECT".to_vec(), b"0".to_vec()]);
    for c in &commands {
        assert!(c.len() <= 2 + 2 * 512 + 1, "{} arguments", c.len());
        let bytes: usize = c.iter().map(Vec::len).sum();
        assert!(bytes <= 2 * 1024 * 1024, "{bytes} bytes in one command");
    }
    // The 1.2 MB string goes out as SET + APPENDs.
    let big: Vec<&Vec<Vec<u8>>> = commands
        .iter()
        .filter(|c| c.get(1).is_some_and(|k| k == b"db0:str:big"))
        .collect();
    assert_eq!(big[0][0], b"SET");
    assert!(big.len() > 2 && big[1..].iter().all(|c| c[0] == b"APPEND"));
    let total: usize = big.iter().map(|c| c[2].len()).sum();
    assert_eq!(total, 1_258_304);
    let err = stderr(&out);
    assert_eq!(
        err.trim_end(),
        "ferry: summary: 685 keys written, 0 functions written, 0 expired keys skipped, \
         0 expired hash fields skipped, 0 empty keys skipped, 0 unsupported values skipped"
    );
}

#[test]
fn resp_skips_expired_and_empty_keys() {
    let out = dump(&corpus_file("librdb/set_expired_v11.rdb"), &["-f", "resp"]);
    assert_ok(&out);
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("0 keys written, 0 functions written, 1 expired keys skipped"));
    // jsonl keeps what the file holds.
    let out = dump(&corpus_file("librdb/set_expired_v11.rdb"), &[]);
    assert_eq!(json_lines(&out.stdout).len(), 1);

    let out = dump(
        &corpus_file("redis/corrupt_empty_keys.rdb"),
        &["-f", "resp"],
    );
    assert_ok(&out);
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("9 empty keys skipped"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn resp_reports_module_values_and_fails_unless_told_to_skip_them() {
    let path = corpus_file("librdb/module.rdb");
    let out = dump(&path, &["-f", "resp"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("ferry: warning: db 0 key \"key1\": module value (type test__rdb)"));
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("ferry: error: 1 value(s)")
    );
    let out = dump(&path, &["-f", "resp", "--skip-unsupported", "--quiet"]);
    assert_ok(&out);
    assert_eq!(stderr(&out).lines().count(), 1, "only the warning");
    // jsonl shows the module value.
    let out = dump(&path, &[]);
    assert_ok(&out);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[0]["type"], "module");
    assert_eq!(lines[0]["value"]["module"], "test__rdb");
    assert_eq!(lines[0]["value"]["encver"], 1);
    assert!(lines[0]["value"]["payload"].is_string());
}

#[test]
fn functions_are_json_lines_and_function_load_commands() {
    let path = corpus_file("hdt3213-rdb/function.rdb");
    let out = dump(&path, &[]);
    assert_ok(&out);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1);
    let code_text = lines[0]["function"].as_str().unwrap();
    assert!(code_text.starts_with("#!lua name=mylib"));
    let out = dump(&path, &["-f", "resp"]);
    assert_ok(&out);
    let commands = parse_resp(&out.stdout);
    assert_eq!(
        commands,
        vec![vec![
            b"FUNCTION".to_vec(),
            b"LOAD".to_vec(),
            b"REPLACE".to_vec(),
            code_text.as_bytes().to_vec()
        ]]
    );
    let out = dump(&path, &["-f", "resp", "--no-functions", "-q"]);
    assert_ok(&out);
    assert!(out.stdout.is_empty());
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    for format in ["jsonl", "resp", "keys"] {
        let mut child = ferry()
            .args(["dump", corpus_file(SEED1).to_str().unwrap(), "-f", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{format}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{format}: {}", stderr(&out));
    }
}

#[test]
fn help_explains_options_and_exit_statuses() {
    let out = run(&["dump", "--help"]);
    assert_ok(&out);
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--format",
        "--db",
        "--key-pattern",
        "--skip-unsupported",
        "--no-functions",
        "--no-verify-checksum",
        "Exit status",
        "standard input",
        "jsonl",
        "resp",
        "keys",
    ] {
        assert!(help.contains(needle), "{needle} missing from help");
    }
    let out = run(&["--help"]);
    assert_ok(&out);
    assert!(String::from_utf8(out.stdout).unwrap().contains("dump"));
}

#[test]
fn usage_errors_exit_with_2() {
    assert_eq!(code(&run(&["dump"])), 2);
    assert_eq!(code(&run(&["dump", "x.rdb", "--format", "xml"])), 2);
    assert_eq!(code(&run(&["dump", "x.rdb", "--db", "minus-one"])), 2);
    assert_eq!(code(&run(&["frobnicate"])), 2);
    assert_eq!(code(&run(&[])), 2);
}
