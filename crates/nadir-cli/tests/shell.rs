//! `nadir completions` and `nadir man`: scripts the shells accept, pages roff readers accept.
//! A shell or reader that is not installed is skipped with a `SKIPPED` line.

use std::io::Write;
use std::path::Path;
use std::process::Command;

mod common;
use common::{nadir, path, scratch, text};

/// The commands every completion script and the manual must know.
const COMMANDS: [&str; 5] = ["train", "predict", "validate", "completions", "man"];

/// Whether `program` runs here; if not, says so on standard error (straight there: libtest
/// captures `eprintln!` of a passing test, and a skip that prints nothing reads as a pass).
fn installed(program: &str, test: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok();
    if !found {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: `{program}` is not installed"
        );
    }
    found
}

/// `program args… FILE` succeeds and writes nothing to standard error.
fn accepts(program: &str, args: &[&str], file: &Path) {
    let out = Command::new(program).args(args).arg(file).output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{program} {args:?} {}: {:?}\n{}",
        file.display(),
        out.status,
        text(&out.stderr)
    );
}

#[test]
fn completion_scripts_name_every_command_and_parse() {
    let dir = scratch("completions");
    // The shell, how it checks a script's syntax without running it.
    for (shell, check) in [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")] {
        let out = nadir(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for command in COMMANDS {
            assert!(script.contains(command), "{shell}: no `{command}`");
        }
        assert!(script.contains("format"), "{shell}: no `--format`");
        let file = dir.join(format!("nadir.{shell}"));
        std::fs::write(&file, &script).unwrap();
        if installed(shell, &format!("completions_{shell}")) {
            accepts(shell, &[check], &file);
        }
    }
}

/// What bash offers after `words`, the last one being completed, with the script loaded.
fn bash_completes(script: &Path, words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _nadir nadir '{}' '{}'; echo \"${{COMPREPLY[*]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn bash_completes_commands_flags_and_their_values() {
    if !installed("bash", "bash_completes_commands_flags_and_their_values") {
        return;
    }
    let script = scratch("bash-completion").join("nadir.bash");
    std::fs::write(&script, nadir(&["completions", "bash"]).stdout).unwrap();
    assert_eq!(bash_completes(&script, &["nadir", "tr"]), "train");
    assert_eq!(
        bash_completes(&script, &["nadir", "train", "--for"]),
        "--format"
    );
    assert_eq!(
        bash_completes(&script, &["nadir", "train", "--format", ""]),
        "table json"
    );
    assert_eq!(
        bash_completes(&script, &["nadir", "completions", "f"]),
        "fish"
    );
}

#[test]
fn fish_completes_commands_and_flag_values() {
    if !installed("fish", "fish_completes_commands_and_flag_values") {
        return;
    }
    let script = scratch("fish-completion").join("nadir.fish");
    std::fs::write(&script, nadir(&["completions", "fish"]).stdout).unwrap();
    let offered = |line: &str| {
        let program = format!("source '{}'; complete -C '{line}'", script.display());
        let out = Command::new("fish")
            .args(["-c", &program])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        // One candidate a line, its description after a tab.
        text(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(offered("nadir tr"), ["train"]);
    assert_eq!(offered("nadir train --format "), ["json", "table"]);
}

#[test]
fn the_manual_is_roff_with_a_page_per_command() {
    let out = nadir(&["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH nadir 1"), "{page}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    for command in COMMANDS {
        assert!(
            page.contains(&format!("nadir\\-{command}(1)")),
            "no {command}"
        );
    }

    let dir = scratch("man");
    let pages = dir.join("man1");
    let out = nadir(&["man", "--out", path(&pages)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for command in COMMANDS {
        let file = pages.join(format!("nadir-{command}.1"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(text.contains(&format!(".TH nadir-{command} 1")), "{text}");
    }
    let train = std::fs::read_to_string(pages.join("nadir-train.1")).unwrap();
    assert!(train.contains("\\-\\-format"), "{train}");
    assert!(
        train.contains("nadir train \\-\\-models rf,gb"),
        "no examples: {train}"
    );
    assert!(!pages.join("nadir-help.1").exists());

    if installed("groff", "the_manual_is_roff_with_a_page_per_command") {
        // As `man` reads them: -k, UTF-8 through preconv; -z: parse and format, print
        // nothing; -ww: every warning, on standard error.
        for entry in std::fs::read_dir(&pages).unwrap() {
            accepts(
                "groff",
                &["-k", "-man", "-ww", "-z"],
                &entry.unwrap().path(),
            );
        }
        let rendered = Command::new("groff")
            .args(["-man", "-Tutf8"])
            .arg(pages.join("nadir.1"))
            .output()
            .unwrap();
        let rendered = text(&rendered.stdout);
        assert!(
            rendered.contains("nadir - Network anomaly detection"),
            "{rendered}"
        );
    }
}
