//! Crash test of SMTP delivery: delivery of many copies into a real Postfix
//! on loopback is killed with SIGKILL at random points 20 times, then run
//! to completion. Every copy must arrive, and the copies that arrived twice
//! must be the copies reported as possibly sent twice (SMTP cannot be
//! searched: the window is the server's acceptance and the ledger write).
//!
//! The report counts a copy when the end of its message went out before
//! the kill (`shared::ledger`: a flag in a memory-mapped byte, set the
//! instant before the end goes out), so it equals the duplicates but for
//! a kill in the few instructions between the flag and the end, or while a
//! copy sent again is being logged: the test allows one such over-count,
//! never an under-count, and prints
//! both numbers and, per kill, the copies it left marked as sent without a
//! ledger entry.
//!
//! The delivering process is this test binary itself, started again with
//! `--child`: it runs the library's `deliver_pending` over the store and
//! the SMTP target, as `archiver deliver` does, and prints the ledger's
//! warnings as they happen, so that a killed run's reports are counted too.
//! (A custom harness, so the parent can start and kill it.)

mod support;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use shared::embedded;
use shared::mailbox::Smtp;
use shared::mailbox::smtp::{Format, Routing, SmtpServer};
use shared::report::Report;
use shared::store::{LocalDir, ObjectStore};

use support::postfix::Postfix;

const ITEMS: usize = 1500;
const MAILBOXES: usize = 6;
const KILLS: usize = 20;
/// Connections delivering at once (copies in flight at a kill, at most).
const LANES: usize = 2;
const FOLDER: &str = "WhatsApp Archiver";
/// Copies reported that arrived once, at most: a kill in the instructions
/// between a flag and its end, or while a copy sent again is logged
/// (microseconds: rare, more than one in a run rarer still).
const MAX_OVERCOUNT: usize = 1;
/// What the ledger logs for a copy sent again after an interrupted attempt.
const RESENT: &str = "copy sent again after an interrupted attempt";
/// How a child that ran to its end prints its report's counter.
const COUNTED: &str = "possibly duplicated: ";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("--child") {
        runtime.block_on(child(&args[2], &args[3]));
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--list") {
        println!("smtp_delivery_survives_sigkill_and_reports_every_possible_duplicate: test");
        return ExitCode::SUCCESS;
    }
    runtime.block_on(parent());
    println!("test smtp_delivery_survives_sigkill_and_reports_every_possible_duplicate ... ok");
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    ExitCode::SUCCESS
}

/// The delivering process: works through the pending job files.
async fn child(store: &str, url: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .init();
    let mut server = SmtpServer::from_url(url).unwrap();
    server.backoff = Duration::from_millis(100);
    let routing = Routing {
        sender: "archiver@corp.example".to_owned(),
        recipient: "{mailbox}".to_owned(),
        format: Format::Plain,
    };
    let mut lanes: Vec<Smtp> = (0..LANES)
        .map(|_| Smtp::new(server.clone(), None, routing.clone()))
        .collect();
    let mut report = Report::default();
    embedded::deliver_pending(&LocalDir::new(store), &mut lanes, &mut report)
        .await
        .unwrap();
    for smtp in &mut lanes {
        smtp.close().await;
    }
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    println!("{COUNTED}{}", report.possibly_duplicated);
}

