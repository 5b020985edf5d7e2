//! The `eksaudit` binary, run as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::fixtures;

fn eksaudit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("FALCO_HOSTNAME", "test-host")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run eksaudit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SAMPLES: &str = "rules/samples/eks-audit-envelopes.jsonl";

#[test]
fn replay_of_the_samples_raises_falco_shaped_alerts() {
    let out = eksaudit(&["replay", "--format", "json", SAMPLES]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let alerts: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 12);
    assert_eq!(alerts[0]["rule"], "EKS Exec Into A Pod");
    let first = alerts
        .iter()
        .find(|a| a["rule"] == "EKS aws-auth ConfigMap Modified")
        .unwrap();
    assert_eq!(first["priority"], "Critical");
    assert_eq!(first["source"], "k8s_audit");
    assert_eq!(first["hostname"], "test-host");
    assert_eq!(first["output_fields"]["eks.cluster"], "prod-eu");
    assert!(first["output_fields"]["evt.time"].is_u64());
    let time = first["time"].as_str().unwrap();
    assert_eq!(time.len(), "2025-06-12T09:00:06.161981000Z".len(), "{time}");
    let summary = stderr(&out);
    assert!(summary.contains("17 events, 12 alerts"), "{summary}");
    assert!(
        summary.contains("1 CloudWatch control messages"),
        "{summary}"
    );
}

