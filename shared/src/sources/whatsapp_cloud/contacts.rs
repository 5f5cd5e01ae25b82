//! The Business app's contact book (`smb_app_state_sync`, Coexistence): the
//! names the employee saved for customers, used for the customers of items
//! read after them. The bodies themselves stay in the inbox; the book is
//! rebuilt from them on each pull (see `inbox`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::people::digits;

/// Names by customer phone (digits only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactBook {
    names: BTreeMap<String, String>,
    /// Entries applied, with their time, so that a later sync wins
    /// whatever order the bodies are read in.
    changed: BTreeMap<String, u64>,
}

impl ContactBook {
    /// The saved name of a customer's phone (any form), if any.
    pub fn name(&self, phone: &str) -> Option<&str> {
        self.names.get(&digits(phone)).map(String::as_str)
    }

    /// Applies the `state_sync[]` entries of a change: `add` (added or
    /// edited) sets the name, `remove` forgets it; an entry older than the
    /// one applied last for that phone changes nothing.
    pub(crate) fn apply(&mut self, entries: &[Value]) {
        for entry in entries {
            if entry.get("type").and_then(Value::as_str) != Some("contact") {
                continue;
            }
            let Some(contact) = entry.get("contact") else {
                continue;
            };
            let Some(phone) = contact
                .get("phone_number")
                .and_then(Value::as_str)
                .map(digits)
                .filter(|p| !p.is_empty())
            else {
                continue;
            };
            let time = entry
                .get("metadata")
                .and_then(|m| m.get("timestamp"))
                .and_then(super::content::epoch_seconds)
                .unwrap_or(0);
            if self.changed.get(&phone).is_some_and(|&seen| seen > time) {
                continue;
            }
            self.changed.insert(phone.clone(), time);
            let name = ["full_name", "first_name"]
                .iter()
                .find_map(|key| contact.get(*key).and_then(Value::as_str))
                .map(str::trim)
                .filter(|name| !name.is_empty());
            match (entry.get("action").and_then(Value::as_str), name) {
                (Some("remove"), _) | (_, None) => {
                    self.names.remove(&phone);
                }
                (_, Some(name)) => {
                    self.names.insert(phone, name.to_owned());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, name: Option<&str>, time: &str) -> Value {
        let mut contact = serde_json::json!({"phone_number": "16505551234"});
        if let Some(name) = name {
            contact["full_name"] = name.into();
        }
        serde_json::json!({"type": "contact", "contact": contact, "action": action,
            "metadata": {"timestamp": time}})
    }

    #[test]
    fn the_latest_entry_wins_in_any_order() {
        let added = entry("add", Some("Pablo Morales"), "100");
        let edited = entry("add", Some("Pablo M."), "200");
        let removed = entry("remove", None, "300");
        let mut book = ContactBook::default();
        book.apply(&[edited.clone(), added.clone()]);
        assert_eq!(book.name("+1 650-555-1234"), Some("Pablo M."));
        let mut book = ContactBook::default();
        book.apply(&[removed, edited, added]);
        assert_eq!(book.name("16505551234"), None);
    }
}
