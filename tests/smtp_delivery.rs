//! SMTP delivery: the example run into a real Postfix on loopback (started
//! by `infra/postfix.sh`), plain and journal-wrapped, counted in the
//! Maildir Postfix delivered into. Refusals come from Postfix itself: a
//! `550 5.1.1` at RCPT TO from its access map (that copy fails, the others
//! arrive), and a `450 4.2.0` from a real greylisting server, postgrey,
//! asked by Postfix (retried with backoff until accepted), each counted in
//! Postfix's own log. What Postfix cannot be made to do comes from a
//! scripted stand-in that speaks SMTP on the wire: a 4xx at the end of
//! DATA, no STARTTLS offered, AUTH (PLAIN, XOAUTH2, a temporary 454).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use shared::embedded;
use shared::ledger::{self, Job, Outcome};
use shared::mailbox::smtp::{Format, Routing, SmtpAuth, SmtpServer, SmtpSettings};
use shared::mailbox::{Envelope, MailboxError, Message, Smtp};
use shared::report::Report;
use shared::secrets::SecretFiles;
use shared::store::{LocalDir, ObjectStore};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use support::examples::{self, mapper, run_options};
use support::postfix::{Postfix, Refusals, mail_sessions};

/// Copies of the example run per mailbox (tests/fixtures/example-run).
const EXPECTED: [(&str, usize); 5] = [
    ("alice.example@corp.example", 9),
    ("bob@corp.example", 9),
    ("carol@corp.example", 9),
    ("dan@corp.example", 5),
    ("evan@corp.example", 9),
];

/// The server at `url` with the tests' limits: 50 ms backoff, 10 s
/// timeouts.
fn server_at(url: &str) -> SmtpServer {
    let mut server = SmtpServer::from_url(url).unwrap();
    server.backoff = Duration::from_millis(50);
    server.command_timeout = Duration::from_secs(10);
    server.connect_timeout = Duration::from_secs(10);
    server
}

/// A target for the server at `url`, with the tests' limits.
fn target(url: &str, recipient: &str, format: Format) -> Smtp {
    target_with(server_at(url), recipient, format)
}

/// A target for `server`, without AUTH, from `archiver@corp.example`.
fn target_with(server: SmtpServer, recipient: &str, format: Format) -> Smtp {
    Smtp::new(
        server,
        None,
        Routing {
            sender: "archiver@corp.example".to_owned(),
            recipient: recipient.to_owned(),
            format,
        },
    )
}

