//! The files of a directory tree, as the tests look into stores, Maildir
//! trees and temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

/// The files under `dir`, recursively (symbolic links listed, not
/// followed), sorted; none when it is missing (or vanishes while it is
/// walked: a process may be renaming).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files.extend(files_under(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files.sort();
    files
}
