//! The rules-file loader: YAML (saphyr events with positions), Falco's schema and
//! semantics (lists, macros, rules, exceptions, overrides, appends, required versions),
//! compilation, the load report (with its source excerpts) and, when the rules load,
//! evaluation over the bundled sample events.
//!
//! Input: the rules file's text. Starting with `+`, it is loaded after a small base file
//! (a list, a macro, a rule) that it can override, append to and refer to. (Not after the
//! bundled rules: loading them takes a quarter of a second under the sanitizer.)
#![no_main]

use eksaudit::rules::{EngineOptions, RulesFile};
use libfuzzer_sys::fuzz_target;

const BASE: &str = "\
- required_engine_version: 15
- list: base_list
  items: [a, b]
- macro: base_macro
  condition: ka.verb in (base_list)
- rule: base rule
  desc: base
  condition: base_macro and ka.target.resource = pods
  output: \"%ka.user.name %ka.verb\"
  priority: WARNING
  source: k8s_audit
  tags: [base]
  exceptions:
    - name: users
      fields: [ka.user.name]
      values: [[admin]]
";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut files = Vec::new();
    let content = match text.strip_prefix('+') {
        Some(rest) => {
            files.push(RulesFile::new("base.yaml", BASE));
            rest.to_string()
        }
        None => text,
    };
    files.push(RulesFile::new("fuzz.yaml", content));
    let options = EngineOptions {
        // Half the inputs also load rules written for Falco up to 0.37.
        legacy_list_operators: data.len() % 2 == 1,
        ..EngineOptions::default()
    };
    eksaudit_fuzz::load_and_run(&files, &options);
});
