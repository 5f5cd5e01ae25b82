//! What the command tests share: running `archiver`, and a copy of the
//! example (config, mapping CSV, drops) in a temporary directory.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `archiver <args>` in `dir`: (exit code, stdout, stderr).
pub fn archiver(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Copies `from` into `to`, recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The example in a temporary directory: (the directory, its `examples`
/// folder, where `archiver.toml` is). Its run writes `example-output/`
/// beside `examples/`.
pub fn example() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &examples,
    );
    (dir, examples)
}

/// Runs `archiver reconcile --config archiver.toml --day <day>` in `dir`,
/// which must succeed; its standard output.
pub fn reconcile(dir: &Path, day: &str) -> String {
    let (code, out, err) = archiver(
        &["reconcile", "--config", "archiver.toml", "--day", day],
        dir,
    );
    assert_eq!(code, 0, "reconcile --day {day}: {out}{err}");
    out
}
