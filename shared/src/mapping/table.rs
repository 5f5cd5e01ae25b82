//! The custom mapping CSV: reading it into a [`MappingTable`] and reporting
//! the problems of its rows as [`MappingIssue`]s.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;

use csv::{Position, StringRecord};
use phonenumber::ParseError;
use phonenumber::country::Id;

use super::identity::{
    PhoneText, e164, fold, holds_digit, is_plausible_address, parse_phone, phone_text,
};
use super::{MappingError, MappingOptions};

/// Headers of the identity column, in order of preference, as normalised by
/// [`header_key`].
const IDENTITY_HEADERS: [&str; 6] = [
    "external user id",
    "identity",
    "phone",
    "userid",
    "user id",
    "mobile",
];

/// Headers of the mailbox column, in order of preference, as normalised by
/// [`header_key`].
const MAILBOX_HEADERS: [&str; 4] = ["microsoft 365 user mailbox", "mailbox", "email", "e-mail"];

/// The custom mapping: normalised source identity -> mailbox address.
///
/// Keys are E.164 numbers for identities written like phone numbers, and the
/// trimmed, lowercase identity for everything else (WeCom userids, e-mail
/// addresses, display names). Mailbox addresses are stored lowercase.
#[derive(Debug, Clone, Default)]
pub struct MappingTable {
    entries: HashMap<String, Entry>,
}

/// One mapping and the line it came from.
#[derive(Debug, Clone)]
struct Entry {
    mailbox: String,
    line: u64,
}

impl MappingTable {
    /// Reads a mapping CSV.
    ///
    /// The header may be the Purview/TeleMessage one (`External User ID,
    /// Microsoft 365 User Mailbox`) or a simple one (`identity,mailbox`,
    /// `phone,email`, `userid,mailbox`…); columns are found by name, other
    /// columns are ignored. Rows with problems are skipped (or kept, for
    /// warnings) and reported; they never stop the rest of the file.
    ///
    /// # Errors
    ///
    /// [`MappingError`] when the file is not UTF-8, has no recognisable
    /// header, or has a quote that is never closed. A file that maps no
    /// identity loads, with a [`IssueKind::NoMappings`] error.
    pub fn from_csv(
        bytes: &[u8],
        opts: &MappingOptions,
    ) -> Result<(MappingTable, Vec<MappingIssue>), MappingError> {
        let text = decode(bytes)?;
        if let Some(line) = unterminated_quote(text) {
            return Err(MappingError::UnterminatedQuote { line });
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut rows = reader
            .records()
            .map(|record| record.map(|record| (physical_line(text, &record), record)))
            .filter(|row| !matches!(row, Ok((_, record)) if is_blank(record)));
        let (header_line, columns) = match rows.next().transpose()? {
            Some((line, header)) => (line, Columns::find(line, &header)?),
            None => return Err(MappingError::Empty),
        };
        let mut builder = Builder::new(opts.default_region);
        for row in rows {
            let (line, record) = row?;
            builder.add(line, columns.identity(&record), columns.mailbox(&record));
        }
        if builder.table.is_empty() {
            let issue = MappingIssue {
                line: header_line,
                kind: IssueKind::NoMappings,
            };
            builder.issues.insert(0, issue);
        }
        Ok((builder.table, builder.issues))
    }

    /// The mailbox mapped to a normalised identity key.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|entry| entry.mailbox.as_str())
    }

    /// Every (identity key, mailbox) mapped, sorted: what the table maps,
    /// whatever the file's row order, quoting or line numbers.
    pub(super) fn sorted(&self) -> Vec<(&str, &str)> {
        let mut pairs: Vec<(&str, &str)> = self
            .entries
            .iter()
            .map(|(key, entry)| (key.as_str(), entry.mailbox.as_str()))
            .collect();
        pairs.sort_unstable();
        pairs
    }

    /// The number of identities mapped.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no identity is mapped.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many identities of each kind are mapped.
    pub fn counts(&self) -> IdentityCounts {
        let mut counts = IdentityCounts::default();
        for key in self.entries.keys() {
            if key.starts_with('+') {
                counts.phone_numbers += 1;
            } else if key.starts_with("wecom:") {
                counts.wecom_userids += 1;
            } else if is_plausible_address(key) {
                counts.email_addresses += 1;
            } else {
                counts.names_or_ids += 1;
            }
        }
        counts
    }
}

