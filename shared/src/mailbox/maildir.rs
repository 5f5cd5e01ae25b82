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
//! them (copies linked to a stored file, below, are in `cur/` already:
//! the next run's search finds them). The tree is taken to be one file
//! system.
//!
//! **The stored file itself.** A message read from a local store on the
//! same file system ([`super::Message::stored_file`]: its bytes were
//! synced before it was stored) is not written again: each copy is a hard
//! link to the stored file, made straight in `cur/` (no data of its own to
//! sync first; links are made a few hundred at a time by a few threads),
//! with the message's time as the file's modification time;
//! [`Mailbox::commit`] then syncs the file system once, before the ledger
//! records them. A name in `cur/` that is that file already (a killed
//! run's link) stays; where a link fails (the store on another file
//! system, another file under the name), the copy is written from the
//! stored file instead. The archive's file and the mailboxes' copies are
//! then one file, mode 0600 like every stored object, which neither the
//! archive nor a Maildir reader ever changes in place (a reader's flag
//! change is a rename, its expunge an unlink of its own name); a write
//! into it through any name would show in the archive's fingerprints
//! (`archiver verify`).
//!
//! **One file per message.** The copies of one message for several
//! mailboxes of the tree that one writer delivers are hard links to one
//! file (as Dovecot's own delivery does for several recipients): each
//! mailbox has its own name for it, deleting it in one leaves the others,
//! and the file is written and synced once. Maildir files are never
//! changed in place (flags are renames), so sharing them is safe. Writers
//! working side by side (the lanes of [`crate::deliver::deliver_jobs`],
//! each its own mailboxes) write a file each, unless the copies are links
//! to the stored e-mail, which is one file for all of them.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

#[cfg(test)]
use super::Message;
use super::{Appended, Envelope, Mailbox, MailboxError};
use crate::store::ObjectFile;

