//! How a JSON error is described: where the line is broken, never what it
//! holds (a raw line or a job carries message content).

/// Where a JSON document is broken, without repeating any of its content.
pub fn describe(e: &serde_json::Error) -> String {
    format!("{:?} error at column {}", e.classify(), e.column())
}
