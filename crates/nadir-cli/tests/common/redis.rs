//! A real `redis-server` for the stream tests: its own loopback port and temporary
//! directory, killed (SIGKILL) and restarted on both at will, stopped and removed on drop;
//! and the few stream reads the tests make of it (`XRANGE`, `XPENDING`, `XINFO`).
//!
//! Every wait polls the event with a bounded, generous deadline (the machine is shared):
//! no fixed sleeps, no verdict drawn from the clock.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING (and to load its append-only file).
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The pause between two looks at something awaited.
pub const POLL: Duration = Duration::from_millis(20);

/// The server binary: `$REDIS_SERVER`, else `redis-server` from the `PATH`.
fn server_binary() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

/// Whether a redis-server runs here. Without one a test is skipped, saying so, outside CI,
/// and fails under `CI=true`, where it must run.
pub fn redis_available(test: &str) -> bool {
    let binary = server_binary();
    let runs = Command::new(&binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if runs {
        return true;
    }
    let message = format!("the stream tests need `{binary}` (apt-get install redis-server)");
    if matches!(std::env::var("CI").as_deref(), Ok("true" | "1")) {
        panic!("{message}; CI=true: the stream tests must run");
    }
    // Straight to stderr: libtest captures `eprintln!` of a passing test, and a skip that
    // prints nothing reads as a pass.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {message}");
    false
}

/// A loopback TCP port nothing listens on at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Whether the server keeps what it is told across a kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// `--appendonly no`: a restarted server is empty.
    None,
    /// `--appendonly yes --appendfsync always`: every write is on disk before it is answered.
    AppendOnly,
}

/// A `redis-server` of one test, stopped and its directory removed when dropped.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    persistence: Persistence,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server for `test`, or `None` when there is none to start (see
    /// [`redis_available`]).
    pub fn start(test: &str, persistence: Persistence) -> Option<Self> {
        if !redis_available(test) {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("nadir-redis-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer {
            port: 0,
            dir,
            persistence,
            child: None,
        };
        // The port is free when asked for but may be taken before the server binds it:
        // then the server exits, and another port is tried.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn_and_wait().is_ok() {
                return Some(server);
            }
        }
        panic!(
            "redis-server did not start on five free ports; its log:\n{}",
            server.log()
        );
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new connection to the server.
    pub fn connect(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(30)))
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url()))
    }

    /// Kills the server with SIGKILL: nothing is flushed but what is already on disk.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, after [`Self::kill`].
    pub fn restart(&mut self) {
        self.kill();
        if let Err(why) = self.spawn_and_wait() {
            panic!(
                "redis-server did not restart: {why}; its log:\n{}",
                self.log()
            );
        }
    }

    /// What the server wrote to its log, all its runs.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.log"))
            .unwrap();
        let appendonly = match self.persistence {
            Persistence::None => ["--appendonly", "no"],
            Persistence::AppendOnly => ["--appendonly", "yes"],
        };
        let child = Command::new(server_binary())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", ""])
            .args(appendonly)
            .args(["--appendfsync", "always"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{} does not run: {e}", server_binary()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Polls until the server answers PING and serves its data (not `LOADING` it), or fails
    /// when the server exits or the deadline passes.
    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let client = redis::Client::open(self.url()).map_err(|e| e.to_string())?;
        let mut last_error = String::from("no answer yet");
        while started.elapsed() < START_DEADLINE {
            let child = self.child.as_mut().unwrap();
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!("redis-server exited ({status})"));
            }
            let answer = client
                .get_connection_with_timeout(Duration::from_secs(5))
                .and_then(|mut con| {
                    let pong: String = redis::cmd("PING").query(&mut con)?;
                    let _: u64 = redis::cmd("DBSIZE").query(&mut con)?;
                    Ok(pong)
                });
            match answer {
                Ok(pong) if pong == "PONG" => return Ok(()),
                Ok(other) => last_error = format!("PING answered {other:?}"),
                Err(e) => last_error = e.to_string(),
            }
            std::thread::sleep(POLL);
        }
        Err(format!(
            "no answer on port {} within {START_DEADLINE:?}: {last_error}",
            self.port
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One stream entry: its ID and its fields in order.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    pub fields: Vec<(String, String)>,
}

impl Entry {
    /// The value of field `name`, if the entry has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of field `name`, which the entry must have.
    pub fn field(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("entry {} has no field `{name}`: {:?}", self.id, self.fields))
    }

    /// The field names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(name, _)| name.as_str()).collect()
    }
}

