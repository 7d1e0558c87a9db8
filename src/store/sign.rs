//! Optional Ed25519 signatures of manifests. The signed message is
//! `jumpcloud-operator.io/snapshot/v1 sha256:<hex digest of the manifest bytes>`, so a signature
//! cannot be replayed onto anything but a manifest of this format with exactly that content.

use std::path::Path;

use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::manifest::{SNAPSHOT_FORMAT_V1, sha256_hex};

/// A private signing key (from a file the user provides, e.g. a mounted Secret).
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A public key to check signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", self.verifying_key().key_id())
    }
}

/// The detached signature file next to a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFile {
    pub algorithm: String,
    /// SHA-256 prefix of the public key, to tell keys apart after rotation.
    pub key_id: String,
    /// `sha256:<hex>` of the manifest bytes.
    pub manifest_sha256: String,
    /// Hex of the 64-byte Ed25519 signature over [`signed_message`].
    pub signature: String,
}

/// The message a signature covers. Its prefix is a fixed domain separator (the first manifest
/// format's name), not the current format: signatures of every format verify the same way.
pub fn signed_message(manifest_sha256: &str) -> String {
    format!("{SNAPSHOT_FORMAT_V1} sha256:{manifest_sha256}")
}

fn key_error(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Key {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Raw 32 bytes, or 64 hex characters (surrounding whitespace ignored).
fn raw_32(bytes: &[u8]) -> Option<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Some(raw);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let decoded = hex::decode(text).ok()?;
    <[u8; 32]>::try_from(decoded.as_slice()).ok()
}

impl SigningKey {
    /// Reads a PKCS#8 PEM private key, a raw 32-byte seed, or the seed as 64 hex characters.
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        super::private::warn_if_exposed(path, "signing key");
        let bytes = std::fs::read(path).map_err(|error| key_error(path, error.to_string()))?;
        Self::from_bytes(&bytes).map_err(|reason| key_error(path, reason))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if let Ok(text) = std::str::from_utf8(bytes)
            && text.contains("-----BEGIN")
        {
            return ed25519_dalek::SigningKey::from_pkcs8_pem(text.trim())
                .map(SigningKey)
                .map_err(|error| format!("not an Ed25519 PKCS#8 PEM private key: {error}"));
        }
        raw_32(bytes)
            .map(|seed| SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
            .ok_or_else(|| {
                "expected an Ed25519 PKCS#8 PEM private key, a 32-byte seed or 64 hex characters"
                    .to_owned()
            })
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    pub fn sign(&self, manifest_sha256: &str) -> SignatureFile {
        let signature = self.0.sign(signed_message(manifest_sha256).as_bytes());
        SignatureFile {
            algorithm: "ed25519".to_owned(),
            key_id: self.verifying_key().key_id(),
            manifest_sha256: format!("sha256:{manifest_sha256}"),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

impl VerifyingKey {
    /// Reads a PEM public key (SPKI), 32 raw bytes, or 64 hex characters.
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        let bytes = std::fs::read(path).map_err(|error| key_error(path, error.to_string()))?;
        Self::from_bytes(&bytes).map_err(|reason| key_error(path, reason))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if let Ok(text) = std::str::from_utf8(bytes)
            && text.contains("-----BEGIN")
        {
            return ed25519_dalek::VerifyingKey::from_public_key_pem(text.trim())
                .map(VerifyingKey)
                .map_err(|error| format!("not an Ed25519 PEM public key: {error}"));
        }
        let raw = raw_32(bytes).ok_or_else(|| {
            "expected an Ed25519 PEM public key, 32 raw bytes or 64 hex characters".to_owned()
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(&raw)
            .map(VerifyingKey)
            .map_err(|error| format!("not a valid Ed25519 public key: {error}"))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    pub fn key_id(&self) -> String {
        sha256_hex(self.0.as_bytes())[..16].to_owned()
    }

    /// Checks a signature file against the manifest digest; the reason when it does not hold.
    pub fn check(&self, file: &SignatureFile, manifest_sha256: &str) -> Result<(), String> {
        if file.algorithm != "ed25519" {
            return Err(format!("unknown algorithm `{}`", file.algorithm));
        }
        if file.manifest_sha256 != format!("sha256:{manifest_sha256}") {
            return Err("signs a different manifest digest".to_owned());
        }
        let bytes = hex::decode(&file.signature).map_err(|_| "signature is not hex".to_owned())?;
        let bytes = <[u8; 64]>::try_from(bytes.as_slice())
            .map_err(|_| "signature is not 64 bytes".to_owned())?;
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0
            .verify_strict(signed_message(manifest_sha256).as_bytes(), &signature)
            .map_err(|_| {
                if file.key_id == self.key_id() {
                    "signature does not verify".to_owned()
                } else {
                    format!(
                        "signature does not verify (signed by key {}, checked with {})",
                        file.key_id,
                        self.key_id()
                    )
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_rejects_other_digests_and_keys() {
        let key = SigningKey::from_seed([7; 32]);
        let public = key.verifying_key();
        let digest = sha256_hex(b"manifest");
        let file = key.sign(&digest);
        assert_eq!(public.check(&file, &digest), Ok(()));
        assert!(public.check(&file, &sha256_hex(b"other")).is_err());
        let mut forged = file.clone();
        forged.manifest_sha256 = format!("sha256:{}", sha256_hex(b"other"));
        assert!(public.check(&forged, &sha256_hex(b"other")).is_err());
        let stranger = SigningKey::from_seed([8; 32]).verifying_key();
        assert!(
            stranger
                .check(&file, &digest)
                .unwrap_err()
                .contains("signed by key")
        );
    }

    #[test]
    fn reads_seeds_hex_and_pem() {
        let seed = [3u8; 32];
        let from_raw = SigningKey::from_bytes(&seed).unwrap();
        let from_hex =
            SigningKey::from_bytes(format!("{}\n", hex::encode(seed)).as_bytes()).unwrap();
        assert_eq!(from_raw.verifying_key(), from_hex.verifying_key());
        use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding};
        let pem = from_raw.0.to_pkcs8_pem(LineEnding::LF).unwrap();
        let from_pem = SigningKey::from_bytes(pem.as_bytes()).unwrap();
        assert_eq!(from_pem.verifying_key(), from_raw.verifying_key());
        let public_pem = from_raw
            .0
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert_eq!(
            VerifyingKey::from_bytes(public_pem.as_bytes()).unwrap(),
            from_raw.verifying_key()
        );
        assert!(SigningKey::from_bytes(b"short").is_err());
    }
}
