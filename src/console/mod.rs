//! The web console at `/console`: server-rendered pages for organization owners and admins, the
//! operator, and every user.
//!
//! Every page and every action is a call to the public API ([`api::Api`]) with the signed-in
//! user's own session, so the console can do exactly what that user could do with curl and nothing
//! more. The session lives in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` when `public_url` is
//! https); every form carries a CSRF token bound to the session, and a form posted from another
//! origin is refused before it is read. Pages run no inline script: the few behaviours that need
//! JavaScript (copy buttons, the SSO hand-over) live in one embedded file.

/// An organization page's context ([`org::OrgCtx`]), or the page that says why there is none.
macro_rules! ctx_or_return {
    ($c:expr, $org:expr) => {
        match $crate::console::org::OrgCtx::load($c, $org).await {
            Ok(ctx) => ctx,
            Err(res) => return res,
        }
    };
}

/// The value of an API call, or the page that explains its failure (`Console::failed`).
macro_rules! or_fail {
    ($c:expr, $call:expr) => {
        match $call {
            Ok(value) => value,
            Err(f) => return $c.failed(f),
        }
    };
}

mod access;
mod account;
pub mod api;
mod billing;
mod events;
mod operator;
mod org;
mod people;
mod resources;
mod ui;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use crate::AppState;
use api::{Api, Failure};

pub use ui::Retry;

/// The session cookie: the API session token itself, readable by no script.
const SESSION_COOKIE: &str = "orgd_session";
/// Before sign-in: the double-submit CSRF token of the sign-in and sign-up forms.
const PRE_CSRF_COOKIE: &str = "orgd_csrf";
/// A one-time notice shown on the next page ("Invitation sent").
const FLASH_COOKIE: &str = "orgd_flash";
/// During an SSO sign-in: the value its way back must name (the sign-in is bound to the browser).
const SSO_COOKIE: &str = "orgd_sso";
/// How long an SSO sign-in may take, as the API's state lives.
const SSO_BINDING_SECS: i64 = 600;

/// The console pages' policy: scripts, styles and images only from orgd itself, forms only to it,
/// never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) struct Shared {
    pub state: AppState,
    /// The public API's router, with all its layers.
    pub api: Router,
    /// Cookies get `Secure` when the console is served over https.
    pub secure: bool,
    /// `scheme://host[:port]` of `public_url`.
    pub origin: String,
}

type S = Arc<Shared>;

/// The console's router, to be nested at `/console`; `api` is the public API's whole router.
pub fn router(state: AppState, api: Router) -> Router {
    let public = url::Url::parse(&state.config.public_url).ok();
    let shared = Arc::new(Shared {
        secure: public.as_ref().is_some_and(|u| u.scheme() == "https"),
        origin: public
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default(),
        api,
        state: state.clone(),
    });
    let body_limit = state.config.body_limit_bytes;
    Router::new()
        .route("/assets/{name}", get(asset))
        .merge(account::routes())
        .merge(org::routes())
        .merge(operator::routes())
        .merge(resources::routes())
        .merge(billing::routes())
        .merge(access::routes())
        .merge(events::routes())
        .merge(people::routes())
        .fallback(not_found)
        .with_state(shared)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(headers))
        .layer(axum::middleware::from_fn(crate::routes::refuse_nul))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::request_id::layer,
        ))
}

