//! Sign-in through an organization's OpenID Connect provider: the provider's discovery document
//! and keys (fetched from its issuer, cached, fetched again when a token names a key orgd has
//! not seen: a key rotation), the authorization code exchange with PKCE, and the ID token's
//! verification by `jsonwebtoken` (signature against the issuer's keys, issuer, audience,
//! expiry; only asymmetric algorithms, so `alg: none` and HMAC confusion are refused), plus the
//! nonce and a verified email. Client secrets are sealed at rest with the installation's key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as B64URL};
use bytes::Bytes;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

/// Scopes asked for when a provider names none.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];
/// How long a sign-in may take between leaving for the provider and coming back.
pub const STATE_LIFETIME_SECS: i64 = 600;
/// How long a discovery document and key set are used before they are fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches of one issuer's keys for an unknown key id.
const REFETCH_GAP: Duration = Duration::from_secs(5);
/// The largest document orgd reads from a provider.
const MAX_DOCUMENT: usize = 512 * 1024;

/// Why a sign-in through a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider could not be reached, or answered something unusable.
    #[error("the identity provider: {0}")]
    Provider(String),
    /// The ID token is not acceptable.
    #[error("the ID token is not valid: {0}")]
    Token(String),
}

/// Seals and opens client secrets with the installation's key (`sso_encryption_key`, 32 bytes
/// in base64): ChaCha20-Poly1305, a random nonce per secret.
#[derive(Clone)]
pub struct SecretBox(ChaCha20Poly1305);

impl SecretBox {
    pub fn from_base64(key: &str) -> Result<SecretBox, String> {
        let bytes = BASE64
            .decode(key.trim())
            .map_err(|_| "sso_encryption_key must be base64".to_string())?;
        if bytes.len() != 32 {
            return Err(format!(
                "sso_encryption_key must be 32 bytes (it is {}): make one with `openssl rand -base64 32`",
                bytes.len()
            ));
        }
        Ok(SecretBox(ChaCha20Poly1305::new(Key::from_slice(&bytes))))
    }

    pub fn seal(&self, secret: &str) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        out.extend(
            self.0
                .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
                .expect("sealing cannot fail"),
        );
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, String> {
        if sealed.len() < 12 {
            return Err("a sealed secret is too short".into());
        }
        let (nonce, text) = sealed.split_at(12);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), text)
            .map_err(|_| "a client secret does not open with sso_encryption_key".to_string())?;
        String::from_utf8(plain).map_err(|_| "a client secret is not text".into())
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

/// `n` random bytes, base64url.
pub fn random(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    B64URL.encode(bytes)
}

/// The PKCE `S256` challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    B64URL.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks an issuer URL: https (http only where the installation allows insecure issuers), no
/// credentials, query or fragment.
pub fn check_issuer(raw: &str, allow_insecure: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        _ => return Err("must be an https URL".into()),
    }
    if url.host_str().is_none_or(str::is_empty)
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err("must be a plain https URL with a host".into());
    }
    Ok(url)
}

/// The part of a discovery document orgd uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

struct Issuer {
    discovery: Discovery,
    keys: JwkSet,
    fetched: Instant,
    keys_fetched: Instant,
}

/// The claims of an ID token orgd reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: Option<serde_json::Value>,
    pub name: Option<String>,
    pub nonce: Option<String>,
}

impl Claims {
    /// The email, when the provider says it is verified (`true`, or `"true"` from some).
    pub fn verified_email(&self) -> Option<&str> {
        let verified = match &self.email_verified {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        self.email.as_deref().filter(|_| verified)
    }
}

/// The providers' documents and keys, per issuer, shared by every sign-in of this node.
pub struct Oidc {
    issuers: Mutex<HashMap<String, Arc<Issuer>>>,
    allow_insecure: bool,
    timeout: Duration,
}

impl Oidc {
    pub fn new(allow_insecure: bool) -> Oidc {
        Oidc {
            issuers: Mutex::new(HashMap::new()),
            allow_insecure,
            timeout: Duration::from_secs(10),
        }
    }

