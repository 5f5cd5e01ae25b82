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
