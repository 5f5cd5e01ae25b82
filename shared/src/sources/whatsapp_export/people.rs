//! Who wrote a line: telling `Name: text` from the app's own notices, and the
//! chat's participants.
//!
//! # The author rule
//!
//! After the header, the author is the text before the first `": "` (or a
//! `':'` ending the line); with no such colon the line is a notice. Names may
//! hold spaces, emoji, dots and parentheses, but notices may hold a colon too,
//! always inside a quoted subject or name (`X changed the subject from "a: b"
//! to "c"`, `X created group “Sales: EMEA”`). So a prefix with an odd number
//! of quotation marks (`"` `“` `”` `„` `«` `»` `「` `」` `『` `』`) is
//! taken as the start of a notice, unless it starts at least two lines of the
//! file that are not notice sentences (a name with a stray quote that wrote
//! more than once); even then, its lines that are notice sentences are
//! notices. A name that itself contains `": "` is cut at it, the same way on
//! every line, so its messages still share one sender.
//!
//! A prefix of invisible marks only is an author without a name (an
//! unnamed sender, id [`UNNAMED`]), not a notice: a message is never
//! attributed to no one because its author's name cannot be shown.
//!
//! iOS writes group notices as if the group had said them (`[…] Sales:
//! ‎Alice added Bob`): a text that starts with U+200E and is a notice
//! sentence is a notice, not a message.

use std::borrow::Cow;
use std::collections::HashMap;

use memchr::memchr_iter;

use super::markers::{by_exporter, deleted_by_exporter, notice};
use super::text::{FxBuild, LRM, clean_name, first_line};

/// One line of the export, after its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    /// `prefix: text`, where the prefix may be an author.
    Authored { prefix: &'a str, text: &'a str },
    /// The app's own line; `by` is the author iOS wrote it with when it
    /// tells of something the exporter did (`‎You added Bob`).
    Notice { text: &'a str, by: Option<&'a str> },
}

/// Splits the first line of a message's body.
fn classify(line: &str) -> Line<'_> {
    let Some((prefix, at)) = split_author(line) else {
        return Line::Notice {
            text: line,
            by: None,
        };
    };
    let text = &line[at..];
    if text.starts_with(LRM) && !text[LRM.len()..].starts_with('<') {
        if by_exporter(text) && !deleted_by_exporter(text) {
            return Line::Notice {
                text,
                by: Some(prefix),
            };
        }
        if notice(text).is_some() {
            return Line::Notice { text, by: None };
        }
    }
    Line::Authored { prefix, text }
}

/// `(prefix, start of the text)` at the first `": "` or a final `':'`.
fn split_author(line: &str) -> Option<(&str, usize)> {
    let bytes = line.as_bytes();
    memchr_iter(b':', bytes).find_map(|colon| match bytes.get(colon + 1) {
        Some(b' ') if colon > 0 => Some((&line[..colon], colon + 2)),
        None if colon > 0 => Some((&line[..colon], colon + 1)),
        _ => None,
    })
}

/// Whether `s` holds an even number of quotation marks.
fn balanced(s: &str) -> bool {
    let quotes = s.chars().filter(|c| {
        matches!(
            c,
            '"' | '“' | '”' | '„' | '«' | '»' | '「' | '」' | '『' | '』'
        )
    });
    quotes.count() % 2 == 0
}

/// The prefix index of a line that has no `": "`, or that iOS wrote as a notice.
pub(super) const NO_PREFIX: u32 = u32::MAX;

/// What a prefix before `": "` turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The author with this index in [`Cast::people`].
    Author(u32),
    /// The author with this index, unless the line is a notice sentence.
    AuthorUnlessNotice(u32),
    /// The start of a notice.
    Notice,
}

/// A participant of the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Person<'a> {
    /// Display name as written, or the custodian's identity.
    pub id: Cow<'a, str>,
    /// Display name, if known.
    pub name: Option<Cow<'a, str>>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// The custodian's identity as given, when this is the custodian: the
    /// participant's id (item ids still derive from `id`).
    pub custodian: Option<String>,
}

/// The id of a sender whose name is only invisible marks.
pub(super) const UNNAMED: &str = "(unnamed sender)";

impl<'a> Person<'a> {
    /// A sender whose name is only invisible marks: no name, a fixed id.
    pub(super) fn unnamed() -> Self {
        Person {
            id: Cow::Borrowed(UNNAMED),
            name: None,
            phone: None,
            email: None,
            custodian: None,
        }
    }

