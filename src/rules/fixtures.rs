//! Rule test fixtures: the `eksaudit rules test` runner.
//!
//! A fixture file is YAML. It names the rules to load, then lists cases: events and the
//! exact number of alerts each rule must raise for them.
//!
//! ```yaml
//! # Rules files in load order, relative to this file. Omit the key to test the rules the
//! # caller passes as defaults (`eksaudit rules test` uses the bundled rules).
//! rules:
//!   - ../rules/k8s_audit_rules.yaml
//!   - my_overrides.yaml
//! # Engine settings, all optional.
//! options:
//!   rule_matching: first          # or `all` (Falco's default is first)
//!   min_priority: debug
//!   legacy_list_operators: false
//! cases:
//!   - name: exec into a pod alerts
//!     # Audit events written inline (a mapping is converted to JSON; a string is taken as
//!     # JSON text) ...
//!     events:
//!       - kind: Event
//!         apiVersion: audit.k8s.io/v1
//!         auditID: 6a1c0bb8-0000-0000-0000-000000000001
//!         stage: ResponseStarted
//!         verb: create
//!         objectRef: {resource: pods, subresource: exec, namespace: default, name: web}
//!         user: {username: alice}
//!         stageTimestamp: "2024-01-02T03:04:05.123456Z"
//!     # ... and/or read from a file in any format the decoder accepts (relative path).
//!     events_file: traces/exec.json
//!     # Exact alert counts. 0 makes a negative case for that rule.
//!     expect:
//!       Attach/Exec Pod: 1
//!       Disallowed K8s User: 0
//!     # Optional: fail on any alert from a rule not listed in `expect`.
//!     only_expected: true
//! ```
//!
//! A case passes when every listed rule raised exactly its count (and, with `only_expected`,
//! no other rule raised anything). A fixture that cannot be read, whose rules do not load or
//! whose events do not decode fails with a message saying why; it never aborts the run.
//! Events are numbered from 1 per case, as in a fresh Falco run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::yaml::{self, Kind, Node};
use super::{Alert, Engine, EngineOptions, Priority, RuleMatching, RulesFile};
use crate::decode::{self, DecodeOptions};

/// One case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The fixture file.
    pub fixture: String,
    /// The case name (or a description of what failed before any case ran).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed, or a summary of the alerts when it passed.
    pub message: String,
    /// Alerts per rule.
    pub alerts: BTreeMap<String, u64>,
}

impl CaseResult {
    fn failed(fixture: &str, name: &str, message: impl Into<String>) -> Self {
        CaseResult {
            fixture: fixture.to_string(),
            name: name.to_string(),
            passed: false,
            message: message.into(),
            alerts: BTreeMap::new(),
        }
    }
}

impl std::fmt::Display for CaseResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            if self.passed { "PASS" } else { "FAIL" },
            self.fixture,
            self.name
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
}

impl Summary {
    /// Counts results.
    pub fn of(results: &[CaseResult]) -> Summary {
        let passed = results.iter().filter(|r| r.passed).count();
        Summary {
            passed,
            failed: results.len() - passed,
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// The fixture files under `paths`: files as given; directories searched recursively for
/// `*.yaml`/`*.yml` files that are fixtures (a mapping with `cases`), so rules files kept
/// beside fixtures (a YAML sequence) are skipped. Sorted by path.
pub fn fixture_files(paths: &[&Path]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let mut stack = vec![p.to_path_buf()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir)? {
                    let path = entry?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
                        && is_fixture(&path)
                    {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.to_path_buf());
        }
    }
    Ok(out)
}

/// Whether a YAML file looks like a fixture. Unreadable or invalid files count as fixtures
/// so that running them reports the problem.
fn is_fixture(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return true;
    };
    match yaml::load_all(&text) {
        Ok(docs) => docs
            .iter()
            .find(|d| !d.is_null())
            .is_some_and(|d| d.is_map() && d.has("cases")),
        Err(_) => true,
    }
}

/// Runs every case of one fixture file. `default_rules` are used when the fixture names
/// none; `base` supplies the options a fixture does not set.
pub fn run_file(path: &Path, default_rules: &[RulesFile], base: &EngineOptions) -> Vec<CaseResult> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![CaseResult::failed(&name, "(fixture)", e.to_string())],
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    run_text(&name, &text, dir, default_rules, base)
}

