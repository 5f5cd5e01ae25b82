//! Export bundles for legal review: the stored e-mails of one custodian (or
//! mailbox, or source) over a range of days, in one zip with a manifest and
//! a load file that review tools import.
//!
//! A bundle holds:
//! - `messages/<item-day>/<item-id>.eml`: each selected e-mail, byte for
//!   byte as the archive stores it (streamed from the store, any size);
//! - `manifest.json` ([`Manifest`]): the selection, the count, and each
//!   file's name, size and SHA-256;
//! - `loadfile.csv`: one row per message (Message-ID, date, from, to,
//!   subject, conversation, source, kind, attachment names, file path).
//!
//! The same selection over the same store gives the same bytes: entries in
//! name order, stored (not compressed: EMLs are mostly base64 already),
//! each dated by its item day, and the manifest's `as_of` is the end of the
//! last day selected (not the clock), so a second export can be compared
//! with `cmp` and an auditor can reproduce one. [`verify`] re-checks a
//! bundle against its manifest.

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};

use chrono::NaiveDate;
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use crate::digest::{self, DigestError};
use crate::escape::escaped;
use crate::layout::{DigestKey, EML_PREFIX, ItemDay, ledger_key};
use crate::render::MESSAGE_ID_DOMAIN;
use crate::store::{ObjectStore, StoreError, sha256_of};

/// The manifest's format name.
pub const FORMAT: &str = "mobile-archiver-export/1";

/// The manifest's name in the zip.
pub const MANIFEST: &str = "manifest.json";

/// The load file's name in the zip.
pub const LOAD_FILE: &str = "loadfile.csv";

/// Longest header block read from an e-mail (top headers or a part's).
const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// Longest piece of a body line read at once.
const MAX_LINE: u64 = 64 * 1024;

/// Why a bundle cannot be written or checked.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The store cannot be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bundle file cannot be written or read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The zip cannot be written or is no zip.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// The load file cannot be written.
    #[error("load file: {0}")]
    Csv(#[from] csv::Error),
    /// The selection's days are out of order.
    #[error("--from {from} is after --to {to}")]
    Range {
        /// The first day.
        from: NaiveDate,
        /// The last day.
        to: NaiveDate,
    },
    /// An e-mail listed in the store is gone.
    #[error("{0} was listed but cannot be read")]
    Vanished(String),
    /// The manifest is missing or unreadable.
    #[error("manifest.json is missing or unreadable: {0}")]
    Manifest(String),
    /// The digest records of a day cannot be read.
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// Which e-mails go into a bundle (items' own e-mails: a digest's
/// messages are each there by theirs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Only items of this custodian (`X-Archiver-Custodian`; a phone
    /// number in any form, or an address or name, without regard to case).
    pub custodian: Option<String>,
    /// Only items delivered to this mailbox (per the ledger).
    pub mailbox: Option<String>,
    /// Only items of this source (`whatsapp-export`, `wecom`, …).
    pub source: Option<String>,
    /// The first item day (UTC date of the message).
    pub from: NaiveDate,
    /// The last item day, included.
    pub to: NaiveDate,
}

/// What a bundle holds, as `manifest.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The selection the bundle was made for.
    pub selection: Selection,
    /// The end of the last day selected (RFC 3339, UTC): what the bundle
    /// is as of. (The clock is not written, so the same selection gives
    /// the same bytes.)
    pub as_of: String,
    /// How many messages.
    pub count: usize,
    /// The messages, by file name.
    pub files: Vec<FileEntry>,
    /// SHA-256 of `loadfile.csv`.
    pub load_file_sha256: String,
}

/// One message file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name in the zip (`messages/<day>/<id>.eml`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// One row of the load file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
struct LoadRow {
    message_id: String,
    date: String,
    from: String,
    to: String,
    subject: String,
    conversation: String,
    source: String,
    kind: String,
    attachments: String,
    custodian: String,
    file: String,
}

