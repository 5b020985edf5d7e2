//! Options shared by the commands that load rules.

use std::path::PathBuf;

use anyhow::{Context, Result};
use eksaudit::rules::{EngineOptions, Priority, RuleMatching, RulesFile};

/// How alerts are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Matching {
    /// At most one alert per event: the first matching rule in load order (Falco's default).
    First,
    /// One alert per matching rule.
    All,
}

/// Rules to load and how to evaluate them.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// A rules file or a directory of them (its *.yaml/*.yml files, by name). Repeat to
    /// load several, in that order, as `falco -r` does. Default: the bundled rules.
    #[arg(short = 'r', long = "rules", value_name = "FILE|DIR")]
    pub rules: Vec<PathBuf>,

    /// Skip rules less severe than this (emergency, alert, critical, error, warning,
    /// notice, info, debug), as Falco's `priority` setting does.
    #[arg(long, value_name = "PRIORITY", default_value = "debug", value_parser = parse_priority)]
    pub min_priority: Priority,

    /// `first` raises at most one alert per event, as Falco does by default; `all` raises
    /// one per matching rule (Falco's `rule_matching: all`).
    #[arg(long, value_enum, default_value_t = Matching::First)]
    pub rule_matching: Matching,
}

fn parse_priority(text: &str) -> Result<Priority, String> {
    Priority::parse(text).ok_or_else(|| {
        format!("unknown priority {text:?}: use emergency, alert, critical, error, warning, notice, info or debug")
    })
}

impl RulesArgs {
    /// The rules files to load: the given ones, or the bundled rules.
    pub fn files(&self) -> Result<Vec<RulesFile>> {
        if self.rules.is_empty() {
            return Ok(eksaudit::bundled::rules_files());
        }
        read_rules_files(&self.rules)
    }

    /// Engine options from the arguments.
    pub fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            min_priority: self.min_priority,
            rule_matching: match self.rule_matching {
                Matching::First => RuleMatching::First,
                Matching::All => RuleMatching::All,
            },
            hostname: hostname(),
            ..EngineOptions::default()
        }
    }
}

/// Reads rules files and directories as Falco does (directories: *.yaml/*.yml by name).
pub fn read_rules_files(paths: &[PathBuf]) -> Result<Vec<RulesFile>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            anyhow::bail!(
                "cannot read rules {}: no such file or directory",
                path.display()
            );
        }
        let expanded = RulesFile::expand_paths(&[path.as_path()])
            .with_context(|| format!("cannot read rules {}", path.display()))?;
        if expanded.is_empty() {
            tracing::warn!(path = %path.display(), "No *.yaml or *.yml rules file there.");
        }
        for file in expanded {
            files.push(
                RulesFile::from_path(&file)
                    .with_context(|| format!("cannot read rules {}", file.display()))?,
            );
        }
    }
    Ok(files)
}

/// The alerts' host name, as Falco finds it.
pub fn hostname() -> String {
    eksaudit::host::hostname()
}
