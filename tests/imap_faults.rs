//! Bad server answers give clear errors and retries, never a hang or a panic.
//!
//! A scripted stand-in IMAP server on loopback speaks the real wire format
//! (greeting, tagged answers, `+` continuation, the APPEND literal read by
//! its exact byte count). Each test scripts what the server answers and
//! checks what the client made of it and which commands the server saw.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::mailbox::imap::{Credentials, ImapServer};
use shared::mailbox::{Appended, Envelope, Imap, Mailbox, MailboxError, Message};
use shared::secrets::Secret;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};

const MAILBOX: &str = "alice@corp.example";
const FOLDER: &str = "WhatsApp Archiver";
const MESSAGE_ID: &str = "m1@mobile-archiver";
const BYTES: &[u8] = b"Message-ID: <m1@mobile-archiver>\r\nSubject: hi\r\n\r\nbody\r\n";
const PASSWORD: &str = "pw-Zq7-not-in-errors";
const GARBAGE: &[u8] = b"\x00\xff not imap at all\r\n";

/// What the client sends on a fresh connection before appending.
const FIRST: &[&str] = &["LOGIN", "CREATE", "APPEND"];
/// What it sends on a retry: it searches before appending again.
const RETRY: &[&str] = &["LOGIN", "CREATE", "SELECT", "UID SEARCH", "APPEND"];

/// One thing the server received: a command, or the pseudo-command
/// `GREETING` when a connection opens (not logged).
#[derive(Debug, Clone)]
struct Cmd {
    /// The connection, from 1.
    conn: usize,
    /// `LOGIN`, `UID SEARCH`, …
    verb: String,
    /// The command line without its tag.
    line: String,
    /// How many commands with this verb the server has seen, this one included.
    nth: usize,
    /// The APPEND literal, once read.
    literal: Option<Vec<u8>>,
}

/// How the server answers one command.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// What a healthy server says.
    Normal,
    /// A tagged answer (`NO …`, `OK …`); for the greeting, `* <text>`.
    Tagged(&'static str),
    /// One untagged line (without `* `), then a tagged answer.
    Data(&'static str, &'static str),
    /// APPEND: the tagged answer instead of `+`; the literal is never sent.
    Early(&'static str),
    /// Bytes that are not IMAP, then silence.
    Garbage,
    /// `* BYE shutting down`, then the connection is closed.
    Bye,
    /// Nothing, ever (the connection stays open).
    Silence,
    /// `* OK still here` every 50 ms, never the tagged answer.
    Chatter,
}

type Script = dyn Fn(&Cmd) -> Answer + Send + Sync;

/// The stand-in server and what it saw.
struct Server {
    port: u16,
    log: Arc<Mutex<Vec<Cmd>>>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    async fn start(script: impl Fn(&Cmd) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server {
            port: listener.local_addr().unwrap().port(),
            log: Arc::default(),
            connections: Arc::default(),
        };
        let script: Arc<Script> = Arc::new(script);
        let (log, connections) = (server.log.clone(), server.connections.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let conn = connections.fetch_add(1, Ordering::SeqCst) + 1;
                let (script, log) = (script.clone(), log.clone());
                tokio::spawn(async move {
                    // The client closing first makes writes fail: that ends the task.
                    let _ = serve(stream, conn, &*script, &log).await;
                });
            }
        });
        server
    }

    fn commands(&self) -> Vec<Cmd> {
        self.log.lock().unwrap().clone()
    }

    fn verbs(&self) -> Vec<String> {
        self.commands().into_iter().map(|c| c.verb).collect()
    }

    fn count(&self, verb: &str) -> usize {
        self.commands().iter().filter(|c| c.verb == verb).count()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn client(&self) -> Imap {
        client(self.port)
    }
}

