//! A real, throwaway Postfix per test, started with `infra/postfix.sh`:
//! it accepts mail for any address on loopback and delivers it into one
//! Maildir, each message with a `Delivered-To:` header naming its recipient.
//! Started with [`Refusals`], it refuses some recipients itself: for good
//! (`550 5.1.1`), or greylisted by a real postgrey (`450 4.2.0` until a
//! delay has passed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running Postfix; stopped when dropped.
pub struct Postfix {
    dir: tempfile::TempDir,
    /// The SMTP port on 127.0.0.1.
    pub port: u16,
}

/// Recipients the server refuses at RCPT TO, answered by Postfix itself
/// (`POSTFIX_REFUSE`, `POSTFIX_GREYLIST` of `infra/postfix.sh`).
#[derive(Debug, Clone, Default)]
pub struct Refusals<'a> {
    /// Refused for good: `550 5.1.1 <addr>: Recipient address rejected:
    /// no such mailbox here`.
    pub refused: &'a [&'a str],
    /// Handed to postgrey: `450 4.2.0 <addr>: Recipient address rejected:
    /// Greylisted, ...` until `greylist_delay_secs` after the first try of
    /// the same client, sender and recipient, then accepted.
    pub greylisted: &'a [&'a str],
    /// postgrey's `--delay`; the script's default (1 s) when `None`.
    pub greylist_delay_secs: Option<u32>,
}

fn postfix(action: &str, dir: &Path) -> bool {
    postfix_with(action, dir, &Refusals::default())
}

fn postfix_with(action: &str, dir: &Path, refusals: &Refusals<'_>) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/postfix.sh");
    let mut command = Command::new("bash");
    command.arg(script).arg(action).arg(dir);
    if !refusals.refused.is_empty() {
        command.env("POSTFIX_REFUSE", refusals.refused.join(" "));
    }
    if !refusals.greylisted.is_empty() {
        command.env("POSTFIX_GREYLIST", refusals.greylisted.join(" "));
    }
    if let Some(delay) = refusals.greylist_delay_secs {
        command.env("POSTFIX_GREYLIST_DELAY", delay.to_string());
    }
    let output = command.output().expect("runs infra/postfix.sh");
    if action == "start" {
        assert!(
            output.status.success(),
            "infra/postfix.sh start failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output.status.success()
}

impl Postfix {
    /// Starts a fresh server.
    pub fn start() -> Postfix {
        Postfix::start_refusing(&Refusals::default())
    }

    /// Starts a fresh server that refuses `refusals`' recipients itself.
    pub fn start_refusing(refusals: &Refusals<'_>) -> Postfix {
        let dir = tempfile::Builder::new()
            .prefix("ma-pf-")
            .tempdir_in("/tmp")
            .unwrap();
        postfix_with("start", dir.path(), refusals);
        let port = std::fs::read_to_string(dir.path().join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Postfix { dir, port }
    }

    /// `smtp+plain://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp+plain://127.0.0.1:{}", self.port)
    }

    /// The Maildir every message is delivered into.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail/all")
    }

    /// Waits until the queue is empty (every accepted message delivered),
    /// then returns the delivered messages by recipient.
    pub fn delivered(&self) -> BTreeMap<String, Vec<Vec<u8>>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !postfix("idle", self.dir.path()) {
            assert!(Instant::now() < deadline, "postfix queue did not drain");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut by_recipient: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir().join(sub)) else {
                continue;
            };
            for entry in entries {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                let recipient = String::from_utf8_lossy(&bytes)
                    .lines()
                    .find_map(|line| line.strip_prefix("Delivered-To: "))
                    .expect("virtual(8) names the recipient")
                    .trim()
                    .to_owned();
                by_recipient.entry(recipient).or_default().push(bytes);
            }
        }
        by_recipient
    }

    /// The server's log (`maillog_file`), as written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postfix.log")).unwrap_or_default()
    }

    /// Waits until `done` holds for the log (Postfix's log daemon writes
    /// shortly after the event) and returns the log; fails after 30 s,
    /// naming `what` was awaited.
    pub fn wait_for_log(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if done(&log) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} in the Postfix log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log once `sessions` SMTP connections that sent mail have
    /// ended: smtpd writes a session's `disconnect from` line (with its
    /// command counts, such as `rcpt=2/3`) after every other line of that
    /// session.
    pub fn log_after_sessions(&self, sessions: usize) -> String {
        self.wait_for_log(&format!("{sessions} ended SMTP sessions"), |log| {
            mail_sessions(log).count() >= sessions
        })
    }

    /// postgrey's log (one line per decision: `action=greylist` or
    /// `action=pass`), when the server greylists.
    pub fn postgrey_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgrey.log")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        postfix("stop", self.dir.path());
    }
}

/// smtpd's `disconnect from` lines of the sessions that gave MAIL FROM
/// (`mail=` among their command counts), one per ended session; the
/// start-up probe of `infra/postfix.sh` (QUIT only) is not among them.
pub fn mail_sessions(log: &str) -> impl Iterator<Item = &str> {
    log.lines().filter(|line| {
        line.contains("/smtpd[") && line.contains(": disconnect from ") && line.contains(" mail=")
    })
}