/// Writes the bundle of `selection` from `store` into `out`; returns its
/// manifest.
///
/// # Errors
///
/// [`BundleError`] when the store, an e-mail or the output fails, or the
/// days are out of order.
pub async fn write<S: ObjectStore, W: Write + Seek>(
    store: &S,
    selection: &Selection,
    out: W,
) -> Result<Manifest, BundleError> {
    if selection.from > selection.to {
        return Err(BundleError::Range {
            from: selection.from,
            to: selection.to,
        });
    }
    let mut zip = zip::ZipWriter::new(out);
    let mut files = Vec::new();
    let mut load = csv::Writer::from_writer(Vec::new());
    let wanted_custodian = selection.custodian.as_deref().map(identity);
    for day in selection.from.iter_days() {
        if day > selection.to {
            break;
        }
        let keys: BTreeSet<String> = store
            .list(&format!("{EML_PREFIX}{day}/"))
            .await?
            .into_iter()
            .collect();
        // Items of a source in digest mode reached the mailbox inside a
        // digest: they have no ledger entry of their own.
        let digested = match &selection.mailbox {
            Some(mailbox) => {
                digest::delivered_in_digests(store, ItemDay(day), &mailbox.to_lowercase()).await?
            }
            None => BTreeSet::new(),
        };
        // Items only: a digest's messages are each in the bundle by their
        // own e-mail.
        for key in keys
            .into_iter()
            .filter(|key| !DigestKey::is_digest_eml(key))
        {
            let Some(id) = key
                .rsplit('/')
                .next()
                .and_then(|name| name.strip_suffix(".eml"))
            else {
                continue;
            };
            if let Some(mailbox) = &selection.mailbox {
                let message_id = format!("{id}@{MESSAGE_ID_DOMAIN}");
                if !digested.contains(id)
                    && store
                        .get(&ledger_key(&mailbox.to_lowercase(), &message_id))
                        .await?
                        .is_none()
                {
                    continue;
                }
            }
            let file = store
                .get_file(&key)
                .await?
                .ok_or_else(|| BundleError::Vanished(key.clone()))?;
            let mut row = describe(&mut BufReader::new(file.reader()))?;
            if selection
                .source
                .as_deref()
                .is_some_and(|source| !row.source.eq_ignore_ascii_case(source))
            {
                continue;
            }
            if wanted_custodian
                .as_deref()
                .is_some_and(|wanted| identity(&row.custodian) != wanted)
            {
                continue;
            }
            let path = format!("messages/{day}/{id}.eml");
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .last_modified_time(zip_date(day))
                .unix_permissions(0o644)
                .large_file(file.len() >= u64::from(u32::MAX));
            zip.start_file(path.as_str(), options)?;
            let mut hashing = Hashing::new(&mut zip);
            io::copy(&mut file.reader(), &mut hashing)?;
            let (size, sha256) = hashing.finish();
            row.file = path.clone();
            load.serialize(&row)?;
            files.push(FileEntry { path, size, sha256 });
        }
    }
    let load = load.into_inner().map_err(|e| e.into_error())?;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip_date(selection.to))
        .unix_permissions(0o644);
    zip.start_file(LOAD_FILE, options)?;
    zip.write_all(&load)?;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        selection: selection.clone(),
        as_of: format!("{}T23:59:59Z", selection.to),
        count: files.len(),
        files,
        load_file_sha256: hex::encode(Sha256::digest(&load)),
    };
    zip.start_file(MANIFEST, options)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).expect("a manifest serializes"))?;
    zip.finish()?;
    Ok(manifest)
}

/// What [`verify`] found wrong, one line each; empty when the bundle
/// matches its manifest.
pub type Findings = Vec<String>;

/// Re-reads a bundle and checks every file against its manifest: each
/// listed file present with its size and SHA-256, the load file's hash,
/// and no file the manifest does not list.
///
/// # Errors
///
/// [`BundleError`] when the file is no zip or has no readable manifest.
pub fn verify<R: Read + Seek>(bundle: R) -> Result<(Manifest, Findings), BundleError> {
    let mut zip = zip::ZipArchive::new(bundle)?;
    let manifest: Manifest = {
        let entry = zip
            .by_name(MANIFEST)
            .map_err(|e| BundleError::Manifest(e.to_string()))?;
        serde_json::from_reader(entry)
            .map_err(|e| BundleError::Manifest(crate::json_error::describe(&e)))?
    };
    let mut findings = Vec::new();
    let mut listed = BTreeSet::new();
    for file in &manifest.files {
        listed.insert(file.path.as_str());
        match zip.by_name(&file.path) {
            Ok(entry) => {
                let (size, sha256) = match sha256_of(entry) {
                    Ok((size, digest)) => (size, hex::encode(digest)),
                    Err(e) => {
                        // The zip's own CRC-32 no longer matches: changed
                        // in place.
                        findings.push(format!(
                            "{}: altered (unreadable: {e})",
                            escaped(&file.path)
                        ));
                        continue;
                    }
                };
                if size != file.size || sha256 != file.sha256 {
                    findings.push(format!(
                        "{}: altered (SHA-256 {sha256}, {size} bytes; the manifest says {}, {} bytes)",
                        escaped(&file.path),
                        escaped(&file.sha256),
                        file.size
                    ));
                }
            }
            Err(_) => findings.push(format!("{}: missing", escaped(&file.path))),
        }
    }
    match zip.by_name(LOAD_FILE) {
        Ok(entry) => {
            let matches = sha256_of(entry)
                .is_ok_and(|(_, digest)| hex::encode(digest) == manifest.load_file_sha256);
            if !matches {
                findings.push(format!("{LOAD_FILE}: altered"));
            }
        }
        Err(_) => findings.push(format!("{LOAD_FILE}: missing")),
    }
    if manifest.count != manifest.files.len() {
        findings.push(format!(
            "{MANIFEST}: count {} but {} files listed",
            manifest.count,
            manifest.files.len()
        ));
    }
    let names: Vec<String> = zip
        .file_names()
        .map(|name| name.map(|name| name.into_owned()))
        .collect::<Result<_, _>>()?;
    for name in names {
        if name != MANIFEST && name != LOAD_FILE && !listed.contains(name.as_str()) {
            findings.push(format!("{}: not in the manifest", escaped(&name)));
        }
    }
    Ok((manifest, findings))
}

