//! `archiver inspect`: the items of an export file, of WhatsApp Cloud API
//! webhook bodies, or of decrypted WeCom messages (`--source wecom`), as
//! JSON lines on stdout.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono_tz::Tz;
use memmap2::{Mmap, MmapOptions};
use shared::item::JsonLines;
use shared::sources::whatsapp_cloud;
use shared::sources::whatsapp_export::{
    Export, Format, OpenError, ReadOptions, ZipLimits, open_as, open_file,
};
use shared::store::ObjectFile;

/// Print the items of an export, webhook bodies or WeCom messages as JSON lines
///
/// Prints what the archiver would read from a file, one normalised item per
/// line as JSON (the format of the raw batches in the archive store) on
/// stdout, and on stderr every line the parser doubts (with its line
/// number and why). Reads no configuration and writes nothing: use it to
/// check an export before dropping it, or to see why a file was refused.
///
/// Exit codes: 0 the file was read; 1 it could not be read or recognised,
/// or (WeCom) some message could not be read (the message names the file,
/// the message and what is wrong).
///
/// Examples: `archiver inspect "WhatsApp Chat with Bob.txt" --tz
/// Europe/London --custodian +447700900123`; `archiver inspect bodies/
/// --source whatsapp-cloud`.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The export (a chat .txt or a .zip with media), or webhook bodies (a
    /// .json file with one body or a JSON array of bodies, or a directory
    /// of .json files). With `--source wecom`: decrypted messages (a file
    /// of JSON objects, one per line as DecryptData returns them, or a JSON
    /// array; or a directory of `.json` files holding one each).
    file: PathBuf,
    /// What the file is; recognised from its content when not given.
    #[arg(long, value_enum)]
    source: Option<SourceArg>,
    /// Time zone of the exporting device (IANA name).
    #[arg(long, default_value = "UTC")]
    tz: Tz,
    /// The employee whose phone made the export (phone number or e-mail).
    #[arg(long, default_value = "unknown")]
    custodian: String,
}

/// The sources `inspect` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceArg {
    /// A WhatsApp "Export chat" file.
    WhatsappExport,
    /// WhatsApp Business Platform (Cloud API) webhook bodies.
    WhatsappCloud,
    /// Decrypted WeCom messages (never recognised: name it).
    Wecom,
}

/// A chat text's bytes: mapped when it is a regular file (its pages come
/// straight from the page cache, without a copy), read otherwise (a pipe).
enum Input {
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl Input {
    // Memory-mapping a file is the one place the command needs unsafe code.
    #[allow(unsafe_code)]
    fn open(path: &Path) -> Result<Self, String> {
        let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let mut file = File::open(path).map_err(cannot)?;
        if !file.metadata().map_err(cannot)?.is_file() {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(cannot)?;
            return Ok(Input::Read(bytes));
        }
        // SAFETY: the map is only read. An export is a file handed over for
        // inspection, not one being written: if another process changed it
        // meanwhile, the text read could change under the parser.
        let map = unsafe { MmapOptions::new().populate().map(&file) }.map_err(cannot)?;
        Ok(Input::Mapped(map))
    }
}

impl Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped(map) => map,
            Input::Read(bytes) => bytes,
        }
    }
}

/// Opens a zip export from its file (a pipe is copied to a temporary
/// file first: a zip is read from its end).
fn open_zip(path: &Path, file_name: &str) -> Result<Export<'static>, OpenError> {
    let file = File::open(path).map_err(OpenError::Read)?;
    let metadata = file.metadata().map_err(OpenError::Read)?;
    let content = if metadata.is_file() {
        ObjectFile::new(file, metadata.len())
    } else {
        ObjectFile::from_reader(file).map_err(OpenError::Read)?
    };
    open_file(&content, file_name, &ZipLimits::default())
}