/// A tree of Maildir++ mailboxes: `<root>/<mailbox address>/.<folder>/cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    /// The folders made (or found) by this writer, created once each.
    folders: HashSet<PathBuf>,
    /// Messages staged and not yet committed: the mailbox, the `tmp/`
    /// path and the `cur/` path.
    staged: Vec<(String, PathBuf, PathBuf)>,
    /// Small messages staged whose `tmp/` files are not written yet: they
    /// are written together, by a few threads, before the commit (or once
    /// [`UNWRITTEN_BYTES`] of them wait).
    unwritten: Vec<Unwritten>,
    /// Bytes held in `unwritten`.
    unwritten_bytes: usize,
    /// Whether a search found a message, or a stored file was linked into
    /// a folder, since the last commit (which then syncs the tree: see
    /// [`Mailbox::commit`]).
    unsynced: bool,
    /// Whether messages read from a local store are linked rather than
    /// written (until a link fails: the store is on another file system).
    link_stored: bool,
    /// Copies to make as links to stored files, made together by a few
    /// threads before the commit (or once [`TO_LINK`] of them wait).
    to_link: Vec<ToLink>,
    /// Per folder searched, its messages whose flags a reader changed, by
    /// the stem of their name (read once per run).
    renamed: HashMap<PathBuf, HashMap<String, String>>,
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
            unwritten: Vec::new(),
            unwritten_bytes: 0,
            unsynced: false,
            link_stored: true,
            to_link: Vec::new(),
            renamed: HashMap::new(),
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
        let root = self.root.display().to_string();
        // Every leftover is found before any is removed: the copies of one
        // message are links to one file, and removing one link changes the
        // file's status change time, which would hide the others.
        let mut leftovers = Vec::new();
        let mailboxes = subdirectories(&self.root, |name| !name.starts_with('.'));
        for (mailbox, dir) in mailboxes.map_err(io_error(&root))? {
            let folders = subdirectories(&dir, |name| name.starts_with('.'));
            for (_, folder) in folders.map_err(io_error(&mailbox))? {
                let found =
                    leftovers_in(&folder.join("tmp"), before).map_err(io_error(&mailbox))?;
                leftovers.extend(found.into_iter().map(|path| (mailbox.clone(), path)));
            }
        }
        let mut removed = 0;
        for (mailbox, path) in leftovers {
            match fs::remove_file(path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&mailbox)(e)),
            }
        }
        Ok(removed)
    }

    /// Links the copies waiting in `to_link` into their folders' `cur/`, on
    /// a few threads. A name that is the stored file already stays (a
    /// killed run's link). A copy whose link fails is written from the
    /// stored file instead, like a message of its own (through `tmp/`,
    /// replacing what is under the name); when the link failed for another
    /// reason than a name taken (the store on another file system), no
    /// later copy is linked.
    fn link_pending(&mut self) {
        let pending = std::mem::take(&mut self.to_link);
        let per_thread = pending.len().div_ceil(writers()).max(64);
        let unlinked: Vec<(&ToLink, Option<io::Error>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = pending
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .filter_map(|copy| {
                                let cur = copy.dir.join("cur").join(&copy.name);
                                match copy.file.link_as(&cur, copy.time) {
                                    Ok(()) => None,
                                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                                        (!copy.file.is_file_at(&cur)).then_some((copy, None))
                                    }
                                    Err(e) => Some((copy, Some(e))),
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().expect("a linker does not panic"))
                .collect()
        });
        for (copy, error) in unlinked {
            if let Some(e) = error
                && self.link_stored
            {
                self.link_stored = false;
                tracing::warn!(
                    error = %e,
                    "Maildir copies cannot be links to the stored e-mails; they are written as files"
                );
            }
            let tmp = copy.dir.join("tmp").join(&copy.name);
            self.unwritten.push(Unwritten {
                mailbox: copy.mailbox.clone(),
                tmp: tmp.clone(),
                from: Source::File(copy.file.clone(), copy.time),
            });
            let cur = copy.dir.join("cur").join(&copy.name);
            self.staged.push((copy.mailbox.clone(), tmp, cur));
        }
    }

    /// Writes the small messages staged so far into their `tmp/` files.
    fn write_unwritten(&mut self) -> Result<(), MailboxError> {
        let unwritten = std::mem::take(&mut self.unwritten);
        self.unwritten_bytes = 0;
        write_unwritten(&unwritten)
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

/// The message files this writer left in a folder's `tmp/` that last
/// changed before `before`.
fn leftovers_in(tmp: &Path, before: SystemTime) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(tmp) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut leftovers = Vec::new();
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
            leftovers.push(entry.path());
        }
    }
    Ok(leftovers)
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

/// Creates a new file, mode 0600. A file already under the name is
/// unlinked first, never opened: in `tmp/` it can be a link to a
/// delivered copy (a killed run's), which must not be rewritten.
fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            options.open(path)
        }
        opened => opened,
    }
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

/// A small message's `tmp/` file still to write.
#[derive(Debug, Clone)]
struct Unwritten {
    /// The mailbox, for errors.
    mailbox: String,
    /// The `tmp/` path.
    tmp: PathBuf,
    /// Where the bytes come from.
    from: Source,
}

/// A copy to make as a hard link to a stored file ([`Maildir::link_pending`]).
#[derive(Debug, Clone)]
struct ToLink {
    /// The mailbox, for errors.
    mailbox: String,
    /// The folder's directory.
    dir: PathBuf,
    /// The message's file name.
    name: String,
    /// The stored file.
    file: ObjectFile,
    /// The message's time (the file's modification time).
    time: SystemTime,
}

/// Copies waiting to be linked at most: each holds its stored file open,
/// well below the usual limit on open files (1,024) for one writer (the
/// `archiver` command runs a writer per 1,024 files it may open).
const TO_LINK: usize = 256;

/// What an unwritten `tmp/` file holds.
#[derive(Debug, Clone)]
enum Source {
    /// The message's bytes and its time (the file's modification time).
    Bytes(Vec<u8>, SystemTime),
    /// A stored file's bytes (one that could not be linked) and the
    /// message's time.
    File(ObjectFile, SystemTime),
    /// A hard link to the first copy's `tmp/` file.
    Link(PathBuf),
}

