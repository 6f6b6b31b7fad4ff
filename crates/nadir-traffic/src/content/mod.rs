//! NSL-KDD's content features 10–22, read from a connection's payload.
//!
//! The capture reader gives an [`Inspector`] each direction's payload in order, in whatever
//! pieces the segments bring, and takes the [`ContentFeatures`] when the connection ends.
//! The protocol is chosen by the responder's port; services with nothing to read cost one
//! branch per segment. Everything read is read line by line in bounded memory (a line keeps
//! at most its first 1,024 bytes, a server reply whose code is all that matters far fewer;
//! [`Inspector::buffered_bytes`]), nothing of the stream is kept whole, and any bytes are
//! accepted: binary data, overlong lines and broken UTF-8 are read as bytes, never as
//! errors. Counts saturate rather than overflow.
//!
//! # What is computed, and where
//!
//! The features are KDD'99's (Lee & Stolfo; the KDD Cup 1999 task description), which
//! NSL-KDD keeps. KDD's own extractor (Bro scripts over the DARPA 1998 tcpdump data) was
//! never published; each rule below is this module's reading of the feature's definition,
//! compared with what NSL-KDD's training records show for each service.
//!
//! Services read: telnet (23), rlogin (513), rsh (514), rexec (512), FTP control (21),
//! SMTP (25), POP3 (110), IMAP (143), HTTP (80), all over TCP. In a terminal session (telnet,
//! rlogin) a *prompt* is the server's unfinished line when the user starts answering it
//! (`login:`, `Password:`, a shell prompt ending in `$ % > #`); a *command* is a line the
//! user types once logged in that answers no password prompt (telnet commands, the `IAC`
//! sequences, are removed first, and typed backspaces applied). Commands also come from an
//! rsh or rexec request and, for the file-name rules, from FTP commands and HTTP request
//! targets.
//!
//! | feature | how | services |
//! | --- | --- | --- |
//! | `hot` | the sum of KDD's "hot" indicators: each failed login; each access control file named (below); entering a system directory (`cd /etc`, FTP `CWD /bin`; `/etc /bin /sbin /lib /dev /boot /root /usr/bin /usr/sbin /usr/lib /usr/etc /var/log /var/spool /var/adm /proc /sys`); creating a program (compiling: `cc gcc g++ c++ clang ld as tcc`; `chmod` granting execute; FTP `SITE CHMOD`); executing a program of one's own (a command whose program is a path outside the system directories, `./x`, `/tmp/x`; FTP `SITE EXEC`; an HTTP request for `/cgi-bin/`); an HTTP target climbing out with `../` | all read services |
//! | `num_failed_logins` | telnet/rlogin: a server line before login saying `Login incorrect`, `Login failed`, `Authentication failure/failed`, `Incorrect password`, `Access denied` or `Permission denied`; FTP: `530` answering USER/PASS/ACCT; rsh/rexec: the server refusing the request (first byte 1); SMTP: `535` to AUTH; POP3: `-ERR` to PASS/APOP; IMAP: `NO` to LOGIN/AUTHENTICATE; HTTP: `401` to a request carrying `Authorization:` | all read services |
//! | `logged_in` | telnet/rlogin: the first shell prompt; FTP: `230` answering USER/PASS/ACCT; rsh/rexec: the server accepting the request (first byte 0); SMTP: `250` to HELO/EHLO or `235` to AUTH (KDD counts an accepted SMTP session as logged in: 95 % of its SMTP records are); POP3: `+OK` to PASS/APOP; IMAP: `OK` to LOGIN/AUTHENTICATE; HTTP: a `2xx`/`3xx` answer (KDD: 90 % of HTTP records) | all read services |
//! | `num_compromised` | server output lines, once logged in and not the echo of a command, saying `not found`, `Jumping to address`, `Segmentation fault`, `Bus error` or `Illegal instruction`: programs probed for, and programs crashed the way buffer overflows crash them | telnet, rlogin, rsh, rexec |
//! | `root_shell` | a root prompt (ending in `#`) once logged in: after `su`, an exploit, or a root login | telnet, rlogin |
//! | `su_attempted` | a command running `su` with no user or `root` (`su`, `su -`, `su root`, `sudo su`). NSL-KDD also holds the value 2, in 59 records, every one with `root_shell` 1 (the su succeeded, it seems); [`ContentFeatures`] keeps a flag, so such a session reads 1 here | telnet, rlogin, rsh, rexec |
//! | `num_root` | commands run as root: typed at a root prompt; an rsh/rexec command run as `root` or `toor`; FTP commands after logging in as one of them | telnet, rlogin, rsh, rexec, FTP |
//! | `num_file_creations` | `touch mkdir cp ln mkfifo mknod tee install uudecode` and the compilers (one per command), each output redirection to a file (`>`, `>>`; not to `/dev/null` or `&2`); FTP `STOR STOU APPE MKD XMKD` | telnet, rlogin, rsh, rexec, FTP |
//! | `num_shells` | commands starting a shell (`sh bash csh tcsh ksh zsh dash ash`, also behind `exec`). KDD's wording is "number of shell prompts", but NSL-KDD has it non-zero in 47 of 125,973 records, while every interactive session shows prompts: it counts shells started | telnet, rlogin, rsh, rexec |
//! | `num_access_files` | each mention of an access control file (`/etc/passwd /etc/shadow /etc/master.passwd /etc/group /etc/gshadow /etc/sudoers /etc/hosts.equiv /etc/hosts.allow /etc/hosts.deny`, `.rhosts .shosts .netrc authorized_keys .htpasswd .htaccess`) in a command, an FTP command's argument or a percent-decoded HTTP request target, and the programs that edit the password file (`passwd chsh chfn vipw vigr`) | telnet, rlogin, rsh, rexec, FTP, HTTP |
//! | `num_outbound_cmds` | **always 0**: it is 0 in every record of KDD'99 and NSL-KDD, so a model trained on them has learnt nothing from it, and its meaning (outbound commands of an FTP session) was never defined precisely enough to reproduce | none |
//! | `is_host_login` | the login name is an administrator account (`root toor admin adm administrator`), on a successful login: telnet/rlogin (the name typed at `login:`, or rlogin's server user), rsh's server user, rexec's user, FTP USER, POP3 USER/APOP, IMAP LOGIN | telnet, rlogin, rsh, rexec, FTP, POP3, IMAP |
//! | `is_guest_login` | the same with a guest name (`anonymous ftp guest`) | telnet, rlogin, rsh, rexec, FTP, POP3, IMAP |
//!
//! Every other service, UDP and ICMP give all zeros, as do the features a service's row
//! does not name. Encrypted protocols (SSH, TLS: HTTPS, IMAPS, POP3S, SMTPS, telnets) give
//! nothing to read: their content features are 0, which is also what NSL-KDD holds for
//! them. FTP data connections carry files, not commands, and are not read: their content
//! features are 0 (KDD's `ftp_data` records do carry some, `num_root` in 461 of them, by a
//! rule never documented). The `hot` counts of KDD's anonymous FTP sessions
//! (often 4–30) come from indicators its extractor never documented; here an FTP session
//! is `hot` only by the indicators above.