    /// A participant known by a name; its phone number if the name is one.
    pub(super) fn named(name: Cow<'a, str>) -> Self {
        let phone = international_phone(&name);
        Person {
            id: name.clone(),
            name: Some(name),
            phone,
            email: None,
            custodian: None,
        }
    }
}

/// The authors of a file and what every prefix means.
#[derive(Debug, Default)]
pub(super) struct Cast<'a> {
    /// By prefix index.
    pub roles: Vec<Role>,
    pub people: Vec<Person<'a>>,
    /// What the export's own lines say about which author is the exporter.
    pub exporter: Exporter,
}

/// Which author the export's own lines show to be the exporter (an index
/// into [`Cast::people`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Exporter {
    /// No line tells.
    #[default]
    Untold,
    /// The one author of `You deleted this message` lines.
    Deleted(u32),
    /// The one person iOS wrote notices of what the exporter did with
    /// (`‎You added Bob`), and no one wrote `You deleted this message`;
    /// only a group's say so (iOS writes a direct chat's notices with the
    /// other party's name).
    Noticed(u32),
    /// Several authors' lines say they are the exporter.
    Contradicted,
}

impl Exporter {
    /// From the authors of each kind of line.
    fn of(deleted: &[u32], noticed: &[u32]) -> Self {
        match (deleted, noticed) {
            ([one], _) => Exporter::Deleted(*one),
            ([], []) => Exporter::Untold,
            ([], [one]) => Exporter::Noticed(*one),
            _ => Exporter::Contradicted,
        }
    }
}

impl<'a> Cast<'a> {
    /// The sender (an index into `people`) and text of a message, from what
    /// [`Census::observe`] returned for its first line.
    pub(super) fn read(
        &self,
        prefix: u32,
        body: &'a str,
        text_at: usize,
    ) -> (Option<u32>, &'a str) {
        let text = &body[text_at..];
        match self.roles.get(prefix as usize) {
            None => (None, text),
            Some(Role::Author(index)) => (Some(*index), text),
            Some(Role::AuthorUnlessNotice(index)) if notice(first_line(body)).is_none() => {
                (Some(*index), text)
            }
            Some(_) => (None, body),
        }
    }
}

/// Prefixes looked up by comparing them one by one (most chats have fewer
/// authors), before the hash map.
const LINEAR_PREFIXES: usize = 16;

/// A distinct prefix seen by the census.
#[derive(Debug)]
struct Prefix<'a> {
    text: &'a str,
    balanced: bool,
    /// Lines it starts that are not notice sentences (unbalanced prefixes only).
    plain_lines: u32,
    /// Lines it starts that are the marker of a message the exporter
    /// deleted.
    deleted_by_exporter: u32,
}

/// What the first pass learns about a file's lines.
#[derive(Debug, Default)]
pub(super) struct Census<'a> {
    /// Indexes of the prefixes after the first [`LINEAR_PREFIXES`], by text.
    index: HashMap<&'a str, u32, FxBuild>,
    /// Every distinct prefix, in order of appearance.
    prefixes: Vec<Prefix<'a>>,
    /// A group-only notice was seen.
    pub group_notice: bool,
    /// The authors iOS wrote notices of what the exporter did with.
    exporter_notices: Vec<&'a str>,
}

impl<'a> Census<'a> {
    /// Takes the first line of a message's body into account; returns the
    /// prefix index (or [`NO_PREFIX`]) and where the text starts in the body.
    pub(super) fn observe(&mut self, line: &'a str) -> (u32, usize) {
        match classify(line) {
            Line::Notice { text, by } => {
                self.group_notice |= notice(text) == Some(true);
                if let Some(prefix) = by
                    && !self.exporter_notices.contains(&prefix)
                {
                    self.exporter_notices.push(prefix);
                }
                (NO_PREFIX, line.len() - text.len())
            }
            Line::Authored { prefix, text } => {
                let index = self.intern(prefix);
                let seen = &mut self.prefixes[index as usize];
                if deleted_by_exporter(text) {
                    seen.deleted_by_exporter += 1;
                }
                if !seen.balanced {
                    match notice(line) {
                        Some(group) => self.group_notice |= group,
                        None => seen.plain_lines += 1,
                    }
                }
                (index, line.len() - text.len())
            }
        }
    }

