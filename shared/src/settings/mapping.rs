//! The mapping settings, and the one function that turns a mapping CSV
//! into a mapper in both modes (the file of a local run, the object in the
//! config bucket for the convert function).

use phonenumber::country::Id;

use super::SettingError;
use super::reader::{Name, Reader};
use crate::mapping::{Mapper, MappingError, MappingIssue, MappingOptions, MappingTable};

/// How items are mapped to mailboxes.
#[derive(Debug, Clone)]
pub struct MappingSettings<P> {
    /// `[mapping] csv` (a file) or `MAPPING_KEY` (an object in
    /// `CONFIG_BUCKET`): the mapping CSV; none: automatic mapping only.
    pub csv: Option<P>,
    /// `default_region` or `DEFAULT_REGION`: the ISO 3166 region national
    /// phone numbers in the CSV are read in (`GB`, `US`). Required.
    pub default_region: Id,
    /// `[mapping] id_domain` or `ID_DOMAIN`: WeCom userids map to
    /// `<userid>@<id_domain>` when no CSV row maps them.
    pub id_domain: Option<String>,
    /// `[mapping] custodian_domains` (`["corp.example"]`) or
    /// `CUSTODIAN_DOMAINS` (comma-separated): a custodian named by an
    /// e-mail address of one of these domains files into that mailbox
    /// without a CSV row. Default none: every custodian must be in the CSV
    /// (an export dropped under any other address is reported, not filed
    /// into that address's mailbox).
    pub custodian_domains: Vec<String>,
}

impl<P> MappingSettings<P> {
    pub(super) fn read<R: Reader<Place = P>>(reader: &R) -> Result<Self, SettingError> {
        Ok(MappingSettings {
            csv: reader.place(Name::new("mapping.csv", "MAPPING_KEY"))?,
            default_region: reader.required(Name::new("default_region", "DEFAULT_REGION"))?,
            id_domain: reader.value(Name::new("mapping.id_domain", "ID_DOMAIN"))?,
            custodian_domains: reader
                .value(Name::new("mapping.custodian_domains", "CUSTODIAN_DOMAINS"))?
                .unwrap_or_default(),
        })
    }

    /// How the mapper reads identities.
    pub fn mapping_options(&self) -> MappingOptions {
        MappingOptions {
            default_region: self.default_region,
            id_domain: self.id_domain.clone(),
            custodian_domains: self.custodian_domains.clone(),
        }
    }

    /// The mapper for the mapping CSV's bytes (`None`: automatic mapping
    /// only). Each row problem is handed to `issue` (with its line number)
    /// and the rest of the file is used; a file that is unusable as a whole
    /// is an error.
    pub fn mapper(
        &self,
        csv: Option<&[u8]>,
        issue: impl FnMut(MappingIssue),
    ) -> Result<Mapper, MappingError> {
        let opts = self.mapping_options();
        let table = match csv {
            Some(bytes) => {
                let (table, issues) = MappingTable::from_csv(bytes, &opts)?;
                issues.into_iter().for_each(issue);
                table
            }
            None => MappingTable::default(),
        };
        Mapper::new(table, opts)
    }
}