/// One connection: greeting, then command after command.
async fn serve(
    stream: TcpStream,
    conn: usize,
    script: &Script,
    log: &Mutex<Vec<Cmd>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let greeting = Cmd {
        conn,
        verb: "GREETING".to_owned(),
        line: String::new(),
        nth: conn,
        literal: None,
    };
    let mut go_on = match script(&greeting) {
        Answer::Normal => send(&mut write, "* OK [CAPABILITY IMAP4rev1] stand-in ready").await,
        Answer::Tagged(text) => send(&mut write, &format!("* {text}")).await,
        other => act(other, "*", &mut write).await,
    }?;
    let mut line = Vec::new();
    while go_on {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let (tag, rest) = text.split_once(' ').unwrap_or((&text, ""));
        let mut words = rest.split(' ').map(str::to_ascii_uppercase);
        let mut verb = words.next().unwrap_or_default();
        if verb == "UID" {
            verb = format!("UID {}", words.next().unwrap_or_default());
        }
        let literal_len: Option<usize> = rest
            .strip_suffix('}')
            .and_then(|r| r.rsplit_once('{'))
            .map(|(_, n)| n.parse().expect("literal length"));
        let (index, cmd) = {
            let mut log = log.lock().unwrap();
            let cmd = Cmd {
                conn,
                nth: log.iter().filter(|c| c.verb == verb).count() + 1,
                verb,
                line: rest.to_owned(),
                literal: None,
            };
            log.push(cmd.clone());
            (log.len() - 1, cmd)
        };
        let answer = script(&cmd);
        if let Some(len) = literal_len {
            if let Answer::Early(text) = answer {
                send(&mut write, &format!("{tag} {text}")).await?;
                continue;
            }
            send(&mut write, "+ Ready for literal data").await?;
            let mut literal = vec![0; len];
            read.read_exact(&mut literal).await?;
            log.lock().unwrap()[index].literal = Some(literal);
            // The rest of the command line after the literal: CRLF.
            let mut end = Vec::new();
            read.read_until(b'\n', &mut end).await?;
            assert_eq!(end, b"\r\n", "APPEND ends after the literal");
        }
        go_on = match answer {
            Answer::Normal => {
                let (data, done): (&[&str], &str) = match cmd.verb.as_str() {
                    "LOGIN" => (&[], "OK [CAPABILITY IMAP4rev1] Logged in"),
                    "CREATE" => (&[], "OK Create completed"),
                    "STATUS" => (&["STATUS \"x\" (MESSAGES 0)"], "OK Status completed"),
                    "SELECT" => (
                        &["0 EXISTS", "OK [UIDVALIDITY 7] UIDs valid"],
                        "OK [READ-WRITE] Select completed",
                    ),
                    "UID SEARCH" => (&["SEARCH"], "OK Search completed"),
                    "APPEND" => (&[], "OK [APPENDUID 7 1] Append completed"),
                    "LOGOUT" => (&["BYE Logging out"], "OK Logout completed"),
                    _ => (&[], "BAD Unknown command"),
                };
                for line in data {
                    send(&mut write, &format!("* {line}")).await?;
                }
                send(&mut write, &format!("{tag} {done}")).await?;
                cmd.verb != "LOGOUT"
            }
            Answer::Tagged(text) | Answer::Early(text) => {
                send(&mut write, &format!("{tag} {text}")).await?
            }
            Answer::Data(data, text) => {
                send(&mut write, &format!("* {data}")).await?;
                send(&mut write, &format!("{tag} {text}")).await?
            }
            other => act(other, tag, &mut write).await?,
        };
    }
    // Silence: read (and ignore) until the client goes away.
    let mut sink = [0; 1024];
    while read.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Writes one line; returns `true` (go on reading commands).
async fn send(write: &mut OwnedWriteHalf, line: &str) -> std::io::Result<bool> {
    write.write_all(format!("{line}\r\n").as_bytes()).await?;
    Ok(true)
}

/// The misbehaving answers; returns whether to go on reading commands.
async fn act(answer: Answer, tag: &str, write: &mut OwnedWriteHalf) -> std::io::Result<bool> {
    match answer {
        Answer::Garbage => write.write_all(GARBAGE).await.map(|_| false),
        Answer::Bye => {
            send(write, "* BYE shutting down").await?;
            write.shutdown().await.map(|_| false)
        }
        Answer::Silence => Ok(false),
        Answer::Chatter => loop {
            send(write, "* OK still here").await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        },
        other => unreachable!("{other:?} for {tag}"),
    }
}

/// A client with small limits: 400 ms per step, 3 attempts, 10 ms backoff.
fn client(port: u16) -> Imap {
    let mut server = ImapServer::from_url(&format!("imap://127.0.0.1:{port}")).unwrap();
    server.connect_timeout = Duration::from_millis(400);
    server.command_timeout = Duration::from_millis(400);
    server.attempts = 3;
    server.backoff = Duration::from_millis(10);
    Imap::new(
        server,
        Credentials::Password {
            login: "{mailbox}".into(),
            password: Secret::new(PASSWORD),
        },
    )
}

fn envelope() -> Envelope<'static> {
    Envelope {
        message_id: MESSAGE_ID,
        message: Message::from_bytes(BYTES),
        internal_date: chrono::DateTime::parse_from_rfc3339("2026-11-10T14:02:18Z")
            .unwrap()
            .to_utc(),
    }
}