    fn intern(&mut self, prefix: &'a str) -> u32 {
        let mut known = self.prefixes.iter().take(LINEAR_PREFIXES);
        if let Some(index) =
            known.position(|seen| seen.text.len() == prefix.len() && seen.text == prefix)
        {
            return index as u32;
        }
        let next = self.prefixes.len() as u32;
        let index = match next as usize {
            0..LINEAR_PREFIXES => next,
            _ => *self.index.entry(prefix).or_insert(next),
        };
        if index == next {
            self.prefixes.push(Prefix {
                text: prefix,
                balanced: balanced(prefix),
                plain_lines: 0,
                deleted_by_exporter: 0,
            });
        }
        index
    }

    /// Decides every prefix (see the module documentation); authors become
    /// people in order of appearance, prefixes that clean to the same name
    /// one person.
    pub(super) fn cast(self) -> Cast<'a> {
        let mut cast = Cast::default();
        let mut deleted = Vec::new();
        let mut noticed = Vec::new();
        for prefix in self.prefixes {
            let name = clean_name(prefix.text);
            let role = if !prefix.balanced && prefix.plain_lines < 2 {
                Role::Notice
            } else {
                // A name of invisible marks only is an unnamed sender.
                let unnamed = name.is_empty();
                let found = cast.people.iter().position(|p| match unnamed {
                    true => p.id == UNNAMED,
                    false => p.name.as_ref() == Some(&name),
                });
                let index = match found {
                    Some(index) => index as u32,
                    None => {
                        cast.people.push(match unnamed {
                            true => Person::unnamed(),
                            false => Person::named(name),
                        });
                        (cast.people.len() - 1) as u32
                    }
                };
                if prefix.deleted_by_exporter > 0 && !deleted.contains(&index) {
                    deleted.push(index);
                }
                if self.exporter_notices.contains(&prefix.text) && !noticed.contains(&index) {
                    noticed.push(index);
                }
                if prefix.balanced {
                    Role::Author(index)
                } else {
                    Role::AuthorUnlessNotice(index)
                }
            };
            cast.roles.push(role);
        }
        cast.exporter = Exporter::of(&deleted, &noticed);
        cast
    }
}

