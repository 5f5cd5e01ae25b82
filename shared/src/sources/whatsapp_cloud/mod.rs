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

mod capture;
mod handshake;
mod payload;
mod signature;

pub use capture::{Capture, DEFAULT_MAX_BODY_BYTES, Reply, Request, Stored};
pub use handshake::{HandshakeError, answer_handshake};
pub use payload::{MediaRef, media_refs};
pub use signature::{SIGNATURE_HEADER, SignatureError, check_signature, sign};
