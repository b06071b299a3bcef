//! The object store (docs/PROTOCOL.md §3 "Object model", §3.8 "Limits"): up to 256 objects keyed by
//! (id, type), their sequence numbers, storage accounting for GET_STORAGE_INFO, and the
//! access-control rules every command applies to the session's authentication key.

use std::collections::BTreeMap;

use yhsm_proto::command::StorageInfo;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::wrap::Body;
use yhsm_proto::{
    Algorithm, Capabilities, Domains, Label, ObjectId, ObjectInfo, ObjectType, Origin,
};

/// How many objects a device holds.
pub const MAX_OBJECTS: usize = 256;
/// Storage pages a device has (Yubico's command reference: `get storage` on a fresh device
/// shows 1023/1024 free pages of 126 bytes).
pub const TOTAL_PAGES: usize = 1024;
/// Bytes per storage page.
pub const PAGE_SIZE: usize = 126;

/// One stored object. `body` is the key material in the layout of a wrapped body
/// (docs/PROTOCOL.md §5), so export and import are a copy; its length is the object's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub id: ObjectId,
    pub object_type: ObjectType,
    pub algorithm: Algorithm,
    pub label: Label,
    pub domains: Domains,
    pub capabilities: Capabilities,
    /// Delegated capabilities (authentication, wrap and public wrap keys; none otherwise).
    pub delegated: Capabilities,
    pub sequence: u8,
    pub origin: Origin,
    pub body: Body,
}

impl Object {
    /// The body length, as GET_OBJECT_INFO reports it: the length of a default export's
    /// body (an ed25519 key counts 96 bytes even when the seed is kept for format 1).
    pub fn len(&self) -> usize {
        match &self.body {
            Body::Ed25519 { .. } => 96,
            body => body.encoded_len(),
        }
    }

    /// Whether the body is empty (never for a stored object).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The 66-byte description GET_OBJECT_INFO returns.
    pub fn info(&self) -> ObjectInfo {
        ObjectInfo {
            capabilities: self.capabilities,
            id: self.id,
            length: u16::try_from(self.len()).unwrap_or(u16::MAX),
            domains: self.domains,
            object_type: self.object_type,
            algorithm: self.algorithm,
            sequence: self.sequence,
            origin: self.origin,
            label: self.label,
            delegated_capabilities: self.delegated,
        }
    }

    /// Storage pages the object takes: at least one.
    pub fn pages(&self) -> usize {
        self.len().div_ceil(PAGE_SIZE).max(1)
    }
}

/// What the session's authentication key allows: cached when the session opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authority {
    pub key_id: ObjectId,
    pub capabilities: Capabilities,
    pub delegated: Capabilities,
    pub domains: Domains,
}

impl Authority {
    /// The command needs `cap` on the authentication key.
    pub fn require(&self, cap: Capabilities) -> Result<(), ErrorCode> {
        if self.capabilities.contains(cap) {
            Ok(())
        } else {
            Err(ErrorCode::INSUFFICIENT_PERMISSIONS)
        }
    }

    /// An object is visible when it shares a domain with the authentication key.
    pub fn sees(&self, object: &Object) -> bool {
        self.domains.intersects(object.domains)
    }

    /// A new object's domains must be non-empty and within the key's domains; its
    /// capabilities (and delegated capabilities) within the key's delegated capabilities.
    pub fn may_create(
        &self,
        domains: Domains,
        capabilities: Capabilities,
        delegated: Capabilities,
    ) -> Result<(), ErrorCode> {
        if domains.is_empty() {
            return Err(ErrorCode::INVALID_DATA);
        }
        if !self.domains.contains(domains)
            || !self.delegated.contains(capabilities)
            || !self.delegated.contains(delegated)
        {
            return Err(ErrorCode::INSUFFICIENT_PERMISSIONS);
        }
        Ok(())
    }
}

/// The objects of one device and the sequence counters of every (id, type) ever created.
#[derive(Clone, Debug, Default)]
pub struct Store {
    objects: BTreeMap<(ObjectId, u8), Object>,
    /// The sequence the next object created with this (id, type) gets; survives deletion.
    next_sequence: BTreeMap<(ObjectId, u8), u8>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The object (id, type), if present.
    pub fn get(&self, id: ObjectId, object_type: ObjectType) -> Option<&Object> {
        self.objects.get(&(id, object_type.0))
    }

    /// The object (id, type) when it exists and `auth` may see it; object-not-found
    /// otherwise (the device does not tell an invisible object from a missing one).
    pub fn visible(
        &self,
        auth: &Authority,
        id: ObjectId,
        object_type: ObjectType,
    ) -> Result<&Object, ErrorCode> {
        self.get(id, object_type).filter(|o| auth.sees(o)).ok_or(ErrorCode::OBJECT_NOT_FOUND)
    }

