//! An S3 bucket as an object store (AWS, or LocalStack in tests).
//!
//! Create-only writes use `If-None-Match: *`, so S3 itself refuses to
//! replace an object. A large object written from a file
//! ([`ObjectStore::put_new_file`]) goes up as a multipart upload, one part
//! of [`PART_SIZE`] read from the file at a time (memory stays at one
//! part whatever the file's size), and the condition is on
//! `CompleteMultipartUpload`: S3 assembles the parts only if the key is
//! still free, and answers 412 Precondition Failed otherwise; the upload
//! is then aborted, as it is on any failure, so no parts are left behind.
//! LocalStack 4.13.1 (the version `infra/localstack.sh` installs) honours
//! the condition on completion too (412 `PreconditionFailed`, the first
//! object kept), so no create-only temporary key and copy are needed; the
//! serverless test writes one key twice this way to keep it so.
//!
//! A store may live under a key prefix of its bucket ([`S3Location`],
//! `s3://bucket/prefix`): its keys are then the same layout below the
//! prefix, as a local directory's are below its root.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream;

use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Tag, Tagging};

use std::fmt;
use std::future::Future;
use std::io::{Read, Seek, Write};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::{
    COLLECTED_TAG, COLLECTED_TAG_VALUE, Created, Listing, ObjectFile, ObjectStore, StoreError,
    check_key, check_read_key,
};

/// Attempts of a create-only write that S3 answers 409 (another conditional
/// write to the same key was in flight).
const CONFLICT_ATTEMPTS: u32 = 5;

/// The part size of a multipart upload: a file up to this size is written
/// with one `PutObject`, a larger one in parts of this size (S3 allows at
/// most 10,000 parts, so objects up to about 78 GiB).
pub const PART_SIZE: u64 = 8 << 20;

/// An object store over one S3 bucket, with the same key layout as
/// [`super::LocalDir`].
///
/// Create-only writes use `If-None-Match: *`, so S3 itself refuses to
/// replace an object (412 Precondition Failed means it already exists).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Put before every key: empty, or plain segments each ending in `/`.
    prefix: String,
}

impl S3Store {
    /// A store over the whole of `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
            prefix: String::new(),
        }
    }

    /// A store over the bucket of `location`, below its prefix.
    pub fn at(client: Client, location: &S3Location) -> Self {
        S3Store {
            client,
            bucket: location.bucket.clone(),
            prefix: location.prefix.clone(),
        }
    }

    /// The bucket's key of the store's `key`.
    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// An S3 client for the SDK config; path-style addressing when the
    /// endpoint is overridden (`AWS_ENDPOINT_URL`, e.g. LocalStack).
    pub fn client(config: &aws_config::SdkConfig) -> Client {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Client::from_conf(s3)
    }

    /// Starts reading an object (`GetObject`); `None` when there is none
    /// under the key.
    async fn get_object(&self, key: &str) -> Result<Option<GetObjectOutput>, StoreError> {
        check_read_key(key)?;
        let response = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        match response {
            Ok(output) => Ok(Some(output)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(remote(key, e)),
        }
    }

    /// Uploads `content` as the parts of `upload_id`, one part in memory at
    /// a time, and completes the upload create-only.
    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        content: &ObjectFile,
    ) -> Result<Created, StoreError> {
        let io = |source| StoreError::Io {
            key: key.to_owned(),
            source,
        };
        let mut reader = content.reader();
        let mut parts = Vec::new();
        let mut number = 0;
        loop {
            let mut part = Vec::with_capacity(PART_SIZE as usize);
            (&mut reader)
                .take(PART_SIZE)
                .read_to_end(&mut part)
                .map_err(io)?;
            if part.is_empty() {
                break;
            }
            number += 1;
            let uploaded = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(self.object_key(key))
                .upload_id(upload_id)
                .part_number(number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(part))
                .send()
                .await
                .map_err(|e| remote(key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(uploaded.e_tag().map(str::to_owned))
                    .set_checksum_crc32(uploaded.checksum_crc32().map(str::to_owned))
                    .build(),
            );
        }
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        create_only(key, || {
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(self.object_key(key))
                .upload_id(upload_id)
                .multipart_upload(parts.clone())
                .if_none_match("*")
                .send()
        })
        .await
    }
}

/// Sends a create-only write (`If-None-Match: *`) until S3 decides: 412
/// (`PreconditionFailed`) means the key is taken; 409 (another conditional
/// write to the key was in flight) is tried again, [`CONFLICT_ATTEMPTS`]
/// times in all.
async fn create_only<T, E, Fut>(
    key: &str,
    mut send: impl FnMut() -> Fut,
) -> Result<Created, StoreError>
where
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match send().await {
            Ok(_) => return Ok(Created::New),
            Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                Some(412) => return Ok(Created::Exists),
                Some(409) if attempt < CONFLICT_ATTEMPTS => {
                    let pause = std::time::Duration::from_millis(50 << attempt);
                    tokio::time::sleep(pause).await;
                }
                _ if e.code() == Some("PreconditionFailed") => return Ok(Created::Exists),
                _ => return Err(remote(key, e)),
            },
        }
    }
}