mod commands;
mod ftp;
mod http;
mod lines;
mod mail;
mod remote;
mod telnet;
mod terminal;

use std::collections::VecDeque;

use crate::connection::{ContentFeatures, Transport};

use self::ftp::Ftp;
use self::http::Http;
use self::mail::Mail;
use self::remote::{RemoteCommand, Rlogin};
use self::telnet::TelnetDecoder;
use self::terminal::Terminal;

/// Reads one connection's payload into its content features: nothing for a service whose
/// payload gives no content feature (most connections), whose inspector is then one pointer
/// wide, so that an open connection stays small.
#[derive(Debug)]
pub struct Inspector {
    reading: Option<Box<Reading>>,
}

/// A service being read: its protocol's state and the features found so far.
#[derive(Debug)]
struct Reading {
    features: ContentFeatures,
    protocol: Protocol,
}

/// The protocol read.
#[derive(Debug)]
enum Protocol {
    Telnet(Telnet),
    Rlogin(Rlogin),
    /// rsh or rexec.
    RemoteCommand(RemoteCommand),
    Ftp(Ftp),
    Mail(Mail),
    Http(Http),
}

/// A telnet connection: each direction's telnet commands removed, then a terminal session.
#[derive(Debug, Default)]
struct Telnet {
    from_client: TelnetDecoder,
    from_server: TelnetDecoder,
    terminal: Terminal,
}

impl Inspector {
    /// The most [`Inspector::buffered_bytes`] can be: four lines (rsh's server user and
    /// command with its output line, or a terminal's two unfinished lines and its
    /// remembered commands) and login names.
    pub const MAX_BUFFERED: usize = 4 * lines::MAX_LINE + 256;

    /// An inspector for a connection of `transport` whose responder listens on `resp_port`.
    pub fn new(transport: Transport, resp_port: u16) -> Inspector {
        let protocol = match (transport, resp_port) {
            (Transport::Tcp, 21) => Protocol::Ftp(Ftp::default()),
            (Transport::Tcp, 23) => Protocol::Telnet(Telnet::default()),
            (Transport::Tcp, 25) => Protocol::Mail(Mail::smtp()),
            (Transport::Tcp, 80) => Protocol::Http(Http::default()),
            (Transport::Tcp, 110) => Protocol::Mail(Mail::pop3()),
            (Transport::Tcp, 143) => Protocol::Mail(Mail::imap()),
            (Transport::Tcp, 512) => Protocol::RemoteCommand(RemoteCommand::rexec()),
            (Transport::Tcp, 513) => Protocol::Rlogin(Rlogin::default()),
            (Transport::Tcp, 514) => Protocol::RemoteCommand(RemoteCommand::rsh()),
            _ => return Inspector { reading: None },
        };
        Inspector {
            reading: Some(Box::new(Reading {
                features: ContentFeatures::default(),
                protocol,
            })),
        }
    }

    /// Whether this connection's payload is read at all; when not, [`Inspector::feed`] does
    /// nothing and the caller may skip it.
    pub fn reads_payload(&self) -> bool {
        self.reading.is_some()
    }

