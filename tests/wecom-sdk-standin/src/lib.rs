//! A stand-in for WeCom's Session Content Archive SDK
//! (`libWeWorkFinanceSdk_C.so`), which cannot run here: a `cdylib` with the
//! same 17 C exports and struct layouts (sources-deep.md §A.2), serving a
//! scripted archive.
//!
//! `Init`'s `corpid` is the path of a [`Scenario`] (JSON): the messages
//! `GetChatData` pages through (already encrypted, as WeCom serves them),
//! the return codes and JSON `errcode`s to answer first, and the media files
//! `GetMediaData` serves in 512 KB chunks. `DecryptData` opens what [`seal`]
//! closed, and only with the same key: a wrong `encrypt_key` gives 10006,
//! as the vendor's library does.
//!
//! The rlib half gives the tests [`Scenario`] and [`seal`].

// An ABI stand-in is unsafe code by nature: every export takes raw pointers.
#![allow(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::ffi::{CStr, c_char, c_int, c_uint, c_ulonglong};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes of one media chunk, as the vendor's library serves them.
pub const CHUNK: u64 = 512 * 1024;

/// What the stand-in serves, read from the file `Init`'s `corpid` names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scenario {
    /// The archive secret `Init` accepts; any other gives 10004.
    pub secret: String,
    /// Every message in the archive, by `seq`.
    pub chatdata: Vec<ChatData>,
    /// Answers `GetChatData` gives first, one per call, before serving
    /// messages.
    #[serde(default)]
    pub chat_script: Vec<Scripted>,
    /// Media by `sdkfileid`: the file holding its bytes.
    #[serde(default)]
    pub media: BTreeMap<String, PathBuf>,
    /// Return codes `GetMediaData` gives first, one per call (0 serves the
    /// chunk asked for).
    #[serde(default)]
    pub media_script: Vec<i32>,
}

/// One encrypted message as `GetChatData` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatData {
    /// Its place in the archive.
    pub seq: u64,
    /// Its id.
    pub msgid: String,
    /// The key version `encrypt_random_key` was encrypted for.
    pub publickey_ver: u32,
    /// The message key, RSA-encrypted and base64.
    pub encrypt_random_key: String,
    /// The message, [`seal`]ed with the message key.
    pub encrypt_chat_msg: String,
}

/// A scripted answer of `GetChatData`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scripted {
    /// This return code, and no content.
    Ret(i32),
    /// Return code 0 with this `errcode` in the JSON.
    Errcode(i64),
}

/// Encrypts a message the way [`DecryptData`] opens it: base64 of an
/// 8-byte tag and the bytes XORed with a SHA-256 key stream of `key`.
pub fn seal(key: &[u8], plain: &[u8]) -> String {
    let mut out = tag(key, plain).to_vec();
    out.extend(plain.iter().zip(stream(key)).map(|(b, k)| b ^ k));
    STANDARD.encode(out)
}

/// Opens what [`seal`] closed; `None` when the key does not fit.
fn open(key: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(sealed).ok()?;
    let (tag_bytes, body) = bytes.split_at_checked(8)?;
    let plain: Vec<u8> = body.iter().zip(stream(key)).map(|(b, k)| b ^ k).collect();
    (tag(key, &plain) == tag_bytes).then_some(plain)
}

fn tag(key: &[u8], plain: &[u8]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(b"tag")
        .chain_update(key)
        .chain_update(plain)
        .finalize();
    digest[..8].try_into().expect("8 of 32 bytes")
}

fn stream(key: &[u8]) -> impl Iterator<Item = u8> + '_ {
    (0u64..).flat_map(move |block| {
        Sha256::new()
            .chain_update(key)
            .chain_update(block.to_le_bytes())
            .finalize()
            .to_vec()
    })
}

/// `Slice_t`: `{ char *buf; int len; }`.
#[repr(C)]
pub struct Slice {
    buf: *mut c_char,
    len: c_int,
}

