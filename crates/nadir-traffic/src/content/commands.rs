//! What a command does, in the terms of the content features: the shell command lines typed
//! in a telnet, rlogin or rsh session, and the file names FTP and HTTP requests name.

use super::add;
use super::lines::{count_any_lower, starts_with_lower};
use crate::connection::ContentFeatures;

/// Access control files (KDD's `num_access_files`): who may log in, as whom, from where.
const ACCESS_FILES: &[&[u8]] = &[
    b"/etc/passwd",
    b"/etc/shadow",
    b"/etc/master.passwd",
    b"/etc/group",
    b"/etc/gshadow",
    b"/etc/sudoers",
    b"/etc/hosts.equiv",
    b"/etc/hosts.allow",
    b"/etc/hosts.deny",
    b".rhosts",
    b".shosts",
    b".netrc",
    b"authorized_keys",
    b".htpasswd",
    b".htaccess",
];

/// Programs that edit the password file themselves.
const ACCESS_FILE_EDITORS: &[&[u8]] = &[b"passwd", b"chsh", b"chfn", b"vipw", b"vigr"];

/// System directories: entering one, or naming a program outside them, is a `hot` indicator.
const SYSTEM_DIRECTORIES: &[&[u8]] = &[
    b"/etc",
    b"/bin",
    b"/sbin",
    b"/lib",
    b"/dev",
    b"/boot",
    b"/root",
    b"/usr/bin",
    b"/usr/sbin",
    b"/usr/lib",
    b"/usr/etc",
    b"/var/log",
    b"/var/spool",
    b"/var/adm",
    b"/proc",
    b"/sys",
];

const SHELLS: &[&[u8]] = &[
    b"sh", b"bash", b"csh", b"tcsh", b"ksh", b"zsh", b"dash", b"ash",
];

/// Programs that create the files they are given.
const FILE_CREATORS: &[&[u8]] = &[
    b"touch",
    b"mkdir",
    b"cp",
    b"ln",
    b"mkfifo",
    b"mknod",
    b"tee",
    b"install",
    b"uudecode",
];

/// Compilers and linkers: they create programs.
const COMPILERS: &[&[u8]] = &[
    b"cc", b"gcc", b"g++", b"c++", b"clang", b"ld", b"as", b"tcc",
];

/// Prefixes that run the program named after them.
const WRAPPERS: &[&[u8]] = &[
    b"sudo", b"exec", b"nohup", b"nice", b"time", b"env", b"command", b"builtin",
];

/// Login names of the `hot` list (`is_host_login`): the administrator accounts.
const HOST_LOGINS: &[&[u8]] = &[b"root", b"toor", b"admin", b"adm", b"administrator"];

/// Login names of the superuser: what they run, they run as root (`num_root`).
const ROOT_LOGINS: &[&[u8]] = &[b"root", b"toor"];

/// Login names of a guest login (`is_guest_login`).
const GUEST_LOGINS: &[&[u8]] = &[b"anonymous", b"ftp", b"guest"];

/// The login name is an administrator account.
pub(crate) fn is_host_login(name: &[u8]) -> bool {
    HOST_LOGINS
        .iter()
        .any(|host| name.eq_ignore_ascii_case(host))
}

/// The login name is the superuser's.
pub(crate) fn is_root_login(name: &[u8]) -> bool {
    ROOT_LOGINS
        .iter()
        .any(|root| name.eq_ignore_ascii_case(root))
}

/// The login name is a guest account.
pub(crate) fn is_guest_login(name: &[u8]) -> bool {
    GUEST_LOGINS
        .iter()
        .any(|guest| name.eq_ignore_ascii_case(guest))
}

/// Access control files `text` names (each mention one operation).
pub(crate) fn access_file_mentions(text: &[u8]) -> u32 {
    count_any_lower(text, ACCESS_FILES)
}

/// `path` is a system directory or lies under one.
pub(crate) fn in_system_directory(path: &[u8]) -> bool {
    SYSTEM_DIRECTORIES
        .iter()
        .any(|dir| starts_with_lower(path, dir) && matches!(path.get(dir.len()), None | Some(b'/')))
}

/// Counts what one shell command line does into `features`: file names it names, programs
/// it runs, directories it enters.
pub(crate) fn count_shell_command(line: &[u8], features: &mut ContentFeatures) {
    let accesses = access_file_mentions(line);
    add(&mut features.num_access_files, accesses);
    add(&mut features.hot, accesses);
    for simple in line.split(|&b| matches!(b, b';' | b'|' | b'&' | b'(' | b')' | b'`')) {
        count_simple_command(simple, features);
    }
}

