//! The bearer token parser: never panics; what it accepts is a known prefix, 64 lower-case hex
//! digits, and its hash is the SHA-256 of the whole token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((kind, hash)) = orgd::auth::parse_token(token) {
        let prefix = orgd::auth::prefix(kind);
        assert!(token.starts_with(prefix));
        let secret = &token[prefix.len()..];
        assert_eq!(secret.len(), 64);
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let expected: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        assert_eq!(hash, expected);
    }
});
