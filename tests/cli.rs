//! The command line as an operator meets it: each subcommand's help lists its own flags, each
//! described; output into a closed pipe is not a crash; logs carry no colour codes into a file.

use std::io::Read;
use std::process::{Command, Stdio};

fn orgd(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The long flags a help text lists, each with whether a description follows it.
fn flags(help: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = help.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix("--").or_else(|| {
            t.strip_prefix("-h, --")
                .or_else(|| t.strip_prefix("-V, --"))
        }) else {
            continue;
        };
        let name = rest.split([' ', '\t']).next().unwrap().to_string();
        // Described on the same line (short help) or on the next, more indented one (long help).
        let same_line = rest
            .split_once("  ")
            .is_some_and(|(_, d)| !d.trim().is_empty());
        let next_line = lines
            .get(i + 1)
            .is_some_and(|n| n.starts_with("          ") && !n.trim_start().starts_with('-'));
        out.push((name, same_line || next_line));
    }
    out
}

#[test]
fn each_subcommand_lists_only_its_own_flags_each_described() {
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (
            &["serve", "--help"],
            &["listen", "database-url", "smtp-url", "config"],
            &[],
        ),
        (
            &["migrate", "--help"],
            &["database-url", "config"],
            &["listen", "smtp-url"],
        ),
        (
            &["openapi", "--help"],
            &["config"],
            &["database-url", "listen", "smtp-url"],
        ),
        (
            &["admin", "create-user", "--help"],
            &["email", "password", "username", "superuser", "database-url"],
            &["listen", "smtp-url", "signup-enabled"],
        ),
        (
            &["admin", "seed", "--help"],
            &["orgs", "callers", "database-url"],
            &["listen"],
        ),
        (
            &["admin", "backup", "--help"],
            &["database-url"],
            &["listen", "smtp-url"],
        ),
        (
            &["admin", "restore", "--help"],
            &["force", "database-url"],
            &["listen"],
        ),
        (
            &["admin", "set-password", "--help"],
            &["login", "password", "revoke-tokens", "database-url"],
            &["listen", "smtp-url"],
        ),
    ];
    for (args, has, lacks) in cases {
        let (ok, help, err) = orgd(args);
        assert!(ok, "{args:?}: {err}");
        let listed = flags(&help);
        for f in *has {
            assert!(
                listed.iter().any(|(n, _)| n == f),
                "{args:?} lacks --{f}:\n{help}"
            );
        }
        for f in *lacks {
            assert!(
                !listed.iter().any(|(n, _)| n == f),
                "{args:?} lists --{f}:\n{help}"
            );
        }
        for (name, described) in &listed {
            assert!(described, "{args:?}: --{name} has no description:\n{help}");
        }
    }
}

#[test]
fn output_into_a_closed_pipe_is_not_a_crash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, as `head` would, then go away.
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn logs_into_a_file_carry_no_colour_codes() {
    let dir = std::env::temp_dir().join(format!("orgd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["migrate", "--database-url"])
        .arg(format!("sqlite://{}", dir.join("orgd.db").display()))
        .env("ORGD_LOG", "info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("migrations applied"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "colour codes in a log file: {err:?}"
    );
}
