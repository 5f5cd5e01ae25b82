//! Normalising identities and checking their shape: phone numbers to E.164,
//! everything else to a trimmed, lowercase key; plausible mailbox addresses;
//! WeCom userids eligible for the id-domain rule.
//!
//! Phone numbers are read as people copy them, not only as typed: WhatsApp
//! wraps a copied number in direction marks (`\u{202a}+44 7400 100032\u{202c}`),
//! spreadsheets and web pages bring non-breaking spaces, full-width forms
//! (`＋４４`) and dashes, directories write `tel:` URIs and extensions. An
//! identity read as text instead never matches a number, silently; so all
//! of these are read as the number they are.

use std::borrow::Cow;

use phonenumber::country::Id;
use phonenumber::{Mode, ParseError, PhoneNumber};

use crate::invisible::{is_hidden, strip_hidden};

/// Characters a phone number may be written with besides digits.
const PHONE_PUNCTUATION: &str = "+-(). /";

/// What may stand between a number and its extension, longest first:
/// `+44 20 7946 0000 ext. 12`, ` x12`, ` #12`.
const EXTENSION_MARKERS: [&str; 5] = ["extension", "ext.", "ext", "x", "#"];

/// The RFC 3966 extension parameter (`tel:+44-20-7946-0000;ext=12`).
const EXTENSION_PARAMETER: &str = ";ext=";

/// Prefixes of WeCom ids that are not employees: external contacts (`wo`,
/// `wm`) and bots (`wb`).
const WECOM_NON_EMPLOYEE_PREFIXES: [&str; 3] = ["wo", "wm", "wb"];

/// The shortest WeCom external contact or bot id; employee userids starting
/// with `wo`, `wm` or `wb` shorter than this still get the id-domain rule.
const WECOM_EXTERNAL_ID_MIN_LEN: usize = 20;

/// The longest WeCom userid.
const WECOM_USERID_MAX_LEN: usize = 64;

/// An identity written as a phone number.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct PhoneText<'s> {
    /// The number: ASCII digits and phone punctuation, at least one digit.
    pub number: Cow<'s, str>,
    /// The extension written after it, if any (digits).
    pub extension: Option<String>,
}

/// Reads `s` as a phone number however it was copied: hidden formatting
/// characters removed, every space-like character a space, full-width forms
/// and Arabic-Indic digits as ASCII, Unicode dashes as `-`, a `tel:` prefix
/// dropped and an extension split off. `None` when what remains is not
/// written only with digits and phone punctuation.
pub(super) fn phone_text(s: &str) -> Option<PhoneText<'_>> {
    if s.is_ascii() {
        let (number, extension) = read_phone(s)?;
        return Some(PhoneText {
            number: Cow::Borrowed(number),
            extension: extension.map(str::to_owned),
        });
    }
    let ascii: String = s.chars().filter_map(phone_char).collect();
    let (number, extension) = read_phone(&ascii)?;
    Some(PhoneText {
        number: Cow::Owned(number.to_owned()),
        extension: extension.map(str::to_owned),
    })
}

/// The number and the extension of a phone number written in ASCII, `tel:`
/// prefix allowed; `None` when it is not written like one.
fn read_phone(text: &str) -> Option<(&str, Option<&str>)> {
    let text = text.trim();
    let text = match text.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => text[4..].trim_start(),
        _ => text,
    };
    let (number, extension) = split_extension(text);
    looks_like_phone(number).then_some((number, extension))
}

/// A character of a copied phone number as ASCII; `None` for hidden
/// formatting characters, which are dropped.
fn phone_char(c: char) -> Option<char> {
    let ascii_digit = |zero: char| char::from_u32(u32::from('0') + u32::from(c) - u32::from(zero));
    match c {
        c if is_hidden(c) => None,
        c if c.is_whitespace() => Some(' '),
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0),
        '\u{0660}'..='\u{0669}' => ascii_digit('\u{0660}'),
        '\u{06f0}'..='\u{06f9}' => ascii_digit('\u{06f0}'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
        c => Some(c),
    }
}

/// The number and the extension of `text`: `;ext=12`, or digits after one
/// of the [`EXTENSION_MARKERS`]; the whole text and `None` when it has
/// neither.
fn split_extension(text: &str) -> (&str, Option<&str>) {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find(EXTENSION_PARAMETER) {
        let extension = &text[at + EXTENSION_PARAMETER.len()..];
        if is_digits(extension) {
            return (text[..at].trim_end(), Some(extension));
        }
        return (text, None);
    }
    let digits_from = text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let before = lower[..digits_from].trim_end();
    for marker in EXTENSION_MARKERS {
        if let Some(number) = before.strip_suffix(marker)
            && digits_from < text.len()
        {
            return (text[..number.len()].trim_end(), Some(&text[digits_from..]));
        }
    }
    (text, None)
}

/// True when `s` is one or more ASCII digits.
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// True when `s` is written like a phone number: digits and phone punctuation
/// only, with at least one digit. Such identities are normalised to E.164;
/// anything else is a userid, an e-mail address or a display name.
fn looks_like_phone(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || PHONE_PUNCTUATION.contains(c))
}

/// True when `s` holds a digit of any script (`²` and `٣` too): an
/// identity that is no phone number yet holds digits may be a mistyped one.
pub(super) fn holds_digit(s: &str) -> bool {
    s.chars().any(char::is_numeric)
}

