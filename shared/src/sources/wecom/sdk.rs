//! The binding to WeCom's Session Content Archive SDK
//! (`libWeWorkFinanceSdk_C.so`), the vendor's closed C library: its 17
//! exports (sources-deep.md §A.2), loaded at run time from a configured
//! path (a Lambda layer in AWS), so that the archiver builds, tests and runs
//! without it. All the unsafe code of the WeCom source is here.
//!
//! What the safe side guarantees:
//! - A missing library or a missing export is a clear error naming the path
//!   and the symbol ([`SdkError::Load`], [`SdkError::Symbol`]), raised when
//!   the library is loaded, never at a call.
//! - Every slice and media buffer the library allocates is freed by a guard
//!   (`FreeSlice`, `FreeMediaData` in `Drop`), whatever happens after.
//! - An SDK instance ([`Sdk`]) is created and initialised once
//!   (`NewSdk` + `Init`, `DestroySdk` when `Init` fails), destroyed when
//!   dropped and so never used after `DestroySdk`. It is not `Sync`: one
//!   caller at a time, as the vendor's demo asks ("one instance per
//!   thread").
//! - Content is read by its length (`GetSliceLen`, `GetDataLen`,
//!   `GetIndexLen`), never as a C string: decrypted messages and media are
//!   bytes.
//! - Inputs holding a NUL byte are refused ([`SdkError::Nul`]) rather than
//!   cut short.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_uint, c_ulonglong, c_void};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

/// `Slice_t` (`{ char *buf; int len; }`), opaque here: only the library
/// allocates it and it is read through the exports.
#[repr(C)]
struct RawSlice {
    _opaque: [u8; 0],
}

/// `MediaData_t`, opaque here like [`RawSlice`].
#[repr(C)]
struct RawMediaData {
    _opaque: [u8; 0],
}

type NewSdkFn = unsafe extern "C" fn() -> *mut c_void;
type InitFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> c_int;
type GetChatDataFn = unsafe extern "C" fn(
    *mut c_void,
    c_ulonglong,
    c_uint,
    *const c_char,
    *const c_char,
    c_int,
    *mut RawSlice,
) -> c_int;
type DecryptDataFn = unsafe extern "C" fn(*const c_char, *const c_char, *mut RawSlice) -> c_int;
type GetMediaDataFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    c_int,
    *mut RawMediaData,
) -> c_int;
type DestroySdkFn = unsafe extern "C" fn(*mut c_void);
type NewSliceFn = unsafe extern "C" fn() -> *mut RawSlice;
type FreeSliceFn = unsafe extern "C" fn(*mut RawSlice);
type SliceContentFn = unsafe extern "C" fn(*mut RawSlice) -> *mut c_char;
type SliceLenFn = unsafe extern "C" fn(*mut RawSlice) -> c_int;
type NewMediaDataFn = unsafe extern "C" fn() -> *mut RawMediaData;
type FreeMediaDataFn = unsafe extern "C" fn(*mut RawMediaData);
type MediaBufFn = unsafe extern "C" fn(*mut RawMediaData) -> *mut c_char;
type MediaIntFn = unsafe extern "C" fn(*mut RawMediaData) -> c_int;

/// The 17 exports, resolved when the library is loaded.
struct Exports {
    new_sdk: NewSdkFn,
    init: InitFn,
    get_chat_data: GetChatDataFn,
    decrypt_data: DecryptDataFn,
    get_media_data: GetMediaDataFn,
    destroy_sdk: DestroySdkFn,
    new_slice: NewSliceFn,
    free_slice: FreeSliceFn,
    get_content_from_slice: SliceContentFn,
    get_slice_len: SliceLenFn,
    new_media_data: NewMediaDataFn,
    free_media_data: FreeMediaDataFn,
    get_out_index_buf: MediaBufFn,
    get_data: MediaBufFn,
    get_index_len: MediaIntFn,
    get_data_len: MediaIntFn,
    is_media_data_finish: MediaIntFn,
}

/// The export names, in the header's order.
pub const EXPORTS: [&str; 17] = [
    "NewSdk",
    "Init",
    "GetChatData",
    "DecryptData",
    "GetMediaData",
    "DestroySdk",
    "NewSlice",
    "FreeSlice",
    "GetContentFromSlice",
    "GetSliceLen",
    "NewMediaData",
    "FreeMediaData",
    "GetOutIndexBuf",
    "GetData",
    "GetIndexLen",
    "GetDataLen",
    "IsMediaDataFinish",
];

