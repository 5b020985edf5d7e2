//! Command-line interface: argument parsing, logging, exit codes, dispatch.
//!
//! Exit codes (the same for every command):
//! * 0: done, and every input decoded cleanly;
//! * 1: done, but some input could not be decoded (each problem was reported on stderr),
//!   or, for `rules validate` / `rules test`, something was invalid or failed;
//! * 2: could not run: bad arguments, unreadable file, rules that do not load (`replay`).
//!
//! A closed stdout (`eksaudit extract big.json | head`) ends the program quietly with 0.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod aws_cmd;
mod extract;
mod fields;
mod forward;
mod generate;
mod inputs;
mod output;
mod replay;
mod rules_args;
mod rules_cmd;

/// Amazon EKS audit logs in front of Falco.
///
/// eksaudit decodes EKS audit logs (Kubernetes audit events as JSON lines, EventList
/// documents, CloudWatch Logs subscription envelopes as Kinesis delivers them, gzip) and
/// exposes the same ka.* fields as Falco's k8saudit plugin, plus EKS identity fields.
/// The same library is the Falco plugin libeksaudit.so.
#[derive(Debug, Parser)]
#[command(
    name = "eksaudit",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Log level for messages on stderr (error, warn, info, debug, trace); default warn,
    /// info for `forward`. RUST_LOG, when set, takes precedence.
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,

    /// Log format on stderr: text, or json (one object per line, for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every field (name, type, list flag, argument, description), like `falco --list`.
    Fields(fields::Args),
    /// Print the values of fields for each event: one JSON object per event.
    ///
    /// The rule author's way to see what a field gives: `{"<field>": value}` for each
    /// requested field (all fields when none is given), list fields as arrays, fields
    /// without a value left out. Reads files, directories, or stdin (`-`) in any format
    /// eksaudit decodes.
    Extract(extract::Args),
    /// Evaluate Falco rules over audit logs, without Falco: alerts on stdout, a summary
    /// on stderr.
    ///
    /// Reads files, directories or stdin (`-`) in any format eksaudit decodes, loads the
    /// rules (default: the bundled EKS rules) exactly as Falco would, and prints the alerts
    /// Falco would raise. With no FILE and stdin a terminal, replays the bundled sample
    /// events.
    ///
    /// A FILE may also be `s3://BUCKET/PREFIX[?region=…&role_arn=…]`: CloudWatch Logs
    /// exports and Firehose deliveries under the prefix, read object by object in key
    /// order (the source `eksaudit forward` runs, without checkpoints), to hunt over months
    /// of audit history with the same rules. Inputs are read in the order given.
    Replay(replay::Args),
    /// Rule authoring: validate rules files, run rule test fixtures.
    #[command(subcommand)]
    Rules(rules_cmd::Command),
    /// Read audit events from Kinesis (or files) and write them to sinks, with durable
    /// checkpoints.
    #[command(long_about = forward::LONG_ABOUT.as_str())]
    Forward(forward::Args),
    /// Onboarding on AWS: `aws setup` creates the chain EKS → CloudWatch Logs → Kinesis,
    /// `aws check` verifies it.
    #[command(subcommand)]
    Aws(aws_cmd::Command),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// For example `eksaudit completions bash > /etc/bash_completion.d/eksaudit`.
    Completions(generate::CompletionsArgs),
    /// Print the man page (roff), or write one per subcommand with --dir.
    ///
    /// For example `eksaudit man | man -l -`.
    Man(generate::ManArgs),
}

/// Parses arguments, runs the command, maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Forward(_) => "info",
        _ => "warn",
    };
    init_logging(
        cli.log_level.as_deref().unwrap_or(default_level),
        cli.log_format,
    );
    let result = match cli.command {
        Command::Fields(args) => fields::run(args),
        Command::Extract(args) => extract::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Rules(command) => rules_cmd::run(command),
        Command::Forward(args) => forward::run(args),
        Command::Aws(command) => aws_cmd::run(command),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
    };
    match result {
        Ok(code) => code.into(),
        Err(error) => {
            if output::is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("eksaudit: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything fine.
    Clean,
    /// Done, with problems reported on stderr.
    Problems,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::Problems => ExitCode::from(1),
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logging(level: &str, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
