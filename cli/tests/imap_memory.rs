//! Over IMAP, a run's memory stays under 1.5x the largest message it
//! appends: a 30 MB EML (a 22 MB attachment, base64) from an export zip
//! through `archiver run` into a real, throwaway Dovecot
//! (`infra/dovecot.sh`). Peak memory is the children's
//! (`getrusage(RUSAGE_CHILDREN)`): the script that starts Dovecot (a
//! small shell) and the `archiver` run; the server itself runs detached.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

use nix::sys::resource::{UsageWho, getrusage};
use zip::write::SimpleFileOptions;

/// The attachment's size: its message is about 30 MB once encoded.
const ATTACHMENT_BYTES: usize = 22 << 20;

/// Runs `infra/dovecot.sh <action> <dir>`; returns what it printed.
fn dovecot(action: &str, dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/dovecot.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(action)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "infra/dovecot.sh {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Stops the server when the test ends, passed or not.
struct Stop<'a>(&'a Path);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        dovecot("stop", self.0);
    }
}

/// Writes an export zip whose one message carries `big.bin`.
fn write_export(path: &Path) {
    let file = BufWriter::new(fs::File::create(path).unwrap());
    let mut writer = zip::ZipWriter::new(file);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file("_chat.txt", stored).unwrap();
    writer
        .write_all(b"[10/11/26, 14:02:17] Alice: <attached: big.bin>\n")
        .unwrap();
    writer.start_file("big.bin", stored).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..ATTACHMENT_BYTES / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    writer.write_all(&bytes).unwrap();
    writer.finish().unwrap().flush().unwrap();
}

#[test]
fn a_30_mb_message_is_appended_with_memory_under_one_and_a_half_times_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let server = root.join("dovecot");
    fs::create_dir_all(&server).unwrap();
    let address = dovecot("start", &server);
    let _stop = Stop(&server);
    fs::create_dir_all(root.join("secrets")).unwrap();
    fs::copy(server.join("password"), root.join("secrets/imap-password")).unwrap();
    let custodian = root.join("drops/drop/whatsapp-export/alice@corp.example");
    fs::create_dir_all(&custodian).unwrap();
    write_export(&custodian.join("WhatsApp Chat - Big.zip"));
    let config = root.join("archiver.toml");
    fs::write(
        &config,
        format!(
            "time_zone = \"Europe/London\"\ndefault_region = \"GB\"\n\
             [store]\npath = \"store\"\n[drops]\npath = \"drops\"\n\
             [secrets]\npath = \"secrets\"\n\
             [imap]\nurl = \"imap://{address}\"\nauth = \"password\"\n\
             password_secret = \"imap-password\"\n\
             [mapping]\ncustodian_domains = [\"corp.example\"]\n\
             [render]\nattachment_limit = 100000000\n"
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_archiver"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();

    let emls: Vec<u64> = fs::read_dir(root.join("store/eml"))
        .unwrap()
        .flat_map(|day| fs::read_dir(day.unwrap().path()).unwrap())
        .map(|eml| eml.unwrap().metadata().unwrap().len())
        .collect();
    let largest = *emls.iter().max().unwrap();
    assert!(largest > 29 << 20, "the message is {largest} bytes");
    let delivered: Vec<_> =
        fs::read_dir(server.join("mail/alice@corp.example/.WhatsApp Archiver/cur"))
            .unwrap_or_else(|e| panic!("nothing delivered ({e}): {said}"))
            .map(|file| file.unwrap().metadata().unwrap().len())
            .collect();
    // Dovecot keeps lines with LF endings: a little shorter than the EML.
    assert!(
        delivered.iter().any(|&len| len > largest / 100 * 97),
        "the large message ({largest} bytes) is in the mailbox: {delivered:?}"
    );
    let limit_kib = i64::try_from(largest * 3 / 2 / 1024).unwrap();
    assert!(
        peak_kib < limit_kib,
        "peak {peak_kib} KiB for a {largest}-byte message (limit {limit_kib} KiB)"
    );
    eprintln!("peak {peak_kib} KiB for a {largest}-byte message");
}
