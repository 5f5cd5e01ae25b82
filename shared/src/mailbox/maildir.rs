//! Maildir++ delivery: one directory per mailbox, one `.<Folder>` directory
//! per folder, readable by Dovecot and any Maildir reader.
//!
//! File names are derived from the Message-ID (`<sha256>.archiver:2,S`), not
//! from time and host as in general-purpose Maildir writers, so that finding
//! an already-delivered message is one lookup and a repeated delivery can be
//! detected without reading messages. That is why this is written here rather
//! than with a Maildir crate.
//!
//! Messages are written mode 0600 and the directories created for them
//! 0700: archived mail is readable by the mailbox tree's owner alone.
//!
//! **Group commit.** An append writes the message into the folder's `tmp/`
//! without syncing it; [`Mailbox::commit`] syncs the file system once
//! (`syncfs`), renames every staged message into `cur/`, and syncs again.
//! So a message is never in `cur/` before its bytes are on disk, and once
//! `commit` returns the messages survive a power cut; only then does the
//! ledger record them. A run killed before the commit leaves its messages
//! in `tmp/`, where the next run's [`Maildir::sweep_temporary`] removes
//! them. The tree is taken to be one file system.
//!
//! **One file per message.** The copies of one message for several
//! mailboxes of the tree are hard links to one file (as Dovecot's own
//! delivery does for several recipients): each mailbox has its own name
//! for it, deleting it in one leaves the others, and the file is written
//! and synced once. Maildir files are never changed in place (flags are
//! renames), so sharing them is safe.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

#[cfg(test)]
use super::Message;
use super::{Appended, Envelope, Mailbox, MailboxError};

/// A tree of Maildir++ mailboxes: `<root>/<mailbox address>/.<folder>/cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    /// The folders made (or found) by this writer, created once each.
    folders: HashSet<PathBuf>,
    /// Messages written to `tmp/` and not yet committed: the mailbox,
    /// the `tmp/` path and the `cur/` path.
    staged: Vec<(String, PathBuf, PathBuf)>,
    /// The `tmp/` file staged for each message (by Message-ID and the
    /// SHA-256 of its bytes), which other mailboxes' copies link to.
    written: HashMap<(String, [u8; 32]), PathBuf>,
}

impl Maildir {
    /// Mailboxes live in directories under `root`, named by address.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Maildir {
            root: root.into(),
            folders: HashSet::new(),
            staged: Vec::new(),
            written: HashMap::new(),
        }
    }

    /// Removes this writer's own temporary files that a run killed halfway
    /// left in the folders' `tmp/` directories (`<mailbox>/.<folder>/tmp/`),
    /// and returns how many it removed: files named as this writer names
    /// messages, last changed before `before` (the start of the run).
    /// Other programs' files in `tmp/`, and files of a delivery into the
    /// same tree that began later, are left alone.
    pub fn sweep_temporary(&self, before: SystemTime) -> Result<usize, MailboxError> {
        let mut removed = 0;
        let root = self.root.display().to_string();
        let mailboxes = subdirectories(&self.root, |name| !name.starts_with('.'));
        for (mailbox, dir) in mailboxes.map_err(io_error(&root))? {
            let folders = subdirectories(&dir, |name| name.starts_with('.'));
            for (_, folder) in folders.map_err(io_error(&mailbox))? {
                removed +=
                    sweep_folder_tmp(&folder.join("tmp"), before).map_err(io_error(&mailbox))?;
            }
        }
        Ok(removed)
    }

    /// The folder's Maildir directory, checking the address and folder name.
    pub fn folder_dir(&self, mailbox: &str, folder: &str) -> Result<PathBuf, MailboxError> {
        let bad_address = mailbox.is_empty()
            || mailbox.starts_with('.')
            || mailbox
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control());
        if bad_address {
            return Err(MailboxError::InvalidAddress(mailbox.to_owned()));
        }
        let bad_folder = folder.trim().is_empty()
            || folder.starts_with('.')
            || folder
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control());
        if bad_folder {
            return Err(MailboxError::InvalidFolder(folder.to_owned()));
        }
        Ok(self.root.join(mailbox).join(format!(".{folder}")))
    }
}

