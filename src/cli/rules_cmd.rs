//! `eksaudit rules validate` and `eksaudit rules test`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use eksaudit::rules::fixtures::{self, Summary};
use eksaudit::rules::validate;

use super::rules_args::{RulesArgs, read_rules_files};
use super::{Outcome, output};

/// `eksaudit rules ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check that rules files load as Falco would load them (exit 0) or list every error
    /// with its file, line and item (exit 1). Warnings do not fail validation.
    Validate(ValidateArgs),
    /// Run rule test fixtures: events plus the exact number of alerts each rule must raise.
    ///
    /// A fixture is a YAML file: `rules` (rules files, relative to the fixture; default: the
    /// rules given with --rules, else the bundled ones), `options`, and `cases`, each with
    /// `events` (inline audit events) and/or `events_file`, and `expect` (rule name: alert
    /// count, 0 for a negative case), optionally `only_expected: true`. The format is
    /// documented in full in src/rules/fixtures.rs and tests/rules/ has examples.
    Test(TestArgs),
}

/// Arguments of `eksaudit rules validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Rules files or directories, loaded in order. Default: the bundled rules.
    #[arg(value_name = "FILE|DIR")]
    paths: Vec<PathBuf>,

    /// Print the result as JSON, in the shape of `falco -V` with json_output.
    #[arg(long)]
    json: bool,
}

/// Arguments of `eksaudit rules test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Fixture files or directories (searched for *.yaml fixtures). Default: tests/rules.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    #[command(flatten)]
    rules: RulesArgs,
}

pub fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Validate(args) => run_validate(args),
        Command::Test(args) => run_test(args),
    }
}

fn run_validate(args: ValidateArgs) -> Result<Outcome> {
    let files = if args.paths.is_empty() {
        eksaudit::bundled::rules_files()
    } else {
        read_rules_files(&args.paths)?
    };
    let options = eksaudit::rules::EngineOptions {
        hostname: super::rules_args::hostname(),
        ..Default::default()
    };
    let report = validate(&files, &options);
    let mut out = output::stdout();
    use std::io::Write;
    if args.json {
        writeln!(out, "{}", report.to_json(&files))?;
    } else {
        write!(out, "{}", report.verbose(&files))?;
        let (errors, warnings) = (report.errors().count(), report.warnings().count());
        if report.successful() {
            writeln!(
                out,
                "{} rules files valid ({warnings} warnings)",
                files.len()
            )?;
        } else {
            writeln!(out, "invalid: {errors} errors, {warnings} warnings")?;
        }
    }
    out.flush()?;
    Ok(if report.successful() {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}

fn run_test(args: TestArgs) -> Result<Outcome> {
    let paths = if args.paths.is_empty() {
        let default = Path::new("tests/rules");
        if !default.is_dir() {
            bail!(
                "no fixtures given, and there is no tests/rules directory here: give fixture files or directories"
            );
        }
        vec![default.to_path_buf()]
    } else {
        args.paths.clone()
    };
    for path in &paths {
        if !path.exists() {
            bail!("cannot read {}: no such file or directory", path.display());
        }
    }
    let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let fixture_files = fixtures::fixture_files(&path_refs)?;
    if fixture_files.is_empty() {
        bail!("no fixture (a YAML mapping with `cases`) found under the given paths");
    }
    let default_rules = args.rules.files()?;
    let options = args.rules.engine_options();
    let mut out = output::stdout();
    use std::io::Write;
    let mut results = Vec::new();
    for file in &fixture_files {
        for result in fixtures::run_file(file, &default_rules, &options) {
            writeln!(out, "{result}")?;
            results.push(result);
        }
    }
    let summary = Summary::of(&results);
    writeln!(out, "{summary}")?;
    out.flush()?;
    Ok(if summary.failed == 0 {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
