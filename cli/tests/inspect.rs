//! `archiver inspect` reads an export from a file or from a pipe.

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
