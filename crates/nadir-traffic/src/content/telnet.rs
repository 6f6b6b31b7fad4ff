//! Telnet's in-band commands (RFC 854/855) removed from the data: option negotiation
//! (`IAC WILL|WONT|DO|DONT option`), subnegotiation (`IAC SB … IAC SE`) and the two-byte
//! commands (`IAC IP`, `IAC DM`, …), with `IAC IAC` read as one data byte 0xFF. The state
//! survives between segments, so a command split across them is removed all the same.

const IAC: u8 = 0xff;
const SE: u8 = 0xf0;
const SB: u8 = 0xfa;
const WILL: u8 = 0xfb;
const DONT: u8 = 0xfe;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Data,
    /// After IAC.
    Command,
    /// After IAC WILL/WONT/DO/DONT, before the option byte.
    Option,
    /// Inside a subnegotiation.
    Subnegotiation,
    /// After IAC inside a subnegotiation.
    SubnegotiationCommand,
}

/// Strips telnet commands from one direction of a connection.
#[derive(Debug, Default)]
pub(crate) struct TelnetDecoder {
    state: State,
}

impl TelnetDecoder {
    /// Calls `on_data` with the data of `bytes`, in runs (slices of `bytes` where no
    /// command interrupts them), so nothing is copied or held.
    pub(crate) fn decode(&mut self, bytes: &[u8], mut on_data: impl FnMut(&[u8])) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.state == State::Data {
                let Some(command) = rest.iter().position(|&b| b == IAC) else {
                    on_data(rest);
                    return;
                };
                if command > 0 {
                    on_data(&rest[..command]);
                }
                self.state = State::Command;
                rest = &rest[command + 1..];
                continue;
            }
            let byte = rest[0];
            rest = &rest[1..];
            self.state = match (self.state, byte) {
                (State::Command, IAC) => {
                    on_data(&[IAC]);
                    State::Data
                }
                (State::Command, SB) => State::Subnegotiation,
                (State::Command, WILL..=DONT) => State::Option,
                (State::Subnegotiation, IAC) => State::SubnegotiationCommand,
                (State::Subnegotiation, _) => State::Subnegotiation,
                (State::SubnegotiationCommand, SE) => State::Data,
                (State::SubnegotiationCommand, _) => State::Subnegotiation,
                // A two-byte command, an option's byte (or, unreachable, data).
                (State::Command | State::Option | State::Data, _) => State::Data,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_negotiation_subnegotiation_and_commands() {
        let mut decoder = TelnetDecoder::default();
        let mut data = Vec::new();
        decoder.decode(
            b"\xff\xfd\x03lo\xff\xfa\x18\x00xterm\xff\xf0g\xff\xf4in\xff\xff:",
            |run| data.extend_from_slice(run),
        );
        assert_eq!(data, b"login\xff:");
    }

    #[test]
    fn a_command_split_between_segments_is_still_removed() {
        let mut decoder = TelnetDecoder::default();
        let mut all = Vec::new();
        for piece in [
            &b"a\xff"[..],
            b"\xfb",
            b"\x01b\xff\xfa",
            b"\x1f\x00P\xff",
            b"\xf0c",
        ] {
            decoder.decode(piece, |run| all.extend_from_slice(run));
        }
        assert_eq!(all, b"abc");
    }
}
