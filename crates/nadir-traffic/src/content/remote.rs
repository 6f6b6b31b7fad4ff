//! The BSD r-commands: rexec (512), rlogin (513) and rsh (514). All open with NUL-terminated
//! fields from the client: rlogin `\0client-user\0server-user\0terminal/speed\0`, then a
//! terminal session; rsh `stderr-port\0client-user\0server-user\0command\0` and rexec
//! `stderr-port\0user\0password\0command\0`, answered by one byte, 0 when the server runs
//! the command (then its output) and 1 followed by the reason when it refuses.

use super::commands::{count_shell_command, is_guest_login, is_host_login, is_root_login};
use super::lines::{LineReader, MAX_LINE};
use super::terminal::{Terminal, is_compromised};
use super::{add, failed_login};
use crate::connection::ContentFeatures;

/// The client's opening fields, read in bounded memory (a field keeps its first
/// `MAX_LINE` bytes).
#[derive(Debug, Default)]
struct Fields {
    /// Fields ended so far.
    ended: usize,
    current: Vec<u8>,
}

impl Fields {
    /// Reads the opening up to its field `last`; calls `on_field(index, field)` as each ends
    /// and returns the bytes after the opening once field `last` has ended.
    fn read<'a>(
        &mut self,
        bytes: &'a [u8],
        last: usize,
        mut on_field: impl FnMut(usize, &[u8]),
    ) -> &'a [u8] {
        let mut rest = bytes;
        if self.ended <= last && self.current.capacity() == 0 {
            self.current.reserve_exact(MAX_LINE);
        }
        while self.ended <= last {
            let Some(end) = rest.iter().position(|&b| b == 0) else {
                let room = MAX_LINE.saturating_sub(self.current.len());
                self.current
                    .extend_from_slice(&rest[..rest.len().min(room)]);
                return &[];
            };
            let room = MAX_LINE.saturating_sub(self.current.len());
            self.current.extend_from_slice(&rest[..end.min(room)]);
            on_field(self.ended, &self.current);
            self.current.clear();
            self.ended += 1;
            rest = &rest[end + 1..];
        }
        self.current = Vec::new();
        rest
    }
}

/// rlogin's window-size message (`FF FF 's' 's'` and 8 bytes of size) that the client sends
/// in the data stream.
const WINDOW_SIZE_MAGIC: &[u8] = b"\xff\xffss";
const WINDOW_SIZE_LEN: usize = 12;

#[derive(Debug, Default)]
pub(crate) struct Rlogin {
    opening: Fields,
    /// Bytes of a window-size message matched so far.
    window_size_read: usize,
    terminal: Terminal,
}

impl Rlogin {
    /// Field 0 is empty (the opening NUL), 1 the client user, 2 the server user (the login
    /// name), 3 the terminal.
    const LAST_FIELD: usize = 3;

    pub(crate) fn client(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let terminal = &mut self.terminal;
        let rest = self.opening.read(bytes, Self::LAST_FIELD, |index, field| {
            if index == 2 {
                terminal.set_login_name(field);
            }
        });
        // The data, gathered in a small buffer so that memory does not grow with the segment.
        let mut data = [0u8; 256];
        let mut held = 0;
        for &byte in rest {
            if self.window_size_read >= WINDOW_SIZE_MAGIC.len() {
                self.window_size_read = (self.window_size_read + 1) % WINDOW_SIZE_LEN;
            } else if byte == WINDOW_SIZE_MAGIC[self.window_size_read] {
                self.window_size_read += 1;
            } else {
                self.window_size_read = usize::from(byte == WINDOW_SIZE_MAGIC[0]);
                if self.window_size_read == 0 {
                    data[held] = byte;
                    held += 1;
                    if held == data.len() {
                        self.terminal.client_data(&data, features);
                        held = 0;
                    }
                }
            }
        }
        self.terminal.client_data(&data[..held], features);
    }

    pub(crate) fn server(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        self.terminal.server_data(bytes, features);
    }

    pub(crate) fn finish(&mut self, features: &mut ContentFeatures) {
        self.terminal.finish(features);
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.opening.current.capacity() + self.terminal.buffered_bytes()
    }
}

/// The server's answer to an rsh request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Answer {
    #[default]
    Awaited,
    Accepted,
    Refused,
}

/// An rsh or rexec request: the two differ only in where the opening names the user.
#[derive(Debug, Default)]
pub(crate) struct RemoteCommand {
    /// The opening's field that names the user the command runs as.
    user_field: usize,
    opening: Fields,
    server_user: Vec<u8>,
    /// The command, until the server accepts it.
    command: Option<Vec<u8>>,
    answer: Answer,
    output: LineReader,
}

impl RemoteCommand {
    /// Field 0 is the stderr port, 3 the command; rsh sends the client's user and the
    /// server's in 1 and 2, rexec the user and the password.
    const LAST_FIELD: usize = 3;

    pub(crate) fn rsh() -> RemoteCommand {
        RemoteCommand {
            user_field: 2,
            ..RemoteCommand::default()
        }
    }

    pub(crate) fn rexec() -> RemoteCommand {
        RemoteCommand {
            user_field: 1,
            ..RemoteCommand::default()
        }
    }

    pub(crate) fn client(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let mut command = None;
        let server_user = &mut self.server_user;
        let user_field = self.user_field;
        self.opening.read(bytes, Self::LAST_FIELD, |index, field| {
            if index == user_field {
                *server_user = field.to_vec();
            } else if index == Self::LAST_FIELD {
                command = Some(field.to_vec());
            }
        });
        if command.is_some() {
            self.command = command;
            if self.answer == Answer::Accepted {
                self.run_command(features);
            }
        }
    }

    pub(crate) fn server(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let mut output = bytes;
        if self.answer == Answer::Awaited {
            let Some((&first, rest)) = bytes.split_first() else {
                return;
            };
            output = rest;
            if first == 0 {
                self.answer = Answer::Accepted;
                features.logged_in = true;
                features.is_guest_login = is_guest_login(&self.server_user);
                features.is_host_login = is_host_login(&self.server_user);
                self.run_command(features);
            } else {
                self.answer = Answer::Refused;
                failed_login(features);
            }
        }
        if self.answer == Answer::Accepted {
            self.output.feed(output, |line| {
                if is_compromised(line) {
                    add(&mut features.num_compromised, 1);
                }
            });
        }
    }

    /// Counts the command once the server has accepted it.
    fn run_command(&mut self, features: &mut ContentFeatures) {
        if let Some(command) = self.command.take() {
            count_shell_command(&command, features);
            if is_root_login(&self.server_user) {
                add(&mut features.num_root, 1);
            }
        }
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.opening.current.capacity()
            + self.server_user.capacity()
            + self.command.as_ref().map_or(0, Vec::capacity)
            + self.output.buffered_bytes()
    }
}
