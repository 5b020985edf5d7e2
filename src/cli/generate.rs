//! `eksaudit completions <SHELL>` and `eksaudit man`: generated from the clap definition
//! of the command itself, so they cannot drift from the arguments the binary accepts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, Outcome, output};

/// The name completions and man pages are generated for (the installed binary's).
const BIN: &str = "eksaudit";

/// Arguments of `eksaudit completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Arguments of `eksaudit man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write eksaudit.1 and one page per subcommand (eksaudit-replay.1, ...) into DIR
    /// instead of printing eksaudit.1 on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script. It is rendered into memory first: clap_complete panics
/// when its writer fails, and a closed stdout must end the program quietly instead.
pub fn completions(args: CompletionsArgs) -> Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, &mut script);
    let mut out = output::stdout();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Outcome::Clean)
}

/// Prints the man page, or writes the whole set into a directory.
pub fn man(args: ManArgs) -> Result<Outcome> {
    let command = Cli::command().name(BIN);
    let Some(dir) = args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        let mut out = output::stdout();
        out.write_all(&page)?;
        out.flush()?;
        return Ok(Outcome::Clean);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(command, &dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    Ok(Outcome::Clean)
}