fn remote<E, R>(key: &str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Remote {
        key: key.to_owned(),
        reason: DisplayErrorContext(&e).to_string(),
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_read_key(key)?;
        let response = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(remote(key, e)),
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Remote {
                key: key.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    /// Downloads the object into an anonymous temporary file, chunk by
    /// chunk as the body arrives.
    async fn get_file(&self, key: &str) -> Result<Option<ObjectFile>, StoreError> {
        let Some(mut output) = self.get_object(key).await? else {
            return Ok(None);
        };
        let io = |source| StoreError::Io {
            key: key.to_owned(),
            source,
        };
        let mut file = tempfile::tempfile().map_err(io)?;
        let mut len = 0u64;
        while let Some(chunk) = output.body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Remote {
                key: key.to_owned(),
                reason: e.to_string(),
            })?;
            file.write_all(&chunk).map_err(io)?;
            len += chunk.len() as u64;
        }
        file.rewind().map_err(io)?;
        Ok(Some(ObjectFile::new(file, len)))
    }

    /// Hashes the body chunk by chunk as it arrives: nothing is written to
    /// `/tmp`, and memory stays at one chunk whatever the object's size.
    async fn sha256(&self, key: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        let Some(mut output) = self.get_object(key).await? else {
            return Ok(None);
        };
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        while let Some(chunk) = output.body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Remote {
                key: key.to_owned(),
                reason: e.to_string(),
            })?;
            hasher.update(&chunk);
            len += chunk.len() as u64;
        }
        Ok(Some((len, hasher.finalize().into())))
    }

    /// Up to [`PART_SIZE`], one `PutObject` of the bytes read from the
    /// file; beyond, a multipart upload read from the file part by part
    /// and completed with `If-None-Match: *` (see the module docs). A key
    /// taken already is found only at completion, after the upload: a
    /// `HeadObject` first would need read access the collect function does
    /// not have. Every part carries a
    /// CRC32 checksum (the archive bucket's Object Lock wants one).
    async fn put_new_file(&self, key: &str, content: &ObjectFile) -> Result<Created, StoreError> {
        check_key(key)?;
        if content.len() <= PART_SIZE {
            let bytes = content.read_all().map_err(|source| StoreError::Io {
                key: key.to_owned(),
                source,
            })?;
            return self.put_new(key, &bytes).await;
        }
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| remote(key, e))?;
        let Some(upload_id) = upload.upload_id() else {
            return Err(StoreError::Remote {
                key: key.to_owned(),
                reason: "CreateMultipartUpload answered no upload id".to_owned(),
            });
        };
        let done = self.upload_parts(key, upload_id, content).await;
        if !matches!(done, Ok(Created::New)) {
            // Parts of an upload never completed are billed until aborted.
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(self.object_key(key))
                .upload_id(upload_id)
                .send()
                .await;
            if let Err(e) = aborted {
                // The object is stored (or the upload failed anyway): an
                // upload left open is removed by the bucket's lifecycle
                // rule within a day, so this is only a warning.
                tracing::warn!(
                    key,
                    error = %DisplayErrorContext(&e),
                    "could not abort an unfinished multipart upload"
                );
            }
        }
        done
    }

    async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<Created, StoreError> {
        check_key(key)?;
        create_only(key, || {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(self.object_key(key))
                .if_none_match("*")
                .body(ByteStream::from(bytes.to_vec()))
                .send()
        })
        .await
    }

    /// Reads the object's tags and, unless it is marked already, writes them
    /// back with [`COLLECTED_TAG`] (`GetObjectTagging`, `PutObjectTagging`;
    /// a put replaces the whole set, so the other tags are written too).
    async fn mark_collected(&self, key: &str) -> Result<(), StoreError> {
        check_read_key(key)?;
        let current = self
            .client
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|e| remote(key, e))?;
        let mut tags = current.tag_set().to_vec();
        if tags
            .iter()
            .any(|tag| tag.key() == COLLECTED_TAG && tag.value() == COLLECTED_TAG_VALUE)
        {
            return Ok(());
        }
        tags.retain(|tag| tag.key() != COLLECTED_TAG);
        let invalid = |e: aws_sdk_s3::error::BuildError| StoreError::Remote {
            key: key.to_owned(),
            reason: e.to_string(),
        };
        let marked = Tag::builder()
            .key(COLLECTED_TAG)
            .value(COLLECTED_TAG_VALUE)
            .build()
            .map_err(invalid)?;
        tags.push(marked);
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .map_err(invalid)?;
        self.client
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| remote(key, e))?;
        Ok(())
    }

    /// Lists the bucket's objects (below the store's prefix, which the
    /// keys listed do not include); a bucket holds nothing else, so
    /// [`Listing::unlisted`] stays empty.
    async fn scan(&self, prefix: &str) -> Result<Listing, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.object_key(prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| remote(prefix, e))?;
            keys.extend(page.contents().iter().filter_map(|o| {
                o.key()?
                    .strip_prefix(self.prefix.as_str())
                    .map(str::to_owned)
            }));
        }
        keys.sort_unstable();
        Ok(Listing {
            keys,
            unlisted: Vec::new(),
        })
    }
}

