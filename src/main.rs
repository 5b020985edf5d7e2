//! The `eksaudit` command: see `eksaudit --help`.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
