//! Bearer tokens → `Caller`; token minting and hashing; password hashing with bounded
//! concurrency.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::AppState;
use crate::authz::{Actor, Permission, Role};
use crate::domain::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::store::{OrgKey, OrgStatus, TokenKind, User};

pub fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Session => "orgd_s_",
        TokenKind::Pat => "orgd_pat_",
        TokenKind::Sa => "orgd_sa_",
    }
}

const SECRET_HEX_LEN: usize = 64;

/// A new random token (256 bits) and the SHA-256 hash that is all the database keeps.
pub fn mint(kind: TokenKind) -> (String, [u8; 32]) {
    mint_secret(prefix(kind))
}

/// A license key: what `mint_secret` makes with this prefix.
pub const LICENSE_KEY_PREFIX: &str = "orgd_lic_";
/// A deployment's heartbeat token.
pub const DEPLOYMENT_TOKEN_PREFIX: &str = "orgd_dep_";

/// A new random secret (256 bits) after `prefix`, and its SHA-256 hash.
pub fn mint_secret(prefix: &str) -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut token = String::with_capacity(prefix.len() + SECRET_HEX_LEN);
    token.push_str(prefix);
    for b in bytes {
        token.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
        token.push(char::from(b"0123456789abcdef"[(b & 15) as usize]));
    }
    let hash = hash_token(&token);
    (token, hash)
}

/// The hash of a well-formed secret with `prefix` (see `mint_secret`); `None` otherwise.
pub fn parse_secret(token: &str, prefix: &str) -> Option<[u8; 32]> {
    let secret = token.strip_prefix(prefix)?;
    (secret.len() == SECRET_HEX_LEN
        && secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    .then(|| hash_token(token))
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The kind and hash of a well-formed token; `None` for anything else, without a database trip.
pub fn parse_token(token: &str) -> Option<(TokenKind, [u8; 32])> {
    let kind = [TokenKind::Session, TokenKind::Pat, TokenKind::Sa]
        .into_iter()
        .find(|k| token.starts_with(prefix(*k)))?;
    let secret = &token[prefix(kind).len()..];
    if secret.len() != SECRET_HEX_LEN
        || !secret
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    Some((kind, hash_token(token)))
}

/// The credentials of an `Authorization: Bearer …` header; the scheme name is
/// case-insensitive (RFC 7235).
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// The authenticated principal of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: std::sync::Arc<User>,
    pub token_id: Uuid,
    pub kind: TokenKind,
    /// A scoped token acts only inside this organization (and on its owner's profile).
    pub scope: Option<Uuid>,
    pub expires_at: Option<Timestamp>,
    /// The SSO provider the session came from (or the session a token was minted from).
    pub sso_provider_id: Option<Uuid>,
}

impl Caller {
    /// Superuser powers come with unscoped tokens only.
    pub fn is_superuser(&self) -> bool {
        self.user.is_superuser && self.scope.is_none()
    }
    pub fn actor(&self) -> Actor {
        if self.is_superuser() {
            Actor::Superuser(self.user.id)
        } else {
            Actor::User(self.user.id)
        }
    }

    /// Resolves `{org}` for this caller. Non-members (and tokens scoped elsewhere) get the same
    /// 404 as for an organization that does not exist.
    pub async fn org(&self, state: &AppState, key: &str) -> ApiResult<OrgAccess> {
        let not_found = || ApiError::not_found("Organization");
        if key.is_empty() || key.len() > 253 {
            return Err(not_found());
        }
        let row = state
            .store
            .organization_access(&OrgKey::parse(key), self.user.id)
            .await?
            .ok_or_else(not_found)?;
        if self.scope.is_some_and(|s| s != row.id) {
            return Err(not_found());
        }
        if !self.is_superuser() {
            if row.role.is_none() {
                return Err(not_found());
            }
            if row.status == OrgStatus::Banned {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "organization_banned",
                    "The organization is banned",
                ));
            }
        }
        let grant = match (self.is_superuser(), row.grant) {
            (true, _) => crate::authz::Grant::superuser(),
            (false, Some(grant)) => grant,
            (false, None) => return Err(not_found()),
        };
        self.check_sso(state, row.id, &grant).await?;
        Ok(OrgAccess {
            id: row.id,
            status: row.status,
            owner_id: row.owner_id,
            role: row.role,
            grant,
            actor: self.actor(),
            organization: row.organization,
        })
    }
}

