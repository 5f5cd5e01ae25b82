//! A 200 MB attachment goes from an export zip through collect, convert
//! and deliver into a Maildir copy with the process's peak memory at most
//! 64 MB above idle, and arrives intact. Measured on the real `archiver`
//! binary as a child process (`getrusage(RUSAGE_CHILDREN)`): this file
//! holds one test, so its children are the only ones counted.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

use base64::Engine;
use nix::sys::resource::{UsageWho, getrusage};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// The attachment's size.
const ATTACHMENT_BYTES: usize = 200 << 20;

/// The bound the issue sets, above an idle run.
const ABOVE_IDLE_LIMIT_KIB: i64 = 64 << 10;

/// Writes an export zip whose one message carries a `big.bin` of
/// [`ATTACHMENT_BYTES`] pseudo-random (incompressible) bytes; returns their
/// SHA-256.
fn write_export(path: &Path) -> [u8; 32] {
    let file = BufWriter::new(fs::File::create(path).unwrap());
    let mut writer = zip::ZipWriter::new(file);
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    writer.start_file("_chat.txt", stored).unwrap();
    writer
        .write_all(b"[10/11/26, 14:02:17] Alice: <attached: big.bin>\n")
        .unwrap();
    writer.start_file("big.bin", stored).unwrap();
    let mut hasher = Sha256::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..ATTACHMENT_BYTES / chunk.len() {
        for word in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        hasher.update(&chunk);
        writer.write_all(&chunk).unwrap();
    }
    writer.finish().unwrap().flush().unwrap();
    hasher.finalize().into()
}

/// Writes a config over `root` whose attachment limit lets the file in.
fn write_config(root: &Path) -> std::path::PathBuf {
    fs::create_dir_all(root.join("drops/drop/whatsapp-export/alice@corp.example")).unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    let config = root.join("archiver.toml");
    fs::write(
        &config,
        "time_zone = \"Europe/London\"\ndefault_region = \"GB\"\n\
         [store]\npath = \"store\"\n[drops]\npath = \"drops\"\n\
         [maildir]\npath = \"maildir\"\n\
         [mapping]\ncustodian_domains = [\"corp.example\"]\n\
         [render]\nattachment_limit = 300000000\n",
    )
    .unwrap();
    config
}

/// Runs `archiver run` over `root`; returns what it printed.
fn run(root: &Path, config: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .args(["run", "--config"])
        .arg(config)
        .env("TMPDIR", root.join("tmp"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    said
}

/// The base64 body of the part whose file name is `name`, decoded.
fn attachment(message: &[u8], name: &str) -> Vec<u8> {
    let text = std::str::from_utf8(message).expect("an EML is ASCII");
    let part = text
        .find(&format!("filename=\"{name}\""))
        .expect("the part is there");
    let body = part + text[part..].find("\r\n\r\n").expect("headers end") + 4;
    let end = body + text[body..].find("\r\n--").expect("the part ends");
    let encoded: String = text[body..end].split("\r\n").collect();
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("valid base64")
}

#[test]
fn a_200_mb_attachment_reaches_maildir_with_memory_at_most_64_mb_above_idle() {
    let idle_dir = tempfile::tempdir().unwrap();
    let idle_config = write_config(idle_dir.path());
    run(idle_dir.path(), &idle_config);
    let idle_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = write_config(root);
    let sha256 = write_export(
        &root.join("drops/drop/whatsapp-export/alice@corp.example/WhatsApp Chat - Big.zip"),
    );
    let said = run(root, &config);
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();
    assert!(
        peak_kib - idle_kib <= ABOVE_IDLE_LIMIT_KIB,
        "the run peaked at {peak_kib} KiB, {} KiB above idle ({idle_kib} KiB)",
        peak_kib - idle_kib
    );

    let cur = root.join("maildir/alice@corp.example/.WhatsApp Archiver/cur");
    let copies: Vec<_> = fs::read_dir(&cur)
        .unwrap_or_else(|e| panic!("no Maildir copy ({e}): {said}"))
        .map(|entry| fs::read(entry.unwrap().path()).unwrap())
        .filter(|message| message.len() > ATTACHMENT_BYTES)
        .collect();
    assert_eq!(copies.len(), 1, "{said}");
    let delivered = attachment(&copies[0], "big.bin");
    assert_eq!(delivered.len(), ATTACHMENT_BYTES);
    assert_eq!(<[u8; 32]>::from(Sha256::digest(&delivered)), sha256);
    eprintln!(
        "idle {idle_kib} KiB, peak {peak_kib} KiB, {} KiB above idle",
        peak_kib - idle_kib
    );
}
