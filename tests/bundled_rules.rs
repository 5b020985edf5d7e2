//! The bundled rules: they load with no warning, and every fixture case passes.

use std::path::Path;

use eksaudit::bundled;
use eksaudit::rules::fixtures::{fixture_files, run_file};
use eksaudit::rules::{EngineOptions, validate};

#[test]
fn bundled_rules_load_cleanly() {
    let files = bundled::rules_files();
    let report = validate(&files, &EngineOptions::default());
    assert!(report.successful(), "{}", report.verbose(&files));
    assert_eq!(report.warnings().count(), 0, "{}", report.verbose(&files));
}

#[test]
fn every_bundled_rule_has_a_positive_and_a_negative_case_and_all_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    let files = fixture_files(&[dir.as_path()]).unwrap();
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
    let (engine, _) =
        eksaudit::rules::Engine::load(&bundled::rules_files(), &EngineOptions::default()).unwrap();
    for rule in engine.rules() {
        let positive = results
            .iter()
            .any(|r| r.alerts.get(&rule.name).is_some_and(|n| *n > 0));
        let negative_text = std::fs::read_to_string(dir.join("eksaudit_rules.yaml")).unwrap();
        let negative = negative_text.contains(&format!("{{{}: 0}}", rule.name));
        assert!(positive, "no positive case raised {}", rule.name);
        assert!(negative, "no negative case for {}", rule.name);
    }
}
