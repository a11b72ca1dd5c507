//! SSO: an organization's email domains and their proof, its OpenID Connect providers (owners
//! and admins), and signing in through a provider (the browser's round trip: start, then the
//! provider's callback).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Json, Ok, Path, Query, ok, parse_id};
use crate::AppState;
use crate::auth::{OrgContext, hash_token, mint};
use crate::domain::Timestamp;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::auth::AuthResponse;
use crate::sso::{self, SsoError};
use crate::store::TokenKind;
use crate::store::{
    NewSsoProvider, NewToken, OrgDomain, OrgKey, SsoIdentity, SsoProvider, SsoProviderPatch,
    SsoState,
};

/// Most scopes and domains one provider lists.
pub const MAX_LIST: usize = 20;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomainRequest {
    /// An email domain, e.g. `acme.com`.
    pub domain: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VerifyDomainRequest {
    /// Superusers only: verify without the well-known file.
    #[serde(default)]
    pub skip_check: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSsoProviderRequest {
    /// A label shown to users, up to 256 characters.
    pub name: String,
    /// The issuer URL (https); its discovery document is fetched when the provider is saved.
    pub issuer: String,
    pub client_id: String,
    /// Write-only: sealed at rest, never shown again.
    pub client_secret: String,
    /// Default `["openid", "email", "profile"]`; must include `openid`.
    pub scopes: Option<Vec<String>>,
    /// Verified domains of the organization whose users this provider signs in.
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub force_sso: bool,
    #[serde(default)]
    pub jit_provisioning: bool,
    /// The role new members get by just-in-time provisioning (default `member`; never `owner`;
    /// at most what the caller holds).
    pub default_role: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateSsoProviderRequest {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Replaces the sealed secret.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub domains: Option<Vec<String>>,
    /// Turning it off restores password sessions at once.
    pub force_sso: Option<bool>,
    pub jit_provisioning: Option<bool>,
    pub default_role: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// The organization (id or slug) whose provider signs the user in.
    pub organization: Option<String>,
    /// The user's email: its domain picks the provider (home-realm discovery), and it is passed
    /// on as `login_hint`.
    pub email: Option<String>,
    /// Where to send the browser afterwards; must start with one of `sso_redirect_urls`.
    /// Without it the callback answers JSON.
    pub return_to: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProviderStartQuery {
    /// Passed on to the provider as `login_hint`.
    pub email: Option<String>,
    /// As for `/auth/sso/start`.
    pub return_to: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when the sign-in did not happen.
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Any other parameter the provider adds (`iss`, `session_state`, …) is ignored.
    #[serde(flatten)]
    #[param(ignore)]
    pub _rest: std::collections::HashMap<String, String>,
}

fn sso_failed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "sso_failed", message)
}

impl From<SsoError> for ApiError {
    fn from(e: SsoError) -> ApiError {
        sso_failed(format!(
            "Signing in through the identity provider failed: {e}"
        ))
    }
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/auth/sso/callback", state.config.public_url)
}

fn shown(state: &AppState, mut p: SsoProvider) -> SsoProvider {
    p.redirect_uri = redirect_uri(state);
    p
}

fn shown_domain(state: &AppState, mut d: OrgDomain) -> OrgDomain {
    d.verification.url = state
        .config
        .domain_verification_url
        .replace("{domain}", &d.domain);
    d
}

fn secrets(state: &AppState) -> ApiResult<&sso::SecretBox> {
    state.secrets.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "SSO providers need sso_encryption_key in the installation's configuration",
        )
    })
}

fn check_list(
    c: &mut Checks,
    field: &str,
    v: &[String],
    each: fn(&str) -> Result<String, String>,
) -> Option<Vec<String>> {
    if v.len() > MAX_LIST {
        c.check::<()>(field, Err(format!("at most {MAX_LIST}")));
        return None;
    }
    let mut out = Vec::new();
    for item in v {
        let item = c.check(field, each(item))?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Some(out)
}

fn scope_name(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    {
        Ok(s.to_owned())
    } else {
        Err("scopes are 1 to 64 printable characters".into())
    }
}

fn client_text(field: &str, c: &mut Checks, v: &str) -> Option<String> {
    c.check(field, validate::name(v, 512))
}

/// An organization's domains.
#[utoipa::path(get, path = "/organizations/{org}/domains", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Vec<OrgDomain>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_domains(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<Vec<OrgDomain>>> {
    let list = state.store.list_domains(access.id).await?;
    Ok(Json(
        list.into_iter().map(|d| shown_domain(&state, d)).collect(),
    ))
}