/// Message bytes held for a grouped write at most.
const UNWRITTEN_BYTES: usize = 32 << 20;

/// A message up to this size is written with its group; a larger one at
/// once, streamed from its file.
const GROUPED_MESSAGE_BYTES: u64 = 1 << 20;

/// Threads writing a group's files (the cores, found once).
fn writers() -> usize {
    static WRITERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WRITERS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Writes unwritten `tmp/` files: first copies on a few threads, then
/// the links to them.
fn write_unwritten(unwritten: &[Unwritten]) -> Result<(), MailboxError> {
    let (firsts, links): (Vec<&Unwritten>, Vec<&Unwritten>) = unwritten
        .iter()
        .partition(|u| matches!(u.from, Source::Bytes(..) | Source::File(..)));
    for part in [firsts, links] {
        let per_thread = part.len().div_ceil(writers()).max(64);
        std::thread::scope(|scope| {
            let workers: Vec<_> = part
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|u| write_one(u))))
                .collect();
            workers
                .into_iter()
                .try_for_each(|worker| worker.join().expect("a writer does not panic"))
        })?;
    }
    Ok(())
}

/// Writes one unwritten `tmp/` file.
fn write_one(unwritten: &Unwritten) -> Result<(), MailboxError> {
    let failed = |source| MailboxError::Io {
        mailbox: unwritten.mailbox.clone(),
        source,
    };
    match &unwritten.from {
        Source::Bytes(bytes, time) => {
            let mut file = create_private_file(&unwritten.tmp).map_err(failed)?;
            io::Write::write_all(&mut file, bytes).map_err(failed)?;
            file.set_modified(*time).map_err(failed)
        }
        Source::File(stored, time) => {
            let mut file = create_private_file(&unwritten.tmp).map_err(failed)?;
            io::copy(&mut stored.reader(), &mut file).map_err(failed)?;
            file.set_modified(*time).map_err(failed)
        }
        Source::Link(first) => {
            let linked = match fs::hard_link(first, &unwritten.tmp) {
                // A file of this name left by a killed run is replaced.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    fs::remove_file(&unwritten.tmp).map_err(failed)?;
                    fs::hard_link(first, &unwritten.tmp)
                }
                linked => linked,
            };
            match linked {
                Ok(()) => Ok(()),
                // Across file systems: a copy of its own, in a new file.
                Err(_) => {
                    let mut from = File::open(first).map_err(failed)?;
                    let mut to = create_private_file(&unwritten.tmp).map_err(failed)?;
                    io::copy(&mut from, &mut to).map_err(failed)?;
                    let time = from.metadata().and_then(|m| m.modified()).map_err(failed)?;
                    to.set_modified(time).map_err(failed)
                }
            }
        }
    }
}

/// Renames staged messages from `tmp/` into `cur/`, on a few threads.
fn rename_staged(staged: &[(String, PathBuf, PathBuf)]) -> Result<(), MailboxError> {
    let per_thread = staged.len().div_ceil(writers()).max(64);
    std::thread::scope(|scope| {
        let workers: Vec<_> = staged
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().try_for_each(|(mailbox, tmp, cur)| {
                        fs::rename(tmp, cur).map_err(|source| MailboxError::Io {
                            mailbox: mailbox.clone(),
                            source,
                        })
                    })
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|worker| worker.join().expect("a renamer does not panic"))
    })
}

/// Syncs the file system the tree is on (data and metadata).
fn sync_tree(root: &Path) -> io::Result<()> {
    let root = File::open(root)?;
    nix::unistd::syncfs(&root).map_err(io::Error::from)
}

