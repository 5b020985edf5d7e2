//! The plugin's `init_config`: Falco's k8saudit-eks keys, plus ours.
//!
//! Falco validates `init_config` against the JSON schema generated from [`PluginConfig`]
//! (unknown keys and wrong types are refused there, before the plugin runs); the same
//! struct then refuses them again when deserialising, for hosts that skip the schema,
//! and [`PluginConfig::validate`] checks ranges. Every key is optional, and the whole
//! config may be JSON `null` ([`InitConfig`]): that is what Falco makes of `init_config: {}`.

use std::borrow::Cow;

use falco_plugin::schemars::{JsonSchema, Schema, SchemaGenerator};
use falco_plugin::serde::Deserialize;

use crate::decode::{DEFAULT_MAX_EVENT_SIZE, DecodeOptions, MAX_MAX_EVENT_SIZE};

/// The plugin's init config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(crate = "falco_plugin::serde", deny_unknown_fields)]
#[schemars(crate = "falco_plugin::schemars")]
pub struct PluginConfig {
    /// AWS region of the audit logs (k8saudit-eks key). Defaults to AWS_REGION, then
    /// AWS_DEFAULT_REGION. Recorded in each event (`eks.region`).
    #[serde(default)]
    pub region: Option<String>,
    /// AWS shared-config profile for credentials (k8saudit-eks key; used by the AWS
    /// sources).
    #[serde(default)]
    pub profile: Option<String>,
    /// Capacity, in events, of the queue between the AWS reader and Falco (k8saudit-eks
    /// key; used by the AWS sources). Default 200.
    #[serde(default = "default_buffer_size")]
    pub buffer_size: u64,
    /// How far back the CloudWatch Logs reader starts, in seconds (k8saudit-eks key; that
    /// plugin reads the value as nanoseconds by mistake). Default 1.
    #[serde(default = "default_shift")]
    pub shift: u64,
    /// Seconds between two CloudWatch Logs polls (k8saudit-eks key). Default 5.
    #[serde(default = "default_polling_interval")]
    pub polling_interval: u64,
    /// Accepted for compatibility with k8saudit-eks; extraction here is always
    /// synchronous, so it has no effect. Default true.
    #[serde(default = "default_use_async")]
    pub use_async: bool,
    /// Largest event handed to Falco, in bytes (k8saudit-eks key). Larger events are
    /// dropped, counted and logged. Default 262144 (256 KiB) as upstream; EKS sends events
    /// of about 1 MiB, so 4194304 is a good value. At most 67108864.
    #[serde(default = "default_max_event_size")]
    pub max_event_size: u64,
    /// Most events handed to Falco in one batch. Default 64: Falco reads a batch's events
    /// after the plugin wrote them all, and 64 audit events (about 180 KiB) are still in
    /// the core's cache when it does; 512 are not, and cost about 5% more per event.
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: u64,
    /// Directory for checkpoints of the kinesis:// source (one file per source, written
    /// atomically once Falco consumed the events before a position). Default
    /// /var/lib/eksaudit: mount a volume there in containers.
    #[serde(default)]
    pub checkpoint_dir: Option<String>,
}

/// What the plugin's `init` receives: a [`PluginConfig`], or JSON `null` for the defaults.
///
/// Falco converts `init_config` written as a YAML map to JSON text, and an empty map (the
/// `init_config: {}` users and Helm values write for "the defaults") becomes the text
/// `null`, which it then validates against the published schema before calling `init`. A
/// schema whose root is `"type": "object"` refuses that, and Falco exits. So the root of
/// this schema also allows `null`, and `null` deserialises to the defaults.
/// (`init_config: ""`, `init_config: null` and no `init_config` at all reach the plugin as
/// `{}`: libsinsp turns an empty config into `{}`.)
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(crate = "falco_plugin::serde", from = "Option<PluginConfig>")]
pub struct InitConfig(pub PluginConfig);

impl From<Option<PluginConfig>> for InitConfig {
    fn from(config: Option<PluginConfig>) -> Self {
        Self(config.unwrap_or_default())
    }
}

impl JsonSchema for InitConfig {
    fn schema_name() -> Cow<'static, str> {
        PluginConfig::schema_name()
    }

    /// [`PluginConfig`]'s own schema (properties, `additionalProperties: false`), with the
    /// root type widened to `["object", "null"]`. Keywords about properties apply to
    /// objects only, so `null` passes them.
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = PluginConfig::json_schema(generator);
        schema.insert("type".to_owned(), serde_json::json!(["object", "null"]));
        schema
    }
}

fn default_buffer_size() -> u64 {
    200
}
fn default_shift() -> u64 {
    1
}
fn default_polling_interval() -> u64 {
    5
}
fn default_use_async() -> bool {
    true
}
fn default_max_event_size() -> u64 {
    DEFAULT_MAX_EVENT_SIZE as u64
}
fn default_max_batch_events() -> u64 {
    64
}

