//! `nadir completions` and `nadir man`: shell completions (clap_complete) and manual pages
//! (clap_mangen), both generated from the command's own definition, so that they cannot
//! drift from the flags.

use crate::{Cli, output};
use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write `nadir.1` and one page per command (`nadir-train.1`, …) to this directory
    /// (created if missing), instead of `nadir.1` to standard output.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs) -> Result<()> {
    // Into memory first: clap_complete panics on a failed write, and standard output may be
    // a pipe closed early.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "nadir", &mut script);
    let mut out = output::stdout();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

pub fn man(args: ManArgs) -> Result<()> {
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), dir)
                .with_context(|| format!("cannot write the manual pages to {}", dir.display()))?;
            eprintln!("wrote nadir.1 and a page per command to {}", dir.display());
        }
        None => {
            let mut out = output::stdout();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}