fn spawn_child(store: &std::path::Path, postfix: &Postfix) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .arg(store)
        .arg(postfix.url())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What a child reported: the copies it logged as sent again (one warning
/// per copy, as each goes out), and its report's counter of them when it
/// ran to its end (a killed child prints no report).
struct Reported {
    logged: usize,
    counted: Option<usize>,
    /// The ledger keys of the copies it logged as sent again.
    resent: HashSet<String>,
}

fn reported(child: &mut std::process::Child) -> Reported {
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let logged = out.lines().filter(|line| line.contains(RESENT)).count();
    let counted = out.lines().find_map(|line| {
        line.strip_prefix(COUNTED)
            .map(|n| n.trim().parse::<usize>().unwrap())
    });
    if let Some(counted) = counted {
        assert_eq!(
            counted, logged,
            "the report counts every copy logged as sent again"
        );
    }
    let resent = out
        .lines()
        .filter(|line| line.contains(RESENT))
        .filter_map(|line| line.split("ledger_key=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    Reported {
        logged,
        counted,
        resent,
    }
}

/// The copies whose `.sent` flag is set without a ledger entry, by ledger
/// key (a local flag file holds `1` once set).
async fn pending(store: &LocalDir) -> HashSet<String> {
    let mut pending = HashSet::new();
    for mark in store.list("sending/").await.unwrap() {
        let Some(copy) = mark.strip_suffix(".sent") else {
            continue;
        };
        let ledger = copy.replacen("sending/", "delivered/", 1);
        let set = store.get(&mark).await.unwrap().as_deref() == Some(b"1");
        if set && !store.exists(&ledger).await.unwrap() {
            pending.insert(ledger);
        }
    }
    pending
}

async fn parent() {
    let postfix = Postfix::start();
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("archive");
    let store = LocalDir::new(&store_dir);
    let jobs = support::corpus::write(&store, ITEMS, MAILBOXES, FOLDER).await;

    let mut next = support::process::kill_moments(0x2545_f491_4f6c_dd1d);
    let mut kills = 0;
    let mut reported_total = 0;
    let mut counted_total = 0;
    // The copies each kill left marked `.sent` without a ledger entry
    // (whose end may have gone out): the duplicates it may have made. A
    // copy pending before the run is left by this kill only if the run
    // sent it again.
    let mut left_by_kill = Vec::new();
    let mut before = HashSet::new();
    while kills < KILLS {
        if store.list("delivered/").await.unwrap().len() == ITEMS {
            break;
        }
        let mut child = spawn_child(&store_dir, &postfix);
        tokio::time::sleep(Duration::from_millis(30 + next() % 300)).await;
        child.kill().unwrap(); // SIGKILL (a no-op if it finished)
        let run = reported(&mut child);
        reported_total += run.logged;
        counted_total += run.counted.unwrap_or(0);
        child.wait().unwrap();
        kills += 1;
        let after = pending(&store).await;
        let left = after
            .iter()
            .filter(|copy| !before.contains(*copy) || run.resent.contains(*copy))
            .count();
        left_by_kill.push(left);
        before = after;
    }
    assert_eq!(
        kills, KILLS,
        "the run finished after {kills} kills: make it longer"
    );

    // Run to completion.
    let mut child = spawn_child(&store_dir, &postfix);
    let run = reported(&mut child);
    assert!(child.wait().unwrap().success());
    reported_total += run.logged;
    counted_total += run.counted.expect("the last run prints its report");
    let clean = left_by_kill.iter().filter(|&&left| left == 0).count();
    let left_total: usize = left_by_kill.iter().sum();
    support::corpus::assert_fully_ledgered(&store, &jobs).await;

    // Count in what Postfix delivered: every copy there, duplicates as
    // reported.
    let mut copies: HashMap<(String, String), usize> = HashMap::new();
    for (recipient, messages) in postfix.delivered() {
        for bytes in messages {
            let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
            let id = parsed.message_id().unwrap().to_owned();
            *copies.entry((recipient.clone(), id)).or_default() += 1;
        }
    }
    for job in &jobs {
        assert!(
            copies.contains_key(&(job.mailbox.clone(), job.message_id.clone())),
            "{} for {} never arrived",
            job.message_id,
            job.mailbox
        );
    }
    assert_eq!(copies.len(), jobs.len(), "nothing but the jobs arrived");
    let duplicates: usize = copies.values().map(|count| count - 1).sum();
    eprintln!(
        "crash test: {kills} kills, {duplicates} copies arrived twice, \
         {reported_total} logged as possibly sent twice, {counted_total} counted \
         in the reports of the runs that finished; the kills left {left_by_kill:?} \
         copies marked as sent without a ledger entry ({left_total} in all; {clean} \
         kills left none)"
    );
    assert_eq!(
        left_total, reported_total,
        "every copy a kill left marked as sent is counted once when sent again"
    );
    assert!(
        duplicates <= reported_total,
        "a copy arrived twice without being reported"
    );
    // Each copy is recorded as soon as the server took it, so a kill
    // leaves at most one unrecorded copy per lane to be sent again.
    assert!(
        reported_total <= kills * LANES,
        "{reported_total} copies sent again after {kills} kills of {LANES} lanes: \
         copies are not recorded one at a time"
    );
    assert!(
        reported_total - duplicates <= MAX_OVERCOUNT,
        "{} copies reported as possibly sent twice arrived once: the `.sent` mark \
         is not made at the last moment before the end of the message",
        reported_total - duplicates
    );
    assert!(
        clean > 0,
        "every kill left copies marked as sent without a ledger entry: the window \
         is most of a copy's time"
    );
}