    async fn get(&self, url: &Url) -> Result<Vec<u8>, SsoError> {
        let answer = tokio::time::timeout(
            self.timeout,
            crate::http::send(
                crate::http::Outgoing {
                    method: hyper::Method::GET,
                    url,
                    headers: vec![("accept", "application/json".into())],
                    body: Bytes::new(),
                },
                self.allow_insecure,
                MAX_DOCUMENT,
            ),
        )
        .await
        .map_err(|_| SsoError::Provider(format!("{url} did not answer in time")))?
        .map_err(SsoError::Provider)?;
        if answer.status != 200 {
            return Err(SsoError::Provider(format!(
                "{url} answered {}",
                answer.status
            )));
        }
        Ok(answer.body)
    }

    async fn fetch_keys(&self, discovery: &Discovery) -> Result<JwkSet, SsoError> {
        let url = check_issuer(&discovery.jwks_uri, self.allow_insecure)
            .map_err(|e| SsoError::Provider(format!("jwks_uri {e}")))?;
        serde_json::from_slice(&self.get(&url).await?)
            .map_err(|e| SsoError::Provider(format!("the key set is not usable: {e}")))
    }

    /// The issuer's discovery document and keys: cached for an hour.
    async fn issuer(&self, issuer: &str) -> Result<Arc<Issuer>, SsoError> {
        if let Some(hit) = self
            .cached(issuer)
            .filter(|i| i.fetched.elapsed() < DISCOVERY_TTL)
        {
            return Ok(hit);
        }
        let base = check_issuer(issuer, self.allow_insecure).map_err(SsoError::Provider)?;
        let url = Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| SsoError::Provider(e.to_string()))?;
        let discovery: Discovery = serde_json::from_slice(&self.get(&url).await?).map_err(|e| {
            SsoError::Provider(format!("the discovery document is not usable: {e}"))
        })?;
        if discovery.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(SsoError::Provider(format!(
                "the discovery document names the issuer {}, not {issuer}",
                discovery.issuer
            )));
        }
        let keys = self.fetch_keys(&discovery).await?;
        let fresh = Arc::new(Issuer {
            discovery,
            keys,
            fetched: Instant::now(),
            keys_fetched: Instant::now(),
        });
        self.store(issuer, fresh.clone());
        Ok(fresh)
    }

    fn cached(&self, issuer: &str) -> Option<Arc<Issuer>> {
        self.issuers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(issuer)
            .cloned()
    }

    fn store(&self, issuer: &str, info: Arc<Issuer>) {
        self.issuers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(issuer.to_owned(), info);
    }

    /// Fetches the discovery document now (a provider is checked when it is saved).
    pub async fn discover(&self, issuer: &str) -> Result<Discovery, SsoError> {
        self.issuers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(issuer);
        Ok(self.issuer(issuer).await?.discovery.clone())
    }

    /// Where to send the browser: the provider's authorization endpoint with the code flow's
    /// parameters.
    #[allow(clippy::too_many_arguments)]
    pub async fn authorization_url(
        &self,
        issuer: &str,
        client_id: &str,
        redirect_uri: &str,
        scopes: &[String],
        state: &str,
        nonce: &str,
        verifier: &str,
        login_hint: Option<&str>,
    ) -> Result<String, SsoError> {
        let info = self.issuer(issuer).await?;
        let mut url = Url::parse(&info.discovery.authorization_endpoint)
            .map_err(|e| SsoError::Provider(format!("authorization_endpoint: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", state)
                .append_pair("nonce", nonce)
                .append_pair("code_challenge", &pkce_challenge(verifier))
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = login_hint {
                q.append_pair("login_hint", hint);
            }
        }
        Ok(url.into())
    }

    /// Exchanges the authorization code (with the PKCE verifier) for the ID token, and verifies
    /// it.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish(
        &self,
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Claims, SsoError> {
        let info = self.issuer(issuer).await?;
        let url = check_issuer(&info.discovery.token_endpoint, self.allow_insecure)
            .map_err(|e| SsoError::Provider(format!("token_endpoint {e}")))?;
        let form = serde_urlencoded::to_string([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .expect("a form encodes");
        let basic = BASE64.encode(format!(
            "{}:{}",
            form_encode(client_id),
            form_encode(client_secret)
        ));
        let answer = tokio::time::timeout(
            self.timeout,
            crate::http::send(
                crate::http::Outgoing {
                    method: hyper::Method::POST,
                    url: &url,
                    headers: vec![
                        ("content-type", "application/x-www-form-urlencoded".into()),
                        ("accept", "application/json".into()),
                        ("authorization", format!("Basic {basic}")),
                    ],
                    body: Bytes::from(form),
                },
                self.allow_insecure,
                MAX_DOCUMENT,
            ),
        )
        .await
        .map_err(|_| SsoError::Provider("the token endpoint did not answer in time".into()))?
        .map_err(SsoError::Provider)?;
        #[derive(Deserialize)]
        struct TokenAnswer {
            id_token: Option<String>,
            error: Option<String>,
        }
        let parsed: TokenAnswer = serde_json::from_slice(&answer.body).map_err(|_| {
            SsoError::Provider(format!("the token endpoint answered {}", answer.status))
        })?;
        if answer.status != 200 {
            return Err(SsoError::Provider(format!(
                "the token endpoint refused the code: {}",
                parsed.error.unwrap_or_else(|| answer.status.to_string())
            )));
        }
        let id_token = parsed
            .id_token
            .ok_or_else(|| SsoError::Provider("the token endpoint gave no ID token".into()))?;
        let claims = self.verify(issuer, client_id, &id_token).await?;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(SsoError::Token("the nonce is not the one orgd sent".into()));
        }
        Ok(claims)
    }

    /// Verifies an ID token (or a bring-your-own provider's access token) from `issuer` for
    /// `audience`.
    pub async fn verify(
        &self,
        issuer: &str,
        audience: &str,
        token: &str,
    ) -> Result<Claims, SsoError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| SsoError::Token(e.to_string()))?;
        if !matches!(
            header.alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::EdDSA
        ) {
            return Err(SsoError::Token(format!(
                "{:?} is not accepted: only the provider's public keys sign",
                header.alg
            )));
        }
        let mut info = self.issuer(issuer).await?;
        let mut jwk = pick(&info.keys, header.kid.as_deref());
        if jwk.is_none() && info.keys_fetched.elapsed() >= REFETCH_GAP {
            // A key orgd has not seen: the provider may have rotated its keys.
            let keys = self.fetch_keys(&info.discovery).await?;
            let fresh = Arc::new(Issuer {
                discovery: info.discovery.clone(),
                keys,
                fetched: info.fetched,
                keys_fetched: Instant::now(),
            });
            self.store(issuer, fresh.clone());
            info = fresh;
            jwk = pick(&info.keys, header.kid.as_deref());
        }
        let jwk = jwk.ok_or_else(|| {
            SsoError::Token("it is signed with a key the provider does not publish".into())
        })?;
        if let Some(alg) = jwk.common.key_algorithm
            && format!("{alg:?}") != format!("{:?}", header.alg)
        {
            return Err(SsoError::Token(
                "its algorithm is not the one of the provider's key".into(),
            ));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| SsoError::Token(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[info.discovery.issuer.as_str()]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| SsoError::Token(e.to_string()))
    }
}

