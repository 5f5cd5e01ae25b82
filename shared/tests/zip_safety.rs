//! Export zips: media linked by name, and every unsafe or oversized archive refused.

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
        ("notes.txt", b"a shared text document"),
    ]);
    let bundle = read_zip(&bytes, &ZipLimits::default()).unwrap();
    assert_eq!(bundle.chat_name, "_chat.txt");
    assert_eq!(bundle.chat_text.as_bytes(), CHAT);
    assert_eq!(
        bundle.title_name("WhatsApp Chat - Desk.zip"),
        "WhatsApp Chat - Desk.zip"
    );
    let names: Vec<_> = bundle.media.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["00000003-PHOTO-2026-11-10-14-02-18.jpg", "notes.txt"]
    );
    // sha256("jpeg bytes"), computed with sha256sum
    assert_eq!(
        bundle.media[0].sha256,
        "1b48e21282963dfba2ffff3a4c331471242fe42fd0a51161e56df72085c445c9"
    );
    let refs = bundle.media_refs();
    let photo = &refs["00000003-PHOTO-2026-11-10-14-02-18.jpg"];
    assert_eq!(photo.size, 10);
    assert_eq!(photo.content_type, "image/jpeg");
    assert_eq!(photo.object_key, format!("media/{}", photo.sha256));
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
    let bundle = read_zip(&bytes, &ZipLimits::default()).unwrap();
    assert_eq!(
        bundle.title_name("export.zip"),
        "WhatsApp Chat with Bob.txt"
    );
    assert_eq!(bundle.media.len(), 1);
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
        match read_zip(&bytes, &ZipLimits::default()) {
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
    match read_zip(&bytes, &ZipLimits::default()) {
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
        read_zip(&bytes, &limits),
        Err(ZipError::TooLarge { limit: 6000 })
    ));
    let roomy = ZipLimits {
        max_total_bytes: 10_000,
        ..ZipLimits::default()
    };
    assert_eq!(read_zip(&bytes, &roomy).unwrap().media.len(), 2);
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
        read_zip(&bytes, &limits),
        Err(ZipError::TooManyEntries {
            count: 21,
            limit: 10
        })
    ));
}

#[test]
fn reports_garbage_and_missing_chat_clearly() {
    let err = read_zip(b"PK\x03\x04 definitely not a zip", &ZipLimits::default()).unwrap_err();
    assert!(matches!(err, ZipError::Malformed(_)), "{err:?}");
    assert!(err.to_string().starts_with("not a readable zip archive"));

    let bytes = make_zip(&[("a.jpg", b"x"), ("b.txt", b"x"), ("c.txt", b"y")]);
    assert!(matches!(
        read_zip(&bytes, &ZipLimits::default()),
        Err(ZipError::NoChat)
    ));

    let bytes = make_zip(&[("_chat.txt", b"\xff\xfe not utf-8")]);
    assert!(matches!(
        read_zip(&bytes, &ZipLimits::default()),
        Err(ZipError::NotUtf8(name)) if name == "_chat.txt"
    ));
}
