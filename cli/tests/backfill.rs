//! `archiver backfill`: past days run oldest first, what was pending filed
//! under the first, each day's collect run recorded, and a repeat adds
//! nothing.

mod common;

use std::path::Path;

use common::{archiver, example};

/// Keys under `dir`, relative, sorted.
fn keys(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(at) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn past_days_are_run_oldest_first_and_a_repeat_adds_nothing() {
    let (dir, examples) = example();
    let args = [
        "backfill",
        "--config",
        "archiver.toml",
        "--from",
        "2026-11-19",
        "--to",
        "2026-11-21",
    ];
    let (code, out, err) = archiver(&args, &examples);
    assert_eq!(code, 0, "{out}{err}");
    let headings: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("collection day "))
        .collect();
    assert_eq!(
        headings,
        [
            "collection day 2026-11-19:",
            "collection day 2026-11-20:",
            "collection day 2026-11-21:"
        ]
    );
    assert!(out.contains("copies delivered:     41"), "{out}");
    let archive = dir.path().join("example-output/archive");
    let raw = keys(&archive.join("raw/whatsapp-export"));
    assert!(!raw.is_empty());
    assert!(
        raw.iter().all(|key| key.starts_with("2026-11-19/")),
        "everything pending is filed under the first day: {raw:?}"
    );
    for day in ["2026-11-19", "2026-11-20", "2026-11-21"] {
        assert_eq!(
            keys(&archive.join("collected/reports").join(day)).len(),
            1,
            "{day}: one collect run recorded"
        );
    }

    // Again: nothing new, every copy still once.
    let (code, again, err) = archiver(&args, &examples);
    assert_eq!(code, 0, "{again}{err}");
    assert!(again.contains("nothing new"), "{again}");
    assert_eq!(keys(&archive.join("raw/whatsapp-export")), raw);

    // A range in the wrong order or in the future is refused, naming why.
    let (code, _, err) = archiver(
        &[
            "backfill",
            "--config",
            "archiver.toml",
            "--from",
            "2026-11-21",
            "--to",
            "2026-11-19",
        ],
        &examples,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("--from 2026-11-21 is after --to 2026-11-19"),
        "{err}"
    );
}
