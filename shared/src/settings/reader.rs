//! Reading one setting, whichever mode it comes from: the file and the
//! environment are both a [`Reader`], and a value's type says how its text
//! (or TOML value) is read.

use chrono_tz::Tz;
use phonenumber::country::Id;
use serde::de::DeserializeOwned;
use serde::de::value::{Error as NameError, StrDeserializer};

use super::{Setting, SettingError};
use crate::convert::Delivery;
use crate::mailbox::imap::AuthMethod;
use crate::mailbox::smtp::{Format, SmtpAuth};
use crate::mapping::parse_region;
use crate::metrics::Namespace;
use crate::sources::whatsapp_export::{CustodianNames, DateOrder};

/// A setting's two names: its key path in the TOML file and its
/// environment variable.
#[derive(Debug, Clone, Copy)]
pub(super) struct Name {
    /// The dotted key path (`render.attachment_limit`).
    pub key: &'static str,
    /// The environment variable (`ATTACHMENT_LIMIT`).
    pub var: &'static str,
}

impl Name {
    /// A setting both modes have.
    pub const fn new(key: &'static str, var: &'static str) -> Name {
        Name { key, var }
    }
}

/// Where settings are read from.
pub(super) trait Reader {
    /// Where a store or a file is: a path (relative ones from the file's
    /// directory) or a name in AWS (bucket, object key, secret ARN).
    type Place;

    /// A setting's value; `None` when it is not set.
    fn value<T: Value>(&self, name: Name) -> Result<Option<T>, SettingError>;

    /// A setting only the TOML file has (the environment has none: `None`).
    fn file_value<T: Value>(&self, key: &'static str) -> Result<Option<T>, SettingError>;

    /// A place; `None` when it is not set.
    fn place(&self, name: Name) -> Result<Option<Self::Place>, SettingError>;

    /// The setting as this mode's errors name it.
    fn setting(&self, name: Name) -> Setting;

    /// A setting that must be set.
    fn required<T: Value>(&self, name: Name) -> Result<T, SettingError> {
        self.value(name)?
            .ok_or_else(|| SettingError::Missing(self.setting(name)))
    }

    /// A place that must be set.
    fn required_place(&self, name: Name) -> Result<Self::Place, SettingError> {
        self.place(name)?
            .ok_or_else(|| SettingError::Missing(self.setting(name)))
    }
}

/// A type a setting is read as: from an environment variable's text, or
/// from a TOML value (a string read as that text, unless the type says
/// otherwise).
pub(super) trait Value: Sized {
    /// From text; the error says what is wrong with it.
    fn from_text(text: &str) -> Result<Self, String>;

    /// From a TOML value.
    fn from_toml(value: toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(text) => Self::from_text(&text),
            other => Err(format!("expected a string, found {}", other.type_str())),
        }
    }
}

impl Value for String {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

/// A list of names: a TOML array of strings, or comma-separated text
/// (blanks around each name ignored, empty names dropped).
impl Value for Vec<String> {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect())
    }

    fn from_toml(value: toml::Value) -> Result<Self, String> {
        let toml::Value::Array(items) = value else {
            return Err(format!(
                "expected an array of strings, found {}",
                value.type_str()
            ));
        };
        items
            .into_iter()
            .map(|item| match item {
                toml::Value::String(name) => Ok(name.trim().to_owned()),
                other => Err(format!(
                    "expected an array of strings, found an array holding {}",
                    other.type_str()
                )),
            })
            .collect()
    }
}

/// A table of custodians, each with the author names it appears under (a
/// list of names, or one name); the file only.
impl Value for CustodianNames {
    fn from_text(_: &str) -> Result<Self, String> {
        Err("expected a table of custodians, found text".to_owned())
    }

    fn from_toml(value: toml::Value) -> Result<Self, String> {
        let toml::Value::Table(table) = value else {
            return Err(format!(
                "expected a table of custodians, found {}",
                value.type_str()
            ));
        };
        let pairs = table
            .into_iter()
            .map(|(custodian, names)| {
                let names = match names {
                    toml::Value::String(name) => vec![name.trim().to_owned()],
                    list => Vec::<String>::from_toml(list)
                        .map_err(|reason| format!("{custodian}: {reason}"))?,
                };
                Ok((custodian, names))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CustodianNames::new(pairs))
    }
}

/// Counts and sizes: a TOML integer, or decimal text (blanks around it
/// ignored).
macro_rules! integer_values {
    ($($t:ty),+) => {$(
        impl Value for $t {
            fn from_text(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|e| format!("{text:?}: {e}"))
            }

            fn from_toml(value: toml::Value) -> Result<Self, String> {
                match value {
                    toml::Value::Integer(n) => {
                        <$t>::try_from(n).map_err(|_| format!("{n} is out of range"))
                    }
                    other => Err(format!("expected an integer, found {}", other.type_str())),
                }
            }
        }
    )+};
}

integer_values!(u32, u64, usize);

impl Value for Namespace {
    fn from_text(text: &str) -> Result<Self, String> {
        Namespace::new(text).map_err(|e| e.to_string())
    }
}

impl Value for Tz {
    fn from_text(text: &str) -> Result<Self, String> {
        text.parse().map_err(|_| {
            format!("unknown time zone {text:?} (use an IANA name such as Europe/London)")
        })
    }
}

impl Value for Id {
    fn from_text(text: &str) -> Result<Self, String> {
        parse_region(text).map_err(|e| e.to_string())
    }
}

/// A value named by one of its serde names (`day-first`, `xoauth2`).
fn named<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    T::deserialize(StrDeserializer::<NameError>::new(text)).map_err(|e| e.to_string())
}

impl Value for DateOrder {
    fn from_text(text: &str) -> Result<Self, String> {
        named(text)
    }
}

impl Value for AuthMethod {
    fn from_text(text: &str) -> Result<Self, String> {
        named(text)
    }
}

impl Value for SmtpAuth {
    fn from_text(text: &str) -> Result<Self, String> {
        named(text)
    }
}

impl Value for Format {
    fn from_text(text: &str) -> Result<Self, String> {
        named(text)
    }
}

impl Value for Delivery {
    fn from_text(text: &str) -> Result<Self, String> {
        named(text)
    }
}
