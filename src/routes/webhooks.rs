//! Webhooks: an organization's endpoints (owners and admins) and the installation's
//! (superusers), their deliveries, retries and test events. Each route below comes in both
//! scopes and shares its body with its twin.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Json, Listing, Ok, Path, nullable, ok, paged, parse_id};
use crate::AppState;
use crate::auth::{Caller, OrgContext, SuperuserCaller};
use crate::domain::paging::Cursor;
use crate::domain::validate::{self, Checks};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{DeliveryStatus, NewWebhook, Webhook, WebhookDelivery, WebhookPatch};
use crate::webhooks;

/// Longest description.
pub const DESCRIPTION_MAX: usize = 1000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: `https://…` (or `http://…` where the installation allows it),
    /// at most 2048 characters, no credentials or fragment. A host that resolves to a
    /// loopback, private, link-local or reserved address is refused unless the installation
    /// allows such targets.
    pub url: String,
    /// 1 to 100 event types from `GET /webhooks/event-types`, or `["*"]` for every one.
    pub event_types: Vec<String>,
    /// Up to 1000 characters.
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `true` enables an endpoint again (orgd's `disabled_reason` is cleared; its pending
    /// deliveries are due at once); `false` stops new events for it.
    pub enabled: Option<bool>,
}

/// An endpoint with its signing secret, shown only in the response that made it.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_…` (base64 of 32 random bytes): the Standard Webhooks signing secret. Shown once.
    pub secret: String,
}

/// A delivery and the exact body it is sent with.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryDetail {
    #[serde(flatten)]
    pub delivery: WebhookDelivery,
    /// The event: `{id, type, created_at, organization_id, data}`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatus>,
}

impl super::ListFilters for DeliveryQuery {
    const ORDER: super::Order = super::Order::Id;
}

/// The event types an endpoint may subscribe to.
#[derive(Serialize, ToSchema)]
pub struct EventTypes {
    /// Every audit action that can be a change, and `webhook.ping`.
    pub event_types: Vec<String>,
}

/// The event catalogue: the types an endpoint may subscribe to (or `*` for every one). An
/// event's type is the action of the change's audit entry.
#[utoipa::path(get, path = "/webhooks/event-types", tag = "webhooks",
    responses((status = 200, body = EventTypes), (status = 401, body = ErrorBody)))]
pub async fn event_types(_: Caller) -> Json<EventTypes> {
    Json(EventTypes {
        event_types: webhooks::catalogue()
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
    })
}

async fn check_url(state: &AppState, c: &mut Checks, raw: &str) -> Option<String> {
    let url = c.check(
        "url",
        webhooks::check_url(raw, state.config.webhooks_allow_http),
    )?;
    if !state.config.webhooks_allow_private {
        c.check("url", crate::http::resolve(&url, false).await)?;
    }
    Some(url.to_string())
}

async fn create(
    state: &AppState,
    scope: Option<Uuid>,
    req: CreateWebhookRequest,
) -> ApiResult<(StatusCode, Json<WebhookWithSecret>)> {
    let mut c = Checks::new();
    let url = check_url(state, &mut c, &req.url).await;
    let event_types = c.check("event_types", webhooks::check_event_types(&req.event_types));
    let description = req
        .description
        .as_ref()
        .and_then(|d| c.check("description", validate::text(d, DESCRIPTION_MAX)));
    c.finish()?;
    let secret = webhooks::mint_secret();
    let webhook = state
        .store
        .create_webhook(
            scope,
            NewWebhook {
                url: url.expect("checked"),
                description,
                event_types: event_types.expect("checked"),
                enabled: req.enabled.unwrap_or(true),
                secret: secret.clone(),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecret { webhook, secret }),
    ))
}

async fn update(
    state: &AppState,
    scope: Option<Uuid>,
    id: &str,
    req: UpdateWebhookRequest,
) -> ApiResult<Json<Webhook>> {
    let id = parse_id(id, "Webhook")?;
    let mut c = Checks::new();
    let url = match &req.url {
        Some(u) => check_url(state, &mut c, u).await,
        None => None,
    };
    let event_types = req
        .event_types
        .as_ref()
        .and_then(|t| c.check("event_types", webhooks::check_event_types(t)));
    let description = c.nullable("description", &req.description, |d| {
        validate::text(d, DESCRIPTION_MAX)
    });
    c.finish()?;
    let webhook = state
        .store
        .update_webhook(
            scope,
            id,
            WebhookPatch {
                url,
                description,
                event_types,
                enabled: req.enabled,
            },
        )
        .await?;
    Ok(Json(webhook))
}

