//! What a command prints when it is done: one line for people on standard error, or with
//! `--json` one JSON object on standard output for scripts.

use std::io::Write;
use std::path::Path;

use crate::CliError;

/// The `--json` flag of the commands that report an outcome.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct JsonArg {
    /// Print the outcome as one JSON object on standard output (for scripts) instead of a
    /// line on standard error.
    #[arg(long)]
    pub json: bool,
}

impl JsonArg {
    /// Refuses `--json` when the command's data goes to standard output too.
    pub(crate) fn check_output(&self, output: &Path) -> Result<(), CliError> {
        if self.json && output == Path::new("-") {
            return Err(CliError::Usage(
                "--json prints on standard output, where -o - writes the data: pick one".into(),
            ));
        }
        Ok(())
    }

    /// Reports the outcome: `doc` with `--json`, else `human`.
    pub(crate) fn report(
        &self,
        doc: serde_json::Value,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{doc}")?;
            out.flush()?;
        } else {
            eprintln!("{}", human());
        }
        Ok(())
    }
}
