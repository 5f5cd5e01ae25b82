//! `--store` of the commands that read the archive: a value that is no
//! directory or `s3://bucket[/prefix]` is a usage error (exit code 2)
//! naming the option, without printing the value back; options that need
//! a local store are refused with an S3 one; an S3 store without a region
//! says so. (Against a bucket: `tests/cli_s3_store.rs`, on LocalStack.)

mod common;

use std::path::Path;
use std::process::Command;

/// Runs `archiver <args>` with no AWS settings at all: (exit code, stderr).
fn archiver(args: &[&str], dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .args(args)
        .current_dir(dir)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_store_that_is_no_directory_or_s3_location_is_a_usage_error_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let export = |store: &str| {
        archiver(
            &[
                "export",
                "--store",
                store,
                "--custodian",
                "+447400123001",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
                "--out",
                "out.zip",
            ],
            dir.path(),
        )
    };
    for (store, says) in [
        ("s3://", "s3:// names no bucket"),
        ("s3:///archive", "s3:// names no bucket"),
        ("gs://archive", "unknown scheme gs://"),
        (
            "s3://Archive_Bucket",
            "the bucket name is not one S3 allows",
        ),
        ("s3://archive/a//b", "the prefix after the bucket"),
    ] {
        let (code, err) = export(store);
        assert_eq!(code, 2, "{store}: {err}");
        assert!(err.contains("--store"), "{store}: {err}");
        assert!(err.contains(says), "{store}: {err}");
    }
    for command in ["status", "report", "reconcile", "verify"] {
        let (code, err) = archiver(&[command, "--store", "s3://"], dir.path());
        assert_eq!(code, 2, "{command}: {err}");
        assert!(
            err.contains("--store") && err.contains("no bucket"),
            "{command}: {err}"
        );
    }
    // A credential pasted into the URL is not printed back.
    let (code, err) = export("s3://AKIAEXAMPLE:wJalrXUtnFEMI@archive");
    assert_eq!(code, 2, "{err}");
    assert!(
        !err.contains("wJalrXUtnFEMI") && !err.contains("AKIAEXAMPLE"),
        "{err}"
    );
    assert!(!dir.path().join("out.zip").exists());
}

#[test]
fn options_that_need_a_local_store_are_refused_with_a_bucket() {
    let (_dir, examples) = common::example();
    let (code, err) = archiver(
        &[
            "reconcile",
            "--config",
            "archiver.toml",
            "--store",
            "s3://archive-bucket",
            "--repair",
        ],
        &examples,
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--repair cannot be used with --store s3://archive-bucket"),
        "{err}"
    );
    let (code, err) = archiver(
        &["reconcile", "--store", "s3://archive-bucket", "--repair"],
        &examples,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--config"), "--repair needs the config: {err}");
    let (code, err) = archiver(
        &["report", "--store", "s3://archive-bucket", "--open"],
        &examples,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--open cannot be used with --store"), "{err}");
}

#[test]
fn an_s3_store_without_a_region_says_so_and_a_missing_directory_is_refused_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = archiver(&["status", "--store", "s3://archive-bucket"], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("s3://archive-bucket: no AWS region"), "{err}");
    // A mistyped bucket URL is taken for a directory; what it holds is
    // not printed back.
    let typo = "s3:/AKIAEXAMPLE:not-a-secret@archive-bucket";
    let (code, err) = archiver(&["status", "--store", typo], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--store: no such directory"), "{err}");
    assert!(!err.contains("not-a-secret"), "{err}");
}
