//! The process's own metrics and the build's, for the `/metrics` of `nadir serve` and of
//! `nadir stream --metrics-addr`, under the names Prometheus's client libraries give them
//! (`process_resident_memory_bytes`, `process_cpu_seconds_total`, ...), so dashboards made
//! for other services read them as they are.
//!
//! Read from `/proc/self` at each scrape (a few small files; nothing is kept between
//! scrapes). `prometheus-client` has no process collector, and the `procfs` crate would bring
//! `rustix`, `bitflags` and more into the build for six numbers of two files. Off Linux
//! there are no process metrics, only the build's.
//!
//! Each command writes them in its own exposition format (the server's hand-written text,
//! the stream's `prometheus-client` registry); the names, help texts and values are here.

/// What a metric is, as its exposition format says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// Written with `_total` after [`Sample::name`].
    Counter,
}

/// One process metric, read now.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric's name, without the `_total` of a counter.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub value: f64,
}

/// The name of the build-information metric: always 1, its labels [`build_labels`].
pub const BUILD_INFO: &str = "nadir_build_info";

/// The help text of [`BUILD_INFO`].
pub const BUILD_INFO_HELP: &str =
    "nadir's version, commit (when built with NADIR_COMMIT set) and target; the value is 1.";

/// The labels of [`BUILD_INFO`]: the version, the commit when the build was given one
/// (`NADIR_COMMIT=$(git rev-parse --short HEAD) cargo build --release`: read at compile
/// time without a build script, so a source tarball builds as well, without one), and the
/// operating system and architecture built for.
pub fn build_labels() -> Vec<(&'static str, &'static str)> {
    let mut labels = vec![("version", env!("CARGO_PKG_VERSION"))];
    if let Some(commit) = option_env!("NADIR_COMMIT").filter(|c| !c.is_empty()) {
        labels.push(("commit", commit));
    }
    labels.push(("os", std::env::consts::OS));
    labels.push(("arch", std::env::consts::ARCH));
    labels
}

