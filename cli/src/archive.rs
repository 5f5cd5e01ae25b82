//! The archive store a command reads (`status`, `report`, `export`,
//! `reconcile`, `verify`): the config's `[store] path`, or `--store`, a
//! directory or `s3://bucket[/prefix]` (the deployed archive bucket, reached
//! with the AWS SDK's default credential chain and region, and
//! `AWS_ENDPOINT_URL` when set). Every such command opens it here.

use std::error::Error;
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap::error::ErrorKind;
use shared::settings::LocalSettings;
use shared::store::{
    Created, Flag, Listing, LocalDir, ObjectFile, ObjectStore, S3Location, S3Store, StoreError,
};

/// `--store`'s help, the same for every command that takes it.
pub const STORE_HELP: &str = "The archive store, instead of the config's [store] path: a \
directory, or s3://bucket[/prefix] (the deployed archive bucket; AWS credentials and region \
from the SDK's default chain: environment, profile, SSO, instance role; AWS_ENDPOINT_URL is \
honoured). With --store, --config is needed only for what else it gives";

/// Where an archive store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory.
    Dir(PathBuf),
    /// An S3 bucket, below a prefix.
    S3(S3Location),
}

impl Location {
    /// Reads `--store`: `s3://bucket[/prefix]` (the scheme in any case), a
    /// directory, or an error for any other `scheme://`. The error does not
    /// repeat the value.
    fn parse(value: &OsStr) -> Result<Location, String> {
        let Some(text) = value.to_str() else {
            return Ok(Location::Dir(PathBuf::from(value)));
        };
        match text.split_once("://") {
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("s3") => text
                .parse()
                .map(Location::S3)
                .map_err(|e: shared::store::S3LocationError| e.to_string()),
            Some((scheme, _)) if is_scheme(scheme) => Err(format!(
                "unknown scheme {scheme}://; give a directory or s3://bucket[/prefix]"
            )),
            _ => Ok(Location::Dir(PathBuf::from(text))),
        }
    }

    /// Where the store's object `key` is, as printed: a path, or an
    /// `s3://` URL.
    pub fn of(&self, key: &str) -> String {
        match self {
            Location::Dir(path) => crate::shown(&path.join(key)).display().to_string(),
            Location::S3(s3) => format!("s3://{}/{}{key}", s3.bucket, s3.prefix),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // As the place it is (`examples/../x` as the `x` it is).
            Location::Dir(path) => write!(f, "{}", crate::shown(path).display()),
            Location::S3(s3) => write!(f, "{s3}"),
        }
    }
}

/// Whether `text` is a URL scheme (RFC 3986: a letter, then letters,
/// digits, `+`, `-`, `.`).
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// `--store`'s value parser: a bad value is a usage error (exit code 2)
/// naming the option and what is wrong, without repeating the value
/// (clap's own message would quote it, and a pasted
/// `s3://key:secret@bucket` would be printed back).
#[derive(Debug, Clone, Copy)]
pub struct LocationParser;

impl clap::builder::TypedValueParser for LocationParser {
    type Value = Location;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Location, clap::Error> {
        Location::parse(value).map_err(|reason| {
            let arg = arg.map_or_else(|| "--store".to_owned(), ToString::to_string);
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid value for '{arg}': {reason}\n"),
            )
            .with_cmd(cmd)
        })
    }
}

/// Refuses `option` with an S3 store as clap refuses a usage error (exit
/// code 2), saying `why`; does nothing for a directory. Call it before
/// anything is opened.
pub fn local_only(store: Option<&Location>, option: &str, why: &str) {
    if let Some(Location::S3(location)) = store {
        crate::Cli::command()
            .error(
                ErrorKind::ArgumentConflict,
                format!("{option} cannot be used with --store {location}: {why}"),
            )
            .exit();
    }
}

/// An archive store, local or in S3.
#[derive(Debug, Clone)]
pub enum Archive {
    /// A local directory.
    Local(LocalDir),
    /// An S3 bucket (below a prefix).
    S3(S3Store),
}

/// Calls the same method on whichever store it is.
macro_rules! each {
    ($archive:expr, $store:ident => $call:expr) => {
        match $archive {
            Archive::Local($store) => $call,
            Archive::S3($store) => $call,
        }
    };
}

