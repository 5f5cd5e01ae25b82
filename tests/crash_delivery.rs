//! Crash test: delivery of 2,000 messages over 10 mailboxes into a real
//! Dovecot is killed with SIGKILL at random points many times, then run to
//! completion. Every Message-ID must end up exactly once in its mailbox and
//! the ledger must hold exactly one entry per job.
//!
//! The delivering process is this test binary itself, started again with
//! `--child`: it runs the library's `deliver_pending` over the store and the
//! IMAP target, exactly as `archiver deliver` does. (A custom harness, so
//! the parent can start and kill it.)

mod support;

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use shared::embedded;
use shared::mailbox::Imap;
use shared::mailbox::imap::{Credentials, ImapServer};
use shared::report::Report;
use shared::secrets::Secret;
use shared::store::{LocalDir, ObjectStore};

use support::dovecot::Dovecot;

const ITEMS: usize = 2000;
const MAILBOXES: usize = 10;
const FOLDER: &str = "WhatsApp Archiver";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("--child") {
        runtime.block_on(child(&args[2], args[3].parse().unwrap(), &args[4]));
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--list") {
        println!("delivery_survives_sigkill_at_random_points: test");
        return ExitCode::SUCCESS;
    }
    runtime.block_on(parent());
    println!("test delivery_survives_sigkill_at_random_points ... ok");
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    ExitCode::SUCCESS
}

/// The delivering process: works through the pending job files.
async fn child(store: &str, port: u16, password_file: &str) {
    let password = std::fs::read_to_string(password_file).unwrap();
    let mut server = ImapServer::from_url(&format!("imap://127.0.0.1:{port}")).unwrap();
    server.backoff = Duration::from_millis(100);
    let credentials = Credentials::Password {
        login: "{mailbox}".to_owned(),
        password: Secret::new(password.trim()),
    };
    let mut lanes: Vec<Imap> = (0..4)
        .map(|_| Imap::new(server.clone(), credentials.clone()))
        .collect();
    let mut report = Report::default();
    embedded::deliver_pending(&LocalDir::new(store), &mut lanes, &mut report)
        .await
        .unwrap();
    for imap in &mut lanes {
        imap.close().await;
    }
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

fn spawn_child(store: &std::path::Path, dovecot: &Dovecot) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .arg(store)
        .arg(dovecot.port.to_string())
        .arg(dovecot.dir().join("password"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Messages in all folders, as the server counts them.
async fn messages_on_server(dovecot: &Dovecot) -> usize {
    let mut total = 0;
    for mailbox in support::corpus::mailboxes(MAILBOXES) {
        let mut session = dovecot.login(&mailbox).await;
        if let Ok(found) = session.examine(FOLDER).await {
            total += found.exists as usize;
        }
        session.logout().await.unwrap();
    }
    total
}

async fn parent() {
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("archive");
    let store = LocalDir::new(&store_dir);
    let jobs = support::corpus::write(&store, ITEMS, MAILBOXES, FOLDER).await;

    let mut next = support::process::kill_moments(0x9e37_79b9_7f4a_7c15);
    let mut kills = 0;
    let mut windows_hit = 0;
    // Kill until the window between APPEND and ledger write was hit a few
    // times (messages on the server without a ledger entry), within bounds.
    while kills < 60 && (kills < 15 || windows_hit < 3) {
        let ledger_before = store.list("delivered/").await.unwrap().len();
        if ledger_before == ITEMS {
            break;
        }
        let mut child = spawn_child(&store_dir, &dovecot);
        let wait = Duration::from_millis(40 + next() % 200);
        tokio::time::sleep(wait).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let ledger = store.list("delivered/").await.unwrap().len();
        let on_server = messages_on_server(&dovecot).await;
        assert!(
            on_server >= ledger,
            "ledger entries are written after the append"
        );
        if on_server > ledger {
            windows_hit += 1;
        }
    }
    assert!(
        kills >= 15,
        "only {kills} kills before the run finished: make it longer"
    );
    assert!(
        windows_hit >= 1,
        "no kill landed between an APPEND and its ledger write in {kills} kills"
    );

    // Run to completion.
    let status = spawn_child(&store_dir, &dovecot).wait().unwrap();
    assert!(status.success());
    eprintln!("crash test: {kills} kills, {windows_hit} between APPEND and ledger write");

    support::corpus::assert_fully_ledgered(&store, &jobs).await;
    dovecot.assert_each_exactly_once(&jobs, FOLDER).await;
}
