//! A Falco-exact rule engine for `k8s_audit` events: loads Falco rules files, evaluates
//! [`EventView`]s and raises [`Alert`]s shaped like Falco's `json_output`.
//!
//! Rule authors use it to learn, without a Falco, whether a rules file loads and whether a
//! rule fires — and the answer must be Falco's. So every step follows Falco and libsinsp
//! (engine 0.62, Falco 0.44): the rules-file reader and its error texts ([`loader`]), the
//! definitions with `append`/`override`/redefinition ([`ruleset`]), textual list expansion
//! and macro resolution ([`compile`]), the filter grammar ([`parser`]), field resolution
//! ([`fields`]), operators ([`ops`]) and transformers ([`transform`]), evaluation
//! ([`filter`]), and output formatting ([`output`]).
//!
//! ```text
//! RulesFile… ──loader──▶ Collector ──compile──▶ Engine ──Evaluator::evaluate(EventView)──▶ Alert
//!   (YAML)               (lists, macros,        (filters,                               (json_output
//!                         rules, in order)       outputs)                                 shape)
//! ```
//!
//! Matching is Falco's default `rule_matching: first`: at most one alert per event, from the
//! first enabled rule in load order whose condition holds; [`RuleMatching::All`] raises one
//! per matching rule. Rules below [`EngineOptions::min_priority`] are skipped. Rules of a
//! source other than `k8s_audit` are not compiled: `syscall` rules (Falco's
//! `falco_rules.yaml`) silently, others with Falco's `LOAD_UNKNOWN_SOURCE` warning.
//!
//! ```
//! use eksaudit::event::EventView;
//! use eksaudit::rules::{Engine, EngineOptions, RulesFile};
//!
//! let rules = RulesFile::new("demo.yaml", r#"
//! - rule: Exec into pod
//!   desc: someone ran kubectl exec
//!   condition: ka.target.subresource = exec
//!   output: exec by %ka.user.name
//!   priority: NOTICE
//!   source: k8s_audit
//! "#);
//! let (engine, report) = Engine::load(&[rules], &EngineOptions::default()).unwrap();
//! assert!(report.successful());
//! let event = br#"{"auditID":"1","objectRef":{"subresource":"exec"},"user":{"username":"bob"}}"#;
//! let mut alerts = Vec::new();
//! engine.evaluator().evaluate(&EventView::new(event, 1_700_000_000_000_000_000), 1, &mut alerts);
//! assert_eq!(&*alerts[0].rule, "Exec into pod");
//! assert!(alerts[0].output.ends_with(": Notice exec by bob"));
//! ```
//!
//! Evaluation allocates nothing per event when no rule matches beyond what field extraction
//! itself needs: the per-event extraction cache is reused across events.
//!
//! # API
//!
//! * [`Engine::load`]`(&[RulesFile], &EngineOptions) -> Result<(Engine, LoadReport), LoadReport>`
//!   loads files in order, as Falco's `-r a.yaml -r b.yaml` does; [`validate`] is the same
//!   for `rules validate` ([`LoadReport::successful`] is the exit decision,
//!   [`LoadReport::verbose`] Falco's `-V` text, [`LoadReport::to_json`] its JSON; each
//!   [`LoadError`]/[`LoadWarning`] displays as `file:line:col: rule 'X': CODE (desc): msg`).
//! * [`Engine::evaluator`] → [`Evaluator::evaluate`]`(&EventView, evt_num, &mut Vec<Alert>)`.
//! * [`Alert::to_json`] (Falco `json_output`) and [`Alert::to_text`] (Falco's text line).
//! * [`fixtures`]: the `rules test` runner and its documented fixture format.
//!
//! # Known differences from Falco
//!
//! * Time strings (`evt.time`, the output prefix) are rendered in UTC; Falco uses the local
//!   time zone (UTC in its containers).
//! * `regex` uses the `regex` crate with RE2's POSIX restrictions checked by hand; error
//!   texts differ from RE2's.
//! * YAML is read by saphyr: syntax error texts differ from yaml-cpp's, and the one yaml-cpp
//!   leniency Falco's files rely on (a flow collection closed at the key's indentation) is
//!   handled explicitly. The JSON-schema warnings of `falco -V` are not produced.
//! * The multi-value transformers of recent libsinsp (`join`, `concat`, `getopt`) and
//!   constant transformer arguments (`tolower("X")`) are rejected at load time.
//! * A `\xHH` escape that makes invalid UTF-8 in a condition value becomes U+FFFD.

use std::path::Path;
use std::sync::Arc;

use crate::event::EventView;

