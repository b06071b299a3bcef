//! Typed convenience methods, one per command of `yhsm_proto::command` the CLI needs
//! (docs/PROTOCOL.md §7). Each is [`Client::send`] (inside the session) or
//! [`Client::send_plain`] (outside) plus unpacking of the answer; the repeat rules are
//! those of `send`, by command code.

use yhsm_proto::command::{
    AuthenticationKey, BlinkDevice, ChangeAuthenticationKey, DeleteObject, DeviceOption,
    DevicePublicKey, Echo, ExportWrapped, Filter, GenerateAsymmetricKey, GenerateWrapKey,
    GetDevicePublicKey, GetLogEntries, GetObjectInfo, GetOpaque, GetOption, GetPartNumber,
    GetPseudoRandom, GetPublicKey, GetStorageInfo, ImportWrapped, ImportWrappedResponse, ListEntry,
    ListObjects, LogEntries, PublicKey, PutAsymmetricKey, PutAuthenticationKey, PutOpaque,
    PutWrapKey, ResetDevice, SetLogIndex, SetOption, SignEcdsa, StorageInfo,
};
use yhsm_proto::object::{ObjectId, ObjectInfo, ObjectType};
use yhsm_proto::{SecretBytes, StaticKeys};

use super::credentials::{CredentialKind, Secret};
use super::{Client, ClientError};

impl Client {
    /// ECHO: inside the session when authenticated (a keep-alive), outside otherwise.
    /// The answer is checked to be the same bytes.
    pub fn echo(&mut self, data: &[u8]) -> Result<Vec<u8>, ClientError> {
        let request = Echo { data: data.to_vec() };
        let response =
            if self.is_authenticated() { self.send(&request) } else { self.send_plain(&request) };
        Ok(response?.data)
    }

    /// The part number (GET_DEVICE_INFO page 1, outside a session; firmware >= 2.4).
    pub fn part_number(&mut self) -> Result<String, ClientError> {
        Ok(self.send_plain(&GetPartNumber)?.0)
    }

    /// The device's P-256 public key for asymmetric authentication (outside a session;
    /// firmware >= 2.3).
    pub fn get_device_public_key(&mut self) -> Result<DevicePublicKey, ClientError> {
        self.send_plain(&GetDevicePublicKey)
    }

    /// GET_STORAGE_INFO.
    pub fn storage_info(&mut self) -> Result<StorageInfo, ClientError> {
        self.send(&GetStorageInfo)
    }

    /// LIST_OBJECTS: the objects matching every filter (all visible objects for none).
    pub fn list_objects(&mut self, filters: &[Filter]) -> Result<Vec<ListEntry>, ClientError> {
        Ok(self.send(&ListObjects { filters: filters.to_vec() })?.objects)
    }

    /// GET_OBJECT_INFO.
    pub fn get_object_info(
        &mut self,
        id: ObjectId,
        object_type: ObjectType,
    ) -> Result<ObjectInfo, ClientError> {
        self.send(&GetObjectInfo { id, object_type })
    }

    /// PUT_WRAP_KEY; returns the id of the new key.
    pub fn put_wrap_key(&mut self, request: &PutWrapKey) -> Result<ObjectId, ClientError> {
        Ok(self.send(request)?.id)
    }

    /// GENERATE_WRAP_KEY; returns the id of the new key.
    pub fn generate_wrap_key(
        &mut self,
        request: &GenerateWrapKey,
    ) -> Result<ObjectId, ClientError> {
        Ok(self.send(request)?.id)
    }

    /// PUT_AUTHENTICATION_KEY; returns the id of the new key.
    pub fn put_authentication_key(
        &mut self,
        request: &PutAuthenticationKey,
    ) -> Result<ObjectId, ClientError> {
        Ok(self.send(request)?.id)
    }

    /// CHANGE_AUTHENTICATION_KEY. When the changed key is the one this client
    /// authenticates with and the new material is symmetric, the stored credentials
    /// follow, so later sessions open with the new keys. (For a new asymmetric public key
    /// the client cannot know the private key: authenticate again before the session
    /// needs re-opening.)
    pub fn change_authentication_key(
        &mut self,
        key_id: ObjectId,
        key: AuthenticationKey,
    ) -> Result<(), ClientError> {
        let new_keys = match &key {
            AuthenticationKey::Symmetric { enc, mac } => {
                Some(StaticKeys::new(enc.clone(), mac.clone()))
            }
            AuthenticationKey::EcP256 { .. } => None,
        };
        self.send(&ChangeAuthenticationKey { key_id, key })?;
        if let (Some(credentials), Some(keys)) = (self.credentials.as_mut(), new_keys)
            && credentials.key_id() == key_id
        {
            credentials.secret = Secret::Symmetric { keys, kind: CredentialKind::Keys };
        }
        Ok(())
    }