/// The process's metrics now; none where `/proc/self` cannot be read (not Linux).
pub fn samples() -> Vec<Sample> {
    #[cfg(target_os = "linux")]
    {
        linux::samples()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// [`BUILD_INFO`] and [`samples`] in the Prometheus text format (version 0.0.4), as the
/// server's `/metrics` writes every metric.
pub fn write_text(out: &mut String) {
    use std::fmt::Write;
    let labels: Vec<String> = build_labels()
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
        .collect();
    let _ = writeln!(
        out,
        "# HELP {BUILD_INFO} {BUILD_INFO_HELP}\n# TYPE {BUILD_INFO} gauge\n{BUILD_INFO}{{{}}} 1",
        labels.join(",")
    );
    for sample in samples() {
        let (suffix, kind) = match sample.kind {
            Kind::Gauge => ("", "gauge"),
            Kind::Counter => ("_total", "counter"),
        };
        let name = sample.name;
        let _ = writeln!(
            out,
            "# HELP {name}{suffix} {}\n# TYPE {name}{suffix} {kind}\n{name}{suffix} {}",
            sample.help, sample.value
        );
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(target_os = "linux")]
mod linux {
    use super::{Kind, Sample};

    /// The fields of `/proc/self/stat` read here, counted from 1 as proc(5) counts them.
    const UTIME: usize = 14;
    const STIME: usize = 15;
    const NUM_THREADS: usize = 20;
    const START_TIME: usize = 22;
    const VSIZE: usize = 23;
    const RSS: usize = 24;

    pub(super) fn samples() -> Vec<Sample> {
        let mut samples = Vec::new();
        let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        if let Some(stat) = stat_fields(&text) {
            let field = |n: usize| stat.get(n).and_then(|f| f.parse::<f64>().ok());
            // SAFETY: sysconf reads a configuration value; it touches no memory of ours.
            let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
            // SAFETY: as above.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
            if ticks > 0.0
                && let (Some(user), Some(system)) = (field(UTIME), field(STIME))
            {
                samples.push(Sample {
                    name: "process_cpu_seconds",
                    help: "Total user and system CPU time spent in seconds.",
                    kind: Kind::Counter,
                    value: (user + system) / ticks,
                });
            }
            if page > 0.0
                && let Some(pages) = field(RSS)
            {
                samples.push(Sample {
                    name: "process_resident_memory_bytes",
                    help: "Resident memory size in bytes.",
                    kind: Kind::Gauge,
                    value: pages * page,
                });
            }
            if let Some(bytes) = field(VSIZE) {
                samples.push(Sample {
                    name: "process_virtual_memory_bytes",
                    help: "Virtual memory size in bytes.",
                    kind: Kind::Gauge,
                    value: bytes,
                });
            }
            if ticks > 0.0
                && let (Some(since_boot), Some(boot)) = (field(START_TIME), boot_time())
            {
                samples.push(Sample {
                    name: "process_start_time_seconds",
                    help: "Start time of the process since the Unix epoch in seconds.",
                    kind: Kind::Gauge,
                    value: boot + since_boot / ticks,
                });
            }
            if let Some(threads) = field(NUM_THREADS) {
                samples.push(Sample {
                    name: "process_threads",
                    help: "Number of OS threads in the process.",
                    kind: Kind::Gauge,
                    value: threads,
                });
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            samples.push(Sample {
                name: "process_open_fds",
                help: "Number of open file descriptors.",
                kind: Kind::Gauge,
                // Less the descriptor that reads the directory.
                value: fds.count().saturating_sub(1) as f64,
            });
        }
        if let Some(limit) = open_file_limit() {
            samples.push(Sample {
                name: "process_max_fds",
                help: "Maximum number of open file descriptors.",
                kind: Kind::Gauge,
                value: limit as f64,
            });
        }
        samples
    }

    /// The fields of `/proc/self/stat`, numbered from 1 (index 0 is empty). The second is
    /// the command name in parentheses, which may itself hold spaces and parentheses: the
    /// fields after it are counted from its last `)`.
    pub(super) fn stat_fields(text: &str) -> Option<Vec<&str>> {
        let (head, tail) = text.rsplit_once(')')?;
        let pid = head.split_whitespace().next()?;
        let mut fields = vec!["", pid, "(comm)"];
        fields.extend(tail.split_whitespace());
        Some(fields)
    }

    /// When the machine booted, in seconds since the Unix epoch (`btime` of `/proc/stat`).
    fn boot_time() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|seconds| seconds.trim().parse().ok())
    }

    /// The soft open-file limit, if there is one.
    fn open_file_limit() -> Option<u64> {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through a pointer to a live one.
        let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        (status == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_names_the_version_and_target() {
        let mut text = String::new();
        write_text(&mut text);
        let line = text
            .lines()
            .find(|l| l.starts_with("nadir_build_info{"))
            .unwrap();
        assert!(
            line.starts_with(&format!(
                "nadir_build_info{{version=\"{}\"",
                env!("CARGO_PKG_VERSION")
            )),
            "{line}"
        );
        assert!(
            line.contains(&format!("arch=\"{}\"", std::env::consts::ARCH)),
            "{line}"
        );
        assert!(line.ends_with("} 1"), "{line}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_metrics_are_read_with_sane_values() {
        let samples = samples();
        let value = |name: &str| {
            samples
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no {name} in {samples:?}"))
                .value
        };
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_cpu_seconds") >= 0.0);
        assert!(value("process_threads") >= 1.0);
        // The test binary has standard input, output and error at least.
        assert!(value("process_open_fds") >= 3.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "{started} vs {now}"
        );
        let mut text = String::new();
        write_text(&mut text);
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
        assert!(text.contains("\nprocess_open_fds "));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "42 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21";
        let fields = linux::stat_fields(stat).unwrap();
        assert_eq!(fields[1], "42");
        assert_eq!(fields[3], "S");
        assert_eq!(fields[14], "11");
        assert_eq!(fields[24], "21");
    }
}
