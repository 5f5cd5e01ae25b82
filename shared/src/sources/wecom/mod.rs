//! The WeCom Session Content Archive (会话内容存档): WeChat and WeCom
//! conversations pulled through the vendor's C SDK.
//!
//! - `sdk`: the binding to the SDK's 17 exports, loaded at run time.
//! - `keys`: the RSA step, message keys from the private key of each
//!   message's key version.

pub mod keys;
pub mod sdk;
