//! `archiver status` counts from the store what `archiver run` printed.

mod common;

use common::{archiver, copy_tree};

use std::path::Path;

/// The number after `label` in the run's summary.
fn printed(summary: &str, label: &str) -> u64 {
    let line = summary
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} in {summary}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn status_after_the_example_run_gives_the_counts_the_run_printed() {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &examples,
    );

    // No run yet: the store is not there, and the error says so.
    let (code, _, err) = archiver(&["status", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("[store] path") && err.contains("is not a directory"),
        "{err}"
    );

    let (code, summary, err) = archiver(&["run", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{summary}{err}");
    // The config names `../example-output/…`: printed as the place it is.
    let output = dir.path().canonicalize().unwrap().join("example-output");
    for line in [
        format!(
            "archive store:        {}\n",
            output.join("archive").display()
        ),
        format!(
            "maildir:              {}\n",
            output.join("maildir").display()
        ),
    ] {
        assert!(summary.contains(&line), "{line:?} not in {summary}");
    }
    let (code, out, err) = archiver(
        &["status", "--config", "archiver.toml", "--json"],
        &examples,
    );
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let export = &status["sources"]["whatsapp-export"];
    assert_eq!(export["collected"], printed(&summary, "drops collected:"));
    assert_eq!(export["items"], printed(&summary, "items collected:"));
    assert_eq!(
        status["emails_written"],
        printed(&summary, "emails written:")
    );
    assert_eq!(
        status["copies_delivered"],
        printed(&summary, "copies delivered:")
    );
    assert_eq!(
        status["unmapped_items"],
        printed(&summary, "unmapped items:")
    );
    for mailbox in ["alice.example@corp.example", "dan@corp.example"] {
        let label = format!("  {mailbox}:");
        assert_eq!(status["delivered"][mailbox], printed(&summary, &label));
    }
    assert_eq!(status["batches_pending_delivery"], 0);

    // The same store named by --store, without the config: the same counts.
    let (code, out, err) = archiver(
        &["status", "--store", "../example-output/archive", "--json"],
        &examples,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        status
    );

    // A second run has nothing to do, and says what was there before.
    let (code, again, err) = archiver(&["run", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{again}{err}");
    let copies = printed(&summary, "copies delivered:");
    assert!(
        again.contains(&format!(
            "\nnothing new: 4 drops collected and {copies} copies delivered before\n"
        )),
        "{again}"
    );

    // A batch whose delivery did not finish shows as waiting, with the
    // copies the ledger does not record: without its done/ marker (the
    // deliver function writes none) and with every copy ledgered, none; a
    // copy whose ledger entry is gone waits.
    let done = dir
        .path()
        .join("example-output/archive/done/whatsapp-export");
    let day = std::fs::read_dir(&done)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // A batch with copies (one whose items map to nobody has an empty job
    // file), whatever order the directory lists them in.
    let jobs_of = |marker: &Path| {
        dir.path()
            .join("example-output/archive/jobs/whatsapp-export")
            .join(day.file_name().unwrap())
            .join(marker.file_name().unwrap())
    };
    let mut markers: Vec<_> = std::fs::read_dir(&day)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    markers.sort();
    let marker = markers
        .into_iter()
        .find(|marker| !std::fs::read_to_string(jobs_of(marker)).unwrap().is_empty())
        .expect("a batch with copies");
    let jobs = jobs_of(&marker);
    std::fs::remove_file(&marker).unwrap();
    let (code, out, err) = archiver(&["status", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("waiting for delivery: 0 batch(es), 0 job(s)"),
        "{out}"
    );
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&jobs)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let entry = shared::layout::ledger_key(
        first["mailbox"].as_str().unwrap(),
        first["message_id"].as_str().unwrap(),
    );
    std::fs::remove_file(dir.path().join("example-output/archive").join(entry)).unwrap();
    let (code, out, err) = archiver(&["status", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("waiting for delivery: 1 batch(es), 1 job(s)"),
        "{out}"
    );
    assert!(out.contains("  copies waiting:     1\n"), "{out}");
    let (_, out, _) = archiver(
        &["status", "--config", "archiver.toml", "--json"],
        &examples,
    );
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let export = &status["sources"]["whatsapp-export"];
    assert_eq!(export["jobs_pending"], 1);
    assert_eq!(export["unmapped"], status["unmapped_items"]);
    assert_eq!(export["failed"], 0);
    assert!(export["last_run"].is_string(), "{export}");
    assert!(export["checkpoint"].is_string(), "{export}");
    assert!(status["last_collect_run"].is_string(), "{status}");
}

#[test]
fn a_drops_path_that_is_not_there_stops_the_run_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &examples,
    );
    let config = std::fs::read_to_string(examples.join("archiver.toml")).unwrap();
    let config = config.replace("[drops]\npath = \".\"", "[drops]\npath = \"no-such-dir\"");
    std::fs::write(examples.join("archiver.toml"), config).unwrap();
    let (code, out, err) = archiver(&["run", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("config archiver.toml: [drops] path")
            && err.contains("no-such-dir is not a directory"),
        "{err}"
    );
    assert!(
        !dir.path().join("example-output").exists(),
        "nothing written, no lock taken"
    );
}

#[test]
fn a_missing_secret_stops_run_and_deliver_before_they_start_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &examples,
    );
    std::fs::create_dir(examples.join("secrets")).unwrap();
    let config = std::fs::read_to_string(examples.join("archiver.toml")).unwrap();
    let config = config.replace(
        "[maildir]\npath = \"../example-output/maildir\"",
        "[secrets]\npath = \"secrets\"\n\n[imap]\nurl = \"imaps://imap.corp.example\"\n\
         auth = \"password\"\npassword_secret = \"imap-password\"\nlogin = \"{mailbox}\"",
    );
    assert!(
        config.contains("[imap]"),
        "the example's [maildir] was replaced"
    );
    std::fs::write(examples.join("archiver.toml"), config).unwrap();
    for command in ["run", "deliver"] {
        let (code, out, err) = archiver(&[command, "--config", "archiver.toml"], &examples);
        assert_eq!(code, 1, "{command}: {out}{err}");
        assert_eq!(
            err.trim(),
            "archiver: config archiver.toml: [imap] password_secret: secret \"imap-password\" not found",
            "{command}"
        );
        assert_eq!(out, "", "{command}: no summary of a run that did not start");
        assert!(
            !dir.path().join("example-output").exists(),
            "{command}: nothing written, no lock taken"
        );
    }
}
