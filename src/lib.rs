//! eksaudit: Amazon EKS audit logs in front of Falco.
//!
//! The data's way through the crate:
//!
//! ```text
//! sources ──bytes──▶ decode ──AuditEvent──▶ fields ──▶ rules ──▶ sinks
//!  (file, later      (gzip, CloudWatch       (ka.*, eks.*,  (Falco    (stdout,
//!   Kinesis/CWL)      envelopes, k8s audit    json.*)        rules)    later more)
//!                     framing)
//! ```
//!
//! * [`json`]: one validating pass and zero-copy navigation; the reason the hot path
//!   builds nothing it does not read.
//! * [`decode`]: bytes in any supported format to [`event::AuditEvent`]s, with every
//!   per-event problem counted and located, never fatal to the stream.
//! * [`event`]: the payload Falco sees (the audit `Event` object) and what travels with it.
//! * [`fields`]: the one field table (Falco k8saudit's 100 `ka.*` fields, `eks.*`, and
//!   the `json` plugin's fields for the rule engine).
//! * [`sources`]: where bytes come from (files, Kinesis), as batches with positions.
//! * [`checkpoint`]: positions kept across restarts.
//! * [`aws`]: SDK configuration, roles, errors that name the missing IAM action.
//! * [`forward`]: the forwarder's sinks and loop (`eksaudit forward`).
//! * `ffi` (not public): the Falco plugin, a thin layer over the above; its init config
//!   is [`plugin_config`].

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod aws;
pub mod bundled;
pub mod checkpoint;
pub mod decode;
pub mod event;
pub mod fields;
pub mod forward;
pub mod host;
pub mod json;
pub mod rules;
pub mod sources;

mod ffi;

/// The plugin's `init_config` (keys, defaults, ranges, published schema), public so that a
/// Falco configuration can be checked without loading the plugin (`tests/deploy.rs`).
pub use ffi::config as plugin_config;
