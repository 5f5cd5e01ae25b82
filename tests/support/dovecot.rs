//! A real, throwaway Dovecot per test, started with `infra/dovecot.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;

use async_imap::Session;
use futures::TryStreamExt;
use tokio::net::TcpStream;

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: tempfile::TempDir,
    /// The IMAP port on 127.0.0.1.
    pub port: u16,
    /// The static password every user logs in with.
    pub password: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/dovecot.sh")
}

fn dovecot(action: &str, dir: &Path) {
    let output = Command::new("bash")
        .arg(script())
        .arg(action)
        .arg(dir)
        .output()
        .expect("runs infra/dovecot.sh");
    assert!(
        output.status.success(),
        "infra/dovecot.sh {action} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One message as the server holds it.
pub struct Fetched {
    /// The flags, e.g. `\Seen`.
    pub flags: Vec<String>,
    /// INTERNALDATE.
    pub internal_date: chrono::DateTime<chrono::FixedOffset>,
    /// The message bytes.
    pub body: Vec<u8>,
}

impl Dovecot {
    /// Starts a fresh server (short path: Dovecot's socket paths are limited).
    pub fn start() -> Dovecot {
        let dir = tempfile::Builder::new()
            .prefix("ma-dc-")
            .tempdir_in("/tmp")
            .unwrap();
        dovecot("start", dir.path());
        let port = std::fs::read_to_string(dir.path().join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let password = std::fs::read_to_string(dir.path().join("password"))
            .unwrap()
            .trim()
            .to_owned();
        Dovecot {
            dir,
            port,
            password,
        }
    }

    /// `imap://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("imap://127.0.0.1:{}", self.port)
    }

    /// The server's directory (mail, keys, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The HS256 key Dovecot validates XOAUTH2 tokens with.
    pub fn oauth_key(&self) -> Vec<u8> {
        use base64::Engine;
        let text = std::fs::read_to_string(self.dir().join("oauth2/hs256.key")).unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap()
    }

    /// Stops the server, keeping its mail.
    pub fn stop(&self) {
        dovecot("stop", self.dir());
    }

    /// Starts it again on the same port with the same mail.
    pub fn restart(&self) {
        dovecot("restart", self.dir());
    }

    /// Logs in as `user` with the static password.
    pub async fn login(&self, user: &str) -> Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login(user, &self.password)
            .await
            .map_err(|(e, _)| e)
            .unwrap()
    }

    /// The folder names of a mailbox, decoded from modified UTF-7.
    pub async fn folders(&self, user: &str) -> Vec<String> {
        let mut session = self.login(user).await;
        let names: Vec<_> = session
            .list(Some(""), Some("*"))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let mut names: Vec<String> = names
            .iter()
            .map(|n| utf7_imap::decode_utf7_imap(n.name().to_owned()))
            .collect();
        names.sort();
        session.logout().await.unwrap();
        names
    }

    /// Every message of a folder (`folder` already in modified UTF-7).
    pub async fn fetch_all(&self, user: &str, folder: &str) -> Vec<Fetched> {
        let mut session = self.login(user).await;
        let mailbox = session.examine(folder).await.unwrap();
        if mailbox.exists == 0 {
            return Vec::new();
        }
        let fetched: Vec<_> = session
            .fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let out = fetched
            .iter()
            .map(|f| Fetched {
                flags: f.flags().map(|flag| format!("{flag:?}")).collect(),
                internal_date: f.internal_date().unwrap(),
                body: f.body().unwrap().to_vec(),
            })
            .collect();
        session.logout().await.unwrap();
        out
    }

    /// Checks, with IMAP SEARCH, that every job's Message-ID is in its
    /// mailbox's folder exactly once and that the folder holds nothing else.
    pub async fn assert_each_exactly_once(&self, jobs: &[shared::jobs::DeliveryJob], folder: &str) {
        let mut mailboxes: Vec<&str> = jobs.iter().map(|j| j.mailbox.as_str()).collect();
        mailboxes.sort_unstable();
        mailboxes.dedup();
        for mailbox in mailboxes {
            let mut session = self.login(mailbox).await;
            session.select(folder).await.unwrap();
            let mine: Vec<_> = jobs.iter().filter(|j| j.mailbox == mailbox).collect();
            for job in &mine {
                let count = self.count_message_id(&mut session, &job.message_id).await;
                assert_eq!(count, 1, "{} in {mailbox}", job.message_id);
            }
            let all = session.uid_search("ALL").await.unwrap().len();
            assert_eq!(all, mine.len(), "{mailbox}");
            session.logout().await.unwrap();
        }
    }

    /// How many messages of a folder carry this Message-ID.
    pub async fn count_message_id(
        &self,
        session: &mut Session<TcpStream>,
        message_id: &str,
    ) -> usize {
        session
            .uid_search(format!("HEADER Message-ID \"{message_id}\""))
            .await
            .unwrap()
            .len()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}