async fn not_found() -> Response {
    ui::bare_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

/// Security headers of every console response.
async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return not_found().await,
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

// --- cookies -----------------------------------------------------------------------------------

fn cookies(parts: &Parts) -> HashMap<String, String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// A `Set-Cookie` value scoped to the console; `max_age` 0 removes the cookie.
fn cookie(shared: &Shared, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Lax");
    if shared.secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static(""))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The CSRF token of a session: derived from the session token, which no page ever shows.
fn csrf_for(session: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("orgd-console-csrf\0{session}").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn same_token(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A browser's form post is accepted only from the console's own origin: `Sec-Fetch-Site` and
/// `Origin`, when the browser sends them, must say so. (The CSRF token is checked as well.)
fn from_own_origin(shared: &Shared, parts: &Parts) -> bool {
    let site = parts
        .headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == shared.origin {
        return true;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !host.is_empty()
        && (origin.strip_prefix("http://") == Some(host)
            || origin.strip_prefix("https://") == Some(host))
}

fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Where a signed-out visitor of `parts` is sent: the sign-in page, then back.
fn to_sign_in(parts: &Parts) -> Response {
    let back = if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/console")
    } else {
        "/console"
    };
    redirect(&format!(
        "/console/sign-in{}",
        api::query(&[("next", back)])
    ))
}

/// A local console address to return to, never another site's.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/console") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/console"
    }
}

// --- the signed-in user ------------------------------------------------------------------------

/// A signed-in visitor: their API client, their account, and the page's CSRF token.
pub(crate) struct Console {
    pub api: Api,
    pub me: Value,
    pub csrf: String,
    pub flash: Option<String>,
    pub shared: S,
}

impl Console {
    pub fn is_superuser(&self) -> bool {
        self.me["is_superuser"].as_bool().unwrap_or(false)
    }

    pub fn my_id(&self) -> &str {
        self.me["id"].as_str().unwrap_or_default()
    }

    /// Redirects to `to` with a notice shown there once.
    pub fn done(&self, to: &str, notice: &str) -> Response {
        let mut res = redirect(to);
        let value: String = url::form_urlencoded::byte_serialize(notice.as_bytes()).collect();
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie(&self.shared, FLASH_COOKIE, &value, Some(60)),
        );
        res
    }

    /// The answer to a failed API call outside a form: sign-in again, or an error page.
    pub fn failed(&self, f: Failure) -> Response {
        if f.status == 401 {
            let mut res = redirect("/console/sign-in");
            res.headers_mut().append(
                header::SET_COOKIE,
                cookie(&self.shared, SESSION_COOKIE, "", Some(0)),
            );
            return res;
        }
        ui::error_page(self, &f)
    }
}

impl FromRequestParts<S> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &S) -> Result<Self, Response> {
        let jar = cookies(parts);
        let Some(token) = jar.get(SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(to_sign_in(parts));
        };
        let api = Api::new(shared.api.clone(), Some(token.clone()), parts);
        let me = match api.get("/users/me").await {
            Ok(me) => me,
            Err(f) if f.status == 401 => {
                let mut res = to_sign_in(parts);
                res.headers_mut().append(
                    header::SET_COOKIE,
                    cookie(shared, SESSION_COOKIE, "", Some(0)),
                );
                return Err(res);
            }
            Err(f) => {
                return Err(ui::bare_page(
                    StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_GATEWAY),
                    "Something went wrong",
                    &f.message,
                ));
            }
        };
        Ok(Console {
            api,
            me,
            csrf: csrf_for(token),
            flash: jar
                .get(FLASH_COOKIE)
                .map(|v| percent_decode(v))
                .filter(|v| !v.is_empty()),
            shared: shared.clone(),
        })
    }
}

/// A form's fields, in order, repeated names kept (check boxes).
#[derive(Clone, Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8]) -> Self {
        Fields(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value named `name`, trimmed; "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// The value named `name`, or `None` when it is empty.
    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    /// Every value named `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == name && (v == "on" || v == "true"))
    }

    /// Whether the person confirmed on the confirmation page.
    pub fn confirmed(&self) -> bool {
        self.get("_confirmed") == "yes"
    }
}

async fn read_fields(body: axum::body::Body, limit: usize) -> Result<Fields, Response> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ui::bare_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            "The form is too large.",
        )
    })?;
    Ok(Fields::parse(&bytes))
}

fn forged() -> Response {
    ui::bare_page(
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form came from another site or has expired. Nothing was changed. Go back, reload the page and try again.",
    )
}

