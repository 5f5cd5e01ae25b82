//! IMAP delivery against a real Dovecot on loopback (started by
//! `infra/dovecot.sh`): the example data, a non-ASCII folder, XOAUTH2, and a
//! server restart in the middle of a run.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use mail_parser::MessageParser;
use shared::convert::Folders;
use shared::embedded::{self};
use shared::jobs::DeliveryJob;
use shared::mailbox::imap::{ClientCredential, Credentials, ImapServer, TokenSource};
use shared::mailbox::{Envelope, Imap, Mailbox, MailboxError, Message};
use shared::report::Report;
use shared::secrets::Secret;
use shared::store::{LocalDir, ObjectStore};

use support::dovecot::Dovecot;
use support::examples::{self, mapper, run_options};

fn password_target(dovecot: &Dovecot) -> Imap {
    let mut server = ImapServer::from_url(&dovecot.url()).unwrap();
    server.backoff = Duration::from_millis(200);
    server.attempts = 8;
    Imap::new(
        server,
        Credentials::Password {
            login: "{mailbox}".to_owned(),
            password: Secret::new(dovecot.password.clone()),
        },
    )
}

fn envelope<'a>(message_id: &'a str, bytes: &'a [u8]) -> Envelope<'a> {
    Envelope {
        message_id,
        message: Message::from_bytes(bytes),
        internal_date: chrono::DateTime::parse_from_rfc3339("2026-11-10T14:02:18Z")
            .unwrap()
            .to_utc(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_data_lands_in_the_expected_folders_with_time_and_seen_flag() {
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mut lanes = [password_target(&dovecot), password_target(&dovecot)];
    let opts = run_options();
    let mut report = Report::default();
    embedded::run(
        &mut examples::sources(),
        &store,
        &mut lanes,
        &mapper(),
        &opts,
        &mut report,
    )
    .await
    .unwrap();
    for imap in &mut lanes {
        imap.close().await;
    }
    assert_eq!(report.errors, Vec::<String>::new());

    let expected = BTreeMap::from([
        ("alice.example@corp.example", 9),
        ("bob@corp.example", 9),
        ("carol@corp.example", 9),
        ("dan@corp.example", 5),
        ("evan@corp.example", 9),
    ]);
    for (mailbox, count) in &expected {
        assert!(
            dovecot
                .folders(mailbox)
                .await
                .contains(&"WhatsApp Archiver".to_owned()),
            "{mailbox}"
        );
        let messages = dovecot.fetch_all(mailbox, "WhatsApp Archiver").await;
        assert_eq!(messages.len(), *count, "{mailbox}");
        for message in &messages {
            assert!(
                message.flags.iter().any(|f| f == "Seen"),
                "{:?}",
                message.flags
            );
            let parsed = MessageParser::default().parse(&message.body).unwrap();
            let date = parsed.date().unwrap().to_timestamp();
            assert_eq!(
                message.internal_date.timestamp(),
                date,
                "INTERNALDATE = source time"
            );
            assert!(parsed.message_id().unwrap().ends_with("@mobile-archiver"));
        }
    }
    // The mail landed on disk as Maildir++ (what Dovecot itself stores).
    let on_disk = dovecot
        .dir()
        .join("mail/dan@corp.example/.WhatsApp Archiver/cur");
    assert_eq!(fs::read_dir(on_disk).unwrap().count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_folder_names_round_trip() {
    let dovecot = Dovecot::start();
    let mut imap = password_target(&dovecot);
    let folders = Folders {
        wechat: "微信存档".to_owned(),
        ..Folders::default()
    };
    let folder = folders.wechat.as_str();
    let bytes = b"Message-ID: <cjk@mobile-archiver>\r\nSubject: x\r\n\r\nbody\r\n";
    let appended = imap
        .append(
            "alice@corp.example",
            folder,
            &envelope("cjk@mobile-archiver", bytes),
        )
        .await
        .unwrap();
    assert!(appended.uid.is_some(), "Dovecot answers APPENDUID");
    let found = imap
        .find("alice@corp.example", folder, "cjk@mobile-archiver")
        .await
        .unwrap();
    assert!(found.is_some(), "the message is found by its Message-ID");
    imap.close().await;
    let folders = dovecot.folders("alice@corp.example").await;
    assert!(folders.contains(&"微信存档".to_owned()), "{folders:?}");
    assert!(
        dovecot
            .dir()
            .join("mail/alice@corp.example/.&X65P4VtYaGM-")
            .is_dir()
    );
}

/// How the loopback token endpoint checks the client.
#[derive(Clone, Copy)]
enum ClientCheck {
    /// `client_secret` = `right-secret`.
    Secret,
    /// An RS256 client assertion signed with the test certificate's key.
    Certificate,
}

/// SHA-1 thumbprint of the test certificate (tests/fixtures/test-client-cert.*).
const TEST_THUMBPRINT: &str = "9B4697A3E641BA0194A0430A9CFAE8E5B8A2EF9D";

fn fixture(name: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name),
    )
    .unwrap()
}

/// Checks a client assertion the way Entra ID does: signature, `x5t`,
/// audience = the endpoint, issuer = subject = the client id.
fn assertion_is_valid(assertion: &str, endpoint: &str) -> bool {
    use base64::Engine;
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&fixture("test-client-cert.pub")).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[endpoint]);
    validation.set_issuer(&["archiver"]);
    validation.sub = Some("archiver".to_owned());
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex_decode(TEST_THUMBPRINT));
    jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation)
        .is_ok_and(|data| data.header.x5t.as_deref() == Some(thumbprint.as_str()))
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A loopback OAuth 2.0 token endpoint: client `archiver` with secret
/// `right-secret` gets an HS256 JWT for `email`, signed with `key`.
async fn token_endpoint(key: Vec<u8>, email: &'static str) -> String {
    token_endpoint_checking(key, email, ClientCheck::Secret).await
}

