//! The delivery ledger: one create-only object per delivered message per
//! mailbox (`delivered/<mailbox>/<message-id-hash>`), and the exactly-once
//! delivery rule built on it. Entries committed together share one record
//! ([`layout::ledger_record`]), stored under each of their keys: in S3 the
//! copies of one message, in a local store (which keeps the same bytes
//! under many keys as one file, hard-linked) up to [`RECORD_ENTRIES`] of a
//! group's copies of any messages, so the ledger costs a file per
//! [`RECORD_ENTRIES`] copies, not per copy. Under a key, only the line of
//! the key's mailbox and message is its ledger entry; the others say what
//! was committed with it (whose own keys may hold other records, after a
//! retry).
//!
//! The entry is written after a successful append. Before appending, the
//! ledger is checked; a job that may have run before (a retry) also searches
//! the folder for the Message-ID, so a crash between the append and the
//! ledger write never makes a duplicate.
//!
//! Deliveries are committed in groups ([`Group`]): the messages of a group
//! are appended, the target makes them durable ([`Mailbox::commit`]: a
//! Maildir syncs its file system once), and only then are their ledger
//! entries written, together ([`ObjectStore::put_all`]). So a ledger entry
//! never outlives, in a crash or a power cut, the message it records; a
//! message without its entry is found by the search of the next attempt
//! (the batch's `started/` marker says one may have run).
//!
//! A target that cannot be searched (SMTP) leaves a window instead: a copy
//! the server took just before a crash, and whose ledger entry was never
//! written, is sent again. Its ledger entry is written as soon as the
//! server accepted it (the deliver stage commits every copy at once for
//! such a target), so the window is the server's acceptance and one store
//! write, and every copy sent again in it is counted ([`Outcome::Resent`],
//! [`Group::take_resent`]) and logged as it goes out: it may be in the
//! archive twice, with the same Message-ID. The count is an upper bound
//! that is exact but for the cases at the end, through two marks
//! ([`layout::sending_key`]):
//!
//! 1. before the transaction, `sending/…` is written durably (create-only),
//!    holding the store's [`ObjectStore::unsynced_epoch`] (the machine's
//!    boot for a local directory);
//! 2. `sending/….sent` is opened as an unset flag before the transaction
//!    too, and set ([`ObjectStore::set_flag`]) the instant before the end
//!    of the message goes out (SMTP's final dot: the server cannot take a
//!    message before it). For a local directory setting it is one store
//!    into a memory-mapped byte of the file, no system call, so between it
//!    and the end lie only a few instructions, not a file-system call that
//!    can wait on the disk; in S3 it is a create-only write (durable, but
//!    a crash during it is a wider window). It is set again before each
//!    retried end, and one set by another sender meanwhile (S3) counts.
//!
//! A later job for the copy, finding no ledger entry, sends it again and
//! counts it when `.sent` is set (the end went out: the server took the
//! copy unless it refused it), or when `sending/…` is from another epoch
//! (a power cut may have lost `.sent`: counted to be safe); with
//! `sending/…` alone from this boot, the earlier attempt never sent the
//! end, and the copy goes out uncounted. The count is made just before the
//! end goes out again, once per job, so a job killed before that counts
//! nothing. What it can still over-count: a crash in the instructions
//! between the flag and the end, or while a copy sent again is logged;
//! after a reboot, every copy without a ledger entry; a crash while an S3
//! flag is written; a copy the server refused after the end, or whose end
//! could not be written (a later job counts it).

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::json_error;
use crate::layout::{self, LedgerEntry, ledger_key, sending_key};
use crate::mailbox::{Envelope, Mailbox, MailboxError};
use crate::store::{Created, ObjectStore, StoreError};

/// Entries that share one record at most: a record is read whole for one
/// entry, and stored whole under each of its keys.
const RECORD_ENTRIES: usize = 16;

/// Errors of ledgered delivery.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The mailbox refused or failed.
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
    /// The ledger could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A ledger object is not valid JSON of the expected shape, or holds
    /// no entry for the mailbox and message its key names.
    #[error("ledger entry {key} is unreadable: {reason}")]
    Corrupt {
        /// The ledger object key.
        key: String,
        /// What is wrong with it (see [`crate::json_error`]).
        reason: String,
    },
}

/// How a delivery job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The message was appended now.
    Delivered,
    /// The ledger already had it: nothing was done.
    AlreadyDelivered,
    /// The folder already had it (an earlier attempt crashed before the
    /// ledger write): the ledger entry was written, nothing appended.
    Recovered,
    /// Sent again to a target that cannot be searched, after an attempt
    /// that reached the point of sending and was never recorded: the
    /// archive may now hold the copy twice (same Message-ID).
    Resent,
}

