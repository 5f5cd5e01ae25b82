//! Memory does not grow with what people send, measured on the real
//! `archiver` binary: its peak resident set as a child process, from
//! `getrusage(RUSAGE_CHILDREN)` once it has exited. This file holds one
//! test, so that child is the only one the figure can come from.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

use nix::sys::resource::{UsageWho, getrusage};
use zip::write::SimpleFileOptions;

/// The bound the issue sets on refusing a zip bomb.
const BOMB_PEAK_LIMIT_KIB: i64 = 64 << 10;

/// Writes a zip whose one attachment is 2 GiB of zeros (about 2 MB
/// deflated) beside a chat text that refers to it.
fn write_bomb(path: &Path) {
    let file = BufWriter::new(fs::File::create(path).unwrap());
    let mut writer = zip::ZipWriter::new(file);
    let deflated = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .large_file(true);
    writer.start_file("_chat.txt", deflated).unwrap();
    writer
        .write_all(b"[10/11/26, 14:02:17] Carol: <attached: zeros.bin>\n")
        .unwrap();
    writer.start_file("zeros.bin", deflated).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..2048 {
        writer.write_all(&zeros).unwrap();
    }
    writer.finish().unwrap().flush().unwrap();
}

#[test]
fn a_zip_bomb_is_refused_with_peak_memory_under_64_mb() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let custodian = root.join("drops/drop/whatsapp-export/alice@corp.example");
    fs::create_dir_all(&custodian).unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    let bomb = custodian.join("WhatsApp Chat - Bomb.zip");
    write_bomb(&bomb);
    let size = fs::metadata(&bomb).unwrap().len();
    assert!(size < 4 << 20, "the bomb is {size} bytes");
    let config = root.join("archiver.toml");
    fs::write(
        &config,
        "time_zone = \"Europe/London\"\ndefault_region = \"GB\"\n\
         [store]\npath = \"store\"\n[drops]\npath = \"drops\"\n\
         [maildir]\npath = \"maildir\"\n\
         [mapping]\ncustodian_domains = [\"corp.example\"]\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .args(["run", "--config"])
        .arg(&config)
        // Its entries are inflated into temporary files here.
        .env("TMPDIR", root.join("tmp"))
        .output()
        .unwrap();
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let refused: Vec<_> = fs::read_dir(root.join("store/failed/drops"))
        .unwrap_or_else(|e| panic!("no refusal recorded ({e}): {said}"))
        .map(|entry| fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(refused.len(), 1, "{said}");
    assert!(
        refused[0].contains("expands more than 200:1"),
        "{}",
        refused[0]
    );
    assert!(
        peak_kib < BOMB_PEAK_LIMIT_KIB,
        "refusing the bomb peaked at {peak_kib} KiB"
    );
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    eprintln!("zip bomb ({size} bytes, 2 GiB of zeros) refused at a peak of {peak_kib} KiB");
}
