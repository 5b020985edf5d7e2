//! Integration tests of the library, one module per topic. The plugin's C ABI has its own
//! test binary (`plugin_abi.rs`) so that no plugin code but the shared library is loaded.

mod oracle;
mod support;
mod upstream_fields;
