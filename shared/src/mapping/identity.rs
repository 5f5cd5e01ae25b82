//! Normalising identities and checking their shape: phone numbers to E.164,
//! everything else to a trimmed, lowercase key; plausible mailbox addresses;
//! WeCom userids eligible for the id-domain rule.

use std::borrow::Cow;

use phonenumber::country::Id;
use phonenumber::{Mode, ParseError, PhoneNumber};

/// Characters a phone number may be written with besides digits.
const PHONE_PUNCTUATION: &str = "+-(). /";

/// Prefixes of WeCom ids that are not employees: external contacts (`wo`,
/// `wm`) and bots (`wb`).
const WECOM_NON_EMPLOYEE_PREFIXES: [&str; 3] = ["wo", "wm", "wb"];

/// The shortest WeCom external contact or bot id; employee userids starting
/// with `wo`, `wm` or `wb` shorter than this still get the id-domain rule.
const WECOM_EXTERNAL_ID_MIN_LEN: usize = 20;

/// The longest WeCom userid.
const WECOM_USERID_MAX_LEN: usize = 64;

/// True when `s` is written like a phone number: digits and phone punctuation
/// only, with at least one digit. Such identities are normalised to E.164;
/// anything else is a userid, an e-mail address or a display name.
pub(super) fn looks_like_phone(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || PHONE_PUNCTUATION.contains(c))
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

/// Parses a phone number written in any form the `phonenumber` crate
/// understands, with `region` for national formats.
pub(super) fn parse_phone(s: &str, region: Id) -> Result<PhoneNumber, ParseError> {
    phonenumber::parse(Some(region), s)
}

/// The E.164 form of a parsed number.
pub(super) fn e164(number: &PhoneNumber) -> String {
    number.format().mode(Mode::E164).to_string()
}

/// `s` in E.164 form: borrowed when it already is, parsed with `region`
/// otherwise; `None` when it does not parse.
pub(super) fn normalise_phone(s: &str, region: Id) -> Option<Cow<'_, str>> {
    let s = s.trim();
    if is_e164(s) {
        return Some(Cow::Borrowed(s));
    }
    parse_phone(s, region).ok().map(|n| Cow::Owned(e164(&n)))
}

/// The lookup key of a non-phone identity (userid, e-mail, display name) or a
/// mailbox address: trimmed and lowercase, borrowed when it already is.
pub(super) fn fold(s: &str) -> Cow<'_, str> {
    let s = s.trim();
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
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