/// Every entry of `stream`, oldest first (none when it does not exist); values that are not
/// UTF-8 (a dead letter keeps the bytes it was sent) read lossily.
pub fn entries(con: &mut redis::Connection, stream: &str) -> Vec<Entry> {
    let raw: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap_or_else(|e| panic!("XRANGE {stream}: {e}"));
    raw.into_iter()
        .map(|(id, flat)| Entry {
            id,
            fields: flat
                .chunks(2)
                .map(|pair| {
                    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
                    (
                        text(&pair[0]),
                        pair.get(1).map_or_else(String::new, |v| text(v)),
                    )
                })
                .collect(),
        })
        .collect()
}

/// The IDs of every entry of `stream`, oldest first.
pub fn ids(con: &mut redis::Connection, stream: &str) -> Vec<String> {
    entries(con, stream).into_iter().map(|e| e.id).collect()
}

/// `XLEN stream` (0 when it does not exist).
pub fn len(con: &mut redis::Connection, stream: &str) -> usize {
    redis::cmd("XLEN")
        .arg(stream)
        .query(con)
        .unwrap_or_else(|e| panic!("XLEN {stream}: {e}"))
}

/// How many entries of `stream` the group holds delivered and unacknowledged (the XPENDING
/// summary's count; 0 when the stream or the group does not exist).
pub fn pending_count(con: &mut redis::Connection, stream: &str, group: &str) -> usize {
    let summary: redis::RedisResult<redis::Value> =
        redis::cmd("XPENDING").arg(stream).arg(group).query(con);
    match summary {
        Ok(redis::Value::Array(items)) => match items.first() {
            Some(redis::Value::Int(count)) => *count as usize,
            other => panic!("XPENDING {stream} {group}: a count expected, got {other:?}"),
        },
        Ok(other) => panic!("XPENDING {stream} {group}: an array expected, got {other:?}"),
        Err(e) if e.code() == Some("NOGROUP") => 0,
        Err(e) => panic!("XPENDING {stream} {group}: {e}"),
    }
}

/// The pending entries of `stream` in `group`: (ID, consumer, delivery count), all of them
/// or `consumer`'s.
pub fn pending(
    con: &mut redis::Connection,
    stream: &str,
    group: &str,
    consumer: Option<&str>,
) -> Vec<(String, String, u64)> {
    let mut cmd = redis::cmd("XPENDING");
    cmd.arg(stream).arg(group).arg("-").arg("+").arg(1_000_000);
    if let Some(consumer) = consumer {
        cmd.arg(consumer);
    }
    let rows: Vec<(String, String, u64, u64)> = cmd
        .query(con)
        .unwrap_or_else(|e| panic!("XPENDING {stream} {group} - +: {e}"));
    rows.into_iter()
        .map(|(id, owner, _idle, deliveries)| (id, owner, deliveries))
        .collect()
}

/// The group's `last-delivered-id`: every entry up to it was delivered to some consumer.
/// `None` when the stream or the group does not exist.
pub fn last_delivered(con: &mut redis::Connection, stream: &str, group: &str) -> Option<String> {
    let answer: redis::RedisResult<Vec<Vec<redis::Value>>> =
        redis::cmd("XINFO").arg("GROUPS").arg(stream).query(con);
    let groups = match answer {
        Ok(groups) => groups,
        Err(e) if e.to_string().contains("no such key") => return None,
        Err(e) => panic!("XINFO GROUPS {stream}: {e}"),
    };
    groups.into_iter().find_map(|fields| {
        let text = |value: &redis::Value| match value {
            redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            redis::Value::SimpleString(s) => s.clone(),
            other => format!("{other:?}"),
        };
        let pairs: Vec<(String, String)> = fields
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| (text(&pair[0]), text(&pair[1])))
            .collect();
        let named = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        (named("name").as_deref() == Some(group))
            .then(|| named("last-delivered-id"))
            .flatten()
    })
}

/// How many clients wait in a blocking `XREADGROUP` (a consumer appears in `XINFO CONSUMERS`
/// only once it has been given an entry; a blocked read is the sign that it is listening).
pub fn blocked_readers(con: &mut redis::Connection) -> usize {
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(con)
        .unwrap_or_else(|e| panic!("CLIENT LIST: {e}"));
    clients
        .lines()
        .filter(|client| {
            let field = |name: &str| {
                client
                    .split(' ')
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            };
            field("cmd") == Some("xreadgroup") && field("flags").is_some_and(|f| f.contains('b'))
        })
        .count()
}

/// `XADD stream * field value …`, the new entry's ID.
pub fn add(con: &mut redis::Connection, stream: &str, fields: &[(&str, &str)]) -> String {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("*");
    for (name, value) in fields {
        cmd.arg(*name).arg(*value);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("XADD {stream}: {e}"))
}
