//! From and To: participants as `"Name (+E.164)" <mailbox>`.

use std::borrow::Cow;

use mail_builder::headers::HeaderType;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use sha2::{Digest, Sha256};

use super::encoded_word;
use super::error::RenderError;
use super::sanitize::header_text;
use crate::address::is_address;
use crate::item::{Item, Participant};

/// Local part of the From address of items without a sender (system lines).
const SYSTEM_LOCAL_PART: &str = "system";

/// Hex digits of the identity hash in an unmapped local part.
const IDENTITY_HASH_HEX: usize = 12;

/// Longest readable prefix kept in front of the identity hash.
const SLUG_MAX: usize = 32;

/// A participant as the message shows it.
#[derive(Debug)]
pub(super) struct Party<'x> {
    /// `Name (+E.164)`, or the best label when name or phone is missing.
    pub display: Cow<'x, str>,
    /// The mapped mailbox, or an address under the unmapped domain.
    pub address: Cow<'x, str>,
}

/// The sender and the recipients of an item.
#[derive(Debug)]
pub(super) struct Parties<'x> {
    /// The sender, or the messenger itself for system lines.
    pub from: Party<'x>,
    /// Every recipient.
    pub to: Vec<Party<'x>>,
}

impl<'x> Parties<'x> {
    /// The `From` header value.
    pub fn sender_address(&'x self) -> HeaderType<'x> {
        if encoded_word::needs_encoding(&self.from.display) {
            return Raw::new(encoded_mailbox(&self.from)).into();
        }
        mailbox(&self.from).into()
    }

    /// The `To` header value; `undisclosed-recipients:;` when there is none.
    /// When a name holds `=?`, every name of the list is written as encoded
    /// words.
    pub fn recipient_addresses(&'x self) -> HeaderType<'x> {
        if self.to.is_empty() {
            return Address::new_group(Some("undisclosed-recipients"), Vec::new()).into();
        }
        if self
            .to
            .iter()
            .any(|party| encoded_word::needs_encoding(&party.display))
        {
            let list: Vec<String> = self.to.iter().map(encoded_mailbox).collect();
            return Raw::new(list.join(", ")).into();
        }
        Address::new_list(self.to.iter().map(mailbox).collect()).into()
    }
}

fn mailbox<'x>(party: &'x Party<'x>) -> Address<'x> {
    Address::new_address(Some(party.display.as_ref()), party.address.as_ref())
}

/// `=?utf-8?B?…?= <mailbox>`: the display name as encoded words, so that a
/// name holding `=?` shows as written (the address is a checked
/// addr-spec).
fn encoded_mailbox(party: &Party<'_>) -> String {
    format!(
        "{} <{}>",
        encoded_word::encode(&party.display),
        party.address
    )
}

/// Resolves every participant of `item` to a display name and an address.
/// `addresses` has one entry per participant (checked by the caller).
pub(super) fn parties<'x>(
    item: &'x Item<'_>,
    addresses: &'x [Option<String>],
    unmapped_domain: &str,
) -> Result<Parties<'x>, RenderError> {
    if !is_address(&format!("x@{unmapped_domain}")) || !unmapped_domain.ends_with(".invalid") {
        return Err(RenderError::UnmappedDomain(unmapped_domain.to_owned()));
    }
    let (from, recipient_addresses) = match (&item.sender, addresses.split_first()) {
        (Some(sender), Some((mapped, rest))) => {
            (party(0, sender, mapped.as_deref(), unmapped_domain)?, rest)
        }
        _ => (system_party(item, unmapped_domain), addresses),
    };
    let first_recipient = addresses.len() - recipient_addresses.len();
    let to = item
        .recipients
        .iter()
        .zip(recipient_addresses)
        .enumerate()
        .map(|(i, (recipient, mapped))| {
            party(
                first_recipient + i,
                recipient,
                mapped.as_deref(),
                unmapped_domain,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Parties { from, to })
}

fn party<'x>(
    index: usize,
    participant: &'x Participant<'_>,
    mapped: Option<&'x str>,
    unmapped_domain: &str,
) -> Result<Party<'x>, RenderError> {
    let address = match mapped {
        Some(address) if is_address(address) => Cow::Borrowed(address),
        Some(address) => {
            return Err(RenderError::InvalidAddress {
                index,
                address: address.to_owned(),
            });
        }
        None => Cow::Owned(format!(
            "{}@{unmapped_domain}",
            unmapped_local_part(participant)
        )),
    };
    Ok(Party {
        display: display_name(participant),
        address,
    })
}

