//! The chat an export belongs to: its title (from the file name), the
//! custodian who exported it, and the parties of a direct chat.
//!
//! The file name is all an export says of its chat, and files get renamed
//! on their way to the drop folder: a second download is `… (1).txt`, a
//! synced folder keeps both as `… 2.zip`, a copy is `… copy.txt` or
//! `… - Copy.txt`. Those suffixes are removed before the name gives the
//! title and the chat's key, so that a renamed export is the same chat
//! with the same item ids, not a second thread of duplicates. A bare
//! number (` 2`) is only taken for a copy's from 2 to 99, and never at the
//! end of a title that is a phone number (`+49 30 12345 67`); a chat whose
//! real title ends in such a number (`Team 2`) shares its key with the
//! chat without it (`Team`) for the same custodian.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::CustodianAuthor;
use super::people::{Exporter, Person, international_phone};

/// The file name's start before the chat's title, per app language.
const TITLE_PREFIXES: &[&str] = &[
    "WhatsApp Chat with ",
    "WhatsApp Chat - ",
    "WhatsApp-Chat mit ",
    "WhatsApp Chat mit ",
    "Chat de WhatsApp con ",
    "Discussion WhatsApp avec ",
    "Conversa do WhatsApp com ",
    "Chat WhatsApp con ",
    "WhatsApp-chat met ",
];

/// The file name without directories.
pub(super) fn base_name(file_name: &str) -> &str {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name)
}

/// The extensions an export's name ends in.
const EXTENSIONS: &[&str] = &[".txt", ".zip", ".TXT", ".ZIP"];

/// A file name's stem and extension (empty when it is none of
/// [`EXTENSIONS`]).
fn split_extension(name: &str) -> (&str, &str) {
    EXTENSIONS
        .iter()
        .find_map(|ext| Some((name.strip_suffix(ext)?, *ext)))
        .unwrap_or((name, ""))
}

/// The chat's title, from a file name like `WhatsApp Chat with Bob.txt` or
/// `WhatsApp Chat - Sales team.zip`, without a copy's suffix (`Bob (1)`,
/// `Bob 2`, `Bob copy`, `Bob - Copy`); `None` for `_chat.txt` and other
/// names.
pub(super) fn title(file_name: &str) -> Option<&str> {
    let (stem, _) = split_extension(base_name(file_name));
    let title = TITLE_PREFIXES
        .iter()
        .find_map(|prefix| stem.strip_prefix(prefix))?
        .trim();
    let title = without_copy_suffix(title);
    (!title.is_empty()).then_some(title)
}

/// The key of a chat whose file name gives no title: the file's name
/// without directories and without a copy's suffix (`chat (1).txt` is
/// `chat.txt`).
pub(super) fn untitled_key(file_name: &str) -> Cow<'_, str> {
    let name = base_name(file_name);
    let (stem, ext) = split_extension(name);
    match without_copy_suffix(stem) {
        same if same.len() == stem.len() => Cow::Borrowed(name),
        stripped => Cow::Owned(format!("{stripped}{ext}")),
    }
}

/// `name` without the suffixes copies and downloads add, however many.
fn without_copy_suffix(name: &str) -> &str {
    let mut name = name;
    while let Some(shorter) = copy_suffix_removed(name) {
        if shorter.trim().is_empty() {
            break;
        }
        name = shorter;
    }
    name
}

/// `name` without one suffix of a copy: ` (N)`, ` - Copy`, ` copy`, or a
/// bare ` N` from 2 to 99 after a name that is no phone number.
fn copy_suffix_removed(name: &str) -> Option<&str> {
    if let Some(rest) = name.strip_suffix(')') {
        let (before, count) = rest.rsplit_once(" (")?;
        return is_count(count).then_some(before);
    }
    if let Some(before) = name
        .strip_suffix(" - Copy")
        .or_else(|| name.strip_suffix(" copy"))
    {
        return Some(before);
    }
    let (before, count) = name.rsplit_once(' ')?;
    let phone = before
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    let number: u8 = count.parse().ok().filter(|_| is_count(count))?;
    ((2..=99).contains(&number) && !phone).then_some(before)
}

