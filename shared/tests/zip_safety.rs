//! Export zips: every chat text and file found by path, and every unsafe,
//! oversized or ambiguous archive refused.

use std::io::{Cursor, Write};

use shared::sources::whatsapp_export::{ZipError, ZipLimits, read_zip};
use zip::write::SimpleFileOptions;

fn make_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

const CHAT: &[u8] = b"[10/11/26, 14:02:17] Carol: hello\n";

#[test]
fn reads_chat_and_media_with_hashes() {
    let bytes = make_zip(&[
        ("_chat.txt", CHAT),
        ("00000003-PHOTO-2026-11-10-14-02-18.jpg", b"jpeg bytes"),
        ("docs/notes.txt", b"a shared text document"),
    ]);
    let bundle = read_zip(Cursor::new(&bytes), &ZipLimits::default()).unwrap();
    assert_eq!(bundle.chats.len(), 1);
    assert_eq!(bundle.chats[0].path, "_chat.txt");
    assert_eq!(bundle.chats[0].text.as_bytes(), CHAT);
    assert_eq!(
        bundle.chats[0].title_name("WhatsApp Chat - Desk.zip"),
        "WhatsApp Chat - Desk.zip"
    );
    let paths: Vec<_> = bundle.files.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        ["00000003-PHOTO-2026-11-10-14-02-18.jpg", "docs/notes.txt"]
    );
    assert_eq!(bundle.files[1].name(), "notes.txt");
    assert_eq!(bundle.files[1].folder(), "docs");
    // sha256("jpeg bytes"), computed with sha256sum
    assert_eq!(
        bundle.files[0].sha256,
        "1b48e21282963dfba2ffff3a4c331471242fe42fd0a51161e56df72085c445c9"
    );
}

#[test]
fn android_chat_name_gives_the_title() {
    let bytes = make_zip(&[
        (
            "WhatsApp Chat with Bob.txt",
            b"29/12/2025, 22:30 - Bob: hi\n",
        ),
        ("IMG-20251229-WA0001.jpg", b"x"),
    ]);
    let bundle = read_zip(Cursor::new(&bytes), &ZipLimits::default()).unwrap();
    assert_eq!(
        bundle.chats[0].title_name("export.zip"),
        "WhatsApp Chat with Bob.txt"
    );
    assert_eq!(bundle.files.len(), 1);
}

#[test]
fn every_chat_text_is_found_and_a_folder_can_name_one() {
    let bytes = make_zip(&[
        ("_chat.txt", CHAT),
        (
            "WhatsApp Chat with Bob.txt",
            b"29/12/2025, 22:30 - Bob: hi\n",
        ),
        ("WhatsApp Chat - Desk/_chat.txt", CHAT),
        ("older/_chat.txt", CHAT),
        ("notes.txt", b"a document"),
    ]);
    let bundle = read_zip(Cursor::new(&bytes), &ZipLimits::default()).unwrap();
    let titles: Vec<_> = bundle
        .chats
        .iter()
        .map(|chat| chat.title_name("export.zip"))
        .collect();
    assert_eq!(
        titles,
        [
            "export.zip",
            "WhatsApp Chat with Bob.txt",
            "WhatsApp Chat - Desk",
            "export.zip"
        ]
    );
    assert_eq!(bundle.files.len(), 1, "notes.txt is a document");
}

#[test]
fn refuses_path_traversal_and_absolute_names() {
    for evil in [
        "../../etc/passwd",
        "media/../../x",
        "/etc/passwd",
        "C:/Windows/x",
        "c:evil",
        "a\\..\\b",
    ] {
        let bytes = make_zip(&[("_chat.txt", CHAT), (evil, b"x")]);
        match read_zip(Cursor::new(&bytes), &ZipLimits::default()) {
            Err(ZipError::UnsafeName(name)) => assert_eq!(name, evil),
            other => panic!("{evil}: expected UnsafeName, got {other:?}"),
        }
    }
}

#[test]
fn refuses_zip_bombs_by_ratio() {
    let zeros = vec![0u8; 20 << 20];
    let bytes = make_zip(&[("_chat.txt", CHAT), ("bomb.bin", &zeros)]);
    assert!(bytes.len() < 1 << 20, "deflate squeezes zeros");
    match read_zip(Cursor::new(&bytes), &ZipLimits::default()) {
        Err(ZipError::RatioExceeded { name, limit }) => {
            assert_eq!(name, "bomb.bin");
            assert_eq!(limit, 200);
        }
        other => panic!("expected RatioExceeded, got {other:?}"),
    }
}

#[test]
fn refuses_archives_over_the_total_size() {
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let bytes = make_zip(&[("_chat.txt", CHAT), ("a.bin", &noise), ("b.bin", &noise)]);
    let limits = ZipLimits {
        max_total_bytes: 6000,
        ..ZipLimits::default()
    };
    assert!(matches!(
        read_zip(Cursor::new(&bytes), &limits),
        Err(ZipError::TooLarge { limit: 6000 })
    ));
    let roomy = ZipLimits {
        max_total_bytes: 10_000,
        ..ZipLimits::default()
    };
    assert_eq!(
        read_zip(Cursor::new(&bytes), &roomy).unwrap().files.len(),
        2
    );
}

