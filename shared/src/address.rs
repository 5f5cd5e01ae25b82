//! The one rule for mailbox addresses. The mapping checks the CSV with it
//! when the table is loaded and the renderer checks every mapped address
//! before writing it into a header, so a row is refused at load time rather
//! than failing every item later; the addresses it accepts also name
//! mailbox directories and ledger keys.
//!
//! A leaf: it depends on nothing else in the crate, so the renderer and the
//! mapping need not depend on the mailboxes for it.

/// True when `address` can name a mailbox: a plain ASCII `local@domain`
/// (dot-atom local part of at most 64 bytes, a domain of at least two
/// DNS labels). Quoted local parts, address literals, internationalised
/// addresses and `/` are refused: the address goes into headers unencoded,
/// and names the mailbox's directory and ledger keys.
pub fn is_address(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(local, domain)| is_dot_atom(local) && is_domain(domain))
}

fn is_dot_atom(local: &str) -> bool {
    local.len() <= 64
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

/// RFC 5322 `atext`, less `/`.
fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-=?^_`{|}~".contains(&byte)
}

fn is_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_are_plain_addr_specs() {
        assert!(is_address("alice.smith+wa@corp.example"));
        for bad in [
            "alice",
            "@corp.example",
            "a..b@corp.example",
            "a@corp..example",
            "a b@x.example",
            "a@x.example>",
            "a@x\r\n.example",
            "ä@x.example",
            "a@-x.example",
        ] {
            assert!(!is_address(bad), "{bad:?}");
        }
    }
}
