//! The content inspector on crafted sessions (telnet, rlogin, rsh, FTP, mail, HTTP), on the
//! shared captures' real payload, and on garbage.

#[path = "content_support/pcap.rs"]
mod pcap;

use std::path::PathBuf;

use nadir_traffic::content::Inspector;
use nadir_traffic::{ContentFeatures, Transport};
use proptest::prelude::*;

/// A conversation: each message's direction (`true`: from the originator) and bytes.
type Conversation = Vec<(bool, Vec<u8>)>;

fn inspect(port: u16, conversation: &[(bool, Vec<u8>)]) -> ContentFeatures {
    let mut inspector = Inspector::new(Transport::Tcp, port);
    for (from_originator, bytes) in conversation {
        inspector.feed(*from_originator, bytes);
    }
    inspector.finish()
}

/// Builds a conversation message by message.
#[derive(Default)]
struct Script {
    messages: Conversation,
}

impl Script {
    fn client(mut self, bytes: &[u8]) -> Script {
        self.messages.push((true, bytes.to_vec()));
        self
    }

    fn server(mut self, bytes: &[u8]) -> Script {
        self.messages.push((false, bytes.to_vec()));
        self
    }

    /// A line typed in character mode: each keystroke sent alone and echoed by the server,
    /// the line ended by CR NUL and echoed as CR LF.
    fn typed(mut self, line: &str) -> Script {
        for byte in line.bytes() {
            self = self.client(&[byte]).server(&[byte]);
        }
        self.client(b"\r\0").server(b"\r\n")
    }
}

