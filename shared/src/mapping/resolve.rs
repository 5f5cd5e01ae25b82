//! Resolving an item to the mailboxes it is delivered to.

use std::borrow::Cow;

use phonenumber::country::Id;

use super::identity::{fold, is_plausible_address, is_wecom_userid, normalise_phone, phone_text};
use super::{MappingError, MappingOptions, MappingTable};
use crate::item::{Item, Participant, SourceKind};

/// Maps items to mailboxes: the custom mapping first, then automatic mapping.
#[derive(Debug, Clone)]
pub struct Mapper {
    table: MappingTable,
    region: Id,
    id_domain: Option<String>,
}

/// Where an item goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The mailbox of each participant, in [`Item::participants`] order
    /// (sender first, then recipients); `None` for those that do not map.
    pub addresses: Vec<Option<String>>,
    /// Every mailbox the item is delivered to — the participants' and the
    /// custodian's — sorted and without repeats.
    pub mailboxes: Vec<String>,
    /// Why the item maps to no one, naming the identities tried; `Some`
    /// exactly when `mailboxes` is empty.
    pub unmapped_reason: Option<String>,
}

impl Mapper {
    /// A mapper over `table`, with `opts` for automatic mapping.
    ///
    /// # Errors
    ///
    /// [`MappingError::InvalidIdDomain`] when `opts.id_domain` is not a domain
    /// name.
    pub fn new(table: MappingTable, opts: MappingOptions) -> Result<Self, MappingError> {
        let id_domain = opts.id_domain.map(checked_domain).transpose()?;
        Ok(Mapper {
            table,
            region: opts.default_region,
            id_domain,
        })
    }

    /// Where `item` goes. Hash lookups only; phone numbers already in E.164
    /// form (as items carry them) are not parsed again.
    pub fn resolve(&self, item: &Item<'_>) -> Resolution {
        let addresses: Vec<Option<String>> = item
            .participants()
            .map(|participant| self.participant_mailbox(participant, item.source))
            .collect();
        let custodian = item
            .custodian
            .as_deref()
            .and_then(|custodian| self.custodian_mailbox(custodian));
        let mut mailboxes: Vec<String> = addresses.iter().flatten().cloned().collect();
        mailboxes.extend(custodian);
        mailboxes.sort_unstable();
        mailboxes.dedup();
        let unmapped_reason = mailboxes.is_empty().then(|| unmapped_reason(item));
        Resolution {
            addresses,
            mailboxes,
            unmapped_reason,
        }
    }

    /// The mailbox the custom mapping gives `identity`, normalised as the CSV
    /// normalises it (phone numbers to E.164, anything else trimmed and
    /// lowercase).
    pub fn lookup(&self, identity: &str) -> Option<&str> {
        self.table.get(&self.identity_key(identity)?)
    }

    /// `s` in E.164 form: unchanged when it already is, parsed with the
    /// default region otherwise; `None` when it does not parse.
    pub fn normalise_phone<'s>(&self, s: &'s str) -> Option<Cow<'s, str>> {
        normalise_phone(s, self.region)
    }

    /// The lookup key of an identity of unknown kind, read as the CSV reads
    /// it.
    fn identity_key<'s>(&self, identity: &'s str) -> Option<Cow<'s, str>> {
        if phone_text(identity).is_some() {
            self.normalise_phone(identity)
        } else {
            Some(fold(identity))
        }
    }

    /// The custodian's mailbox: from the custom mapping, or the custodian
    /// itself when it is an address.
    fn custodian_mailbox(&self, custodian: &str) -> Option<String> {
        let key = self.identity_key(custodian)?;
        match self.table.get(&key) {
            Some(mailbox) => Some(mailbox.to_owned()),
            None => is_plausible_address(&key).then(|| key.into_owned()),
        }
    }

    /// A participant's mailbox: from the custom mapping, then automatic.
    fn participant_mailbox(
        &self,
        participant: &Participant<'_>,
        source: SourceKind,
    ) -> Option<String> {
        match self.listed_mailbox(participant) {
            Some(mailbox) => Some(mailbox.to_owned()),
            None => {
                carried_address(participant).or_else(|| self.derived_address(participant, source))
            }
        }
    }

    /// The custom mapping of a participant's phone, id or e-mail, in that
    /// order; of its display name only when it has nothing else.
    fn listed_mailbox(&self, participant: &Participant<'_>) -> Option<&str> {
        let phone = || {
            self.table
                .get(&self.normalise_phone(participant.phone.as_deref()?)?)
        };
        let folded = |field: &Option<Cow<'_, str>>| self.table.get(&fold(field.as_deref()?));
        let name = || {
            only_named(participant)
                .then(|| folded(&participant.name))
                .flatten()
        };
        phone()
            .or_else(|| folded(&participant.id))
            .or_else(|| folded(&participant.email))
            .or_else(name)
    }

    /// `{id}@{id_domain}` for a WeCom participant whose id is shaped like an
    /// employee userid, when an id domain is configured.
    fn derived_address(&self, participant: &Participant<'_>, source: SourceKind) -> Option<String> {
        let domain = self.id_domain.as_deref()?;
        let id = participant.id.as_deref()?.trim();
        if source != SourceKind::Wecom || !is_wecom_userid(id) {
            return None;
        }
        let address = format!("{}@{domain}", id.to_ascii_lowercase());
        is_plausible_address(&address).then_some(address)
    }
}

/// True when a participant has a display name and nothing else to map by.
fn only_named(participant: &Participant<'_>) -> bool {
    participant.phone.is_none() && participant.id.is_none() && participant.email.is_none()
}

/// The e-mail address a participant carries, lowercase, when plausible.
fn carried_address(participant: &Participant<'_>) -> Option<String> {
    let address = fold(participant.email.as_deref()?);
    is_plausible_address(&address).then(|| address.into_owned())
}

/// The id domain, lowercase, when `user@domain` is a plausible address.
fn checked_domain(domain: String) -> Result<String, MappingError> {
    let folded = fold(&domain).into_owned();
    if is_plausible_address(&format!("user@{folded}")) {
        Ok(folded)
    } else {
        Err(MappingError::InvalidIdDomain(domain))
    }
}

/// Why an item maps to no one: the custodian and participants tried.
fn unmapped_reason(item: &Item<'_>) -> String {
    let custodian = item
        .custodian
        .as_deref()
        .map(|custodian| format!("custodian {}", custodian.trim()));
    let participants: Vec<String> = item.participants().map(describe).collect();
    let participants = match participants.as_slice() {
        [] => None,
        [one] => Some(format!("participant {one}")),
        many => Some(format!("participants {}", many.join(", "))),
    };
    let tried: Vec<String> = custodian.into_iter().chain(participants).collect();
    if tried.is_empty() {
        "no custodian or participants to map".to_owned()
    } else {
        format!("no mapping for {}", tried.join(" or "))
    }
}

/// A participant as named in an unmapped reason: its label, then its other
/// identifiers in parentheses.
fn describe(participant: &Participant<'_>) -> String {
    let label = participant.label();
    let others: Vec<&str> = [&participant.phone, &participant.id, &participant.email]
        .into_iter()
        .filter_map(|field| field.as_deref())
        .filter(|value| *value != label)
        .collect();
    if others.is_empty() {
        label.to_owned()
    } else {
        format!("{label} ({})", others.join(", "))
    }
}