/// What went wrong with the SDK; names the library, the export or the
/// input, never a message's content.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The library cannot be loaded (absent, not a library, missing its own
    /// dependencies).
    #[error("WeCom SDK library {}: cannot be loaded: {reason}", .path.display())]
    Load {
        /// The configured path.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// The library lacks one of the 17 exports (not the vendor's SDK, or a
    /// version that changed its interface).
    #[error("WeCom SDK library {}: has no export {symbol}: {reason}", .path.display())]
    Symbol {
        /// The configured path.
        path: PathBuf,
        /// The export's name.
        symbol: &'static str,
        /// What the dynamic loader said.
        reason: String,
    },
    /// An input holds a NUL byte, which a C string cannot carry.
    #[error("the {0} holds a NUL byte; the WeCom SDK cannot take it")]
    Nul(&'static str),
    /// An export answered with a non-zero return code.
    #[error("WeCom SDK {function} returned {code} ({})", meaning(*.code))]
    Code {
        /// The export called.
        function: &'static str,
        /// Its return code (sources-deep.md §A.5).
        code: i32,
    },
    /// An export answered with something the header rules out (a null
    /// pointer, a negative length).
    #[error("WeCom SDK {function}: {what}")]
    Broken {
        /// The export called.
        function: &'static str,
        /// What it answered.
        what: &'static str,
    },
}

impl SdkError {
    /// The SDK's return code, for [`SdkError::Code`].
    pub fn code(&self) -> Option<i32> {
        match self {
            SdkError::Code { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the same call may succeed if retried: the network, parse
    /// and system failures 10001-10003 ("可以重试").
    pub fn is_transient(&self) -> bool {
        self.code()
            .is_some_and(|code| (10001..=10003).contains(&code))
    }
}

/// What a return code of the SDK means (the header's list).
pub fn meaning(code: i32) -> &'static str {
    match code {
        10000 => "bad parameters",
        10001 => "network error",
        10002 => "response parse failure",
        10003 => "system failure",
        10004 => "key error: check the archive secret",
        10005 => "bad sdkfileid",
        10006 => "decryption failed",
        10007 => "no private key for the message's key version",
        10008 => "could not parse encrypt_key",
        10009 => "IP not allowed: add the egress IP to WeCom's trusted list",
        10010 => "data expired: past WeCom's retention window",
        10011 => "certificate error",
        _ => "not a documented code",
    }
}

/// The loaded library. Shared ([`Arc`]) by its SDK instance and the
/// decryption, which takes no instance.
pub struct Library {
    path: PathBuf,
    exports: Exports,
    // Last: the exports point into it.
    _library: libloading::Library,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("path", &self.path).finish()
    }
}

impl Library {
    /// Loads the library at `path` and resolves its 17 exports.
    pub fn load(path: &Path) -> Result<Arc<Library>, SdkError> {
        // SAFETY: loading runs the library's initialisers; the path is the
        // operator's configured SDK (the vendor's library or the tests'
        // stand-in), which has no initialisers with preconditions.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| SdkError::Load {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let exports = Exports {
            new_sdk: export(&library, path, EXPORTS[0])?,
            init: export(&library, path, EXPORTS[1])?,
            get_chat_data: export(&library, path, EXPORTS[2])?,
            decrypt_data: export(&library, path, EXPORTS[3])?,
            get_media_data: export(&library, path, EXPORTS[4])?,
            destroy_sdk: export(&library, path, EXPORTS[5])?,
            new_slice: export(&library, path, EXPORTS[6])?,
            free_slice: export(&library, path, EXPORTS[7])?,
            get_content_from_slice: export(&library, path, EXPORTS[8])?,
            get_slice_len: export(&library, path, EXPORTS[9])?,
            new_media_data: export(&library, path, EXPORTS[10])?,
            free_media_data: export(&library, path, EXPORTS[11])?,
            get_out_index_buf: export(&library, path, EXPORTS[12])?,
            get_data: export(&library, path, EXPORTS[13])?,
            get_index_len: export(&library, path, EXPORTS[14])?,
            get_data_len: export(&library, path, EXPORTS[15])?,
            is_media_data_finish: export(&library, path, EXPORTS[16])?,
        };
        Ok(Arc::new(Library {
            path: path.to_owned(),
            exports,
            _library: library,
        }))
    }

    /// The path it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `DecryptData`: the message `encrypt_chat_msg` decrypted with the
    /// message key `encrypt_key` (the RSA step's plaintext), as bytes.
    pub fn decrypt(&self, encrypt_key: &[u8], encrypt_msg: &str) -> Result<Vec<u8>, SdkError> {
        // The key is secret: our copy is cleared however this ends.
        let key = secret_c_string(encrypt_key, "message key (encrypt_key)")?;
        let msg = c_string(
            encrypt_msg.as_bytes(),
            "encrypted message (encrypt_chat_msg)",
        )?;
        let slice = SliceGuard::new(self)?;
        // SAFETY: the header's signature; both strings are NUL-terminated
        // (`key` by `secret_c_string`) and outlive the call, the slice is
        // live (its guard).
        let code = unsafe {
            (self.exports.decrypt_data)(key.as_ptr().cast::<c_char>(), msg.as_ptr(), slice.raw)
        };
        check("DecryptData", code)?;
        slice.content("DecryptData")
    }
}

/// Resolves one export.
fn export<T: Copy>(
    library: &libloading::Library,
    path: &Path,
    name: &'static str,
) -> Result<T, SdkError> {
    // SAFETY: every `T` asked for is the header's signature of `name`
    // (sources-deep.md §A.2); the pointer is kept only beside the library.
    let symbol = unsafe { library.get::<T>(name.as_bytes()) };
    symbol.map(|symbol| *symbol).map_err(|e| SdkError::Symbol {
        path: path.to_owned(),
        symbol: name,
        reason: e.to_string(),
    })
}

/// A C string of `bytes`, refused when they hold a NUL.
fn c_string(bytes: &[u8], what: &'static str) -> Result<CString, SdkError> {
    CString::new(bytes).map_err(|_| SdkError::Nul(what))
}

/// A secret as a C string (its bytes and a NUL), zeroized when dropped;
/// refused, before any copy is made, when it holds a NUL.
fn secret_c_string(
    bytes: &[u8],
    what: &'static str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, SdkError> {
    if bytes.contains(&0) {
        return Err(SdkError::Nul(what));
    }
    let mut c = zeroize::Zeroizing::new(Vec::with_capacity(bytes.len() + 1));
    c.extend_from_slice(bytes);
    c.push(0);
    Ok(c)
}

/// 0 or the error naming the export and its code.
fn check(function: &'static str, code: c_int) -> Result<(), SdkError> {
    match code {
        0 => Ok(()),
        code => Err(SdkError::Code { function, code }),
    }
}

/// Copies `len` bytes at `ptr` (a buffer of the library).
///
/// # Safety
/// `ptr` is null or points at `len` readable bytes.
unsafe fn copy_out(
    ptr: *const c_char,
    len: c_int,
    function: &'static str,
) -> Result<Vec<u8>, SdkError> {
    let len = usize::try_from(len).map_err(|_| SdkError::Broken {
        function,
        what: "a negative length",
    })?;
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(SdkError::Broken {
            function,
            what: "no buffer for a non-zero length",
        });
    }
    // SAFETY: non-null and `len` bytes long (the caller's contract).
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }.to_vec())
}