impl ObjectStore for Archive {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, store => store.get(key).await)
    }

    async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<Created, StoreError> {
        each!(self, store => store.put_new(key, bytes).await)
    }

    async fn get_file(&self, key: &str) -> Result<Option<ObjectFile>, StoreError> {
        each!(self, store => store.get_file(key).await)
    }

    async fn sha256(&self, key: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        each!(self, store => store.sha256(key).await)
    }

    async fn put_new_file(&self, key: &str, content: &ObjectFile) -> Result<Created, StoreError> {
        each!(self, store => store.put_new_file(key, content).await)
    }

    fn shares_equal_objects(&self) -> bool {
        each!(self, store => store.shares_equal_objects())
    }

    async fn put_all(&self, objects: Vec<(String, Vec<u8>)>) -> Result<Vec<Created>, StoreError> {
        each!(self, store => store.put_all(objects).await)
    }

    async fn flag(&self, key: &str) -> Result<(bool, Flag), StoreError> {
        each!(self, store => store.flag(key).await)
    }

    async fn set_flag(&self, flag: &mut Flag) -> Result<bool, StoreError> {
        each!(self, store => store.set_flag(flag).await)
    }

    fn unsynced_epoch(&self) -> Option<String> {
        each!(self, store => store.unsynced_epoch())
    }

    async fn mark_collected(&self, key: &str) -> Result<(), StoreError> {
        each!(self, store => store.mark_collected(key).await)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        each!(self, store => store.exists(key).await)
    }

    async fn exist_all(&self, keys: &[String]) -> Result<Vec<bool>, StoreError> {
        each!(self, store => store.exist_all(keys).await)
    }

    async fn scan(&self, prefix: &str) -> Result<Listing, StoreError> {
        each!(self, store => store.scan(prefix).await)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        each!(self, store => store.list(prefix).await)
    }
}

/// What a command that reads the archive opened: its config, when given,
/// and its store.
pub struct Opened {
    /// The settings of `--config`, when given.
    pub settings: Option<LocalSettings>,
    /// Where the store is.
    pub location: Location,
    /// The store.
    pub store: Archive,
}

impl Opened {
    /// Loads `config` when given and opens the store of `store`, else the
    /// config's `[store] path`. A directory must be there already (named
    /// with the option or setting it came from); an S3 store needs a
    /// region, its credentials are looked for at the first request.
    pub async fn open(
        config: Option<&Path>,
        store: Option<&Location>,
    ) -> Result<Opened, Box<dyn Error>> {
        let settings = config.map(LocalSettings::load).transpose()?;
        let location = match (store, &settings) {
            (Some(location), _) => location.clone(),
            (None, Some(settings)) => Location::Dir(settings.store.clone()),
            (None, None) => return Err("give --config or --store".into()),
        };
        let archive = match &location {
            Location::Dir(path) if !path.is_dir() => {
                return Err(match (store, config) {
                    (None, Some(config)) => format!(
                        "config {}: [store] path {} is not a directory (no run has written it yet?)",
                        config.display(),
                        path.display()
                    ),
                    // The value is not repeated: a mistyped bucket URL
                    // (`s3:/key:secret@bucket`) would print what it holds.
                    _ => "--store: no such directory (a bucket is given as s3://bucket[/prefix])"
                        .to_owned(),
                }
                .into());
            }
            Location::Dir(path) => Archive::Local(LocalDir::new(path)),
            Location::S3(s3) => {
                let aws = aws_config::load_from_env().await;
                if aws.region().is_none() {
                    return Err(format!(
                        "--store {s3}: no AWS region (set AWS_REGION, or a region in the AWS profile)"
                    )
                    .into());
                }
                Archive::S3(S3Store::at(S3Store::client(&aws), s3))
            }
        };
        Ok(Opened {
            settings,
            location,
            store: archive,
        })
    }

    /// Holds a local store's lock for the whole command (see
    /// [`crate::lock_store`]). An S3 store has none: every write there is
    /// create-only, and the deployed functions write beside the command.
    pub fn lock(&self) -> Result<Option<File>, Box<dyn Error>> {
        match &self.location {
            Location::Dir(path) => crate::lock_store(path).map(Some),
            Location::S3(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_a_directory_or_an_s3_location_and_nothing_else() {
        let parse = |text: &str| Location::parse(OsStr::new(text));
        assert_eq!(
            parse("example-output/archive"),
            Ok(Location::Dir(PathBuf::from("example-output/archive")))
        );
        assert_eq!(
            parse("s3://archive-bucket/copies"),
            Ok(Location::S3("s3://archive-bucket/copies".parse().unwrap()))
        );
        assert!(parse("s3://").unwrap_err().contains("no bucket"));
        assert!(
            parse("gs://archive")
                .unwrap_err()
                .contains("unknown scheme gs://")
        );
        // Not a scheme: a directory whose name holds `://`.
        assert_eq!(
            parse("./a://b"),
            Ok(Location::Dir(PathBuf::from("./a://b")))
        );
        let location = parse("s3://archive-bucket/copies/").unwrap();
        assert_eq!(location.to_string(), "s3://archive-bucket/copies");
        assert_eq!(
            location.of("reports/2026-11-21/x.html"),
            "s3://archive-bucket/copies/reports/2026-11-21/x.html"
        );
    }
}