/// How many identities of each kind a [`MappingTable`] maps, as a source
/// finds them: WhatsApp (export and Cloud API) matches phone numbers, WeCom
/// its userids (`wecom:<userid>`) and its members' mobile numbers, both
/// match e-mail addresses, and a name or plain id matches only a
/// participant with no other identifier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IdentityCounts {
    /// Phone numbers (E.164).
    pub phone_numbers: usize,
    /// WeCom userids written `wecom:<userid>`.
    pub wecom_userids: usize,
    /// E-mail addresses.
    pub email_addresses: usize,
    /// Display names, and ids written without a prefix.
    pub names_or_ids: usize,
}

/// A problem with one row of the mapping CSV.
#[derive(Debug, Clone)]
pub struct MappingIssue {
    /// The row's physical line in the file, 1-based; the header is line 1.
    pub line: u64,
    /// What is wrong.
    pub kind: IssueKind,
}

impl MappingIssue {
    /// How serious the problem is.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

impl fmt::Display for MappingIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.severity(), self.kind)
    }
}

/// Whether a row was dropped or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The row was not used.
    Error,
    /// The row was used, or was a harmless repeat; worth a look.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// What is wrong with a row.
#[derive(Debug, Clone)]
pub enum IssueKind {
    /// The identity field is empty or missing (error).
    EmptyIdentity,
    /// The mailbox field is not a plausible address (error).
    InvalidMailbox {
        /// The field as written.
        address: String,
    },
    /// The identity is written like a phone number but does not parse (error).
    InvalidPhone {
        /// The field as written.
        identity: String,
        /// Why it does not parse.
        error: ParseError,
    },
    /// The identity parses as a phone number that is not valid for its
    /// region — a typo, a national number for another country, or a range
    /// unknown to the numbering metadata. The row is kept (warning).
    UnlikelyPhone {
        /// The field as written.
        identity: String,
        /// The E.164 number it was read as, and is mapped under.
        e164: String,
    },
    /// The identity is a phone number followed by an extension (`;ext=12`,
    /// ` x12`, ` ext. 12`), which no messenger number has; the row is kept
    /// under the number without it (warning).
    ExtensionIgnored {
        /// The field as written.
        identity: String,
        /// The E.164 number it is mapped under.
        e164: String,
    },
    /// The identity holds digits but is not written as a phone number (a
    /// typo, letters in a number); the row is kept as a name or userid,
    /// which a phone number never matches (warning). E-mail addresses are
    /// not reported.
    NotAPhone {
        /// The field as written.
        identity: String,
    },
    /// The identity is already mapped to another mailbox by an earlier row,
    /// whose mapping is kept (error).
    Conflict {
        /// The normalised identity.
        identity: String,
        /// The line of the mapping that is kept.
        first_line: u64,
        /// The mailbox of the mapping that is kept.
        first_mailbox: String,
        /// The mailbox of this row, which is ignored.
        mailbox: String,
    },
    /// No row of the file maps an identity: every item is mapped
    /// automatically only, and most will be unmapped (error, reported on the
    /// header's line; the file still loads).
    NoMappings,
    /// The row repeats an earlier mapping exactly (warning).
    Duplicate {
        /// The normalised identity.
        identity: String,
        /// The line of the earlier mapping.
        first_line: u64,
    },
}

impl IssueKind {
    /// The kind's name (`invalid_phone`): what a log may say of a row,
    /// which must not carry the row's identity.
    pub fn name(&self) -> &'static str {
        match self {
            IssueKind::EmptyIdentity => "empty_identity",
            IssueKind::InvalidMailbox { .. } => "invalid_mailbox",
            IssueKind::InvalidPhone { .. } => "invalid_phone",
            IssueKind::UnlikelyPhone { .. } => "unlikely_phone",
            IssueKind::ExtensionIgnored { .. } => "phone_extension",
            IssueKind::NotAPhone { .. } => "digits_not_a_phone",
            IssueKind::Conflict { .. } => "conflict",
            IssueKind::NoMappings => "no_mappings",
            IssueKind::Duplicate { .. } => "duplicate",
        }
    }

    /// How serious the problem is.
    pub fn severity(&self) -> Severity {
        match self {
            IssueKind::UnlikelyPhone { .. }
            | IssueKind::ExtensionIgnored { .. }
            | IssueKind::NotAPhone { .. }
            | IssueKind::Duplicate { .. } => Severity::Warning,
            IssueKind::EmptyIdentity
            | IssueKind::InvalidMailbox { .. }
            | IssueKind::InvalidPhone { .. }
            | IssueKind::Conflict { .. }
            | IssueKind::NoMappings => Severity::Error,
        }
    }
}

