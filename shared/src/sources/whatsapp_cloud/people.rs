//! Who is who in a webhook: the business number is the employee side (what
//! the mapping CSV maps); a customer is shown by the name the employee
//! saved (contact book), else the profile name, else the username, with
//! the phone when the webhook has it and the business-scoped user id
//! (BSUID, `user_id`) as the id, which is all there is once a username
//! user's phone is withheld (sources-deep.md B.6).

use serde_json::Value;

use super::contacts::ContactBook;
use super::payload::Metadata;
use crate::item::Participant;

/// The ASCII digits of a phone number as written (`+1 650-555-1234`).
pub(crate) fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// `+<digits>`, when the text has any.
pub(crate) fn e164(phone: &str) -> Option<String> {
    let digits = digits(phone);
    (!digits.is_empty()).then(|| format!("+{digits}"))
}

/// The business number of a change.
#[derive(Debug, Clone)]
pub(crate) struct Business {
    /// Its digits (`15550783881`), or the phone number id when the display
    /// number is missing.
    pub key: String,
    /// The participant: the number, and the Cloud API's id of it.
    pub participant: Participant<'static>,
}

impl Business {
    pub(crate) fn of(metadata: Option<&Metadata>) -> Business {
        let phone = metadata
            .and_then(|m| m.display_phone_number.as_deref())
            .and_then(e164);
        let id = metadata.and_then(|m| m.phone_number_id.clone());
        let key = phone
            .as_deref()
            .map(digits)
            .or_else(|| id.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        Business {
            key,
            participant: Participant {
                id: if phone.is_none() { id } else { None }.map(Into::into),
                name: None,
                phone: phone.map(Into::into),
                email: None,
            },
        }
    }
}

/// A customer as the webhook names them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Customer {
    /// Phone digits (`wa_id`, `from`, `to`), when present.
    pub phone: Option<String>,
    /// Business-scoped user id (`user_id`, `from_user_id`, `to_user_id`).
    pub user_id: Option<String>,
    /// Profile name.
    pub profile_name: Option<String>,
    /// Username (`profile.username`).
    pub username: Option<String>,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Customer {
    /// The customer named by `phone` and `user_id` (either may be missing),
    /// completed from the change's `contacts[]`: the entry with that phone
    /// or user id, or the only entry when the message names neither.
    pub(crate) fn find(phone: Option<&str>, user_id: Option<&str>, contacts: &[Value]) -> Customer {
        let phone = phone.map(digits).filter(|p| !p.is_empty());
        let matches = |contact: &&Value| {
            let wa_id = text(contact, "wa_id").map(|w| digits(&w));
            let id = text(contact, "user_id");
            (phone.is_some() && wa_id == phone) || (user_id.is_some() && id.as_deref() == user_id)
        };
        let contact = contacts.iter().find(matches).or_else(|| {
            (phone.is_none() && user_id.is_none() && contacts.len() == 1).then(|| &contacts[0])
        });
        let profile = contact.and_then(|c| c.get("profile"));
        Customer {
            phone: phone.or_else(|| {
                contact
                    .and_then(|c| text(c, "wa_id"))
                    .map(|w| digits(&w))
                    .filter(|p| !p.is_empty())
            }),
            user_id: user_id
                .map(str::to_owned)
                .or_else(|| contact.and_then(|c| text(c, "user_id"))),
            profile_name: profile.and_then(|p| text(p, "name")),
            username: profile.and_then(|p| text(p, "username")),
        }
    }

    /// What the conversation with this customer is keyed by: the phone,
    /// else the BSUID, else the username.
    pub(crate) fn key(&self) -> String {
        self.phone
            .clone()
            .or_else(|| self.user_id.clone())
            .or_else(|| self.username.clone())
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// The participant, named from the contact book first.
    pub(crate) fn participant(&self, book: &ContactBook) -> Participant<'static> {
        let saved = self.phone.as_deref().and_then(|p| book.name(p));
        let name = saved
            .map(str::to_owned)
            .or_else(|| self.profile_name.clone())
            .or_else(|| self.username.clone());
        let mut participant = Participant {
            id: self.user_id.clone().map(Into::into),
            name: name.map(Into::into),
            phone: self.phone.as_deref().and_then(e164).map(Into::into),
            email: None,
        };
        if participant.id.is_none() && participant.phone.is_none() && participant.name.is_none() {
            participant.id = Some("unknown".into());
        }
        participant
    }
}
