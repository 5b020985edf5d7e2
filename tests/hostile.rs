//! The hostile-input corpus (`hostile_corpus.rs`) through `eksaudit replay`, as a user
//! runs it: no panic, each input's problems counted by kind in the summary and named in
//! a log line, no log flood, and the peak memory of the whole run bounded.

use std::process::Command;

use crate::hostile_corpus;

/// The peak memory the replay summary reports, in MiB.
fn peak_memory_mib(stderr: &str) -> u64 {
    stderr
        .split(", peak memory ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stderr}"))
}

/// `N events` and `kind: count` pairs of the replay summary.
fn summary(stderr: &str) -> (u64, Vec<(String, u64)>) {
    let events = stderr
        .lines()
        .find_map(|l| l.strip_prefix("eksaudit replay: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    let kinds = stderr
        .lines()
        .find_map(|l| l.strip_prefix("input problems by kind: "))
        .map(|l| {
            l.split(", ")
                .map(|pair| {
                    let (kind, n) = pair.split_once(": ").unwrap();
                    (kind.to_string(), n.parse().unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    (events, kinds)
}

#[test]
fn hostile_inputs_through_replay_are_counted_named_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cases = hostile_corpus::write(dir.path());
    let mut report = Vec::new();
    let mut peak = 0;
    for case in &cases {
        let output = Command::new(env!("CARGO_BIN_EXE_eksaudit"))
            .args(["replay", "--format", "json"])
            .arg(&case.path)
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        let rss = peak_memory_mib(&stderr);
        peak = peak.max(rss);
        let name = case.name;
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let (events, kinds) = summary(&stderr);
        let expected: Vec<(String, u64)> = case
            .errors
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        assert_eq!(
            (events, &kinds),
            (case.events, &expected),
            "{name}: {stderr}"
        );
        let expected_code = if case.errors.is_empty() { 0 } else { 1 };
        assert_eq!(code, Some(expected_code), "{name}: {stderr}");
        if !case.errors.is_empty() {
            assert!(
                stderr.contains(&format!("{}", case.path.display())),
                "{name}: the log names the input: {stderr}"
            );
        }
        let lines = stderr.lines().count();
        assert!(lines <= 40, "{name}: {lines} log lines: {stderr}");
        report.push(format!(
            "{name}: {events} events, {kinds:?}, {lines} log lines, peak memory {rss} MiB"
        ));
    }
    eprintln!(
        "hostile corpus through replay: peak memory {peak} MiB\n  {}",
        report.join("\n  ")
    );
    // The bound: one document of up to max_document_size (64 MiB) buffered, plus the
    // program and its rules (about 30 MiB in a debug build); a gzip bomb or a 50 MiB
    // line costs no more than that.
    assert!(peak <= 64 + 48, "peak memory {peak} MiB");
}