    /// Reads the next payload bytes of one direction (`from_originator`: client to server),
    /// in order; any split of a direction's bytes into pieces gives the same features.
    pub fn feed(&mut self, from_originator: bool, payload: &[u8]) {
        let Some(reading) = &mut self.reading else {
            return;
        };
        if payload.is_empty() {
            return;
        }
        let Reading { features, protocol } = reading.as_mut();
        match protocol {
            Protocol::Telnet(telnet) => {
                let Telnet {
                    from_client,
                    from_server,
                    terminal,
                } = telnet;
                if from_originator {
                    from_client.decode(payload, |data| terminal.client_data(data, features));
                } else {
                    from_server.decode(payload, |data| terminal.server_data(data, features));
                }
            }
            Protocol::Rlogin(rlogin) if from_originator => rlogin.client(payload, features),
            Protocol::Rlogin(rlogin) => rlogin.server(payload, features),
            Protocol::RemoteCommand(remote) if from_originator => remote.client(payload, features),
            Protocol::RemoteCommand(remote) => remote.server(payload, features),
            Protocol::Ftp(ftp) if from_originator => ftp.client(payload, features),
            Protocol::Ftp(ftp) => ftp.server(payload, features),
            Protocol::Mail(mail) if from_originator => mail.client(payload),
            Protocol::Mail(mail) => mail.server(payload, features),
            Protocol::Http(http) if from_originator => http.client(payload, features),
            Protocol::Http(http) => http.server(payload, features),
        }
    }

    /// The connection's content features, once its payload has all been read.
    pub fn finish(self) -> ContentFeatures {
        let Some(mut reading) = self.reading else {
            return ContentFeatures::default();
        };
        let Reading { features, protocol } = reading.as_mut();
        match protocol {
            Protocol::Telnet(telnet) => telnet.terminal.finish(features),
            Protocol::Rlogin(rlogin) => rlogin.finish(features),
            _ => {}
        }
        reading.features
    }

    /// Bytes of payload held (unfinished lines, recent commands, login names): at most
    /// [`Inspector::MAX_BUFFERED`] whatever the connection's length and its segments' sizes.
    pub fn buffered_bytes(&self) -> usize {
        let Some(reading) = &self.reading else {
            return 0;
        };
        match &reading.protocol {
            Protocol::Telnet(telnet) => telnet.terminal.buffered_bytes(),
            Protocol::Rlogin(rlogin) => rlogin.buffered_bytes(),
            Protocol::RemoteCommand(remote) => remote.buffered_bytes(),
            Protocol::Ftp(ftp) => ftp.buffered_bytes(),
            Protocol::Mail(mail) => mail.buffered_bytes(),
            Protocol::Http(http) => http.buffered_bytes(),
        }
    }
}

/// Adds to a count, saturating: a connection long enough to overflow one keeps the maximum
/// rather than panicking (debug builds) or wrapping round to a small number.
fn add(count: &mut u32, amount: u32) {
    *count = count.saturating_add(amount);
}

/// A failed login: counted, and one of KDD's "hot" indicators.
fn failed_login(features: &mut ContentFeatures) {
    add(&mut features.num_failed_logins, 1);
    add(&mut features.hot, 1);
}

/// Commands sent and not yet answered, oldest first. A client may pipeline commands; past
/// `Outstanding::LIMIT` the oldest is forgotten, so memory stays bounded.
#[derive(Debug)]
struct Outstanding<T> {
    sent: VecDeque<T>,
}

impl<T> Default for Outstanding<T> {
    fn default() -> Self {
        Outstanding {
            sent: VecDeque::new(),
        }
    }
}

impl<T> Outstanding<T> {
    const LIMIT: usize = 16;

    fn push(&mut self, command: T) {
        if self.sent.len() == Self::LIMIT {
            self.sent.pop_front();
        }
        self.sent.push_back(command);
    }

    /// The command the next reply answers.
    fn pop(&mut self) -> Option<T> {
        self.sent.pop_front()
    }

    fn newest_mut(&mut self) -> Option<&mut T> {
        self.sent.back_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_with_nothing_to_read_costs_a_few_words() {
        assert!(std::mem::size_of::<Inspector>() <= 64);
        let mut inspector = Inspector::new(Transport::Udp, 21);
        inspector.feed(true, b"USER root\r\n");
        assert_eq!(inspector.buffered_bytes(), 0);
        assert_eq!(inspector.finish(), ContentFeatures::default());
    }

    #[test]
    fn outstanding_commands_forget_the_oldest_past_the_limit() {
        let mut outstanding = Outstanding::default();
        for command in 0..Outstanding::<usize>::LIMIT + 2 {
            outstanding.push(command);
        }
        assert_eq!(outstanding.pop(), Some(2));
        *outstanding.newest_mut().unwrap() = 99;
        assert_eq!(outstanding.sent.back(), Some(&99));
    }

    #[test]
    fn counts_saturate() {
        let mut count = u32::MAX - 1;
        add(&mut count, 5);
        assert_eq!(count, u32::MAX);
    }
}