/// What follows the digest in the name of a message file (flag `S`: seen).
const NAME_SUFFIX: &str = ".archiver:2,S";

/// The file name a message is stored under.
fn file_name(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    format!("{}{NAME_SUFFIX}", hex::encode(&digest[..16]))
}

/// Whether `name` is one [`file_name`] makes.
fn is_file_name(name: &str) -> bool {
    name.strip_suffix(NAME_SUFFIX).is_some_and(|digest| {
        digest.len() == 32
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The MailboxError::Io of a sweep, naming the mailbox (or the root).
fn io_error(mailbox: &str) -> impl FnOnce(io::Error) -> MailboxError + '_ {
    move |source| MailboxError::Io {
        mailbox: mailbox.to_owned(),
        source,
    }
}

/// The directories in `dir` whose names `keep`, with their names; none
/// when `dir` is missing.
fn subdirectories(dir: &Path, keep: impl Fn(&str) -> bool) -> io::Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() && keep(&name) {
            dirs.push((name, entry.path()));
        }
    }
    Ok(dirs)
}

/// Removes from a folder's `tmp/` the message files this writer left there
/// that last changed before `before`; returns how many.
fn sweep_folder_tmp(tmp: &Path, before: SystemTime) -> io::Result<usize> {
    let entries = match fs::read_dir(tmp) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if !is_file_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if metadata.is_file() && changed(&metadata) < before {
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// When a file last changed: its status change time, which the writer
/// cannot set (it sets the modification time to the item's own time).
#[cfg(unix)]
fn changed(metadata: &fs::Metadata) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let nanos = u32::try_from(metadata.ctime_nsec()).unwrap_or(0);
    match u64::try_from(metadata.ctime()) {
        Ok(secs) => SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

/// When a file last changed (no status change time here: its modification
/// time).
#[cfg(not(unix))]
fn changed(metadata: &fs::Metadata) -> SystemTime {
    metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Creates a directory and its missing parents, mode 0700: the mail is the
/// mailbox owner's alone. Directories that exist are left as they are.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates (or truncates) a file, mode 0600 when it is new.
fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn create_folder(dir: &Path) -> io::Result<()> {
    for sub in ["cur", "new", "tmp"] {
        create_private_dir(&dir.join(sub))?;
    }
    // Maildir++ marks subfolders with an empty `maildirfolder` file.
    let marker = dir.join("maildirfolder");
    if !marker.exists() {
        create_private_file(&marker)?;
    }
    let inbox = dir.parent().expect("folder has a mailbox directory");
    for sub in ["cur", "new", "tmp"] {
        create_private_dir(&inbox.join(sub))?;
    }
    Ok(())
}

/// Writes a message into the folder's `tmp/` (not synced: see
/// [`Mailbox::commit`]); returns its `tmp/` path.
fn write_message(dir: &Path, name: &str, message: &Envelope<'_>) -> io::Result<PathBuf> {
    let tmp = dir.join("tmp").join(name);
    let mut file = io::BufWriter::with_capacity(64 * 1024, create_private_file(&tmp)?);
    message.message.copy_to(&mut file)?;
    let file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.set_modified(message.internal_date.into())?;
    Ok(tmp)
}

/// Stages a copy of a message already staged for another mailbox: a hard
/// link in this folder's `tmp/` (written anew if the link fails, e.g.
/// across file systems); returns its `tmp/` path.
fn link_message(
    first: &Path,
    dir: &Path,
    name: &str,
    message: &Envelope<'_>,
) -> io::Result<PathBuf> {
    let tmp = dir.join("tmp").join(name);
    if tmp == first {
        return Ok(tmp);
    }
    // A file of this name left by a killed run is replaced.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match fs::hard_link(first, &tmp) {
        Ok(()) => Ok(tmp),
        Err(_) => write_message(dir, name, message),
    }
}

/// Syncs the file system the tree is on (data and metadata).
fn sync_tree(root: &Path) -> io::Result<()> {
    let root = File::open(root)?;
    nix::unistd::syncfs(&root).map_err(io::Error::from)
}

impl Mailbox for Maildir {
    async fn append(
        &mut self,
        mailbox: &str,
        folder: &str,
        message: &Envelope<'_>,
    ) -> Result<Appended, MailboxError> {
        let dir = self.folder_dir(mailbox, folder)?;
        let name = file_name(message.message_id);
        let io_err = |source| MailboxError::Io {
            mailbox: mailbox.to_owned(),
            source,
        };
        if !self.folders.contains(&dir) {
            create_folder(&dir).map_err(io_err)?;
            self.folders.insert(dir.clone());
        }
        let same = (message.message_id.to_owned(), *message.message.sha256());
        let tmp = match self.written.get(&same) {
            Some(first) => link_message(first, &dir, &name, message),
            None => write_message(&dir, &name, message),
        }
        .map_err(io_err)?;
        self.written.entry(same).or_insert_with(|| tmp.clone());
        self.staged
            .push((mailbox.to_owned(), tmp, dir.join("cur").join(&name)));
        Ok(Appended { uid: Some(name) })
    }

    async fn commit(&mut self) -> Result<(), MailboxError> {
        // Taken either way: after a failure the caller retries the whole
        // group (its messages are searched for), not the renames.
        let staged = std::mem::take(&mut self.staged);
        self.written.clear();
        let Some((first, _, _)) = staged.first() else {
            return Ok(());
        };
        let tree_err = |mailbox: &str| {
            let mailbox = mailbox.to_owned();
            move |source| MailboxError::Io { mailbox, source }
        };
        sync_tree(&self.root).map_err(tree_err(first))?;
        // Readers see a message only once it is complete and on disk.
        for (mailbox, tmp, cur) in &staged {
            fs::rename(tmp, cur).map_err(tree_err(mailbox))?;
        }
        sync_tree(&self.root).map_err(tree_err(first))
    }

    async fn find(
        &mut self,
        mailbox: &str,
        folder: &str,
        message_id: &str,
    ) -> Result<Option<Appended>, MailboxError> {
        let dir = self.folder_dir(mailbox, folder)?;
        let name = file_name(message_id);
        // A reader that has not yet seen new mail keeps it in new/ without flags.
        let stem = name.split(':').next().unwrap_or(&name);
        if dir.join("cur").join(&name).exists() || dir.join("new").join(stem).exists() {
            return Ok(Some(Appended { uid: Some(name) }));
        }
        // A reader that changed the flags renamed it (`<stem>:2,FS`).
        let renamed = format!("{stem}:2,");
        let entries = match fs::read_dir(dir.join("cur")) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(MailboxError::Io {
                    mailbox: mailbox.to_owned(),
                    source,
                });
            }
        };
        Ok(entries
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .find(|file| file.starts_with(&renamed))
            .map(|file| Appended { uid: Some(file) }))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn envelope<'a>(message_id: &'a str, bytes: &'a [u8]) -> Envelope<'a> {
        Envelope {
            message_id,
            message: Message::from_bytes(bytes),
            internal_date: chrono::DateTime::UNIX_EPOCH,
        }
    }

    /// The permission bits of every directory and file under `dir`, itself
    /// included, by path.
    fn modes(dir: &Path, out: &mut Vec<(PathBuf, bool, u32)>) {
        let metadata = fs::metadata(dir).unwrap();
        out.push((dir.to_owned(), true, metadata.permissions().mode() & 0o7777));
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                modes(&path, out);
            } else {
                let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
                out.push((path, false, mode));
            }
        }
    }

    #[tokio::test]
    async fn messages_and_folders_are_the_owners_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mail");
        let mut maildir = Maildir::new(&root);
        let bytes = b"Message-ID: <m@x>\r\nSubject: s\r\n\r\nprivate\r\n";
        maildir
            .append(
                "alice@corp.example",
                "WhatsApp Archiver",
                &envelope("m@x", bytes),
            )
            .await
            .unwrap();
        maildir.commit().await.unwrap();
        let mut found = Vec::new();
        modes(&root, &mut found);
        // The root, the mailbox with cur/new/tmp, the folder with its own.
        assert_eq!(found.iter().filter(|(_, dir, _)| *dir).count(), 9);
        assert_eq!(found.iter().filter(|(_, dir, _)| !*dir).count(), 2);
        for (path, dir, mode) in found {
            let expected = if dir { 0o700 } else { 0o600 };
            assert_eq!(mode, expected, "{} is {mode:o}", path.display());
        }
    }
}
