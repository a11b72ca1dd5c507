//! orgd: organizations, members, roles and ownership over an HTTP/JSON API.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub mod audit;
pub mod auth;
pub mod authz;
pub mod backup;
pub mod config;
pub mod console;
pub mod domain;
pub mod error;
pub mod headers;
pub mod http;
pub mod mailer;
pub mod metrics;
pub mod ratelimit;
pub mod request_id;
pub mod routes;
pub mod seed;
pub mod server;
pub mod spec;
pub mod sso;
pub mod store;
pub mod webhooks;

use crate::config::Config;
use crate::error::ApiError;
use crate::store::Store;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub passwords: Arc<auth::Passwords>,
    /// Present when a mail server is configured.
    pub mailer: Option<Arc<mailer::Mailer>>,
    /// Absent when rate limiting is switched off.
    pub limits: Option<Arc<ratelimit::Limits>>,
    /// Identity providers' documents and keys.
    pub oidc: Arc<sso::Oidc>,
    /// Seals SSO client secrets; absent without `sso_encryption_key`.
    pub secrets: Option<sso::SecretBox>,
}

impl AppState {
    /// Fails only on an unusable mail server setting.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Result<Self, String> {
        let passwords = Arc::new(auth::Passwords::new(
            config.password_hash_concurrency,
            std::time::Duration::from_millis(config.password_hash_queue_ms),
        ));
        let mailer = match &config.smtp_url {
            Some(url) => Some(Arc::new(mailer::Mailer::new(url, &config.smtp_from)?)),
            None => None,
        };
        let limits = ratelimit::Limits::from_config(&config).map(Arc::new);
        let secrets = match &config.sso_encryption_key {
            Some(key) => Some(sso::SecretBox::from_base64(key)?),
            None => None,
        };
        let oidc = Arc::new(sso::Oidc::new(config.sso_allow_insecure));
        store.set_licensing(Arc::new(store::Licensing {
            plans: config.plans.clone(),
            clock: domain::Clock::default(),
            deployment_stale_secs: config.deployment_stale_secs as i64,
        }));
        Ok(AppState {
            limits,
            oidc,
            secrets,
            store,
            config: Arc::new(config),
            passwords,
            mailer,
        })
    }
}

impl AppState {
    /// The licensing clock's time (tests move it forward).
    pub fn now(&self) -> domain::Timestamp {
        self.store.licensing().clock.now()
    }
    /// An organization as shown now: its plan decided from its license at this moment.
    pub fn show(&self, org: store::Organization) -> store::Organization {
        let licensing = self.store.licensing();
        org.at(&licensing.plans, licensing.clock.now())
    }
    /// Organizations as shown now (one read of the plans and the clock for all).
    pub fn show_all(&self, orgs: Vec<store::Organization>) -> Vec<store::Organization> {
        let licensing = self.store.licensing();
        let now = licensing.clock.now();
        orgs.into_iter()
            .map(|o| o.at(&licensing.plans, now))
            .collect()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orgd",
        description = "Organizations, members, roles and ownership for SaaS products. Errors always \
                       have the `ErrorBody` shape with a stable `code`. Lists are bare arrays; more \
                       items are announced by an RFC 8288 `Link: <…>; rel=\"next\"` header. A \
                       caller who is not a member of an organization gets `404 not_found` for it \
                       and everything under it.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "Sign-up, login, logout"),
        (name = "users", description = "Profiles and superuser user management"),
        (name = "organizations", description = "Organizations"),
        (name = "members", description = "Members and their roles"),
        (name = "roles", description = "The permission catalogue, application permissions, custom roles and the permission check"),
        (name = "tokens", description = "Personal access tokens, optionally scoped to an organization"),
        (name = "service accounts", description = "Token-only principals that are organization members"),
        (name = "invitations", description = "Invitations by email"),
        (name = "projects", description = "Projects and project members"),
        (name = "applications", description = "Applications"),
        (name = "audit", description = "The audit log: an entry for every change and every refused attempt at one"),
        (name = "sso", description = "SSO: verified email domains, OpenID Connect providers per organization, force SSO, and signing in through a provider"),
        (name = "webhooks", description = "Webhooks: every change as an event, signed per Standard Webhooks, delivered from an outbox with retries"),
        (name = "licenses", description = "Plans and their limits, licenses, an organization's license and usage, deployments of self-hosted installations"),
        (name = "health", description = "Liveness and readiness")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token: `orgd_s_…` (session), `orgd_pat_…`, `orgd_sa_…`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "deployment",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A deployment's own token (`orgd_dep_…`), from its registration",
                    ))
                    .build(),
            ),
        );
    }
}