    /// Mutable access to an object.
    pub fn get_mut(&mut self, id: ObjectId, object_type: ObjectType) -> Option<&mut Object> {
        self.objects.get_mut(&(id, object_type.0))
    }

    /// Every object, ordered by id then type.
    pub fn iter(&self) -> impl Iterator<Item = &Object> {
        self.objects.values()
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Pages in use.
    pub fn used_pages(&self) -> usize {
        self.objects.values().map(Object::pages).sum()
    }

    /// The answer to GET_STORAGE_INFO.
    pub fn storage_info(&self) -> StorageInfo {
        let n = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        StorageInfo {
            total_records: n(MAX_OBJECTS),
            free_records: n(MAX_OBJECTS.saturating_sub(self.len())),
            total_pages: n(TOTAL_PAGES),
            free_pages: n(TOTAL_PAGES.saturating_sub(self.used_pages())),
            page_size: n(PAGE_SIZE),
        }
    }

    /// The sequence number an object created now as (id, type) gets.
    pub fn sequence_for(&self, id: ObjectId, object_type: ObjectType) -> u8 {
        self.next_sequence.get(&(id, object_type.0)).copied().unwrap_or(0)
    }

    /// Whether id `id` is free for `object_type`.
    pub fn is_free(&self, id: ObjectId, object_type: ObjectType) -> bool {
        !self.objects.contains_key(&(id, object_type.0))
    }

    /// Checks that `object` can be stored: object-exists for a taken (id, type),
    /// storage-failed when records or pages run out.
    pub fn check_room(&self, object: &Object) -> Result<(), ErrorCode> {
        if !self.is_free(object.id, object.object_type) {
            return Err(ErrorCode::OBJECT_EXISTS);
        }
        if self.len() >= MAX_OBJECTS || self.used_pages() + object.pages() > TOTAL_PAGES {
            return Err(ErrorCode::STORAGE_FAILED);
        }
        Ok(())
    }

    /// Stores `object` (after [`Store::check_room`]) and advances the sequence counter of
    /// its (id, type) past the object's sequence.
    pub fn insert(&mut self, object: Object) -> Result<(), ErrorCode> {
        self.check_room(&object)?;
        let key = (object.id, object.object_type.0);
        self.next_sequence.insert(key, object.sequence.wrapping_add(1));
        self.objects.insert(key, object);
        Ok(())
    }

    /// Replaces an object in place (same id and type), keeping its sequence.
    pub fn replace(&mut self, object: Object) {
        self.objects.insert((object.id, object.object_type.0), object);
    }

    /// Removes (id, type).
    pub fn remove(&mut self, id: ObjectId, object_type: ObjectType) -> Option<Object> {
        self.objects.remove(&(id, object_type.0))
    }

    /// The sequence counters, for the state file.
    pub fn sequences(&self) -> impl Iterator<Item = ((ObjectId, u8), u8)> + '_ {
        self.next_sequence.iter().map(|(k, v)| (*k, *v))
    }

    /// Restores a sequence counter (state file).
    pub fn set_sequence(&mut self, id: ObjectId, object_type: u8, next: u8) {
        self.next_sequence.insert((id, object_type), next);
    }
}

/// The delete capability for objects of type `t` (docs/PROTOCOL.md §3.3 "Capabilities" 39–55).
pub fn delete_capability(t: ObjectType) -> Option<Capabilities> {
    Some(match t {
        ObjectType::OPAQUE => Capabilities::DELETE_OPAQUE,
        ObjectType::AUTHENTICATION_KEY => Capabilities::DELETE_AUTHENTICATION_KEY,
        ObjectType::ASYMMETRIC_KEY => Capabilities::DELETE_ASYMMETRIC_KEY,
        ObjectType::WRAP_KEY => Capabilities::DELETE_WRAP_KEY,
        ObjectType::HMAC_KEY => Capabilities::DELETE_HMAC_KEY,
        ObjectType::TEMPLATE => Capabilities::DELETE_TEMPLATE,
        ObjectType::OTP_AEAD_KEY => Capabilities::DELETE_OTP_AEAD_KEY,
        ObjectType::SYMMETRIC_KEY => Capabilities::DELETE_SYMMETRIC_KEY,
        ObjectType::PUBLIC_WRAP_KEY => Capabilities::DELETE_PUBLIC_WRAP_KEY,
        _ => return None,
    })
}
