//! `archiver inspect`: the items of a source's input as JSON lines on
//! stdout: a WhatsApp export file, or decrypted WeCom messages
//! (`--source wecom`).

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono_tz::Tz;
use memmap2::{Mmap, MmapOptions};
use shared::sources::whatsapp_export::{
    Export, Format, OpenError, ReadOptions, ZipLimits, open_as, open_file,
};
use shared::store::ObjectFile;

/// The sources `archiver inspect` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SourceName {
    /// A WhatsApp "Export chat" file.
    WhatsappExport,
    /// Decrypted WeCom messages.
    Wecom,
}

/// Arguments of `archiver inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The export: a chat .txt or a .zip with media. With `--source wecom`:
    /// a file of decrypted messages (one JSON object per line, as
    /// DecryptData returns them, or a JSON array) or a directory of `.json`
    /// files holding one each.
    file: PathBuf,
    /// What the file is.
    #[arg(long, value_enum, default_value = "whatsapp-export")]
    source: SourceName,
    /// Time zone of the exporting device (IANA name).
    #[arg(long, default_value = "UTC")]
    tz: Tz,
    /// The employee whose phone made the export (phone number or e-mail).
    #[arg(long, default_value = "unknown")]
    custodian: String,
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
    if args.source == SourceName::Wecom {
        return inspect_wecom(&args.file);
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

/// Prints the items of decrypted WeCom messages (media not downloaded: the
/// attachments are named, not stored). A message that cannot be read is
/// named on stderr and the others are printed; the exit code then says so.
fn inspect_wecom(path: &Path) -> crate::CliResult {
    use std::io::Write;

    use shared::item::JsonLines;
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
