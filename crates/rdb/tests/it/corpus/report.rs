//! Collecting verdicts for every file and check, and printing the summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The outcome of one assertion.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Skip(&'static str),
}

impl Verdict {
    /// Pass when `got == want`, else a message with both.
    pub fn eq<T: PartialEq + std::fmt::Debug>(want: T, got: T) -> Verdict {
        if want == got {
            Verdict::Pass
        } else {
            Verdict::Fail(format!("expected {want:?}, got {got:?}"))
        }
    }

    /// Pass when `ok`, else `Fail(message())`.
    pub fn check(ok: bool, message: impl FnOnce() -> String) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail(message())
        }
    }

    /// From a comparison that yields the first difference.
    pub fn from_result(r: Result<(), String>) -> Verdict {
        match r {
            Ok(()) => Verdict::Pass,
            Err(e) => Verdict::Fail(e),
        }
    }
}

/// One assertion: where (file, or a check of a key), which field, and the outcome.
#[derive(Debug)]
pub struct Assertion {
    pub scope: String,
    pub field: String,
    pub verdict: Verdict,
}

/// All assertions about one file (one expected.json entry, or one INDEX.json entry).
#[derive(Debug)]
pub struct FileReport {
    pub name: String,
    pub assertions: Vec<Assertion>,
}

impl FileReport {
    pub fn new(name: &str) -> Self {
        FileReport {
            name: name.to_owned(),
            assertions: Vec::new(),
        }
    }

    pub fn push(&mut self, scope: &str, field: &str, verdict: Verdict) {
        self.assertions.push(Assertion {
            scope: scope.to_owned(),
            field: field.to_owned(),
            verdict,
        });
    }

    pub fn failed(&self) -> bool {
        self.assertions
            .iter()
            .any(|a| matches!(a.verdict, Verdict::Fail(_)))
    }

    fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for a in &self.assertions {
            match a.verdict {
                Verdict::Pass => c.pass += 1,
                Verdict::Fail(_) => c.fail += 1,
                Verdict::Skip(_) => c.skip += 1,
            }
        }
        // Check objects: all assertions of one scope other than "file".
        let mut scopes: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for a in self.assertions.iter().filter(|a| a.scope != FILE_SCOPE) {
            let e = scopes.entry(&a.scope).or_default();
            e.0 |= matches!(a.verdict, Verdict::Fail(_));
            e.1 |= matches!(a.verdict, Verdict::Skip(_));
        }
        for (failed, skipped) in scopes.values() {
            if *failed {
                c.checks_fail += 1;
            } else if *skipped {
                c.checks_partly_skipped += 1;
            } else {
                c.checks_pass += 1;
            }
        }
        c
    }
}

/// Scope name of file-level assertions.
pub const FILE_SCOPE: &str = "file";

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    files: usize,
    files_fail: usize,
    pass: usize,
    fail: usize,
    skip: usize,
    checks_pass: usize,
    checks_fail: usize,
    checks_partly_skipped: usize,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.files += o.files;
        self.files_fail += o.files_fail;
        self.pass += o.pass;
        self.fail += o.fail;
        self.skip += o.skip;
        self.checks_pass += o.checks_pass;
        self.checks_fail += o.checks_fail;
        self.checks_partly_skipped += o.checks_partly_skipped;
    }
}

/// Every file's report, and the summary.
#[derive(Debug)]
pub struct Report {
    pub title: String,
    pub files: Vec<FileReport>,
}

/// Failure lines printed per file before "... more".
const MAX_LINES_PER_FILE: usize = 15;

impl Report {
    pub fn new(title: &str) -> Self {
        Report {
            title: title.to_owned(),
            files: Vec::new(),
        }
    }

    pub fn failed_files(&self) -> usize {
        self.files.iter().filter(|f| f.failed()).count()
    }

    /// The summary table by source, skip reasons, then every failure.
    pub fn render(&self) -> String {
        let mut by_source: BTreeMap<&str, Counts> = BTreeMap::new();
        let mut total = Counts::default();
        let mut skips: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for f in &self.files {
            let source = f.name.split('/').next().unwrap_or("");
            let mut c = f.counts();
            c.files = 1;
            c.files_fail = usize::from(f.failed());
            by_source.entry(source).or_default().add(c);
            total.add(c);
            for a in &f.assertions {
                if let Verdict::Skip(reason) = a.verdict {
                    *skips.entry((reason, field_family(&a.field))).or_default() += 1;
                }
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "\n==== {} ====", self.title);
        let _ = writeln!(
            out,
            "{:<18} {:>5} {:>5} {:>5} | {:>6} {:>6} {:>5} {:>5} | {:>6} {:>6} {:>5} {:>5}",
            "source",
            "files",
            "pass",
            "FAIL",
            "checks",
            "pass",
            "FAIL",
            "skip",
            "facts",
            "pass",
            "FAIL",
            "skip"
        );
        let mut row = |name: &str, c: &Counts| {
            let _ = writeln!(
                out,
                "{:<18} {:>5} {:>5} {:>5} | {:>6} {:>6} {:>5} {:>5} | {:>6} {:>6} {:>5} {:>5}",
                name,
                c.files,
                c.files - c.files_fail,
                c.files_fail,
                c.checks_pass + c.checks_fail + c.checks_partly_skipped,
                c.checks_pass,
                c.checks_fail,
                c.checks_partly_skipped,
                c.pass + c.fail + c.skip,
                c.pass,
                c.fail,
                c.skip
            );
        };
        for (source, c) in &by_source {
            row(source, c);
        }
        row("TOTAL", &total);
        let _ = writeln!(
            out,
            "checks: the check objects of expected.json (skip: no field failed, some skipped); \
             facts: every field of every check, plus file-level facts"
        );
        if !skips.is_empty() {
            let _ = writeln!(out, "skipped assertions by reason:");
            for ((reason, field), n) in &skips {
                let _ = writeln!(out, "  {n:>6}  {field}: {reason}");
            }
        }
        let failed: Vec<&FileReport> = self.files.iter().filter(|f| f.failed()).collect();
        if !failed.is_empty() {
            let _ = writeln!(
                out,
                "failures ({} assertions in {} files):",
                total.fail,
                failed.len()
            );
            for f in failed {
                let _ = writeln!(out, "  {}", f.name);
                // Collapse the fields of one scope that failed for the same reason.
                let mut lines: Vec<(String, Vec<&str>, &str)> = Vec::new();
                for a in &f.assertions {
                    let Verdict::Fail(msg) = &a.verdict else {
                        continue;
                    };
                    match lines
                        .iter_mut()
                        .find(|(scope, _, m)| *scope == a.scope && *m == msg.as_str())
                    {
                        Some(line) => line.1.push(&a.field),
                        None => lines.push((a.scope.clone(), vec![&a.field], msg)),
                    }
                }
                for (scope, fields, msg) in lines.iter().take(MAX_LINES_PER_FILE) {
                    let _ = writeln!(out, "    {scope}: {}: {msg}", fields.join(", "));
                }
                if lines.len() > MAX_LINES_PER_FILE {
                    let _ = writeln!(out, "    ... and {} more", lines.len() - MAX_LINES_PER_FILE);
                }
            }
        }
        out
    }
}

/// Groups skip reasons by field name without per-key detail.
fn field_family(field: &str) -> &str {
    field.split(['.', '[']).next().unwrap_or(field)
}
