//! The end-to-end figure: a generated export zip (a group chat with about
//! 4% attachments, three mapped participants) through `archiver run` into
//! Maildir, timed as a child process started on every core.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::data;

/// What one end-to-end run did.
pub struct Figures {
    /// Size of the chat text, bytes.
    pub text_bytes: usize,
    /// Attachments in the zip.
    pub attachments: usize,
    /// Messages delivered (Maildir files written).
    pub copies: usize,
    /// EMLs written.
    pub items: usize,
    /// Wall time of `archiver run`.
    pub wall: Duration,
}

/// The mailboxes the generated chat maps to: the custodian (a custodian
/// domain address) and the two members known by phone number.
const CSV: &str = "External User ID,Microsoft 365 User Mailbox\n\
                   +44 7700 900123,uk.member@corp.example\n\
                   +1 415-555-0132,us.member@corp.example\n";

/// Generates the drop, config and mapping under `dir` and runs `archiver
/// run` on them once.
pub fn run(dir: &Path, text_bytes: usize) -> Result<Figures, Box<dyn std::error::Error>> {
    let text = data::generate_android_export(text_bytes, 11);
    let custodian = dir.join("drops/drop/whatsapp-export/bench@corp.example");
    std::fs::create_dir_all(&custodian)?;
    let attachments = write_zip(&custodian.join("WhatsApp Chat - Sales EMEA.zip"), &text)?;
    std::fs::write(dir.join("mapping.csv"), CSV)?;
    let mut config = String::new();
    writeln!(config, "time_zone = \"Europe/London\"")?;
    writeln!(config, "default_region = \"GB\"")?;
    writeln!(config, "[store]\npath = \"archive\"")?;
    writeln!(config, "[drops]\npath = \"drops\"")?;
    writeln!(config, "[maildir]\npath = \"maildir\"")?;
    writeln!(
        config,
        "[mapping]\ncsv = \"mapping.csv\"\ncustodian_domains = [\"corp.example\"]"
    )?;
    std::fs::write(dir.join("bench.toml"), config)?;

    let start = Instant::now();
    let output = Command::new(std::env::current_exe()?)
        .args(["run", "--config"])
        .arg(dir.join("bench.toml"))
        .args(["--day", "2026-11-21"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()?;
    let wall = start.elapsed();
    if !output.status.success() {
        return Err(format!(
            "archiver run failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout)
        )
        .into());
    }
    Ok(Figures {
        text_bytes: text.len(),
        attachments,
        copies: count_files(&dir.join("maildir"), "cur")?,
        items: count_files(&dir.join("archive/eml"), "")?,
        wall,
    })
}

/// Writes the export zip: the chat text and a small file for every
/// attachment it names; returns how many attachments.
fn write_zip(path: &Path, text: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    let deflated = zip::write::SimpleFileOptions::default();
    zip.start_file("WhatsApp Chat - Sales EMEA.txt", deflated)?;
    zip.write_all(text.as_bytes())?;
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(head) = line.strip_suffix(" (file attached)")
            && let Some((_, name)) = head.rsplit_once(": ")
        {
            names.insert(name.to_owned());
        }
    }
    for (n, name) in names.iter().enumerate() {
        zip.start_file(name.as_str(), stored)?;
        // 2 to 40 KB of bytes that differ per file.
        let size = 2_000 + (n * 7_919) % 38_000;
        let content: Vec<u8> = (0..size)
            .map(|i| (i as u64 ^ (n as u64).wrapping_mul(0x9e37_79b9)) as u8)
            .collect();
        zip.write_all(&content)?;
    }
    zip.finish()?;
    Ok(names.len())
}

/// Counts the files under `dir` whose parent directory is named `parent`
/// (any parent when empty).
fn count_files(dir: &Path, parent: &str) -> std::io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            count += count_files(&path, parent)?;
        } else if parent.is_empty()
            || path.parent().and_then(Path::file_name) == Some(parent.as_ref())
        {
            count += 1;
        }
    }
    Ok(count)
}