/// The key `kid` names, or the only signing key when the token names none.
fn pick<'a>(keys: &'a JwkSet, kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
}

/// `application/x-www-form-urlencoded` of one value (client credentials in HTTP Basic, RFC 6749
/// section 2.3.1).
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The domain of an email address, lowercased.
pub fn email_domain(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Checks an email domain as an organization may claim it: a lowercase DNS name with a dot.
pub fn check_domain(raw: &str) -> Result<String, String> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(d)
    } else {
        Err("must be a domain name such as acme.com".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_seal_and_open() {
        let key = BASE64.encode([7u8; 32]);
        let sealed = SecretBox::from_base64(&key).unwrap().seal("s3cret");
        assert!(!String::from_utf8_lossy(&sealed).contains("s3cret"));
        assert_eq!(
            SecretBox::from_base64(&key).unwrap().open(&sealed).unwrap(),
            "s3cret"
        );
        let other = BASE64.encode([8u8; 32]);
        assert!(
            SecretBox::from_base64(&other)
                .unwrap()
                .open(&sealed)
                .is_err()
        );
        assert!(SecretBox::from_base64("short").is_err());
    }

    #[test]
    fn pkce_matches_rfc_7636() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn domains() {
        assert_eq!(check_domain("Acme.COM."), Ok("acme.com".into()));
        assert!(check_domain("localhost").is_err());
        assert!(check_domain("a..b").is_err());
        assert!(check_domain("-a.com").is_err());
        assert_eq!(email_domain("Bob@Acme.com"), Some("acme.com".into()));
    }
}
