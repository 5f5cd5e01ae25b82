//! `--json` for scripts: `run`, `deliver` and `backfill` print the run's
//! report as JSON, `reconcile`, `verify` and `export` their outcome;
//! nothing else on standard output.

mod common;

use common::{archiver, example};

#[test]
fn run_deliver_and_backfill_print_their_reports_as_json() {
    let (_dir, examples) = example();
    let (code, out, err) = archiver(
        &[
            "run",
            "--config",
            "archiver.toml",
            "--day",
            "2026-11-21",
            "--json",
        ],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let run: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(run["drops_collected"], 4);
    assert_eq!(run["items_collected"], 26);
    assert_eq!(run["emails_written"], 26);
    let copies: u64 = run["delivered"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(copies, 41);
    assert_eq!(run["errors"], serde_json::json!([]));
    assert!(
        run["archive_store"]
            .as_str()
            .unwrap()
            .ends_with("example-output/archive")
    );

    let (code, out, err) = archiver(
        &["deliver", "--config", "archiver.toml", "--json"],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let deliver: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert!(
        deliver["nothing_new"]
            .as_str()
            .unwrap()
            .contains("41 copies delivered before"),
        "{deliver}"
    );

    let (code, out, err) = archiver(
        &[
            "backfill",
            "--config",
            "archiver.toml",
            "--from",
            "2026-11-22",
            "--to",
            "2026-11-23",
            "--json",
        ],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let days: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&out)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("one JSON object per day");
    assert_eq!(days.len(), 2);
    for day in days {
        assert_eq!(day["drops_collected"], 0, "{day}");
    }

    let json = |args: &[&str], expected: i32| -> serde_json::Value {
        let (code, out, err) = archiver(args, &examples);
        assert_eq!(code, expected, "{args:?}: {out}{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    };
    let reconciled = json(
        &[
            "reconcile",
            "--config",
            "archiver.toml",
            "--day",
            "2026-11-21",
            "--json",
        ],
        0,
    );
    assert_eq!(reconciled["closed"], true, "{reconciled}");
    assert_eq!(reconciled["copies"], 41, "{reconciled}");
    assert_eq!(reconciled["open"], serde_json::json!([]));
    assert_eq!(
        reconciled["head"].as_str().map(str::len),
        Some(64),
        "{reconciled}"
    );
    let verified = json(&["verify", "--config", "archiver.toml", "--json"], 0);
    assert_eq!(verified["verified"], 1, "{verified}");
    assert_eq!(verified["differences"], serde_json::json!([]));
    let exported = json(
        &[
            "export",
            "--config",
            "archiver.toml",
            "--custodian",
            "+447400123001",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--out",
            "bundle.zip",
            "--json",
        ],
        0,
    );
    assert!(exported["messages"].as_u64().unwrap() > 0, "{exported}");
    assert_eq!(exported["sha256"].as_str().map(str::len), Some(64));
    let checked = json(&["export", "--verify", "bundle.zip", "--json"], 0);
    assert_eq!(checked["messages"], exported["messages"]);
    assert_eq!(checked["differences"], serde_json::json!([]));
}
