//! `nadir serve` (being built).

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> Result<()> {
    bail!("`nadir serve` is not built yet")
}
