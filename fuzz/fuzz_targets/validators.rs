//! Field validators: never panic; a slug derived from any name is plain ASCII; what the slug and
//! country validators accept obeys their rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgd::domain::{country, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let derived = validate::slug_from_name(text);
    assert!(!derived.is_empty() && derived.len() <= 253);
    assert!(
        derived
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
    if let Ok(slug) = validate::slug(text) {
        assert!(slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        // An `{org}` path segment is an id or a slug: a slug must never read as an id.
        assert!(uuid::Uuid::try_parse(&slug).is_err());
    }
    if let Some(code) = country::normalize(text) {
        assert_eq!(code.len(), 2);
        assert!(code.bytes().all(|b| b.is_ascii_uppercase()));
    }
    let _ = validate::email(text);
    let _ = validate::username(text);
    let _ = validate::http_url(text);
    let _ = validate::org_name(text);
    let _ = validate::password(text);
    if let Ok(name) = validate::org_name(text) {
        assert!(!name.trim().is_empty());
    }
});