/// A telnet session in character mode with echo: option negotiation, one failed login, a
/// successful one, /etc/passwd read, a missing command, su to root, a file created as
/// root, and a command whose echo says "not found" (an echo, not output).
fn telnet_session() -> Conversation {
    Script::default()
        .server(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23")
        .client(b"\xff\xfb\x18\xff\xfc\x20\xff\xfc\x23")
        .server(b"\xff\xfa\x18\x01\xff\xf0")
        .client(b"\xff\xfa\x18\x00xterm\xff\xf0")
        .server(b"\xff\xfb\x03\xff\xfd\x01\xff\xfb\x01\r\nDebian GNU/Linux 12\r\n\r\nhost login: ")
        .client(b"\xff\xfc\x01")
        .typed("alice")
        .server(b"Password: ")
        .client(b"guess\r\0")
        .server(b"\r\n\r\nLogin incorrect\r\nhost login: ")
        .typed("alice")
        .server(b"Password: ")
        .client(b"secret\r\0")
        .server(b"\r\nLast login: Thu Dec  3 15:00:00 2026\r\n\x1b[01;32malice@host\x1b[00m:~$ ")
        .typed("cat /etc/passwd")
        .server(b"root:x:0:0:root:/root:/bin/bash\r\nalice:x:1000:1000::/home/alice:/bin/sh\r\n")
        .server(b"alice@host:~$ ")
        .typed("frobnicate")
        .server(b"-bash: frobnicate: command not found\r\nalice@host:~$ ")
        .typed("grep 'not found' notes")
        .server(b"alice@host:~$ ")
        .typed("su")
        .server(b"Password: ")
        .client(b"rootpw\r\0")
        .server(b"\r\nroot@host:/home/alice# ")
        .typed("touch /tmp/made-by-root")
        .server(b"root@host:/home/alice# ")
        .typed("date > /tmp/when")
        .server(b"root@host:/home/alice# ")
        .typed("exit")
        .server(b"exit\r\nalice@host:~$ ")
        .typed("exit")
        .server(b"logout\r\n")
        .messages
}

#[test]
fn telnet_session_with_a_failed_login_su_and_a_root_shell() {
    let features = inspect(23, &telnet_session());
    assert_eq!(
        features,
        ContentFeatures {
            // The failed login and /etc/passwd.
            hot: 2,
            num_failed_logins: 1,
            logged_in: true,
            // "command not found"; the echo of `grep 'not found'` is not output.
            num_compromised: 1,
            root_shell: true,
            su_attempted: true,
            // `touch`, `date > …` and `exit` at the root prompt (a typed `>` echoed is no
            // prompt).
            num_root: 3,
            num_file_creations: 2,
            num_shells: 0,
            num_access_files: 1,
            num_outbound_cmds: 0,
            is_host_login: false,
            is_guest_login: false,
        }
    );
}

/// A telnet session in line mode (the client sends whole lines, the server does not echo)
/// logging in as root straight away (the name sent right behind telnet commands), starting
/// a shell and writing .rhosts.
fn telnet_root_line_mode() -> Conversation {
    Script::default()
        .server(b"\xff\xfd\x22login: ")
        .client(b"\xff\xfd\x01\xff\xfb\x1froot\r\n")
        .server(b"Password:")
        .client(b"toor\r\n")
        .server(b"\r\n# ")
        .client(b"echo + + > /root/.rhosts; /bin/sh\r\n")
        .server(b"# ")
        .client(b"./exploit\r\n")
        .server(b"Segmentation fault (core dumped)\r\n# ")
        .messages
}

#[test]
fn telnet_root_login_in_line_mode() {
    let features = inspect(23, &telnet_root_line_mode());
    assert!(features.logged_in && features.is_host_login && features.root_shell);
    assert!(!features.su_attempted);
    assert_eq!(features.num_failed_logins, 0);
    assert_eq!(features.num_root, 2);
    assert_eq!(features.num_access_files, 1);
    assert_eq!(features.num_file_creations, 1);
    assert_eq!(features.num_shells, 1);
    // .rhosts and ./exploit.
    assert_eq!(features.hot, 2);
    assert_eq!(features.num_compromised, 1);
}

#[test]
fn telnet_password_guessing_never_logs_in() {
    let mut script = Script::default();
    for guess in ["123456", "password", "letmein"] {
        script = script
            .server(b"login: ")
            .client(b"admin\r\n")
            .server(b"Password: ")
            .client(format!("{guess}\r\n").as_bytes())
            .server(b"\r\nLogin incorrect\r\n");
    }
    let features = inspect(23, &script.messages);
    assert_eq!(features.num_failed_logins, 3);
    assert_eq!(features.hot, 3);
    assert!(!features.logged_in && !features.is_host_login);
}

/// An anonymous FTP session: a CWD into /etc, /etc/passwd fetched, a file uploaded.
fn anonymous_ftp_session() -> Conversation {
    Script::default()
        .server(b"220 ftp.example.org FTP server ready.\r\n")
        .client(b"USER anonymous\r\n")
        .server(b"331 Guest login ok, send your email address as password.\r\n")
        .client(b"PASS guest@\r\n")
        .server(b"230-Welcome\r\n230-  to the archive\r\n230 Guest login ok, access restrictions apply.\r\n")
        .client(b"CWD /etc\r\n")
        .server(b"250 CWD command successful.\r\n")
        .client(b"PASV\r\n")
        .server(b"227 Entering Passive Mode (10,0,0,1,200,10)\r\n")
        .client(b"RETR passwd\r\nRETR /etc/passwd\r\n")
        .server(b"550 passwd: No such file.\r\n150 Opening BINARY mode data connection.\r\n226 Transfer complete.\r\n")
        .client(b"STOR warez.tgz\r\n")
        .server(b"150 Ok to send data.\r\n226 Transfer complete.\r\n")
        .client(b"QUIT\r\n")
        .server(b"221 Goodbye.\r\n")
        .messages
}

#[test]
fn anonymous_ftp_is_a_guest_login() {
    let features = inspect(21, &anonymous_ftp_session());
    assert_eq!(
        features,
        ContentFeatures {
            // CWD /etc and /etc/passwd.
            hot: 2,
            logged_in: true,
            num_file_creations: 1,
            num_access_files: 1,
            is_guest_login: true,
            ..ContentFeatures::default()
        }
    );
}

#[test]
fn ftp_rejected_logins_including_pipelined_ones() {
    let conversation = Script::default()
        .server(b"220 ready\r\n")
        .client(b"USER root\r\nPASS one\r\n")
        .server(b"331 Password required for root.\r\n530 Login incorrect.\r\n")
        .client(b"USER root\r\n")
        .server(b"331 Password required for root.\r\n")
        .client(b"PASS two\r\n")
        .server(b"530 Login incorrect.\r\n")
        .client(b"LIST\r\n")
        .server(b"530 Please login with USER and PASS.\r\n")
        .messages;
    let features = inspect(21, &conversation);
    assert_eq!(features.num_failed_logins, 2);
    assert_eq!(features.hot, 2);
    assert!(!features.logged_in && !features.is_host_login);
}

#[test]
fn ftp_root_login_counts_its_commands_as_root() {
    let conversation = Script::default()
        .server(b"220 ready\r\n")
        .client(b"USER root\r\nPASS secret\r\n")
        .server(b"331 Password required.\r\n230 User root logged in.\r\n")
        .client(b"CWD /home\r\nSTOR .rhosts\r\nSITE EXEC /bin/id\r\n")
        .server(b"250 ok\r\n150 ok\r\n226 ok\r\n200 ok\r\n")
        .messages;
    let features = inspect(21, &conversation);
    assert!(features.logged_in && features.is_host_login && !features.is_guest_login);
    assert_eq!(features.num_root, 3);
    assert_eq!(features.num_file_creations, 1);
    assert_eq!(features.num_access_files, 1);
    // .rhosts and SITE EXEC.
    assert_eq!(features.hot, 2);
}

fn rlogin_session() -> Conversation {
    Script::default()
        .client(b"\0alice\0root\0xterm/38400\0")
        .server(b"\0")
        .server(b"Password:")
        .client(b"secret\r")
        .client(b"\xff\xffss\x00\x18\x00\x50\x00\x00\x00\x00")
        .server(b"\r\nhost# ")
        .client(b"cat /etc/shadow\r")
        .messages
}

#[test]
fn rlogin_session_takes_the_login_name_from_its_opening() {
    let features = inspect(513, &rlogin_session());
    assert!(features.logged_in && features.is_host_login && features.root_shell);
    assert_eq!(features.num_root, 1);
    assert_eq!(features.num_access_files, 1);
    assert_eq!(features.num_failed_logins, 0);
}

fn rsh_session() -> Conversation {
    Script::default()
        .client(b"1023\0alice\0root\0cat /etc/passwd > /tmp/p\0")
        .server(b"\0")
        .server(b"sh: nosuch: not found\n")
        .messages
}

#[test]
fn rsh_accepted_and_refused() {
    let features = inspect(514, &rsh_session());
    assert!(features.logged_in && features.is_host_login);
    assert_eq!(features.num_root, 1);
    assert_eq!(features.num_access_files, 1);
    assert_eq!(features.num_file_creations, 1);
    assert_eq!(features.num_compromised, 1);

    let refused = Script::default()
        .client(b"0\0mallory\0root\0su\0")
        .server(b"\x01Permission denied.\n")
        .messages;
    let features = inspect(514, &refused);
    assert!(!features.logged_in && !features.is_host_login && !features.su_attempted);
    assert_eq!((features.num_failed_logins, features.hot), (1, 1));
}

fn smtp_session() -> Conversation {
    Script::default()
        .server(b"220 mail.example.org ESMTP\r\n")
        .client(b"EHLO client\r\n")
        .server(b"250-mail.example.org\r\n250 AUTH LOGIN\r\n")
        .client(b"AUTH LOGIN\r\n")
        .server(b"334 VXNlcm5hbWU6\r\n")
        .client(b"Ym9i\r\n")
        .server(b"334 UGFzc3dvcmQ6\r\n")
        .client(b"d3Jvbmc=\r\n")
        .server(b"535 5.7.8 Authentication credentials invalid\r\n")
        .client(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
        .server(b"250 ok\r\n250 ok\r\n354 go ahead\r\n")
        .client(b"HELO this line is message text\r\n.\r\n")
        .server(b"250 queued\r\n")
        .messages
}

#[test]
fn rexec_names_its_user_first() {
    let accepted = Script::default()
        .client(b"\0toor\0secret\0su\0")
        .server(b"\0")
        .messages;
    let features = inspect(512, &accepted);
    assert!(features.logged_in && features.is_host_login && features.su_attempted);
    assert_eq!(features.num_root, 1);

    let refused = Script::default()
        .client(b"\0guest\0guest\0ls\0")
        .server(b"\x01Login incorrect.\n")
        .messages;
    let features = inspect(512, &refused);
    assert!(!features.logged_in && !features.is_guest_login);
    assert_eq!(features.num_failed_logins, 1);
}

#[test]
fn mail_logins() {
    let features = inspect(25, &smtp_session());
    assert!(features.logged_in);
    assert_eq!(features.num_failed_logins, 1);

    let pop3 = Script::default()
        .server(b"+OK POP3 ready\r\n")
        .client(b"USER guest\r\nPASS wrong\r\n")
        .server(b"+OK\r\n-ERR invalid password\r\n")
        .client(b"PASS right\r\n")
        .server(b"+OK logged in\r\n")
        .messages;
    let features = inspect(110, &pop3);
    assert!(features.logged_in && features.is_guest_login);
    assert_eq!(features.num_failed_logins, 1);

    let imap = Script::default()
        .server(b"* OK IMAP4rev1 ready\r\n")
        .client(b"a1 LOGIN \"root\" secret\r\n")
        .server(b"a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
        .client(b"a2 LOGIN root secret2\r\n")
        .server(b"* CAPABILITY IMAP4rev1\r\na2 OK Logged in\r\n")
        .messages;
    let features = inspect(143, &imap);
    assert!(features.logged_in && features.is_host_login);
    assert_eq!(features.num_failed_logins, 1);
}

#[test]
fn http_phf_attack_and_failed_basic_auth() {
    let conversation = Script::default()
        .client(b"GET /cgi-bin/phf?Qalias=x%0a/bin/cat%20/etc/passwd HTTP/1.0\r\n\r\n")
        .server(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nroot:x:0:0::/:/bin/sh\r\n")
        .messages;
    let features = inspect(80, &conversation);
    assert!(features.logged_in);
    assert_eq!(features.num_access_files, 1);
    // /etc/passwd and the CGI program.
    assert_eq!(features.hot, 2);

    let conversation = Script::default()
        .client(b"GET /admin HTTP/1.1\r\nHost: h\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YTpi\r\n\r\n")
        .server(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\nHTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
        .messages;
    let features = inspect(80, &conversation);
    assert!(!features.logged_in);
    assert_eq!(features.num_failed_logins, 1);
}

#[test]
fn services_without_content_give_zeros() {
    let conversation = telnet_session();
    for (transport, port) in [
        (Transport::Tcp, 22),
        (Transport::Tcp, 443),
        (Transport::Udp, 23),
    ] {
        let mut inspector = Inspector::new(transport, port);
        assert!(!inspector.reads_payload());
        for (from_originator, bytes) in &conversation {
            inspector.feed(*from_originator, bytes);
        }
        assert_eq!(inspector.buffered_bytes(), 0);
        assert_eq!(inspector.finish(), ContentFeatures::default());
    }
}

/// The bound the inspector documents.
const BUFFER_BOUND: usize = Inspector::MAX_BUFFERED;

#[test]
fn ten_megabytes_without_a_line_end_stay_within_the_cap() {
    let chunk = vec![b'a'; 64 * 1024];
    for port in [21, 23, 25, 80, 110, 143, 512, 513, 514] {
        let mut inspector = Inspector::new(Transport::Tcp, port);
        // rsh and rlogin: past their opening fields first.
        inspector.feed(true, b"0\0user\0root\0");
        inspector.feed(false, b"\0");
        for _ in 0..(10 << 20) / chunk.len() {
            inspector.feed(true, &chunk);
            inspector.feed(false, &chunk);
            assert!(
                inspector.buffered_bytes() <= BUFFER_BOUND,
                "port {port}: {} bytes held",
                inspector.buffered_bytes()
            );
        }
        let held = inspector.buffered_bytes();
        eprintln!("port {port}: {held} bytes held after 10 MB each way");
        // One unfinished line each way (rsh: its output line, and its command field).
        assert!(held <= 2 * 1024 + 64, "port {port}: {held} bytes held");
        let _ = inspector.finish();
    }
}

/// `conversation` with each message cut at `cuts` (fractions of its length), so that pieces
/// fall mid-line, mid-IAC, mid-CRLF.
fn cut(conversation: &[(bool, Vec<u8>)], cuts: &[f64]) -> Conversation {
    let mut pieces = Vec::new();
    let mut next_cut = cuts.iter().cycle();
    for (from_originator, bytes) in conversation {
        let mut points: Vec<usize> = (0..2)
            .map(|_| (next_cut.next().unwrap_or(&0.5) * bytes.len() as f64) as usize)
            .collect();
        points.sort_unstable();
        let mut start = 0;
        for point in points.into_iter().chain([bytes.len()]) {
            pieces.push((*from_originator, bytes[start..point.max(start)].to_vec()));
            start = point.max(start);
        }
    }
    pieces
}

fn crafted_sessions() -> [(u16, Conversation); 6] {
    [
        (23, telnet_session()),
        (23, telnet_root_line_mode()),
        (21, anonymous_ftp_session()),
        (513, rlogin_session()),
        (514, rsh_session()),
        (25, smtp_session()),
    ]
}

#[test]
fn every_byte_alone_gives_the_same_features() {
    for (port, conversation) in crafted_sessions() {
        let bytes: Conversation = conversation
            .iter()
            .flat_map(|(from, bytes)| bytes.iter().map(move |&b| (*from, vec![b])))
            .collect();
        assert_eq!(inspect(port, &bytes), inspect(port, &conversation));
    }
}

proptest! {
    #[test]
    fn any_cutting_gives_the_same_features(
        cuts in prop::collection::vec(0.0f64..1.0, 1..64),
    ) {
        for (port, conversation) in crafted_sessions() {
            let whole = inspect(port, &conversation);
            prop_assert_eq!(inspect(port, &cut(&conversation, &cuts)), whole);
        }
    }

    #[test]
    fn garbage_never_panics_and_stays_bounded(
        port in prop::sample::select(vec![21u16, 23, 25, 80, 110, 143, 512, 513, 514, 9999]),
        messages in prop::collection::vec((any::<bool>(), garbage()), 0..40),
    ) {
        let mut inspector = Inspector::new(Transport::Tcp, port);
        for (from_originator, bytes) in &messages {
            inspector.feed(*from_originator, bytes);
            prop_assert!(inspector.buffered_bytes() <= BUFFER_BOUND);
        }
        let _ = inspector.finish();
    }
}

/// Protocol words that steer the inspectors into their deeper states.
const PROTOCOL_WORDS: &[&[u8]] = &[
    b"\xff\xfa",
    b"\xff\xf0",
    b"\xff\xff",
    b"\xff\xfb",
    b"\0",
    b"\r\n",
    b"\r\0",
    b"login: ",
    b"Password:",
    b"$ ",
    b"# ",
    b"su\r",
    b"Login incorrect\r\n",
    b"USER root\r\n",
    b"PASS x\r\n",
    b"230 ok\r\n",
    b"530 no\r\n",
    b"334 x\r\n",
    b"AUTH LOGIN\r\n",
    b"DATA\r\n",
    b"+OK\r\n",
    b"a LOGIN root x\r\n",
    b"a OK\r\n",
    b"GET /etc/passwd HTTP/1.0\r\n",
    b"HTTP/1.1 401 x\r\n",
    b"Authorization: x\r\n",
    b"\xff\xffss",
    b"\x1b[",
    b"\x7f",
    b"\xc3",
    b">",
    b"%",
];

/// Random bytes and protocol words, up to a few kilobytes.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..600),
            prop::sample::select(PROTOCOL_WORDS).prop_map(<[u8]>::to_vec),
        ],
        0..12,
    )
    .prop_map(|pieces| pieces.concat())
}

/// The shared captures, or `None` (with a note) where they are absent.
fn shared_capture(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/pcap")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            eprintln!("skipped: {} is absent", path.display());
            None
        }
    }
}

