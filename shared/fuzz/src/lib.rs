//! What every fuzz target checks of the items it gets: each renders (or is
//! refused with an error), the same item renders to the same bytes twice,
//! and the message parses back with no header but the renderer's own — no
//! text of the item can inject a header or break the header block.

use mail_parser::MessageParser;
use shared::item::Item;
use shared::render::{FileContent, RenderInput, RenderOptions, message_id, render};

/// Every header the renderer writes at the top of a message.
const HEADERS: &[&str] = &[
    "message-id",
    "date",
    "from",
    "to",
    "subject",
    "in-reply-to",
    "references",
    "thread-topic",
    "thread-index",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "x-archiver-source",
    "x-archiver-item-id",
    "x-archiver-conversation-id",
    "x-archiver-kind",
    "x-archiver-unrecognised",
    "x-archiver-edited",
    "x-archiver-custodian",
    "x-archiver-raw-sha256",
    "x-archiver-raw-object",
];

/// Renders `item` with every participant unmapped and no file, and checks
/// the message (panics on a violation, which the fuzzer reports).
pub fn check_render(item: &Item<'_>) {
    let addresses = vec![None; item.participants().count()];
    let files: Vec<Option<FileContent<'_>>> = vec![None; item.attachments.len()];
    let input = RenderInput {
        item,
        addresses: &addresses,
        files: &files,
        raw_object: Some("raw/fuzz/2026-01-01/batch.jsonl"),
    };
    let opts = RenderOptions::default();
    // Unmapped parties and no files: nothing for the renderer to refuse.
    let first = render(&input, &opts).expect("renders");
    let again = render(&input, &opts).expect("renders the second time too");
    assert!(first == again, "the same item rendered twice differs");
    check_header_block(&first);
    let parsed = MessageParser::new()
        .parse(&first)
        .expect("a rendered message parses");
    assert_eq!(
        parsed.message_id(),
        Some(message_id(&item.id).as_str()),
        "the Message-ID is the item's"
    );
    assert_eq!(
        parsed
            .from()
            .and_then(|from| from.as_list())
            .map(<[_]>::len),
        Some(1),
        "one From address"
    );
}

/// The top-level header block: CRLF line ends only, no NUL, and every
/// header one of [`HEADERS`], each at most once.
fn check_header_block(message: &[u8]) {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a blank line ends the headers");
    let block = &message[..end + 2];
    for (i, &b) in block.iter().enumerate() {
        assert!(b != 0, "NUL in the headers");
        if b == b'\r' {
            assert_eq!(block.get(i + 1), Some(&b'\n'), "bare CR in the headers");
        }
        if b == b'\n' {
            assert!(i > 0 && block[i - 1] == b'\r', "bare LF in the headers");
        }
    }
    let text = std::str::from_utf8(block).expect("headers are ASCII or UTF-8");
    let mut seen = Vec::new();
    for line in text.split("\r\n").filter(|line| !line.is_empty()) {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let (name, _) = line.split_once(':').expect("a header line has a colon");
        let name = name.to_ascii_lowercase();
        assert!(
            HEADERS.contains(&name.as_str()),
            "unexpected header {name:?}"
        );
        assert!(!seen.contains(&name), "header {name:?} twice");
        seen.push(name);
    }
}
