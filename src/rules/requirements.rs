//! Version requirements: `required_engine_version` and `required_plugin_versions`.
//!
//! Versions are libsinsp's `sinsp_version`: three unsigned numbers read like
//! `sscanf("%u.%u.%u")` (so `0.18.0-rc1` is `0.18.0`), compatible when the major numbers are
//! equal and the version is at least the required one. A bare number as engine requirement
//! (`required_engine_version: 15`) means `0.15.0`.
//!
//! Plugin requirements are checked after all files are loaded, against the plugins that
//! would be loaded with the engine (by default ours, `k8saudit-eks`, and `json`): for each
//! requirement group (an entry and its `alternatives`), the first name that a loaded plugin
//! has decides; no name loaded is "Plugin requirement not satisfied, must load one of: …".

use std::fmt;

use super::result::Context;
use super::ruleset::{LoadFailure, PluginRequirement};

/// A `major.minor.patch` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

/// The Falco engine version whose rules semantics this engine implements (Falco 0.44.1).
pub const ENGINE_VERSION: Version = Version {
    major: 0,
    minor: 62,
    patch: 0,
};

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

fn scan_u32(s: &str) -> Option<(u32, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let v = rest[..n].parse::<u64>().unwrap_or(u64::MAX) as u32;
    Some((if neg { v.wrapping_neg() } else { v }, &rest[n..]))
}

impl Version {
    /// Parses like `sscanf("%u.%u.%u") == 3`.
    pub fn parse(s: &str) -> Option<Version> {
        let (major, r) = scan_u32(s)?;
        let r = r.strip_prefix('.')?;
        let (minor, r) = scan_u32(r)?;
        let r = r.strip_prefix('.')?;
        let (patch, _) = scan_u32(r)?;
        Some(Version {
            major,
            minor,
            patch,
        })
    }

    /// `0.<minor>.<engine patch>` for a bare-number engine requirement.
    pub fn implicit_engine(minor: u32, engine: Version) -> Version {
        Version {
            major: engine.major,
            minor,
            patch: engine.patch,
        }
    }

    /// libsinsp `compatible_with`: same major, at least `required`.
    pub fn compatible_with(&self, required: &Version) -> bool {
        self.major == required.major && self >= required
    }
}

/// A plugin the engine counts as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedPlugin {
    /// Its reported name.
    pub name: String,
    /// Its reported version.
    pub version: String,
}

impl LoadedPlugin {
    /// A plugin.
    pub fn new(name: &str, version: &str) -> Self {
        LoadedPlugin {
            name: name.to_string(),
            version: version.to_string(),
        }
    }

    /// What `eksaudit` stands for by default: our plugin, reported as `k8saudit-eks` (so the
    /// upstream rules' requirements hold), and Falco's `json` plugin.
    pub fn defaults() -> Vec<LoadedPlugin> {
        vec![
            LoadedPlugin::new("k8saudit-eks", env!("CARGO_PKG_VERSION")),
            LoadedPlugin::new("json", "0.7.4"),
        ]
    }
}

/// Falco's collector check of one requirement group.
pub(crate) fn validate_alternatives(
    alternatives: &[PluginRequirement],
    ctx: &Context,
) -> Result<(), LoadFailure> {
    let mut seen = std::collections::HashSet::new();
    for r in alternatives {
        if Version::parse(&r.version).is_none() {
            return Err(LoadFailure::validate(
                format!(
                    "Invalid required version '{}' for plugin '{}'",
                    r.version, r.name
                ),
                ctx,
            ));
        }
        if !seen.insert(r.name.as_str()) {
            return Err(LoadFailure::validate(
                format!(
                    "Defined multiple alternative version requirements for plugin '{}'",
                    r.name
                ),
                ctx,
            ));
        }
    }
    Ok(())
}

/// Checks every requirement group against the loaded plugins; answers Falco's error text.
pub fn check_plugins(
    groups: &[Vec<PluginRequirement>],
    plugins: &[LoadedPlugin],
) -> Result<(), String> {
    for group in groups {
        let mut decided = None;
        'group: for req in group {
            for plugin in plugins {
                if req.name == plugin.name {
                    let Some(pv) = Version::parse(&plugin.version) else {
                        decided = Some(Err(format!(
                            "Plugin '{}' has invalid version string '{}'",
                            plugin.name, plugin.version
                        )));
                        break 'group;
                    };
                    let ok = Version::parse(&req.version).is_some_and(|rv| pv.compatible_with(&rv));
                    decided = Some(if ok {
                        Ok(())
                    } else {
                        Err(format!(
                            "Plugin '{}' version '{}' is not compatible with required plugin version '{}'",
                            plugin.name, plugin.version, req.version
                        ))
                    });
                    break 'group;
                }
            }
        }
        match decided {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e),
            None => {
                let list: Vec<String> = group
                    .iter()
                    .map(|r| format!("{} (>= {})", r.name, r.version))
                    .collect();
                return Err(format!(
                    "Plugin requirement not satisfied, must load one of: {}",
                    list.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, version: &str) -> PluginRequirement {
        PluginRequirement {
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn versions() {
        let v = Version::parse("0.18.0-rc1").unwrap();
        assert_eq!(v.to_string(), "0.18.0");
        assert!(Version::parse("1.2").is_none());
        assert!(Version::parse("x").is_none());
        assert!(ENGINE_VERSION.compatible_with(&Version::implicit_engine(15, ENGINE_VERSION)));
        assert!(!ENGINE_VERSION.compatible_with(&Version::parse("0.99.0").unwrap()));
        assert!(
            !Version::parse("1.0.0")
                .unwrap()
                .compatible_with(&Version::parse("0.12.0").unwrap())
        );
    }

    #[test]
    fn plugin_requirements_with_alternatives() {
        let groups = vec![
            vec![req("k8saudit", "0.18.0"), req("k8saudit-eks", "0.12.0")],
            vec![req("json", "0.7.0")],
        ];
        assert!(check_plugins(&groups, &LoadedPlugin::defaults()).is_ok());
        assert_eq!(
            check_plugins(&groups, &[LoadedPlugin::new("json", "0.7.4")]).unwrap_err(),
            "Plugin requirement not satisfied, must load one of: k8saudit (>= 0.18.0), k8saudit-eks (>= 0.12.0)"
        );
        assert_eq!(
            check_plugins(
                &groups,
                &[
                    LoadedPlugin::new("k8saudit-eks", "0.11.0"),
                    LoadedPlugin::new("json", "0.7.4")
                ]
            )
            .unwrap_err(),
            "Plugin 'k8saudit-eks' version '0.11.0' is not compatible with required plugin version '0.12.0'"
        );
        assert!(
            check_plugins(
                &groups,
                &[
                    LoadedPlugin::new("k8saudit-eks", "1.0.0"),
                    LoadedPlugin::new("json", "0.7.4")
                ]
            )
            .is_err()
        );
    }
}