pub mod ast;
pub mod compile;
pub mod fields;
pub mod filter;
pub mod fixtures;
mod index;
pub mod loader;
pub mod ops;
pub mod output;
pub mod parser;
pub mod requirements;
pub mod result;
pub mod ruleset;
pub mod transform;
pub mod yaml;

pub use output::Alert;
pub use requirements::{LoadedPlugin, Version};
pub use result::{Context, ErrorCode, FileResult, LoadError, LoadWarning, WarningCode};
pub use ruleset::Priority;

use compile::{CompileOutput, CompiledRule};
use fields::{EventMeta, FieldValue};
use filter::EvalCtx;
use result::ItemType;
use ruleset::Collector;

/// How many alerts one event may raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleMatching {
    /// The first matching rule only (Falco's default).
    #[default]
    First,
    /// Every matching rule.
    All,
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// First match (Falco's default) or all matches.
    pub rule_matching: RuleMatching,
    /// Rules less severe than this are not evaluated (Falco's `priority`, default `debug`).
    pub min_priority: Priority,
    /// Event sources whose rules are compiled and run.
    pub sources: Vec<String>,
    /// Sources whose rules are skipped without a warning (Falco knows them, this engine does
    /// not run them): `syscall`.
    pub silent_sources: Vec<String>,
    /// The plugins `required_plugin_versions` is checked against.
    pub plugins: Vec<LoadedPlugin>,
    /// The alert `hostname` and `evt.hostname` (Falco: `FALCO_HOSTNAME` or the host name).
    /// The library does no I/O; callers fill it in.
    pub hostname: String,
    /// What `evt.pluginname` answers.
    pub plugin_name: String,
    /// Falco up to 0.37 accepted `contains`, `=` … on list fields when loading and failed
    /// only when such a check was evaluated (libs 0.17 made it a load error). Set this to
    /// load rules written for those versions (Falco's own 0.31–0.35 test rules are); such
    /// checks then evaluate to false and count as runtime errors
    /// ([`Evaluator::runtime_errors`]). Off by default: current Falco rejects them.
    pub legacy_list_operators: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            rule_matching: RuleMatching::First,
            min_priority: Priority::Debug,
            sources: vec!["k8s_audit".into()],
            silent_sources: vec!["syscall".into()],
            plugins: LoadedPlugin::defaults(),
            hostname: String::new(),
            plugin_name: "k8saudit-eks".into(),
            legacy_list_operators: false,
        }
    }
}

/// A rules file: its name (used in messages, usually the path) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFile {
    /// The name.
    pub name: String,
    /// The YAML text.
    pub content: String,
}

impl RulesFile {
    /// In-memory rules.
    pub fn new(name: impl Into<String>, content: impl Into<String>) -> Self {
        RulesFile {
            name: name.into(),
            content: content.into(),
        }
    }

    /// Reads a rules file; its name is the path as given.
    pub fn from_path(path: &Path) -> std::io::Result<Self> {
        Ok(RulesFile {
            name: path.display().to_string(),
            content: std::fs::read_to_string(path)?,
        })
    }

    /// Expands paths as Falco does (`read_rules_file_directory`): a directory contributes
    /// its regular files sorted by name, a file is itself; in both cases only names ending
    /// in `.yaml` or `.yml` are kept (Falco silently ignores the others). Order is kept.
    pub fn expand_paths(paths: &[&Path]) -> std::io::Result<Vec<std::path::PathBuf>> {
        let is_yaml = |p: &Path| {
            let s = p.to_string_lossy();
            s.ends_with(".yaml") || s.ends_with(".yml")
        };
        let mut out = Vec::new();
        for p in paths {
            if p.is_dir() {
                let mut entries: Vec<String> = std::fs::read_dir(p)?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|e| e.is_file())
                    .map(|e| e.to_string_lossy().into_owned())
                    .collect();
                entries.sort();
                out.extend(
                    entries
                        .into_iter()
                        .map(std::path::PathBuf::from)
                        .filter(|e| is_yaml(e)),
                );
            } else if is_yaml(p) {
                out.push(p.to_path_buf());
            }
        }
        Ok(out)
    }
}

/// What loading gave: one result per file that was read (Falco stops at the first file
/// with errors), then the plugin requirement check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Per-file results, in load order.
    pub files: Vec<FileResult>,
    /// Falco's plugin requirement error, if any (it takes priority over other errors).
    pub requirement_error: Option<String>,
}

impl LoadReport {
    /// Whether the rules load (no error anywhere): the `rules validate` exit decision.
    pub fn successful(&self) -> bool {
        self.requirement_error.is_none() && self.files.iter().all(FileResult::successful)
    }