/// `MediaData_t`.
#[repr(C)]
pub struct MediaData {
    outindexbuf: *mut c_char,
    out_len: c_int,
    data: *mut c_char,
    data_len: c_int,
    is_finish: c_int,
}

/// `WeWorkFinanceSdk_t`: opaque to the caller.
pub struct Sdk {
    state: Mutex<Option<State>>,
}

struct State {
    scenario: Scenario,
    chat_script: VecDeque<Scripted>,
    media_script: VecDeque<i32>,
}

/// Every SDK instance, slice and media buffer handed out and not yet freed,
/// by address, and the calls that broke the lifecycle (a free of something
/// not live, a call on something destroyed or freed): what the tests check
/// the binding against (`StandinLiveObjects`, `StandinBadCalls`). A broken
/// call is counted and refused, never acted on.
#[derive(Default)]
struct Registry {
    live: std::collections::HashSet<(u8, usize)>,
    made: u64,
    bad: u64,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

const SDK: u8 = 0;
const SLICE: u8 = 1;
const MEDIA: u8 = 2;

fn registry<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut registry = REGISTRY.lock().expect("not poisoned");
    f(registry.get_or_insert_with(Registry::default))
}

fn born<T>(kind: u8, ptr: *mut T) -> *mut T {
    registry(|r| {
        r.made += 1;
        r.live.insert((kind, ptr as usize));
    });
    ptr
}

/// Whether `ptr` is live (null counts as not, and is no misuse).
fn live<T>(kind: u8, ptr: *const T) -> bool {
    if ptr.is_null() {
        return false;
    }
    registry(|r| {
        let live = r.live.contains(&(kind, ptr as usize));
        if !live {
            r.bad += 1;
        }
        live
    })
}

/// Whether `ptr` was live, and is no longer.
fn dies<T>(kind: u8, ptr: *const T) -> bool {
    if ptr.is_null() {
        return false;
    }
    registry(|r| {
        let was = r.live.remove(&(kind, ptr as usize));
        if !was {
            r.bad += 1;
        }
        was
    })
}

/// SDK instances, slices and media buffers made and not yet freed.
#[unsafe(no_mangle)]
pub extern "C" fn StandinLiveObjects() -> u64 {
    registry(|r| r.live.len() as u64)
}

/// SDK instances, slices and media buffers made so far.
#[unsafe(no_mangle)]
pub extern "C" fn StandinObjectsMade() -> u64 {
    registry(|r| r.made)
}

/// Calls that freed something not live or used something freed.
#[unsafe(no_mangle)]
pub extern "C" fn StandinBadCalls() -> u64 {
    registry(|r| r.bad)
}

/// A heap copy of `bytes` with a NUL after them, as the C library returns
/// its buffers; freed by [`free_buf`] with the same length.
fn alloc_buf(bytes: &[u8]) -> (*mut c_char, c_int) {
    let mut owned = bytes.to_vec();
    owned.push(0);
    let len = c_int::try_from(bytes.len()).expect("buffers fit an int");
    (Box::into_raw(owned.into_boxed_slice()).cast(), len)
}

/// Frees a buffer of [`alloc_buf`].
///
/// # Safety
/// `buf` is null or came from `alloc_buf` with this `len`.
unsafe fn free_buf(buf: *mut c_char, len: c_int) {
    if !buf.is_null() {
        let len = usize::try_from(len).expect("a length alloc_buf gave") + 1;
        // SAFETY: the pointer and length are those of a boxed slice (caller's contract).
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buf.cast::<u8>(), len)) });
    }
}

/// # Safety
/// `text` is null or a NUL-terminated string.
unsafe fn text<'a>(text: *const c_char) -> Option<&'a str> {
    if text.is_null() {
        return None;
    }
    // SAFETY: the caller passes a C string.
    unsafe { CStr::from_ptr(text) }.to_str().ok()
}