/// A custodian as compared: a phone number as `+` and digits, anything
/// else trimmed and lowercase.
fn identity(text: &str) -> String {
    let text = text.trim();
    let phone_like = text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().\u{a0}".contains(c));
    if phone_like {
        text.chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect()
    } else {
        text.to_lowercase()
    }
}

/// A zip entry's date: the day, at midnight.
fn zip_date(day: NaiveDate) -> zip::DateTime {
    use chrono::Datelike;
    zip::DateTime::from_date_and_time(
        u16::try_from(day.year()).unwrap_or(1980),
        day.month() as u8,
        day.day() as u8,
        0,
        0,
        0,
    )
    .unwrap_or_default()
}

/// The load-file row of an e-mail, read as a stream: its top headers, and
/// the header block of each MIME part for attachment names. Bodies are
/// skipped line by line, so an e-mail of any size takes bounded memory.
fn describe(reader: &mut impl BufRead) -> io::Result<LoadRow> {
    let top = header_block(reader)?;
    let parser = MessageParser::default();
    let mut row = LoadRow::default();
    let mut boundaries = BTreeSet::new();
    if let Some(message) = parser.parse_headers(&top) {
        row.message_id = message.message_id().unwrap_or_default().to_owned();
        row.date = message.date().map(|d| d.to_rfc3339()).unwrap_or_default();
        row.from = addresses(message.from());
        row.to = addresses(message.to());
        row.subject = message.subject().unwrap_or_default().to_owned();
        let text = |name: &str| {
            message
                .header(name)
                .and_then(HeaderValue::as_text)
                .unwrap_or_default()
                .to_owned()
        };
        row.conversation = text("X-Archiver-Conversation-Id");
        row.source = text("X-Archiver-Source");
        row.kind = text("X-Archiver-Kind");
        row.custodian = text("X-Archiver-Custodian");
        if let Some(boundary) = message
            .content_type()
            .and_then(|ct| ct.attribute("boundary"))
        {
            boundaries.insert(format!("--{boundary}"));
        }
    }
    let mut attachments = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        // A line longer than this is read in pieces: none of them is a
        // boundary, and memory stays bounded whatever the body holds.
        if reader
            .by_ref()
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)?
            == 0
        {
            break;
        }
        let trimmed = line.trim_ascii_end();
        if !boundaries.contains(std::str::from_utf8(trimmed).unwrap_or_default()) {
            continue;
        }
        let block = header_block(reader)?;
        if let Some(part) = parser.parse_headers(&block) {
            if let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary")) {
                boundaries.insert(format!("--{boundary}"));
            }
            if let Some(name) = part.attachment_name() {
                attachments.push(name.to_owned());
            }
        }
    }
    row.attachments = attachments.join("; ");
    Ok(row)
}

/// Reads header lines up to and including the blank line that ends them
/// (at most [`MAX_HEADER_BLOCK`] bytes), with a blank line appended so the
/// block parses as a message of headers alone.
fn header_block(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut block = Vec::new();
    loop {
        let start = block.len();
        if reader
            .by_ref()
            .take(MAX_LINE)
            .read_until(b'\n', &mut block)?
            == 0
        {
            break;
        }
        if block[start..].trim_ascii().is_empty() || block.len() > MAX_HEADER_BLOCK {
            break;
        }
    }
    block.extend_from_slice(b"\r\n");
    Ok(block)
}

/// Addresses as `Name <address>`, separated by `, `.
fn addresses(address: Option<&mail_parser::Address<'_>>) -> String {
    address
        .map(|address| {
            address
                .iter()
                .map(|a| match (a.name(), a.address()) {
                    (Some(name), Some(address)) => format!("{name} <{address}>"),
                    (None, Some(address)) => address.to_owned(),
                    (Some(name), None) => name.to_owned(),
                    (None, None) => String::new(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// A writer that counts and hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// (bytes written, SHA-256 hex).
    fn finish(self) -> (u64, String) {
        (self.size, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