async fn run_example(lanes: &mut [Smtp], store: &LocalDir) -> Report {
    let mut report = Report::default();
    embedded::run(
        &mut examples::sources(),
        store,
        lanes,
        &mapper(),
        &run_options(),
        &mut report,
    )
    .await
    .unwrap();
    for lane in lanes {
        lane.close().await;
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_run_arrives_by_smtp_with_exactly_the_expected_copies() {
    let postfix = Postfix::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mut lanes = [
        target(&postfix.url(), "{mailbox}", Format::Plain),
        target(&postfix.url(), "{mailbox}", Format::Plain),
    ];
    let report = run_example(&mut lanes, &store).await;
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.copies_delivered(), 41);
    assert_eq!(report.possibly_duplicated, 0);

    let delivered = postfix.delivered();
    let counts: BTreeMap<&str, usize> = delivered
        .iter()
        .map(|(recipient, messages)| (recipient.as_str(), messages.len()))
        .collect();
    assert_eq!(counts, BTreeMap::from(EXPECTED));
    for (recipient, messages) in &delivered {
        let ids: HashSet<String> = messages
            .iter()
            .map(|bytes| {
                let parsed = MessageParser::default().parse(bytes).unwrap();
                parsed.message_id().unwrap().to_owned()
            })
            .collect();
        assert_eq!(ids.len(), messages.len(), "{recipient}: one copy per item");
        assert!(ids.iter().all(|id| id.ends_with("@mobile-archiver")));
    }
    // Every copy is in the ledger, with the server's answer.
    assert_eq!(store.list("delivered/").await.unwrap().len(), 41);

    // A second run sends nothing again.
    let mut lanes = [target(&postfix.url(), "{mailbox}", Format::Plain)];
    let again = run_example(&mut lanes, &store).await;
    assert_eq!(again.copies_delivered(), 0);
    let total: usize = postfix.delivered().values().map(Vec::len).sum();
    assert_eq!(total, 41);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_run_arrives_journal_wrapped_at_the_journal_address() {
    let postfix = Postfix::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let journal = "journal@archive.example";
    let mut lanes = [
        target(&postfix.url(), journal, Format::Journal),
        target(&postfix.url(), journal, Format::Journal),
    ];
    let report = run_example(&mut lanes, &store).await;
    assert_eq!(report.errors, Vec::<String>::new());

    let delivered = postfix.delivered();
    assert_eq!(delivered.keys().collect::<Vec<_>>(), [journal]);
    let mut per_mailbox: BTreeMap<String, usize> = BTreeMap::new();
    let mut pairs = HashSet::new();
    for bytes in &delivered[journal] {
        let report = MessageParser::default().parse(bytes).unwrap();
        assert!(report.header("X-MS-Journal-Report").is_some());
        let text = report.body_text(0).unwrap().into_owned();
        let recipient = text
            .lines()
            .find_map(|line| line.strip_prefix("To: "))
            .expect("the report names the recipient")
            .trim()
            .to_owned();
        let attached = report.attachment(0).expect("the original is attached");
        assert!(attached.is_message(), "attached as message/rfc822");
        let original = MessageParser::default().parse(attached.contents()).unwrap();
        let id = original.message_id().unwrap().to_owned();
        assert!(
            text.contains(&format!("Message-Id: <{id}>")),
            "the report names the original"
        );
        assert!(
            pairs.insert((recipient.clone(), id)),
            "one copy per mailbox"
        );
        *per_mailbox.entry(recipient).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = EXPECTED
        .iter()
        .map(|(mailbox, count)| ((*mailbox).to_owned(), *count))
        .collect();
    assert_eq!(per_mailbox, expected);
}

/// The lines of Postfix's log where it refused `recipient` at RCPT TO
/// with `code` (`NOQUEUE: reject: RCPT from ...: 550 5.1.1 <addr>: ...`),
/// with their line numbers.
fn rcpt_refusals<'a>(log: &'a str, recipient: &str, code: &str) -> Vec<(usize, &'a str)> {
    let answer = format!(": {code} <{recipient}>: Recipient address rejected: ");
    log.lines()
        .enumerate()
        .filter(|(_, line)| line.contains("NOQUEUE: reject: RCPT from ") && line.contains(&answer))
        .collect()
}

/// The line number of Postfix's log where the message queued as
/// `queue_id` was delivered to `recipient` (`<id>: to=<addr>,
/// relay=virtual, ... status=sent`).
fn delivery_line(log: &str, queue_id: &str, recipient: &str) -> Option<usize> {
    let start = format!(": {queue_id}: to=<{recipient}>, relay=virtual,");
    log.lines()
        .position(|line| line.contains(&start) && line.contains(" status=sent "))
}

/// The queue ID in the server's answer that the ledger entry of the test
/// message (`m1`) for `mailbox` keeps (`Ok: queued as <id>`).
async fn ledgered_queue_id(store: &LocalDir, mailbox: &str) -> String {
    let entry = ledger::entry(store, mailbox, "m1@mobile-archiver")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{mailbox}: no ledger entry"));
    let answer = entry.uid.expect("the server's answer is kept");
    answer
        .rsplit_once("queued as ")
        .unwrap_or_else(|| panic!("{mailbox}: {answer}"))
        .1
        .trim()
        .to_owned()
}

/// A recipient Postfix refuses for good (`550 5.1.1` at RCPT TO, from its
/// own access map) fails that copy only: the error names the mailbox and
/// Postfix's answer, the copy is asked for once (Postfix logged one
/// refusal) and not ledgered; the copies before and after it arrive once
/// each and are ledgered, on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_fails_that_copy_only() {
    let refused = "bob@corp.example";
    let postfix = Postfix::start_refusing(&Refusals {
        refused: &[refused],
        ..Refusals::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let mut smtp = target(&postfix.url(), "{mailbox}", Format::Plain);
    let mailboxes = ["alice@corp.example", refused, "carol@corp.example"];
    let mut results = Vec::new();
    for mailbox in mailboxes {
        let job = Job {
            mailbox,
            folder: "WhatsApp Archiver",
            message: envelope(),
        };
        results
            .push(ledger::deliver_once(&store, &mut smtp, &job, false, chrono::Utc::now()).await);
    }
    smtp.close().await;

    assert!(matches!(results[0], Ok(Outcome::Delivered)), "{results:?}");
    assert!(matches!(results[2], Ok(Outcome::Delivered)), "{results:?}");
    let Err(ledger::LedgerError::Mailbox(
        error @ MailboxError::Refused {
            mailbox,
            command,
            answer,
            temporary,
        },
    )) = &results[1]
    else {
        panic!("bob's copy must fail with Postfix's 550: {results:?}");
    };
    assert_eq!(
        (mailbox.as_str(), *command, *temporary),
        (refused, "RCPT TO", false)
    );
    // Postfix's answer as it said it, enhanced status code included.
    assert_eq!(
        answer,
        "550 5.1.1 <bob@corp.example>: Recipient address rejected: no such mailbox here"
    );
    assert!(!error.is_transient(), "not retried");
    let message = error.to_string();
    assert!(
        message.contains(refused) && message.contains(answer.as_str()),
        "{message}"
    );

    // Postfix's own account: one connection, three recipients asked for,
    // two taken, the refused one asked for once (not retried).
    let log = postfix.log_after_sessions(1);
    let sessions: Vec<&str> = mail_sessions(&log).collect();
    assert_eq!(
        sessions.len(),
        1,
        "the connection goes on after a 5xx:\n{log}"
    );
    assert!(sessions[0].contains(" rcpt=2/3 "), "{}", sessions[0]);
    assert_eq!(rcpt_refusals(&log, refused, "550 5.1.1").len(), 1, "{log}");

    // No ledger entry for the refused copy; one for each other, naming the
    // queue ID Postfix delivered to that mailbox.
    assert!(
        ledger::entry(&store, refused, "m1@mobile-archiver")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list("delivered/").await.unwrap().len(), 2);
    let delivered = postfix.delivered();
    let counts: BTreeMap<&str, usize> = delivered
        .iter()
        .map(|(recipient, messages)| (recipient.as_str(), messages.len()))
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([("alice@corp.example", 1), ("carol@corp.example", 1)])
    );
    for mailbox in ["alice@corp.example", "carol@corp.example"] {
        let queue_id = ledgered_queue_id(&store, mailbox).await;
        postfix.wait_for_log(&format!("delivery of {queue_id}"), |log| {
            delivery_line(log, &queue_id, mailbox).is_some()
        });
    }
}

/// The pause before the first retry in the greylisting test; doubled each
/// time, over attempts enough to outlast postgrey's delay (1 s) several
/// times.
const GREYLIST_BACKOFF: Duration = Duration::from_millis(250);

/// A recipient Postfix greylists (it asks a real postgrey, whose
/// DEFER_IF_PERMIT Postfix answers as `450 4.2.0` at RCPT TO until the
/// delay has passed) is retried with backoff, on the same connection, until
/// Postfix takes it: the 450s come first in Postfix's log, then the one
/// delivery; the copy arrives once and is ledgered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greylisting_refusal_is_retried_with_backoff_until_postfix_accepts() {
    let greylisted = "alice@corp.example";
    let postfix = Postfix::start_refusing(&Refusals {
        greylisted: &[greylisted],
        greylist_delay_secs: Some(1),
        ..Refusals::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let mut server = server_at(&postfix.url());
    server.backoff = GREYLIST_BACKOFF;
    // Six attempts, with waits of 0.25, 0.5, 1, 2 and 4 s between them.
    server.attempts = 6;
    let mut smtp = target_with(server, "{mailbox}", Format::Plain);
    let job = Job {
        mailbox: greylisted,
        folder: "WhatsApp Archiver",
        message: envelope(),
    };
    let started = Instant::now();
    let outcome = ledger::deliver_once(&store, &mut smtp, &job, false, chrono::Utc::now())
        .await
        .unwrap();
    let took = started.elapsed();
    smtp.close().await;
    assert_eq!(outcome, Outcome::Delivered);

    let queue_id = ledgered_queue_id(&store, greylisted).await;
    let log = postfix.wait_for_log("end of the session and the delivery", |log| {
        mail_sessions(log).count() >= 1 && delivery_line(log, &queue_id, greylisted).is_some()
    });
    let refusals = rcpt_refusals(&log, greylisted, "450 4.2.0");
    let greylisted_times = refusals.len();
    assert!(
        (1..6).contains(&greylisted_times),
        "at least one 450 first, then taken:\n{log}"
    );
    assert!(
        refusals
            .iter()
            .all(|(_, line)| line.contains(": Greylisted, ")),
        "postgrey's answer:\n{log}"
    );
    let delivered_at = delivery_line(&log, &queue_id, greylisted).expect("waited for");
    assert!(refusals.iter().all(|(at, _)| *at < delivered_at), "{log}");
    // One connection: each retry after RSET on it, one recipient taken.
    let sessions: Vec<&str> = mail_sessions(&log).collect();
    assert_eq!(sessions.len(), 1, "{log}");
    assert!(
        sessions[0].contains(&format!(" rcpt=1/{} ", greylisted_times + 1)),
        "{}",
        sessions[0]
    );
    // With backoff: n refusals waited 1 + 2 + ... + 2^(n-1) pauses.
    let exponent = u32::try_from(greylisted_times).unwrap();
    let waited = GREYLIST_BACKOFF * (2u32.pow(exponent) - 1);
    assert!(took >= waited, "{took:?} < {waited:?}");
    // postgrey's own account: as many greylistings, then one pass.
    let postgrey = postfix.postgrey_log();
    let decisions = |action: &str| {
        postgrey
            .lines()
            .filter(|line| {
                line.starts_with(&format!("action={action},"))
                    && line.contains(&format!("recipient={greylisted}"))
            })
            .count()
    };
    assert_eq!(
        (decisions("greylist"), decisions("pass")),
        (greylisted_times, 1),
        "{postgrey}"
    );

    let delivered = postfix.delivered();
    assert_eq!(delivered.keys().collect::<Vec<_>>(), [greylisted]);
    assert_eq!(delivered[greylisted].len(), 1, "arrives once");
    assert_eq!(store.list("delivered/").await.unwrap().len(), 1);
}

/// What the stand-in server answers.
#[derive(Clone, Default)]
struct Script {
    /// End-of-data answers before the server accepts (`451`s).
    temporary_failures: usize,
    /// Offer STARTTLS in the EHLO answer (the stand-in never speaks TLS).
    offers_starttls: bool,
    /// The `AUTH <mechanism> <payload>` lines it accepts (offering PLAIN
    /// and XOAUTH2); others get 535.
    logins: Vec<String>,
    /// AUTH answers `454 4.7.0` (temporary) before it judges the login.
    auth_temporary_failures: usize,
    /// Where it falls silent, keeping the connection open: before its
    /// greeting, after MAIL FROM, or after the end of the message.
    silent: Option<Silent>,
}

/// Where the stand-in stops answering.
#[derive(Clone, Copy, PartialEq)]
enum Silent {
    Greeting,
    MailFrom,
    EndOfData,
}

/// What the stand-in saw.
#[derive(Default)]
struct Seen {
    connections: usize,
    /// Recipients of the messages it accepted.
    accepted: Vec<String>,
    /// End-of-data answers given, accepted or not.
    data_ends: usize,
    /// The AUTH lines it was sent.
    auth: Vec<String>,
}

/// A scripted SMTP server on loopback: one connection at a time, the
/// wire format of RFC 5321 (with dot-stuffing undone).
async fn stand_in(script: Script) -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut failures_left = script.temporary_failures;
        let mut auth_failures_left = script.auth_temporary_failures;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            record.lock().unwrap().connections += 1;
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let mute = |at: Silent| script.silent == Some(at);
            if mute(Silent::Greeting) {
                // Reads on, answering nothing, until the client hangs up.
                while let Ok(Some(_)) = lines.next_line().await {}
                continue;
            }
            write.write_all(b"220 stand-in ESMTP\r\n").await.unwrap();
            let mut recipient = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let upper = line.to_ascii_uppercase();
                let answer = if upper.starts_with("EHLO") {
                    if script.offers_starttls {
                        "250-stand-in\r\n250 STARTTLS\r\n".to_owned()
                    } else if !script.logins.is_empty() {
                        "250-stand-in\r\n250 AUTH PLAIN XOAUTH2\r\n".to_owned()
                    } else {
                        "250-stand-in\r\n250 PIPELINING\r\n".to_owned()
                    }
                } else if upper.starts_with("AUTH ") {
                    record.lock().unwrap().auth.push(line.clone());
                    if auth_failures_left > 0 {
                        auth_failures_left -= 1;
                        "454 4.7.0 temporary authentication failure\r\n".to_owned()
                    } else if script.logins.contains(&line) {
                        "235 2.7.0 authenticated\r\n".to_owned()
                    } else {
                        "535 5.7.8 bad credentials\r\n".to_owned()
                    }
                } else if upper.starts_with("MAIL FROM:") && mute(Silent::MailFrom) {
                    while let Ok(Some(_)) = lines.next_line().await {}
                    break;
                } else if upper.starts_with("MAIL FROM:") || upper.starts_with("RSET") {
                    recipient.clear();
                    "250 2.0.0 ok\r\n".to_owned()
                } else if let Some(rest) = line.strip_prefix("RCPT TO:<") {
                    recipient = rest.trim_end_matches('>').to_owned();
                    "250 2.1.5 ok\r\n".to_owned()
                } else if upper == "DATA" {
                    write.write_all(b"354 go ahead\r\n").await.unwrap();
                    while let Ok(Some(data)) = lines.next_line().await {
                        if data == "." {
                            break;
                        }
                    }
                    if mute(Silent::EndOfData) {
                        while let Ok(Some(_)) = lines.next_line().await {}
                        break;
                    }
                    let mut seen = record.lock().unwrap();
                    seen.data_ends += 1;
                    if failures_left > 0 {
                        failures_left -= 1;
                        "451 4.3.0 try again later\r\n".to_owned()
                    } else {
                        seen.accepted.push(recipient.clone());
                        "250 2.0.0 queued as STANDIN\r\n".to_owned()
                    }
                } else if upper.starts_with("QUIT") {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    break;
                } else {
                    "502 5.5.2 not implemented\r\n".to_owned()
                };
                if write.write_all(answer.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    });
    (port, seen)
}

const EML: &[u8] =
    b"Message-ID: <m1@mobile-archiver>\r\nSubject: x\r\n\r\nbody\r\n.leading dot\r\n";

fn envelope() -> Envelope<'static> {
    Envelope {
        message_id: "m1@mobile-archiver",
        message: Message::from_bytes(EML),
        internal_date: chrono::DateTime::parse_from_rfc3339("2026-11-10T14:02:18Z")
            .unwrap()
            .to_utc(),
    }
}