/// `WeWorkFinanceSdk_t *NewSdk();`
#[unsafe(no_mangle)]
pub extern "C" fn NewSdk() -> *mut Sdk {
    born(
        SDK,
        Box::into_raw(Box::new(Sdk {
            state: Mutex::new(None),
        })),
    )
}

/// `int Init(WeWorkFinanceSdk_t *sdk, const char *corpid, const char *secret);`
///
/// # Safety
/// `sdk` came from `NewSdk`; the strings are C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn Init(
    sdk: *mut Sdk,
    corpid: *const c_char,
    secret: *const c_char,
) -> c_int {
    if !live(SDK, sdk) {
        return 10000;
    }
    // SAFETY: caller's contract.
    let (Some(sdk), Some(path), Some(secret)) =
        (unsafe { sdk.as_ref() }, unsafe { text(corpid) }, unsafe {
            text(secret)
        })
    else {
        return 10000;
    };
    let Some(scenario) = std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Scenario>(&bytes).ok())
    else {
        return 10000;
    };
    if scenario.secret != secret {
        return 10004;
    }
    *sdk.state.lock().expect("not poisoned") = Some(State {
        chat_script: scenario.chat_script.iter().cloned().collect(),
        media_script: scenario.media_script.iter().copied().collect(),
        scenario,
    });
    0
}

/// `int GetChatData(WeWorkFinanceSdk_t *sdk, unsigned long long seq, unsigned int limit, const char *proxy, const char *passwd, int timeout, Slice_t *chatDatas);`
///
/// # Safety
/// `sdk` came from `NewSdk`, `slice` from `NewSlice`; the strings are C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetChatData(
    sdk: *mut Sdk,
    seq: c_ulonglong,
    limit: c_uint,
    proxy: *const c_char,
    passwd: *const c_char,
    timeout: c_int,
    slice: *mut Slice,
) -> c_int {
    if !live(SDK, sdk) || !live(SLICE, slice) {
        return 10000;
    }
    // SAFETY: caller's contract.
    let (Some(sdk), Some(slice)) = (unsafe { sdk.as_ref() }, unsafe { slice.as_mut() }) else {
        return 10000;
    };
    // SAFETY: caller's contract.
    if unsafe { text(proxy) }.is_none() || unsafe { text(passwd) }.is_none() || timeout <= 0 {
        return 10000;
    }
    if limit == 0 || limit > 1000 {
        return 10000;
    }
    let mut state = sdk.state.lock().expect("not poisoned");
    let Some(state) = state.as_mut() else {
        return 10000;
    };
    let json = match state.chat_script.pop_front() {
        Some(Scripted::Ret(code)) => return code,
        Some(Scripted::Errcode(code)) => {
            serde_json::json!({"errcode": code, "errmsg": "api forbidden", "sdk": 0, "chatdata": []})
        }
        None => {
            let page: Vec<&ChatData> = state
                .scenario
                .chatdata
                .iter()
                .filter(|data| data.seq > seq)
                .take(limit as usize)
                .collect();
            serde_json::json!({"errcode": 0, "errmsg": "ok", "chatdata": page})
        }
    };
    let bytes = serde_json::to_vec(&json).expect("JSON serializes");
    // SAFETY: the slice's buffer is null or one of ours.
    unsafe { free_buf(slice.buf, slice.len) };
    (slice.buf, slice.len) = alloc_buf(&bytes);
    0
}

/// `int DecryptData(const char *encrypt_key, const char *encrypt_msg, Slice_t *msg);`
///
/// # Safety
/// The strings are C strings; `slice` came from `NewSlice`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn DecryptData(
    encrypt_key: *const c_char,
    encrypt_msg: *const c_char,
    slice: *mut Slice,
) -> c_int {
    if !live(SLICE, slice) {
        return 10000;
    }
    // SAFETY: caller's contract.
    let (Some(key), Some(msg), Some(slice)) = (
        unsafe { text(encrypt_key) },
        unsafe { text(encrypt_msg) },
        unsafe { slice.as_mut() },
    ) else {
        return 10000;
    };
    if key.is_empty() {
        return 10008;
    }
    let Some(plain) = open(key.as_bytes(), msg.as_bytes()) else {
        return 10006;
    };
    // SAFETY: the slice's buffer is null or one of ours.
    unsafe { free_buf(slice.buf, slice.len) };
    (slice.buf, slice.len) = alloc_buf(&plain);
    0
}

