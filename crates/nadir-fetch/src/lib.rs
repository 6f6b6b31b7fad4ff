//! The public data sets on a fresh machine: download one, check its sha256, and put it where
//! nadir's default data path looks (`data/Network_anomaly_data.csv` for NSL-KDD).
//!
//! The catalogue (`catalogue.toml`, built in) declares each data set once: its name, the file
//! written, the address, the size and sha256 of the file written, and how the download becomes
//! that file. NSL-KDD's distribution file `KDDTrain+.txt` has no header row; the project's
//! file is the same records with one, so the header of the built-in `nsl-kdd` schema
//! ([`Schema::headerless_columns`]) is written before the download and the checksum covers
//! both: the result is byte for byte the project's `Network_anomaly_data.csv` (sha256
//! `7f559a16…`), and the default data path needs no second name.
//!
//! **The pinned checksums were derived offline** from the project's copies of the files, not
//! checked against the live addresses (the machine that wrote them had no internet). Should
//! a mirror serve different bytes (CRLF line ends, other number formatting), the download
//! fails with both checksums named rather than leaving an unknown file behind.
//!
//! A download goes to a temporary file in DEST (`.FILE.PID.part`), is hashed as it is written,
//! and is renamed over FILE only when its size and sha256 are right; on every error the
//! temporary file is removed, so DEST holds either the checked file or nothing new.
//!
//! `NADIR_DATA_MIRROR=URL` (or the CLI's `--mirror`) fetches every file from URL instead, by
//! the last segment of its address (`URL/KDDTrain%2B.txt`): for air-gapped machines and the
//! tests. The checksums stay the catalogue's. `NADIR_DATA_CATALOGUE=FILE` replaces the
//! built-in catalogue by a file of the same format: data sets of one's own, and the tests'
//! small files.

use nadir_data::Schema;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// The environment variable of the mirror's base URL.
pub const MIRROR_ENV: &str = "NADIR_DATA_MIRROR";
/// The environment variable naming a catalogue file that replaces the built-in one.
pub const CATALOGUE_ENV: &str = "NADIR_DATA_CATALOGUE";
/// The data set `nadir train` fetches when it finds no data file.
pub const DEFAULT_DATASET: &str = "nsl-kdd";

const BUILT_IN: &str = include_str!("../catalogue.toml");
/// Bytes read from the connection at a time; progress is reported after each.
const CHUNK: usize = 64 * 1024;

/// One downloadable data set, as the catalogue declares it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// What `--dataset` calls it.
    pub name: String,
    pub description: String,
    /// The file written in DEST: a plain name.
    pub file: String,
    pub url: String,
    /// The built-in schema whose header row is written before the download (a headerless
    /// distribution file), if any.
    #[serde(default)]
    pub prepend_header: Option<String>,
    /// Bytes of the file written (header included).
    pub size: u64,
    /// Lower-case hex sha256 of the file written (header included).
    pub sha256: String,
}

impl DataSource {
    /// The address to fetch from: the catalogue's, or the mirror's by the same last segment.
    pub fn url(&self, mirror: Option<&str>) -> String {
        match mirror {
            Some(base) => {
                let name = self.url.rsplit('/').next().unwrap_or(&self.url);
                format!("{}/{name}", base.trim_end_matches('/'))
            }
            None => self.url.clone(),
        }
    }

    /// The bytes written before the download: the header row and its line end, or nothing;
    /// or what is wrong with `prepend_header`.
    fn prefix(&self) -> Result<Vec<u8>, String> {
        let Some(name) = &self.prepend_header else {
            return Ok(Vec::new());
        };
        let schema = Schema::built_in()
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| format!("prepend_header names no built-in schema: `{name}`"))?;
        Ok(format!("{}\n", schema.headerless_columns().join(",")).into_bytes())
    }

    fn check(&self) -> Result<(), String> {
        let problem = if self.file.is_empty()
            || self.file.contains(['/', '\\'])
            || self.file.starts_with('.')
        {
            format!("file `{}` is not a plain file name", self.file)
        } else if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            format!("sha256 `{}` is not 64 lower-case hex digits", self.sha256)
        } else {
            let prefix = self
                .prefix()
                .map_err(|problem| format!("data set `{}`: {problem}", self.name))?;
            if self.size < prefix.len() as u64 {
                format!(
                    "size {} is less than its header's {} bytes",
                    self.size,
                    prefix.len()
                )
            } else {
                return Ok(());
            }
        };
        Err(format!("data set `{}`: {problem}", self.name))
    }
}

/// The data sets that can be fetched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    #[serde(rename = "dataset")]
    pub sources: Vec<DataSource>,
}

/// Why a catalogue file cannot be used.
#[derive(Debug, Error)]
pub enum CatalogueError {
    #[error("cannot read the catalogue {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("catalogue {origin}: {problem}")]
    Invalid { origin: String, problem: String },
}

impl Catalogue {
    /// The built-in catalogue (checked by this crate's tests, so reading it cannot fail).
    pub fn built_in() -> Catalogue {
        Catalogue::from_toml(BUILT_IN, "built-in").expect("the built-in catalogue is valid")
    }

