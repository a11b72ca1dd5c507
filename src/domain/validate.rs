//! Field rules of the contract. Each check returns the message a client sees in `details`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::error::{ApiError, FieldError};

/// Collects field errors so a client learns every problem of a request at once.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }
    /// Records `result` under `field` when it is an error.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push(FieldError {
                    field: field.into(),
                    message,
                });
                None
            }
        }
    }
    /// A nullable PATCH field: a value is checked by `rule`, `null` and absence pass through.
    pub fn nullable(
        &mut self,
        field: &str,
        value: &Option<Option<String>>,
        rule: impl FnOnce(&str) -> Result<String, String>,
    ) -> Option<Option<String>> {
        match value {
            Some(Some(v)) => self.check(field, rule(v)).map(Some),
            Some(None) => Some(None),
            None => None,
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

pub const SLUG_MAX: usize = 253;

/// The patterns below are also published in the OpenAPI document (`crate::spec`), so a request
/// valid by the document is exactly a request these checks accept.
pub const EMAIL_PATTERN: &str = "^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
pub const USERNAME_PATTERN: &str = "^[a-zA-Z0-9_.-]{1,64}$";
pub const SLUG_PATTERN: &str = "^[a-zA-Z0-9-]{1,253}$";
/// Slugs shaped like an id (hyphenated or simple UUID) are refused.
pub const UUID_PATTERNS: [&str; 2] = [
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "^[0-9a-fA-F]{32}$",
];
pub const URL_PATTERN: &str = "^https?://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$";
/// Names need one character that is not white space.
pub const NON_BLANK: &str = "\\S";
/// A name: one line of printable text with one character that is not white space (no control
/// characters at all).
pub const NAME_PATTERN: &str =
    "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$";
/// A person's name, empty allowed: no control characters.
pub const PERSON_PATTERN: &str = "^[^\\x00-\\x1F\\x7F-\\x9F]*$";
/// Free text: line breaks and tabs, and no other control character.
pub const TEXT_PATTERN: &str = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$";
/// Any other string: no NUL (refused for every request by the `Json` extractor as well).
pub const NO_NUL_PATTERN: &str = "^[^\\x00]*$";

fn matches(pattern: &'static str, s: &str) -> bool {
    static CACHE: LazyLock<std::sync::Mutex<Vec<(&'static str, Regex)>>> =
        LazyLock::new(|| std::sync::Mutex::new(Vec::new()));
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, re)) = cache.iter().find(|(p, _)| *p == pattern) {
        return re.is_match(s);
    }
    let re = Regex::new(pattern).expect("valid pattern");
    let hit = re.is_match(s);
    cache.push((pattern, re));
    hit
}

/// `^[a-zA-Z0-9-]+$`, 1–253 characters, and not shaped like an id (an `{org}` path segment is an
/// id or a slug, so a slug that parses as a UUID would be ambiguous).
pub fn slug(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > SLUG_MAX {
        return Err(format!("must be 1 to {SLUG_MAX} characters"));
    }
    if !matches(SLUG_PATTERN, s) {
        return Err("must match ^[a-zA-Z0-9-]+$".into());
    }
    if UUID_PATTERNS.iter().any(|p| matches(p, s)) {
        return Err("must not be a UUID".into());
    }
    Ok(s.to_owned())
}

/// A slug derived from a name: lower-case ASCII letters and digits, other runs become `-`.
pub fn slug_from_name(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
        if out.len() >= 200 {
            break;
        }
    }
    if out.is_empty() { "org".into() } else { out }
}