/// `int GetMediaData(WeWorkFinanceSdk_t *sdk, const char *indexbuf, const char *sdkFileid, const char *proxy, const char *passwd, int timeout, MediaData_t *media_data);`
///
/// # Safety
/// `sdk` came from `NewSdk`, `media` from `NewMediaData`; the strings are C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetMediaData(
    sdk: *mut Sdk,
    indexbuf: *const c_char,
    sdkfileid: *const c_char,
    proxy: *const c_char,
    passwd: *const c_char,
    timeout: c_int,
    media: *mut MediaData,
) -> c_int {
    if !live(SDK, sdk) || !live(MEDIA, media) {
        return 10000;
    }
    // SAFETY: caller's contract.
    let (Some(sdk), Some(index), Some(fileid), Some(media)) = (
        unsafe { sdk.as_ref() },
        unsafe { text(indexbuf) },
        unsafe { text(sdkfileid) },
        unsafe { media.as_mut() },
    ) else {
        return 10000;
    };
    // SAFETY: caller's contract.
    if unsafe { text(proxy) }.is_none() || unsafe { text(passwd) }.is_none() || timeout <= 0 {
        return 10000;
    }
    let mut state = sdk.state.lock().expect("not poisoned");
    let Some(state) = state.as_mut() else {
        return 10000;
    };
    match state.media_script.pop_front() {
        Some(0) | None => {}
        Some(code) => return code,
    }
    let Some(path) = state.scenario.media.get(fileid) else {
        return 10005;
    };
    let start = match index {
        "" => 0,
        range => match range
            .strip_prefix("Range:bytes=")
            .and_then(|r| r.split_once('-'))
            .and_then(|(start, _)| start.parse::<u64>().ok())
        {
            Some(start) => start,
            None => return 10000,
        },
    };
    let Ok(file) = File::open(path) else {
        return 10005;
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return 10003;
    };
    let end = (start + CHUNK).min(len);
    let mut chunk = vec![0; usize::try_from(end.saturating_sub(start)).expect("a chunk fits")];
    if file.read_exact_at(&mut chunk, start).is_err() {
        return 10003;
    }
    let next = format!("Range:bytes={end}-{}", end + CHUNK - 1);
    // SAFETY: the buffers are null or ours.
    unsafe {
        free_buf(media.data, media.data_len);
        free_buf(media.outindexbuf, media.out_len);
    }
    (media.data, media.data_len) = alloc_buf(&chunk);
    (media.outindexbuf, media.out_len) = alloc_buf(next.as_bytes());
    media.is_finish = c_int::from(end >= len);
    0
}

/// `void DestroySdk(WeWorkFinanceSdk_t *sdk);`
///
/// # Safety
/// `sdk` came from `NewSdk` and is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn DestroySdk(sdk: *mut Sdk) {
    if dies(SDK, sdk) {
        // SAFETY: caller's contract.
        drop(unsafe { Box::from_raw(sdk) });
    }
}

/// `Slice_t *NewSlice();`
#[unsafe(no_mangle)]
pub extern "C" fn NewSlice() -> *mut Slice {
    born(
        SLICE,
        Box::into_raw(Box::new(Slice {
            buf: std::ptr::null_mut(),
            len: 0,
        })),
    )
}

/// `void FreeSlice(Slice_t *slice);`
///
/// # Safety
/// `slice` came from `NewSlice` and is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FreeSlice(slice: *mut Slice) {
    if dies(SLICE, slice) {
        // SAFETY: caller's contract.
        let slice = unsafe { Box::from_raw(slice) };
        // SAFETY: the buffer is null or ours.
        unsafe { free_buf(slice.buf, slice.len) };
    }
}