/// One to three ASCII digits, no leading zero: a copy's number.
fn is_count(text: &str) -> bool {
    (1..=3).contains(&text.len())
        && !text.starts_with('0')
        && text.bytes().all(|b| b.is_ascii_digit())
}

/// A digest identifying a chat of a custodian (`chat_key` is the title, else
/// the file name): SHA-256 over the length-prefixed parts, first 16 bytes.
pub(super) fn chat_digest(custodian: &Custodian, chat_key: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in [
        b"whatsapp-export-chat".as_slice(),
        custodian.key.as_bytes(),
        chat_key.as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let mut digest = [0; 16];
    digest.copy_from_slice(&hasher.finalize()[..16]);
    digest
}

/// The stable conversation id of a chat: `wa-export:` and its digest in hex.
pub(super) fn conversation_id(digest: &[u8; 16]) -> String {
    format!("wa-export:{}", hex::encode(digest))
}

/// The employee whose phone made the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Custodian {
    /// As configured, trimmed.
    pub given: String,
    /// The normalised identity used in ids: E.164, lowercased e-mail, or as given.
    pub key: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl Custodian {
    /// Reads a phone number in any international form (`+44 7700 900123`,
    /// `447700900123`, `0044…`) or an e-mail address.
    pub(super) fn new(given: &str) -> Self {
        let given = given.trim().to_owned();
        let (phone, email) = if given.contains('@') {
            (None, Some(given.to_lowercase()))
        } else {
            (custodian_phone(&given), None)
        };
        let key = phone
            .clone()
            .or_else(|| email.clone())
            .unwrap_or_else(|| given.clone());
        Custodian {
            given,
            key,
            phone,
            email,
        }
    }

    /// The custodian as a participant when no author is them.
    fn person(&self) -> Person<'static> {
        Person {
            id: Cow::Owned(self.given.clone()),
            name: None,
            phone: self.phone.clone(),
            email: self.email.clone(),
            custodian: Some(self.given.clone()),
        }
    }

    /// Marks `person` as the custodian: the custodian's phone number and
    /// e-mail (the export's where the custodian has none) and identity.
    fn mark(&self, person: &mut Person<'_>) {
        if self.phone.is_some() {
            person.phone.clone_from(&self.phone);
        }
        if self.email.is_some() {
            person.email.clone_from(&self.email);
        }
        person.custodian = Some(self.given.clone());
    }
}

/// A custodian's number in international form, with or without `+` or `00`.
fn custodian_phone(given: &str) -> Option<String> {
    if given.starts_with('+') {
        return international_phone(given);
    }
    let plain = given.trim_start_matches(|c: char| !c.is_ascii_digit());
    let international = plain.strip_prefix("00").unwrap_or(plain);
    international_phone(&format!("+{international}"))
}

/// The author names custodians appear under in their exports, as
/// configured (`[custodians]`), for exports that do not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustodianNames {
    /// (custodian's normalised identity, names).
    names: Vec<(String, Vec<String>)>,
}

impl CustodianNames {
    /// From (custodian, names) pairs; a custodian is written as its drop
    /// folder names it (a phone number in any international form, or an
    /// e-mail address, in any case).
    pub fn new(pairs: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        CustodianNames {
            names: pairs
                .into_iter()
                .map(|(custodian, names)| (Custodian::new(&custodian).key, names))
                .collect(),
        }
    }

    /// The names configured for `custodian` (empty when none are).
    pub fn of(&self, custodian: &str) -> &[String] {
        let key = Custodian::new(custodian).key;
        self.names
            .iter()
            .find(|(known, _)| *known == key)
            .map_or(&[], |(_, names)| names.as_slice())
    }
}