impl fmt::Display for IssueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueKind::EmptyIdentity => f.write_str("the identity is empty"),
            IssueKind::InvalidMailbox { address } if address.is_empty() => {
                f.write_str("the mailbox address is empty")
            }
            IssueKind::InvalidMailbox { address } => {
                write!(f, "{address:?} is not a valid mailbox address")
            }
            IssueKind::InvalidPhone { identity, error } => {
                write!(f, "{identity:?} is not a phone number: {error}")
            }
            IssueKind::UnlikelyPhone { identity, e164 } => write!(
                f,
                "{identity:?} reads as {e164}, which is not a valid number; \
                 mapped anyway (check the country code)"
            ),
            IssueKind::ExtensionIgnored { identity, e164 } => write!(
                f,
                "{identity:?} has an extension, which a messenger number never has; \
                 mapped as {e164}"
            ),
            IssueKind::NotAPhone { identity } => write!(
                f,
                "{identity:?} holds digits but is not a phone number; mapped as a name \
                 or userid, which no phone number matches"
            ),
            IssueKind::Conflict {
                identity,
                first_line,
                first_mailbox,
                mailbox,
            } => write!(
                f,
                "{identity} is mapped to {first_mailbox} on line {first_line} and to \
                 {mailbox} here; the mapping on line {first_line} is kept"
            ),
            IssueKind::NoMappings => f.write_str(
                "no row maps an identity to a mailbox: items are mapped only automatically \
                 (e-mail addresses, custodian domains), and most will be unmapped",
            ),
            IssueKind::Duplicate {
                identity,
                first_line,
            } => write!(f, "{identity} repeats the mapping on line {first_line}"),
        }
    }
}

/// Where the identity and mailbox columns are.
struct Columns {
    identity: usize,
    mailbox: usize,
}

impl Columns {
    /// Finds the columns in the header row at `line`.
    fn find(line: u64, header: &StringRecord) -> Result<Self, MappingError> {
        let keys: Vec<String> = header.iter().map(header_key).collect();
        let position = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| keys.iter().position(|key| key == name))
        };
        match (position(&IDENTITY_HEADERS), position(&MAILBOX_HEADERS)) {
            (Some(identity), Some(mailbox)) => Ok(Columns { identity, mailbox }),
            _ => Err(MappingError::MissingHeader {
                line,
                found: header.iter().collect::<Vec<_>>().join(","),
            }),
        }
    }

    /// The identity field of a row; empty when the row is short.
    fn identity<'r>(&self, record: &'r StringRecord) -> &'r str {
        record.get(self.identity).unwrap_or_default()
    }

    /// The mailbox field of a row; empty when the row is short.
    fn mailbox<'r>(&self, record: &'r StringRecord) -> &'r str {
        record.get(self.mailbox).unwrap_or_default()
    }
}