/// A `Slice_t` of the library, freed when dropped.
struct SliceGuard<'l> {
    library: &'l Library,
    raw: *mut RawSlice,
}

impl<'l> SliceGuard<'l> {
    fn new(library: &'l Library) -> Result<Self, SdkError> {
        // SAFETY: the header's signature; no arguments.
        let raw = unsafe { (library.exports.new_slice)() };
        if raw.is_null() {
            return Err(SdkError::Broken {
                function: "NewSlice",
                what: "a null slice",
            });
        }
        Ok(SliceGuard { library, raw })
    }

    /// The content, read by its length.
    fn content(&self, function: &'static str) -> Result<Vec<u8>, SdkError> {
        let exports = &self.library.exports;
        // SAFETY: the slice is live (this guard) and the library filled it.
        let (ptr, len) = unsafe {
            (
                (exports.get_content_from_slice)(self.raw),
                (exports.get_slice_len)(self.raw),
            )
        };
        // SAFETY: the library's buffer of `len` bytes, live until FreeSlice.
        unsafe { copy_out(ptr, len, function) }
    }
}

impl Drop for SliceGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: made by NewSlice, freed once, here.
        unsafe { (self.library.exports.free_slice)(self.raw) }
    }
}

/// A `MediaData_t` of the library, freed when dropped.
struct MediaGuard<'l> {
    library: &'l Library,
    raw: *mut RawMediaData,
}