/// Parses the file and prints one JSON item per line; writes nothing else
/// to stdout (the parser's warnings, by line number, go to stderr).
pub fn inspect(args: &Args) -> crate::CliResult {
    let source = match args.source {
        Some(source) => source,
        None => recognise(&args.file),
    };
    match source {
        SourceArg::WhatsappCloud => return inspect_webhooks(&args.file),
        SourceArg::Wecom => return inspect_wecom(&args.file),
        SourceArg::WhatsappExport => {}
    }
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let problem = |e: &dyn std::fmt::Display| format!("{}: {e}", args.file.display());
    // A pipe or a name without `.zip` is read as chat text, as before; a
    // zip is read from its file (its media go to temporary files).
    let bytes;
    let export: Export<'_> = match Format::of_name(&file_name) {
        Some(Format::Zip) => open_zip(&args.file, &file_name).map_err(|e| problem(&e))?,
        _ => {
            bytes = Input::open(&args.file)?;
            open_as(&bytes, Format::Text, &file_name, &ZipLimits::default())
                .map_err(|e| problem(&e))?
        }
    };
    let opts = ReadOptions {
        custodian: &args.custodian,
        tz: args.tz,
        date_order: None,
        custodian_names: &[],
    };
    let written = export
        .write_items(&opts, std::io::stdout().lock())
        .map_err(|e| problem(&e))?;
    drop(written.out);
    // Doubtful lines go to stderr, so that stdout stays JSON lines.
    for summary in &written.summary.chats {
        for warning in &summary.warnings {
            eprintln!("{}", problem(warning));
        }
        let unlisted = summary.warning_count - summary.warnings.len() as u64;
        if unlisted > 0 {
            eprintln!("{}", problem(&format!("{unlisted} more warnings")));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `path` holds: webhook bodies when it is a directory or a file of
/// them, an export otherwise.
fn recognise(path: &Path) -> SourceArg {
    if path.is_dir() {
        return SourceArg::WhatsappCloud;
    }
    // Only a regular file is looked into (a pipe read here would be gone),
    // and only read whole when it starts like JSON.
    let starts_like_json = || -> std::io::Result<bool> {
        let mut head = [0u8; 256];
        let read = File::open(path)?.read(&mut head)?;
        Ok(head[..read]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'{' | b'[')))
    };
    let looks_like_json = path.metadata().is_ok_and(|m| m.is_file())
        && starts_like_json().unwrap_or(false)
        && std::fs::read(path).is_ok_and(|bytes| whatsapp_cloud::is_webhook(&bytes));
    if looks_like_json {
        SourceArg::WhatsappCloud
    } else {
        SourceArg::WhatsappExport
    }
}

/// The bodies at `path`, named for messages: a file's (one body, or each
/// element of a JSON array), or every `.json` file under a directory, in
/// name order.
fn webhook_bodies(path: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let cannot = |path: &Path, e: std::io::Error| format!("cannot read {}: {e}", path.display());
    if !path.is_dir() {
        let bytes = std::fs::read(path).map_err(|e| cannot(path, e))?;
        let name = path.display().to_string();
        let array = serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(&bytes);
        return Ok(match array {
            Ok(bodies) => bodies
                .iter()
                .enumerate()
                .map(|(i, body)| (format!("{name}[{i}]"), body.get().as_bytes().to_vec()))
                .collect(),
            Err(_) => vec![(name, bytes)],
        });
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| cannot(&dir, e))? {
            let entry = entry.map_err(|e| cannot(&dir, e))?.path();
            if entry.is_dir() {
                dirs.push(entry);
            } else if entry.extension().is_some_and(|e| e == "json") {
                files.push(entry);
            }
        }
    }
    files.sort();
    let mut bodies = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| cannot(&file, e))?;
        bodies.push((file.display().to_string(), bytes));
    }
    Ok(bodies)
}

/// Prints the items of webhook bodies, one per wamid in time order, as
/// JSON lines; what the bodies report (statuses, errors, bodies that are
/// none) goes to stderr.
fn inspect_webhooks(path: &Path) -> crate::CliResult {
    let bodies = webhook_bodies(path)?;
    let inspection = whatsapp_cloud::inspect(&bodies, chrono::Utc::now());
    let mut out = JsonLines::new(std::io::stdout().lock());
    for item in &inspection.items {
        out.write(item).map_err(|e| format!("cannot write: {e}"))?;
    }
    drop(out.into_inner().map_err(|e| format!("cannot write: {e}"))?);
    for note in &inspection.notes {
        eprintln!("{note}");
    }
    for (day, statuses) in &inspection.statuses {
        let counts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} {n}")).collect();
        eprintln!(
            "delivery statuses on {day} (not items): {}",
            counts.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the items of decrypted WeCom messages (media not downloaded: the
/// attachments are named, not stored). A message that cannot be read is
/// named on stderr and the others are printed; the exit code then says so.
fn inspect_wecom(path: &Path) -> crate::CliResult {
    use std::io::Write;

    use shared::sources::wecom::message::{Message, split_messages};

    let cannot = |p: &Path, e: std::io::Error| format!("cannot read {}: {e}", p.display());
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| cannot(path, e))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "json") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).map_err(|e| cannot(&file, e))?;
            inputs.push((file, bytes));
        }
    } else {
        let bytes = std::fs::read(path).map_err(|e| cannot(path, e))?;
        inputs.push((path.to_owned(), bytes));
    }
    let stdout = std::io::stdout().lock();
    let mut lines = JsonLines::new(stdout);
    let mut failed = 0;
    for (file, bytes) in &inputs {
        for (n, json) in split_messages(bytes).into_iter().enumerate() {
            match Message::parse(json).and_then(|message| {
                let files = vec![None; message.media().len()];
                message.item(&files)
            }) {
                Ok(item) => lines.write(&item)?,
                Err(e) => {
                    failed += 1;
                    eprintln!("{}: message {}: {e}", file.display(), n + 1);
                }
            }
        }
    }
    lines.into_inner()?.flush()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
