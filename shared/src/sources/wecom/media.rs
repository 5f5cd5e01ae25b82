//! Media download (sources-deep.md §A.11): a file named by `sdkfileid` is
//! fetched in chunks of at most 512 KB, each asked for by the `indexbuf`
//! the previous one returned, and streamed into a spool (an anonymous
//! temporary file) that hashes it as it grows, so memory holds one chunk
//! whatever the file's size. A chunk that fails for a transient reason is
//! asked for again with the same index, never from the start. The MD5 the
//! message gives is checked; on a mismatch the file is fetched once more.

use std::io::Write;
use std::time::Duration;

use md5::{Digest, Md5};

use super::sdk::{Network, Sdk, SdkError};
use crate::store::{ObjectFile, Spool};

/// How often and how patiently a failing SDK call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Calls made at most for one request (one page, one chunk).
    pub attempts: u32,
    /// The wait before the first retry; doubled before each next one.
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_delay: Duration::from_secs(1),
        }
    }
}

impl Retry {
    /// The wait before retry number `n` (1 for the first).
    pub fn delay(&self, n: u32) -> Duration {
        self.first_delay
            .saturating_mul(1 << n.saturating_sub(1).min(10))
    }
}

/// Why a file could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The SDK refused or kept failing.
    #[error(transparent)]
    Sdk(#[from] SdkError),
    /// The spool could not be written.
    #[error("media spool: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// Whether a later run may succeed where this one failed (a chunk
    /// that failed for a transient reason every time, a full disk).
    pub fn is_transient(&self) -> bool {
        match self {
            // A refused key, an egress IP not (or no longer) trusted, a
            // certificate error: what the operator fixes, after which the
            // file is there to fetch. Only a file WeCom does not have
            // (10005, 10010, ...) is given up.
            MediaError::Sdk(e) => {
                e.is_transient() || matches!(e.code(), Some(10004 | 10009 | 10011))
            }
            MediaError::Io(_) => true,
        }
    }
}

/// A downloaded file.
#[derive(Debug)]
pub struct Downloaded {
    /// The content, in a temporary file.
    pub content: ObjectFile,
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// Its MD5 (hex).
    pub md5: String,
    /// Its first bytes (up to 16), to tell a recording's format.
    pub head: Vec<u8>,
    /// Whether the MD5 matches the message's (true when it gives none).
    pub md5_matches: bool,
    /// Chunks fetched, retries included.
    pub calls: u32,
}

/// Downloads `sdkfileid`, checking it against `md5sum` when given. The SDK
/// is taken `&mut`: it is not `Sync`, and the download waits between
/// retries.
pub async fn download(
    sdk: &mut Sdk,
    network: &Network,
    retry: &Retry,
    sdkfileid: &str,
    md5sum: Option<&str>,
) -> Result<Downloaded, MediaError> {
    let mut calls = 0;
    let mut fetched = fetch(sdk, network, retry, sdkfileid, &mut calls).await?;
    let matches = |file: &Downloaded| md5sum.is_none_or(|md5| md5.eq_ignore_ascii_case(&file.md5));
    if !matches(&fetched) {
        fetched = fetch(sdk, network, retry, sdkfileid, &mut calls).await?;
    }
    fetched.md5_matches = matches(&fetched);
    fetched.calls = calls;
    Ok(fetched)
}

async fn fetch(
    sdk: &mut Sdk,
    network: &Network,
    retry: &Retry,
    sdkfileid: &str,
    calls: &mut u32,
) -> Result<Downloaded, MediaError> {
    let mut spool = Spool::new()?;
    let mut md5 = Md5::new();
    let mut head = Vec::with_capacity(16);
    let mut index = String::new();
    loop {
        let mut attempt = 0;
        let chunk = loop {
            attempt += 1;
            *calls += 1;
            match sdk.media_chunk(&index, sdkfileid, network) {
                Ok(chunk) => break chunk,
                Err(e) if e.is_transient() && attempt < retry.attempts => {
                    tokio::time::sleep(retry.delay(attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        spool.write_all(&chunk.data)?;
        md5.update(&chunk.data);
        let want = 16usize.saturating_sub(head.len()).min(chunk.data.len());
        head.extend_from_slice(&chunk.data[..want]);
        if chunk.finished {
            break;
        }
        if chunk.data.is_empty() || chunk.next_index == index {
            // It would ask for the same chunk for ever.
            return Err(SdkError::Broken {
                function: "GetMediaData",
                what: "an unfinished file that does not move on",
            }
            .into());
        }
        index = chunk.next_index;
    }
    let (content, sha256) = spool.finish();
    Ok(Downloaded {
        content,
        sha256,
        md5: hex::encode(md5.finalize()),
        head,
        md5_matches: true,
        calls: *calls,
    })
}
