//! `nadir validate` (being built).

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args)]
pub struct ValidateArgs {}

pub fn run(_args: ValidateArgs) -> Result<()> {
    bail!("`nadir validate` is not built yet")
}
