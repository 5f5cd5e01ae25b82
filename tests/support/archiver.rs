//! The `archiver` command of this workspace, for the tests that run it as
//! a user would.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The `archiver` binary of this workspace and profile, built by cargo
/// (a no-op when it is fresh): it is another package's binary, so cargo
/// does not build it for this one's tests.
pub fn binary() -> PathBuf {
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--message-format=json",
            "-p",
            "archiver",
            "--bin",
            "archiver",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let mut child = build.spawn().unwrap();
    let mut executable = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let message: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if message["reason"] == "compiler-artifact" && message["target"]["name"] == "archiver" {
            executable = message["executable"].as_str().map(PathBuf::from);
        }
    }
    assert!(child.wait().unwrap().success(), "cargo build -p archiver");
    executable.expect("cargo names the archiver executable")
}
