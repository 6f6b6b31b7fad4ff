//! `nadir extract`: packet captures and Zeek conn.logs to NSL-KDD connection records (CSV).

use crate::progress::Count;
use anyhow::Result;
use clap::Args;
use nadir_traffic::record::CsvWriter;
use nadir_traffic::window::WindowParams;
use nadir_traffic::{Extraction, TrafficOptions};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct ExtractArgs {
    /// Packet captures (pcap, pcapng: Ethernet, 802.1Q/QinQ, Linux cooked, raw IP) or Zeek
    /// conn.log files (TSV or JSON lines), told apart by their first bytes; `-` for standard
    /// input. Each file's windows are its own.
    #[arg(required = true, value_name = "FILE")]
    inputs: Vec<PathBuf>,
    /// Write the records here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Give every record this value in the `attack` column: `normal` for a baseline capture
    /// of your own traffic, to train the normal-only detectors on it.
    #[arg(long, value_name = "NAME")]
    label: Option<String>,
    /// Zeek logs: skip bad lines (counted and reported) instead of stopping at the first.
    /// Captures always read past bad frames, counting them by kind.
    #[arg(long)]
    skip_invalid: bool,
    /// Connections in the host window (features 32–41); KDD'99's documentation says 100.
    #[arg(long, default_value_t = WindowParams::default().connections as u32, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    host_window: u32,
    /// Threads: with 2, each file is read (decoded, its connections tracked) on a thread of
    /// its own while the window features and records are computed on this one. The records
    /// are the same, in the same order.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=2))]
    threads: u32,
}

pub fn run(args: ExtractArgs) -> Result<()> {
    let sink = crate::output_sink(args.out.as_deref())?;
    let mut writer = CsvWriter::labelled(sink, args.label.clone())?;
    let options = TrafficOptions {
        skip_invalid: args.skip_invalid,
        window: WindowParams {
            connections: args.host_window as usize,
            ..WindowParams::default()
        },
        skip_checksum: true,
    };
    let progress = Count::new("connections", None);
    for input in &args.inputs {
        let mut extraction = if input.as_os_str() == "-" {
            Extraction::from_reader("standard input", std::io::stdin(), options)?
        } else {
            Extraction::open(input, options)?
        };
        if args.threads > 1 {
            extraction = extraction.read_ahead();
        }
        write_connections(&mut extraction, &mut writer, &progress)?;
    }
    writer.into_inner()?.flush()?;
    Ok(())
}

/// Writes every connection of `extraction` to `writer`, showing their count on `progress`,
/// then says on standard error how many there were and what the input held.
pub fn write_connections<W: Write>(
    extraction: &mut Extraction,
    writer: &mut CsvWriter<W>,
    progress: &Count,
) -> Result<()> {
    progress.set_message(extraction.name());
    let mut written = 0u64;
    while let Some((conn, window)) = extraction.next_connection()? {
        writer.write(&conn, &window)?;
        written += 1;
        // The first connection too, so that a log shows the work under way at once.
        if written == 1 || written.is_multiple_of(4096) {
            progress.set(written);
        }
    }
    progress.finish();
    eprintln!(
        "{} ({}): {written} connections; {}",
        extraction.name(),
        extraction.format().name(),
        extraction.summary()
    );
    Ok(())
}