    /// `$NADIR_DATA_CATALOGUE`'s file when set, else the built-in catalogue.
    pub fn from_env() -> Result<Catalogue, CatalogueError> {
        let Some(path) = std::env::var_os(CATALOGUE_ENV) else {
            return Ok(Catalogue::built_in());
        };
        let path = PathBuf::from(path);
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Read {
            path: origin.clone(),
            source,
        })?;
        Catalogue::from_toml(&text, &origin)
    }

    /// A catalogue from TOML (`[[dataset]]` tables), every entry checked.
    pub fn from_toml(text: &str, origin: &str) -> Result<Catalogue, CatalogueError> {
        let invalid = |problem: String| CatalogueError::Invalid {
            origin: origin.to_string(),
            problem,
        };
        let catalogue: Catalogue = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (i, source) in catalogue.sources.iter().enumerate() {
            source.check().map_err(invalid)?;
            if catalogue.sources[..i].iter().any(|s| s.name == source.name) {
                return Err(invalid(format!(
                    "data set `{}` is listed twice",
                    source.name
                )));
            }
        }
        Ok(catalogue)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|s| s.name.as_str())
    }

    pub fn get(&self, name: &str) -> Result<&DataSource, FetchError> {
        self.sources
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| FetchError::UnknownDataset {
                name: name.to_string(),
                known: self.names().collect::<Vec<_>>().join(", "),
            })
    }
}

/// The mirror's base URL from `$NADIR_DATA_MIRROR`, if set and not empty.
pub fn mirror_from_env() -> Option<String> {
    std::env::var(MIRROR_ENV).ok().filter(|m| !m.is_empty())
}

/// Why a data set could not be put in place. DEST holds nothing new after any of them.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("no data set `{name}`; the catalogue has: {known}")]
    UnknownDataset { name: String, known: String },
    #[error("cannot download {url}: {source}")]
    Request {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("the download from {url} stopped after {received} of {expected} bytes")]
    Interrupted {
        url: String,
        received: u64,
        expected: u64,
        #[source]
        source: Option<io::Error>,
    },
    #[error("{url} sent more than the {expected} bytes expected")]
    TooLong { url: String, expected: u64 },
    #[error(
        "checksum mismatch for {url}: expected sha256 {expected}, got {got}; nothing was written"
    )]
    Checksum {
        url: String,
        expected: String,
        got: String,
    },
    #[error(
        "{path} exists and is not the catalogue's file (sha256 {got}, expected {expected}); --force replaces it"
    )]
    Differs {
        path: PathBuf,
        expected: String,
        got: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}

/// How to fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Base URL to fetch from instead of the catalogue's addresses.
    pub mirror: Option<String>,
    /// Download even when the file in place is already the right one, and replace a
    /// different one.
    pub force: bool,
}

/// What [`fetch`] reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// The download starts: `total` bytes of file to write, from `url`.
    Start { url: &'a str, total: u64 },
    /// `written` bytes of the file are written so far.
    Written(u64),
}

/// A data set in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// Whether it was downloaded now (or already in place, checked).
    pub downloaded: bool,
}

/// Puts `source`'s file into `dest` (created if missing), checked by size and sha256. A file
/// already there is kept when its checksum is right (unless `force`), and refused when it is
/// not (unless `force`).
pub fn fetch(
    source: &DataSource,
    dest: &Path,
    options: &FetchOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Fetched, FetchError> {
    let path = dest.join(&source.file);
    if path.exists() && !options.force {
        let (got, size) = sha256_of(&path)?;
        if got != source.sha256 {
            return Err(FetchError::Differs {
                path,
                expected: source.sha256.clone(),
                got,
            });
        }
        return Ok(Fetched {
            path,
            sha256: got,
            size,
            downloaded: false,
        });
    }
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Write { path, source }
    };
    std::fs::create_dir_all(dest).map_err(write_error(dest))?;
    let url = source.url(options.mirror.as_deref());
    let mut part = PartFile::create(dest, &source.file)?;
    let mut hasher = Sha256::new();
    let prefix = source.prefix().map_err(|problem| CatalogueError::Invalid {
        origin: format!("entry `{}`", source.name),
        problem,
    })?;
    part.write(&prefix)?;
    hasher.update(&prefix);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("nadir/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent.get(&url).call().map_err(|error| match error {
        ureq::Error::StatusCode(status) => FetchError::Status {
            url: url.clone(),
            status,
        },
        other => FetchError::Request {
            url: url.clone(),
            source: Box::new(other),
        },
    })?;

    let expected = source.size - prefix.len() as u64;
    let interrupted = |received, source| FetchError::Interrupted {
        url: url.clone(),
        received,
        expected,
        source,
    };
    progress(Progress::Start {
        url: &url,
        total: source.size,
    });
    progress(Progress::Written(prefix.len() as u64));
    let mut body = response.body_mut().as_reader();
    let mut buffer = vec![0; CHUNK];
    let mut received = 0u64;
    loop {
        let n = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(interrupted(received, Some(error))),
        };
        received += n as u64;
        if received > expected {
            return Err(FetchError::TooLong {
                url: url.clone(),
                expected,
            });
        }
        part.write(&buffer[..n])?;
        hasher.update(&buffer[..n]);
        progress(Progress::Written(prefix.len() as u64 + received));
    }
    if received < expected {
        return Err(interrupted(received, None));
    }
    let got = hex(&hasher.finalize());
    if got != source.sha256 {
        return Err(FetchError::Checksum {
            url,
            expected: source.sha256.clone(),
            got,
        });
    }
    part.persist(&path)?;
    Ok(Fetched {
        path,
        sha256: got,
        size: source.size,
        downloaded: true,
    })
}