async fn append(imap: &mut Imap) -> Result<Appended, MailboxError> {
    bounded(imap.append(MAILBOX, FOLDER, &envelope())).await
}

/// A hang fails the test instead of blocking CI.
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("the client hung: no result within 5 s")
}

fn verbs(parts: &[&[&str]]) -> Vec<String> {
    parts.concat().iter().map(|v| v.to_string()).collect()
}

fn uid(uid: &str) -> Appended {
    Appended {
        uid: Some(uid.to_owned()),
    }
}

/// 1. Temporary NO to APPEND twice, then OK: retried on new connections,
/// searching before each new APPEND.
#[tokio::test]
async fn temporary_no_is_retried_after_a_search() {
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.nth) {
        ("APPEND", 1 | 2) => Answer::Tagged("NO [UNAVAILABLE] try later"),
        ("APPEND", _) => Answer::Tagged("OK [APPENDUID 7 42] Append completed"),
        _ => Answer::Normal,
    })
    .await;
    let mut imap = server.client();
    assert_eq!(append(&mut imap).await.unwrap(), uid("7:42"));
    assert_eq!(server.verbs(), verbs(&[FIRST, RETRY, RETRY]));
    assert_eq!(server.connections(), 3, "a new connection per attempt");
    let commands = server.commands();
    for cmd in commands.iter().filter(|c| c.verb == "APPEND") {
        assert_eq!(
            cmd.line,
            format!(
                "APPEND \"{FOLDER}\" (\\Seen) \"10-Nov-2026 14:02:18 +0000\" {{{}}}",
                BYTES.len()
            )
        );
        assert_eq!(cmd.literal.as_deref(), Some(BYTES), "the exact bytes");
    }
    for cmd in commands.iter().filter(|c| c.verb == "UID SEARCH") {
        assert_eq!(
            cmd.line,
            format!("UID SEARCH HEADER Message-ID \"{MESSAGE_ID}\"")
        );
    }
    let attempts: Vec<usize> = commands
        .iter()
        .filter(|c| c.verb == "APPEND")
        .map(|c| c.conn)
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
}

