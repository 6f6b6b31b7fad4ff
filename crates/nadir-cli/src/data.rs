//! `nadir data fetch`, and `train`'s fetch of the default data set when it finds no data
//! file: flags and progress only; the catalogue, the download and its checks are
//! `nadir-fetch`'s.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use nadir_data::{DATA_ENV, DEFAULT_DATA_DIR, DataError};
use nadir_fetch::{
    CATALOGUE_ENV, Catalogue, DEFAULT_DATASET, DataSource, FetchOptions, Fetched, MIRROR_ENV,
    Progress,
};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Download the public data sets, check their sha256 and put them where the commands
    /// look for data (NSL-KDD: data/Network_anomaly_data.csv, the default data file).
    #[command(after_help = fetch_help())]
    Fetch(FetchArgs),
}

#[derive(Args)]
pub struct FetchArgs {
    /// Directory to write to, created if missing. The commands' default data path looks in
    /// `data/` (relative to where they run).
    #[arg(long, default_value = DEFAULT_DATA_DIR, value_name = "DIR")]
    dest: PathBuf,
    /// Data set to fetch: a name of the catalogue (below), or `all`.
    #[arg(long, default_value = DEFAULT_DATASET, value_name = "NAME")]
    dataset: String,
    /// Fetch from this base URL instead of the public addresses, each file by the last
    /// segment of its address (URL/KDDTrain%2B.txt): for a machine without internet. The
    /// checksums stay the catalogue's. Default: $NADIR_DATA_MIRROR.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    /// Download even when the file in place is already the right one, and replace a file of
    /// that name that is not.
    #[arg(long)]
    force: bool,
}

/// The examples and the data sets of the built-in catalogue, for `--help`.
fn fetch_help() -> String {
    let mut text = String::from(
        "Examples:\n  \
         nadir data fetch                           # NSL-KDD into data/, then `nadir train`\n  \
         nadir data fetch --dataset all --dest data\n  \
         nadir data fetch --mirror http://10.0.0.5:8000/nadir-data\n\nData sets:\n",
    );
    for source in &Catalogue::built_in().sources {
        text.push_str(&format!(
            "  {:<10} {} ({}) -> DIR/{}\n",
            source.name,
            source.description,
            HumanBytes(source.size),
            source.file
        ));
    }
    text.push_str(&format!(
        "\nEnvironment: {MIRROR_ENV}=URL (as --mirror); {CATALOGUE_ENV}=FILE, a catalogue of \
         the same TOML format that replaces the built-in one (crates/nadir-fetch/catalogue.toml)."
    ));
    text
}

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Fetch(args) => fetch(args),
    }
}

fn fetch(args: FetchArgs) -> Result<()> {
    let catalogue = Catalogue::from_env()?;
    let sources: Vec<&DataSource> = if args.dataset == "all" {
        catalogue.sources.iter().collect()
    } else {
        vec![catalogue.get(&args.dataset)?]
    };
    let options = FetchOptions {
        mirror: args.mirror.or_else(nadir_fetch::mirror_from_env),
        force: args.force,
    };
    for source in sources {
        let fetched = fetch_one(source, &args.dest, &options)?;
        println!("{}", outcome(&fetched));
    }
    Ok(())
}

/// `train`'s data file when `--data` is absent: the default one, or, when there is none and
/// `$NADIR_DATA` is unset, the default data set fetched into `data/` now, saying so. (A
/// `$NADIR_DATA` that names a missing file is the user's choice of file: it stays an error.)
pub fn default_data_or_fetch() -> Result<PathBuf> {
    let tried = match nadir_data::default_data_path() {
        Ok(path) => return Ok(path),
        Err(DataError::NoDefaultData { tried }) if std::env::var_os(DATA_ENV).is_none() => tried,
        Err(error) => return Err(error.into()),
    };
    let tried = tried
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let dest = Path::new(DEFAULT_DATA_DIR);
    eprintln!(
        "no data file found ({tried}); fetching the default data set, {DEFAULT_DATASET}, into \
         {}/ (as `nadir data fetch` does)",
        dest.display()
    );
    let fetched = fetch_default(dest).with_context(|| {
        format!(
            "no data file found ({tried}), and fetching {DEFAULT_DATASET} into {}/ failed \
             (pass --data FILE or set {DATA_ENV})",
            dest.display()
        )
    })?;
    eprintln!("{}", outcome(&fetched));
    Ok(fetched.path)
}

fn fetch_default(dest: &Path) -> Result<Fetched> {
    let catalogue = Catalogue::from_env()?;
    let options = FetchOptions {
        mirror: nadir_fetch::mirror_from_env(),
        force: false,
    };
    fetch_one(catalogue.get(DEFAULT_DATASET)?, dest, &options)
}

fn fetch_one(source: &DataSource, dest: &Path, options: &FetchOptions) -> Result<Fetched> {
    let mut shown = Shown::new(&source.name);
    let fetched = nadir_fetch::fetch(source, dest, options, &mut |event| shown.update(event));
    shown.finish();
    fetched.with_context(|| format!("cannot fetch {}", source.name))
}

/// What was done, with the checksum that was verified.
fn outcome(fetched: &Fetched) -> String {
    if fetched.downloaded {
        format!(
            "wrote {} ({} bytes), sha256 {} verified",
            fetched.path.display(),
            fetched.size,
            fetched.sha256
        )
    } else {
        format!(
            "{} is already in place, sha256 {} verified (--force downloads it again)",
            fetched.path.display(),
            fetched.sha256
        )
    }
}

/// A download's progress on standard error: a bar on a terminal, else a line at every tenth.
struct Shown<'a> {
    name: &'a str,
    total: u64,
    /// Tenths of `total` already shown as lines.
    tenths: u64,
    bar: Option<ProgressBar>,
}

impl<'a> Shown<'a> {
    fn new(name: &'a str) -> Shown<'a> {
        Shown {
            name,
            total: 0,
            tenths: 0,
            bar: None,
        }
    }

    fn update(&mut self, event: Progress) {
        match event {
            Progress::Start { url, total } => {
                eprintln!("fetching {} ({}) from {url}", self.name, HumanBytes(total));
                self.total = total;
                if std::io::stderr().is_terminal() {
                    let bar = ProgressBar::new(total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}, {eta} left",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    self.bar = Some(bar);
                }
            }
            Progress::Written(n) => match &self.bar {
                Some(bar) => bar.set_position(n),
                None => {
                    while self.tenths < 10 && n * 10 >= (self.tenths + 1) * self.total {
                        self.tenths += 1;
                        eprintln!(
                            "  {}: {}% ({} of {})",
                            self.name,
                            self.tenths * 10,
                            HumanBytes(n),
                            HumanBytes(self.total)
                        );
                    }
                }
            },
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
