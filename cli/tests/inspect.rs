//! `archiver inspect` reads an export from a file or from a pipe, and
//! decrypted WeCom messages (`--source wecom`).

use std::io::Write;
use std::process::{Command, Stdio};

const CHAT: &str =
    "../examples/drop/whatsapp-export/+447400123001/WhatsApp Chat with Bob Smith.txt";

fn inspect(args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .arg("inspect")
        .args(args)
        .args(["--tz", "Europe/London"])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_piped_export_is_read_as_chat_text_like_the_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let file = format!("{path}{CHAT}");
    let (ok, from_file, err) = inspect(&[&file], None);
    assert!(ok, "{err}");
    assert_eq!(from_file.lines().count(), 9);
    let bytes = std::fs::read(&file).unwrap();
    let (ok, from_pipe, err) = inspect(&["/dev/stdin"], Some(&bytes));
    assert!(ok, "{err}");
    assert_eq!(from_pipe.lines().count(), 9);
}

#[test]
fn decrypted_wecom_messages_are_read_from_a_directory_a_file_of_lines_or_an_array() {
    // The catalogue's fixtures, one message per `.json` file.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/wecom/messages"
    );
    let (ok, from_dir, err) = inspect(&["--source", "wecom", dir], None);
    assert!(ok, "{err}");
    let count = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(from_dir.lines().count(), count);
    for line in from_dir.lines() {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(item["source"], "wecom");
    }
    let revoke = std::fs::read(format!("{dir}/revoke.json")).unwrap();
    let text = std::fs::read(format!("{dir}/text-controls.json")).unwrap();
    let lines = [revoke.clone(), text.clone()].concat();
    let (ok, out, err) = inspect(&["--source", "wecom", "/dev/stdin"], Some(&lines));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2);
    assert!(out.lines().next().unwrap().contains(r#""kind":"recall""#));
    let mut array = b"[".to_vec();
    array.extend_from_slice(&revoke);
    array.push(b',');
    array.extend_from_slice(&text);
    array.push(b']');
    let (ok, out, err) = inspect(&["--source", "wecom", "/dev/stdin"], Some(&array));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2);
    // A message that cannot be read is named; the others are printed.
    let (ok, out, err) = inspect(
        &["--source", "wecom", "/dev/stdin"],
        Some(b"{\"no\":\"id\"}\n"),
    );
    assert!(!ok && out.is_empty());
    assert!(
        err.contains("message 1: the decrypted message has no msgid"),
        "{err}"
    );
}

const WEBHOOKS: &str = "../shared/tests/fixtures/whatsapp_cloud";

#[test]
fn webhook_bodies_are_recognised_and_printed_one_item_per_wamid_in_time_order() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + WEBHOOKS;
    // A directory, with and without --source.
    let (ok, from_dir, err) = inspect(&[&dir], None);
    assert!(ok, "{err}");
    let (ok, named, _) = inspect(&["--source", "whatsapp-cloud", &dir], None);
    assert!(ok);
    assert!(
        from_dir == named,
        "--source whatsapp-cloud reads the same items"
    );
    let items: Vec<serde_json::Value> = from_dir
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(items.len(), 38);
    let ids: std::collections::BTreeSet<&str> =
        items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), items.len(), "one item per wamid");
    let times: Vec<&str> = items
        .iter()
        .map(|i| i["timestamp"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    assert!(err.contains("delivery statuses on 2026-11-30"), "{err}");

    // One file holding a JSON array of bodies, and one holding a body.
    let mut bodies = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        bodies.push(
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(path).unwrap()).unwrap(),
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let array = tmp.path().join("bodies.json");
    std::fs::write(&array, serde_json::to_vec(&bodies).unwrap()).unwrap();
    let (ok, from_array, err) = inspect(&[array.to_str().unwrap()], None);
    assert!(ok, "{err}");
    // The same items in the same order (raw keys in serde_json's order).
    let ids = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect()
    };
    assert_eq!(ids(&from_array), ids(&from_dir));
    let one = format!("{dir}/10_echoes.json");
    let (ok, echoes, err) = inspect(&[&one], None);
    assert!(ok, "{err}");
    assert_eq!(echoes.lines().count(), 4);
}
