//! Every SDK instance, slice and media buffer the binding asks the SDK for
//! is freed exactly once, whatever the call answered (content, an error
//! code, an input refused), and nothing is used after it is freed or
//! destroyed: the stand-in keeps count of what is live and of misuses. Its
//! own test binary, so that no other test's objects are in the counts.

// The counters live in the dynamically loaded stand-in (the rlib linked
// into this binary has statics of its own), so they are read through
// libloading, which is unsafe.
#![allow(unsafe_code)]

mod support;

use shared::secrets::Secret;
use shared::sources::wecom::sdk::{Library, Network, Sdk};
use wecom_sdk_standin::{CHUNK, ChatData, Scenario, Scripted};

use support::wecom::{standin_library, write_scenario};

/// The stand-in's own counters, read through a second handle on the same
/// library (the same statics).
fn counts() -> (u64, u64, u64) {
    // SAFETY: the tests' stand-in; no initialisers with preconditions.
    let library = unsafe { libloading::Library::new(standin_library()) }.unwrap();
    // SAFETY: the stand-in's signatures of these exports.
    unsafe {
        let live = library
            .get::<extern "C" fn() -> u64>(b"StandinLiveObjects")
            .unwrap();
        let made = library
            .get::<extern "C" fn() -> u64>(b"StandinObjectsMade")
            .unwrap();
        let bad = library
            .get::<extern "C" fn() -> u64>(b"StandinBadCalls")
            .unwrap();
        (live(), made(), bad())
    }
}

#[test]
fn every_slice_media_buffer_and_instance_is_freed_once_and_never_used_after() {
    let dir = tempfile::tempdir().unwrap();
    let content = vec![7u8; CHUNK as usize + 5];
    let file = dir.path().join("media.bin");
    std::fs::write(&file, &content).unwrap();
    let message_key = "k";
    let scenario = Scenario {
        secret: "archive-secret".to_owned(),
        chatdata: vec![ChatData {
            seq: 1,
            msgid: "msg1".to_owned(),
            publickey_ver: 1,
            encrypt_random_key: String::new(),
            encrypt_chat_msg: wecom_sdk_standin::seal(message_key.as_bytes(), b"{}"),
        }],
        chat_script: vec![Scripted::Ret(10001)],
        media: [("file-1".to_owned(), file)].into(),
        media_script: vec![10002],
    };
    let corp = write_scenario(dir.path(), &scenario);
    let library = Library::load(&standin_library()).unwrap();
    {
        // Init refused: the instance is destroyed.
        let err = Sdk::new(library.clone(), &corp, &Secret::new("wrong")).unwrap_err();
        assert_eq!(err.code(), Some(10004));
        let sdk = Sdk::new(library.clone(), &corp, &Secret::new("archive-secret")).unwrap();
        let net = Network::default();
        // An error code, then a page.
        assert_eq!(sdk.chat_data(0, 10, &net).unwrap_err().code(), Some(10001));
        let page: serde_json::Value =
            serde_json::from_slice(&sdk.chat_data(0, 10, &net).unwrap()).unwrap();
        let sealed = page["chatdata"][0]["encrypt_chat_msg"].as_str().unwrap();
        // A decryption, a refused one, one refused before the call.
        assert_eq!(library.decrypt(b"k", sealed).unwrap(), b"{}");
        assert_eq!(
            library.decrypt(b"x", sealed).unwrap_err().code(),
            Some(10006)
        );
        assert!(library.decrypt(b"k\0", sealed).is_err());
        // Media: an error code, then two chunks, then an unknown file.
        assert_eq!(
            sdk.media_chunk("", "file-1", &net).unwrap_err().code(),
            Some(10002)
        );
        let first = sdk.media_chunk("", "file-1", &net).unwrap();
        let last = sdk.media_chunk(&first.next_index, "file-1", &net).unwrap();
        assert!(!first.finished && last.finished);
        assert_eq!(first.data.len() + last.data.len(), content.len());
        assert!(sdk.media_chunk("", "nothing", &net).is_err());
        // While the instance lives it is the only object left.
        assert_eq!(counts().0, 1);
    }
    let (live, made, bad) = counts();
    assert_eq!(made, 10, "2 instances, 4 slices, 4 media buffers");
    assert_eq!((live, bad), (0, 0), "live objects, misuses");
}
