//! The large-media figure: how far memory rises above idle when an export
//! zip holding one 200 MB and one 1 GB attachment goes through the
//! embedded run (`archiver run` into Maildir, the attachment limit raised
//! above both), and through its collect stage alone.
//!
//! Method: every figure is the peak resident set of one child process,
//! read with `getrusage(RUSAGE_CHILDREN)` by an intermediate `archiver`
//! process that starts only that child (`--peak-rss`), so no other child
//! counts. Idle is the same command over an empty drop folder (the
//! program, its runtime and settings, no drop); the figure is the peak
//! above it.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::resource::{UsageWho, getrusage};
use shared::layout::CollectionDay;
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::LocalDir;
use zip::write::SimpleFileOptions;

/// The attachments of the generated export, in MB (10^6 bytes).
const ATTACHMENTS_MB: [usize; 2] = [200, 1000];

/// The custodian (and mailbox) of the generated export.
const CUSTODIAN: &str = "bench@corp.example";

/// Runs the figure in a fresh directory under the system's temporary
/// directory (it needs about 7 GB of disk) and prints it.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("archiver-bench-media-{}", std::process::id()));
    let result = measure(&dir);
    fs::remove_dir_all(&dir)?;
    let figures = result?;
    println!(
        "large media:     one {} MB and one {} MB attachment, peak memory above idle: \
         collect alone {:.0} MB, whole run (collect, convert, deliver into Maildir) {:.0} MB \
         (idle {:.0} MB)",
        ATTACHMENTS_MB[0],
        ATTACHMENTS_MB[1],
        mib(figures.collect - figures.collect_idle),
        mib(figures.run - figures.run_idle),
        mib(figures.run_idle),
    );
    Ok(())
}

/// Peak resident sets, in KiB.
struct Figures {
    collect_idle: i64,
    collect: i64,
    run_idle: i64,
    run: i64,
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

fn measure(dir: &Path) -> Result<Figures, Box<dyn std::error::Error>> {
    let idle = config(&dir.join("idle"))?;
    let large = config(&dir.join("large"))?;
    let drop = dir.join("large/drops/drop/whatsapp-export").join(CUSTODIAN);
    fs::create_dir_all(&drop)?;
    write_export(&drop.join("WhatsApp Chat - Media.zip"))?;
    let collect_idle = peak_rss(&["bench", "--collect-only"], &idle)?;
    let collect = peak_rss(&["bench", "--collect-only"], &large)?;
    // The whole run starts from the same drop, with nothing collected yet.
    fs::remove_dir_all(dir.join("large/store"))?;
    let run_idle = peak_rss(&["run", "--config"], &idle)?;
    let run = peak_rss(&["run", "--config"], &large)?;
    Ok(Figures {
        collect_idle,
        collect,
        run_idle,
        run,
    })
}

/// Writes a configuration for a run in `dir`: drops, store, Maildir and
/// temporary files all under it, every attachment inline.
fn config(dir: &Path) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir.join("drops/drop/whatsapp-export"))?;
    fs::create_dir_all(dir.join("tmp"))?;
    let path = dir.join("archiver.toml");
    fs::write(
        &path,
        format!(
            "time_zone = \"Europe/London\"\ndefault_region = \"GB\"\n\
             [store]\npath = \"store\"\n[drops]\npath = \"drops\"\n\
             [maildir]\npath = \"maildir\"\n\
             [mapping]\ncustodian_domains = [\"corp.example\"]\n\
             [render]\nattachment_limit = {}\n",
            4u64 << 30
        ),
    )?;
    Ok(path)
}

/// Writes the export: a chat text referring to both attachments, and the
/// attachments (pseudo-random bytes, stored as WhatsApp stores media).
fn write_export(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut writer = zip::ZipWriter::new(BufWriter::new(fs::File::create(path)?));
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let names: Vec<String> = ATTACHMENTS_MB
        .iter()
        .enumerate()
        .map(|(n, mb)| format!("{:08}-VIDEO-2026-11-21-09-00-0{n}-{mb}MB.mp4", n + 1))
        .collect();
    writer.start_file("_chat.txt", stored)?;
    for (n, name) in names.iter().enumerate() {
        writeln!(writer, "[21/11/26, 09:00:0{n}] Bench: <attached: {name}>")?;
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut chunk = vec![0u8; 1 << 20];
    for (name, mb) in names.iter().zip(ATTACHMENTS_MB) {
        writer.start_file(name.as_str(), stored)?;
        let mut left = mb * 1_000_000;
        while left > 0 {
            for word in chunk.chunks_exact_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            let part = left.min(chunk.len());
            writer.write_all(&chunk[..part])?;
            left -= part;
        }
    }
    writer.finish()?.flush()?;
    Ok(())
}

/// The peak resident set (KiB) of `archiver <args> <config>`, measured by
/// an intermediate process ([`peak_rss_of`]) that starts only it.
fn peak_rss(args: &[&str], config: &Path) -> Result<i64, Box<dyn std::error::Error>> {
    let dir = config.parent().expect("a config is in a directory");
    let output = Command::new(std::env::current_exe()?)
        .args(["bench", "--peak-rss", "--"])
        .args(args)
        .arg(config)
        .env("TMPDIR", dir.join("tmp"))
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("archiver {} failed: {}", args.join(" "), output.status).into());
    }
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

/// Runs `archiver <args>` as the only child and prints its peak resident
/// set in KiB (what [`peak_rss`] reads).
pub fn peak_rss_of(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let status = Command::new(std::env::current_exe()?)
        .args(args)
        .stdout(Stdio::null())
        .status()?;
    // `archiver run` says 2 when its report lists errors; none are expected.
    if !status.success() {
        return Err(format!("archiver {} failed: {status}", args.join(" ")).into());
    }
    println!("{}", getrusage(UsageWho::RUSAGE_CHILDREN)?.max_rss());
    Ok(())
}

/// The collect stage alone over a configuration's drops and store (the
/// child [`measure`] starts for the collect-only figure).
pub fn collect_only(config: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let settings = LocalSettings::load(config)?;
    let mut sources = settings.sources.configured(|dir| LocalDir::new(dir));
    let store = LocalDir::new(&settings.store);
    let day = CollectionDay(chrono::Utc::now().date_naive());
    let mut report = Report::default();
    crate::runtime()?.block_on(shared::collect::collect(
        &mut sources,
        &store,
        day,
        &mut report,
    ))?;
    if !report.errors.is_empty() {
        return Err(format!("collect errors: {:?}", report.errors).into());
    }
    Ok(())
}
