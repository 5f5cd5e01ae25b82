//! Mobile Archiver's library: the archive item model, the sources that
//! produce items, EML rendering, mapping items to mailboxes, the object store
//! and mailbox abstractions, the delivery ledger, the run report and the
//! settings schema.
//!
//! Lambda handlers and the `archiver` command are thin layers over this crate.

pub mod address;
pub mod bundle;
pub mod collect;
pub mod convert;
pub mod day_report;
pub mod deliver;
pub mod digest;
pub mod embedded;
pub mod escape;
mod invisible;
pub mod item;
pub mod jobs;
pub mod json_error;
pub mod lambda;
pub mod layout;
pub mod ledger;
pub mod logging;
pub mod mailbox;
pub mod mapping;
pub mod metrics;
pub mod progress;
pub mod reconcile;
pub mod redact;
pub mod remap;
pub mod render;
pub mod report;
pub mod secrets;
pub mod settings;
pub mod sources;
pub mod status;
pub mod store;
