//! The bundled rules: they load with no warning (alone and next to Falco's upstream
//! k8s_audit_rules.yaml), every fixture case passes, every rule has a positive and a
//! negative case, and everyday EKS traffic raises nothing.

use std::path::{Path, PathBuf};

use eksaudit::bundled;
use eksaudit::rules::fixtures::{fixture_files, run_file};
use eksaudit::rules::{Engine, EngineOptions, RulesFile, validate};

use crate::support::fixtures;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules")
}

#[test]
fn bundled_rules_load_cleanly() {
    let files = bundled::rules_files();
    let report = validate(&files, &EngineOptions::default());
    assert!(report.successful(), "{}", report.verbose(&files));
    assert_eq!(report.warnings().count(), 0, "{}", report.verbose(&files));
}

#[test]
fn bundled_rules_match_the_files_in_the_repository() {
    for (name, text) in bundled::RULES {
        let on_disk =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
        assert_eq!(&on_disk, text, "{name}");
    }
    let mut on_disk: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .map(|p| format!("rules/{}", p.file_name().unwrap().to_string_lossy()))
            .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = bundled::RULES.iter().map(|(n, _)| n.to_string()).collect();
    embedded.sort();
    assert_eq!(on_disk, embedded, "every rules file in rules/ is embedded");
}

/// Falco loads rules files side by side: the bundled ones must not redefine (or append to)
/// any list, macro or rule of the upstream file, in either load order. Runs where Falco's
/// upstream fixtures are (`../shared/fixtures/upstream` or `$EKSAUDIT_FIXTURES`).
#[test]
fn bundled_rules_load_next_to_the_upstream_rules_without_a_clash() {
    let upstream_path =
        fixtures().join("plugins-k8saudit-0.18.0/plugins/k8saudit/rules/k8s_audit_rules.yaml");
    if !upstream_path.exists() {
        eprintln!(
            "skipped: {} is absent (set EKSAUDIT_FIXTURES)",
            upstream_path.display()
        );
        return;
    }
    let upstream = RulesFile::new(
        upstream_path.display().to_string(),
        std::fs::read_to_string(&upstream_path).unwrap(),
    );
    let ours = bundled::rules_files();
    for files in [
        std::iter::once(upstream.clone())
            .chain(ours.clone())
            .collect::<Vec<_>>(),
        ours.iter()
            .cloned()
            .chain(std::iter::once(upstream.clone()))
            .collect(),
    ] {
        let report = validate(&files, &EngineOptions::default());
        assert!(report.successful(), "{}", report.verbose(&files));
        assert_eq!(report.warnings().count(), 0, "{}", report.verbose(&files));
    }
    // No name of ours is one of upstream's.
    let names = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| {
                ["- rule: ", "- macro: ", "- list: "]
                    .iter()
                    .find_map(|p| l.strip_prefix(p))
                    .map(|n| n.trim().to_string())
            })
            .collect()
    };
    let theirs = names(&std::fs::read_to_string(&upstream_path).unwrap());
    for (file, text) in bundled::RULES {
        for name in names(text) {
            assert!(!theirs.contains(&name), "{file}: {name} is also upstream's");
            assert!(
                name.starts_with("eksaudit_") || name.starts_with("EKS "),
                "{file}: {name} has no name of its own"
            );
        }
    }
    let (engine, _) = Engine::load(&ours, &EngineOptions::default()).unwrap();
    assert!(engine.rules().len() >= 60);
}

#[test]
fn every_bundled_rule_has_a_positive_and_a_negative_case_and_all_pass() {
    let dir = fixture_dir();
    let files = fixture_files(&[dir.as_path()]).unwrap();
    assert!(files.len() >= 9, "{files:?}");
    let results: Vec<_> = files
        .iter()
        .flat_map(|f| run_file(f, &bundled::rules_files(), &EngineOptions::default()))
        .collect();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.to_string())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let (engine, _) = Engine::load(&bundled::rules_files(), &EngineOptions::default()).unwrap();
    for rule in engine.rules() {
        let positive = results
            .iter()
            .any(|r| r.alerts.get(&rule.name).is_some_and(|n| *n > 0));
        // A negative case expects 0 alerts of the rule: `Name: 0` in a block mapping or
        // `{Name: 0` / `, Name: 0` in a flow mapping.
        let zero = format!("{}: 0", rule.name);
        let negative = texts.iter().any(|t| {
            t.lines().any(|l| {
                let l = l.trim();
                l == zero
                    || l.contains(&format!("{{{zero}}}"))
                    || l.contains(&format!("{{{zero},"))
                    || l.contains(&format!(", {zero}}}"))
                    || l.contains(&format!(", {zero},"))
            })
        });
        assert!(positive, "no positive case raised {}", rule.name);
        assert!(negative, "no negative case for {}", rule.name);
    }
}

/// An hour of everyday EKS traffic (kubelets, controllers, EKS's own identities, add-ons,
/// health probes, a CI role deploying with helm and kubectl, people reading with kubectl)
/// raises no alert from any bundled rule, with every rule evaluated on every event.
#[test]
fn everyday_eks_traffic_is_silent() {
    let dir = fixture_dir();
    let (events, errors) =
        crate::support::decode_file(&dir.join("data/benign-eks-traffic.jsonl.gz"));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(events.len() >= 500, "{}", events.len());
    let results = run_file(
        &dir.join("benign_eks_traffic.yaml"),
        &bundled::rules_files(),
        &EngineOptions::default(),
    );
    assert_eq!(results.len(), 1);
    assert!(results[0].passed, "{}", results[0]);
    assert!(
        results[0].alerts.values().all(|n| *n == 0),
        "{:?}",
        results[0].alerts
    );
    assert!(
        results[0]
            .message
            .starts_with(&format!("{} event(s), 0 alert(s)", events.len())),
        "{}",
        results[0].message
    );
}