fn inspect_capture(name: &str, port: u16) -> Option<Vec<ContentFeatures>> {
    let bytes = shared_capture(name)?;
    Some(
        pcap::tcp_connections(&bytes)
            .expect("a classic pcap of Ethernet frames")
            .into_iter()
            .filter(|connection| connection.responder_port == port)
            .map(|connection| inspect(port, &connection.payload))
            .collect(),
    )
}

#[test]
fn shared_ftp_brute_force_fails_every_login() {
    let Some(connections) = inspect_capture("ftp-bruteforce.pcap", 21) else {
        return;
    };
    assert_eq!(connections.len(), 30);
    for features in &connections {
        assert_eq!(features.num_failed_logins, 1, "{features:?}");
        assert!(!features.logged_in && !features.is_guest_login && !features.is_host_login);
        assert_eq!(features.hot, 1);
    }
}

#[test]
fn shared_ftp_sessions_log_in_anonymously() {
    for name in ["ftp-ipv4-control-data.pcap", "ftp-ipv6-control-data.pcap"] {
        let Some(connections) = inspect_capture(name, 21) else {
            return;
        };
        assert_eq!(connections.len(), 1, "{name}");
        assert_eq!(
            connections[0],
            ContentFeatures {
                logged_in: true,
                is_guest_login: true,
                ..ContentFeatures::default()
            },
            "{name}"
        );
    }
}

