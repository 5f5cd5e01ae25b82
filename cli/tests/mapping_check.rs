//! `archiver mapping check` lists a mapping CSV's problems with their lines
//! and counts what it maps, in text and as JSON, with exit codes a script
//! can rely on.

use std::path::Path;
use std::process::Command;

/// Runs `archiver mapping check <args>`: (exit code, stdout, stderr).
fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .args(["mapping", "check"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn every_problem_is_listed_with_its_line_and_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "mapping.csv",
        "\u{feff}External User ID,Microsoft 365 User Mailbox\n\
         +44 7400 123456,alice@corp.example\n\
         \n\
         ,nobody@corp.example\n\
         +44 7400 123456,mallory@corp.example\n\
         +44 7400 123456,alice@corp.example\n\
         +1 (415) 555-0199 ext. 12,dan@corp.example\n\
         Room 101,room@corp.example\n\
         +44 12,short@corp.example\n\
         \"quoted, name\",not-an-address\n\
         bob@corp.example,Bob@Corp.Example\n\
         wecom:ZhangSan,zhangsan@corp.example\n",
    );
    let (code, out, err) = check(&[&csv, "--region", "GB"]);
    assert_eq!(code, 2, "{out}{err}");
    let problems: Vec<&str> = out
        .lines()
        .filter(|line| line.contains(": line "))
        .collect();
    let lines: Vec<&str> = problems
        .iter()
        .map(|p| p.split(": ").nth(1).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "line 4", "line 5", "line 6", "line 7", "line 8", "line 9", "line 10"
        ],
        "{out}"
    );
    assert!(
        problems[0].contains("error: the identity is empty"),
        "{out}"
    );
    assert!(problems[1].contains("error:") && problems[1].contains("line 2"));
    assert!(problems[2].contains("warning:") && problems[2].contains("line 2"));
    assert!(problems[3].contains("warning:"), "{out}");
    assert!(problems[4].contains("warning:"), "{out}");
    assert!(problems[5].contains("warning:") && problems[5].contains("+4412"));
    assert!(problems[6].contains("error:") && problems[6].contains("not-an-address"));
    assert!(
        out.contains(
            "6 identities mapped: 3 phone numbers (WhatsApp, WeCom mobile), 1 WeCom userid, \
             1 e-mail address, 1 name or other id\n"
        ),
        "{out}"
    );
    assert!(out.contains("3 errors, 4 warnings"), "{out}");
}

#[test]
fn the_json_output_carries_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "m.csv",
        "identity,mailbox\n(415) 555-0199,dan@corp.example\n,x@corp.example\n",
    );
    let (code, out, err) = check(&[&csv, "--region", "us", "--json"]);
    assert_eq!(code, 2, "{out}{err}");
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["identities"], 1);
    assert_eq!(value["by_kind"]["phone_numbers"], 1);
    assert_eq!(value["errors"], 1);
    assert_eq!(value["warnings"], 0);
    assert_eq!(value["problems"][0]["line"], 3);
    assert_eq!(value["problems"][0]["kind"], "empty_identity");
}

#[test]
fn a_clean_file_exits_0_and_an_unreadable_one_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "ok.csv",
        "phone,email\n+44 7400 123456,alice@corp.example\n",
    );
    let (code, out, _) = check(&[&csv, "--region", "GB"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 errors, 0 warnings"), "{out}");

    let missing = dir.path().join("nope.csv");
    let (code, _, err) = check(&[missing.to_str().unwrap(), "--region", "GB"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read mapping CSV") && err.contains("nope.csv"),
        "{err}"
    );

    let header = write(dir.path(), "h.csv", "name,address\na,b@c.example\n");
    let (code, _, err) = check(&[&header, "--region", "GB"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 1") && err.contains("not a header"),
        "{err}"
    );

    let (code, _, err) = check(&[&csv]);
    assert_eq!(code, 1);
    assert!(err.contains("--region"), "{err}");

    let (code, _, err) = check(&[&csv, "--region", "UK"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown region \"UK\""), "{err}");
}

#[test]
fn the_example_configuration_names_the_csv_and_region() {
    let (code, out, err) = check(&["--config", "../examples/archiver.toml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "../examples/mapping.csv: 4 identities mapped: 3 phone numbers (WhatsApp, WeCom mobile), \
         0 WeCom userids, 0 e-mail addresses, 1 name or other id\n\
         ../examples/mapping.csv: 0 errors, 0 warnings\n"
    );
}
