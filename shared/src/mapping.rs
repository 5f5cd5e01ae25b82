//! Mapping items to mailboxes.
//!
//! 1. The custom mapping CSV ([`MappingTable::from_csv`]) maps source
//!    identities — mobile numbers, WhatsApp business numbers, WeCom userids,
//!    e-mail addresses, saved contact names — to mailbox addresses.
//! 2. Automatic mapping follows: the e-mail address a participant carries,
//!    then, for WeCom items, `{userid}@{id_domain}` when an id domain is
//!    configured.
//! 3. [`Mapper::resolve`] gives every participant that maps, and the item's
//!    custodian (through the CSV or a custodian domain), a copy in their own
//!    mailbox; an item that maps to no one gets
//!    a reason naming the identities tried, for `unmapped/` and the report.
//!
//! # Identities
//!
//! An identity written only with digits and phone punctuation (`+-(). /`) is
//! a phone number: it is normalised to E.164 by the `phonenumber` crate, with
//! the configured default region for national formats (`07700 900123` in GB
//! is `+447700900123`). It is read as people copy numbers: without direction
//! marks and other hidden formatting characters (WhatsApp copies
//! `\u{202a}+44 7400 100032\u{202c}`), with any space-like character as a
//! space, full-width forms (`＋４４`) and Arabic-Indic digits as ASCII,
//! Unicode dashes as `-`, and with a `tel:` prefix and an extension
//! (`;ext=12`, ` x12`, ` ext. 12`) taken off. Every other identity — WeCom
//! userid, e-mail address, display name — is compared without hidden
//! formatting characters, trimmed and lowercase. WeCom treats userids
//! case-insensitively, so `ZhangSan` and `zhangsan` are the same person; a
//! WeCom userid can also be listed as `wecom:<userid>`, which is tried first
//! for WeCom items and is the way to list a userid made only of digits
//! (written bare, it reads as a phone number).
//! Mailbox addresses are stored lowercase.
//!
//! A participant is tried in this order: its phone number, id, then e-mail
//! address in the CSV; its display name in the CSV, only when it has no other
//! identifier (names are not unique, so a number or id always decides); the
//! e-mail address it carries; the id-domain rule. The custodian is looked up
//! in the CSV, or used directly when it is an e-mail address of one of the
//! configured custodian domains. A custodian is whoever an export is dropped
//! under: an address of any other domain would file the export into a
//! mailbox no one chose, so it gets no copy, and
//! [`Resolution::custodian_unmapped`] says why (the convert stage reports
//! it; an item no one else maps to is unmapped with the same reason).
//!
//! # Problems in the CSV
//!
//! A file that is not UTF-8, has no recognisable header, or has a quote
//! that is never closed is a [`MappingError`]: the CSV reader would take
//! every row after such a quote as one field, so the error names the line
//! the quote opened on. Problems of single rows are [`MappingIssue`]s with
//! the row's physical line number; they never stop the rest of the file.
//!
//! - A file whose rows map no identity at all (a header alone, or every row
//!   refused) loads, with an error on the header's line: every item would
//!   be mapped automatically only, most to no one, and that should not pass
//!   as a clean run.
//!
//! - A conflicting duplicate (an identity already mapped to another mailbox)
//!   is an error naming both lines, and the first mapping is kept: the result
//!   does not depend on rows appended later, so a row added at the bottom of
//!   the file cannot silently redirect an employee's archive — the admin has
//!   to edit the row that is in force.
//! - An exact duplicate is a warning: harmless, but worth cleaning up.
//! - A number that parses but is not valid for its region (a typo, a national
//!   number of another country) is a warning and the row is kept, because the
//!   numbering metadata can lag new number ranges; a number that does not
//!   parse at all is an error.
//! - A number with an extension is a warning (no messenger number has one);
//!   the row is kept under the number.
//! - An identity that holds digits but is not written as a phone number
//!   (`+44 7400 1OO032`, `Room 101`) is a warning: it is kept as a name or
//!   userid, which no phone number matches. E-mail addresses and `wecom:`
//!   userids are exempt.

mod identity;
mod resolve;
mod table;