/// A signed-in user's form post, from the console's own origin, with the session's CSRF token.
pub(crate) struct Submit {
    pub c: Console,
    pub f: Fields,
}

impl FromRequest<S> for Submit {
    type Rejection = Response;

    async fn from_request(req: Request, shared: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        if !from_own_origin(shared, &parts) {
            return Err(forged());
        }
        let c = Console::from_request_parts(&mut parts, shared).await?;
        let f = read_fields(body, shared.state.config.body_limit_bytes).await?;
        if !same_token(f.get("_csrf"), &c.csrf) {
            return Err(forged());
        }
        Ok(Submit { c, f })
    }
}

/// A visitor who has not signed in (sign-in, sign-up, accepting an invitation as a new user).
pub(crate) struct Visitor {
    pub api: Api,
    /// The double-submit token: the cookie's value, or a new one to set.
    pub csrf: String,
    pub new_csrf: bool,
    /// The console session, when the visitor is signed in.
    pub session: Option<String>,
    /// The binding of an SSO sign-in under way in this browser.
    pub sso_binding: Option<String>,
    pub shared: S,
}

impl Visitor {
    /// Adds the CSRF cookie to a response when it is new.
    pub fn finish(&self, mut res: Response) -> Response {
        if self.new_csrf {
            res.headers_mut().append(
                header::SET_COOKIE,
                cookie(&self.shared, PRE_CSRF_COOKIE, &self.csrf, None),
            );
        }
        res
    }

    /// Signs in with an API session token and goes to `next`.
    pub fn sign_in(&self, token: &str, next: &str) -> Response {
        let mut res = redirect(safe_next(next));
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie(&self.shared, SESSION_COOKIE, token, None),
        );
        res
    }
}

impl FromRequestParts<S> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &S) -> Result<Self, Response> {
        let jar = cookies(parts);
        let existing = jar.get(PRE_CSRF_COOKIE).filter(|v| v.len() == 32).cloned();
        Ok(Visitor {
            api: Api::new(shared.api.clone(), None, parts),
            new_csrf: existing.is_none(),
            csrf: existing.unwrap_or_else(random_token),
            session: jar.get(SESSION_COOKIE).filter(|t| !t.is_empty()).cloned(),
            sso_binding: jar.get(SSO_COOKIE).filter(|t| !t.is_empty()).cloned(),
            shared: shared.clone(),
        })
    }
}

/// A signed-out visitor's form post, with the double-submit token.
pub(crate) struct VisitorSubmit {
    pub v: Visitor,
    pub f: Fields,
}

impl FromRequest<S> for VisitorSubmit {
    type Rejection = Response;

    async fn from_request(req: Request, shared: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        if !from_own_origin(shared, &parts) {
            return Err(forged());
        }
        let v = Visitor::from_request_parts(&mut parts, shared).await?;
        let f = read_fields(body, shared.state.config.body_limit_bytes).await?;
        if v.new_csrf || !same_token(f.get("_csrf"), &v.csrf) {
            return Err(forged());
        }
        Ok(VisitorSubmit { v, f })
    }
}

/// Removes the session cookie.
fn signed_out(shared: &Shared, to: &str) -> Response {
    let mut res = redirect(to);
    res.headers_mut().append(
        header::SET_COOKIE,
        cookie(shared, SESSION_COOKIE, "", Some(0)),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_addresses_are_returned_to() {
        assert_eq!(safe_next("/console/orgs/x"), "/console/orgs/x");
        assert_eq!(safe_next("https://evil.example/"), "/console");
        assert_eq!(safe_next("//evil.example/console"), "/console");
        assert_eq!(safe_next("/console\\@evil"), "/console");
    }

    #[test]
    fn csrf_tokens_differ_per_session() {
        assert_ne!(csrf_for("a"), csrf_for("b"));
        assert_eq!(csrf_for("a"), csrf_for("a"));
        assert_eq!(csrf_for("a").len(), 32);
    }
}
