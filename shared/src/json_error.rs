//! Saying what is wrong with a JSON document without quoting it: raw batch
//! lines and delivery jobs carry message content and mailbox addresses,
//! which must not reach logs, reports or failure records.
//!
//! A leaf: it depends on nothing else in the crate, so each stage that reads
//! JSON can use it without depending on another stage.

/// Where a JSON document is broken (the kind of error and its column),
/// without repeating any of its content.
pub fn describe(e: &serde_json::Error) -> String {
    format!("{:?} error at column {}", e.classify(), e.column())
}