/// Claim an email domain; prove it by serving `verification.token` at `verification.url`, then
/// verify it.
#[utoipa::path(post, path = "/organizations/{org}/domains", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug")),
    request_body = AddDomainRequest,
    responses((status = 201, body = OrgDomain), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Claimed already", body = ErrorBody)))]
pub async fn add_domain(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<AddDomainRequest>,
) -> ApiResult<(StatusCode, Json<OrgDomain>)> {
    let domain = sso::check_domain(&req.domain).map_err(|m| ApiError::field("domain", m))?;
    let token = format!("orgd-domain-verification={}", sso::random(24));
    let d = state.store.add_domain(access.id, domain, token).await?;
    Ok((StatusCode::CREATED, Json(shown_domain(&state, d))))
}

/// Verify a domain: orgd fetches `verification.url` and looks for `verification.token`. A
/// superuser may verify without it (`skip_check`). A domain is verified by one organization at
/// most.
#[utoipa::path(post, path = "/organizations/{org}/domains/{id}/verify", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Domain id")),
    request_body = VerifyDomainRequest,
    responses((status = 200, body = OrgDomain), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The proof was not found, or another organization verified the domain", body = ErrorBody)))]
pub async fn verify_domain(
    State(state): State<AppState>,
    OrgContext { access, caller }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
    Json(req): Json<VerifyDomainRequest>,
) -> ApiResult<Json<OrgDomain>> {
    let id = parse_id(&id, "Domain")?;
    let d = state
        .store
        .domain(access.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Domain"))?;
    let by = if req.skip_check {
        if !caller.is_superuser() {
            return Err(ApiError::forbidden(
                "Only a superuser verifies a domain without its proof",
            ));
        }
        "superuser"
    } else {
        if !d.verified {
            let d = shown_domain(&state, d.clone());
            prove(&state, &d).await?;
        }
        "http"
    };
    let d = state.store.verify_domain(access.id, id, by).await?;
    Ok(Json(shown_domain(&state, d)))
}

/// Fetches the domain's proof and checks that it holds the token.
async fn prove(state: &AppState, d: &OrgDomain) -> ApiResult<()> {
    let refused = |why: String| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "{} is not verified: {why}. Serve the text \"{}\" at {}",
                d.domain, d.verification.token, d.verification.url
            ),
        )
    };
    let url = url::Url::parse(&d.verification.url).map_err(|e| refused(e.to_string()))?;
    if url.scheme() != "https" && !state.config.sso_allow_insecure {
        return Err(refused("the proof URL must be https".into()));
    }
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        crate::http::send(
            crate::http::Outgoing {
                method: hyper::Method::GET,
                url: &url,
                headers: vec![],
                body: bytes::Bytes::new(),
            },
            state.config.sso_allow_insecure,
            64 * 1024,
        ),
    )
    .await
    .map_err(|_| refused("the proof URL did not answer in time".into()))?
    .map_err(refused)?;
    if answer.status != 200 {
        return Err(refused(format!("the proof URL answered {}", answer.status)));
    }
    if !String::from_utf8_lossy(&answer.body).contains(&d.verification.token) {
        return Err(refused("the proof URL does not hold the token".into()));
    }
    Ok(())
}

/// Remove a domain (refused while a provider routes it).
#[utoipa::path(delete, path = "/organizations/{org}/domains/{id}", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Domain id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "A provider routes it", body = ErrorBody)))]
pub async fn delete_domain(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Domain")?;
    state.store.delete_domain(access.id, id).await?;
    Ok(ok())
}

/// An organization's SSO providers.
#[utoipa::path(get, path = "/organizations/{org}/sso-providers", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug")),
    responses((status = 200, body = Vec<SsoProvider>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_providers(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
) -> ApiResult<Json<Vec<SsoProvider>>> {
    let list = state.store.list_sso_providers(access.id).await?;
    Ok(Json(list.into_iter().map(|p| shown(&state, p)).collect()))
}

/// Connect an OpenID Connect provider. Its discovery document is fetched now; register
/// `redirect_uri` (in the answer) with the provider.
#[utoipa::path(post, path = "/organizations/{org}/sso-providers", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug")),
    request_body = CreateSsoProviderRequest,
    responses((status = 201, body = SsoProvider), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "No sso_encryption_key, or the role does not exist", body = ErrorBody)))]