impl<'l> MediaGuard<'l> {
    fn new(library: &'l Library) -> Result<Self, SdkError> {
        // SAFETY: the header's signature; no arguments.
        let raw = unsafe { (library.exports.new_media_data)() };
        if raw.is_null() {
            return Err(SdkError::Broken {
                function: "NewMediaData",
                what: "a null media buffer",
            });
        }
        Ok(MediaGuard { library, raw })
    }
}

impl Drop for MediaGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: made by NewMediaData, freed once, here.
        unsafe { (self.library.exports.free_media_data)(self.raw) }
    }
}

/// How the SDK reaches WeCom: a proxy (empty for none) and a timeout.
#[derive(Debug, Clone)]
pub struct Network {
    /// `socks5://10.0.0.1:8081`, `http://…`, or empty.
    pub proxy: String,
    /// The proxy's `user:password`, or empty.
    pub passwd: crate::secrets::Secret,
    /// Seconds a call may take (the demo advises 5 for `GetChatData`).
    pub timeout_secs: u32,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            proxy: String::new(),
            passwd: crate::secrets::Secret::new(""),
            timeout_secs: 5,
        }
    }
}

/// The C forms of a [`Network`].
struct CNetwork {
    proxy: CString,
    passwd: zeroize::Zeroizing<Vec<u8>>,
    timeout: c_int,
}

impl CNetwork {
    fn new(network: &Network) -> Result<Self, SdkError> {
        Ok(CNetwork {
            proxy: c_string(network.proxy.as_bytes(), "proxy")?,
            passwd: secret_c_string(network.passwd.expose().as_bytes(), "proxy password")?,
            timeout: c_int::try_from(network.timeout_secs).unwrap_or(c_int::MAX),
        })
    }
}

/// One chunk of a media file (`GetMediaData`).
#[derive(Debug)]
pub struct MediaChunk {
    /// Its bytes (at most 512 KB).
    pub data: Vec<u8>,
    /// The `indexbuf` that asks for the next chunk (`outindexbuf`).
    pub next_index: String,
    /// Whether this was the last chunk.
    pub finished: bool,
}

/// An initialised SDK instance; destroyed (`DestroySdk`) when dropped.
pub struct Sdk {
    library: Arc<Library>,
    raw: NonNull<c_void>,
}

impl std::fmt::Debug for Sdk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sdk")
            .field("library", &self.library.path)
            .finish()
    }
}

// SAFETY: the vendor allows an instance on any thread as long as one
// thread uses it at a time ("每个线程持有一个sdk实例"); `Sdk` is not `Sync`,
// so it is used by one caller at a time wherever it moves.
unsafe impl Send for Sdk {}

impl Sdk {
    /// `NewSdk` and `Init` with the corp id and the archive secret;
    /// `DestroySdk` if `Init` fails.
    pub fn new(
        library: Arc<Library>,
        corp_id: &str,
        secret: &crate::secrets::Secret,
    ) -> Result<Sdk, SdkError> {
        let corp = c_string(corp_id.as_bytes(), "corp id")?;
        let secret = secret_c_string(secret.expose().as_bytes(), "archive secret")?;
        // SAFETY: the header's signature; no arguments.
        let raw = NonNull::new(unsafe { (library.exports.new_sdk)() }).ok_or(SdkError::Broken {
            function: "NewSdk",
            what: "a null instance",
        })?;
        // Destroyed on any error from here on.
        let sdk = Sdk { library, raw };
        // SAFETY: a live instance and two NUL-terminated strings that
        // outlive the call.
        let code = unsafe {
            (sdk.library.exports.init)(
                sdk.raw.as_ptr(),
                corp.as_ptr(),
                secret.as_ptr().cast::<c_char>(),
            )
        };
        check("Init", code)?;
        Ok(sdk)
    }