/// The sha256 (hex) and size of a file.
pub fn sha256_of(path: &Path) -> Result<(String, u64), FetchError> {
    let read_error = |source| FetchError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; CHUNK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(read_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hex(&hasher.finalize()), size))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The temporary file a download is written to, removed when dropped unless persisted: every
/// early return of [`fetch`] cleans up by leaving scope.
struct PartFile {
    path: PathBuf,
    file: Option<File>,
}

impl PartFile {
    fn create(dest: &Path, name: &str) -> Result<PartFile, FetchError> {
        let path = dest.join(format!(".{name}.{}.part", std::process::id()));
        let file = File::create(&path).map_err(|source| FetchError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(PartFile {
            path,
            file: Some(file),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        let file = self.file.as_mut().expect("open until persisted");
        file.write_all(bytes).map_err(|source| FetchError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes the file to disk and renames it to `path`, atomically.
    fn persist(mut self, path: &Path) -> Result<(), FetchError> {
        let file = self.file.take().expect("open until persisted");
        file.sync_all().map_err(|source| FetchError::Write {
            path: self.path.clone(),
            source,
        })?;
        drop(file);
        std::fs::rename(&self.path, path).map_err(|source| FetchError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogue_is_valid_and_its_default_is_the_default_data_file() {
        let catalogue = Catalogue::from_toml(BUILT_IN, "built-in").unwrap();
        assert_eq!(
            catalogue.names().collect::<Vec<_>>(),
            ["nsl-kdd", "unsw-nb15"]
        );
        let default = catalogue.get(DEFAULT_DATASET).unwrap();
        assert_eq!(default.file, nadir_data::DEFAULT_DATA_FILE);
    }

    #[test]
    fn nsl_kdd_gets_the_project_files_header_row() {
        let source = Catalogue::built_in().get("nsl-kdd").unwrap().clone();
        let header = String::from_utf8(source.prefix().unwrap()).unwrap();
        assert_eq!(
            header,
            "duration,protocoltype,service,flag,srcbytes,dstbytes,land,wrongfragment,urgent,hot,\
             numfailedlogins,loggedin,numcompromised,rootshell,suattempted,numroot,\
             numfilecreations,numshells,numaccessfiles,numoutboundcmds,ishostlogin,isguestlogin,\
             count,srvcount,serrorrate,srvserrorrate,rerrorrate,srvrerrorrate,samesrvrate,\
             diffsrvrate,srvdiffhostrate,dsthostcount,dsthostsrvcount,dsthostsamesrvrate,\
             dsthostdiffsrvrate,dsthostsamesrcportrate,dsthostsrvdiffhostrate,dsthostserrorrate,\
             dsthostsrvserrorrate,dsthostrerrorrate,dsthostsrvrerrorrate,attack,lastflag\n"
        );
        // KDDTrain+.txt's published size, plus the header.
        assert_eq!(source.size - header.len() as u64, 19_109_424);
    }

    #[test]
    fn a_mirror_serves_the_same_file_name() {
        let source = Catalogue::built_in().get("nsl-kdd").unwrap().clone();
        assert_eq!(
            source.url(Some("http://127.0.0.1:8000/data/")),
            "http://127.0.0.1:8000/data/KDDTrain%2B.txt"
        );
        assert_eq!(source.url(None), source.url);
    }

    #[test]
    fn bad_catalogues_are_refused_with_the_reason() {
        let entry = |file: &str, sha: &str, header: &str| {
            format!(
                "[[dataset]]\nname = \"x\"\ndescription = \"\"\nfile = \"{file}\"\nurl = \"http://h/x\"\n\
                 size = 10\nsha256 = \"{sha}\"\n{header}"
            )
        };
        let good = "0".repeat(64);
        let cases = [
            (entry("../x", &good, ""), "not a plain file name"),
            (entry("x.csv", "ABC", ""), "64 lower-case hex"),
            (
                entry("x.csv", &good, "prepend_header = \"nope\""),
                "no built-in schema",
            ),
            (
                entry("x.csv", &good, "prepend_header = \"nsl-kdd\""),
                "less than its header",
            ),
            (
                format!(
                    "{}\n{}",
                    entry("x.csv", &good, ""),
                    entry("y.csv", &good, "")
                ),
                "listed twice",
            ),
            (entry("x.csv", &good, "mirror = 1"), "unknown field"),
        ];
        for (text, expected) in cases {
            let error = Catalogue::from_toml(&text, "t.toml")
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
        assert!(Catalogue::from_toml(&entry("x.csv", &good, ""), "t.toml").is_ok());
    }
}