/// One command of a pipeline or list.
fn count_simple_command(command: &[u8], features: &mut ContentFeatures) {
    let redirections = file_redirections(command);
    add(&mut features.num_file_creations, redirections);
    let mut words = command
        .split(|b| b.is_ascii_whitespace() || *b == b'\'' || *b == b'"')
        .filter(|word| !word.is_empty())
        .filter(|word| !word.contains(&b'>') && !word.contains(&b'<'))
        .skip_while(|word| is_assignment(word) || WRAPPERS.contains(word));
    let Some(program_path) = words.next() else {
        return;
    };
    let program = program_path
        .rsplit(|&b| b == b'/')
        .next()
        .unwrap_or(program_path);
    if program_path.contains(&b'/') && !in_system_directory(program_path) {
        // Running a program of one's own (`./exploit`, `/tmp/x`).
        add(&mut features.hot, 1);
    }
    let arguments: Vec<&[u8]> = words.collect();
    if program == b"su" {
        let user = arguments.iter().find(|word| !word.starts_with(b"-"));
        if user.is_none_or(|user| *user == b"root") {
            features.su_attempted = true;
        }
    } else if program == b"cd" {
        if arguments
            .first()
            .is_some_and(|dir| in_system_directory(dir))
        {
            add(&mut features.hot, 1);
        }
    } else if SHELLS.contains(&program) {
        add(&mut features.num_shells, 1);
    } else if FILE_CREATORS.contains(&program) {
        add(&mut features.num_file_creations, 1);
    } else if COMPILERS.contains(&program) {
        add(&mut features.num_file_creations, 1);
        add(&mut features.hot, 1);
    } else if program == b"chmod" && arguments.first().is_some_and(|mode| grants_execute(mode)) {
        add(&mut features.hot, 1);
    } else if ACCESS_FILE_EDITORS.contains(&program) {
        add(&mut features.num_access_files, 1);
        add(&mut features.hot, 1);
    }
}

/// `NAME=value`, an environment assignment before the program.
fn is_assignment(word: &[u8]) -> bool {
    word.iter()
        .position(|&b| b == b'=')
        .is_some_and(|at| at > 0 && !word[..at].contains(&b'/'))
}

/// A chmod mode that makes a file executable: `+x`, `u+x`, or an octal mode with an
/// execute bit.
fn grants_execute(mode: &[u8]) -> bool {
    if mode.iter().all(u8::is_ascii_digit) {
        return mode.iter().any(|digit| (digit - b'0') % 2 == 1);
    }
    mode.split(|&b| b == b',')
        .any(|clause| clause.contains(&b'+') && clause.contains(&b'x'))
}

/// Output redirections (`>`, `>>`) into a file: to a file descriptor (`>&2`) or to
/// `/dev/null` creates nothing.
fn file_redirections(command: &[u8]) -> u32 {
    let mut count = 0;
    let mut at = 0;
    while let Some(offset) = command[at..].iter().position(|&b| b == b'>') {
        let mut target = at + offset + 1;
        if command.get(target) == Some(&b'>') {
            target += 1;
        }
        at = target;
        let rest = command[target..].trim_ascii_start();
        let end = rest
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let file = &rest[..end];
        if !file.is_empty() && !file.starts_with(b"&") && file != b"/dev/null" {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(line: &str) -> ContentFeatures {
        let mut features = ContentFeatures::default();
        count_shell_command(line.as_bytes(), &mut features);
        features
    }

    #[test]
    fn su_to_root_is_an_attempt_and_to_another_user_is_not() {
        assert!(counted("su").su_attempted);
        assert!(counted("su - root").su_attempted);
        assert!(counted("sudo su").su_attempted);
        assert!(!counted("su alice").su_attempted);
        assert!(!counted("sum file").su_attempted);
    }

    #[test]
    fn access_files_are_counted_per_mention_and_are_hot() {
        let features = counted("cat /etc/passwd /etc/shadow");
        assert_eq!((features.num_access_files, features.hot), (2, 2));
        let features = counted("echo + + >> ~/.rhosts");
        assert_eq!(features.num_access_files, 1);
        assert_eq!(features.num_file_creations, 1);
        assert_eq!(counted("passwd").num_access_files, 1);
    }

    #[test]
    fn creations_shells_and_hot_indicators() {
        assert_eq!(counted("touch a; mkdir b").num_file_creations, 2);
        assert_eq!(counted("ls > out 2>&1").num_file_creations, 1);
        assert_eq!(counted("ls >/dev/null").num_file_creations, 0);
        assert_eq!(counted("exec /bin/sh").num_shells, 1);
        assert_eq!(counted("cd /etc").hot, 1);
        assert_eq!(counted("cd /home/alice").hot, 0);
        assert_eq!(counted("gcc -o x x.c").hot, 1);
        assert_eq!(counted("chmod 755 x").hot, 1);
        assert_eq!(counted("chmod 644 x").hot, 0);
        assert_eq!(counted("chmod u+x x").hot, 1);
        assert_eq!(counted("./exploit").hot, 1);
        assert_eq!(counted("/sbin/ping host").hot, 0);
        assert_eq!(counted("PATH=/tmp ls -a").hot, 0);
    }

    #[test]
    fn login_lists() {
        assert!(is_host_login(b"Root"));
        assert!(!is_host_login(b"rooted"));
        assert!(is_guest_login(b"anonymous"));
        assert!(is_root_login(b"toor") && !is_root_login(b"admin"));
        assert!(in_system_directory(b"/etc/"));
        assert!(!in_system_directory(b"/etcetera"));
    }
}