pub async fn create_provider(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<CreateSsoProviderRequest>,
) -> ApiResult<(StatusCode, Json<SsoProvider>)> {
    let secrets = secrets(&state)?;
    let mut c = Checks::new();
    let name = c.check("name", validate::name(&req.name, 256));
    let issuer = c.check(
        "issuer",
        sso::check_issuer(&req.issuer, state.config.sso_allow_insecure)
            .map(|u| u.as_str().trim_end_matches('/').to_owned()),
    );
    let client_id = client_text("client_id", &mut c, &req.client_id);
    let client_secret = client_text("client_secret", &mut c, &req.client_secret);
    let scopes = match &req.scopes {
        Some(s) => check_scopes(&mut c, s),
        None => Some(sso::DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
    };
    let domains = check_list(&mut c, "domains", &req.domains, sso::check_domain);
    let default_role = req.default_role.clone().unwrap_or_else(|| "member".into());
    c.finish()?;
    let issuer = issuer.expect("checked");
    state
        .oidc
        .discover(&issuer)
        .await
        .map_err(|e| ApiError::field("issuer", e.to_string()))?;
    let p = state
        .store
        .create_sso_provider(
            access.id,
            access.actor,
            NewSsoProvider {
                name: name.expect("checked"),
                issuer,
                client_id: client_id.expect("checked"),
                client_secret: secrets.seal(&client_secret.expect("checked")),
                scopes: scopes.expect("checked"),
                domains: domains.expect("checked"),
                force_sso: req.force_sso,
                jit_provisioning: req.jit_provisioning,
                default_role,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(shown(&state, p))))
}

fn check_scopes(c: &mut Checks, s: &[String]) -> Option<Vec<String>> {
    let scopes = check_list(c, "scopes", s, scope_name)?;
    if !scopes.iter().any(|s| s == "openid") {
        c.check::<()>("scopes", Err("must include openid".into()));
        return None;
    }
    Some(scopes)
}

/// An SSO provider.
#[utoipa::path(get, path = "/organizations/{org}/sso-providers/{id}", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = SsoProvider), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_provider(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<SsoProvider>> {
    let id = parse_id(&id, "SSO provider")?;
    state
        .store
        .sso_provider(access.id, id)
        .await?
        .map(|p| Json(shown(&state, p)))
        .ok_or_else(|| ApiError::not_found("SSO provider"))
}

/// Change an SSO provider; `{"force_sso": true|false}` turns enforcement on or off at once.
#[utoipa::path(patch, path = "/organizations/{org}/sso-providers/{id}", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Provider id")),
    request_body = UpdateSsoProviderRequest,
    responses((status = 200, body = SsoProvider), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_provider(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
    Json(req): Json<UpdateSsoProviderRequest>,
) -> ApiResult<Json<SsoProvider>> {
    let id = parse_id(&id, "SSO provider")?;
    // A provider that is not there is not found, before its issuer is fetched.
    state
        .store
        .sso_provider(access.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("SSO provider"))?;
    let mut c = Checks::new();
    let name = req
        .name
        .as_ref()
        .and_then(|n| c.check("name", validate::name(n, 256)));
    let issuer = req.issuer.as_ref().and_then(|i| {
        c.check(
            "issuer",
            sso::check_issuer(i, state.config.sso_allow_insecure)
                .map(|u| u.as_str().trim_end_matches('/').to_owned()),
        )
    });
    let client_id = req
        .client_id
        .as_ref()
        .and_then(|v| client_text("client_id", &mut c, v));
    let client_secret = req
        .client_secret
        .as_ref()
        .and_then(|v| client_text("client_secret", &mut c, v));
    let scopes = req.scopes.as_ref().and_then(|s| check_scopes(&mut c, s));
    let domains = req
        .domains
        .as_ref()
        .and_then(|d| check_list(&mut c, "domains", d, sso::check_domain));
    c.finish()?;
    let client_secret = match client_secret {
        Some(s) => Some(secrets(&state)?.seal(&s)),
        None => None,
    };
    if let Some(issuer) = &issuer {
        state
            .oidc
            .discover(issuer)
            .await
            .map_err(|e| ApiError::field("issuer", e.to_string()))?;
    }
    let p = state
        .store
        .update_sso_provider(
            access.id,
            access.actor,
            id,
            SsoProviderPatch {
                name,
                issuer,
                client_id,
                client_secret,
                scopes,
                domains,
                force_sso: req.force_sso,
                jit_provisioning: req.jit_provisioning,
                default_role: req.default_role,
            },
        )
        .await?;
    Ok(Json(shown(&state, p)))
}

/// Remove an SSO provider; the sessions it made (and tokens minted from them) end.
#[utoipa::path(delete, path = "/organizations/{org}/sso-providers/{id}", tag = "sso",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_provider(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "SSO provider")?;
    state.store.delete_sso_provider(access.id, id).await?;
    Ok(ok())
}

