//! The verification handshake: when an app's webhook is subscribed, Meta
//! calls the URL with `GET ?hub.mode=subscribe&hub.challenge=<n>&hub.verify_token=<token>`;
//! the endpoint answers 200 with the challenge as the body when the token
//! is the one configured (a secret), and refuses otherwise.

use aws_lc_rs::constant_time::verify_slices_are_equal;

use crate::secrets::Secret;

/// Why a verification request is refused (answered 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `hub.mode` is missing or not `subscribe`.
    #[error("hub.mode is not subscribe")]
    Mode,
    /// `hub.verify_token` is missing or not the configured token.
    #[error("hub.verify_token is not the configured verify token")]
    Token,
    /// `hub.challenge` is missing, empty or not printable ASCII.
    #[error("hub.challenge is missing or not printable ASCII")]
    Challenge,
}

/// The longest challenge echoed (Meta sends a number).
const MAX_CHALLENGE: usize = 128;

/// Answers a verification request given its query parameters (decoded);
/// the challenge to echo with 200, or why it is refused.
pub fn answer_handshake<'q>(
    verify_token: &Secret,
    query: impl IntoIterator<Item = (&'q str, &'q str)>,
) -> Result<String, HandshakeError> {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (name, value) in query {
        // PHP-style servers turn the dots into underscores: accept both.
        match name {
            "hub.mode" | "hub_mode" => mode = Some(value),
            "hub.verify_token" | "hub_verify_token" => token = Some(value),
            "hub.challenge" | "hub_challenge" => challenge = Some(value),
            _ => {}
        }
    }
    if mode != Some("subscribe") {
        return Err(HandshakeError::Mode);
    }
    let token = token.ok_or(HandshakeError::Token)?;
    verify_slices_are_equal(token.as_bytes(), verify_token.expose().as_bytes())
        .map_err(|_| HandshakeError::Token)?;
    match challenge {
        Some(c)
            if !c.is_empty()
                && c.len() <= MAX_CHALLENGE
                && c.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(c.to_owned())
        }
        _ => Err(HandshakeError::Challenge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Secret {
        Secret::new("verify-me")
    }

    #[test]
    fn the_right_token_gets_the_challenge_back() {
        let query = [
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1158201444"),
            ("hub.verify_token", "verify-me"),
        ];
        assert_eq!(answer_handshake(&token(), query), Ok("1158201444".into()));
    }

    #[test]
    fn a_wrong_or_missing_token_is_refused() {
        for token_value in ["verify-you", "verify-me ", "", "verify-m"] {
            let query = [
                ("hub.mode", "subscribe"),
                ("hub.challenge", "1"),
                ("hub.verify_token", token_value),
            ];
            assert_eq!(
                answer_handshake(&token(), query),
                Err(HandshakeError::Token),
                "{token_value:?}"
            );
        }
        let query = [("hub.mode", "subscribe"), ("hub.challenge", "1")];
        assert_eq!(
            answer_handshake(&token(), query),
            Err(HandshakeError::Token)
        );
    }

    #[test]
    fn another_mode_or_a_missing_challenge_is_refused() {
        let query = [
            ("hub.mode", "unsubscribe"),
            ("hub.challenge", "1"),
            ("hub.verify_token", "verify-me"),
        ];
        assert_eq!(answer_handshake(&token(), query), Err(HandshakeError::Mode));
        let query = [("hub.mode", "subscribe"), ("hub.verify_token", "verify-me")];
        assert_eq!(
            answer_handshake(&token(), query),
            Err(HandshakeError::Challenge)
        );
        let query = [
            ("hub_mode", "subscribe"),
            ("hub_challenge", "<script>"),
            ("hub_verify_token", "verify-me"),
        ];
        assert_eq!(answer_handshake(&token(), query), Ok("<script>".into()));
    }
}