/// 1–256 characters, not all white space; stored trimmed.
/// An address with its local part hidden: `jane@example.com` → `j***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// Whether a JSON document holds a NUL character in a string: JSON can only write one as the
/// escape `\u0000`, which counts when the backslash before it is not itself escaped.
pub fn json_has_nul(body: &[u8]) -> bool {
    let needle = b"u0000";
    let mut i = 0;
    while i + needle.len() <= body.len() {
        if &body[i..i + needle.len()] == needle {
            let backslashes = body[..i].iter().rev().take_while(|b| **b == b'\\').count();
            if backslashes % 2 == 1 {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// Names are one line of printable text: no control characters at all.
fn no_controls(s: &str) -> Result<(), String> {
    if matches(PERSON_PATTERN, s) {
        Ok(())
    } else {
        Err("must not contain control characters".into())
    }
}

/// A name of at most `max` characters (tokens, and the like): see `NAME_PATTERN`.
pub fn name(s: &str, max: usize) -> Result<String, String> {
    let s = s.trim();
    if char_len(s) > max {
        return Err(format!("must be at most {max} characters"));
    }
    no_controls(s)?;
    if !matches(NAME_PATTERN, s) {
        return Err("must not be empty".into());
    }
    Ok(s.to_owned())
}

pub fn org_name(s: &str) -> Result<String, String> {
    if char_len(s) > 256 {
        return Err("must be at most 256 characters".into());
    }
    no_controls(s)?;
    if !matches(NON_BLANK, s) {
        return Err("must not be empty".into());
    }
    Ok(s.trim().to_owned())
}

pub fn person_name(s: &str) -> Result<String, String> {
    if char_len(s) > 256 {
        return Err("must be at most 256 characters".into());
    }
    no_controls(s)?;
    Ok(s.trim().to_owned())
}

/// Free text (descriptions, reasons): line breaks and tabs are fine, other control characters
/// are not.
pub fn text(s: &str, max: usize) -> Result<String, String> {
    if char_len(s) > max {
        return Err(format!("must be at most {max} characters"));
    }
    if !matches(TEXT_PATTERN, s) {
        return Err("must not contain control characters other than line breaks and tabs".into());
    }
    Ok(s.to_owned())
}

pub fn username(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(s.to_owned())
    } else {
        Err("must match ^[a-zA-Z0-9_.-]{1,64}$".into())
    }
}

/// A username derived from an email's local part.
pub fn username_from_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or("");
    let mut u: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .take(48)
        .collect();
    if u.is_empty() {
        u = "user".into();
    }
    u
}

pub fn email(s: &str) -> Result<String, String> {
    if s.len() <= 254 && matches(EMAIL_PATTERN, s) {
        Ok(s.to_owned())
    } else {
        Err("must be a valid email address".into())
    }
}

pub fn password(s: &str) -> Result<String, String> {
    match char_len(s) {
        n if n < 8 => Err("must be at least 8 characters".into()),
        n if n > 256 => Err("must be at most 256 characters".into()),
        _ => Ok(s.to_owned()),
    }
}

pub fn http_url(s: &str) -> Result<String, String> {
    if char_len(s) > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    if matches(URL_PATTERN, s) {
        Ok(s.to_owned())
    } else {
        Err("must be an http(s) URL".into())
    }
}

pub fn country_code(s: &str) -> Result<String, String> {
    super::country::normalize(s).ok_or_else(|| "must be an ISO 3166-1 alpha-2 country code".into())
}

pub const METADATA_MAX_BYTES: usize = 16 * 1024;

pub fn metadata(v: &Value) -> Result<Value, String> {
    if !v.is_object() {
        return Err("must be a JSON object".into());
    }
    if v.to_string().len() > METADATA_MAX_BYTES {
        return Err(format!("must be at most {METADATA_MAX_BYTES} bytes"));
    }
    Ok(v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert!(slug("acme").is_ok());
        assert!(slug("Acme-Inc-2").is_ok());
        assert!(slug(&"a".repeat(253)).is_ok());
        assert!(slug(&"a".repeat(254)).is_err());
        assert!(slug("").is_err());
        assert!(slug("acme_inc").is_err());
        assert!(slug("acme inc").is_err());
        assert!(slug("ümlaut").is_err());
        assert!(slug("0190a6e4-7c2b-7d4e-8f00-123456789abc").is_err());
        assert!(slug("0190a6e47c2b7d4e8f00123456789abc").is_err());
    }

    #[test]
    fn slug_derivation() {
        assert_eq!(slug_from_name("Acme Inc."), "acme-inc");
        assert_eq!(slug_from_name("  Hello,   World!! "), "hello-world");
        assert_eq!(slug_from_name("Ünïcode Straße 9"), "n-code-stra-e-9");
        assert_eq!(slug_from_name("!!!"), "org");
        assert!(slug(&slug_from_name(&"x y ".repeat(300))).is_ok());
    }

    #[test]
    fn usernames_and_emails() {
        assert!(username("alice.b-c_1").is_ok());
        assert!(username("alice b").is_err());
        assert!(username(&"a".repeat(65)).is_err());
        assert_eq!(username_from_email("Jane.Doe+x@example.com"), "Jane.Doex");
        assert_eq!(username_from_email("+++@example.com"), "user");
        assert!(email("a@example.com").is_ok());
        for bad in [
            "a",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_urls_names_metadata() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(257)).is_err());
        assert!(http_url("https://example.com/logo.png").is_ok());
        assert!(http_url("javascript:alert(1)").is_err());
        assert!(http_url("ftp://example.com/x").is_err());
        assert!(org_name("  ").is_err());
        assert_eq!(org_name(" Acme ").unwrap(), "Acme");
        assert!(org_name(&"é".repeat(256)).is_ok());
        assert!(org_name(&"é".repeat(257)).is_err());
        assert!(org_name(&format!(" {}", "x".repeat(256))).is_err());
        assert!(metadata(&serde_json::json!({"a": 1})).is_ok());
        assert!(metadata(&serde_json::json!([1])).is_err());
    }
}