    /// Every error.
    pub fn errors(&self) -> impl Iterator<Item = &LoadError> {
        self.files.iter().flat_map(|f| f.errors.iter())
    }

    /// Every warning.
    pub fn warnings(&self) -> impl Iterator<Item = &LoadWarning> {
        self.files.iter().flat_map(|f| f.warnings.iter())
    }

    /// Falco's verbose text for every file and the requirement error.
    pub fn verbose(&self, files: &[RulesFile]) -> String {
        let contents = |name: &str| {
            files
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.content.clone())
        };
        let mut out = String::new();
        for f in &self.files {
            out.push_str(&f.verbose(&contents));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        if let Some(e) = &self.requirement_error {
            out.push_str("Error: ");
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Falco's `-V` JSON: `{"falco_load_results":[...]}`.
    pub fn to_json(&self, files: &[RulesFile]) -> serde_json::Value {
        let contents = |name: &str| {
            files
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.content.clone())
        };
        let results: Vec<serde_json::Value> =
            self.files.iter().map(|f| f.to_json(&contents)).collect();
        let mut v = serde_json::json!({ "falco_load_results": results });
        if let Some(e) = &self.requirement_error {
            v["error"] = serde_json::Value::String(e.clone());
        }
        v
    }
}

/// A summary of a loaded rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    /// Name.
    pub name: String,
    /// Priority.
    pub priority: Priority,
    /// Source.
    pub source: String,
    /// Whether it runs (enabled and at or above the minimum priority).
    pub active: bool,
}

/// Compiled rules, ready to evaluate events. Immutable and shareable across threads; each
/// thread evaluates through its own [`Evaluator`].
#[derive(Debug, Clone)]
pub struct Engine {
    rules: Vec<CompiledRule>,
    active: Vec<usize>,
    /// The active rules indexed by the values they require ([`index`]).
    index: Option<index::RuleIndex>,
    slots: usize,
    options: EngineOptions,
    /// `options.hostname`, shared by every alert.
    hostname: Arc<str>,
}

/// Loads rules files in order, as Falco does; the report says what went wrong.
pub fn validate(files: &[RulesFile], options: &EngineOptions) -> LoadReport {
    match Engine::load(files, options) {
        Ok((_, report)) | Err(report) => report,
    }
}

impl Engine {
    /// Loads and compiles `files` in order. `Err` carries the report when anything failed.
    pub fn load(
        files: &[RulesFile],
        options: &EngineOptions,
    ) -> Result<(Engine, LoadReport), LoadReport> {
        let mut collector = Collector::default();
        let mut last: Option<CompileOutput> = None;
        let mut report = LoadReport {
            files: Vec::new(),
            requirement_error: None,
        };
        let cfg = loader::ReadConfig {
            known_sources: &options.sources,
            silent_sources: &options.silent_sources,
            engine_version: requirements::ENGINE_VERSION,
        };
        let mut failed = false;
        for file in files {
            let mut res = FileResult::new(&file.name);
            if loader::read(&cfg, &file.content, &mut collector, &mut res) {
                last = compile::compile(
                    &collector,
                    &mut res,
                    &options.silent_sources,
                    filter::CompileOptions {
                        legacy_list_operators: options.legacy_list_operators,
                    },
                );
            }
            failed = !res.successful();
            report.files.push(res);
            if failed {
                break;
            }
        }
        if let Err(e) = requirements::check_plugins(&collector.required_plugins, &options.plugins) {
            report.requirement_error = Some(e);
            failed = true;
        }
        match last {
            Some(out) if !failed => {
                let active: Vec<usize> = out
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.enabled && r.priority <= options.min_priority)
                    .map(|(i, _)| i)
                    .collect();
                Ok((
                    Engine {
                        hostname: Arc::from(options.hostname.as_str()),
                        slots: out.slots.len(),
                        index: index::RuleIndex::build(&out.rules, &active),
                        rules: out.rules,
                        active,
                        options: options.clone(),
                    },
                    report,
                ))
            }
            None if !failed => Ok((
                Engine {
                    hostname: Arc::from(options.hostname.as_str()),
                    rules: Vec::new(),
                    active: Vec::new(),
                    index: None,
                    slots: 0,
                    options: options.clone(),
                },
                report,
            )),
            _ => Err(report),
        }
    }

    /// The compiled rules in evaluation order.
    pub fn rules(&self) -> Vec<RuleSummary> {
        self.rules
            .iter()
            .enumerate()
            .map(|(i, r)| RuleSummary {
                name: r.name.to_string(),
                priority: r.priority,
                source: r.source.to_string(),
                active: self.active.contains(&i),
            })
            .collect()
    }

    /// The options the engine was loaded with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// A per-thread evaluator.
    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator {
            engine: self,
            cache: Vec::with_capacity(self.slots),
            candidates: Vec::new(),
            first_ts: None,
            runtime_errors: 0,
            first_runtime_error: None,
        }
    }
}

