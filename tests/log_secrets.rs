//! Logging at TRACE, as an operator may switch it on, never writes the IMAP
//! password, the XOAUTH2 token (or the base64 SASL string that carries it),
//! the OAuth client secret or the message text: a real Dovecot, password
//! login and XOAUTH2. Twice over: in this process, with the functions'
//! subscriber (the same builder as `archiver`'s, JSON as deployed)
//! installed for the whole process, around single appends and the whole
//! embedded pipeline over the example data; and in the logs of the real
//! `archiver run` (`ARCHIVER_LOG=trace`, text to stderr) of the example
//! data, each searched for every secret and every line of the example
//! exports' message text.
//!
//! A test binary of its own: the subscriber is global, and no other test
//! may log into it (the `archiver run` test logs in its child processes).

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use shared::embedded;
use shared::logging::LambdaLogging;
use shared::mailbox::imap::{ClientCredential, Credentials, ImapServer, TokenSource};
use shared::mailbox::{Envelope, Imap, Mailbox, Message};
use shared::report::Report;
use shared::secrets::Secret;
use shared::store::LocalDir;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use support::dovecot::Dovecot;
use support::examples;
use support::process::archiver_binary;

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

    // The whole pipeline over the example data, as the functions run its
    // stages (collect, convert, deliver over IMAP), its report logged as
    // they log theirs.
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mut lanes = [Imap::new(
        server(&dovecot),
        Credentials::Password {
            login: "{mailbox}".to_owned(),
            password: Secret::new(dovecot.password.clone()),
        },
    )];
    let mut report = Report::default();
    embedded::run(
        &mut examples::sources(),
        &store,
        &mut lanes,
        &examples::mapper(),
        &examples::run_options(),
        &mut report,
    )
    .await
    .unwrap();
    lanes[0].close().await;
    report.log();
    assert_eq!(report.copies_delivered(), 41, "{report}");

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
    assert_no_message_text(&logged);
}

/// Checks that no line of the example exports' message text is in `logged`
/// (and prints how much was searched, for the CI log).
fn assert_no_message_text(logged: &str) {
    let texts = examples::message_texts();
    for text in &texts {
        assert!(
            !logged.contains(text),
            "the message text {text:?} is in the log:\n{logged}"
        );
    }
    eprintln!(
        "log_secrets: {} lines ({} bytes) of log hold no secret and none of {} lines of \
         message text",
        logged.lines().count(),
        logged.len(),
        texts.len()
    );
}

/// Writes a secret file of the local secret store, mode 0600.
fn write_secret(dir: &Path, name: &str, value: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Writes an `archiver` config delivering the drops under `drops` over
/// IMAP (`imap`: the `[imap]` keys after the URL) with the secrets in
/// `dir/secrets`, its store in `dir/<name>`; returns its path.
fn write_config(
    dir: &Path,
    name: &str,
    drops: &Path,
    mapping: Option<&Path>,
    dovecot: &Dovecot,
    imap: &str,
) -> PathBuf {
    let csv = mapping.map_or(String::new(), |csv| format!("csv = {csv:?}\n"));
    let config = format!(
        "time_zone = \"Europe/London\"\ndefault_region = \"GB\"\n\
         [store]\npath = {:?}\n[drops]\npath = {drops:?}\n\
         [secrets]\npath = {:?}\n\
         [imap]\nurl = \"{}\"\n{imap}\
         [mapping]\n{csv}custodian_domains = [\"corp.example\"]\n",
        dir.join(name),
        dir.join("secrets"),
        dovecot.url(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    path
}

/// Runs `archiver run --config <config>` with `ARCHIVER_LOG=trace`.
async fn run_at_trace(archiver: &Path, config: &Path) -> Output {
    let mut command = Command::new(archiver);
    command
        .args(["run", "--config"])
        .arg(config)
        .env("ARCHIVER_LOG", "trace");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// What a run printed: its standard output (the summary) and standard
/// error (the log).
fn said(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archiver_run_at_trace_logs_no_password_token_or_message_text() {
    let archiver = tokio::task::spawn_blocking(archiver_binary).await.unwrap();
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    write_secret(&secrets, "imap-password", &dovecot.password);
    write_secret(&secrets, "entra-client-secret", CLIENT_SECRET);

    // Password login: the example data into every mapped mailbox.
    let config = write_config(
        dir.path(),
        "password",
        &examples::dir(),
        Some(&examples::dir().join("mapping.csv")),
        &dovecot,
        "auth = \"password\"\npassword_secret = \"imap-password\"\n",
    );
    let password = run_at_trace(&archiver, &config).await;
    assert!(password.status.success(), "{}", said(&password));
    assert!(
        said(&password).contains("copies delivered:     41 "),
        "{}",
        said(&password)
    );

    // XOAUTH2 with a client secret. Dovecot takes a token only for the
    // mailbox it names (Exchange's application token opens them all), so
    // this run delivers one example export, Carol's, to her mailbox alone
    // (no mapping CSV: the custodian domain maps her).
    let token = token_for(&dovecot, "carol@corp.example");
    let endpoint = token_endpoint(token.clone()).await;
    let custodian = "drop/whatsapp-export/carol@corp.example";
    let drops = dir.path().join("xoauth2-drops");
    std::fs::create_dir_all(drops.join(custodian)).unwrap();
    let export = "WhatsApp Chat - Deal Desk.zip";
    std::fs::copy(
        examples::dir().join(custodian).join(export),
        drops.join(custodian).join(export),
    )
    .unwrap();
    let config = write_config(
        dir.path(),
        "xoauth2",
        &drops,
        None,
        &dovecot,
        &format!(
            "auth = \"xoauth2\"\ntoken_url = \"{endpoint}\"\nclient_id = \"archiver\"\n\
             client_secret_secret = \"entra-client-secret\"\n"
        ),
    );
    let xoauth2 = run_at_trace(&archiver, &config).await;
    assert!(xoauth2.status.success(), "{}", said(&xoauth2));
    assert!(
        said(&xoauth2).contains("copies delivered:     9 "),
        "{}",
        said(&xoauth2)
    );

    let logged = said(&password) + &said(&xoauth2);
    // The token request goes through reqwest, which logs through `log`:
    // the bridge is live at TRACE, so async-imap's silence is the cap's.
    assert!(
        logged.contains("TRACE") && logged.contains("starting new connection"),
        "TRACE lines and `log` records are in the run's log:\n{logged}"
    );
    let mut secrets = vec![
        ("the IMAP password", dovecot.password.clone()),
        ("the XOAUTH2 token", token.clone()),
        ("the OAuth client secret", CLIENT_SECRET.to_owned()),
        (
            "the XOAUTH2 SASL string",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "user=carol@corp.example\x01auth=Bearer {token}\x01\x01"
            )),
        ),
    ];
    // Were the password sent with AUTHENTICATE PLAIN, this is how.
    for mailbox in ["alice.example@corp.example", "bob@corp.example"] {
        let plain = format!("\0{mailbox}\0{}", dovecot.password);
        secrets.push((
            "the IMAP password as SASL PLAIN",
            base64::engine::general_purpose::STANDARD.encode(plain),
        ));
    }
    for (what, secret) in secrets {
        assert!(!logged.contains(&secret), "{what} is in the log:\n{logged}");
    }
    assert_no_message_text(&logged);
}
