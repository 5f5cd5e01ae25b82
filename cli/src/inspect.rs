//! `archiver inspect`: an export file's items as JSON lines on stdout.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono_tz::Tz;
use shared::sources::whatsapp_export::{self, ExportContext, ZipLimits, read_zip};

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

/// Parses the file and prints one JSON item per line; writes nothing else.
pub fn inspect(args: &Args) -> crate::CliResult {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
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
        (bundle.chat_text, chat_name, media)
    } else {
        let text = String::from_utf8(bytes)
            .map_err(|e| format!("{} is not UTF-8 text: {e}", args.file.display()))?;
        (text, file_name, HashMap::new())
    };
    let ctx = ExportContext {
        custodian: &args.custodian,
        file_name: &chat_name,
        tz: args.tz,
        date_order: None,
    };
    let stdout = std::io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 20, stdout);
    let mut write_error = None;
    let lookup = |name: &str| media.get(name).cloned();
    whatsapp_export::parse_chat(&text, &ctx, &lookup, &mut |item| {
        if write_error.is_none() {
            let written = serde_json::to_writer(&mut out, &item)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            write_error = written.err();
        }
    })
    .map_err(|e| format!("{}: {e}", args.file.display()))?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
