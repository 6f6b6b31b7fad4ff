//! Text lines out of one direction of a byte stream, in bounded memory, with the terminal's
//! own editing applied (a typed backspace removes the character before it), and small helpers
//! for reading protocol text without caring about case or valid UTF-8.

/// Longest line kept: a line's first `MAX_LINE` bytes are read, the rest up to its end
/// dropped. Every protocol line the inspector reads (a command, a reply, a prompt) is far
/// shorter; a power of two, so the buffer's capacity never exceeds it.
pub(crate) const MAX_LINE: usize = 1024;

/// Where the reader is inside an ANSI escape sequence (colour codes in prompts and output),
/// which is dropped so that `\x1b[1;32muser$ ` still reads as a prompt.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Escape {
    #[default]
    Text,
    /// After ESC.
    Started,
    /// Inside a control sequence (`ESC [` … final byte).
    ControlSequence,
}

/// Splits a byte stream into lines. A line ends at CR or LF (telnet ends lines with CR NUL or
/// CR LF, the Internet protocols with CR LF); empty lines are not reported.
#[derive(Debug, Default)]
pub(crate) struct LineReader {
    line: Vec<u8>,
    /// The current line has lost bytes past `MAX_LINE`.
    overflowed: bool,
    /// A byte of a line came since the last line end (even one erased since).
    mid_line: bool,
    escape: Escape,
}

impl LineReader {
    /// Reads `bytes`, calling `on_line` with each line completed, without its terminator.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], mut on_line: impl FnMut(&[u8])) {
        while let Some((&byte, rest)) = bytes.split_first() {
            bytes = rest;
            if byte == b'\r' || byte == b'\n' {
                if !self.line.is_empty() {
                    on_line(&self.line);
                }
                self.line.clear();
                self.overflowed = false;
                self.mid_line = false;
                self.escape = Escape::Text;
                continue;
            }
            if self.overflowed {
                // Skip the rest of an overlong line in one step.
                match bytes.iter().position(|&b| b == b'\r' || b == b'\n') {
                    Some(end) => bytes = &bytes[end..],
                    None => return,
                }
                continue;
            }
            match self.escape {
                Escape::Started => {
                    self.escape = if byte == b'[' {
                        Escape::ControlSequence
                    } else {
                        Escape::Text
                    };
                    continue;
                }
                Escape::ControlSequence => {
                    if (0x40..=0x7e).contains(&byte) {
                        self.escape = Escape::Text;
                    }
                    continue;
                }
                Escape::Text => {}
            }
            match byte {
                0x08 | 0x7f => {
                    self.line.pop();
                    self.mid_line = true;
                }
                // ^U erases the line typed so far; ^C abandons it.
                0x15 | 0x03 => {
                    self.line.clear();
                    self.mid_line = true;
                }
                0x1b => {
                    self.escape = Escape::Started;
                    self.mid_line = true;
                }
                b'\t' => self.push(b' '),
                // NUL (telnet's CR NUL) and the other controls carry nothing.
                0x00..=0x1f => {}
                _ => self.push(byte),
            }
        }
    }

    fn push(&mut self, byte: u8) {
        self.mid_line = true;
        if self.line.len() < MAX_LINE {
            self.line.push(byte);
        } else {
            self.overflowed = true;
        }
    }

    /// No byte of a line has come since the last line end (bytes that carry nothing, such as
    /// telnet's NUL after CR, aside): the next byte starts a line.
    pub(crate) fn at_line_start(&self) -> bool {
        !self.mid_line
    }

    /// The line received so far and not yet ended (a prompt waits here for its answer), or
    /// nothing when it is longer than a line can be kept.
    pub(crate) fn pending(&self) -> Option<&[u8]> {
        (!self.overflowed).then_some(self.line.as_slice())
    }

    /// Bytes held.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.line.capacity()
    }
}

/// `haystack` contains `needle`, ASCII case ignored (`needle` in lower case).
pub(crate) fn contains_lower(haystack: &[u8], needle: &[u8]) -> bool {
    count_lower(haystack, needle) > 0
}

/// Non-overlapping occurrences of `needle` (lower case) in `haystack`, ASCII case ignored.
pub(crate) fn count_lower(haystack: &[u8], needle: &[u8]) -> u32 {
    if needle.is_empty() || haystack.len() < needle.len() {
        return 0;
    }
    let mut count = 0;
    let mut start = 0;
    while start + needle.len() <= haystack.len() {
        if haystack[start..start + needle.len()].eq_ignore_ascii_case(needle) {
            count += 1;
            start += needle.len();
        } else {
            start += 1;
        }
    }
    count
}

/// `text` starts with `prefix` (lower case), ASCII case ignored.
pub(crate) fn starts_with_lower(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `text` ends with `suffix` (lower case), ASCII case ignored.
pub(crate) fn ends_with_lower(text: &[u8], suffix: &[u8]) -> bool {
    text.len() >= suffix.len() && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// `text` without leading and trailing ASCII white space.
pub(crate) fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

/// The first white-space-separated word of `text` and the rest after it, trimmed.
pub(crate) fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = trim(text);
    match text.iter().position(u8::is_ascii_whitespace) {
        Some(end) => (&text[..end], trim(&text[end..])),
        None => (text, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(reader: &mut LineReader, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        reader.feed(bytes, |line| out.push(line.to_vec()));
        out
    }

    #[test]
    fn splits_on_cr_and_lf_and_skips_empty_lines() {
        let mut reader = LineReader::default();
        let got = lines(&mut reader, b"one\r\ntwo\r\0three\nfour");
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
        assert_eq!(reader.pending(), Some(&b"four"[..]));
    }

    #[test]
    fn applies_backspace_line_kill_and_drops_colour_codes() {
        let mut reader = LineReader::default();
        let got = lines(
            &mut reader,
            b"lx\x08s -l\x7fa\r\ngarbage\x15pwd\r\n\x1b[01;32mroot\x1b[0m# ",
        );
        assert_eq!(got, [b"ls -a".to_vec(), b"pwd".to_vec()]);
        assert_eq!(reader.pending(), Some(&b"root# "[..]));
    }

    #[test]
    fn keeps_the_head_of_an_overlong_line() {
        let mut reader = LineReader::default();
        let mut bytes = vec![b'a'; MAX_LINE + 10];
        bytes.extend_from_slice(b"\nnext\n");
        let got = lines(&mut reader, &bytes);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], b"next");
    }

    #[test]
    fn text_helpers_ignore_case() {
        assert!(contains_lower(b"530 Login INCORRECT.", b"login incorrect"));
        assert_eq!(count_lower(b"/etc/passwd /ETC/PASSWD", b"/etc/passwd"), 2);
        assert!(starts_with_lower(b"USER bob", b"user "));
        assert!(ends_with_lower(b"Password:", b"password:"));
        assert_eq!(
            split_word(b"  USER  anonymous "),
            (&b"USER"[..], &b"anonymous"[..])
        );
    }
}
