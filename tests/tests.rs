//! Integration tests, one module per topic. The plugin's C ABI has its own test binary
//! (`plugin_abi.rs`) so that no plugin code but the shared library is loaded there.

mod bundled_rules;
mod cli;
mod deploy;
mod fixture_paths;
mod hostile;
mod hostile_corpus;
mod oracle;
mod support;
mod tls;
mod upstream_fields;
