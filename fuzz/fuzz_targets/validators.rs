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
        assert!(!name.chars().any(char::is_control));
    }
    if let Ok(name) = validate::name(text, 100) {
        assert!(!name.is_empty() && !name.chars().any(char::is_control));
    }
    if let Ok(t) = validate::text(text, 4096) {
        assert!(!t.contains('\0'));
    }
    let _ = validate::person_name(text);
    let masked = validate::mask_email(text);
    assert!(masked.contains("***"));
    // A JSON document whose strings hold a NUL is always caught.
    let has_nul = validate::json_has_nul(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        assert_eq!(has_nul, holds_nul(&v), "{text:?}");
    }
});

fn holds_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}
