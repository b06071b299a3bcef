//! Asymmetric key commands (proto `command/asymmetric.rs`): put-asymmetric-key,
//! generate-asymmetric-key, get-public-key, sign-ecdsa, sign-eddsa, derive-ecdh and
//! sign-attestation-certificate (the certificate itself is `crate::attest`). The RSA
//! operations are in `rsa`.

use yhsm_proto::command::{
    DeriveEcdh, GenerateAsymmetricKey, GetPublicKey, PublicKey, PutAsymmetricKey, Response,
    SignAttestationCertificate, SignEcdsa, SignEddsa,
};
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::{Algorithm, Capabilities, ObjectType, Origin};

use super::object::raw_bytes;
use super::{Ctx, Done, Handle, Handler, check_new, new_object, store_new, usable};
use crate::attest::{self, Attested, Attester, DeviceIdentity};
use crate::device::Device;
use crate::keys;

pub(super) const HANDLERS: &[Handler] = &[
    Handler::of::<PutAsymmetricKey>(),
    Handler::of::<GenerateAsymmetricKey>(),
    Handler::of::<GetPublicKey>(),
    Handler::of::<SignEcdsa>(),
    Handler::of::<SignEddsa>(),
    Handler::of::<DeriveEcdh>(),
    Handler::of::<SignAttestationCertificate>(),
];

impl Handle for PutAsymmetricKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::PUT_ASYMMETRIC_KEY)?;
        check_asymmetric_algorithm(self.header.algorithm)?;
        let new = new_object(self.header, ObjectType::ASYMMETRIC_KEY, Origin::IMPORTED);
        let id = check_new(dev, ctx, &new)?;
        let body = keys::asymmetric_from_private(self.header.algorithm, self.key.expose_secret())?;
        Ok(Done::id(store_new(dev, id, new, body)?))
    }
}

impl Handle for GenerateAsymmetricKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        ctx.authority.require(Capabilities::GENERATE_ASYMMETRIC_KEY)?;
        check_asymmetric_algorithm(self.header.algorithm)?;
        let new = new_object(self.header, ObjectType::ASYMMETRIC_KEY, Origin::GENERATED);
        let id = check_new(dev, ctx, &new)?;
        let body = keys::asymmetric_generate(self.header.algorithm, &mut dev.rng)?;
        Ok(Done::id(store_new(dev, id, new, body)?))
    }
}

impl Handle for GetPublicKey {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let object_type = self.object_type.unwrap_or(ObjectType::ASYMMETRIC_KEY);
        let object = dev.store.visible(&ctx.authority, self.id, object_type)?;
        let key = keys::public_key(object).ok_or(ErrorCode::INVALID_DATA)?;
        let resp = PublicKey { algorithm: object.algorithm, key };
        Ok(Done::data(resp.to_data().to_vec()).target(self.id))
    }
}

impl Handle for SignEcdsa {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let object =
            usable(dev, ctx, self.key_id, ObjectType::ASYMMETRIC_KEY, Capabilities::SIGN_ECDSA)?;
        let (alg, body) = (object.algorithm, object.body.clone());
        let sig = keys::sign_ecdsa(alg, &body, &self.digest, &mut dev.rng)?;
        Ok(Done::data(sig).target(self.key_id))
    }
}

impl Handle for SignEddsa {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let object =
            usable(dev, ctx, self.key_id, ObjectType::ASYMMETRIC_KEY, Capabilities::SIGN_EDDSA)?;
        if object.algorithm != Algorithm::ED25519 {
            return Err(ErrorCode::INVALID_DATA);
        }
        Ok(Done::data(keys::sign_eddsa(&object.body, &self.message)?).target(self.key_id))
    }
}

impl Handle for DeriveEcdh {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let id = self.key_id;
        let object = usable(dev, ctx, id, ObjectType::ASYMMETRIC_KEY, Capabilities::DERIVE_ECDH)?;
        Ok(Done::data(keys::derive_ecdh(object.algorithm, &object.body, &self.point)?).target(id))
    }
}

impl Handle for SignAttestationCertificate {
    fn run(self, dev: &mut Device, ctx: &Ctx) -> Result<Done, ErrorCode> {
        let cap = Capabilities::SIGN_ATTESTATION_CERTIFICATE;
        ctx.authority.require(cap)?;
        let key =
            dev.store.visible(&ctx.authority, self.key_id, ObjectType::ASYMMETRIC_KEY)?.clone();
        let attested = Attested {
            id: key.id,
            algorithm: key.algorithm,
            label: key.label,
            domains: key.domains,
            capabilities: key.capabilities,
            origin: key.origin,
            body: &key.body,
        };
        let device = DeviceIdentity { version: dev.config.version, serial: dev.config.serial };
        let cert = if self.attesting_key_id == 0 {
            let own = dev.device_attestation()?.clone();
            attest::attest(&attested, &own.attester(), device, &mut dev.rng)?
        } else {
            // The attesting key, with the capability, and its certificate under the same id.
            let signer =
                usable(dev, ctx, self.attesting_key_id, ObjectType::ASYMMETRIC_KEY, cap)?.clone();
            let template =
                dev.store.visible(&ctx.authority, self.attesting_key_id, ObjectType::OPAQUE)?;
            let template = raw_bytes(template)?;
            let attester = Attester {
                algorithm: signer.algorithm,
                body: &signer.body,
                certificate: &template,
            };
            attest::attest(&attested, &attester, device, &mut dev.rng)?
        };
        Ok(Done::data(cert).target(self.key_id).second(self.attesting_key_id))
    }
}

/// Asymmetric key algorithms: the EC curves, ed25519 and RSA.
fn check_asymmetric_algorithm(alg: Algorithm) -> Result<(), ErrorCode> {
    if alg.ec_field_size().is_some()
        || alg.rsa_modulus_size().is_some()
        || alg == Algorithm::ED25519
    {
        Ok(())
    } else {
        Err(ErrorCode::INVALID_DATA)
    }
}
