//! Item ids: stable, derived from the source's own identity of a message,
//! so that collecting the same message again gives the same id (and the
//! same Message-ID), whichever run or process reads it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stable item id: 128 bits of a SHA-256 over the source's own identity of
/// the message, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId([u8; 16]);

impl ItemId {
    /// Derives an id from the parts that identify a message at its source.
    /// Each part is length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn derive(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        ItemId(id)
    }

    /// The id's 32 hex digits.
    pub fn to_hex(&self) -> HexId {
        let mut out = [0u8; 32];
        hex::encode_to_slice(self.0, &mut out).expect("32 bytes hold 16 as hex");
        HexId(out)
    }

    /// Parses 32 hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(ItemId(id))
    }
}

/// The one part of an [`ItemId`], written piece by piece and hashed as
/// [`ItemId::derive`] hashes `&[part]`: its length prefix is kept in front of
/// it, so that the whole input is hashed in one piece (without copying it
/// into the hasher's block buffer).
#[derive(Debug, Clone)]
pub struct IdInput(Vec<u8>);

/// Room for the length prefix at the start of an [`IdInput`].
const LENGTH_PREFIX: usize = 8;

impl IdInput {
    /// An empty part, with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut input = Vec::with_capacity(LENGTH_PREFIX + capacity);
        input.extend_from_slice(&[0; LENGTH_PREFIX]);
        IdInput(input)
    }

    /// Empties the part.
    pub fn clear(&mut self) {
        self.0.truncate(LENGTH_PREFIX);
    }

    /// Appends bytes to the part.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// The id of the part: `ItemId::derive(&[part])`.
    pub fn id(&mut self) -> ItemId {
        let len = (self.0.len() - LENGTH_PREFIX) as u64;
        self.0[..LENGTH_PREFIX].copy_from_slice(&len.to_le_bytes());
        // aws-lc's SHA-256 (already linked for TLS and JWTs) hashes a
        // message's few blocks with less overhead per call than sha2's.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.0);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.as_ref()[..16]);
        ItemId(id)
    }
}

/// An [`ItemId`] formatted as hex without allocating. The JSON lines writer
/// copies the digits as they are.
pub struct HexId(pub(super) [u8; 32]);

impl HexId {
    /// The hex digits as a string slice.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_hex().as_str())
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemId({self})")
    }
}

impl Serialize for ItemId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.to_hex().as_str())
    }
}

impl<'de> Deserialize<'de> for ItemId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Cow<'de, str> = Deserialize::deserialize(d)?;
        ItemId::parse(&s).ok_or_else(|| de::Error::custom("item id must be 32 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_inputs_give_the_ids_of_one_part() {
        let mut input = IdInput::with_capacity(4);
        let bytes: Vec<u8> = (0..300u32).map(|n| (n * 7) as u8).collect();
        for len in 0..bytes.len() {
            input.clear();
            let (a, b) = bytes[..len].split_at(len / 3);
            input.extend(a);
            input.extend(b);
            assert_eq!(input.id(), ItemId::derive(&[&bytes[..len]]), "{len} bytes");
        }
    }

    #[test]
    fn ids_are_length_prefixed_and_parse_back() {
        let a = ItemId::derive(&[b"ab", b"c"]);
        let b = ItemId::derive(&[b"a", b"bc"]);
        assert_ne!(a, b);
        assert_eq!(ItemId::parse(&a.to_string()), Some(a));
        assert_eq!(ItemId::parse("zz"), None);
    }
}