impl Default for PluginConfig {
    fn default() -> Self {
        Self {
            region: None,
            profile: None,
            buffer_size: default_buffer_size(),
            shift: default_shift(),
            polling_interval: default_polling_interval(),
            use_async: default_use_async(),
            max_event_size: default_max_event_size(),
            max_batch_events: default_max_batch_events(),
            checkpoint_dir: None,
        }
    }
}

/// Smallest accepted `max_event_size`: smaller than any real audit event.
const MIN_MAX_EVENT_SIZE: u64 = 1024;

impl PluginConfig {
    /// Checks value ranges; the message names the key, the value and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let range = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "init_config: {key} must be between {min} and {max}, got {value}"
                ))
            }
        };
        range(
            "max_event_size",
            self.max_event_size,
            MIN_MAX_EVENT_SIZE,
            MAX_MAX_EVENT_SIZE as u64,
        )?;
        range("max_batch_events", self.max_batch_events, 1, 65_536)?;
        range("buffer_size", self.buffer_size, 1, 1_000_000)?;
        range("polling_interval", self.polling_interval, 1, 86_400)?;
        range("shift", self.shift, 0, 86_400 * 14)?;
        for (key, value) in [
            ("region", &self.region),
            ("profile", &self.profile),
            ("checkpoint_dir", &self.checkpoint_dir),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(format!("init_config: {key} must not be empty when given"));
            }
        }
        Ok(())
    }

    /// The region to record: the config's, else the usual AWS environment variables.
    pub fn effective_region(&self) -> Option<String> {
        self.region.clone().or_else(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .into_iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        })
    }

    /// Decoding options derived from the config.
    pub fn decode_options(&self) -> DecodeOptions {
        let mut options = DecodeOptions::with_max_event_size(self.max_event_size as usize);
        options.region = self.effective_region();
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<PluginConfig, String> {
        let config: PluginConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn empty_config_gives_upstream_defaults() {
        let c = parse("{}").unwrap();
        assert_eq!(c, PluginConfig::default());
        assert_eq!(c.max_event_size, 262_144);
    }

    #[test]
    fn accepts_every_k8saudit_eks_key() {
        let c = parse(
            r#"{"region":"eu-west-1","profile":"audit","buffer_size":500,"shift":10,
            "polling_interval":2,"use_async":false,"max_event_size":4194304}"#,
        )
        .unwrap();
        assert_eq!(c.max_event_size, 4 << 20);
        assert_eq!(c.decode_options().region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.decode_options().max_event_size, 4 << 20);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(
            parse(r#"{"bogus":1}"#)
                .unwrap_err()
                .contains("unknown field `bogus`")
        );
        assert!(
            parse(r#"{"max_event_size":"big"}"#)
                .unwrap_err()
                .contains("invalid type")
        );
        assert!(parse(r#"{"max_event_size":-1}"#).is_err());
        assert!(
            parse(r#"{"max_event_size":0}"#)
                .unwrap_err()
                .contains("max_event_size must be between")
        );
        assert!(parse(r#"{"max_event_size":68157440}"#).is_err());
        assert!(
            parse(r#"{"region":" "}"#)
                .unwrap_err()
                .contains("region must not be empty")
        );
    }

    #[test]
    fn schema_forbids_unknown_keys() {
        let schema = falco_plugin::schemars::schema_for!(InitConfig);
        let schema = serde_json::to_value(schema).unwrap();
        assert_eq!(schema["additionalProperties"], false);
        assert!(schema["properties"]["max_event_size"]["description"].is_string());
    }

    #[test]
    fn schema_root_accepts_null_as_falco_sends_for_an_empty_map() {
        let schema = falco_plugin::schemars::schema_for!(InitConfig);
        let schema = serde_json::to_value(schema).unwrap();
        assert_eq!(schema["type"], serde_json::json!(["object", "null"]));
        assert_eq!(schema["title"], "PluginConfig");
        // The properties are at the root, not behind a $ref: Falco's validator reads them.
        assert!(schema["properties"]["region"].is_object());
        assert!(schema.get("$ref").is_none());
    }

    #[test]
    fn null_and_empty_object_give_the_defaults() {
        for text in ["null", "{}", " null\n"] {
            let InitConfig(config) = serde_json::from_str(text).unwrap();
            assert_eq!(config, PluginConfig::default(), "{text:?}");
        }
        let InitConfig(config) = serde_json::from_str(r#"{"max_event_size":4194304}"#).unwrap();
        assert_eq!(config.max_event_size, 4 << 20);
        let err = serde_json::from_str::<InitConfig>(r#"{"bogus":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
        assert!(serde_json::from_str::<InitConfig>("\"max_event_size\"").is_err());
    }
}
