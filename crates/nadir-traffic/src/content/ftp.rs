//! The FTP control connection (RFC 959): the client's commands and the server's replies,
//! matched in order (a reply answers the oldest command not yet answered; `1xx` replies are
//! preliminary and answer nothing yet).

use super::Outstanding;
use super::commands::{
    access_file_mentions, in_system_directory, is_guest_login, is_host_login, is_root_login,
};
use super::lines::{LineReader, split_word};
use super::{add, failed_login};
use crate::connection::ContentFeatures;

/// Longest login name kept.
const MAX_USER: usize = 64;

/// What a command sent was, as far as its reply matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// USER, PASS or ACCT: its reply says whether the login succeeded.
    Login,
    Other,
}

/// Bytes of a reply line read: its code and the separator after it.
const REPLY_HEAD: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct Ftp {
    server: LineReader<REPLY_HEAD>,
    client: LineReader,
    session: Session,
}

#[derive(Debug, Default)]
struct Session {
    user: Vec<u8>,
    outstanding: Outstanding<Sent>,
    /// The server's greeting was read (it answers no command).
    greeted: bool,
    logged_in_as_root: bool,
}

impl Ftp {
    pub(crate) fn client(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let session = &mut self.session;
        self.client
            .feed(bytes, |line| session.command(line, features));
    }

    pub(crate) fn server(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let session = &mut self.session;
        self.server
            .feed(bytes, |line| session.reply(line, features));
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.server.buffered_bytes() + self.client.buffered_bytes() + self.session.user.capacity()
    }
}

impl Session {
    fn command(&mut self, line: &[u8], features: &mut ContentFeatures) {
        let (verb, argument) = split_word(line);
        let verb = verb.to_ascii_uppercase();
        match verb.as_slice() {
            b"USER" => {
                self.user = argument[..argument.len().min(MAX_USER)].to_vec();
                self.outstanding.push(Sent::Login);
                return;
            }
            b"PASS" | b"ACCT" => {
                self.outstanding.push(Sent::Login);
                return;
            }
            _ => self.outstanding.push(Sent::Other),
        }
        if !features.logged_in {
            return;
        }
        if self.logged_in_as_root {
            add(&mut features.num_root, 1);
        }
        let accesses = access_file_mentions(argument);
        add(&mut features.num_access_files, accesses);
        add(&mut features.hot, accesses);
        match verb.as_slice() {
            b"CWD" | b"XCWD" if in_system_directory(argument) => add(&mut features.hot, 1),
            b"STOR" | b"STOU" | b"APPE" | b"MKD" | b"XMKD" => {
                add(&mut features.num_file_creations, 1);
            }
            b"SITE" => {
                let (site_command, _) = split_word(argument);
                if site_command.eq_ignore_ascii_case(b"exec")
                    || site_command.eq_ignore_ascii_case(b"chmod")
                {
                    add(&mut features.hot, 1);
                }
            }
            _ => {}
        }
    }

    fn reply(&mut self, line: &[u8], features: &mut ContentFeatures) {
        let Some(code) = final_reply_code(line) else {
            return;
        };
        if code < 200 {
            return;
        }
        if !self.greeted {
            self.greeted = true;
            return;
        }
        if self.outstanding.pop() != Some(Sent::Login) {
            return;
        }
        match code {
            230 => {
                features.logged_in = true;
                features.is_guest_login = is_guest_login(&self.user);
                features.is_host_login = is_host_login(&self.user);
                self.logged_in_as_root = is_root_login(&self.user);
            }
            530 => {
                failed_login(features);
            }
            _ => {}
        }
    }
}

/// The code of a reply's last line (`230 text`, or `230` alone), as FTP and SMTP write
/// replies; a multi-line reply's other lines (`230-text`, free text) have none.
pub(crate) fn final_reply_code(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(line.get(3), None | Some(b' ')) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0, |code, digit| code * 10 + u16::from(digit - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_of_last_lines_only() {
        assert_eq!(final_reply_code(b"230 Guest login ok"), Some(230));
        assert_eq!(final_reply_code(b"530"), Some(530));
        assert_eq!(final_reply_code(b"230-Welcome"), None);
        assert_eq!(final_reply_code(b"    1 Gbps connectivity"), None);
        assert_eq!(final_reply_code(b"23"), None);
    }
}
