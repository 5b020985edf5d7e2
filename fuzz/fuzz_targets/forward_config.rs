//! The forwarder's YAML config (`eksaudit forward --config`, `--check`): parsed and
//! validated from text, no I/O (sources, sinks, alert rules settings, limits, addresses).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match eksaudit::forward::config::parse(text, "fuzz.yaml") {
        Ok(loaded) => {
            for source in &loaded.sources {
                let _ = source.key();
            }
            let _ = format!("{loaded:?}");
        }
        Err(message) => assert!(
            message.starts_with("fuzz.yaml"),
            "error names the file: {message}"
        ),
    }
});