use phonenumber::country::Id;

pub use resolve::{Mapper, Resolution};
pub use table::{IdentityCounts, IssueKind, MappingIssue, MappingTable, Severity};

/// Configuration of mapping.
#[derive(Debug, Clone)]
pub struct MappingOptions {
    /// The region national phone numbers are read in (see [`parse_region`]).
    pub default_region: Id,
    /// The domain WeCom userids are mapped under (`zhangsan` ->
    /// `zhangsan@corp.example`), if any. Applies to WeCom items only, and not
    /// to external contacts or bots.
    pub id_domain: Option<String>,
    /// The domains whose e-mail addresses are accepted as custodians
    /// without a CSV row (`corp.example`: `carol@corp.example` files into
    /// that mailbox). Exact domains, subdomains not included; empty: every
    /// custodian must be in the CSV.
    pub custodian_domains: Vec<String>,
}

/// A fatal problem: the mapping file cannot be read, or the configuration is
/// wrong.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file is UTF-16, as some spreadsheet "Unicode text" exports are.
    #[error("the mapping file is UTF-16; save it as \"CSV UTF-8\"")]
    Utf16,
    /// The file is not UTF-8.
    #[error(
        "the mapping file is not UTF-8 (first invalid byte on line {line}); \
         save it as \"CSV UTF-8\""
    )]
    NotUtf8 {
        /// The line of the first invalid byte, 1-based.
        line: u64,
    },
    /// The file has no lines with content.
    #[error(
        "the mapping file is empty: expected a header such as \
         \"External User ID,Microsoft 365 User Mailbox\" or \"identity,mailbox\""
    )]
    Empty,
    /// The first line with content does not name an identity and a mailbox
    /// column.
    #[error("{}, found \"{found}\"", not_a_header(*line))]
    MissingHeader {
        /// The line, 1-based.
        line: u64,
        /// The line's fields, as read.
        found: String,
    },
    /// A field opens a quote that is never closed, so every row after it
    /// would be read as part of that field.
    #[error(
        "line {line} of the mapping file opens a quoted field that is never closed: \
         every row after it would be lost; close or remove the quote"
    )]
    UnterminatedQuote {
        /// The line of the opening quote, 1-based.
        line: u64,
    },
    /// The file parses but maps no identity (a header alone, or every row
    /// refused): used as it is, every item would be unmapped.
    #[error("the mapping file maps no identity (a header alone, or every row refused)")]
    NothingMapped,
    /// The CSV reader failed.
    #[error("the mapping file cannot be read as CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The configured default region is not a known country code.
    #[error("unknown region {0:?}: expected a two-letter country code such as GB or US")]
    UnknownRegion(String),
    /// The configured id domain is not a domain name.
    #[error("invalid id domain {0:?}: expected a domain name such as corp.example")]
    InvalidIdDomain(String),
    /// A configured custodian domain is not a domain name.
    #[error("invalid custodian domain {0:?}: expected a domain name such as corp.example")]
    InvalidCustodianDomain(String),
}

impl MappingError {
    /// The error as a log may carry it: without the file's content, which
    /// [`MappingError::MissingHeader`] quotes (a first line that is no
    /// header may well be a row of identities). The others are as displayed.
    pub fn redacted(&self) -> String {
        match self {
            MappingError::MissingHeader { line, .. } => not_a_header(*line),
            other => other.to_string(),
        }
    }
}

/// What [`MappingError::MissingHeader`] says, without the line's fields.
fn not_a_header(line: u64) -> String {
    format!(
        "line {line} of the mapping file is not a header: expected columns such as \
         \"External User ID,Microsoft 365 User Mailbox\" or \"identity,mailbox\""
    )
}

/// Reads a region code from configuration (`GB`, `us`, ` DE `).
///
/// # Errors
///
/// [`MappingError::UnknownRegion`] when it is not a CLDR region code known to
/// the numbering metadata (note: the United Kingdom is `GB`, not `UK`).
pub fn parse_region(code: &str) -> Result<Id, MappingError> {
    code.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| MappingError::UnknownRegion(code.to_owned()))
}
