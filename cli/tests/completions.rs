//! `archiver completions <shell>` prints a completion script that knows
//! every command.

use std::process::Command;

#[test]
fn completion_scripts_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_archiver"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for command in [
            "run",
            "deliver",
            "inspect",
            "mapping",
            "status",
            "report",
            "export",
            "reconcile",
            "verify",
            "backfill",
        ] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
}

/// Every command's `--help` is its manual: what it does, the exit codes and
/// an example (the config keys it reads where it reads a config).
#[test]
fn every_commands_help_gives_exit_codes_and_an_example() {
    for command in [
        &["run"][..],
        &["deliver"],
        &["inspect"],
        &["mapping", "check"],
        &["status"],
        &["report"],
        &["export"],
        &["reconcile"],
        &["verify"],
        &["backfill"],
        &["remap"],
        &["bench"],
        &["bench-delivery"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_archiver"))
            .args(command)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("Exit code"), "{command:?} --help:\n{help}");
        assert!(help.contains("Example"), "{command:?} --help:\n{help}");
        assert!(help.contains("archiver "), "{command:?} --help:\n{help}");
    }
}

/// The commands that read the archive say, in their `--help`, that
/// `--store` takes a directory or the deployed bucket.
#[test]
fn the_commands_that_read_the_archive_document_store() {
    for command in ["status", "report", "export", "reconcile", "verify"] {
        let out = Command::new(env!("CARGO_BIN_EXE_archiver"))
            .args([command, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("--store"), "{command} --help:\n{help}");
        assert!(
            help.contains("s3://bucket[/prefix]"),
            "{command} --help:\n{help}"
        );
        assert!(
            help.contains("archiver ") && help.contains("--store s3://"),
            "{command} --help has no example with an S3 store:\n{help}"
        );
    }
}
