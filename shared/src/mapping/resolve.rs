//! Resolving an item to the mailboxes it is delivered to.

use std::borrow::Cow;
use std::fmt;

use phonenumber::country::Id;
use sha2::{Digest, Sha256};

use super::identity::{fold, is_plausible_address, is_wecom_userid, normalise_phone, phone_text};
use super::{MappingError, MappingOptions, MappingTable};
use crate::item::{Item, Participant, SourceKind};

/// Maps items to mailboxes: the custom mapping first, then automatic mapping.
#[derive(Debug, Clone)]
pub struct Mapper {
    table: MappingTable,
    region: Id,
    id_domain: Option<String>,
    /// Lowercase.
    custodian_domains: Vec<String>,
    /// [`Mapper::hash`].
    hash: String,
}

/// The format name hashed first, so that a change in what is hashed
/// changes every hash.
const HASH_FORMAT: &str = "mobile-archiver-mapping/1";

/// [`Mapper::hash`]: each field preceded by its length, so that no two
/// different mappings hash the same bytes.
fn hash(
    table: &MappingTable,
    region: Id,
    id_domain: Option<&str>,
    custodian_domains: &[String],
) -> String {
    let mut hasher = Sha256::new();
    let mut field = |text: &str| {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    field(HASH_FORMAT);
    field(region.as_ref());
    field(id_domain.unwrap_or_default());
    let mut domains: Vec<&str> = custodian_domains.iter().map(String::as_str).collect();
    domains.sort_unstable();
    domains.dedup();
    field(&domains.len().to_string());
    for domain in domains {
        field(domain);
    }
    for (key, mailbox) in table.sorted() {
        field(key);
        field(mailbox);
    }
    hex::encode(hasher.finalize())
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
    /// Why the item's custodian gets no copy, naming it (`custodian
    /// +447700900001 is not in the mapping CSV`); `None` when it has a
    /// mailbox or the item has no custodian.
    pub custodian_unmapped: Option<String>,
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
    /// name, [`MappingError::InvalidCustodianDomain`] when one of
    /// `opts.custodian_domains` is not.
    pub fn new(table: MappingTable, opts: MappingOptions) -> Result<Self, MappingError> {
        let id_domain = opts
            .id_domain
            .map(|domain| checked_domain(domain).map_err(MappingError::InvalidIdDomain))
            .transpose()?;
        let custodian_domains: Vec<String> = opts
            .custodian_domains
            .into_iter()
            .map(|domain| checked_domain(domain).map_err(MappingError::InvalidCustodianDomain))
            .collect::<Result<_, _>>()?;
        let hash = hash(
            &table,
            opts.default_region,
            id_domain.as_deref(),
            &custodian_domains,
        );
        Ok(Mapper {
            table,
            region: opts.default_region,
            id_domain,
            custodian_domains,
            hash,
        })
    }

    /// The SHA-256 (hex) of everything resolution depends on: each
    /// identity mapped and its mailbox, the default region, the id domain
    /// and the custodian domains. Two mappers with the same hash resolve
    /// every item alike, so a CSV saved again with other quoting, row
    /// order or blank lines is the same mapping; a row added, removed or
    /// changed is another. Unmapped records name the hash they were made
    /// under, and a hash never applied before starts a remap
    /// ([`crate::remap`]).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// How many identities the custom mapping holds.
    pub fn identities(&self) -> usize {
        self.table.len()
    }

    /// Where `item` goes. Hash lookups only; phone numbers already in E.164
    /// form (as items carry them) are not parsed again.
    pub fn resolve(&self, item: &Item<'_>) -> Resolution {
        let custodian = item
            .custodian
            .as_deref()
            .map(|custodian| self.custodian_mailbox(custodian));
        // A refused custodian's address must not come back in through the
        // participant the export gives it (its folder name is its address).
        let refused_address = match &custodian {
            Some(Err(refusal)) => Some(refusal.custodian.as_str()),
            _ => None,
        };
        let addresses: Vec<Option<String>> = item
            .participants()
            .map(|participant| self.participant_mailbox(participant, item.source, refused_address))
            .collect();
        let mut mailboxes: Vec<String> = addresses.iter().flatten().cloned().collect();
        let mut refused = None;
        match custodian {
            Some(Ok(mailbox)) => mailboxes.push(mailbox),
            Some(Err(refusal)) => refused = Some(refusal),
            None => {}
        }
        mailboxes.sort_unstable();
        mailboxes.dedup();
        let unmapped_reason = mailboxes
            .is_empty()
            .then(|| unmapped_reason(item, refused.as_ref()));
        Resolution {
            addresses,
            mailboxes,
            custodian_unmapped: refused.map(|refusal| refusal.to_string()),
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
    /// itself when it is an address of a custodian domain. A custodian is
    /// whoever an export is dropped under, so an address of any other
    /// domain would file the export into a mailbox nobody chose.
    fn custodian_mailbox(&self, custodian: &str) -> Result<String, CustodianRefusal> {
        let key = self.identity_key(custodian);
        if let Some(mailbox) = key.as_deref().and_then(|key| self.table.get(key)) {
            return Ok(mailbox.to_owned());
        }
        let domain = key
            .as_deref()
            .filter(|key| is_plausible_address(key))
            .and_then(|address| Some(address.rsplit_once('@')?.1));
        if let (Some(key), Some(domain)) = (&key, domain)
            && self.custodian_domains.iter().any(|known| known == domain)
        {
            return Ok(key.clone().into_owned());
        }
        Err(CustodianRefusal {
            custodian: fold(custodian).into_owned(),
            domain: domain.map(str::to_owned),
        })
    }

    /// A participant's mailbox: from the custom mapping, then automatic
    /// (never `refused`, the address of a custodian that does not map).
    fn participant_mailbox(
        &self,
        participant: &Participant<'_>,
        source: SourceKind,
        refused: Option<&str>,
    ) -> Option<String> {
        match self
            .wecom_listed_mailbox(participant, source)
            .or_else(|| self.listed_mailbox(participant))
        {
            Some(mailbox) => Some(mailbox.to_owned()),
            None => carried_address(participant)
                .filter(|address| Some(address.as_str()) != refused)
                .or_else(|| self.derived_address(participant, source)),
        }
    }

    /// The custom mapping of a WeCom participant's `wecom:<userid>`
    /// identity (which also lists a userid made only of digits).
    fn wecom_listed_mailbox(
        &self,
        participant: &Participant<'_>,
        source: SourceKind,
    ) -> Option<&str> {
        let id = participant
            .id
            .as_deref()
            .filter(|_| source == SourceKind::Wecom)?;
        self.table.get(&format!("wecom:{}", fold(id)))
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

/// Why a custodian gets no copy of its items.
#[derive(Debug)]
struct CustodianRefusal {
    /// The custodian, trimmed and lowercase.
    custodian: String,
    /// Its domain, when it is an e-mail address (of no custodian domain).
    domain: Option<String>,
}

impl fmt::Display for CustodianRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "custodian {} is not in the mapping CSV", self.custodian)?;
        match &self.domain {
            Some(domain) => write!(f, " and {domain} is not a custodian domain"),
            None => Ok(()),
        }
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

/// A configured domain, lowercase, when `user@domain` is a plausible
/// address; the domain as given otherwise.
fn checked_domain(domain: String) -> Result<String, String> {
    let folded = fold(&domain).into_owned();
    if is_plausible_address(&format!("user@{folded}")) {
        Ok(folded)
    } else {
        Err(domain)
    }
}

/// Why an item maps to no one: the custodian (and why an e-mail custodian
/// was refused) and the participants tried.
fn unmapped_reason(item: &Item<'_>, refused: Option<&CustodianRefusal>) -> String {
    let custodian = item.custodian.as_deref().map(|custodian| {
        match refused.and_then(|refusal| refusal.domain.as_deref()) {
            Some(domain) => format!(
                "custodian {} ({domain} is not a custodian domain)",
                custodian.trim()
            ),
            None => format!("custodian {}", custodian.trim()),
        }
    });
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