/// True when `s` is already in E.164 form: `+`, then up to 15 digits, the
/// first not 0.
pub(super) fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|digits| {
        (1..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Parses a number read by [`phone_text`], with `region` for national
/// formats.
pub(super) fn parse_phone(number: &str, region: Id) -> Result<PhoneNumber, ParseError> {
    phonenumber::parse(Some(region), number)
}

/// The E.164 form of a parsed number.
pub(super) fn e164(number: &PhoneNumber) -> String {
    number.format().mode(Mode::E164).to_string()
}

/// `s` in E.164 form: borrowed when it already is, read by [`phone_text`]
/// and parsed with `region` otherwise; `None` when it is no phone number.
pub(super) fn normalise_phone(s: &str, region: Id) -> Option<Cow<'_, str>> {
    let s = s.trim();
    if is_e164(s) {
        return Some(Cow::Borrowed(s));
    }
    let phone = phone_text(s)?;
    parse_phone(&phone.number, region)
        .ok()
        .map(|n| Cow::Owned(e164(&n)))
}

/// The lookup key of a non-phone identity (userid, e-mail, display name) or a
/// mailbox address: without hidden formatting characters, trimmed and
/// lowercase; borrowed when it already is.
pub(super) fn fold(s: &str) -> Cow<'_, str> {
    match strip_hidden(s.trim()) {
        Cow::Borrowed(s) if !s.chars().any(char::is_uppercase) => Cow::Borrowed(s),
        Cow::Borrowed(s) => Cow::Owned(s.to_lowercase()),
        Cow::Owned(s) => Cow::Owned(s.trim().to_lowercase()),
    }
}

/// True when `address` is a mailbox address delivery can use (see
/// [`crate::address::is_address`]): the CSV is checked with the same rule
/// the renderer and the mailboxes apply, so a row is refused when loaded
/// rather than failing every item later.
pub(super) fn is_plausible_address(address: &str) -> bool {
    crate::address::is_address(address)
}

/// True when `id` is shaped like a WeCom employee userid: 1 to 64 ASCII
/// letters, digits, `_`, `-` or `.`, starting with a letter or digit, and not
/// an external contact or bot id.
pub(super) fn is_wecom_userid(id: &str) -> bool {
    let shaped = id.len() <= WECOM_USERID_MAX_LEN
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    shaped && !is_wecom_external_id(id)
}

/// True when `id` is a WeCom external contact or bot id.
fn is_wecom_external_id(id: &str) -> bool {
    id.len() >= WECOM_EXTERNAL_ID_MIN_LEN
        && WECOM_NON_EMPLOYEE_PREFIXES
            .iter()
            .any(|prefix| id.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_fast_path_accepts_only_canonical_numbers() {
        assert!(is_e164("+447400123456"));
        assert!(!is_e164("+44 7400 123456"));
        assert!(!is_e164("+"));
        assert!(!is_e164("+0447400123456"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("447400123456"));
    }

    #[test]
    fn phone_text_reads_copied_numbers_and_splits_extensions() {
        let read = |s| phone_text(s).map(|p| (p.number.into_owned(), p.extension));
        let number = |n: &str| Some((n.to_owned(), None));
        let with_ext = |n: &str, e: &str| Some((n.to_owned(), Some(e.to_owned())));
        assert_eq!(
            read("\u{202a}+44 7400\u{a0}100032\u{202c}"),
            number("+44 7400 100032")
        );
        assert_eq!(
            read("\u{ff0b}\u{ff14}\u{ff14}\u{3000}\u{ff17}"),
            number("+44 7")
        );
        assert_eq!(read("\u{0660}\u{0667}\u{06f9}"), number("079"));
        assert_eq!(read("TEL:+44\u{2011}20"), number("+44-20"));
        assert_eq!(read("+44 20;EXT=12"), with_ext("+44 20", "12"));
        assert_eq!(read("+44 20 X12"), with_ext("+44 20", "12"));
        assert_eq!(read("+44 20 ext. 12"), with_ext("+44 20", "12"));
        assert_eq!(read("+44 20 extension 12"), with_ext("+44 20", "12"));
        assert_eq!(read("+44 20 #12"), with_ext("+44 20", "12"));
        assert_eq!(read("07400 100032"), number("07400 100032"));
        assert!(matches!(
            phone_text(" 07400 100032 ").map(|p| p.number),
            Some(Cow::Borrowed("07400 100032"))
        ));
        for other in [
            "Room 101",
            "x12",
            "ext 12",
            "+44 20;ext=",
            "+44 20;phone-context=x",
            "",
            "zhangsan01",
        ] {
            assert_eq!(read(other), None, "{other}");
        }
    }

    #[test]
    fn folding_drops_hidden_characters() {
        assert_eq!(fold(" \u{202a}Bob Smith\u{202c} "), "bob smith");
        assert!(matches!(fold(" bob "), Cow::Borrowed("bob")));
    }

    #[test]
    fn addresses_are_checked_for_shape() {
        for good in ["a@b.example", "o'brien+tag@corp.example"] {
            assert!(is_plausible_address(good), "{good}");
        }
        for bad in [
            "a@b",
            "a..b@c.example",
            "a.@c.example",
            "\"a\"@c.example",
            "a@c-.example",
            "a@[127.0.0.1]",
            "δοκιμή@παράδειγμα.δοκιμή",
            "a/b@corp.example",
        ] {
            assert!(!is_plausible_address(bad), "{bad}");
        }
    }

    #[test]
    fn wecom_userids_exclude_external_contacts_and_bots() {
        assert!(is_wecom_userid("ZhangSan"));
        assert!(
            is_wecom_userid("wolfgang"),
            "short ids starting wo are employees"
        );
        assert!(!is_wecom_userid("woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"));
        assert!(!is_wecom_userid("wbAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"));
        assert!(!is_wecom_userid("_zhangsan"));
        assert!(!is_wecom_userid(&"a".repeat(65)));
    }
}