/// 2. Permanent NO to APPEND (after the literal, or at once instead of `+`):
/// refused for good after one APPEND, with the server's words.
#[tokio::test]
async fn permanent_no_fails_at_once_with_the_servers_words() {
    for answer in [
        Answer::Tagged("NO [OVERQUOTA] Quota exceeded"),
        Answer::Early("NO [OVERQUOTA] Quota exceeded"),
    ] {
        let server = Server::start(move |cmd| match cmd.verb.as_str() {
            "APPEND" => answer,
            _ => Answer::Normal,
        })
        .await;
        let error = append(&mut server.client()).await.unwrap_err();
        match &error {
            MailboxError::Refused {
                command: "APPEND",
                answer: words,
                temporary: false,
                ..
            } => assert!(words.contains("[OVERQUOTA] Quota exceeded"), "{words}"),
            other => panic!("{answer:?}: expected a permanent refusal, got {other:?}"),
        }
        assert!(!error.is_transient());
        assert!(error.to_string().contains("Quota exceeded"), "{error}");
        assert_eq!(server.verbs(), verbs(&[FIRST]), "{answer:?}");
        assert_eq!(server.connections(), 1);
        let literal = server.commands()[2].literal.clone();
        match answer {
            Answer::Early(_) => assert_eq!(literal, None, "refused before the literal"),
            _ => assert_eq!(literal.as_deref(), Some(BYTES)),
        }
    }
}

/// 3. BAD to APPEND: refused, not retried.
#[tokio::test]
async fn bad_is_refused_and_not_retried() {
    let server = Server::start(|cmd| match cmd.verb.as_str() {
        "APPEND" => Answer::Tagged("BAD Error in IMAP command APPEND: Invalid arguments."),
        _ => Answer::Normal,
    })
    .await;
    let error = append(&mut server.client()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            MailboxError::Refused { command: "APPEND", answer, temporary: false, .. }
                if answer.contains("Invalid arguments")
        ),
        "{error:?}"
    );
    assert_eq!(server.verbs(), verbs(&[FIRST]));
    assert_eq!(server.connections(), 1);
}

/// 4. BYE after the literal: the answer is lost, so the client reconnects
/// and searches; it appends again only when the message is not there.
#[tokio::test]
async fn bye_mid_append_searches_before_appending_again() {
    // Not stored: appended again on the second connection.
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.conn) {
        ("APPEND", 1) => Answer::Bye,
        ("APPEND", _) => Answer::Tagged("OK [APPENDUID 7 43] Append completed"),
        _ => Answer::Normal,
    })
    .await;
    assert_eq!(append(&mut server.client()).await.unwrap(), uid("7:43"));
    assert_eq!(server.verbs(), verbs(&[FIRST, RETRY]));
    assert_eq!(server.connections(), 2);

    // Stored before the BYE: found, never appended twice.
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.conn) {
        ("APPEND", 1) => Answer::Bye,
        ("UID SEARCH", _) => Answer::Data("SEARCH 5", "OK Search completed"),
        _ => Answer::Normal,
    })
    .await;
    assert_eq!(append(&mut server.client()).await.unwrap(), uid("7:5"));
    assert_eq!(
        server.verbs(),
        verbs(&[FIRST, &["LOGIN", "CREATE", "SELECT", "UID SEARCH"]])
    );
    assert_eq!(
        server.count("APPEND"),
        1,
        "exactly once after a lost answer"
    );
}

/// 4b. A temporary NO to the search's SELECT is not "the message is not
/// there": the search is retried instead of risking a second APPEND.
#[tokio::test]
async fn temporary_no_to_the_search_is_not_taken_as_absent() {
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.conn) {
        ("APPEND", 1) => Answer::Bye,
        ("SELECT", 2) => Answer::Tagged("NO [UNAVAILABLE] try later"),
        ("UID SEARCH", _) => Answer::Data("SEARCH 5", "OK Search completed"),
        _ => Answer::Normal,
    })
    .await;
    assert_eq!(append(&mut server.client()).await.unwrap(), uid("7:5"));
    assert_eq!(
        server.verbs(),
        verbs(&[
            FIRST,
            &["LOGIN", "CREATE", "SELECT"],
            &["LOGIN", "CREATE", "SELECT", "UID SEARCH"],
        ])
    );
    assert_eq!(server.count("APPEND"), 1, "no duplicate");
}

