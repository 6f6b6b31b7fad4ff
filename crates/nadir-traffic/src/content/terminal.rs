//! An interactive terminal session (telnet, rlogin): the server's prompts and messages, the
//! lines the user types, and what they add up to.
//!
//! A prompt is the server's unfinished line at the moment the user starts answering it
//! (`login: `, `Password:`, `$ `), so prompts are read when the client sends data, and once
//! more when the connection ends. What the user types after `login:` is the login name, after
//! a password prompt a password (never read as a command), otherwise a command, counted only
//! once logged in. A server that echoes the user's keystrokes sends each command back as
//! part of its output; those echoes are recognised (the server line ends with a command just
//! typed) and not read as output.

use std::collections::VecDeque;

use super::commands::{count_shell_command, is_guest_login, is_host_login};
use super::lines::{LineReader, contains_any_lower, ends_with_lower, split_word, trim};
use super::{add, failed_login};
use crate::connection::ContentFeatures;

/// Server messages of a failed login.
const LOGIN_FAILURES: &[&[u8]] = &[
    b"login incorrect",
    b"login failed",
    b"authentication failure",
    b"authentication failed",
    b"incorrect password",
    b"access denied",
    b"permission denied",
];

/// Server output of a "compromised" condition: a program that is not there, or one that
/// crashed the way a buffer overflow makes it crash.
const COMPROMISED: &[&[u8]] = &[
    b"not found",
    b"jumping to address",
    b"segmentation fault",
    b"bus error",
    b"illegal instruction",
];

/// Longest line read as a prompt.
const MAX_PROMPT: usize = 128;
/// Longest login name kept.
const MAX_LOGIN_NAME: usize = 64;
/// Commands remembered to recognise their echo, and the longest remembered (a longer
/// command's echo is read as output).
const ECHOES: usize = 4;
const MAX_ECHOED: usize = 256;

/// What the user's next line is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Expect {
    #[default]
    Command,
    LoginName,
    Password,
}

#[derive(Debug, Default)]
pub(crate) struct Terminal {
    server: LineReader,
    client: LineReader,
    session: Session,
}

#[derive(Debug, Default)]
struct Session {
    expect: Expect,
    login_name: Option<Vec<u8>>,
    /// The last shell prompt was root's.
    as_root: bool,
    /// The server's unfinished line was read as a prompt since it last changed.
    prompt_read: bool,
    /// The last commands typed, whose echo may still come.
    echoes: VecDeque<Vec<u8>>,
}

impl Terminal {
    /// A session whose login name is already known (rlogin sends it before the session).
    pub(crate) fn set_login_name(&mut self, name: &[u8]) {
        self.session.login_name = Some(name[..name.len().min(MAX_LOGIN_NAME)].to_vec());
    }

    /// Data (telnet commands removed) from the server.
    pub(crate) fn server_data(&mut self, data: &[u8], features: &mut ContentFeatures) {
        if data.is_empty() {
            return;
        }
        self.session.prompt_read = false;
        let session = &mut self.session;
        self.server
            .feed(data, |line| session.server_line(line, features));
    }

    /// Data (telnet commands removed) from the client. The server's unfinished line is read
    /// as a prompt when the user starts a line: at the first byte that comes at the start of
    /// a line, wherever the data was cut into pieces.
    pub(crate) fn client_data(&mut self, data: &[u8], features: &mut ContentFeatures) {
        if data.is_empty() {
            return;
        }
        let mut rest = data;
        if !self.client.at_line_start() {
            let Some(end) = data.iter().position(|&b| b == b'\r' || b == b'\n') else {
                self.feed_client(data, features);
                return;
            };
            self.feed_client(&data[..=end], features);
            rest = &data[end + 1..];
        }
        self.read_prompt(features);
        self.feed_client(rest, features);
    }

    fn feed_client(&mut self, data: &[u8], features: &mut ContentFeatures) {
        let session = &mut self.session;
        self.client
            .feed(data, |line| session.client_line(line, features));
    }

    /// The connection ended: a prompt left unanswered still counts (a root prompt, say).
    pub(crate) fn finish(&mut self, features: &mut ContentFeatures) {
        self.read_prompt(features);
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.server.buffered_bytes()
            + self.client.buffered_bytes()
            + self.session.echoes.iter().map(Vec::capacity).sum::<usize>()
    }

    fn read_prompt(&mut self, features: &mut ContentFeatures) {
        if self.session.prompt_read {
            return;
        }
        self.session.prompt_read = true;
        if let Some(pending) = self.server.pending() {
            self.session.prompt(pending, features);
        }
    }
}

/// A line of output that reports a "compromised" condition.
pub(crate) fn is_compromised(line: &[u8]) -> bool {
    contains_any_lower(line, COMPROMISED)
}

/// `line` is the server's echo of `command`: the command alone, or after a prompt.
fn is_echo(line: &[u8], command: &[u8]) -> bool {
    let line = trim(line);
    line.ends_with(command)
        && match line.len().checked_sub(command.len() + 1) {
            None => true,
            Some(before) => matches!(line[before], b' ' | b'$' | b'#' | b'%' | b'>' | b':'),
        }
}

impl Session {
    fn prompt(&mut self, pending: &[u8], features: &mut ContentFeatures) {
        let text = trim(pending);
        if text.is_empty() || text.len() > MAX_PROMPT {
            return;
        }
        if text.ends_with(b":") && contains_any_lower(text, &[b"password", b"passphrase"]) {
            self.expect = Expect::Password;
        } else if [&b"login:"[..], b"username:", b"user name:"]
            .iter()
            .any(|prompt| ends_with_lower(text, prompt))
        {
            self.expect = Expect::LoginName;
        } else if let Some(&last) = text.last() {
            match last {
                b'#' => self.shell_prompt(true, features),
                b'$' | b'%' | b'>' => self.shell_prompt(false, features),
                _ => {}
            }
        }
    }

    fn shell_prompt(&mut self, root: bool, features: &mut ContentFeatures) {
        if !features.logged_in {
            features.logged_in = true;
            if let Some(name) = &self.login_name {
                features.is_guest_login = is_guest_login(name);
                features.is_host_login = is_host_login(name);
            }
        }
        self.as_root = root;
        features.root_shell |= root;
    }

    fn server_line(&mut self, line: &[u8], features: &mut ContentFeatures) {
        if !features.logged_in {
            if contains_any_lower(line, LOGIN_FAILURES) {
                failed_login(features);
            }
            return;
        }
        if let Some(echoed) = self
            .echoes
            .iter()
            .position(|command| is_echo(line, command))
        {
            self.echoes.drain(..=echoed);
            return;
        }
        if is_compromised(line) {
            add(&mut features.num_compromised, 1);
        }
    }

    fn client_line(&mut self, line: &[u8], features: &mut ContentFeatures) {
        match std::mem::take(&mut self.expect) {
            Expect::LoginName => {
                let (name, _) = split_word(line);
                self.login_name = Some(name[..name.len().min(MAX_LOGIN_NAME)].to_vec());
            }
            Expect::Password => {}
            Expect::Command if features.logged_in => {
                count_shell_command(line, features);
                if self.as_root {
                    add(&mut features.num_root, 1);
                }
                let command = trim(line);
                if !command.is_empty() && command.len() <= MAX_ECHOED {
                    if self.echoes.len() == ECHOES {
                        self.echoes.pop_front();
                    }
                    self.echoes.push_back(command.to_vec());
                }
            }
            Expect::Command => {}
        }
    }
}
