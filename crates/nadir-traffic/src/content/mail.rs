//! Logins of the mail protocols: SMTP (25), POP3 (110) and IMAP (143). They give
//! `logged_in`, `num_failed_logins` (with one `hot` indicator each) and, where the login
//! names the user, `is_guest_login` and `is_host_login`; the messages themselves are not read.

use super::Outstanding;
use super::commands::{is_guest_login, is_host_login};
use super::failed_login;
use super::ftp::final_reply_code;
use super::lines::{LineReader, split_word, starts_with_lower};
use crate::connection::ContentFeatures;

/// Longest login name kept.
const MAX_USER: usize = 64;

fn login_name(name: &[u8]) -> Vec<u8> {
    name[..name.len().min(MAX_USER)].to_vec()
}

fn logged_in(name: &[u8], features: &mut ContentFeatures) {
    if !features.logged_in {
        features.logged_in = true;
        features.is_guest_login = is_guest_login(name);
        features.is_host_login = is_host_login(name);
    }
}

/// Which mail protocol, with its session state.
#[derive(Debug)]
enum Protocol {
    Smtp(Smtp),
    Pop3(Pop3),
    Imap(Imap),
}

/// Bytes of a server line read: a reply code, `+OK`/`-ERR`, or an IMAP tag and status.
const REPLY_HEAD: usize = 2 * MAX_USER;

/// A mail protocol's connection: lines each way, read by the protocol's session.
#[derive(Debug)]
pub(crate) struct Mail {
    server: LineReader<REPLY_HEAD>,
    client: LineReader,
    protocol: Protocol,
}

impl Mail {
    pub(crate) fn smtp() -> Mail {
        Mail::with(Protocol::Smtp(Smtp::default()))
    }

    pub(crate) fn pop3() -> Mail {
        Mail::with(Protocol::Pop3(Pop3::default()))
    }

    pub(crate) fn imap() -> Mail {
        Mail::with(Protocol::Imap(Imap::default()))
    }

    fn with(protocol: Protocol) -> Mail {
        Mail {
            server: LineReader::default(),
            client: LineReader::default(),
            protocol,
        }
    }

    pub(crate) fn client(&mut self, bytes: &[u8]) {
        let protocol = &mut self.protocol;
        self.client.feed(bytes, |line| match protocol {
            Protocol::Smtp(smtp) => smtp.command(line),
            Protocol::Pop3(pop3) => pop3.command(line),
            Protocol::Imap(imap) => imap.command(line),
        });
    }

    pub(crate) fn server(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let protocol = &mut self.protocol;
        self.server.feed(bytes, |line| match protocol {
            Protocol::Smtp(smtp) => smtp.reply(line, features),
            Protocol::Pop3(pop3) => pop3.reply(line, features),
            Protocol::Imap(imap) => imap.reply(line, features),
        });
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        let names = match &self.protocol {
            Protocol::Smtp(_) => 0,
            Protocol::Pop3(pop3) => pop3.user.capacity(),
            Protocol::Imap(imap) => imap
                .login
                .as_ref()
                .map_or(0, |(tag, user)| tag.capacity() + user.capacity()),
        };
        self.server.buffered_bytes() + self.client.buffered_bytes() + names
    }
}

/// What an SMTP command was, as far as its reply matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SmtpSent {
    /// HELO or EHLO: the server accepting it opens the session.
    Hello,
    /// AUTH, or a line answering the server's AUTH challenge.
    Auth,
    Other,
}

/// SMTP (RFC 5321, AUTH RFC 4954). KDD's SMTP sessions are `logged_in` when the server
/// accepted them (95 % of its SMTP connections, all of them without AUTH), so a `250` to
/// HELO/EHLO logs in, as does a `235` to AUTH; a `535` to AUTH is a failed login.
#[derive(Debug, Default)]
struct Smtp {
    outstanding: Outstanding<SmtpSent>,
    greeted: bool,
    /// Inside a message sent after DATA, until its line `.`.
    in_message: bool,
    /// The server's last reply was an AUTH challenge (`334`): the client's next line answers it.
    auth_challenged: bool,
}

