//! A consumer's parameters, checked into a [`ConsumerConfig`] before any connection is made,
//! so that a mistyped name is an error at start rather than a stream nobody reads.

use crate::entry::ResultFormat;
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// What a consumer is asked to do, as given.
#[derive(Debug, Clone)]
pub struct ConsumerParams {
    /// `redis://HOST:PORT[/DB]`.
    pub redis: String,
    pub input: String,
    pub group: String,
    pub consumer: String,
    /// The stream results go to; `None`: only [`ConsumerParams::stdout`].
    pub output: Option<String>,
    /// Also write each result to standard output, one JSON object per line.
    pub stdout: bool,
    /// What a result is written as: its fields, or its ECS document.
    pub format: ResultFormat,
    /// Write only the results of records predicted attacks (the alerts). Every entry is
    /// still acknowledged, and counted in the metrics: a normal result is just not written.
    pub attacks_only: bool,
    /// Where entries that cannot be scored go; `None`: [`default_dead_letter`].
    pub dead_letter: Option<String>,
    /// Entries read at a time.
    pub batch: usize,
    /// How long one read waits for new entries.
    pub block: Duration,
    /// Entries pending this long with any consumer are claimed and scored here.
    pub claim_idle: Duration,
    /// An entry delivered more often than this is dead-lettered, not scored.
    pub max_deliveries: u64,
    /// Serve Prometheus metrics here.
    pub metrics_addr: Option<SocketAddr>,
    /// Print a progress line this often (without metrics); `None`: never.
    pub progress: Option<Duration>,
    /// Instead of the model's own threshold (checked by the caller, as for `predict`).
    pub threshold: Option<f64>,
}

/// Parameters checked: every name valid, the streams distinct, the numbers in range.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub(crate) params: ConsumerParams,
    pub(crate) dead_letter: String,
}

/// A parameter that cannot work.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "{what} `{name}` is not a usable name: {why} (names are non-empty, without spaces or control characters)"
    )]
    BadName {
        what: &'static str,
        name: String,
        why: &'static str,
    },
    #[error("{first} and {second} are the same stream `{name}`: results would be read as input")]
    SameStream {
        first: &'static str,
        second: &'static str,
        name: String,
    },
    #[error("results go nowhere: give --output STREAM, --stdout, or both")]
    NoOutput,
    #[error("{what} must be at least 1")]
    Zero { what: &'static str },
}

/// The dead-letter stream of `input` when none is given.
pub fn default_dead_letter(input: &str) -> String {
    format!("{input}:dead")
}

/// Checks a stream, group or consumer name: Redis takes any bytes, but a name with spaces or
/// control characters is nearly always a quoting mistake, and would not survive a shell.
pub fn check_name(what: &'static str, name: &str) -> Result<(), ConfigError> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.chars().any(char::is_whitespace) {
        "it contains whitespace"
    } else if name.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(ConfigError::BadName {
        what,
        name: name.escape_debug().to_string(),
        why,
    })
}

impl ConsumerParams {
    /// The parameters, checked.
    pub fn check(self) -> Result<ConsumerConfig, ConfigError> {
        check_name("input stream", &self.input)?;
        check_name("group", &self.group)?;
        check_name("consumer", &self.consumer)?;
        let dead_letter = self
            .dead_letter
            .clone()
            .unwrap_or_else(|| default_dead_letter(&self.input));
        check_name("dead-letter stream", &dead_letter)?;
        let mut streams = vec![("--input", &self.input), ("--dead-letter", &dead_letter)];
        if let Some(output) = &self.output {
            check_name("output stream", output)?;
            streams.push(("--output", output));
        } else if !self.stdout {
            return Err(ConfigError::NoOutput);
        }
        for (i, (first, a)) in streams.iter().enumerate() {
            if let Some((second, _)) = streams[i + 1..].iter().find(|(_, b)| b == a) {
                return Err(ConfigError::SameStream {
                    first,
                    second,
                    name: a.to_string(),
                });
            }
        }
        if self.batch == 0 {
            return Err(ConfigError::Zero { what: "--batch" });
        }
        // Redis reads `BLOCK 0` as "wait forever": the loop would never see a stop request.
        if self.block.is_zero() {
            return Err(ConfigError::Zero { what: "--block-ms" });
        }
        if self.max_deliveries == 0 {
            return Err(ConfigError::Zero {
                what: "--max-deliveries",
            });
        }
        Ok(ConsumerConfig {
            params: self,
            dead_letter,
        })
    }
}

impl ConsumerConfig {
    pub fn params(&self) -> &ConsumerParams {
        &self.params
    }

    pub fn dead_letter(&self) -> &str {
        &self.dead_letter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ConsumerParams {
        ConsumerParams {
            redis: "redis://127.0.0.1:6379".into(),
            input: "in".into(),
            group: "g".into(),
            consumer: "c".into(),
            output: Some("out".into()),
            stdout: false,
            format: ResultFormat::Fields,
            attacks_only: false,
            dead_letter: None,
            batch: 10,
            block: Duration::from_millis(100),
            claim_idle: Duration::from_secs(1),
            max_deliveries: 3,
            metrics_addr: None,
            progress: None,
            threshold: None,
        }
    }

    #[test]
    fn good_parameters_pass_with_the_default_dead_letter_stream() {
        let config = params().check().unwrap();
        assert_eq!(config.dead_letter(), "in:dead");
    }

    #[test]
    fn bad_names_and_clashing_streams_are_named() {
        let bad = |p: ConsumerParams| p.check().unwrap_err().to_string();
        let message = bad(ConsumerParams {
            output: Some("a b".into()),
            ..params()
        });
        assert!(message.contains("output stream `a b`"), "{message}");
        assert!(message.contains("whitespace"), "{message}");
        let message = bad(ConsumerParams {
            group: String::new(),
            ..params()
        });
        assert!(
            message.contains("group ``") && message.contains("empty"),
            "{message}"
        );
        let message = bad(ConsumerParams {
            consumer: "c\u{1}".into(),
            ..params()
        });
        assert!(message.contains("control character"), "{message}");
        let message = bad(ConsumerParams {
            output: Some("in".into()),
            ..params()
        });
        assert!(message.contains("--input and --output"), "{message}");
        let message = bad(ConsumerParams {
            dead_letter: Some("out".into()),
            ..params()
        });
        assert!(message.contains("--dead-letter and --output"), "{message}");
        assert_eq!(
            ConsumerParams {
                output: None,
                ..params()
            }
            .check()
            .unwrap_err(),
            ConfigError::NoOutput
        );
        assert!(
            ConsumerParams {
                output: None,
                stdout: true,
                ..params()
            }
            .check()
            .is_ok()
        );
        assert!(
            bad(ConsumerParams {
                batch: 0,
                ..params()
            })
            .contains("--batch")
        );
    }
}