#[test]
fn shared_telnet_session_logs_in() {
    let Some(connections) = inspect_capture("telnet-session-urg.pcap", 23) else {
        return;
    };
    assert_eq!(connections.len(), 1);
    // User "fake" logs in at the `$ ` prompt, runs /sbin/ping, ls and ls -a (whose output
    // names .rhosts: output, not an operation on it) and exits.
    assert_eq!(
        connections[0],
        ContentFeatures {
            logged_in: true,
            ..ContentFeatures::default()
        }
    );
}

#[test]
fn shared_smtp_and_http_sessions_log_in() {
    for (name, port, connections) in [("smtp-session.pcap", 25, 1), ("http-get-sf.pcap", 80, 1)] {
        let Some(inspected) = inspect_capture(name, port) else {
            return;
        };
        assert_eq!(inspected.len(), connections, "{name}");
        for features in inspected {
            assert_eq!(
                features,
                ContentFeatures {
                    logged_in: true,
                    ..ContentFeatures::default()
                },
                "{name}"
            );
        }
    }
}

/// Every TCP connection of every shared capture this test's reader can walk (classic pcap,
/// Ethernet) goes through the inspector of its port in bounded memory; encrypted sessions
/// give nothing.
#[test]
fn every_shared_capture_is_inspected_in_bounded_memory() {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcap");
    let Ok(entries) = std::fs::read_dir(&directory) else {
        eprintln!("skipped: {} is absent", directory.display());
        return;
    };
    let mut walked = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let Some(connections) = pcap::tcp_connections(&bytes) else {
            continue;
        };
        walked += 1;
        for connection in connections {
            let mut inspector = Inspector::new(Transport::Tcp, connection.responder_port);
            for (from_originator, payload) in &connection.payload {
                inspector.feed(*from_originator, payload);
                assert!(
                    inspector.buffered_bytes() <= BUFFER_BOUND,
                    "{}",
                    path.display()
                );
            }
            let features = inspector.finish();
            if matches!(connection.responder_port, 22 | 443) {
                assert_eq!(features, ContentFeatures::default(), "{}", path.display());
            }
        }
    }
    eprintln!("{walked} captures walked");
    assert!(walked >= 20, "only {walked} captures could be walked");
}