/// Where in S3 a store is: a bucket and a key prefix, written
/// `s3://bucket[/prefix]` (as the AWS CLI writes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket's name.
    pub bucket: String,
    /// Put before every key: empty, or plain segments each ending in `/`.
    pub prefix: String,
}

/// Why a text is no `s3://bucket[/prefix]`. The text itself is not
/// repeated: it may hold what a user pasted by mistake (`s3://key:secret@…`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3LocationError {
    /// It does not start with `s3://`.
    #[error("not an S3 location: give s3://bucket[/prefix]")]
    NotS3,
    /// `s3://` with nothing after it.
    #[error("s3:// names no bucket: give s3://bucket[/prefix]")]
    NoBucket,
    /// The bucket's name breaks S3's rules.
    #[error(
        "the bucket name is not one S3 allows (3 to 63 lowercase letters, digits, dots and \
         hyphens, starting and ending with a letter or a digit)"
    )]
    Bucket,
    /// The prefix is no path of plain segments.
    #[error(
        "the prefix after the bucket must be plain segments separated by single slashes \
         (no empty, . or .. segment, no backslash or control character)"
    )]
    Prefix,
}

impl FromStr for S3Location {
    type Err = S3LocationError;

    /// Reads `s3://bucket`, `s3://bucket/` or `s3://bucket/a/b[/]`; the
    /// scheme in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rest = text
            .get(..5)
            .filter(|scheme| scheme.eq_ignore_ascii_case("s3://"))
            .map(|_| &text[5..])
            .ok_or(S3LocationError::NotS3)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(S3LocationError::NoBucket);
        }
        let edge =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && edge(bucket.chars().next())
            && edge(bucket.chars().last());
        if !valid_bucket {
            return Err(S3LocationError::Bucket);
        }
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            check_key(prefix).map_err(|_| S3LocationError::Prefix)?;
            format!("{prefix}/")
        };
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix,
        })
    }
}

impl fmt::Display for S3Location {
    /// `s3://bucket` or `s3://bucket/prefix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        match self.prefix.strip_suffix('/') {
            Some(prefix) => write!(f, "/{prefix}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_a_bucket_and_a_prefix_of_plain_segments() {
        let at = |text: &str| text.parse::<S3Location>();
        let location = |bucket: &str, prefix: &str| S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        };
        assert_eq!(at("s3://archive-123"), Ok(location("archive-123", "")));
        assert_eq!(at("S3://archive.corp/"), Ok(location("archive.corp", "")));
        assert_eq!(
            at("s3://archive/copies/2026"),
            Ok(location("archive", "copies/2026/"))
        );
        assert_eq!(
            at("s3://archive/copies/2026/"),
            Ok(location("archive", "copies/2026/"))
        );
        assert_eq!(at("s3://"), Err(S3LocationError::NoBucket));
        assert_eq!(at("s3:///prefix"), Err(S3LocationError::NoBucket));
        assert_eq!(at("/srv/archive"), Err(S3LocationError::NotS3));
        assert_eq!(at("gs://archive"), Err(S3LocationError::NotS3));
        for bucket in [
            "ab",
            "Archive",
            "-archive",
            "archive-",
            "a_b",
            "key:secret@archive",
        ] {
            assert_eq!(
                at(&format!("s3://{bucket}")),
                Err(S3LocationError::Bucket),
                "{bucket}"
            );
        }
        for prefix in ["a//b", "a/../b", "./a", "a\\b", "a\nb", "//"] {
            assert_eq!(
                at(&format!("s3://archive/{prefix}")),
                Err(S3LocationError::Prefix),
                "{prefix:?}"
            );
        }
        assert_eq!(at("s3://archive").unwrap().to_string(), "s3://archive");
        assert_eq!(
            at("s3://archive/copies/2026/").unwrap().to_string(),
            "s3://archive/copies/2026"
        );
    }

    #[test]
    fn an_error_does_not_repeat_the_text() {
        let error = "s3://AKIAEXAMPLE:hunter2@archive"
            .parse::<S3Location>()
            .unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