/// 5. Garbage instead of the greeting: a connect error, retried.
#[tokio::test]
async fn garbage_greeting_is_a_connect_error_and_retried() {
    // Once: the second connection delivers.
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.conn) {
        ("GREETING", 1) => Answer::Garbage,
        _ => Answer::Normal,
    })
    .await;
    assert_eq!(append(&mut server.client()).await.unwrap(), uid("7:1"));
    assert_eq!(server.verbs(), verbs(&[RETRY]));
    assert_eq!(server.connections(), 2);

    // Always: a connect error after every attempt.
    let server = Server::start(|cmd| match cmd.verb.as_str() {
        "GREETING" => Answer::Garbage,
        _ => Answer::Normal,
    })
    .await;
    let error = append(&mut server.client()).await.unwrap_err();
    match &error {
        MailboxError::Connect {
            server: address, ..
        } => {
            assert_eq!(*address, format!("127.0.0.1:{}", server.port))
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(error.to_string().contains("not imap at all"), "{error}");
    assert_eq!(server.connections(), 3, "one per attempt");
    assert_eq!(server.verbs(), Vec::<String>::new());
}

/// 5b. Garbage instead of the tagged answer: the connection is lost, retried.
#[tokio::test]
async fn garbage_answer_is_a_lost_connection_and_retried() {
    // To APPEND: searched and appended again.
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.conn) {
        ("APPEND", 1) => Answer::Garbage,
        _ => Answer::Normal,
    })
    .await;
    assert_eq!(append(&mut server.client()).await.unwrap(), uid("7:1"));
    assert_eq!(server.verbs(), verbs(&[FIRST, RETRY]));

    // Always: the last attempt's error says the connection was lost.
    let server = Server::start(|cmd| match cmd.verb.as_str() {
        "APPEND" => Answer::Garbage,
        _ => Answer::Normal,
    })
    .await;
    let error = append(&mut server.client()).await.unwrap_err();
    assert!(matches!(error, MailboxError::Lost { .. }), "{error:?}");
    assert_eq!(server.count("APPEND"), 3);
    assert_eq!(server.connections(), 3);

    // To the STATUS that checks an existing folder: lost, not "CREATE refused".
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.conn) {
        ("CREATE", _) => Answer::Tagged("NO [ALREADYEXISTS] Mailbox already exists"),
        ("STATUS", 1) => Answer::Garbage,
        _ => Answer::Normal,
    })
    .await;
    assert_eq!(append(&mut server.client()).await.unwrap(), uid("7:1"));
    assert_eq!(
        server.verbs(),
        verbs(&[
            &["LOGIN", "CREATE", "STATUS"],
            &[
                "LOGIN",
                "CREATE",
                "STATUS",
                "SELECT",
                "UID SEARCH",
                "APPEND"
            ],
        ])
    );

    // To a search (Mailbox::find): retried, then found.
    let server = Server::start(|cmd| match (cmd.verb.as_str(), cmd.conn) {
        ("UID SEARCH", 1) => Answer::Garbage,
        ("UID SEARCH", _) => Answer::Data("SEARCH 5", "OK Search completed"),
        _ => Answer::Normal,
    })
    .await;
    let found = bounded(server.client().find(MAILBOX, FOLDER, MESSAGE_ID)).await;
    assert_eq!(found.unwrap(), Some(uid("7:5")));
    let search = ["LOGIN", "SELECT", "UID SEARCH"];
    assert_eq!(server.verbs(), verbs(&[&search, &search]));
}