fn api() -> OpenApiRouter<AppState> {
    use routes::*;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::request_password_reset))
        .routes(routes!(auth::confirm_password_reset))
        .routes(routes!(auth::verify_email))
        .routes(routes!(auth::resend_verification))
        .routes(routes!(users::me, users::update_me))
        .routes(routes!(users::change_password))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(
            users::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(organizations::list, organizations::create))
        .routes(routes!(
            organizations::get,
            organizations::update,
            organizations::delete
        ))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::get, members::update, members::remove))
        .routes(routes!(members::toggle_admin))
        .routes(routes!(members::leave))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(tokens::sessions))
        .routes(routes!(service_accounts::list, service_accounts::create))
        .routes(routes!(service_accounts::delete))
        .routes(routes!(
            service_accounts::create_token,
            service_accounts::list_tokens
        ))
        .routes(routes!(service_accounts::revoke_token))
        .routes(routes!(service_accounts::create_token_as_superuser))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::revoke))
        .routes(routes!(invitations::resend))
        .routes(routes!(invitations::mine))
        .routes(routes!(invitations::accept))
        .routes(routes!(invitations::decline))
        .routes(routes!(invitations::accept_mine))
        .routes(routes!(invitations::decline_mine))
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::get, projects::update, projects::delete))
        .routes(routes!(projects::list_members, projects::add_member))
        .routes(routes!(projects::update_member, projects::remove_member))
        .routes(routes!(applications::list, applications::create))
        .routes(routes!(
            applications::get,
            applications::update,
            applications::delete
        ))
        .routes(routes!(
            roles::catalogue_list,
            roles::register_installation_permission
        ))
        .routes(routes!(roles::remove_installation_permission))
        .routes(routes!(
            roles::organization_permissions,
            roles::register_permission
        ))
        .routes(routes!(roles::remove_permission))
        .routes(routes!(roles::check))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(roles::member_permissions))
        .routes(routes!(licensing::list_plans))
        .routes(routes!(licensing::list_licenses, licensing::create_license))
        .routes(routes!(
            licensing::get_license,
            licensing::update_license,
            licensing::revoke_license
        ))
        .routes(routes!(
            licensing::organization_license,
            licensing::attach_license,
            licensing::detach_license
        ))
        .routes(routes!(licensing::list_deployments))
        .routes(routes!(licensing::delete_deployment))
        .routes(routes!(licensing::register_deployment))
        .routes(routes!(licensing::heartbeat))
        .routes(routes!(audit::organization_log))
        .routes(routes!(audit::installation_log))
        .routes(routes!(sso::list_domains, sso::add_domain))
        .routes(routes!(sso::verify_domain))
        .routes(routes!(sso::delete_domain))
        .routes(routes!(sso::list_providers, sso::create_provider))
        .routes(routes!(
            sso::get_provider,
            sso::update_provider,
            sso::delete_provider
        ))
        .routes(routes!(sso::start_discovered))
        .routes(routes!(sso::start_provider))
        .routes(routes!(sso::callback))
        .routes(routes!(webhooks::event_types))
        .routes(routes!(webhooks::list, webhooks::create_in_org))
        .routes(routes!(
            webhooks::get_in_org,
            webhooks::update_in_org,
            webhooks::delete_in_org
        ))
        .routes(routes!(webhooks::rotate_in_org))
        .routes(routes!(webhooks::ping_in_org))
        .routes(routes!(webhooks::deliveries_in_org))
        .routes(routes!(webhooks::delivery_in_org))
        .routes(routes!(webhooks::retry_in_org))
        .routes(routes!(
            webhooks::list_installation,
            webhooks::create_installation
        ))
        .routes(routes!(
            webhooks::get_installation,
            webhooks::update_installation,
            webhooks::delete_installation
        ))
        .routes(routes!(webhooks::rotate_installation))
        .routes(routes!(webhooks::ping_installation))
        .routes(routes!(webhooks::deliveries_installation))
        .routes(routes!(webhooks::delivery_installation))
        .routes(routes!(webhooks::retry_installation))
}

/// The OpenAPI document of every operation, as published at `/openapi.json`.
pub fn openapi() -> serde_json::Value {
    spec::complete(api().into_openapi())
}

/// The whole HTTP application: the API, its reference, and the web console at `/console`, which
/// calls the API's own router.
pub fn app(state: AppState) -> Router {
    let api = api_app(state.clone());
    let console = console::router(state, api.clone());
    api.nest("/console", console)
}

/// The API and its reference, with every layer.
fn api_app(state: AppState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let (router, spec) = api().split_for_parts();
    let spec = Arc::new(spec::complete(spec));
    let cors = cors_layer(&state.config);
    let request_timeout = std::time::Duration::from_secs(state.config.request_timeout_secs);
    router
        .route_layer(axum::middleware::from_fn(metrics::tag_route))
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let spec = spec.clone();
                async move { axum::Json(spec.as_ref().clone()) }
            }),
        )
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .fallback(|| async { ApiError::not_found("Route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(move |req, next| {
            routes::time_limit(request_timeout, req, next)
        }))
        // Inside the request id and the security headers: preflight answers carry both.
        .layer(tower::util::option_layer(cors))
        .layer(axum::middleware::from_fn(routes::refuse_nul))
        .layer(axum::middleware::from_fn(headers::layer))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::layer,
        ))
        .with_state(state)
}

/// The router of a separate metrics listener (`metrics_listen`): `GET /metrics` only.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(routes::health::render_metrics),
        )
        .with_state(state)
}

/// CORS for the configured origins; `None` (no CORS headers, preflights refused) without any.
fn cors_layer(config: &Config) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if config.cors_allowed_origins.is_empty() {
        return None;
    }
    let origins = if config.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .cors_allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(request_id::HEADER),
            ])
            .expose_headers([
                HeaderName::from_static(request_id::HEADER),
                header::LINK,
                header::RETRY_AFTER,
                header::WWW_AUTHENTICATE,
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
                HeaderName::from_static("ratelimit-policy"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