impl Smtp {
    fn command(&mut self, line: &[u8]) {
        if self.in_message {
            if line == b"." {
                self.in_message = false;
                self.outstanding.push(SmtpSent::Other);
            }
            return;
        }
        if std::mem::take(&mut self.auth_challenged) {
            self.outstanding.push(SmtpSent::Auth);
            return;
        }
        let (verb, _) = split_word(line);
        let sent = if verb.eq_ignore_ascii_case(b"helo") || verb.eq_ignore_ascii_case(b"ehlo") {
            SmtpSent::Hello
        } else if verb.eq_ignore_ascii_case(b"auth") {
            SmtpSent::Auth
        } else {
            self.in_message = verb.eq_ignore_ascii_case(b"data");
            SmtpSent::Other
        };
        self.outstanding.push(sent);
    }

    fn reply(&mut self, line: &[u8], features: &mut ContentFeatures) {
        let Some(code) = final_reply_code(line) else {
            return;
        };
        if !self.greeted {
            self.greeted = true;
            return;
        }
        match (self.outstanding.pop(), code) {
            (Some(SmtpSent::Hello), 250) | (Some(SmtpSent::Auth), 235) => logged_in(b"", features),
            (Some(SmtpSent::Auth), 334) => self.auth_challenged = true,
            (Some(SmtpSent::Auth), 535) => failed_login(features),
            (Some(SmtpSent::Other), 354) => {}
            (Some(SmtpSent::Other), _) => self.in_message = false,
            _ => {}
        }
    }
}

/// POP3 (RFC 1939): PASS or APOP answered `+OK` logs in, `-ERR` is a failed login.
#[derive(Debug, Default)]
struct Pop3 {
    user: Vec<u8>,
    /// Commands sent; `true` for the ones that log in.
    outstanding: Outstanding<bool>,
    greeted: bool,
}

impl Pop3 {
    fn command(&mut self, line: &[u8]) {
        let (verb, argument) = split_word(line);
        let logs_in = if verb.eq_ignore_ascii_case(b"user") {
            self.user = login_name(argument);
            false
        } else if verb.eq_ignore_ascii_case(b"apop") {
            self.user = login_name(split_word(argument).0);
            true
        } else {
            verb.eq_ignore_ascii_case(b"pass")
        };
        self.outstanding.push(logs_in);
    }

    fn reply(&mut self, line: &[u8], features: &mut ContentFeatures) {
        let success = starts_with_lower(line, b"+ok");
        if !success && !starts_with_lower(line, b"-err") {
            return;
        }
        if !self.greeted {
            self.greeted = true;
            return;
        }
        if self.outstanding.pop() == Some(true) {
            if success {
                logged_in(&self.user, features);
            } else {
                failed_login(features);
            }
        }
    }
}

/// IMAP (RFC 3501): the tagged answer to LOGIN or AUTHENTICATE, `OK` logging in and `NO` a
/// failed login.
#[derive(Debug, Default)]
struct Imap {
    /// The tag and user of the login awaiting its answer.
    login: Option<(Vec<u8>, Vec<u8>)>,
}

impl Imap {
    fn command(&mut self, line: &[u8]) {
        let (tag, rest) = split_word(line);
        let (verb, arguments) = split_word(rest);
        if verb.eq_ignore_ascii_case(b"login") {
            let user = split_word(arguments).0;
            let user = user.strip_prefix(b"\"").unwrap_or(user);
            let user = user.strip_suffix(b"\"").unwrap_or(user);
            self.login = Some((login_name(tag), login_name(user)));
        } else if verb.eq_ignore_ascii_case(b"authenticate") {
            self.login = Some((login_name(tag), Vec::new()));
        }
    }

    fn reply(&mut self, line: &[u8], features: &mut ContentFeatures) {
        let Some((tag, user)) = &self.login else {
            return;
        };
        let (reply_tag, rest) = split_word(line);
        if reply_tag != tag.as_slice() {
            return;
        }
        let (status, _) = split_word(rest);
        if status.eq_ignore_ascii_case(b"ok") {
            logged_in(user, features);
        } else if status.eq_ignore_ascii_case(b"no") {
            failed_login(features);
        }
        self.login = None;
    }
}
