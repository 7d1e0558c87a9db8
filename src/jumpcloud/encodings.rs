//! The forms in which a server could echo the API key: raw, base64, base64url, URL-encoded and
//! hex. Every error text that can carry server text is scrubbed of all of them, and a response
//! body that carries any of them is refused. Pure.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        let sextets = chunk.len() + 1;
        for i in 0..4 {
            if i < sextets {
                out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Every encoding of `secret` a server might echo, longest first so that replacing them in
/// order never leaves part of a longer one behind. Empty for an empty secret.
///
/// Base64 is listed without padding (a padded echo contains the unpadded text). URL-encoding
/// leaves letters, digits and `-._~` as they are, so for a JumpCloud key (`jca_` + letters and
/// digits) it is the raw key; the fully percent-encoded form (`%6A%63...`, either case) is
/// listed as well.
pub fn key_encodings(secret: &str) -> Vec<String> {
    if secret.is_empty() {
        return Vec::new();
    }
    let bytes = secret.as_bytes();
    let percent_upper: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
    let mut forms = vec![
        secret.to_owned(),
        base64(bytes, STANDARD, false),
        base64(bytes, URL_SAFE, false),
        url::form_urlencoded::byte_serialize(bytes).collect(),
        percent_upper.to_ascii_lowercase(),
        percent_upper,
        hex::encode(bytes),
        hex::encode_upper(bytes),
    ];
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms.dedup();
    forms
}

/// `text` with every encoding of `secret` replaced by `<redacted>`.
pub fn redact(text: &str, secret: &str) -> String {
    let mut text = text.to_owned();
    for form in key_encodings(secret) {
        if text.contains(&form) {
            text = text.replace(&form, "<redacted>");
        }
    }
    text
}

/// Finds any encoding of one secret in a response (every success body is scanned, up to the
/// page cap). One `memmem` pass per encoding: its vectorised search is faster, even for eight
/// patterns, than a multi-pattern automaton, and stays fast in debug builds.
#[derive(Debug, Clone)]
pub struct KeyMatcher(Vec<memchr::memmem::Finder<'static>>);

impl KeyMatcher {
    pub fn new(secret: &str) -> Self {
        KeyMatcher(
            key_encodings(secret)
                .iter()
                .map(|form| memchr::memmem::Finder::new(form.as_bytes()).into_owned())
                .collect(),
        )
    }

    /// Whether `bytes` carry the secret in any of its encodings.
    pub fn carries(&self, bytes: &[u8]) -> bool {
        self.0.iter().any(|finder| finder.find(bytes).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes(), STANDARD, true), encoded);
            assert_eq!(
                base64(plain.as_bytes(), STANDARD, false),
                encoded.trim_end_matches('=')
            );
        }
        assert_eq!(base64(&[0xfb, 0xff], URL_SAFE, false), "-_8");
        assert_eq!(base64(&[0xfb, 0xff], STANDARD, false), "+/8");
    }

    #[test]
    fn every_encoding_of_the_key_is_redacted() {
        let key = "jca_Secret0123456789/+?";
        let forms = key_encodings(key);
        let matcher = KeyMatcher::new(key);
        assert!(forms.contains(&"amNhX1NlY3JldDAxMjM0NTY3ODkvKz8".to_owned()));
        assert!(forms.contains(&"amNhX1NlY3JldDAxMjM0NTY3ODkvKz8".replace('/', "_")));
        assert!(forms.contains(&hex::encode(key)));
        assert!(forms.contains(&"jca_Secret0123456789%2F%2B%3F".to_owned()));
        for form in &forms {
            let text = format!("got {form}= here");
            let clean = redact(&text, key);
            assert_eq!(clean, "got <redacted>= here", "{form}");
            assert!(matcher.carries(text.as_bytes()));
        }
        assert!(!matcher.carries(b"nothing here"));
        assert!(!KeyMatcher::new("").carries(b"anything"));
        assert!(key_encodings("").is_empty());
        assert_eq!(redact("abc", ""), "abc");
    }
}
