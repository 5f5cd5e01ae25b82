//! Showing what may carry a credential without the credential: URLs, as
//! errors, `Debug` forms, the run summary and logs print them.

/// `text` (a URL, or what was given as one) as it may be printed: the user
/// name and password are replaced by `***`, and so are a query and a
/// fragment (where a token may ride); the scheme, host, port and path are
/// kept.
///
/// It works on the text, not on a parsed URL, so that a rejected URL is
/// redacted too: everything between `scheme://` (or the start) and the
/// last `@` is hidden, even when the password holds `/`, `?`, `#` or `@`.
pub fn url(text: &str) -> String {
    let authority = text
        .find("://")
        .filter(|&end| {
            text[..end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map_or(0, |end| end + 3);
    let (scheme, rest) = text.split_at(authority);
    let mut shown = scheme.to_owned();
    let rest = match rest.rfind('@') {
        Some(at) => {
            shown.push_str("***@");
            &rest[at + 1..]
        }
        None => rest,
    };
    match rest.find(['?', '#']) {
        Some(mark) => {
            shown.push_str(&rest[..=mark]);
            shown.push_str("***");
        }
        None => shown.push_str(rest),
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn credentials_query_and_fragment_are_hidden() {
        for (given, shown) in [
            ("imaps://mail.corp.example", "imaps://mail.corp.example"),
            (
                "imaps://mail.corp.example:993",
                "imaps://mail.corp.example:993",
            ),
            (
                "imaps://archiver:hunter2@mail.corp.example",
                "imaps://***@mail.corp.example",
            ),
            (
                "imaps://archiver@mail.corp.example",
                "imaps://***@mail.corp.example",
            ),
            (
                "imaps://archiver:hun/ter@2?#@mail.corp.example:99999",
                "imaps://***@mail.corp.example:99999",
            ),
            (
                "https://login.corp.example/t/token?secret=hunter2#x",
                "https://login.corp.example/t/token?***",
            ),
            (
                "https://login.corp.example/t#hunter2",
                "https://login.corp.example/t#***",
            ),
            (
                "archiver:hunter2@mail.corp.example",
                "***@mail.corp.example",
            ),
            ("user:pass://x@mail.corp.example", "***@mail.corp.example"),
            ("nonsense", "nonsense"),
            ("", ""),
        ] {
            assert_eq!(url(given), shown, "{given}");
        }
    }
}