async fn token_endpoint_checking(key: Vec<u8>, email: &'static str, check: ClientCheck) -> String {
    support::token_endpoint::serve("/tenant/oauth2/v2.0/token", move |form, endpoint| {
        let field = |name: &str| form.get(name).map(String::as_str);
        let client_ok = match check {
            ClientCheck::Secret => field("client_secret") == Some("right-secret"),
            ClientCheck::Certificate => {
                field("client_assertion_type")
                    == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                    && field("client_secret").is_none()
                    && field("client_assertion")
                        .is_some_and(|a| assertion_is_valid(a, endpoint))
            }
        };
        let good = field("grant_type") == Some("client_credentials")
            && field("client_id") == Some("archiver")
            && field("scope") == Some("https://outlook.office365.com/.default")
            && client_ok;
        if good {
            let exp = chrono::Utc::now().timestamp() + 3600;
            let claims = serde_json::json!({"sub": "archiver", "email": email, "exp": exp});
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.typ = Some("JWT".to_owned());
            let token = jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(&key),
            )
            .unwrap();
            (
                "200 OK",
                serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 3599}),
            )
        } else {
            (
                "401 Unauthorized",
                serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
            )
        }
    })
    .await
}

fn xoauth2_target(dovecot: &Dovecot, endpoint: &str, secret: &str) -> Imap {
    xoauth2_target_with(
        dovecot,
        endpoint,
        ClientCredential::Secret(Secret::new(secret)),
    )
}

fn xoauth2_target_with(dovecot: &Dovecot, endpoint: &str, credential: ClientCredential) -> Imap {
    let tokens = TokenSource::new(
        endpoint,
        "archiver",
        credential,
        shared::mailbox::imap::oauth::EXCHANGE_SCOPE,
    )
    .unwrap();
    let mut server = ImapServer::from_url(&dovecot.url()).unwrap();
    server.attempts = 2;
    server.backoff = Duration::from_millis(50);
    Imap::new(server, Credentials::XOAuth2(tokens))
}

