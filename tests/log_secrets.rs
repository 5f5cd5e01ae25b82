//! Logging at TRACE, as an operator may switch it on, never writes the IMAP
//! password, the XOAUTH2 token (or the base64 SASL string that carries it),
//! the OAuth client secret or the message text: a real Dovecot, password
//! login and XOAUTH2, with the functions' subscriber (the same builder as
//! `archiver`'s, JSON as deployed) installed for the whole process.
//!
//! A test binary of its own: the subscriber is global, and no other test
//! may log into it.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use shared::logging::LambdaLogging;
use shared::mailbox::imap::{ClientCredential, Credentials, ImapServer, TokenSource};
use shared::mailbox::{Envelope, Imap, Mailbox, Message};
use shared::secrets::Secret;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use support::dovecot::Dovecot;

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

const CLIENT_SECRET: &str = "client-secret-7f3a9c";

/// A loopback token endpoint that gives `token` to client `archiver` with
/// [`CLIENT_SECRET`].
async fn token_endpoint(token: String) -> String {
    support::token_endpoint::serve("/token", move |form, _| {
        let good = form.get("client_id").map(String::as_str) == Some("archiver")
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
        if good {
            (
                "200 OK",
                serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3599}),
            )
        } else {
            (
                "401 Unauthorized",
                serde_json::json!({"error": "invalid_client"}),
            )
        }
    })
    .await
}

/// An HS256 token for `email` that this Dovecot accepts.
fn token_for(dovecot: &Dovecot, email: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + 3600;
    let claims = serde_json::json!({"sub": "archiver", "email": email, "exp": exp});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("JWT".to_owned());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&dovecot.oauth_key()),
    )
    .unwrap()
}

/// A message to deliver: its Message-ID and bytes.
fn envelope<'a>((id, bytes): &'a (&'static str, Vec<u8>)) -> Envelope<'a> {
    Envelope {
        message_id: id,
        message: Message::from_bytes(bytes),
        internal_date: chrono::Utc::now(),
    }
}

fn server(dovecot: &Dovecot) -> ImapServer {
    let mut server = ImapServer::from_url(&dovecot.url()).unwrap();
    server.attempts = 2;
    server.backoff = Duration::from_millis(50);
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_hold_no_password_token_or_message_text() {
    let out = Captured::default();
    LambdaLogging {
        filter: EnvFilter::new("trace"),
        json: true,
    }
    .init(out.clone());
    tracing::trace!(target: "log_secrets", "capture is on");

    let dovecot = Dovecot::start();
    let text = "Distinctive-text: the Zanzibar quarterly numbers 4417";
    let message = |id: &'static str| {
        let bytes =
            format!("Message-ID: <{id}>\r\nSubject: quarterly\r\n\r\n{text}\r\n").into_bytes();
        (id, bytes)
    };
    let folder = "WhatsApp Archiver";

    // Password login.
    let mut imap = Imap::new(
        server(&dovecot),
        Credentials::Password {
            login: "{mailbox}".to_owned(),
            password: Secret::new(dovecot.password.clone()),
        },
    );
    let first = message("log-1@mobile-archiver");
    imap.append("alice@corp.example", folder, &envelope(&first))
        .await
        .unwrap();
    assert!(
        imap.find("alice@corp.example", folder, first.0)
            .await
            .unwrap()
            .is_some()
    );
    imap.close().await;

    // XOAUTH2 with a client secret.
    let token = token_for(&dovecot, "bob@corp.example");
    let endpoint = token_endpoint(token.clone()).await;
    let tokens = TokenSource::new(
        &endpoint,
        "archiver",
        ClientCredential::Secret(Secret::new(CLIENT_SECRET)),
        shared::mailbox::imap::oauth::EXCHANGE_SCOPE,
    )
    .unwrap();
    let mut imap = Imap::new(server(&dovecot), Credentials::XOAuth2(tokens));
    let second = message("log-2@mobile-archiver");
    imap.append("bob@corp.example", folder, &envelope(&second))
        .await
        .unwrap();
    imap.close().await;
    assert_eq!(dovecot.fetch_all("bob@corp.example", folder).await.len(), 1);

    let logged = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("capture is on"), "TRACE lines are captured");
    // reqwest logs through `log`, as async-imap does: the bridge is live,
    // so async-imap's silence is the cap's doing.
    assert!(
        logged.contains("starting new connection"),
        "`log` records are captured"
    );
    let sasl = base64::engine::general_purpose::STANDARD.encode(format!(
        "user=bob@corp.example\x01auth=Bearer {token}\x01\x01"
    ));
    for (what, secret) in [
        ("the IMAP password", dovecot.password.as_str()),
        ("the XOAUTH2 token", token.as_str()),
        ("the XOAUTH2 SASL string", sasl.as_str()),
        ("the OAuth client secret", CLIENT_SECRET),
        ("the message text", "Zanzibar"),
    ] {
        assert!(!logged.contains(secret), "{what} is in the log:\n{logged}");
    }
}