/// What is known of a chat's parties besides its authors.
pub(super) struct Parties<'t> {
    /// The chat's title.
    pub title: Option<&'t str>,
    /// Whether it is a direct chat.
    pub direct: bool,
    /// Author names configured for the custodian.
    pub names: &'t [String],
    /// What the export's own lines say.
    pub exporter: Exporter,
}

/// Finds the author who is the custodian and marks them (see
/// [`CustodianAuthor`] for the rules, in order); in a direct chat, adds the
/// custodian when nobody wrote as them and the title party when every
/// author is the custodian.
pub(super) fn attribute(
    people: &mut Vec<Person<'_>>,
    parties: &Parties<'_>,
    custodian: &Custodian,
) -> CustodianAuthor {
    let title = parties.title;
    let is_title = |p: &Person<'_>| title.is_some() && p.name.as_deref() == title;
    let by_phone = people
        .iter()
        .position(|p| p.phone.is_some() && p.phone == custodian.phone);
    let configured = || {
        people.iter().position(|p| {
            p.name.as_deref().is_some_and(|name| {
                parties
                    .names
                    .iter()
                    .any(|configured| configured.trim().to_lowercase() == name.to_lowercase())
            })
        })
    };
    let from_lines = match parties.exporter {
        Exporter::Deleted(index) => Some(index as usize),
        Exporter::Noticed(index) if !parties.direct => Some(index as usize),
        _ => None,
    };
    let others: Vec<usize> = (0..people.len())
        .filter(|&i| !is_title(&people[i]))
        .collect();
    let by_elimination = match (parties.direct, title, others.as_slice()) {
        (true, Some(_), [only]) => Some(*only),
        _ => None,
    };
    let found = if let Some(index) = by_phone {
        Some((index, CustodianAuthor::Phone))
    } else if let Some(index) = configured() {
        Some((index, CustodianAuthor::Configured))
    } else if let Some(index) = from_lines {
        Some((index, CustodianAuthor::ExportLines))
    } else {
        by_elimination.map(|index| (index, CustodianAuthor::DirectChat))
    };
    let told = match found {
        Some((index, how)) => {
            custodian.mark(&mut people[index]);
            how
        }
        None if parties.direct && title.is_some() && others.is_empty() => {
            people.push(custodian.person());
            CustodianAuthor::NoMessages
        }
        None if people.is_empty() => CustodianAuthor::NoMessages,
        None => CustodianAuthor::Unknown,
    };
    if parties.direct {
        let only_custodian = people.iter().all(|p| !is_title(p)) && people.len() <= 1;
        if let (Some(title), true) = (title, only_custodian) {
            people.push(Person::named(Cow::Owned(title.to_owned())));
        }
    }
    told
}