/// A header field as compared with the known names: trimmed, lowercase, runs
/// of spaces and underscores as one space.
fn header_key(field: &str) -> String {
    unquote(field)
        .split(|c: char| c.is_whitespace() || c == '_')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Builds the table row by row, collecting issues.
struct Builder {
    region: Id,
    table: MappingTable,
    issues: Vec<MappingIssue>,
}

impl Builder {
    fn new(region: Id) -> Self {
        Builder {
            region,
            table: MappingTable::default(),
            issues: Vec::new(),
        }
    }

    /// Adds the row at `line`, or reports why it cannot be added.
    fn add(&mut self, line: u64, identity: &str, mailbox: &str) {
        let key = self.identity_key(line, unquote(identity));
        let mailbox = self.mailbox(line, unquote(mailbox));
        if let (Some(key), Some(mailbox)) = (key, mailbox) {
            self.insert(line, key, mailbox);
        }
    }

    /// The normalised identity, or `None` after reporting why there is none.
    /// An identity that holds digits but is no phone number is kept, with a
    /// warning (unless it is an e-mail address or a `wecom:` userid).
    fn identity_key(&mut self, line: u64, identity: &str) -> Option<String> {
        if fold(identity).is_empty() {
            self.report(line, IssueKind::EmptyIdentity);
            return None;
        }
        if let Some(phone) = phone_text(identity) {
            return self.phone_key(line, identity, phone);
        }
        let key = fold(identity).into_owned();
        // A `wecom:<userid>` identity names a userid, digits and all.
        if holds_digit(&key) && !is_plausible_address(&key) && !key.starts_with("wecom:") {
            let identity = identity.to_owned();
            self.report(line, IssueKind::NotAPhone { identity });
        }
        Some(key)
    }

    /// The E.164 form of a phone identity, or `None` after reporting that it
    /// does not parse. Numbers that parse but are not valid are kept, with a
    /// warning, and so are numbers with an extension (mapped without it).
    fn phone_key(&mut self, line: u64, identity: &str, phone: PhoneText<'_>) -> Option<String> {
        match parse_phone(&phone.number, self.region) {
            Ok(number) => {
                let key = e164(&number);
                if !number.is_valid() {
                    let identity = identity.to_owned();
                    let e164 = key.clone();
                    self.report(line, IssueKind::UnlikelyPhone { identity, e164 });
                }
                if phone.extension.is_some() {
                    let identity = identity.to_owned();
                    let e164 = key.clone();
                    self.report(line, IssueKind::ExtensionIgnored { identity, e164 });
                }
                Some(key)
            }
            Err(error) => {
                let identity = identity.to_owned();
                self.report(line, IssueKind::InvalidPhone { identity, error });
                None
            }
        }
    }

    /// The lowercase mailbox address, or `None` after reporting it invalid.
    fn mailbox(&mut self, line: u64, address: &str) -> Option<String> {
        let mailbox = fold(address);
        if is_plausible_address(&mailbox) {
            Some(mailbox.into_owned())
        } else {
            let address = address.to_owned();
            self.report(line, IssueKind::InvalidMailbox { address });
            None
        }
    }

    /// Maps `key` to `mailbox` unless an earlier row mapped it already.
    fn insert(&mut self, line: u64, key: String, mailbox: String) {
        match self.table.entries.entry(key) {
            MapEntry::Vacant(vacant) => {
                vacant.insert(Entry { mailbox, line });
            }
            MapEntry::Occupied(occupied) => {
                let first = occupied.get();
                let identity = occupied.key().clone();
                let first_line = first.line;
                let kind = if first.mailbox == mailbox {
                    IssueKind::Duplicate {
                        identity,
                        first_line,
                    }
                } else {
                    IssueKind::Conflict {
                        identity,
                        first_line,
                        first_mailbox: first.mailbox.clone(),
                        mailbox,
                    }
                };
                self.report(line, kind);
            }
        }
    }

    fn report(&mut self, line: u64, kind: IssueKind) {
        self.issues.push(MappingIssue { line, kind });
    }
}

/// The file as text, without a UTF-8 byte order mark.
fn decode(bytes: &[u8]) -> Result<&str, MappingError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(MappingError::Utf16);
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let newlines = bytes[..error.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        MappingError::NotUtf8 {
            line: newlines as u64 + 1,
        }
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// The line of a quote that opens a field and is never closed, read as the
/// CSV reader reads quotes (`csv` defaults): a quote opens a field only as
/// its first character, `""` inside it is a quote, and the field runs to
/// the next lone quote, across line breaks. The reader would take every
/// row after such a quote as one field, and say nothing.
fn unterminated_quote(text: &str) -> Option<u64> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        InField,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut line = 1;
    let mut opened = 0;
    for &b in text.as_bytes() {
        let ends_field = matches!(b, b',' | b'\r' | b'\n');
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::FieldStart, b'"') => {
                opened = line;
                State::Quoted
            }
            (_, _) if ends_field => State::FieldStart,
            (_, _) => State::InField,
        };
        if b == b'\n' {
            line += 1;
        }
    }
    (state == State::Quoted).then_some(opened)
}

/// The physical line a record starts on.
///
/// The reader positions a record just after the previous record's line end,
/// before the empty lines it skips; those are counted here.
fn physical_line(text: &str, record: &StringRecord) -> u64 {
    let position = record
        .position()
        .expect("records read by a csv::Reader carry their position");
    position.line() + skipped_newlines(text, position)
}

/// The line ends between `position` and the next character that is not one.
fn skipped_newlines(text: &str, position: &Position) -> u64 {
    let rest = text
        .as_bytes()
        .get(position.byte() as usize..)
        .unwrap_or_default();
    let newlines = rest
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .filter(|&&b| b == b'\n')
        .count();
    newlines as u64
}

/// True when every field of a record is empty, as in blank lines and the
/// `,,,` rows spreadsheets write for empty rows.
fn is_blank(record: &StringRecord) -> bool {
    record.iter().all(str::is_empty)
}

/// A trimmed field without the quotes the CSV reader keeps when a space comes
/// before the opening quote (`alice, "alice@example.com"`).
fn unquote(field: &str) -> &str {
    let field = field.trim();
    field
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .map_or(field, str::trim)
}
