//! The MIME tree, with boundaries derived from the item id.
//!
//! `mail-builder` invents a boundary from the clock, a per-thread counter and
//! per-process entropy whenever a multipart Content-Type has no `boundary`
//! parameter, so every multipart part here carries one: `=_<item id hex>`
//! plus `_alt`, `_rel` or `_mix`. `=_` never occurs in quoted-printable or base64
//! output; only parts written as 7bit could hold it, and if one of those
//! contains the token, a counter (`.1`, `.2`, …) is appended until none does.

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::{BodyPart, MimePart};
use memchr::memmem;

use super::attachment::File;
use super::body::Body;
use super::unrecognised;
use crate::item::Item;

/// Renders the body, the file parts and (for an unrecognised item) the raw
/// payload's part as one MIME tree: the body, in a `multipart/related`
/// with the images it shows (when it shows any), then every other part.
pub(super) fn tree<'x>(item: &'x Item<'_>, body: Body, files: &'x [File<'x>]) -> MimePart<'x> {
    let (shown, listed): (Vec<&File<'x>>, Vec<&File<'x>>) =
        files.iter().partition(|file| file.content_id.is_some());
    let mut parts: Vec<MimePart<'x>> = listed
        .into_iter()
        .filter_map(|file| file.part(item.source))
        .chain(unrecognised::raw_part(item))
        .collect();
    let token = boundary_token(item, &body, &parts);
    let mut message = MimePart::new(
        ContentType::new("multipart/alternative").attribute("boundary", format!("{token}_alt")),
        vec![
            MimePart::new("text/plain", body.plain),
            MimePart::new("text/html", body.html),
        ],
    );
    if !shown.is_empty() {
        let mut related = vec![message];
        related.extend(shown.into_iter().filter_map(|file| file.part(item.source)));
        message = MimePart::new(
            ContentType::new("multipart/related")
                .attribute("boundary", format!("{token}_rel"))
                .attribute("type", "multipart/alternative"),
            related,
        );
    }
    if parts.is_empty() {
        return message;
    }
    parts.insert(0, message);
    MimePart::new(
        ContentType::new("multipart/mixed").attribute("boundary", format!("{token}_mix")),
        parts,
    )
}

/// `=_<id hex>`, with a counter appended while any text part contains it.
fn boundary_token(item: &Item<'_>, body: &Body, parts: &[MimePart<'_>]) -> String {
    let base = format!("=_{}", item.id.to_hex().as_str());
    let texts = || {
        [body.plain.as_bytes(), body.html.as_bytes()]
            .into_iter()
            .chain(parts.iter().filter_map(text_contents))
    };
    let mut token = base.clone();
    let mut counter = 0u32;
    while texts().any(|text| memmem::find(text, token.as_bytes()).is_some()) {
        counter += 1;
        token = format!("{base}.{counter}");
    }
    token
}

/// The contents of a part `mail-builder` may write unencoded: any text/*
/// leaf, whatever its body type.
fn text_contents<'p>(part: &'p MimePart<'_>) -> Option<&'p [u8]> {
    let is_text = part.headers.iter().any(|(name, value)| {
        name == "Content-Type" && value.as_content_type().is_some_and(ContentType::is_text)
    });
    match &part.contents {
        BodyPart::Text(text) if is_text => Some(text.as_bytes()),
        BodyPart::Binary(bytes) if is_text => Some(bytes.as_ref()),
        _ => None,
    }
}