/// One message for one mailbox.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The mailbox address.
    pub mailbox: &'a str,
    /// The folder in the mailbox.
    pub folder: &'a str,
    /// The message.
    pub message: Envelope<'a>,
}

/// Delivers a message at most once per mailbox, recording it in the ledger:
/// a [`Group`] of one, committed at once.
///
/// `may_have_run` says the job may have been attempted before (a retry, a
/// replay, a resumed run); only then is the folder searched before appending.
pub async fn deliver_once<S: ObjectStore, M: Mailbox>(
    store: &S,
    target: &mut M,
    job: &Job<'_>,
    may_have_run: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, LedgerError> {
    let mut group = Group::default();
    let outcome = group
        .deliver(0, store, target, job, may_have_run, now)
        .await?;
    group.commit(store, target).await.map_err(|(_, e)| e)?;
    Ok(outcome)
}

/// Deliveries whose ledger entries are written together, once the target
/// made their messages durable (see the module docs).
#[derive(Debug, Default)]
pub struct Group {
    /// Per staged delivery: the caller's tag, how it went, its entry.
    staged: Vec<(usize, Outcome, LedgerEntry)>,
    /// The ledger keys staged, so a message twice in one group is
    /// delivered once.
    keys: HashSet<String>,
    /// Copies sent again to a target that cannot be searched since the
    /// last [`Group::take_resent`] (see [`Outcome::Resent`]).
    resent: u64,
    /// Ledger keys found without an entry by [`Group::look_ahead`], each
    /// trusted once.
    absent: HashSet<String>,
}

impl Group {
    /// How many deliveries wait for [`Group::commit`].
    pub fn len(&self) -> usize {
        self.staged.len()
    }

    /// Whether no delivery waits for a commit.
    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// How many copies were sent again after an interrupted attempt since
    /// the last call: counted as they went out, whether or not the server
    /// then accepted them and their ledger entries were written, so that
    /// a failed commit or send does not hide a possible duplicate.
    pub fn take_resent(&mut self) -> u64 {
        std::mem::take(&mut self.resent)
    }

    /// Looks up at once the ledger keys of copies about to be delivered
    /// ([`ObjectStore::exist_all`]) and remembers those without an entry:
    /// the first [`Group::deliver`] of each does not read the ledger
    /// again. For a store nothing else delivers into meanwhile (a local
    /// target, under the run's lock); what an earlier call found is
    /// dropped. A store error leaves each copy to its own lookup.
    pub async fn look_ahead<'c, S: ObjectStore>(
        &mut self,
        store: &S,
        copies: impl IntoIterator<Item = (&'c str, &'c str)>,
    ) {
        self.absent.clear();
        let mut seen = HashSet::new();
        // A key staged and not committed has no entry yet, and will have
        // one: it is never taken for absent.
        let keys: Vec<String> = copies
            .into_iter()
            .map(|(mailbox, message_id)| ledger_key(mailbox, message_id))
            .filter(|key| !self.keys.contains(key) && seen.insert(key.clone()))
            .collect();
        if let Ok(found) = store.exist_all(&keys).await {
            self.absent = keys
                .into_iter()
                .zip(found)
                .filter_map(|(key, found)| (!found).then_some(key))
                .collect();
        }
    }

    /// Checks the ledger (and this group) for the job, searches the folder
    /// when it may have run, and appends it when it is not there.
    /// [`Outcome::AlreadyDelivered`] is final; a message appended or found
    /// ([`Outcome::Delivered`], [`Outcome::Recovered`]) is recorded by the
    /// next [`Group::commit`], which reports it under `tag`.
    pub async fn deliver<S: ObjectStore, M: Mailbox>(
        &mut self,
        tag: usize,
        store: &S,
        target: &mut M,
        job: &Job<'_>,
        may_have_run: bool,
        now: DateTime<Utc>,
    ) -> Result<Outcome, LedgerError> {
        let key = ledger_key(job.mailbox, job.message.message_id);
        // Taken by the first job of the key whatever it finds: a later one
        // (the same message in another batch) reads the ledger.
        let absent = self.absent.remove(&key);
        if self.keys.contains(&key) || (!absent && store.get(&key).await?.is_some()) {
            return Ok(Outcome::AlreadyDelivered);
        }
        let (uid, outcome) = match may_have_run {
            _ if !target.searchable() => self.send_marked(store, target, job, &key).await?,
            true => match target
                .find(job.mailbox, job.folder, job.message.message_id)
                .await?
            {
                Some(found) => (found.uid, Outcome::Recovered),
                None => (append(target, job).await?, Outcome::Delivered),
            },
            false => (append(target, job).await?, Outcome::Delivered),
        };
        let entry = LedgerEntry {
            message_id: job.message.message_id.to_owned(),
            mailbox: job.mailbox.to_owned(),
            folder: job.folder.to_owned(),
            uid,
            sha256: hex::encode(job.message.message.sha256()),
            recorded_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        self.keys.insert(key);
        self.staged.push((tag, outcome, entry));
        Ok(outcome)
    }

    /// Sends a copy to a target that cannot be searched, with the marks of
    /// the module docs; returns the server's id and whether the copy went
    /// out again ([`Outcome::Resent`]).
    async fn send_marked<S: ObjectStore, M: Mailbox>(
        &mut self,
        store: &S,
        target: &mut M,
        job: &Job<'_>,
        key: &str,
    ) -> Result<(Option<String>, Outcome), LedgerError> {
        let mark = |e: StoreError| MailboxError::Mark {
            mailbox: job.mailbox.to_owned(),
            reason: e.to_string(),
        };
        let sending = sending_key(job.mailbox, job.message.message_id);
        let epoch = store.unsynced_epoch().unwrap_or_default();
        // Whether an earlier job may have sent the end of the message
        // without `.sent` surviving: it got this far in another epoch.
        let other_epoch = match store.put_new(&sending, epoch.as_bytes()).await? {
            Created::New => false,
            Created::Exists => store
                .get(&sending)
                .await?
                .is_none_or(|earlier| earlier != epoch.as_bytes()),
        };
        // Opened (made unset if new) before the transaction, so that
        // setting it is all that happens before the end goes out.
        let sent = layout::sent_key(job.mailbox, job.message.message_id);
        let (sent_before, mut flag) = store.flag(&sent).await.map_err(mark)?;
        // Awaited before each attempt's end of message; only the first
        // that gets there decides (a later attempt of this job follows a
        // definite refusal of the earlier one).
        let mut again = None;
        let mut set_here = false;
        let appended = target
            .append_marked(job.mailbox, job.folder, &job.message, async || {
                let counted = |resent: &mut Self| {
                    // Said and counted as the end goes out again, not once
                    // the server accepted it: a crash while the server
                    // takes it must not hide it.
                    resent.resent += 1;
                    tracing::warn!(
                        mailbox = job.mailbox,
                        ledger_key = %key,
                        "copy sent again after an interrupted attempt: it may be in the archive twice"
                    );
                };
                if again.is_none() {
                    let resent = sent_before || other_epoch;
                    again = Some(resent);
                    if resent {
                        counted(self);
                    }
                }
                // Set before every attempt's end (a failed set is retried
                // with the copy, and must not let a later end go out
                // unflagged); set already by another sender since it was
                // opened (S3, where the check is the write), it counts.
                let was_set = store.set_flag(&mut flag).await.map_err(mark)?;
                if was_set && !set_here && again == Some(false) {
                    again = Some(true);
                    counted(self);
                }
                set_here = true;
                Ok(())
            })
            .await?;
        let outcome = if again == Some(true) {
            Outcome::Resent
        } else {
            Outcome::Delivered
        };
        Ok((appended.uid, outcome))
    }

    /// Makes the group's messages durable in the target, then writes their
    /// ledger entries; returns each staged delivery's tag and outcome. On
    /// an error, every tag of the group is returned with it: their
    /// messages may or may not be in place, and a retry searches for them
    /// (or, for a target that cannot be searched, sends them again).
    /// The group is empty afterwards either way.
    pub async fn commit<S: ObjectStore, M: Mailbox>(
        &mut self,
        store: &S,
        target: &mut M,
    ) -> Result<Vec<(usize, Outcome)>, (Vec<usize>, LedgerError)> {
        self.keys.clear();
        let staged = std::mem::take(&mut self.staged);
        if staged.is_empty() {
            return Ok(Vec::new());
        }
        let tags = || staged.iter().map(|(tag, _, _)| *tag).collect::<Vec<_>>();
        if let Err(e) = target.commit().await {
            return Err((tags(), e.into()));
        }
        let mut entries = Vec::with_capacity(staged.len());
        for shared in records(&staged, store.shares_equal_objects()) {
            let record = layout::ledger_record(&shared);
            for entry in shared {
                entries.push((
                    ledger_key(&entry.mailbox, &entry.message_id),
                    record.clone(),
                ));
            }
        }
        if let Err(e) = store.put_all(entries).await {
            return Err((tags(), e.into()));
        }
        Ok(staged
            .into_iter()
            .map(|(tag, outcome, _)| (tag, outcome))
            .collect())
    }
}

/// The entries of a group's records, each stored under every one of its
/// entries' keys: up to [`RECORD_ENTRIES`] of the group's entries in
/// (Message-ID, mailbox) order when the store keeps equal objects as one
/// file (a record then costs one file however many messages it holds),
/// else those of one message's copies (so that each key's object stays
/// about its own message's size).
fn records(staged: &[(usize, Outcome, LedgerEntry)], shared_files: bool) -> Vec<Vec<&LedgerEntry>> {
    let mut sorted: Vec<&LedgerEntry> = staged.iter().map(|(_, _, entry)| entry).collect();
    sorted.sort_by(|a, b| (&a.message_id, &a.mailbox).cmp(&(&b.message_id, &b.mailbox)));
    let mut records: Vec<Vec<&LedgerEntry>> = Vec::new();
    for entry in sorted {
        match records.last_mut() {
            Some(record)
                if record.len() < RECORD_ENTRIES
                    && (shared_files || record[0].message_id == entry.message_id) =>
            {
                record.push(entry);
            }
            _ => records.push(vec![entry]),
        }
    }
    records
}

async fn append<M: Mailbox>(target: &mut M, job: &Job<'_>) -> Result<Option<String>, MailboxError> {
    Ok(target
        .append(job.mailbox, job.folder, &job.message)
        .await?
        .uid)
}

/// Reads a ledger entry, if the message was delivered to the mailbox.
pub async fn entry<S: ObjectStore>(
    store: &S,
    mailbox: &str,
    message_id: &str,
) -> Result<Option<LedgerEntry>, LedgerError> {
    let key = ledger_key(mailbox, message_id);
    match store.get(&key).await? {
        None => Ok(None),
        Some(bytes) => match layout::ledger_entry_in(&bytes, mailbox, message_id) {
            Ok(Some(entry)) => Ok(Some(entry)),
            Ok(None) => Err(LedgerError::Corrupt {
                key,
                reason: format!(
                    "no entry for {} and Message-ID {}",
                    crate::escape::escaped(mailbox),
                    crate::escape::escaped(message_id)
                ),
            }),
            Err(e) => Err(LedgerError::Corrupt {
                key,
                reason: json_error::describe(&e),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(copies: &[(&str, &str)]) -> Vec<(usize, Outcome, LedgerEntry)> {
        copies
            .iter()
            .enumerate()
            .map(|(tag, (message_id, mailbox))| {
                let entry = LedgerEntry {
                    message_id: (*message_id).to_owned(),
                    mailbox: (*mailbox).to_owned(),
                    folder: "F".to_owned(),
                    uid: None,
                    sha256: "00".repeat(32),
                    recorded_at: "2026-11-21T09:00:00Z".to_owned(),
                };
                (tag, Outcome::Delivered, entry)
            })
            .collect()
    }

    fn copies(records: &[Vec<&LedgerEntry>]) -> Vec<Vec<(String, String)>> {
        records
            .iter()
            .map(|record| {
                record
                    .iter()
                    .map(|e| (e.message_id.clone(), e.mailbox.clone()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn records_hold_one_messages_copies_unless_the_store_shares_files() {
        let group = staged(&[("m2", "b"), ("m1", "b"), ("m2", "a"), ("m1", "a")]);
        let pair = |m: &str, b: &str| (m.to_owned(), b.to_owned());
        assert_eq!(
            copies(&records(&group, false)),
            [
                vec![pair("m1", "a"), pair("m1", "b")],
                vec![pair("m2", "a"), pair("m2", "b")]
            ]
        );
        assert_eq!(
            copies(&records(&group, true)),
            [vec![
                pair("m1", "a"),
                pair("m1", "b"),
                pair("m2", "a"),
                pair("m2", "b")
            ]]
        );
        let many: Vec<(String, String)> = (0..RECORD_ENTRIES + 1)
            .map(|i| (format!("m{i:03}"), "a".to_owned()))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(m, b)| (m.as_str(), b.as_str())).collect();
        let sizes: Vec<usize> = records(&staged(&many), true).iter().map(Vec::len).collect();
        assert_eq!(sizes, [RECORD_ENTRIES, 1]);
    }
}