/// Checks `return_to` against the allow-list: same scheme, host and port as an allowed URL, and
/// a path under its path. Never an open redirect.
fn check_return_to(state: &AppState, raw: Option<&str>) -> ApiResult<Option<String>> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::field(
            "return_to",
            "is not one of this installation's allowed redirect URLs (sso_redirect_urls)",
        )
    };
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let allowed = state.config.sso_redirect_urls.iter().any(|a| {
        url::Url::parse(a).is_ok_and(|a| {
            a.scheme() == url.scheme()
                && a.host_str() == url.host_str()
                && a.port_or_known_default() == url.port_or_known_default()
                && url.path().starts_with(a.path())
        })
    });
    if !allowed || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad());
    }
    Ok(Some(url.into()))
}

/// Sends the browser to the provider.
async fn start(
    state: &AppState,
    provider: Uuid,
    email: Option<&str>,
    return_to: Option<String>,
) -> ApiResult<Response> {
    let (p, _) = state
        .store
        .sso_login_provider(provider)
        .await?
        .ok_or_else(|| ApiError::not_found("SSO provider"))?;
    let (state_value, nonce, verifier) = (sso::random(32), sso::random(32), sso::random(48));
    let location = state
        .oidc
        .authorization_url(
            &p.issuer,
            &p.client_id,
            &redirect_uri(state),
            &p.scopes,
            &state_value,
            &nonce,
            &verifier,
            email,
        )
        .await?;
    state
        .store
        .create_sso_state(
            hash_token(&state_value),
            SsoState {
                provider_id: p.id,
                nonce,
                verifier,
                return_to,
            },
            Timestamp::now().plus_secs(sso::STATE_LIFETIME_SECS),
        )
        .await?;
    Ok(redirect(&location))
}

fn redirect(location: &str) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Start a sign-in through an organization's provider: by the organization, or by the email's
/// domain (home-realm discovery: the provider whose verified domain it is). Redirects to the
/// provider (authorization code with PKCE, state and nonce).
#[utoipa::path(get, path = "/auth/sso/start", tag = "sso", security(()), params(StartQuery),
    responses((status = 302, description = "To the identity provider", headers(("location" = String))),
        (status = 400, body = ErrorBody),
        (status = 401, description = "`sso_failed`: the provider cannot be reached", body = ErrorBody),
        (status = 404, description = "No provider for this organization or domain", body = ErrorBody)))]
pub async fn start_discovered(
    State(state): State<AppState>,
    Query(q): Query<StartQuery>,
) -> ApiResult<Response> {
    let return_to = check_return_to(&state, q.return_to.as_deref())?;
    let provider = match (&q.organization, &q.email) {
        (Some(org), _) if !org.is_empty() && org.len() <= 253 => {
            state
                .store
                .sso_provider_for_organization(&OrgKey::parse(org))
                .await?
        }
        (_, Some(email)) => {
            let email = validate::email(email).map_err(|m| ApiError::field("email", m))?;
            match sso::email_domain(&email) {
                Some(d) => state.store.sso_provider_for_domain(&d).await?,
                None => None,
            }
        }
        _ => {
            return Err(ApiError::invalid(
                "Name the organization (organization=…) or the user's email (email=…)",
            ));
        }
    }
    .ok_or_else(|| ApiError::not_found("SSO provider"))?;
    start(&state, provider, q.email.as_deref(), return_to).await
}

