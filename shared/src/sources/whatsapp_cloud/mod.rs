//! The WhatsApp Business Platform (Cloud API) source: webhook bodies that
//! Meta POSTs to the `capture` function, for a company number on the
//! Cloud API or an employee's WhatsApp Business app on a number onboarded
//! to it (Coexistence). See sources-deep.md Part B for the shapes.
//!
//! - `signature`, `handshake`, `capture`: the endpoint. A body is kept
//!   exactly as received under `inbox/whatsapp-cloud/<day>/<sha256>.json`
//!   once its `X-Hub-Signature-256` checks out; its media ids go to the
//!   media step at once (webhook media ids expire after 7 days).
//! - `payload`: the body's envelope and arrays.
//! - `inbox`: the source collect pulls, one batch per body.
//! - `media`: the media step (lookup, streamed download, hash check,
//!   retries, a record of the outcome either way).
//! - `bodies`, `items`, `content`, `people`, `contacts`: a body read into
//!   items (one per wamid), statuses and report notes.

mod bodies;
mod capture;
mod contacts;
mod content;
mod handshake;
mod inbox;
mod items;
mod media;
mod payload;
mod people;
mod signature;

pub use bodies::{BodyError, Inspection, inspect, is_webhook};
pub use capture::{Capture, DEFAULT_MAX_BODY_BYTES, Reply, Request, Stored};
pub use contacts::ContactBook;
pub use content::message_item_id;
pub use handshake::{HandshakeError, answer_handshake};
pub use inbox::CloudInbox;
pub use items::{Reading, StatusSeen};
pub use media::{DEFAULT_GRAPH_VERSION, Fetch, GraphMedia, MAX_MEDIA_BYTES, MediaOptions};
pub use payload::{MediaRef, media_refs};
pub use signature::{SIGNATURE_HEADER, SignatureError, check_signature, sign};