impl Mailbox for Maildir {
    fn blocks(&self) -> bool {
        true
    }

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
        if let Some(stored) = message.message.stored_file().filter(|_| self.link_stored) {
            // Its bytes are on disk already: the copy is the stored file
            // under the folder's name for it (see `link_pending`).
            self.to_link.push(ToLink {
                mailbox: mailbox.to_owned(),
                dir,
                name: name.clone(),
                file: stored.clone(),
                time: message.internal_date.into(),
            });
            self.unsynced = true;
            if self.to_link.len() >= TO_LINK {
                self.link_pending();
            }
            return Ok(Appended { uid: Some(name) });
        }
        let same = (message.message_id.to_owned(), *message.message.sha256());
        let tmp = dir.join("tmp").join(&name);
        match (self.written.get(&same), message.message.as_bytes()) {
            (Some(first), _) if *first == tmp => {}
            (Some(first), _) => self.unwritten.push(Unwritten {
                mailbox: mailbox.to_owned(),
                tmp: tmp.clone(),
                from: Source::Link(first.clone()),
            }),
            (None, Some(bytes)) if bytes.len() as u64 <= GROUPED_MESSAGE_BYTES => {
                self.unwritten_bytes += bytes.len();
                self.unwritten.push(Unwritten {
                    mailbox: mailbox.to_owned(),
                    tmp: tmp.clone(),
                    from: Source::Bytes(bytes.to_vec(), message.internal_date.into()),
                });
            }
            (None, _) => {
                write_message(&dir, &name, message).map_err(io_err)?;
            }
        }
        self.written.entry(same).or_insert_with(|| tmp.clone());
        self.staged
            .push((mailbox.to_owned(), tmp, dir.join("cur").join(&name)));
        if self.unwritten_bytes >= UNWRITTEN_BYTES {
            self.write_unwritten()?;
        }
        Ok(Appended { uid: Some(name) })
    }

    async fn commit(&mut self) -> Result<(), MailboxError> {
        self.link_pending();
        // Taken either way: after a failure the caller retries the whole
        // group (its messages are searched for), not the renames.
        let staged = std::mem::take(&mut self.staged);
        self.written.clear();
        self.write_unwritten()?;
        let unsynced = std::mem::take(&mut self.unsynced);
        let Some((first, _, _)) = staged.first() else {
            // Stored files linked into `cur/`, and messages found rather
            // than written (a run killed before its sync may have renamed
            // them there), are synced before their ledger entries are
            // written.
            if unsynced {
                sync_tree(&self.root).map_err(|source| MailboxError::Io {
                    mailbox: self.root.display().to_string(),
                    source,
                })?;
            }
            return Ok(());
        };
        let tree_err = |mailbox: &str| {
            let mailbox = mailbox.to_owned();
            move |source| MailboxError::Io { mailbox, source }
        };
        sync_tree(&self.root).map_err(tree_err(first))?;
        // Readers see a message only once it is complete and on disk.
        rename_staged(&staged)?;
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
            self.unsynced = true;
            return Ok(Some(Appended { uid: Some(name) }));
        }
        // A reader that changed the flags renamed it (`<stem>:2,FS`). The
        // folder's `cur/` is read once per run, not once per search: a
        // resumed run searches for many messages.
        if !self.renamed.contains_key(&dir) {
            let renamed = flagged_names(&dir.join("cur")).map_err(|source| MailboxError::Io {
                mailbox: mailbox.to_owned(),
                source,
            })?;
            self.renamed.insert(dir.clone(), renamed);
        }
        Ok(self.renamed[&dir].get(stem).map(|file| Appended {
            uid: Some(file.clone()),
        }))
    }
}