/// Start a sign-in through one provider.
#[utoipa::path(get, path = "/auth/sso/{provider_id}/start", tag = "sso", security(()),
    params(("provider_id" = String, Path, description = "Provider id"), ProviderStartQuery),
    responses((status = 302, description = "To the identity provider", headers(("location" = String))),
        (status = 400, body = ErrorBody),
        (status = 401, description = "`sso_failed`: the provider cannot be reached", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn start_provider(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ProviderStartQuery>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "SSO provider")?;
    let return_to = check_return_to(&state, q.return_to.as_deref())?;
    start(&state, id, q.email.as_deref(), return_to).await
}

/// Where the provider sends the browser back. The state is single-use and short-lived; the
/// code is exchanged with the PKCE verifier; the ID token is verified (signature against the
/// provider's keys, issuer, audience, expiry, nonce) and must carry a verified email of one of
/// the provider's verified domains. The user with that identity (or that email, then linked)
/// signs in, or is provisioned; with `jit_provisioning` they join the organization. The
/// session is marked as the provider's. With a `return_to`, the browser goes there with the
/// session in the fragment (`#access_token=…&token_type=Bearer&expires_at=…`); without, the
/// answer is the session as JSON.
#[utoipa::path(get, path = "/auth/sso/callback", tag = "sso", security(()), params(CallbackQuery),
    responses((status = 200, body = AuthResponse, description = "Signed in"),
        (status = 302, description = "Signed in: to `return_to`, the session in the fragment", headers(("location" = String))),
        (status = 400, description = "No such sign-in under way (unknown, used or expired state)", body = ErrorBody),
        (status = 401, description = "`sso_failed`: the provider refused, or its ID token is not valid", body = ErrorBody),
        (status = 403, description = "The email is not of the provider's verified domains, or the account cannot sign in", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let raw_state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| ApiError::field("state", "is missing"))?;
    // Single use: the state is gone once read, whatever happens next.
    let pending = state
        .store
        .take_sso_state(hash_token(raw_state), Timestamp::now())
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "state",
                "names no sign-in under way (unknown, already used or expired): start again",
            )
        })?;
    if let Some(error) = &q.error {
        let detail = q.error_description.as_deref().unwrap_or("");
        return Err(sso_failed(format!(
            "The identity provider did not sign you in: {} {}",
            error.chars().take(100).collect::<String>(),
            detail.chars().take(300).collect::<String>()
        )));
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| ApiError::field("code", "is missing"))?;
    let (p, sealed) = state
        .store
        .sso_login_provider(pending.provider_id)
        .await?
        .ok_or_else(|| ApiError::not_found("SSO provider"))?;
    let secret = secrets(&state)?
        .open(&sealed)
        .map_err(|e| sso_failed(format!("This provider's secret cannot be used: {e}")))?;
    let claims = state
        .oidc
        .finish(
            &p.issuer,
            &p.client_id,
            &secret,
            &redirect_uri(&state),
            code,
            &pending.verifier,
            &pending.nonce,
        )
        .await?;
    let email = claims
        .verified_email()
        .and_then(|e| validate::email(e).ok())
        .ok_or_else(|| {
            sso_failed("The identity provider gave no verified email address for this account")
        })?;
    let (token, hash) = mint(TokenKind::Session);
    let expires_at = Timestamp::now().plus_secs(state.config.session_lifetime_secs as i64);
    let user = state
        .store
        .sso_sign_in(
            p.id,
            SsoIdentity {
                subject: claims.sub.chars().take(255).collect(),
                email,
                name: claims
                    .name
                    .as_deref()
                    .and_then(|n| validate::person_name(n).ok()),
            },
            NewToken {
                sso_provider_id: Some(p.id),
                user_id: Uuid::nil(),
                kind: TokenKind::Session,
                name: None,
                hash,
                organization_id: None,
                expires_at: Some(expires_at),
            },
        )
        .await?;
    match pending.return_to {
        Some(to) => {
            let fragment = serde_urlencoded::to_string([
                ("access_token", token.as_str()),
                ("token_type", "Bearer"),
                ("expires_at", &expires_at.to_rfc3339()),
            ])
            .expect("a fragment encodes");
            Ok(redirect(&format!("{to}#{fragment}")))
        }
        None => Ok(Json(AuthResponse {
            user,
            access_token: token,
            token_type: "Bearer".into(),
            expires_at,
        })
        .into_response()),
    }
}
