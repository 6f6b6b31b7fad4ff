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
/// CR LF, the Internet protocols with CR LF); empty lines are not reported. A line keeps its
/// first `LIMIT` bytes (at most `MAX_LINE`): a reader that needs only the start of each line
/// (a reply code) skips the rest of long ones at the speed of a byte search.
#[derive(Debug, Default)]
pub(crate) struct LineReader<const LIMIT: usize = MAX_LINE> {
    line: Vec<u8>,
    /// The current line has lost bytes past `LIMIT`.
    overflowed: bool,
    /// A byte of a line came since the last line end (even one erased since).
    mid_line: bool,
    escape: Escape,
}

/// Bytes that are text: everything but the C0 controls and DEL.
fn is_text(byte: u8) -> bool {
    byte >= 0x20 && byte != 0x7f
}

impl<const LIMIT: usize> LineReader<LIMIT> {
    /// Reads `bytes`, calling `on_line` with each line completed, without its terminator.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], mut on_line: impl FnMut(&[u8])) {
        while !bytes.is_empty() {
            if self.overflowed {
                // Skip the rest of an overlong line in one step.
                match bytes.iter().position(|&b| b == b'\r' || b == b'\n') {
                    Some(end) => bytes = &bytes[end..],
                    None => return,
                }
            } else if self.escape == Escape::Text {
                let run = bytes
                    .iter()
                    .position(|&b| !is_text(b))
                    .unwrap_or(bytes.len());
                if run > 0 {
                    self.extend(&bytes[..run]);
                    bytes = &bytes[run..];
                    continue;
                }
            }
            let byte = bytes[0];
            bytes = &bytes[1..];
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
                b'\t' => self.extend(b" "),
                // NUL (telnet's CR NUL) and the other controls carry nothing.
                _ => {}
            }
        }
    }

    /// Appends text to the line, up to `LIMIT` bytes, growing the buffer no further.
    fn extend(&mut self, text: &[u8]) {
        self.mid_line = true;
        let limit = LIMIT.min(MAX_LINE);
        let taken = text.len().min(limit - self.line.len());
        self.overflowed |= taken < text.len();
        let needed = self.line.len() + taken;
        if needed > self.line.capacity() {
            let target = (2 * self.line.capacity()).max(needed).max(64).min(limit);
            self.line.reserve_exact(target - self.line.len());
        }
        self.line.extend_from_slice(&text[..taken]);
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
    count_any_lower(haystack, &[needle]) > 0
}

/// `haystack` contains one of `needles` (lower case), ASCII case ignored.
pub(crate) fn contains_any_lower(haystack: &[u8], needles: &[&[u8]]) -> bool {
    count_any_lower(haystack, needles) > 0
}

/// Non-overlapping occurrences of each of `needles` (lower case) in `haystack`, summed,
/// ASCII case ignored. The haystack is lowered once, on the stack; only its first
/// `MAX_LINE` bytes are searched, which is all a line holds.
pub(crate) fn count_any_lower(haystack: &[u8], needles: &[&[u8]]) -> u32 {
    let mut lowered = [0u8; MAX_LINE];
    let length = haystack.len().min(MAX_LINE);
    for (low, byte) in lowered.iter_mut().zip(&haystack[..length]) {
        *low = byte.to_ascii_lowercase();
    }
    let lowered = &lowered[..length];
    needles.iter().map(|needle| count(lowered, needle)).sum()
}

/// Non-overlapping occurrences of `needle` in `haystack`.
fn count(haystack: &[u8], needle: &[u8]) -> u32 {
    let Some((&first, _)) = needle.split_first() else {
        return 0;
    };
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else {
        return 0;
    };
    let mut found = 0;
    let mut start = 0;
    while let Some(offset) = haystack[start..=last_start]
        .iter()
        .position(|&b| b == first)
    {
        let at = start + offset;
        if haystack[at..at + needle.len()] == *needle {
            found += 1;
            start = at + needle.len();
        } else {
            start = at + 1;
        }
        if start > last_start {
            break;
        }
    }
    found
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

    fn lines<const LIMIT: usize>(reader: &mut LineReader<LIMIT>, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        reader.feed(bytes, |line| out.push(line.to_vec()));
        out
    }

    #[test]
    fn splits_on_cr_and_lf_and_skips_empty_lines() {
        let mut reader: LineReader = LineReader::default();
        let got = lines(&mut reader, b"one\r\ntwo\r\0three\nfour");
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
        assert_eq!(reader.pending(), Some(&b"four"[..]));
    }

    #[test]
    fn applies_backspace_line_kill_and_drops_colour_codes() {
        let mut reader: LineReader = LineReader::default();
        let got = lines(
            &mut reader,
            b"lx\x08s -l\x7fa\r\ngarbage\x15pwd\r\n\x1b[01;32mroot\x1b[0m# ",
        );
        assert_eq!(got, [b"ls -a".to_vec(), b"pwd".to_vec()]);
        assert_eq!(reader.pending(), Some(&b"root# "[..]));
    }

    #[test]
    fn keeps_the_head_of_an_overlong_line() {
        let mut reader: LineReader = LineReader::default();
        let mut bytes = vec![b'a'; MAX_LINE + 10];
        bytes.extend_from_slice(b"\nnext\n");
        let got = lines(&mut reader, &bytes);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], b"next");
    }

    #[test]
    fn a_short_reader_keeps_each_line_s_head_in_its_own_room() {
        let mut reader = LineReader::<8>::default();
        let got = lines(
            &mut reader,
            b"230 Guest login ok, access restrictions apply.\r\n530\r\n",
        );
        assert_eq!(got, [b"230 Gues".to_vec(), b"530".to_vec()]);
        assert!(reader.buffered_bytes() <= 8);
    }

    #[test]
    fn text_helpers_ignore_case() {
        assert!(contains_lower(b"530 Login INCORRECT.", b"login incorrect"));
        assert_eq!(
            count_any_lower(b"/etc/passwd /ETC/PASSWD", &[b"/etc/passwd"]),
            2
        );
        assert_eq!(count_any_lower(b"/etc/passw", &[b"/etc/passwd"]), 0);
        assert_eq!(count_any_lower(b"aaa", &[b"aa"]), 1);
        assert_eq!(
            count_any_lower(b"~/.rhosts /etc/group", &[b".rhosts", b"/etc/group"]),
            2
        );
        assert!(contains_any_lower(
            b"sh: x: Not Found",
            &[b"bus error", b"not found"]
        ));
        assert!(starts_with_lower(b"USER bob", b"user "));
        assert!(ends_with_lower(b"Password:", b"password:"));
        assert_eq!(
            split_word(b"  USER  anonymous "),
            (&b"USER"[..], &b"anonymous"[..])
        );
    }
}
