//! What ships inside the binary: the bundled rules and the sample events.
//!
//! Embedded, so `eksaudit replay` works from any directory and a container needs nothing
//! beside the binary. The files are also in the repository (`rules/`), where the fixtures
//! in `tests/rules/` test them.

use crate::rules::RulesFile;

/// The bundled rules files, in load order (the order of their names, as Falco loads a
/// directory): (name shown in messages, YAML text).
pub const RULES: &[(&str, &str)] = &[
    (
        "rules/eksaudit_rules.yaml",
        include_str!("../rules/eksaudit_rules.yaml"),
    ),
    (
        "rules/eksaudit_rules_optional.yaml",
        include_str!("../rules/eksaudit_rules_optional.yaml"),
    ),
    (
        "rules/eksaudit_rules_workloads.yaml",
        include_str!("../rules/eksaudit_rules_workloads.yaml"),
    ),
];

/// EKS audit events that exercise every bundled rule, plus benign ones, in CloudWatch Logs
/// subscription envelopes as a Kinesis stream delivers them (one JSON document per line,
/// uncompressed so it can be read), after a CloudWatch control message.
pub const SAMPLE_EVENTS: &[u8] = include_bytes!("../rules/samples/eks-audit-envelopes.jsonl");

/// The name sample events carry in locations and messages.
pub const SAMPLE_EVENTS_NAME: &str = "<bundled sample events>";

/// The bundled rules as loadable files.
pub fn rules_files() -> Vec<RulesFile> {
    RULES
        .iter()
        .map(|(name, text)| RulesFile::new(*name, *text))
        .collect()
}
