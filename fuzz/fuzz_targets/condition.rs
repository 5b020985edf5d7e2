//! The condition parser (libsinsp's grammar), the output-format field parser, and then
//! the condition compiled and run: as the condition of a rule (with a macro and a list to
//! refer to) loaded by the engine and evaluated over the bundled sample events.
//!
//! Input: UTF-8 text: the condition, optionally followed by a NUL byte and the rule's
//! output format.
#![no_main]

use eksaudit::rules::{EngineOptions, RulesFile, parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (condition, output) = text
        .split_once('\0')
        .unwrap_or((text, "%ka.verb %ka.user.name %ka.target.resource"));
    for depth in [100, 1000] {
        let _ = parser::parse(condition, depth);
    }
    let _ = parser::parse_field_or_transformer(condition);
    let _ = parser::parse_field_or_transformer(output);
    let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let yaml = format!(
        "- list: fuzz_list\n  items: [a, \"b c\", 1]\n\
         - macro: fuzz_macro\n  condition: ka.verb in (create, delete)\n\
         - rule: fuzz\n  desc: fuzz\n  condition: {}\n  output: {}\n  priority: WARNING\n  source: k8s_audit\n",
        quote(condition),
        quote(output)
    );
    let files = [RulesFile::new("fuzz.yaml", yaml)];
    eksaudit_fuzz::load_and_run(&files, &EngineOptions::default());
});