/// Runs a fixture given as text; relative paths resolve against `dir`.
pub fn run_text(
    name: &str,
    text: &str,
    dir: &Path,
    default_rules: &[RulesFile],
    base: &EngineOptions,
) -> Vec<CaseResult> {
    let fail = |msg: String| vec![CaseResult::failed(name, "(fixture)", msg)];
    let docs = match yaml::load_all(text) {
        Ok(d) => d,
        Err(e) => return fail(format!("invalid YAML: {e}")),
    };
    let Some(root) = docs.into_iter().find(|d| !d.is_null()) else {
        return fail("empty fixture".into());
    };
    if !root.is_map() {
        return fail("a fixture is a mapping with `cases`".into());
    }
    let options = match parse_options(root.get("options"), base) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let rules: Vec<RulesFile> = match root.get("rules") {
        None => default_rules.to_vec(),
        Some(list) => {
            let mut files = Vec::new();
            for item in list.items() {
                let Some(p) = item.scalar() else {
                    return fail("`rules` items are paths".into());
                };
                let full = dir.join(p);
                match RulesFile::from_path(&full) {
                    Ok(f) => files.push(f),
                    Err(e) => return fail(format!("{}: {e}", full.display())),
                }
            }
            if !list.is_seq() {
                return fail("`rules` is a list of paths".into());
            }
            files
        }
    };
    let engine = match Engine::load(&rules, &options) {
        Ok((engine, _)) => engine,
        Err(report) => {
            let mut msg = String::from("rules do not load");
            for e in report.errors() {
                msg.push_str(&format!("; {e}"));
            }
            if let Some(e) = &report.requirement_error {
                msg.push_str(&format!("; {e}"));
            }
            return fail(msg);
        }
    };
    let Some(cases) = root.get("cases").filter(|c| c.is_seq()) else {
        return fail("`cases` is missing or not a list".into());
    };
    cases
        .items()
        .iter()
        .enumerate()
        .map(|(i, case)| run_case(name, i, case, dir, &engine))
        .collect()
}