    /// PUT_OPAQUE; returns the id of the new object.
    pub fn put_opaque(&mut self, request: &PutOpaque) -> Result<ObjectId, ClientError> {
        Ok(self.send(request)?.id)
    }

    /// GET_OPAQUE: the object's bytes.
    pub fn get_opaque(&mut self, id: ObjectId) -> Result<Vec<u8>, ClientError> {
        Ok(self.send(&GetOpaque { id })?.data)
    }

    /// PUT_ASYMMETRIC_KEY; returns the id of the new key.
    pub fn put_asymmetric_key(
        &mut self,
        request: &PutAsymmetricKey,
    ) -> Result<ObjectId, ClientError> {
        Ok(self.send(request)?.id)
    }

    /// GENERATE_ASYMMETRIC_KEY; returns the id of the new key.
    pub fn generate_asymmetric_key(
        &mut self,
        request: &GenerateAsymmetricKey,
    ) -> Result<ObjectId, ClientError> {
        Ok(self.send(request)?.id)
    }

    /// GET_PUBLIC_KEY of asymmetric key `id`.
    pub fn get_public_key(&mut self, id: ObjectId) -> Result<PublicKey, ClientError> {
        self.send(&GetPublicKey::asymmetric(id))
    }

    /// SIGN_ECDSA of `digest` with key `key_id`: the DER signature. Not repeated.
    pub fn sign_ecdsa(&mut self, key_id: ObjectId, digest: &[u8]) -> Result<Vec<u8>, ClientError> {
        Ok(self.send(&SignEcdsa { key_id, digest: digest.to_vec() })?.signature)
    }

    /// EXPORT_WRAPPED of object (`object_type`, `id`) under wrap key `wrap_id`: the blob
    /// `nonce || ciphertext || tag`. `format` 0 is the default; 1 asks firmware >= 2.4 to
    /// include an ed25519 seed.
    pub fn export_wrapped(
        &mut self,
        wrap_id: ObjectId,
        object_type: ObjectType,
        id: ObjectId,
        format: u8,
    ) -> Result<Vec<u8>, ClientError> {
        let request = ExportWrapped::new(wrap_id, object_type, id).with_format(format);
        Ok(self.send(&request)?.blob)
    }

    /// IMPORT_WRAPPED of `blob` under wrap key `wrap_id`: which object was created. Not
    /// repeated: after an error with [`ClientError::may_have_executed`], look for the
    /// object before importing again.
    pub fn import_wrapped(
        &mut self,
        wrap_id: ObjectId,
        blob: &[u8],
    ) -> Result<ImportWrappedResponse, ClientError> {
        self.send(&ImportWrapped { wrap_id, blob: blob.to_vec() })
    }

    /// DELETE_OBJECT.
    pub fn delete_object(
        &mut self,
        id: ObjectId,
        object_type: ObjectType,
    ) -> Result<(), ClientError> {
        self.send(&DeleteObject { id, object_type }).map(|_| ())
    }

    /// RESET_DEVICE: factory reset. Every key is gone afterwards, so the client forgets
    /// its session and credentials whatever the outcome. The device reboots, and may do
    /// so before its answer arrives: a transport error here (with
    /// [`ClientError::may_have_executed`]) usually means the reset happened — reconnect
    /// and look.
    pub fn reset_device(&mut self) -> Result<(), ClientError> {
        let result = self.send(&ResetDevice);
        self.session = None;
        self.credentials = None;
        result.map(|_| ())
    }

    /// GET_PSEUDO_RANDOM: `len` bytes from the device's generator, kept secret.
    pub fn get_pseudo_random(&mut self, len: u16) -> Result<SecretBytes, ClientError> {
        Ok(self.send(&GetPseudoRandom { len })?.bytes)
    }

    /// GET_LOG_ENTRIES.
    pub fn get_log_entries(&mut self) -> Result<LogEntries, ClientError> {
        self.send(&GetLogEntries)
    }

    /// SET_LOG_INDEX: marks the entries up to `index` as read.
    pub fn set_log_index(&mut self, index: u16) -> Result<(), ClientError> {
        self.send(&SetLogIndex { index }).map(|_| ())
    }

    /// SET_OPTION.
    pub fn set_option(&mut self, request: &SetOption) -> Result<(), ClientError> {
        self.send(request).map(|_| ())
    }

    /// GET_OPTION: the option's raw value.
    pub fn get_option(&mut self, option: DeviceOption) -> Result<Vec<u8>, ClientError> {
        Ok(self.send(&GetOption { option })?.value)
    }

    /// BLINK_DEVICE for `seconds`.
    pub fn blink_device(&mut self, seconds: u8) -> Result<(), ClientError> {
        self.send(&BlinkDevice { seconds }).map(|_| ())
    }
}
