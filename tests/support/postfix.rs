//! A real, throwaway Postfix per test, started with `infra/postfix.sh`:
//! it accepts mail for any address on loopback and delivers it into one
//! Maildir, each message with a `Delivered-To:` header naming its recipient.

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

fn postfix(action: &str, dir: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/postfix.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(action)
        .arg(dir)
        .output()
        .expect("runs infra/postfix.sh");
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
        let dir = tempfile::Builder::new()
            .prefix("ma-pf-")
            .tempdir_in("/tmp")
            .unwrap();
        postfix("start", dir.path());
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
}

impl Drop for Postfix {
    fn drop(&mut self) {
        postfix("stop", self.dir.path());
    }
}