/// The files of a `cur/` directory named as this writer names messages but
/// with other flags, by their name's stem (none when it is missing).
fn flagged_names(cur: &Path) -> io::Result<HashMap<String, String>> {
    let entries = match fs::read_dir(cur) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let mut names = HashMap::new();
    for entry in entries {
        let file = entry?.file_name().to_string_lossy().into_owned();
        if let Some((stem, _)) = file.split_once(":2,")
            && !file.ends_with(NAME_SUFFIX)
        {
            names.insert(stem.to_owned(), file.clone());
        }
    }
    Ok(names)
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

    /// A message read from a local store on the same file system is the
    /// stored file itself in each mailbox's `cur/`, with the message's
    /// time; nothing is left in `tmp/`, and the stored bytes stay as they
    /// were.
    #[tokio::test]
    async fn a_stored_message_is_linked_not_written() {
        use std::os::unix::fs::MetadataExt;

        use crate::store::{LocalDir, ObjectStore};

        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path().join("archive"));
        let bytes = b"Message-ID: <s@x>\r\n\r\nstored\r\n";
        store.put_new("eml/s.eml", bytes).await.unwrap();
        let file = store.get_file("eml/s.eml").await.unwrap().unwrap();
        let time = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let message = Envelope {
            message_id: "s@x",
            message: Message::from_bytes(bytes).read_from(&file),
            internal_date: time,
        };
        let mut maildir = Maildir::new(dir.path().join("mail"));
        for mailbox in ["a@corp.example", "b@corp.example"] {
            maildir
                .append(mailbox, "WhatsApp Archiver", &message)
                .await
                .unwrap();
        }
        maildir.commit().await.unwrap();
        let stored = fs::metadata(dir.path().join("archive/eml/s.eml")).unwrap();
        assert_eq!(stored.nlink(), 3);
        assert_eq!(stored.mode() & 0o7777, 0o600);
        for mailbox in ["a@corp.example", "b@corp.example"] {
            let folder = maildir.folder_dir(mailbox, "WhatsApp Archiver").unwrap();
            let copy = folder.join("cur").join(file_name("s@x"));
            let metadata = fs::metadata(&copy).unwrap();
            assert_eq!(
                (metadata.dev(), metadata.ino()),
                (stored.dev(), stored.ino())
            );
            assert_eq!(metadata.modified().unwrap(), SystemTime::from(time));
            assert_eq!(fs::read_dir(folder.join("tmp")).unwrap().count(), 0);
        }
        assert_eq!(
            fs::read(dir.path().join("archive/eml/s.eml")).unwrap(),
            bytes
        );

        // Bytes not read from a store are written, in a file of their own.
        let other = b"Message-ID: <o@x>\r\n\r\nin memory\r\n";
        maildir
            .append(
                "a@corp.example",
                "WhatsApp Archiver",
                &envelope("o@x", other),
            )
            .await
            .unwrap();
        maildir.commit().await.unwrap();
        let folder = maildir
            .folder_dir("a@corp.example", "WhatsApp Archiver")
            .unwrap();
        let copy = fs::metadata(folder.join("cur").join(file_name("o@x"))).unwrap();
        assert_eq!(copy.nlink(), 1);
    }

    /// A killed commit can leave one copy of a message in `cur/` and its
    /// other mailboxes' links to the same file in `tmp/`: the sweep
    /// removes every such link (removing one must not hide the others),
    /// and no later write goes through one into the delivered copy.
    #[tokio::test]
    async fn links_a_killed_commit_left_are_swept_and_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let mut maildir = Maildir::new(dir.path());
        let folder = "WhatsApp Archiver";
        let bytes = b"Message-ID: <x@y>\r\n\r\ndelivered\r\n";
        maildir
            .append("a@corp.example", folder, &envelope("x@y", bytes))
            .await
            .unwrap();
        maildir.commit().await.unwrap();
        let name = file_name("x@y");
        let delivered = dir
            .path()
            .join("a@corp.example/.WhatsApp Archiver/cur")
            .join(&name);
        for mailbox in ["b@corp.example", "c@corp.example"] {
            let tmp = maildir.folder_dir(mailbox, folder).unwrap().join("tmp");
            fs::create_dir_all(&tmp).unwrap();
            fs::hard_link(&delivered, tmp.join(&name)).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut next_run = Maildir::new(dir.path());
        assert_eq!(next_run.sweep_temporary(SystemTime::now()).unwrap(), 2);

        // A stale link is never opened for writing either.
        let tmp = maildir
            .folder_dir("b@corp.example", folder)
            .unwrap()
            .join("tmp");
        fs::hard_link(&delivered, tmp.join(&name)).unwrap();
        next_run
            .append("b@corp.example", folder, &envelope("x@y", b"other bytes"))
            .await
            .unwrap();
        next_run.commit().await.unwrap();
        assert_eq!(fs::read(&delivered).unwrap(), bytes);
    }
}