#[test]
fn replay_without_input_replays_the_bundled_samples() {
    // stdin is /dev/null here: empty, so the samples are replayed, as in a terminal.
    let out = eksaudit(&["replay"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 12);
    assert!(
        stderr(&out).contains("replaying the bundled sample events"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn replay_filters_by_priority_and_can_match_all() {
    let out = eksaudit(&["replay", "--min-priority", "critical", SAMPLES]);
    assert_eq!(stdout(&out).lines().count(), 5, "{}", stdout(&out));
    let all = eksaudit(&["replay", "--rule-matching", "all", SAMPLES]);
    assert!(stdout(&all).lines().count() >= 12, "{}", stdout(&all));
    let out = eksaudit(&["replay", "--min-priority", "loud", SAMPLES]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown priority"),
        "{}",
        stderr(&out)
    );
}

#[test]
#[cfg_attr(
    not(has_upstream_fixtures),
    ignore = "needs Falco's upstream fixtures: set EKSAUDIT_FIXTURES or put them at ../shared/fixtures/upstream"
)]
fn replay_with_upstream_rules_on_an_upstream_trace() {
    let rules =
        fixtures().join("plugins-k8saudit-0.18.0/plugins/k8saudit/rules/k8s_audit_rules.yaml");
    let trace = fixtures().join(
        "falco-0.31.1/test/trace_files/k8s_audit/create_cluster_role_wildcard_resources.json",
    );
    let out = eksaudit(&[
        "replay",
        "-r",
        rules.to_str().unwrap(),
        "--format",
        "json",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rules: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["rule"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(rules, ["ClusterRole With Wildcard Created"]);
}

#[test]
fn replay_reports_input_problems_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.json");
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/events/privileged-pod.json"
    ))
    .unwrap();
    std::fs::write(
        &path,
        format!("{{\"kind\":\"Event\",\"auditID\":\"x\"\n{good}{{\"kind\":0}}\n"),
    )
    .unwrap();
    let out = eksaudit(&["replay", "-r", "rules", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary = stderr(&out);
    assert!(summary.contains("1 events"), "{summary}");
    assert!(
        summary.contains("invalid_json: 1, not_audit_event: 1"),
        "{summary}"
    );
    assert!(
        summary.contains("mixed.json:3: data not recognized as a k8s audit event"),
        "{summary}"
    );
}

#[test]
fn replay_refuses_rules_that_do_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "- rule: r\n  desc: d\n  condition: ka.nope = 1\n  output: o\n  priority: WARNING\n  source: k8s_audit\n").unwrap();
    let out = eksaudit(&["replay", "-r", path.to_str().unwrap(), SAMPLES]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("LOAD_ERR_COMPILE_CONDITION"), "{err}");
    assert!(err.contains("the rules do not load"), "{err}");
}

#[test]
fn rules_validate_lists_errors_with_their_place() {
    let out = eksaudit(&["rules", "validate", "rules"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("valid"), "{}", stdout(&out));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "- macro: m\n  condition: ka.uri.param = x\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: LOUD\n  source: k8s_audit\n").unwrap();
    let out = eksaudit(&["rules", "validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("bad.yaml"), "{text}");
    assert!(text.contains("invalid:"), "{text}");
    let out = eksaudit(&["rules", "validate", "--json", path.to_str().unwrap()]);
    let json: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(json["falco_load_results"][0]["successful"], false);
}

/// `rules validate` prints Falco 0.44.1's deprecation warning word for word, and a
/// warning does not fail validation.
#[test]
fn rules_validate_prints_falcos_append_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("append.yaml");
    std::fs::write(
        &path,
        "- rule: r\n  desc: d\n  condition: ka.verb = create\n  output: o\n  priority: WARNING\n  source: k8s_audit\n- rule: r\n  condition: and ka.user.name = bob\n  append: true\n",
    )
    .unwrap();
    let out = eksaudit(&["rules", "validate", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."),
        "{text}"
    );
    assert!(!text.contains("The 'append' key"), "{text}");
}

#[test]
fn rules_test_runs_the_bundled_fixtures() {
    let out = eksaudit(&["rules", "test", "tests/rules"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .all(|l| l.starts_with("PASS ") || l.ends_with(" passed, 0 failed")),
        "{text}"
    );
    assert!(text.trim_end().ends_with(" passed, 0 failed"), "{text}");
    let passed: usize = text
        .trim_end()
        .rsplit('\n')
        .next()
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(passed >= 150, "{text}");
}

#[test]
fn rules_test_fails_on_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.yaml");
    std::fs::write(
        &path,
        format!(
            "cases:\n  - name: samples\n    events_file: {}/{SAMPLES}\n    expect: {{EKS Exec Into A System Pod: 2}}\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let out = eksaudit(&["rules", "test", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("FAIL "), "{}", stdout(&out));
    assert!(
        stdout(&out).trim_end().ends_with("0 passed, 1 failed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn fields_lists_every_field() {
    let out = eksaudit(&["fields", "--json"]);
    let fields: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        fields
            .iter()
            .filter(|f| f["name"].as_str().unwrap().starts_with("ka."))
            .count(),
        100
    );
    assert!(
        fields
            .iter()
            .all(|f| !f["desc"].as_str().unwrap().is_empty())
    );
    let text = stdout(&eksaudit(&["fields"]));
    assert!(
        text.contains("ka.uri.param") && text.contains("[key]"),
        "{text}"
    );
}

#[test]
fn extract_prints_requested_fields_per_event() {
    let out = eksaudit(&[
        "extract",
        "-f",
        "eks.cluster",
        "-f",
        "ka.user.groups",
        "-f",
        "ka.uri.param[command]",
        SAMPLES,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 17);
    assert_eq!(rows[0]["eks.cluster"], "prod-eu");
    assert!(rows[0]["ka.user.groups"].is_array());
    assert!(rows.iter().any(|r| r["ka.uri.param[command]"] == "/bin/sh"));
    assert!(
        rows.iter()
            .all(|r| r.get("ka.uri.param[command]") != Some(&Value::Null))
    );
    let out = eksaudit(&["extract", "-f", "ka.uri.param", SAMPLES]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("requires an argument"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn extract_reads_stdin_and_survives_a_closed_pipe() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["extract", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let samples =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLES)).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut input = Vec::new();
    for _ in 0..200 {
        input.extend_from_slice(&samples);
    }
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    // Read one line, then close stdout: the program must end quietly with 0.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    writer.join().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn help_explains_every_command() {
    let out = eksaudit(&["--help"]);
    let text = stdout(&out);
    for command in ["fields", "extract", "replay", "rules", "completions", "man"] {
        assert!(text.contains(command), "{text}");
    }
    let text = stdout(&eksaudit(&["replay", "--help"]));
    assert!(
        text.contains("--min-priority")
            && text.contains("--rule-matching")
            && text.contains("bundled"),
        "{text}"
    );
}

/// Completion scripts come from the clap definition: they know the subcommands and their
/// options.
#[test]
fn completions_know_the_subcommands() {
    let out = eksaudit(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bash = stdout(&out);
    assert!(bash.contains("complete -F _eksaudit"), "{bash}");
    for word in [
        "replay",
        "extract",
        "fields",
        "validate",
        "--min-priority",
        "--rule-matching",
    ] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let zsh = stdout(&eksaudit(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef eksaudit"), "{zsh}");
    assert!(zsh.contains("replay"));
    let fish = stdout(&eksaudit(&["completions", "fish"]));
    assert!(fish.contains("complete -c eksaudit"), "{fish}");
    assert!(fish.contains("-l min-priority"), "{fish}");
    let out = eksaudit(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid value 'tcsh'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn man_page_is_roff_for_the_whole_command() {
    let out = eksaudit(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    let title = format!(".TH eksaudit 1  \"eksaudit {}\"", env!("CARGO_PKG_VERSION"));
    assert!(page.contains(&title), "{page}");
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for sub in ["replay", "rules", "extract", "fields", "completions", "man"] {
        let reference = format!("eksaudit\\-{sub}(1)");
        assert!(page.contains(&reference), "man page lacks {reference}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = eksaudit(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for name in [
        "eksaudit.1",
        "eksaudit-replay.1",
        "eksaudit-rules-validate.1",
    ] {
        let page = std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(page.contains(".TH "), "{name}: {page}");
    }
    let replay = std::fs::read_to_string(dir.path().join("eksaudit-replay.1")).unwrap();
    assert!(replay.contains("min\\-priority"), "{replay}");
}

/// `eksaudit completions bash | head -1`: a reader that goes away is not an error, and
/// nothing panics.
#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eksaudit"))
        .args(["completions", "bash"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