impl Caller {
    /// Force SSO: a member whose email domain a provider of the organization forces signs in
    /// through that provider; a password session (or a token minted from one) gets
    /// `403 sso_required`. Owners keep their password (the break-glass path, so that turning
    /// it on can never lock the last owner out); superusers and service accounts are not
    /// people of the domain.
    async fn check_sso(
        &self,
        state: &AppState,
        org: Uuid,
        grant: &crate::authz::Grant,
    ) -> ApiResult<()> {
        if self.is_superuser() || self.user.is_service_account || grant.owner {
            return Ok(());
        }
        let rules = state.store.sso_enforcement(org).await?;
        if rules.is_empty() {
            return Ok(());
        }
        let Some(domain) = crate::sso::email_domain(&self.user.email) else {
            return Ok(());
        };
        let forcing: Vec<Uuid> = rules
            .iter()
            .filter(|r| r.domains.contains(&domain))
            .map(|r| r.provider_id)
            .collect();
        if forcing.is_empty() || self.sso_provider_id.is_some_and(|p| forcing.contains(&p)) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "sso_required",
            format!(
                "This organization requires {domain} accounts to sign in through its identity \
                 provider: GET /auth/sso/{}/start",
                forcing[0]
            ),
        ))
    }
}

/// A bearer JWT of the installation's own identity provider (`external_jwt_issuer`): verified
/// like an ID token (the issuer's keys, issuer, audience, expiry, asymmetric algorithms only),
/// then mapped by its verified email to an orgd user, provisioned on first use. Such a token
/// never carries superuser powers, and never acts for a service account.
async fn external(
    state: &AppState,
    parts: &Parts,
    issuer: &str,
    audience: &str,
    token: &str,
) -> ApiResult<Caller> {
    let claims = state
        .oidc
        .verify(issuer, audience, token)
        .await
        .map_err(|e| {
            tracing::debug!(error = %e, "an external bearer token was refused");
            ApiError::unauthenticated()
        })?;
    let email = claims
        .verified_email()
        .and_then(|e| crate::domain::validate::email(e).ok())
        .ok_or_else(ApiError::unauthenticated)?;
    let user = match state.store.user_by_email(&email).await? {
        Some(u) => u,
        None => {
            let made = state
                .store
                .create_user(crate::store::NewUser {
                    email: email.clone(),
                    username: None,
                    name: claims
                        .name
                        .as_deref()
                        .and_then(|n| crate::domain::validate::person_name(n).ok()),
                    password_hash: None,
                    is_superuser: false,
                    is_service_account: false,
                    email_verified: true,
                })
                .await;
            match made {
                Ok(u) => u,
                // Two first requests at once: the other made the account.
                Err(crate::store::StoreError::Conflict(_)) => state
                    .store
                    .user_by_email(&email)
                    .await?
                    .ok_or_else(ApiError::unauthenticated)?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    if !user.is_active || user.is_superuser || user.is_service_account {
        return Err(ApiError::unauthenticated());
    }
    let digest = hash_token(token);
    let token_id = Uuid::from_slice(&digest[..16]).expect("16 bytes");
    crate::request_id::CallerSlot::record(&parts.extensions, user.id);
    crate::audit::actor(crate::audit::ActorType::User, user.id, None);
    Ok(Caller {
        user: std::sync::Arc::new(user),
        token_id,
        kind: TokenKind::Session,
        scope: None,
        expires_at: None,
        sso_provider_id: None,
    })
}

/// A caller's standing in one organization.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub id: Uuid,
    pub status: OrgStatus,
    pub owner_id: Uuid,
    /// The caller's own role key; `None` for a superuser who is not a member.
    pub role: Option<String>,
    /// What the caller holds here: their role's grant (a superuser's is an owner's).
    pub grant: crate::authz::Grant,
    /// The organization as the caller sees it, read with the access decision.
    pub organization: std::sync::Arc<crate::store::Organization>,
    pub actor: Actor,
}

impl OrgAccess {
    /// Whether the caller's role here grants `p` (a superuser acts as an owner).
    pub fn allows(&self, p: Permission) -> bool {
        self.grant.perms.has(p)
    }
    /// Writes are refused in a suspended organization, except for superusers, and in a
    /// deactivated one (but for the change that reactivates it, `reactivation`).
    pub fn writable(&self, reactivation: bool) -> ApiResult<()> {
        if !self.organization.active && !reactivation {
            return Err(ApiError::inactive());
        }
        if self.status == OrgStatus::Suspended && !matches!(self.actor, Actor::Superuser(_)) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "organization_suspended",
                "The organization is suspended: it can be read but not changed",
            ));
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        let token = bearer(header).ok_or_else(ApiError::unauthenticated)?;
        let Some((kind, hash)) = parse_token(token) else {
            if let Some((issuer, audience)) = &state.config.external_jwt
                && token.split('.').count() == 3
            {
                return external(state, parts, issuer, audience, token).await;
            }
            return Err(ApiError::unauthenticated());
        };
        let auth = state
            .store
            .authenticate(hash, Timestamp::now())
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        if auth.kind != kind {
            return Err(ApiError::unauthenticated());
        }
        crate::request_id::CallerSlot::record(&parts.extensions, auth.user.id);
        let kind = if auth.user.is_superuser && auth.organization_id.is_none() {
            crate::audit::ActorType::Superuser
        } else if auth.user.is_service_account {
            crate::audit::ActorType::ServiceAccount
        } else {
            crate::audit::ActorType::User
        };
        crate::audit::actor(kind, auth.user.id, Some(auth.token_id));
        Ok(Caller {
            user: auth.user,
            token_id: auth.token_id,
            kind: auth.kind,
            scope: auth.organization_id,
            expires_at: auth.expires_at,
            sso_provider_id: auth.sso_provider_id,
        })
    }
}