/// Evaluates events against an [`Engine`], reusing its per-event cache.
#[derive(Debug)]
pub struct Evaluator<'e> {
    engine: &'e Engine,
    cache: Vec<Option<Option<FieldValue<'static>>>>,
    /// The candidate rules of the event being evaluated (see [`index`]).
    candidates: Vec<u64>,
    first_ts: Option<u64>,
    runtime_errors: u64,
    first_runtime_error: Option<String>,
}

impl Evaluator<'_> {
    /// Evaluates one event (`evt_num` is its number in the stream, from 1) and appends the
    /// alerts it raises to `out`; answers how many.
    pub fn evaluate(&mut self, event: &EventView<'_>, evt_num: u64, out: &mut Vec<Alert>) -> usize {
        let engine = self.engine;
        let first_ts = *self.first_ts.get_or_insert(event.time_ns());
        // Reuse the cache's allocation for this event's lifetime (an in-place collect).
        let mut cache: Vec<Option<Option<FieldValue<'_>>>> = std::mem::take(&mut self.cache)
            .into_iter()
            .map(|_| None)
            .collect();
        cache.resize(engine.slots, None);
        let mut ctx = EvalCtx {
            view: event,
            meta: EventMeta {
                num: evt_num,
                first_ts,
                source: "k8s_audit",
                hostname: &engine.options.hostname,
                plugin_name: &engine.options.plugin_name,
            },
            cache: &mut cache,
            runtime_errors: 0,
            first_runtime_error: None,
        };
        let mut raised = 0;
        let mut candidates = std::mem::take(&mut self.candidates);
        let indexed = engine
            .index
            .as_ref()
            .is_some_and(|index| index.candidates(&mut ctx, &mut candidates));
        let mut word = 0;
        let mut bits = candidates.first().copied().unwrap_or(0);
        let mut next = 0;
        loop {
            // The next rule to evaluate: the next candidate, or simply the next rule.
            let position = if indexed {
                while bits == 0 {
                    word += 1;
                    let Some(&w) = candidates.get(word) else {
                        break;
                    };
                    bits = w;
                }
                if bits == 0 {
                    break;
                }
                let p = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                p
            } else {
                next += 1;
                next - 1
            };
            let Some(&i) = engine.active.get(position) else {
                break;
            };
            let rule = &engine.rules[i];
            if rule.filter.eval(&mut ctx) {
                out.push(Alert::build(rule, &mut ctx, &engine.hostname));
                raised += 1;
                if engine.options.rule_matching == RuleMatching::First {
                    break;
                }
            }
        }
        self.candidates = candidates;
        if ctx.runtime_errors > 0 {
            self.runtime_errors += ctx.runtime_errors;
            if self.first_runtime_error.is_none() {
                self.first_runtime_error = ctx.first_runtime_error.take();
            }
        }
        cache.clear();
        self.cache = cache.into_iter().map(|_| None).collect();
        raised
    }

    /// How many checks failed at run time so far (only in
    /// [`EngineOptions::legacy_list_operators`] mode), and the first message.
    pub fn runtime_errors(&self) -> (u64, Option<&str>) {
        (self.runtime_errors, self.first_runtime_error.as_deref())
    }
}

/// The item a context points at, for one-line messages: `rule 'X'`.
pub fn describe_item(ctx: &Context) -> Option<String> {
    ctx.item().map(|(t, n)| {
        let word = match t {
            ItemType::RequiredPluginVersionsEntry => "plugin",
            other => other.as_str(),
        };
        format!("{word} '{n}'")
    })
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (line, col) = self.context.human_position();
        write!(f, "{}:{line}:{col}: ", self.context.file_name())?;
        if let Some(item) = describe_item(&self.context) {
            write!(f, "{item}: ")?;
        }
        write!(
            f,
            "{} ({}): {}",
            self.code.as_str(),
            self.code.describe(),
            self.message
        )
    }
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (line, col) = self.context.human_position();
        write!(f, "{}:{line}:{col}: ", self.context.file_name())?;
        if let Some(item) = describe_item(&self.context) {
            write!(f, "{item}: ")?;
        }
        write!(f, "{} ({})", self.code.as_str(), self.code.describe())?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
