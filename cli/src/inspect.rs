//! `archiver inspect`: an export file's items as JSON lines on stdout.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono_tz::Tz;
use memmap2::{Mmap, MmapOptions};
use shared::item::JsonLines;
use shared::sources::whatsapp_export::{Chat, ExportContext, ZipLimits, read_zip};

/// Arguments of `archiver inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The export: a chat .txt or a .zip with media.
    file: PathBuf,
    /// Time zone of the exporting device (IANA name).
    #[arg(long, default_value = "UTC")]
    tz: Tz,
    /// The employee whose phone made the export (phone number or e-mail).
    #[arg(long, default_value = "unknown")]
    custodian: String,
}

/// The file's bytes: mapped when it is a regular file (its pages come
/// straight from the page cache, without a copy), read otherwise (a pipe).
enum Input {
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl Input {
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

/// The bytes as text, checked with SIMD; std's check only runs to describe
/// an error.
fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

/// Parses the file and prints one JSON item per line; writes nothing else.
pub fn inspect(args: &Args) -> crate::CliResult {
    let bytes = Input::open(&args.file)?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (text, chat_name, media) = if file_name.to_ascii_lowercase().ends_with(".zip") {
        let bundle = read_zip(&bytes, &ZipLimits::default())
            .map_err(|e| format!("{}: {e}", args.file.display()))?;
        let media = bundle.media_refs();
        let chat_name = bundle.title_name(&file_name).to_owned();
        (Cow::Owned(bundle.chat_text), chat_name, media)
    } else {
        let text =
            utf8(&bytes).map_err(|e| format!("{} is not UTF-8 text: {e}", args.file.display()))?;
        (Cow::Borrowed(text), file_name, HashMap::new())
    };
    let ctx = ExportContext {
        custodian: &args.custodian,
        file_name: &chat_name,
        tz: args.tz,
        date_order: None,
    };
    let chat = Chat::prepare(&text, &ctx).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let mut out = JsonLines::new(std::io::stdout().lock());
    let mut write_error = None;
    let lookup = |name: &str| media.get(name).cloned();
    chat.visit_items(&lookup, |item| {
        if write_error.is_none() {
            write_error = out.write_lent(item).err();
        }
    });
    if let Some(e) = write_error {
        return Err(e.into());
    }
    drop(out.into_inner()?);
    Ok(ExitCode::SUCCESS)
}
