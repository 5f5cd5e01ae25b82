//! `archiver export`: one custodian's (or mailbox's) stored e-mails over a
//! range of days as a zip for legal review, and `--verify` of such a zip
//! (see [`shared::bundle`]).

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args as ClapArgs;
use shared::bundle::{self, Selection};

use crate::CliResult;
use crate::archive::{Location, LocationParser, Opened, STORE_HELP};

/// Export a custodian's e-mails over a range of days as a zip for legal review
///
/// Writes every stored e-mail of the selection, byte for byte, into a zip
/// (`messages/<day>/<item-id>.eml`) with `manifest.json` (the selection,
/// the count, each file's size and SHA-256) and `loadfile.csv` (one row
/// per message: Message-ID, date, from, to, subject, conversation, source,
/// kind, attachments, custodian, file) for review tools. Days are item
/// days: the UTC date each message was sent. The same selection over the
/// same store gives a byte-identical zip, whether the store is the
/// config's `[store] path` or `--store` (a directory, or the deployed
/// archive bucket as `s3://bucket[/prefix]`); every e-mail is streamed,
/// whatever its size.
///
/// `--verify FILE.zip` re-reads a bundle and lists every file that does not
/// match its manifest (altered, missing, extra).
///
/// Exit codes: 0 written (or verified clean); 2 nothing matched the
/// selection (an empty bundle is written all the same), or `--verify` found
/// differences; 1 the store, the configuration or the file cannot be read
/// or written.
///
/// Examples:
///   archiver export --config examples/archiver.toml --custodian +447400123001 \
///       --from 2026-11-01 --to 2026-11-30 --out alice-november.zip
///   archiver export --store s3://mobile-archiver-archive-123456789012 \
///       --custodian +447400123001 --from 2026-11-01 --to 2026-11-30 --out alice.zip
///   archiver export --verify alice-november.zip
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Re-check this bundle against its manifest instead of writing one.
    #[arg(long, conflicts_with_all = ["config", "store", "custodian", "mailbox", "source", "from", "to", "out"])]
    verify: Option<PathBuf>,
    /// The TOML configuration (its `[store] path` is read, and
    /// `[mapping] default_region` for a custodian's national number); not
    /// needed with --store.
    #[arg(long, short, required_unless_present_any = ["verify", "store"])]
    config: Option<PathBuf>,
    #[arg(long, value_parser = LocationParser, help = STORE_HELP)]
    store: Option<Location>,
    /// Only items of this custodian (as the drop folder names it: a phone
    /// number in any form (a national one needs --config), or an e-mail
    /// address).
    #[arg(long, required_unless_present_any = ["verify", "mailbox"])]
    custodian: Option<String>,
    /// Only items delivered to this mailbox.
    #[arg(long)]
    mailbox: Option<String>,
    /// Only items of this source (`whatsapp-export`, `whatsapp-cloud`, `wecom`).
    #[arg(long)]
    source: Option<String>,
    /// The first day (UTC date of the message).
    #[arg(long, required_unless_present = "verify")]
    from: Option<NaiveDate>,
    /// The last day, included.
    #[arg(long, required_unless_present = "verify")]
    to: Option<NaiveDate>,
    /// The zip to write (must not exist).
    #[arg(long, required_unless_present = "verify")]
    out: Option<PathBuf>,
    /// Print what was exported (or what --verify found) as one JSON object
    /// instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `archiver export`.
pub fn export(args: &Args) -> CliResult {
    if let Some(path) = &args.verify {
        return verify(path, args.json);
    }
    let (Some(from), Some(to), Some(out)) = (args.from, args.to, &args.out) else {
        return Err("give --from, --to and --out (or --verify FILE.zip)".into());
    };
    let runtime = crate::runtime()?;
    let opened = runtime.block_on(Opened::open(args.config.as_deref(), args.store.as_ref()))?;
    if out.exists() {
        return Err(format!("{} exists already; choose another --out", out.display()).into());
    }
    // A custodian's number in any form (`07400 123001` in the config's
    // default region, `0044 7400 123001`) is the E.164 the archive files
    // it under; without a config, its digits are matched as given.
    let mapper = opened
        .settings
        .as_ref()
        .map(|settings| settings.mapper(&mut shared::report::Report::default()))
        .transpose()?;
    let custodian = args.custodian.as_deref().map(|custodian| {
        mapper
            .as_ref()
            .and_then(|mapper| mapper.normalise_phone(custodian))
            .map_or_else(|| custodian.to_owned(), |e164| e164.into_owned())
    });
    let selection = Selection {
        custodian,
        mailbox: args.mailbox.clone(),
        source: args.source.clone(),
        from,
        to,
    };
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let temporary = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let manifest = runtime.block_on(bundle::write(
        &opened.store,
        &selection,
        temporary.as_file(),
    ))?;
    temporary.as_file().sync_all()?;
    temporary
        .persist_noclobber(out)
        .map_err(|e| format!("cannot write {}: {}", out.display(), e.error))?;
    let bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
    let digest = hex::encode(shared::store::sha256_of(File::open(out)?)?.1);
    if manifest.count == 0 {
        eprintln!(
            "archiver: no stored e-mail matches the selection (custodian as its drop folder \
             names it, days as the UTC dates the messages were sent); {} holds none",
            out.display()
        );
    }
    if args.json {
        let shown = serde_json::json!({
            "messages": manifest.count,
            "bytes": bytes,
            "bundle": out.display().to_string(),
            "sha256": digest,
        });
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        println!(
            "exported {} message(s), {bytes} bytes of e-mail, to {}\nSHA-256 of the bundle: {} \
             (keep it with the request: --verify checks the files against the manifest, this \
             checks the manifest)",
            manifest.count,
            out.display(),
            digest
        );
    }
    Ok(if manifest.count == 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn verify(path: &PathBuf, json: bool) -> CliResult {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (manifest, findings) =
        bundle::verify(file).map_err(|e| format!("{}: {e}", path.display()))?;
    if json {
        let differences: Vec<String> = findings.iter().map(ToString::to_string).collect();
        let shown = serde_json::json!({
            "bundle": path.display().to_string(),
            "messages": manifest.count,
            "differences": differences,
        });
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(if findings.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    for finding in &findings {
        println!("{}: {finding}", path.display());
    }
    if findings.is_empty() {
        println!(
            "{}: {} message(s), every file matches the manifest",
            path.display(),
            manifest.count
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{}: {} difference(s)", path.display(), findings.len());
        Ok(ExitCode::from(2))
    }
}
