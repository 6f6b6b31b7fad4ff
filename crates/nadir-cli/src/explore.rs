//! `nadir explore` (being built).

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args)]
pub struct ExploreArgs {}

pub fn run(_args: ExploreArgs) -> Result<()> {
    bail!("`nadir explore` is not built yet")
}
