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
        ] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
}