async fn get(state: &AppState, scope: Option<Uuid>, id: &str) -> ApiResult<Json<Webhook>> {
    let id = parse_id(id, "Webhook")?;
    state
        .store
        .webhook(scope, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Webhook"))
}

async fn rotate(
    state: &AppState,
    scope: Option<Uuid>,
    id: &str,
) -> ApiResult<Json<WebhookWithSecret>> {
    let id = parse_id(id, "Webhook")?;
    let secret = webhooks::mint_secret();
    let overlap_until = crate::domain::Timestamp::now().plus_secs(webhooks::ROTATION_OVERLAP_SECS);
    let webhook = state
        .store
        .rotate_webhook_secret(scope, id, secret.clone(), overlap_until)
        .await?;
    Ok(Json(WebhookWithSecret { webhook, secret }))
}

async fn deliveries(
    state: &AppState,
    scope: Option<Uuid>,
    id: &str,
    uri: &Uri,
    Listing { page, filters }: Listing<DeliveryQuery>,
) -> ApiResult<Response> {
    let id = parse_id(id, "Webhook")?;
    // An endpoint of another scope is not found, not an empty list.
    state
        .store
        .webhook(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook"))?;
    let list = state
        .store
        .webhook_deliveries(scope, id, filters.status, &page)
        .await?;
    Ok(paged(uri, &page, list, |d| Cursor::Id(d.id)))
}

async fn delivery(
    state: &AppState,
    scope: Option<Uuid>,
    id: &str,
    delivery: &str,
) -> ApiResult<Json<WebhookDeliveryDetail>> {
    let id = parse_id(id, "Webhook")?;
    let delivery = parse_id(delivery, "Delivery")?;
    let (delivery, payload) = state
        .store
        .webhook_delivery(scope, id, delivery)
        .await?
        .ok_or_else(|| ApiError::not_found("Delivery"))?;
    Ok(Json(WebhookDeliveryDetail {
        delivery,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
    }))
}

async fn retry(
    state: &AppState,
    scope: Option<Uuid>,
    id: &str,
    delivery: &str,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    let id = parse_id(id, "Webhook")?;
    let delivery = parse_id(delivery, "Delivery")?;
    let d = state
        .store
        .retry_webhook_delivery(scope, id, delivery)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(d)))
}

async fn ping(
    state: &AppState,
    scope: Option<Uuid>,
    id: &str,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    let id = parse_id(id, "Webhook")?;
    let d = state.store.ping_webhook(scope, id).await?;
    Ok((StatusCode::ACCEPTED, Json(d)))
}

// An organization's endpoints (owners and admins: `organization:update`, the permission that
// reads the audit log, whose entries the events carry).

/// An organization's webhooks.
#[utoipa::path(get, path = "/organizations/{org}/webhooks", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"), super::PageQuery),
    responses((status = 200, body = Vec<Webhook>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Listing { page, .. }: Listing<super::ById>,
) -> ApiResult<Response> {
    let list = state.store.list_webhooks(Some(access.id), &page).await?;
    Ok(paged(&uri, &page, list, |w| Cursor::Id(w.id)))
}

/// Add a webhook to an organization: it receives the organization's events of the types it
/// names. The signing secret is in this response only.
#[utoipa::path(post, path = "/organizations/{org}/webhooks", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug")),
    request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookWithSecret), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The organization has 50 webhooks already", body = ErrorBody)))]
pub async fn create_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Json(req): Json<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecret>)> {
    create(&state, Some(access.id), req).await
}

/// An organization's webhook.
#[utoipa::path(get, path = "/organizations/{org}/webhooks/{id}", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Webhook>> {
    get(&state, Some(access.id), &id).await
}

/// Change an organization's webhook: its URL, event types, description, or whether it is
/// enabled.
#[utoipa::path(patch, path = "/organizations/{org}/webhooks/{id}", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id")),
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn update_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
    Json(req): Json<UpdateWebhookRequest>,
) -> ApiResult<Json<Webhook>> {
    update(&state, Some(access.id), &id, req).await
}

/// Delete an organization's webhook, with its deliveries (pending ones are not sent).
#[utoipa::path(delete, path = "/organizations/{org}/webhooks/{id}", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Webhook")?;
    state.store.delete_webhook(Some(access.id), id).await?;
    Ok(ok())
}

/// Give an organization's webhook a new signing secret (in this response only). For 24 hours
/// every delivery is signed with both, so receivers can switch without losing an event.
#[utoipa::path(post, path = "/organizations/{org}/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookWithSecret), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<Json<WebhookWithSecret>> {
    rotate(&state, Some(access.id), &id).await
}