/// A 4xx to the end of DATA (Postfix's greylisting answers at RCPT TO, in
/// the test above) is retried too.
#[tokio::test]
async fn a_temporary_refusal_at_the_end_of_data_is_retried_until_the_server_accepts() {
    let (port, seen) = stand_in(Script {
        temporary_failures: 2,
        ..Script::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let mut smtp = target(
        &format!("smtp+plain://127.0.0.1:{port}"),
        "{mailbox}",
        Format::Plain,
    );
    let job = Job {
        mailbox: "alice@corp.example",
        folder: "WhatsApp Archiver",
        message: envelope(),
    };
    let outcome = ledger::deliver_once(&store, &mut smtp, &job, false, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Delivered);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.data_ends, 3, "two 451s, then 250");
        assert_eq!(seen.accepted, ["alice@corp.example"]);
    }
    let entry = ledger::entry(&store, "alice@corp.example", "m1@mobile-archiver")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        entry.uid.as_deref(),
        Some("queued as STANDIN"),
        "the server's answer"
    );
}

#[tokio::test]
async fn a_server_without_starttls_is_refused_never_written_to_in_plain_text() {
    let (port, seen) = stand_in(Script::default()).await;
    let mut smtp = target(
        &format!("smtp://127.0.0.1:{port}"),
        "{mailbox}",
        Format::Plain,
    );
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let job = Job {
        mailbox: "alice@corp.example",
        folder: "WhatsApp Archiver",
        message: envelope(),
    };
    let err = ledger::deliver_once(&store, &mut smtp, &job, false, chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    assert!(seen.lock().unwrap().accepted.is_empty());
    assert_eq!(seen.lock().unwrap().data_ends, 0);
}

/// An `[smtp]`-style settings value for the stand-in.
fn settings(port: u16, auth: SmtpAuth) -> SmtpSettings {
    SmtpSettings {
        url: format!("smtp+plain://127.0.0.1:{port}"),
        auth,
        login: "journal-sender@corp.example".to_owned(),
        password_secret: Some("smtp-password".to_owned()),
        token_url: None,
        tenant: None,
        client_id: Some("archiver".to_owned()),
        client_secret_secret: Some("client-secret".to_owned()),
        certificate_key_secret: None,
        certificate_thumbprint: None,
        scope: None,
        sender: "archiver@corp.example".to_owned(),
        helo: None,
        recipient: "{mailbox}".to_owned(),
        format: Format::Plain,
        max_message_bytes: None,
        connect_timeout_secs: Some(10),
        command_timeout_secs: Some(10),
        attempts: Some(2),
        backoff_ms: Some(50),
        connections: Some(1),
    }
}

fn secret_files(dir: &std::path::Path, files: &[(&str, &str)]) -> SecretFiles {
    use std::os::unix::fs::PermissionsExt;
    for (name, value) in files {
        let path = dir.join(name);
        std::fs::write(&path, value).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    SecretFiles::new(dir)
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn password_and_xoauth2_logins_take_their_secrets_from_the_secret_store() {
    let plain = format!(
        "AUTH PLAIN {}",
        b64("\0journal-sender@corp.example\0hunter2")
    );
    let xoauth2 = format!(
        "AUTH XOAUTH2 {}",
        b64("user=alice@corp.example\x01auth=Bearer token-1\x01\x01")
    );
    let (port, seen) = stand_in(Script {
        logins: vec![plain.clone(), xoauth2.clone()],
        ..Script::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let secrets_dir = dir.path().join("secrets");
    std::fs::create_dir(&secrets_dir).unwrap();
    let secrets = secret_files(
        &secrets_dir,
        &[("smtp-password", "hunter2\n"), ("client-secret", "s3cret")],
    );
    let job = |mailbox| Job {
        mailbox,
        folder: "WhatsApp Archiver",
        message: envelope(),
    };

    let mut lanes = settings(port, SmtpAuth::Password)
        .lanes(&secrets)
        .await
        .unwrap();
    let outcome = ledger::deliver_once(
        &store,
        &mut lanes[0],
        &job("alice@corp.example"),
        false,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::Delivered);
    // The stand-in serves one connection at a time.
    lanes[0].close().await;

    let endpoint = support::token_endpoint::serve("/token", |form, _| {
        if form.get("client_secret").map(String::as_str) == Some("s3cret") {
            (
                "200 OK",
                serde_json::json!({"access_token": "token-1", "expires_in": 3600}),
            )
        } else {
            (
                "401 Unauthorized",
                serde_json::json!({"error": "invalid_client", "error_description": "no"}),
            )
        }
    })
    .await;
    let mut oauth = settings(port, SmtpAuth::Xoauth2);
    oauth.token_url = Some(endpoint);
    let mut lanes = oauth.lanes(&secrets).await.unwrap();
    let outcome = ledger::deliver_once(
        &store,
        &mut lanes[0],
        &job("alice@corp.example"),
        true,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::AlreadyDelivered, "the ledger has it");
    let other = Job {
        message: Envelope {
            message_id: "m2@mobile-archiver",
            ..envelope()
        },
        ..job("alice@corp.example")
    };
    let outcome = ledger::deliver_once(&store, &mut lanes[0], &other, false, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Delivered);
    lanes[0].close().await;

    // A wrong password is an authentication error, naming no secret.
    let wrong = secret_files(&secrets_dir, &[("smtp-password", "wrong")]);
    let mut lanes = settings(port, SmtpAuth::Password)
        .lanes(&wrong)
        .await
        .unwrap();
    let err = ledger::deliver_once(
        &store,
        &mut lanes[0],
        &job("bob@corp.example"),
        false,
        chrono::Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, ledger::LedgerError::Mailbox(MailboxError::Auth { .. })),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong"));
    // The refused login is not tried again for the next copy.
    let logins_tried = seen.lock().unwrap().auth.len();
    let next = Job {
        message: Envelope {
            message_id: "m3@mobile-archiver",
            ..envelope()
        },
        ..job("bob@corp.example")
    };
    let err = ledger::deliver_once(&store, &mut lanes[0], &next, false, chrono::Utc::now())
        .await
        .unwrap_err();
    let ledger::LedgerError::Mailbox(error @ MailboxError::Auth { .. }) = &err else {
        panic!("{err:?}");
    };
    assert!(error.to_string().contains("535"), "{error}");
    assert_eq!(seen.lock().unwrap().auth.len(), logins_tried, "no new AUTH");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.auth[..2], [plain, xoauth2]);
    assert_eq!(seen.accepted, ["alice@corp.example", "alice@corp.example"]);
}

/// A temporary AUTH refusal (454 4.7.0) is retried on a new connection,
/// not taken for a refused login.
#[tokio::test]
async fn a_temporary_auth_refusal_is_retried() {
    let plain = format!(
        "AUTH PLAIN {}",
        b64("\0journal-sender@corp.example\0hunter2")
    );
    let (port, seen) = stand_in(Script {
        logins: vec![plain],
        auth_temporary_failures: 2,
        ..Script::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let secrets_dir = dir.path().join("secrets");
    std::fs::create_dir(&secrets_dir).unwrap();
    let secrets = secret_files(&secrets_dir, &[("smtp-password", "hunter2")]);
    let mut config = settings(port, SmtpAuth::Password);
    config.backoff_ms = Some(20);
    config.attempts = Some(3);
    let mut lanes = config.lanes(&secrets).await.unwrap();
    let job = Job {
        mailbox: "alice@corp.example",
        folder: "WhatsApp Archiver",
        message: envelope(),
    };
    let outcome = ledger::deliver_once(&store, &mut lanes[0], &job, false, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Delivered);
    lanes[0].close().await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.auth.len(), 3, "two 454s, then accepted");
    assert_eq!(seen.connections, 3);
    assert_eq!(seen.accepted, ["alice@corp.example"]);
}

/// What Postfix delivers is the EML byte for byte (after the headers
/// Postfix adds at the top): no empty line added at the end, a line
/// starting with '.' unchanged. Maildir files have LF line ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_delivers_the_eml_unchanged() {
    let postfix = Postfix::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mut smtp = target(&postfix.url(), "{mailbox}", Format::Plain);
    // Date and From: Postfix adds them when missing.
    const EML: &[u8] = b"Message-ID: <m1@mobile-archiver>\r\nSubject: x\r\n\
        Date: Tue, 10 Nov 2026 14:02:18 +0000\r\nFrom: <alice@corp.example>\r\n\r\n\
        body\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n";
    let job = Job {
        mailbox: "alice@corp.example",
        folder: "WhatsApp Archiver",
        message: Envelope {
            message: Message::from_bytes(EML),
            ..envelope()
        },
    };
    let outcome = ledger::deliver_once(&store, &mut smtp, &job, false, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Delivered);
    smtp.close().await;
    let delivered = postfix.delivered();
    let [copy] = &delivered["alice@corp.example"][..] else {
        panic!("{delivered:?}");
    };
    let expected = String::from_utf8(EML.to_vec())
        .unwrap()
        .replace("\r\n", "\n");
    let copy = String::from_utf8(copy.clone())
        .unwrap()
        .replace("\r\n", "\n");
    let start = copy.find("Message-ID: ").expect("the EML's first header");
    assert_eq!(&copy[start..], expected);
}

/// The day report goes to the report mailbox itself, not to the journal
/// address the archive's copies go to.
#[tokio::test]
async fn the_day_report_target_sends_to_the_mailbox_itself() {
    let (port, seen) = stand_in(Script::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mut smtp = target(
        &format!("smtp+plain://127.0.0.1:{port}"),
        "journal@archive.example",
        Format::Journal,
    )
    .to_the_mailbox_itself();
    let job = Job {
        mailbox: "admins@corp.example",
        folder: "Archiver Reports",
        message: envelope(),
    };
    ledger::deliver_once(&store, &mut smtp, &job, false, chrono::Utc::now())
        .await
        .unwrap();
    smtp.close().await;
    assert_eq!(seen.lock().unwrap().accepted, ["admins@corp.example"]);
}

/// What an interrupted attempt left decides whether sending the copy again
/// is counted as a possible duplicate (see `shared::ledger`): `sending/`
/// from this boot with its `.sent` flag unset means the end of the message
/// never went out (not counted); the flag set means it did (counted);
/// `sending/` from another boot may have lost the flag to a power cut
/// (counted). Each
/// copy is sent once now, to a real Postfix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_attempt_is_counted_only_when_the_end_of_the_message_went_out() {
    use shared::layout::{sending_key, sent_key};

    let postfix = Postfix::start();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let epoch = store.unsynced_epoch().expect("a local directory has one");
    let mut smtp = target(&postfix.url(), "{mailbox}", Format::Plain);
    let cases = [
        ("m1@mobile-archiver", None, Outcome::Delivered),
        (
            "m2@mobile-archiver",
            Some((epoch.as_str(), false)),
            Outcome::Delivered,
        ),
        (
            "m3@mobile-archiver",
            Some((epoch.as_str(), true)),
            Outcome::Resent,
        ),
        (
            "m4@mobile-archiver",
            Some(("an earlier boot", false)),
            Outcome::Resent,
        ),
    ];
    let mut resent = 0;
    for (id, left, expected) in cases {
        let mailbox = "alice@corp.example";
        if let Some((boot, sent)) = left {
            store
                .put_new(&sending_key(mailbox, id), boot.as_bytes())
                .await
                .unwrap();
            // The attempt opened its flag; it set it if the end went out.
            let (_, mut flag) = store.flag(&sent_key(mailbox, id)).await.unwrap();
            if sent {
                store.set_flag(&mut flag).await.unwrap();
            }
        }
        let eml = format!(
            "Message-ID: <{id}>\r\nSubject: x\r\nDate: Tue, 10 Nov 2026 14:02:18 +0000\r\n\
             From: <alice@corp.example>\r\n\r\nbody\r\n"
        );
        let job = Job {
            mailbox,
            folder: "WhatsApp Archiver",
            message: Envelope {
                message: Message::from_bytes(eml.as_bytes()),
                message_id: id,
                ..envelope()
            },
        };
        let mut group = ledger::Group::default();
        let outcome = group
            .deliver(0, &store, &mut smtp, &job, true, chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(outcome, expected, "{id}");
        resent += group.take_resent();
        group.commit(&store, &mut smtp).await.unwrap();
        let (set, _) = store.flag(&sent_key(mailbox, id)).await.unwrap();
        assert!(set, "{id}: the flag is set as the end goes out");
    }
    smtp.close().await;
    assert_eq!(resent, 2);
    assert_eq!(postfix.delivered()["alice@corp.example"].len(), 4);
}

/// Every step waits no longer than its limit: a server silent before its
/// greeting, after MAIL FROM (with RCPT TO and DATA, pipelined) or after
/// the end of the message fails the copy with a timeout naming that step,
/// within the limit. The first two may be tried again (nothing was sent);
/// the last is not retried (the server may have taken the copy).
#[tokio::test]
async fn a_silent_server_times_out_at_each_step_within_its_limit() {
    let limit = Duration::from_millis(700);
    for (silent, step, retried) in [
        (Silent::Greeting, "connect", true),
        (Silent::MailFrom, "MAIL FROM", true),
        (Silent::EndOfData, "end of data", false),
    ] {
        let (port, seen) = stand_in(Script {
            silent: Some(silent),
            ..Script::default()
        })
        .await;
        let mut server = SmtpServer::from_url(&format!("smtp+plain://127.0.0.1:{port}")).unwrap();
        server.connect_timeout = limit;
        server.command_timeout = limit;
        server.final_reply_timeout = limit;
        server.attempts = 2;
        server.backoff = Duration::from_millis(10);
        let mut smtp = Smtp::new(
            server,
            None,
            Routing {
                sender: "archiver@corp.example".to_owned(),
                recipient: "{mailbox}".to_owned(),
                format: Format::Plain,
            },
        );
        let job = Job {
            mailbox: "alice@corp.example",
            folder: "WhatsApp Archiver",
            message: envelope(),
        };
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path().join("archive"));
        let started = std::time::Instant::now();
        let error = ledger::deliver_once(&store, &mut smtp, &job, false, chrono::Utc::now())
            .await
            .unwrap_err();
        let took = started.elapsed();
        let ledger::LedgerError::Mailbox(MailboxError::Timeout { step: said, .. }) = &error else {
            panic!("{step}: {error:?}");
        };
        assert_eq!(*said, step);
        let attempts: u32 = if retried { 2 } else { 1 };
        assert_eq!(
            seen.lock().unwrap().connections,
            attempts as usize,
            "{step}"
        );
        assert!(
            took < limit * attempts + Duration::from_secs(2),
            "{step}: {took:?} for {attempts} attempt(s) of {limit:?}"
        );
    }
}