/// `char *GetContentFromSlice(Slice_t *slice);`
///
/// # Safety
/// `slice` came from `NewSlice`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetContentFromSlice(slice: *mut Slice) -> *mut c_char {
    // SAFETY: caller's contract.
    unsafe { slice.as_ref() }.map_or(std::ptr::null_mut(), |slice| slice.buf)
}

/// `int GetSliceLen(Slice_t *slice);`
///
/// # Safety
/// `slice` came from `NewSlice`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetSliceLen(slice: *mut Slice) -> c_int {
    // SAFETY: caller's contract.
    unsafe { slice.as_ref() }.map_or(-1, |slice| slice.len)
}

/// `MediaData_t *NewMediaData();`
#[unsafe(no_mangle)]
pub extern "C" fn NewMediaData() -> *mut MediaData {
    born(
        MEDIA,
        Box::into_raw(Box::new(MediaData {
            outindexbuf: std::ptr::null_mut(),
            out_len: 0,
            data: std::ptr::null_mut(),
            data_len: 0,
            is_finish: 0,
        })),
    )
}

/// `void FreeMediaData(MediaData_t *media_data);`
///
/// # Safety
/// `media` came from `NewMediaData` and is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn FreeMediaData(media: *mut MediaData) {
    if dies(MEDIA, media) {
        // SAFETY: caller's contract.
        let media = unsafe { Box::from_raw(media) };
        // SAFETY: the buffers are null or ours.
        unsafe {
            free_buf(media.data, media.data_len);
            free_buf(media.outindexbuf, media.out_len);
        }
    }
}

/// `char *GetOutIndexBuf(MediaData_t *media_data);`
///
/// # Safety
/// `media` came from `NewMediaData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetOutIndexBuf(media: *mut MediaData) -> *mut c_char {
    // SAFETY: caller's contract.
    unsafe { media.as_ref() }.map_or(std::ptr::null_mut(), |media| media.outindexbuf)
}

/// `char *GetData(MediaData_t *media_data);`
///
/// # Safety
/// `media` came from `NewMediaData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetData(media: *mut MediaData) -> *mut c_char {
    // SAFETY: caller's contract.
    unsafe { media.as_ref() }.map_or(std::ptr::null_mut(), |media| media.data)
}

/// `int GetIndexLen(MediaData_t *media_data);`
///
/// # Safety
/// `media` came from `NewMediaData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetIndexLen(media: *mut MediaData) -> c_int {
    // SAFETY: caller's contract.
    unsafe { media.as_ref() }.map_or(-1, |media| media.out_len)
}

/// `int GetDataLen(MediaData_t *media_data);`
///
/// # Safety
/// `media` came from `NewMediaData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetDataLen(media: *mut MediaData) -> c_int {
    // SAFETY: caller's contract.
    unsafe { media.as_ref() }.map_or(-1, |media| media.data_len)
}

/// `int IsMediaDataFinish(MediaData_t *media_data);`
///
/// # Safety
/// `media` came from `NewMediaData`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IsMediaDataFinish(media: *mut MediaData) -> c_int {
    // SAFETY: caller's contract.
    unsafe { media.as_ref() }.map_or(0, |media| media.is_finish)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_messages_open_with_their_key_only() {
        let sealed = seal(b"key-1", "你好 {\"a\":1}".as_bytes());
        assert_eq!(
            open(b"key-1", sealed.as_bytes()).unwrap(),
            "你好 {\"a\":1}".as_bytes()
        );
        assert!(open(b"key-2", sealed.as_bytes()).is_none());
    }

    #[test]
    fn struct_layouts_are_the_headers() {
        assert_eq!(std::mem::size_of::<Slice>(), 16);
        assert_eq!(std::mem::size_of::<MediaData>(), 32);
        assert_eq!(std::mem::offset_of!(MediaData, data), 16);
        assert_eq!(std::mem::offset_of!(MediaData, is_finish), 28);
    }
}