/// Appends the first message of alice's WhatsApp folder through `imap`
/// (which is closed after) and checks that the folder now holds it.
async fn append_first_message(mut imap: Imap, dovecot: &Dovecot, message: &Envelope<'_>) {
    imap.append("alice@corp.example", "WhatsApp Archiver", message)
        .await
        .unwrap();
    imap.close().await;
    let held = dovecot
        .fetch_all("alice@corp.example", "WhatsApp Archiver")
        .await;
    assert_eq!(held.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoauth2_with_client_credentials_logs_in_and_bad_tokens_are_refused() {
    let dovecot = Dovecot::start();
    let bytes = b"Message-ID: <oauth@mobile-archiver>\r\nSubject: x\r\n\r\nbody\r\n";
    let message = envelope("oauth@mobile-archiver", bytes);

    let endpoint = token_endpoint(dovecot.oauth_key(), "alice@corp.example").await;
    let imap = xoauth2_target(&dovecot, &endpoint, "right-secret");
    append_first_message(imap, &dovecot, &message).await;

    // The token endpoint refuses a wrong client secret: a clear error, no retry storm.
    let mut wrong_secret = xoauth2_target(&dovecot, &endpoint, "wrong-secret");
    let err = wrong_secret
        .append("alice@corp.example", "WhatsApp Archiver", &message)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MailboxError::Auth { .. }), "{err:?}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(
        !text.contains("wrong-secret"),
        "the secret never shows: {text}"
    );

    // Dovecot refuses a token signed with another key.
    let forged = token_endpoint(
        b"not the server's key at all, 32b".to_vec(),
        "alice@corp.example",
    )
    .await;
    let mut forged = xoauth2_target(&dovecot, &forged, "right-secret");
    let err = forged
        .append("alice@corp.example", "WhatsApp Archiver", &message)
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("refused"), "{err}");

    // A valid token for another user does not open this mailbox.
    let bob = token_endpoint(dovecot.oauth_key(), "bob@corp.example").await;
    let mut other_user = xoauth2_target(&dovecot, &bob, "right-secret");
    let err = other_user
        .append("alice@corp.example", "WhatsApp Archiver", &message)
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::Auth { .. }), "{err:?}");
    assert_eq!(
        dovecot
            .fetch_all("alice@corp.example", "WhatsApp Archiver")
            .await
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_restarted_mid_run_loses_and_duplicates_nothing() {
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let jobs = support::corpus::write(&store, 800, 4, "WhatsApp Archiver").await;

    let mut lanes = [password_target(&dovecot), password_target(&dovecot)];
    let mut report = Report::default();
    let delivery = async {
        embedded::deliver_pending(&store, &mut lanes, &mut report)
            .await
            .unwrap();
        for imap in &mut lanes {
            imap.close().await;
        }
    };
    // Once part of the run is delivered, take the server away and bring it back.
    let outage = async {
        while store.list("delivered/").await.unwrap().len() < 60 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let dir = dovecot.dir().to_owned();
        tokio::task::spawn_blocking(move || {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/dovecot.sh");
            for action in ["stop", "restart"] {
                let status = std::process::Command::new("bash")
                    .arg(&script)
                    .arg(action)
                    .arg(&dir)
                    .status()
                    .unwrap();
                assert!(status.success());
                std::thread::sleep(Duration::from_millis(500));
            }
        })
        .await
        .unwrap();
        store.list("delivered/").await.unwrap().len()
    };
    let ((), delivered_at_restart) = tokio::join!(delivery, outage);
    assert!(delivered_at_restart < jobs.len(), "the outage came mid-run");
    assert_eq!(report.errors, Vec::<String>::new());
    support::corpus::assert_fully_ledgered(&store, &jobs).await;

    dovecot
        .assert_each_exactly_once(&jobs, "WhatsApp Archiver")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoauth2_with_a_certificate_assertion_logs_in() {
    let dovecot = Dovecot::start();
    let endpoint = token_endpoint_checking(
        dovecot.oauth_key(),
        "alice@corp.example",
        ClientCheck::Certificate,
    )
    .await;
    let key = String::from_utf8(fixture("test-client-cert.key")).unwrap();
    let certificate = ClientCredential::Certificate {
        private_key_pem: Secret::new(key),
        thumbprint: TEST_THUMBPRINT.to_owned(),
    };
    let imap = xoauth2_target_with(&dovecot, &endpoint, certificate);
    let bytes = b"Message-ID: <cert@mobile-archiver>\r\nSubject: x\r\n\r\nbody\r\n";
    append_first_message(imap, &dovecot, &envelope("cert@mobile-archiver", bytes)).await;

    // The same endpoint refuses a client secret where it expects a certificate.
    let mut with_secret = xoauth2_target(&dovecot, &endpoint, "right-secret");
    let err = with_secret
        .append(
            "alice@corp.example",
            "WhatsApp Archiver",
            &envelope("cert2@mobile-archiver", bytes),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_target_keeps_a_bounded_number_of_sessions_open() {
    let dovecot = Dovecot::start();
    let mut imap = password_target(&dovecot);
    let bytes = b"Message-ID: <many@mobile-archiver>\r\nSubject: x\r\n\r\nbody\r\n";
    for n in 0..20 {
        let mailbox = format!("user{n:02}@corp.example");
        imap.append(
            &mailbox,
            "WhatsApp Archiver",
            &envelope("many@mobile-archiver", bytes),
        )
        .await
        .unwrap();
        assert!(
            imap.open_connections() <= 16,
            "{} open",
            imap.open_connections()
        );
    }
    assert_eq!(imap.open_connections(), 16);
    imap.close().await;
    assert_eq!(imap.open_connections(), 0);
    for n in [0, 19] {
        let messages = dovecot
            .fetch_all(&format!("user{n:02}@corp.example"), "WhatsApp Archiver")
            .await;
        assert_eq!(messages.len(), 1);
    }
}

/// An SQS message carrying a delivery job, received `count` times.
fn job_message(id: &str, job: &DeliveryJob, count: u32) -> SqsMessage {
    serde_json::from_value(serde_json::json!({
        "messageId": id,
        "body": serde_json::to_string(job).unwrap(),
        "attributes": {"ApproximateReceiveCount": count.to_string()},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_job_finds_the_copy_its_dead_first_attempt_stored() {
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let mut lanes = [password_target(&dovecot)];
    let folder = "WhatsApp Archiver";
    let job_for = |mailbox: &str, n: u32| DeliveryJob {
        mailbox: mailbox.to_owned(),
        folder: folder.to_owned(),
        eml_key: format!("eml/2026-11-10/{n}.eml"),
        message_id: format!("{n:032x}@mobile-archiver"),
        timestamp: "2026-11-10T14:02:18Z".to_owned(),
        eml: None,
        stubbed: false,
    };
    let mut setup = Vec::new();
    for (mailbox, n) in [("dana@corp.example", 1), ("erin@corp.example", 2)] {
        let job = job_for(mailbox, n);
        let eml = format!(
            "Message-ID: <{}>\r\nSubject: test {n}\r\n\r\nbody\r\n",
            job.message_id
        );
        store.put_new(&job.eml_key, eml.as_bytes()).await.unwrap();
        // The first attempt appended, then its function died before the
        // ledger write (and before SQS heard back).
        lanes[0]
            .append(mailbox, folder, &envelope(&job.message_id, eml.as_bytes()))
            .await
            .unwrap();
        setup.push(job);
    }
    let count = |mailbox: &'static str, message_id: String| {
        let dovecot = &dovecot;
        async move {
            let mut session = dovecot.login(mailbox).await;
            session.select(folder).await.unwrap();
            let n = dovecot.count_message_id(&mut session, &message_id).await;
            session.logout().await.unwrap();
            n
        }
    };
    // SQS delivers the message again (receive count 2): the folder is
    // searched first, the copy found and ledgered, nothing appended.
    let (response, report) = shared::lambda::deliver(
        &store,
        &mut lanes,
        None,
        &[job_message("m1", &setup[0], 2)],
        None,
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        report.errors
    );
    assert_eq!(
        count("dana@corp.example", setup[0].message_id.clone()).await,
        1
    );
    assert_eq!(report.recovered, 1, "the copy found is told apart");
    assert!(
        report.to_string().contains(
            "copies recovered:     1 found already in the folder after an interrupted run"
        )
    );
    assert!(
        shared::ledger::entry(&store, "dana@corp.example", &setup[0].message_id)
            .await
            .unwrap()
            .is_some()
    );
    // A replayed copy of the job (receive count 1) now stops at the ledger.
    let (response, report) = shared::lambda::deliver(
        &store,
        &mut lanes,
        None,
        &[job_message("m2", &setup[0], 1)],
        None,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.already_delivered, 1);
    assert_eq!(
        count("dana@corp.example", setup[0].message_id.clone()).await,
        1
    );
    // The receive count is what protects: a first-time job with neither
    // ledger entry nor search would append a second copy.
    let (response, _) = shared::lambda::deliver(
        &store,
        &mut lanes,
        None,
        &[job_message("m3", &setup[1], 1)],
        None,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        count("erin@corp.example", setup[1].message_id.clone()).await,
        2
    );
}

/// The daily report of the example day reaches the admin mailbox's
/// `Archiver Reports` folder in Dovecot once, as an e-mail with the HTML
/// report as its body and the JSON attached; a second delivery finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_report_reaches_the_admin_folder_in_dovecot_once() {
    use shared::day_report::{self, DayReport};
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mut lanes = [password_target(&dovecot)];
    let opts = run_options();
    let mut report = Report::default();
    embedded::run(
        &mut examples::sources(),
        &store,
        &mut lanes,
        &mapper(),
        &opts,
        &mut report,
    )
    .await
    .unwrap();
    assert_eq!(report.errors, Vec::<String>::new());

    let day = opts.day.0;
    let now = chrono::Utc::now();
    let daily = DayReport::read(&store, day, now).await.unwrap();
    assert_eq!(daily.copies(), (41, 41));
    let admin = "compliance@corp.example";
    let folder = "Archiver Reports";
    let first = day_report::deliver(&store, &mut lanes[0], &daily, admin, folder, now)
        .await
        .unwrap();
    assert!(first, "appended");
    let again = day_report::deliver(&store, &mut lanes[0], &daily, admin, folder, now)
        .await
        .unwrap();
    assert!(!again, "the folder is searched first: found, not appended");
    lanes[0].close().await;

    let messages = dovecot.fetch_all(admin, folder).await;
    assert_eq!(messages.len(), 1, "delivered once");
    let parsed = MessageParser::default().parse(&messages[0].body).unwrap();
    assert_eq!(
        parsed.subject(),
        Some(
            format!("Mobile Archiver report {day}: 26 items, 41/41 copies delivered, 0 gap(s)")
                .as_str()
        )
    );
    assert!(parsed.body_html(0).unwrap().contains("<svg"));
    let attachment = parsed.attachment(0).unwrap();
    let json: serde_json::Value = serde_json::from_slice(attachment.contents()).unwrap();
    assert_eq!(json["emails"], 26);
}
