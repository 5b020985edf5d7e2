//! The plugin's `init_config` as Falco passes it (JSON text, `null` for the defaults):
//! deserialised as the plugin does, then range-checked; what validates gives decode
//! options within the documented bounds.
#![no_main]

use eksaudit::decode::MAX_MAX_EVENT_SIZE;
use eksaudit::plugin_config::InitConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(InitConfig(config)) = serde_json::from_slice::<InitConfig>(data) else {
        return;
    };
    if config.validate().is_ok() {
        let options = config.decode_options();
        assert!(
            options.max_event_size <= MAX_MAX_EVENT_SIZE,
            "event limit out of range"
        );
        assert!(options.max_document_size >= options.max_event_size);
        let _ = config.effective_region();
    }
});