/// 6. A server that stops answering: a timeout naming the step, after
/// every attempt, never a hang.
#[tokio::test]
async fn silence_is_a_timeout_naming_the_step() {
    for (verb, answer, step, seen) in [
        ("GREETING", Answer::Silence, "greeting", verbs(&[])),
        (
            "LOGIN",
            Answer::Silence,
            "LOGIN",
            vec!["LOGIN".to_owned(); 3],
        ),
        (
            "APPEND",
            Answer::Silence,
            "APPEND",
            verbs(&[FIRST, RETRY, RETRY]),
        ),
        (
            "APPEND",
            Answer::Chatter,
            "APPEND",
            verbs(&[FIRST, RETRY, RETRY]),
        ),
    ] {
        let server = Server::start(move |cmd| match cmd.verb.as_str() {
            v if v == verb => answer,
            _ => Answer::Normal,
        })
        .await;
        let started = tokio::time::Instant::now();
        let error = append(&mut server.client()).await.unwrap_err();
        match &error {
            MailboxError::Timeout { step: s, .. } => assert_eq!(*s, step, "{verb} {answer:?}"),
            other => panic!("{verb} {answer:?}: expected a timeout, got {other:?}"),
        }
        assert_eq!(
            error.to_string(),
            format!("127.0.0.1:{} did not answer {step} within 1 s", server.port)
        );
        assert_eq!(
            server.connections(),
            3,
            "{verb} {answer:?}: one per attempt"
        );
        assert_eq!(server.verbs(), seen, "{verb} {answer:?}");
        // Three waits of 400 ms, not one per untagged line.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{verb} {answer:?}"
        );
    }
}

/// 7. LOGIN refused: an auth error with the server's words, not retried,
/// and the password is nowhere in it.
#[tokio::test]
async fn refused_login_is_an_auth_error_without_the_password() {
    let server = Server::start(|cmd| match cmd.verb.as_str() {
        "LOGIN" => Answer::Tagged("NO [AUTHENTICATIONFAILED] Authentication failed."),
        _ => Answer::Normal,
    })
    .await;
    let error = append(&mut server.client()).await.unwrap_err();
    match &error {
        MailboxError::Auth { mailbox, reason } => {
            assert_eq!(mailbox, MAILBOX);
            assert!(reason.contains("Authentication failed."), "{reason}");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(server.verbs(), ["LOGIN"], "one LOGIN only");
    assert_eq!(server.connections(), 1);
    assert!(
        server.commands()[0].line.contains(PASSWORD),
        "the server did get the password"
    );
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

/// 8. Nothing listening: a connect error.
#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    // Bound but not listening: connections are refused, and no other test
    // can take the port meanwhile.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let error = append(&mut client(port)).await.unwrap_err();
    match &error {
        MailboxError::Connect { server, reason } => {
            assert_eq!(*server, format!("127.0.0.1:{port}"));
            assert!(!reason.is_empty());
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(error.is_transient());
    drop(socket);
}

#[tokio::test]
async fn an_unreachable_server_fails_the_rest_of_the_lane_at_once() {
    use shared::jobs::DeliveryJob;
    use shared::report::Report;
    use shared::store::{LocalDir, ObjectStore};

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    store
        .put_new("eml/x.eml", b"Subject: x\r\n\r\nbody\r\n")
        .await
        .unwrap();
    let jobs: Vec<DeliveryJob> = (0..6)
        .map(|n| DeliveryJob {
            mailbox: format!("user{}@corp.example", n % 3),
            folder: "WhatsApp Archiver".to_owned(),
            eml_key: "eml/x.eml".to_owned(),
            message_id: format!("m{n}@mobile-archiver"),
            timestamp: "2026-11-03T09:01:00Z".to_owned(),
            eml: None,
            stubbed: false,
        })
        .collect();
    let mut report = Report::default();
    let failed = bounded(shared::deliver::deliver_jobs(
        &store,
        std::slice::from_mut(&mut client(port)),
        &jobs,
        |_| false,
        None,
        &mut report,
    ))
    .await;
    assert_eq!(failed, [0, 1, 2, 3, 4, 5]);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    assert!(
        report.errors[0].contains("cannot connect"),
        "{}",
        report.errors[0]
    );
    assert_eq!(
        report.errors[1],
        "5 further copies not attempted: the server could not be reached"
    );
    assert!(store.list("delivered/").await.unwrap().is_empty());
    drop(socket);
}