/// argon2id hashing on the blocking pool, at most `concurrency` at once: a login flood queues
/// here (briefly, then 503) instead of starving the async workers that serve other requests.
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy: OnceLock<String>,
    /// How long a password operation may wait for a hashing slot before the request gets 503.
    queue_wait: Duration,
    /// Work for the hashing threads. A fixed set of threads (one per slot) rather than tokio's
    /// growing blocking pool: each argon2 run allocates 19 MiB, and every thread that ever ran
    /// one keeps its allocator arena, so a login flood would otherwise leave hundreds of MB.
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id minimum: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// argon2id with a fresh random salt, on the calling thread.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

impl Passwords {
    pub fn new(concurrency: usize, queue_wait: Duration) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("orgd-hash-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job; the threads end
                        // when `Passwords` (the sender) is dropped.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Passwords {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: OnceLock::new(),
            queue_wait,
            jobs: std::sync::Mutex::new(jobs),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let permit = tokio::time::timeout(self.queue_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::unavailable("Too many sign-ins at once, retry shortly"))?
            .map_err(|_| ApiError::internal())?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = work();
            drop(permit);
            let _ = done.send(out);
        });
        self.jobs
            .lock()
            .map_err(|_| ApiError::internal())?
            .send(job)
            .map_err(|_| ApiError::internal())?;
        result.await.map_err(|_| ApiError::internal())
    }

    /// Computes the dummy hash ahead of the first login, so that even the first failed login
    /// costs the same as any other.
    pub async fn prewarm(&self) -> ApiResult<()> {
        self.verify(String::new(), None).await.map(|_| ())
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        self.run(move || hash_password(&password))
            .await?
            .map_err(|_| ApiError::internal())
    }

    /// Checks `password` against `hash`; with no hash (unknown user, password-less account) it
    /// still spends the same work on a dummy hash, so timing does not tell the cases apart.
    pub async fn verify(&self, password: String, hash: Option<String>) -> ApiResult<bool> {
        let dummy = match self.dummy.get() {
            Some(d) => d.clone(),
            None => {
                let d = self
                    .run(|| hash_password("orgd-timing-equalizer"))
                    .await?
                    .map_err(|_| ApiError::internal())?;
                self.dummy.get_or_init(|| d).clone()
            }
        };
        self.run(move || {
            let (target, real) = match &hash {
                Some(h) => (h.as_str(), true),
                None => (dummy.as_str(), false),
            };
            let ok = PasswordHash::new(target)
                .map(|parsed| {
                    argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            ok && real
        })
        .await
    }
}

/// The caller when the request carries a token; `None` when it carries none (a token that is
/// present but invalid is still a 401).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            Caller::from_request_parts(parts, state)
                .await
                .map(|c| MaybeCaller(Some(c)))
        } else {
            Ok(MaybeCaller(None))
        }
    }
}