fn parse_options(node: Option<&Node>, base: &EngineOptions) -> Result<EngineOptions, String> {
    let mut o = base.clone();
    let Some(node) = node else {
        return Ok(o);
    };
    for (k, v) in node.members() {
        let key = k.key_text();
        let val = v.scalar().unwrap_or_default();
        match key.as_str() {
            "rule_matching" => {
                o.rule_matching = match val {
                    "first" => RuleMatching::First,
                    "all" => RuleMatching::All,
                    _ => return Err(format!("rule_matching must be first or all, not {val:?}")),
                }
            }
            "min_priority" => {
                o.min_priority =
                    Priority::parse(val).ok_or_else(|| format!("unknown priority {val:?}"))?;
            }
            "legacy_list_operators" => {
                o.legacy_list_operators =
                    yaml::to_bool(val).ok_or_else(|| format!("not a boolean: {val:?}"))?;
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(o)
}

fn run_case(fixture: &str, index: usize, case: &Node, dir: &Path, engine: &Engine) -> CaseResult {
    let name = case
        .get("name")
        .and_then(Node::scalar)
        .map(str::to_string)
        .unwrap_or_else(|| format!("case {}", index + 1));
    let fail = |msg: String| CaseResult::failed(fixture, &name, msg);
    let mut payload = Vec::new();
    if let Some(events) = case.get("events") {
        for ev in events.items() {
            match &ev.kind {
                Kind::Scalar(s) => payload.extend_from_slice(s.as_bytes()),
                _ => to_json(ev, &mut payload),
            }
            payload.push(b'\n');
        }
    }
    let mut decoded = Vec::new();
    let mut errors = Vec::new();
    let options = DecodeOptions::default();
    for item in decode::decode_bytes(&payload, &format!("{fixture}#{name}"), &options) {
        match item {
            Ok(d) => decoded.push(d.event),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let Some(file) = case.get("events_file").and_then(Node::scalar) {
        let path = dir.join(file);
        match decode::read_path(&path, &options) {
            Ok(items) => {
                for item in items {
                    match item {
                        Ok(d) => decoded.push(d.event),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
            Err(e) => return fail(format!("{}: {e}", path.display())),
        }
    }
    if !errors.is_empty() {
        return fail(format!("events do not decode: {}", errors.join("; ")));
    }
    if decoded.is_empty() {
        return fail("no events".into());
    }
    let mut evaluator = engine.evaluator();
    let mut alerts: Vec<Alert> = Vec::new();
    for (n, ev) in decoded.iter().enumerate() {
        evaluator.evaluate(&ev.view(), n as u64 + 1, &mut alerts);
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for a in &alerts {
        *counts.entry(a.rule.to_string()).or_default() += 1;
    }
    let mut problems = Vec::new();
    let expect = case.get("expect");
    let mut expected_rules = Vec::new();
    for (k, v) in expect.map(Node::members).unwrap_or_default() {
        let rule = k.key_text();
        let Some(want) = v.scalar().and_then(|s| s.parse::<u64>().ok()) else {
            return fail(format!("expected count for {rule:?} is not a number"));
        };
        let got = counts.get(&rule).copied().unwrap_or(0);
        if got != want {
            problems.push(format!("{rule:?}: expected {want}, got {got}"));
        }
        expected_rules.push(rule);
    }
    if expect.is_none() {
        return fail("no `expect`".into());
    }
    let only = case
        .get("only_expected")
        .and_then(Node::scalar)
        .and_then(yaml::to_bool)
        .unwrap_or(false);
    if only {
        for (rule, n) in &counts {
            if !expected_rules.contains(rule) {
                problems.push(format!("unexpected {n} alert(s) from {rule:?}"));
            }
        }
    }
    let (runtime, first) = evaluator.runtime_errors();
    if runtime > 0 {
        problems.push(format!(
            "{runtime} runtime error(s): {}",
            first.unwrap_or_default()
        ));
    }
    let passed = problems.is_empty();
    let message = if passed {
        let total: u64 = counts.values().sum();
        format!("{} event(s), {total} alert(s)", decoded.len())
    } else {
        problems.join("; ")
    };
    CaseResult {
        fixture: fixture.to_string(),
        name,
        passed,
        message,
        alerts: counts,
    }
}

/// A YAML node as JSON, with the YAML core schema for plain scalars (numbers, booleans and
/// null stay typed; everything else is a string).
fn to_json(n: &Node, out: &mut Vec<u8>) {
    match &n.kind {
        Kind::Null => out.extend_from_slice(b"null"),
        Kind::Scalar(s) => {
            if matches!(s.as_str(), "true" | "false") || is_json_number(s) {
                out.extend_from_slice(s.as_bytes());
            } else {
                crate::json::push_escaped(out, s.as_bytes());
            }
        }
        Kind::Seq(items) => {
            out.push(b'[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                to_json(it, out);
            }
            out.push(b']');
        }
        Kind::Map(members) => {
            out.push(b'{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                crate::json::push_escaped(out, k.key_text().as_bytes());
                out.push(b':');
                to_json(v, out);
            }
            out.push(b'}');
        }
    }
}

fn is_json_number(s: &str) -> bool {
    serde_json::from_str::<serde_json::Number>(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
- rule: Exec
  desc: d
  condition: ka.target.subresource = exec
  output: exec by %ka.user.name
  priority: NOTICE
  source: k8s_audit
- rule: Any
  desc: d
  condition: ka.verb exists
  output: any
  priority: DEBUG
  source: k8s_audit
"#;

    fn run(fixture: &str) -> Vec<CaseResult> {
        let rules = [RulesFile::new("r.yaml", RULES)];
        run_text(
            "f.yaml",
            fixture,
            Path::new("."),
            &rules,
            &EngineOptions::default(),
        )
    }

    const EVENT: &str = r#"
      - kind: Event
        apiVersion: audit.k8s.io/v1
        auditID: a1
        verb: create
        objectRef: {resource: pods, subresource: exec}
        user: {username: alice}
        responseStatus: {code: 101}
        stageTimestamp: "2024-01-02T03:04:05.123456Z"
"#;

    #[test]
    fn positive_and_negative_cases() {
        let fixture = format!(
            "cases:\n  - name: fires\n    events:{EVENT}    expect: {{Exec: 1, Any: 0}}\n  - name: wrong\n    events:{EVENT}    expect: {{Exec: 0}}\n"
        );
        let results = run(&fixture);
        assert_eq!(results.len(), 2);
        assert!(results[0].passed, "{}", results[0]);
        assert!(!results[1].passed);
        assert_eq!(results[1].message, "\"Exec\": expected 0, got 1");
        assert_eq!(Summary::of(&results).to_string(), "1 passed, 1 failed");
    }

    #[test]
    fn options_and_only_expected() {
        let fixture = format!(
            "options: {{rule_matching: all}}\ncases:\n  - events:{EVENT}    expect: {{Exec: 1}}\n    only_expected: true\n"
        );
        let results = run(&fixture);
        assert!(!results[0].passed);
        assert_eq!(results[0].message, "unexpected 1 alert(s) from \"Any\"");
        assert_eq!(results[0].name, "case 1");
    }

    #[test]
    fn json_string_events_and_typed_scalars() {
        let mut out = Vec::new();
        let doc = &yaml::load_all("{a: 1, b: 'x', c: true, d: ~, e: 1.5e3, f: 007x}").unwrap()[0];
        to_json(doc, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":1,"b":"x","c":true,"d":null,"e":1.5e3,"f":"007x"}"#
        );
        let fixture = "cases:\n  - events:\n      - '{\"kind\":\"Event\",\"auditID\":\"x\",\"verb\":\"get\",\"stageTimestamp\":\"2024-01-02T03:04:05Z\"}'\n    expect: {Any: 1}\n";
        assert!(run(fixture)[0].passed, "{}", run(fixture)[0]);
    }

    #[test]
    fn discovery_skips_rules_files() {
        let dir = std::env::temp_dir().join(format!("eksaudit-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("support")).unwrap();
        std::fs::write(dir.join("a.yaml"), "cases: []\n").unwrap();
        std::fs::write(dir.join("support/rules.yaml"), "- list: l\n  items: []\n").unwrap();
        std::fs::write(dir.join("broken.yml"), "cases: [\n").unwrap();
        let found = fixture_files(&[&dir]).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.yaml", "broken.yml"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn broken_fixtures_fail_with_a_reason() {
        assert!(run("cases: [")[0].message.starts_with("invalid YAML"));
        let bad_rules = "rules: [missing.yaml]\ncases: []\n";
        assert!(run(bad_rules)[0].message.contains("missing.yaml"));
        let no_events = "cases:\n  - expect: {Any: 0}\n";
        assert_eq!(run(no_events)[0].message, "no events");
        let bad_event = "cases:\n  - events: ['{\"kind\": 0}']\n    expect: {Any: 0}\n";
        assert!(
            run(bad_event)[0]
                .message
                .contains("not recognized as a k8s audit event")
        );
    }
}