/// The messenger itself, as the author of lines without a sender.
fn system_party<'x>(item: &Item<'_>, unmapped_domain: &str) -> Party<'x> {
    Party {
        display: Cow::Owned(format!("{} system", item.source.network().as_str())),
        address: Cow::Owned(format!("{SYSTEM_LOCAL_PART}@{unmapped_domain}")),
    }
}

/// `Name (+E.164)` when both are known, otherwise the participant's best
/// label; sanitized for a header.
fn display_name<'x>(participant: &'x Participant<'_>) -> Cow<'x, str> {
    let name = participant
        .name
        .as_deref()
        .map(header_text)
        .filter(|n| !n.is_empty());
    let phone = participant
        .phone
        .as_deref()
        .map(header_text)
        .filter(|p| !p.is_empty());
    match (name, phone) {
        (Some(name), Some(phone)) => Cow::Owned(format!("{name} ({phone})")),
        (Some(name), None) => name,
        _ => header_text(participant.label()),
    }
}

/// The local part for a participant with no mailbox: the E.164 number
/// (`+447700900123`), or else a readable slug of the id, e-mail or name
/// followed by a hash of it (`bob-smith.1a2b3c4d5e6f`), which keeps
/// identities apart that slug to the same text. Only `[a-z0-9.+_-]` appear.
fn unmapped_local_part(participant: &Participant<'_>) -> String {
    if let Some(phone) = participant.phone.as_deref().and_then(phone_local_part) {
        return phone;
    }
    let identity = participant
        .id
        .as_deref()
        .or(participant.email.as_deref())
        .or(participant.name.as_deref())
        .unwrap_or_default();
    let mut local = slug(identity);
    if !local.is_empty() {
        local.push('.');
    }
    let digest = Sha256::digest(identity.as_bytes());
    local.push_str(&hex::encode(&digest[..IDENTITY_HASH_HEX / 2]));
    local
}

/// `+` and the digits of an E.164 number; `None` when it has no digits or
/// anything but digits, spaces and separators.
fn phone_local_part(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let only_number = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
    (only_number && !digits.is_empty()).then(|| format!("+{digits}"))
}

/// Lowercase ASCII letters and digits of `value`, every other run of
/// characters one `-`, at most [`SLUG_MAX`] long, no `-` at either end.
fn slug(value: &str) -> String {
    let mut out = String::with_capacity(SLUG_MAX);
    for c in value.chars() {
        if out.len() >= SLUG_MAX {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(
        id: Option<&str>,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Participant<'static> {
        Participant {
            id: id.map(|s| s.to_owned().into()),
            name: name.map(|s| s.to_owned().into()),
            phone: phone.map(|s| s.to_owned().into()),
            email: None,
        }
    }

    #[test]
    fn unmapped_local_parts_use_the_phone_or_a_hashed_slug() {
        let by_phone = participant(Some("x"), Some("Bob"), Some("+447700900123"));
        assert_eq!(unmapped_local_part(&by_phone), "+447700900123");
        let by_id = unmapped_local_part(&participant(Some("Bob Smith"), None, None));
        assert!(by_id.starts_with("bob-smith."), "{by_id}");
        assert_eq!(by_id.len(), "bob-smith.".len() + IDENTITY_HASH_HEX);
        let other = unmapped_local_part(&participant(Some("bob smith"), None, None));
        assert_ne!(by_id, other);
        let chinese = unmapped_local_part(&participant(None, Some("张伟"), None));
        assert_eq!(chinese.len(), IDENTITY_HASH_HEX, "{chinese}");
        let hostile = unmapped_local_part(&participant(None, None, Some("+44\r\nBcc: x")));
        assert!(
            hostile
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(&b)),
            "{hostile}"
        );
        for local in [by_id, other, chinese, hostile] {
            assert!(
                is_address(&format!("{local}@unmapped.example.invalid")),
                "{local}"
            );
        }
    }
}
