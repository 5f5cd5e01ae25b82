//! Saying what is wrong with a JSON document without quoting it: raw batch
//! lines, delivery jobs, notifications, ledger entries and secrets carry
//! message content, addresses or credentials, which must not reach logs,
//! reports or failure records. serde_json's own messages can quote the
//! input (`invalid type: string "..."`), so every reader of JSON describes
//! its errors here, and only here.
//!
//! A leaf: it depends on nothing else in the crate, so each stage that reads
//! JSON can use it without depending on another stage.

use serde_json::error::Category;

/// What is wrong (the kind of error) and where (line and column), without
/// repeating any of the content.
pub fn describe(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "invalid JSON",
        Category::Data => "JSON of another shape",
        Category::Eof => "truncated JSON",
    };
    format!("{what} at line {}, column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_names_the_place_never_the_content() {
        let e = serde_json::from_str::<u32>("\"secret text\"").unwrap_err();
        assert!(e.to_string().contains("secret text"), "serde quotes it");
        let described = describe(&e);
        assert_eq!(described, "JSON of another shape at line 1, column 13");
        let e = serde_json::from_str::<Vec<u32>>("[1,").unwrap_err();
        assert_eq!(describe(&e), "truncated JSON at line 1, column 3");
    }
}