#[test]
fn refuses_too_many_entries() {
    let names: Vec<String> = (0..20).map(|i| format!("f{i}.bin")).collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("_chat.txt", CHAT)];
    entries.extend(names.iter().map(|n| (n.as_str(), &b"x"[..])));
    let bytes = make_zip(&entries);
    let limits = ZipLimits {
        max_entries: 10,
        ..ZipLimits::default()
    };
    assert!(matches!(
        read_zip(Cursor::new(&bytes), &limits),
        Err(ZipError::TooManyEntries {
            count: 21,
            limit: 10
        })
    ));
}

#[test]
fn reports_garbage_and_missing_chat_clearly() {
    let err = read_zip(
        Cursor::new(b"PK\x03\x04 definitely not a zip"),
        &ZipLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ZipError::Malformed(_)), "{err:?}");
    assert!(err.to_string().starts_with("not a readable zip archive"));

    let bytes = make_zip(&[("a.jpg", b"x"), ("b.txt", b"x"), ("c.txt", b"y")]);
    assert!(matches!(
        read_zip(Cursor::new(&bytes), &ZipLimits::default()),
        Err(ZipError::NoChat)
    ));

    let bytes = make_zip(&[("_chat.txt", b"\xff\xfe not utf-8")]);
    assert!(matches!(
        read_zip(Cursor::new(&bytes), &ZipLimits::default()),
        Err(ZipError::NotUtf8(name)) if name == "_chat.txt"
    ));

    // Beside a chat text that reads, one that does not is kept as a file.
    let bytes = make_zip(&[("_chat.txt", CHAT), ("sub/_chat.txt", b"\xff\xfe")]);
    let bundle = read_zip(Cursor::new(&bytes), &ZipLimits::default()).unwrap();
    assert_eq!(bundle.chats.len(), 1);
    assert_eq!(bundle.not_utf8, ["sub/_chat.txt"]);
    assert_eq!(bundle.files[0].path, "sub/_chat.txt");
}

/// A zip whose entries are written under the names given, then renamed in
/// place (local and central headers) by `renames`: the zip writer refuses
/// repeated names, an attacker's tool does not. Each pair must have names
/// of one length that occur nowhere else in the archive.
fn zip_renamed(entries: &[(&str, &[u8])], renames: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        writer.start_file(*name, stored).unwrap();
        writer.write_all(data).unwrap();
    }
    let mut bytes = writer.finish().unwrap().into_inner();
    for (from, to) in renames {
        assert_eq!(from.len(), to.len());
        let mut at = 0;
        let mut found = 0;
        while let Some(i) = bytes[at..]
            .windows(from.len())
            .position(|w| w == from.as_bytes())
        {
            bytes[at + i..at + i + to.len()].copy_from_slice(to.as_bytes());
            at += i + to.len();
            found += 1;
        }
        assert_eq!(found, 2, "{from}: one local and one central header");
    }
    bytes
}

#[test]
fn refuses_repeated_entry_names() {
    let bytes = zip_renamed(
        &[
            ("_chat.txt", CHAT),
            ("IMG-1.jpg", b"one"),
            ("IMG-2.jpg", b"two"),
        ],
        &[("IMG-2.jpg", "IMG-1.jpg")],
    );
    let err = read_zip(Cursor::new(&bytes), &ZipLimits::default()).unwrap_err();
    assert!(err.to_string().contains("IMG-1.jpg"), "{err}");
    assert!(err.to_string().contains("more than once"), "{err}");

    let bytes = zip_renamed(
        &[("_chat.txt", CHAT), ("_chat.tx2", CHAT)],
        &[("_chat.tx2", "_chat.txt")],
    );
    let err = read_zip(Cursor::new(&bytes), &ZipLimits::default()).unwrap_err();
    assert!(err.to_string().contains("_chat.txt"), "{err}");
}

#[test]
fn the_entry_limit_counts_entries_not_names() {
    let names: Vec<String> = (0..21).map(|i| format!("f{i:02}.bin")).collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("_chat.txt", CHAT)];
    entries.extend(names.iter().map(|n| (n.as_str(), &b"x"[..])));
    let renames: Vec<(&str, &str)> = names[1..].iter().map(|n| (n.as_str(), "f00.bin")).collect();
    let bytes = zip_renamed(&entries, &renames);
    let limits = ZipLimits {
        max_entries: 10,
        ..ZipLimits::default()
    };
    match read_zip(Cursor::new(&bytes), &limits) {
        Err(ZipError::TooManyEntries { count, limit }) => assert_eq!((count, limit), (22, 10)),
        other => panic!("expected TooManyEntries, got {other:?}"),
    }
}

#[test]
fn refuses_entries_that_share_compressed_data() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    writer.start_file("_chat.txt", options).unwrap();
    writer.write_all(CHAT).unwrap();
    writer.start_file("IMG-1.jpg", options).unwrap();
    writer.write_all(b"a photo").unwrap();
    writer.shallow_copy_file("IMG-1.jpg", "IMG-2.jpg").unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    let err = read_zip(Cursor::new(&bytes), &ZipLimits::default()).unwrap_err();
    assert!(err.to_string().contains("share"), "{err}");
}