    /// The library this instance belongs to (for [`Library::decrypt`]).
    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    /// `GetChatData`: the JSON listing up to `limit` messages after `seq`.
    pub fn chat_data(&self, seq: u64, limit: u32, network: &Network) -> Result<Vec<u8>, SdkError> {
        let net = CNetwork::new(network)?;
        let slice = SliceGuard::new(&self.library)?;
        // SAFETY: a live instance, NUL-terminated strings that outlive the
        // call, a live slice (its guard).
        let code = unsafe {
            (self.library.exports.get_chat_data)(
                self.raw.as_ptr(),
                seq,
                limit,
                net.proxy.as_ptr(),
                net.passwd.as_ptr().cast::<c_char>(),
                net.timeout,
                slice.raw,
            )
        };
        check("GetChatData", code)?;
        slice.content("GetChatData")
    }

    /// `GetMediaData`: the chunk of `sdkfileid` that `index` asks for (empty
    /// for the first).
    pub fn media_chunk(
        &self,
        index: &str,
        sdkfileid: &str,
        network: &Network,
    ) -> Result<MediaChunk, SdkError> {
        let index = c_string(index.as_bytes(), "media index (indexbuf)")?;
        let fileid = c_string(sdkfileid.as_bytes(), "media id (sdkfileid)")?;
        let net = CNetwork::new(network)?;
        let media = MediaGuard::new(&self.library)?;
        let exports = &self.library.exports;
        // SAFETY: a live instance, NUL-terminated strings that outlive the
        // call (indexbuf before sdkFileid, as the header has them), a live
        // media buffer (its guard).
        let code = unsafe {
            (exports.get_media_data)(
                self.raw.as_ptr(),
                index.as_ptr(),
                fileid.as_ptr(),
                net.proxy.as_ptr(),
                net.passwd.as_ptr().cast::<c_char>(),
                net.timeout,
                media.raw,
            )
        };
        check("GetMediaData", code)?;
        // SAFETY: a live media buffer the library filled.
        let (data, data_len, out, out_len, finish) = unsafe {
            (
                (exports.get_data)(media.raw),
                (exports.get_data_len)(media.raw),
                (exports.get_out_index_buf)(media.raw),
                (exports.get_index_len)(media.raw),
                (exports.is_media_data_finish)(media.raw),
            )
        };
        // SAFETY: the library's buffers of those lengths, live until FreeMediaData.
        let data = unsafe { copy_out(data, data_len, "GetData") }?;
        // SAFETY: as above.
        let next = unsafe { copy_out(out, out_len, "GetOutIndexBuf") }?;
        let next_index = String::from_utf8(next).map_err(|_| SdkError::Broken {
            function: "GetOutIndexBuf",
            what: "an index that is not text",
        })?;
        Ok(MediaChunk {
            data,
            next_index,
            finished: finish == 1,
        })
    }
}

impl Drop for Sdk {
    fn drop(&mut self) {
        // SAFETY: made by NewSdk, destroyed once, here; never used after.
        unsafe { (self.library.exports.destroy_sdk)(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_parse_and_system_failures_are_retried() {
        let code = |code| SdkError::Code {
            function: "GetChatData",
            code,
        };
        assert!(code(10001).is_transient() && code(10003).is_transient());
        assert!(!code(10000).is_transient() && !code(10010).is_transient());
        assert!(code(10010).to_string().contains("data expired"));
    }

    #[test]
    fn secrets_become_c_strings_without_a_copy_left_behind() {
        let c = secret_c_string(b"key", "message key").unwrap();
        assert_eq!(c.as_slice(), b"key\0");
        assert!(matches!(
            secret_c_string(b"k\0y", "message key"),
            Err(SdkError::Nul("message key"))
        ));
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        zeroized_on_drop(&c);
        zeroized_on_drop(&crate::secrets::Secret::new("archive secret"));
    }

    #[test]
    fn a_missing_library_names_its_path() {
        let err = Library::load(Path::new("/nonexistent/libWeWorkFinanceSdk_C.so")).unwrap_err();
        assert!(matches!(err, SdkError::Load { .. }));
        assert!(
            err.to_string()
                .contains("/nonexistent/libWeWorkFinanceSdk_C.so"),
            "{err}"
        );
    }
}