/// How participants are named in reports: display name, else identity.
pub(super) fn labels(people: &[Person<'_>]) -> Vec<String> {
    people
        .iter()
        .map(|p| p.name.as_deref().unwrap_or(&p.id).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_file_names() {
        assert_eq!(title("WhatsApp Chat with Bob.txt"), Some("Bob"));
        assert_eq!(
            title("drop/whatsapp-export/+447700900123/WhatsApp Chat - Sales team.zip"),
            Some("Sales team")
        );
        assert_eq!(title("WhatsApp-Chat mit Jürgen.txt"), Some("Jürgen"));
        assert_eq!(title("Chat de WhatsApp con Ana.txt"), Some("Ana"));
        assert_eq!(title("Discussion WhatsApp avec Émile.zip"), Some("Émile"));
        assert_eq!(title("_chat.txt"), None);
        assert_eq!(title("WhatsApp Chat with .txt"), None);
        assert_eq!(title("WhatsApp Chat with Bob (12).txt"), Some("Bob"));
        assert_eq!(title("WhatsApp Chat with Bob 100.txt"), Some("Bob 100"));
        assert_eq!(title("WhatsApp Chat with Bob 02.txt"), Some("Bob 02"));
        assert_eq!(title("WhatsApp Chat with (1).txt"), Some("(1)"));
        assert_eq!(untitled_key("x/chat.txt"), "chat.txt");
        assert_eq!(untitled_key("chat copy 2.txt"), "chat.txt");
        assert_eq!(untitled_key("_chat.txt"), "_chat.txt");
        assert_eq!(
            international_phone("+44 7700 900123").as_deref(),
            Some("+447700900123")
        );
    }

    #[test]
    fn custodians_in_any_form() {
        for given in [
            "+44 7700 900123",
            "447700900123",
            "0044 7700 900123",
            " +44-7700-900123 ",
        ] {
            let custodian = Custodian::new(given);
            assert_eq!(custodian.phone.as_deref(), Some("+447700900123"), "{given}");
            assert_eq!(custodian.key, "+447700900123");
        }
        let custodian = Custodian::new("Alice@Example.com");
        assert_eq!(
            (custodian.email.as_deref(), custodian.phone),
            (Some("alice@example.com"), None)
        );
        assert_eq!(Custodian::new("alice").key, "alice");
    }

    #[test]
    fn conversation_ids_are_stable_and_distinct() {
        let alice = Custodian::new("+44 7700 900123");
        let same = Custodian::new("+447700900123");
        assert_eq!(chat_digest(&alice, "Bob"), chat_digest(&same, "Bob"));
        assert_ne!(chat_digest(&alice, "Bob"), chat_digest(&alice, "Carol"));
        let id = conversation_id(&chat_digest(&alice, "Bob"));
        assert!(id.starts_with("wa-export:") && id.len() == 42, "{id}");
    }

    /// The parties of a direct chat, told by nothing but the title.
    fn complete_direct(people: &mut Vec<Person<'_>>, title: Option<&str>, custodian: &Custodian) {
        let parties = Parties {
            title,
            direct: true,
            names: &[],
            exporter: Exporter::Untold,
        };
        attribute(people, &parties, custodian);
    }

    fn names(people: &[Person<'_>]) -> Vec<(String, Option<String>)> {
        people
            .iter()
            .map(|p| (p.id.to_string(), p.phone.clone()))
            .collect()
    }

    #[test]
    fn direct_chat_parties() {
        let custodian = Custodian::new("+44 7700 900123");
        let phone = Some("+447700900123".to_owned());
        let mut people = vec![Person::named("Bob".into()), Person::named("Alice".into())];
        complete_direct(&mut people, Some("Bob"), &custodian);
        assert_eq!(
            names(&people),
            [("Bob".into(), None), ("Alice".into(), phone.clone())]
        );

        let mut people = vec![Person::named("Bob".into())];
        complete_direct(&mut people, Some("Bob"), &custodian);
        assert_eq!(
            names(&people),
            [
                ("Bob".into(), None),
                ("+44 7700 900123".into(), phone.clone())
            ]
        );

        let mut people = vec![Person::named("Alice".into())];
        complete_direct(&mut people, Some("+1 415 555 0132"), &custodian);
        let title_phone = Some("+14155550132".to_owned());
        assert_eq!(
            names(&people),
            [
                ("Alice".into(), phone.clone()),
                ("+1 415 555 0132".into(), title_phone)
            ]
        );

        let mut people = vec![
            Person::named("Robert".into()),
            Person::named("Alice".into()),
        ];
        complete_direct(&mut people, Some("Bob"), &custodian);
        assert_eq!(
            names(&people),
            [("Robert".into(), None), ("Alice".into(), None)]
        );

        let mut people = vec![
            Person::named("Bob".into()),
            Person::named("+44 7700 900123".into()),
        ];
        complete_direct(&mut people, None, &custodian);
        assert_eq!(people[1].phone, phone);
    }
}