/// Throughput of the inspectors on full segments of text and of binary bytes, printed (no
/// assertion on time): `cargo test --release -p nadir-traffic --test content throughput --
/// --ignored --nocapture`.
#[test]
#[ignore = "a measurement, run on demand"]
fn throughput() {
    const SEGMENT: usize = 1448;
    let text_line = b"    See our website at http://www.NetBSD.org/ for the release notes\r\n";
    let text: Vec<u8> = text_line.iter().copied().cycle().take(SEGMENT).collect();
    let binary: Vec<u8> = (0..SEGMENT as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (service, port) in [
        ("ftp", 21),
        ("telnet", 23),
        ("smtp", 25),
        ("http", 80),
        ("https", 443),
    ] {
        for (kind, segment) in [("text", &text), ("binary", &binary)] {
            let mut inspector = Inspector::new(Transport::Tcp, port);
            let segments = 100_000;
            let start = std::time::Instant::now();
            for _ in 0..segments {
                inspector.feed(false, segment);
            }
            let seconds = start.elapsed().as_secs_f64();
            let _ = inspector.finish();
            eprintln!(
                "{service:6} {kind:6} {:7.0} MB/s {:9.0} segments/s",
                (segments * SEGMENT) as f64 / seconds / 1e6,
                segments as f64 / seconds
            );
        }
    }
}