/// A request under `/organizations/{org}`, admitted by the route's row in `authz::ROUTES`: the
/// caller, and their standing in the organization. Handlers take this instead of deciding
/// anything themselves; a route without a row is refused.
pub struct OrgContext {
    pub caller: Caller,
    pub access: OrgAccess,
}

impl FromRequestParts<AppState> for OrgContext {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let template = route_template(parts);
        let need = crate::authz::need(parts.method.as_str(), &template)
            .ok_or_else(|| undeclared(parts, &template))?;
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("Organization"))?;
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        };
        let org = param("org").ok_or_else(|| ApiError::not_found("Organization"))?;
        let access = caller.org(state, &org).await?;
        crate::audit::organization(access.id);
        if need.writes {
            access.writable(need.reactivates)?;
        }
        let is_self = need.or_self
            && param("user").and_then(|u| Uuid::try_parse(&u).ok()) == Some(caller.user.id);
        if !access.allows(need.permission) && !is_self {
            let project_admin = if need.or_project_admin {
                // A project that is not there is not found, whoever asks.
                let project = param("id")
                    .and_then(|id| Uuid::try_parse(&id).ok())
                    .ok_or_else(|| ApiError::not_found("Project"))?;
                if state.store.project(access.id, project).await?.is_none() {
                    return Err(ApiError::not_found("Project"));
                }
                state.store.project_role(project, caller.user.id).await?
                    == Some(crate::store::ProjectRole::Admin)
            } else {
                false
            };
            if !project_admin {
                return Err(ApiError::forbidden(if need.or_project_admin {
                    "This requires the admin role in the organization or the project".to_string()
                } else {
                    format!(
                        "This requires the {} permission (held by the {} role and up)",
                        need.permission.as_str(),
                        Role::least_with(need.permission).as_str()
                    )
                }));
            }
        }
        Ok(OrgContext { caller, access })
    }
}

/// The route template the request matched (`/organizations/{org}/members`), as the policy
/// tables in `authz` name routes.
fn route_template(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default()
}

/// A route used with an extractor its row does not declare: refused (deny by default), and
/// logged, since it is a mistake in the code, not in the request.
fn undeclared(parts: &Parts, template: &str) -> ApiError {
    tracing::error!(method = %parts.method, route = %template, "no policy declared for this route");
    ApiError::forbidden("No policy is declared for this route")
}

/// A superuser's request to a route whose row in `authz::INSTALLATION_ROUTES` says so.
pub struct SuperuserCaller(pub Caller);

impl FromRequestParts<AppState> for SuperuserCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let template = route_template(parts);
        let access = crate::authz::installation_access(parts.method.as_str(), &template);
        if access != Some(crate::authz::Access::Superuser) {
            return Err(undeclared(parts, &template));
        }
        if !caller.is_superuser() {
            return Err(ApiError::forbidden(
                "This requires a superuser (with an unscoped token)",
            ));
        }
        Ok(SuperuserCaller(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_parse_back_to_their_kind_and_hash() {
        for kind in [TokenKind::Session, TokenKind::Pat, TokenKind::Sa] {
            let (token, hash) = mint(kind);
            assert!(token.starts_with(prefix(kind)));
            assert_eq!(parse_token(&token), Some((kind, hash)));
        }
        let (a, _) = mint(TokenKind::Session);
        let (b, _) = mint(TokenKind::Session);
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let (token, _) = mint(TokenKind::Pat);
        for bad in [
            "".to_string(),
            "orgd_pat_".to_string(),
            token[..token.len() - 1].to_string(),
            format!("{token}0"),
            token.replace("orgd_pat_", "orgd_x_"),
            token.to_uppercase(),
        ] {
            assert_eq!(parse_token(&bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn argon2id_hashes_verify_and_reject() {
        let p = Passwords::new(2, Duration::from_secs(5));
        let h = p.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            p.verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!p.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(
            !p.verify("orgd-timing-equalizer".into(), None)
                .await
                .unwrap()
        );
    }
}
