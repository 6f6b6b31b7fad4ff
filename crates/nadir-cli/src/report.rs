//! `nadir report` (being built).

use anyhow::{Result, bail};
use clap::Args;

#[derive(Args)]
pub struct ReportArgs {}

pub fn run(_args: ReportArgs) -> Result<()> {
    bail!("`nadir report` is not built yet")
}