/// Send a test event (`webhook.ping`) to an organization's webhook; follow it in its deliveries.
#[utoipa::path(post, path = "/organizations/{org}/webhooks/{id}/ping", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id")),
    responses((status = 202, body = WebhookDelivery), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The webhook is disabled", body = ErrorBody)))]
pub async fn ping_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    ping(&state, Some(access.id), &id).await
}

/// An organization's webhook's deliveries, newest first.
#[utoipa::path(get, path = "/organizations/{org}/webhooks/{id}/deliveries", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id"), DeliveryQuery, super::PageQuery),
    responses((status = 200, body = Vec<WebhookDelivery>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id)): Path<(String, String)>,
    uri: Uri,
    listing: Listing<DeliveryQuery>,
) -> ApiResult<Response> {
    deliveries(&state, Some(access.id), &id, &uri, listing).await
}

/// One delivery of an organization's webhook, with the body it is sent with.
#[utoipa::path(get, path = "/organizations/{org}/webhooks/{id}/deliveries/{delivery}", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id"),
        ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 200, body = WebhookDeliveryDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delivery_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id, d)): Path<(String, String, String)>,
) -> ApiResult<Json<WebhookDeliveryDetail>> {
    delivery(&state, Some(access.id), &id, &d).await
}

/// Attempt a finished delivery (failed, or succeeded) once more, now.
#[utoipa::path(post, path = "/organizations/{org}/webhooks/{id}/deliveries/{delivery}/retry", tag = "webhooks",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("id" = String, Path, description = "Webhook id"),
        ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 202, body = WebhookDelivery), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The delivery is pending, or the webhook is disabled", body = ErrorBody)))]
pub async fn retry_in_org(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    Path((_org, id, d)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    retry(&state, Some(access.id), &id, &d).await
}

// The installation's endpoints (superusers): every event, of every organization and of none.

/// The installation's webhooks (superusers).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", params(super::PageQuery),
    responses((status = 200, body = Vec<Webhook>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    uri: Uri,
    Listing { page, .. }: Listing<super::ById>,
) -> ApiResult<Response> {
    let list = state.store.list_webhooks(None, &page).await?;
    Ok(paged(&uri, &page, list, |w| Cursor::Id(w.id)))
}

/// Add an installation webhook (superusers): it receives the events of every organization and
/// the installation's own (sign-ups, sign-ins, licenses…). The secret is in this response only.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookWithSecret), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The installation has 50 webhooks already", body = ErrorBody)))]
pub async fn create_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Json(req): Json<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecret>)> {
    create(&state, None, req).await
}

/// An installation webhook (superusers).
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    get(&state, None, &id).await
}

/// Change an installation webhook (superusers).
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn update_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
    Json(req): Json<UpdateWebhookRequest>,
) -> ApiResult<Json<Webhook>> {
    update(&state, None, &id, req).await
}

/// Delete an installation webhook (superusers), with its deliveries.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = Ok), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Ok>> {
    let id = parse_id(&id, "Webhook")?;
    state.store.delete_webhook(None, id).await?;
    Ok(ok())
}

/// Give an installation webhook a new signing secret (superusers); both sign for 24 hours.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookWithSecret), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookWithSecret>> {
    rotate(&state, None, &id).await
}

/// Send a test event to an installation webhook (superusers).
#[utoipa::path(post, path = "/webhooks/{id}/ping", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 202, body = WebhookDelivery), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The webhook is disabled", body = ErrorBody)))]
pub async fn ping_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    ping(&state, None, &id).await
}

/// An installation webhook's deliveries, newest first (superusers).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), DeliveryQuery, super::PageQuery),
    responses((status = 200, body = Vec<WebhookDelivery>, headers(("link" = String, description = "RFC 8288 next page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path(id): Path<String>,
    uri: Uri,
    listing: Listing<DeliveryQuery>,
) -> ApiResult<Response> {
    deliveries(&state, None, &id, &uri, listing).await
}

/// One delivery of an installation webhook, with its body (superusers).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries/{delivery}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"),
        ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 200, body = WebhookDeliveryDetail), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delivery_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path((id, d)): Path<(String, String)>,
) -> ApiResult<Json<WebhookDeliveryDetail>> {
    delivery(&state, None, &id, &d).await
}

/// Attempt a finished delivery of an installation webhook once more (superusers).
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery}/retry", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"),
        ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 202, body = WebhookDelivery), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The delivery is pending, or the webhook is disabled", body = ErrorBody)))]
pub async fn retry_installation(
    State(state): State<AppState>,
    _: SuperuserCaller,
    Path((id, d)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    retry(&state, None, &id, &d).await
}
