//! Minimal DER/PEM encoding of public keys, so JWK components can be validated and published as PEM without another ASN.1 crate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// rsaEncryption, 1.2.840.113549.1.1.1
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1 / P-256, 1.2.840.10045.3.1.7
const OID_PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes, in minimal form.
fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let trimmed = &magnitude[skip..];
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    // A set high bit would read as negative, and zero still needs one content byte.
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(TAG_INTEGER, &content)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0); // no unused bits
    content.extend_from_slice(bytes);
    tlv(TAG_BIT_STRING, &content)
}

/// PKCS#1 `RSAPublicKey`.
pub(super) fn rsa_public_key_pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    sequence(&[&unsigned_integer(n), &unsigned_integer(e)])
}

/// X.509 `SubjectPublicKeyInfo` for an RSA key.
pub(super) fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    let algorithm = sequence(&[&tlv(TAG_OID, OID_RSA_ENCRYPTION), &tlv(TAG_NULL, &[])]);
    sequence(&[&algorithm, &bit_string(&rsa_public_key_pkcs1(n, e))])
}

/// X.509 `SubjectPublicKeyInfo` for a P-256 key given as an uncompressed SEC1 point.
pub(super) fn ec_p256_spki(point: &[u8]) -> Vec<u8> {
    let algorithm = sequence(&[&tlv(TAG_OID, OID_EC_PUBLIC_KEY), &tlv(TAG_OID, OID_PRIME256V1)]);
    sequence(&[&algorithm, &bit_string(point)])
}

/// PKCS#8 `PrivateKeyInfo` wrapping an RFC 5915 `ECPrivateKey` for the P-256 scalar `d`. The
/// optional public key is left out; it is derived from `d` when the key is loaded.
pub(super) fn ec_p256_pkcs8(d: &[u8]) -> Vec<u8> {
    let algorithm = sequence(&[&tlv(TAG_OID, OID_EC_PUBLIC_KEY), &tlv(TAG_OID, OID_PRIME256V1)]);
    let ec_private_key = sequence(&[&unsigned_integer(&[1]), &tlv(TAG_OCTET_STRING, d)]);
    sequence(&[&unsigned_integer(&[]), &algorithm, &tlv(TAG_OCTET_STRING, &ec_private_key)])
}

pub(super) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The label of the first PEM block (`-----BEGIN <label>-----`), if any.
pub(super) fn pem_label(text: &str) -> Option<&str> {
    text.lines().find_map(|line| line.trim().strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0x01, 0x00, 0x01]), [0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(unsigned_integer(&[0x00, 0x00, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn long_lengths_use_long_form() {
        let encoded = tlv(TAG_SEQUENCE, &[0u8; 300]);
        assert_eq!(&encoded[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(encoded.len(), 304);
        let short = tlv(TAG_SEQUENCE, &[0u8; 127]);
        assert_eq!(&short[..2], &[0x30, 0x7f]);
        let medium = tlv(TAG_SEQUENCE, &[0u8; 128]);
        assert_eq!(&medium[..3], &[0x30, 0x81, 0x80]);
    }

    #[test]
    fn pem_label_finds_first_block() {
        assert_eq!(
            pem_label("junk\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            Some("PUBLIC KEY")
        );
        assert_eq!(pem_label("no pem here"), None);
    }
}