/// The E.164 form of a number written in international format: `+`, country
/// code and number, with spaces, NBSP, dashes, dots, slashes or parentheses
/// between the digit groups, and optionally a `(0)` trunk prefix; `None` for
/// anything else.
///
/// WhatsApp writes every unsaved contact this way (`+44 7700 900123`), so
/// the E.164 form is a matter of syntax. The `phonenumber` crate is not used
/// here: loading its metadata costs ~56 ms per process and each new country
/// ~2 ms, more than parsing a 10 MB export.
pub(super) fn international_phone(s: &str) -> Option<String> {
    let rest = s.trim().strip_prefix('+')?;
    let rest = rest.replacen("(0)", "", 1);
    let mut e164 = String::with_capacity(16);
    e164.push('+');
    for c in rest.chars() {
        match c {
            '0'..='9' => e164.push(c),
            ' ' | '-' | '(' | ')' | '.' | '/' | '\u{a0}' | '\u{202f}' => {}
            _ => return None,
        }
    }
    let digits = e164.len() - 1;
    ((7..=15).contains(&digits) && !e164[1..].starts_with('0')).then_some(e164)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every body's (sender id or `-` for a notice, text), and the cast.
    fn read_all(bodies: &[&'static str]) -> (Vec<(String, &'static str)>, Cast<'static>, bool) {
        let mut census = Census::default();
        let seen: Vec<_> = bodies
            .iter()
            .map(|body| census.observe(first_line(body)))
            .collect();
        let group = census.group_notice;
        let cast = census.cast();
        let read = bodies
            .iter()
            .zip(seen)
            .map(|(body, (prefix, text_at))| {
                let (index, text) = cast.read(prefix, body, text_at);
                (
                    index.map_or("-".to_owned(), |i| cast.people[i as usize].id.to_string()),
                    text,
                )
            })
            .collect();
        (read, cast, group)
    }

    fn sender(name: &str, text: &'static str) -> (String, &'static str) {
        (name.to_owned(), text)
    }

    #[test]
    fn names_with_spaces_emoji_dots_and_parentheses() {
        let bodies = [
            "Dr. J. Smith (Sales) 🌟: hello: world",
            "Ana María: ok",
            "Bob:",
            "Bob: 10:30 works\nline 2",
        ];
        let (read, cast, _) = read_all(&bodies);
        assert_eq!(read[0], sender("Dr. J. Smith (Sales) 🌟", "hello: world"));
        assert_eq!(read[1], sender("Ana María", "ok"));
        assert_eq!(read[2], sender("Bob", ""));
        assert_eq!(read[3], sender("Bob", "10:30 works\nline 2"));
        assert_eq!(cast.people.len(), 3);
    }

    #[test]
    fn colons_inside_quotes_belong_to_notices() {
        let bodies = [
            "Alice: hi",
            "Alice changed the subject from \"Q3: plans\" to \"Q4\"",
            "Alice created group “Sales: EMEA”",
            "Bob \"The Builder\": hello",
            "Meeting at 10:30",
        ];
        let (read, cast, group) = read_all(&bodies);
        assert_eq!(read[1], sender("-", bodies[1]));
        assert_eq!(read[2], sender("-", bodies[2]));
        assert_eq!(read[3], sender("Bob \"The Builder\"", "hello"));
        assert_eq!(read[4], sender("-", bodies[4]));
        let names: Vec<_> = cast.people.iter().map(|p| p.id.as_ref()).collect();
        assert_eq!(names, ["Alice", "Bob \"The Builder\""]);
        assert!(group);
    }

    #[test]
    fn stray_quote_names_that_write_twice_are_authors() {
        let bodies = [
            "Bob \"Bobby: hi",
            "Bob \"Bobby: again",
            "Carol: changed the subject",
        ];
        let (read, _, _) = read_all(&bodies);
        assert_eq!(read[0], sender("Bob \"Bobby", "hi"));
        assert_eq!(read[2], sender("Carol", "changed the subject"));
        // The same prefix twice on a notice sentence is still a notice.
        let notices = [
            "Alice changed the subject from \"a: b\" to \"c\"",
            "Alice changed the subject from \"a: b\" to \"d\"",
        ];
        let (read, cast, _) = read_all(&notices);
        assert_eq!(read[1], sender("-", notices[1]));
        assert!(cast.people.is_empty());
    }

    #[test]
    fn ios_group_notices_written_as_the_group() {
        let bodies = [
            "Sales: \u{200e}Alice added Bob",
            "Sales: \u{200e}image omitted",
            "Sales: \u{200e}<attached: a.jpg>",
        ];
        let (read, _, group) = read_all(&bodies);
        assert!(group);
        assert_eq!(read[0], sender("-", "\u{200e}Alice added Bob"));
        assert_eq!(read[1].0, "Sales");
        assert_eq!(read[2].0, "Sales");
    }

    #[test]
    fn a_name_of_invisible_marks_is_an_unnamed_sender() {
        let (read, cast, _) = read_all(&["\u{200e}: hello", "\u{200f}\u{200e}: again", "Bob: hi"]);
        assert_eq!(read[0], sender(UNNAMED, "hello"));
        assert_eq!(read[1], sender(UNNAMED, "again"));
        assert_eq!(cast.people.len(), 2);
        assert_eq!(cast.people[0].name, None);
    }

    #[test]
    fn invisible_marks_around_names_are_one_person() {
        let (_, cast, _) = read_all(&[
            "\u{202a}+44 7700 900123\u{202c}: hi",
            "+44 7700 900123: again",
        ]);
        assert_eq!(cast.people.len(), 1);
        assert_eq!(cast.people[0].id, "+44 7700 900123");
        assert_eq!(cast.people[0].phone.as_deref(), Some("+447700900123"));
    }

    #[test]
    fn phones_only_from_international_numbers() {
        assert_eq!(
            international_phone("+1 415-555-0132").as_deref(),
            Some("+14155550132")
        );
        assert_eq!(
            international_phone("+49 30 123456").as_deref(),
            Some("+4930123456")
        );
        assert_eq!(international_phone("07700 900123"), None);
        assert_eq!(international_phone("+44 Bob"), None);
        assert_eq!(international_phone("+1"), None);
        assert_eq!(
            international_phone("+44 (0)20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(international_phone("+0 123 4567"), None);
        assert_eq!(international_phone("+1 234 567 890 123 456"), None);
    }
}
