//! The audit log. A request says what it is (its route's action, from `ACTIONS`), who makes it
//! (authentication) and what it touches (the store, as it works); the write transaction that
//! commits the change inserts the request's entry before it commits, so there is no change
//! without its entry and no entry without its change. A refused attempt at a change (`403`, or
//! `404` for an organization the caller cannot see) gets an entry of its own after the answer.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::Timestamp;

/// Every route that changes something, and the action its entry records. A route that changes
/// something without a row here fails `tests/audit.rs`.
pub const ACTIONS: &[(&str, &str, &str)] = &[
    ("POST", "/auth/signup", "user.signed_up"),
    ("POST", "/auth/login", "session.created"),
    ("GET", "/auth/sso/callback", "session.created"),
    ("POST", "/auth/logout", "session.revoked"),
    ("POST", "/auth/password-reset", "password_reset.requested"),
    (
        "POST",
        "/auth/password-reset/confirm",
        "password_reset.completed",
    ),
    ("POST", "/auth/verify-email", "email.verified"),
    (
        "POST",
        "/auth/verify-email/resend",
        "email_verification.requested",
    ),
    ("POST", "/invitations/accept", "invitation.accepted"),
    ("POST", "/invitations/decline", "invitation.declined"),
    (
        "POST",
        "/users/me/invitations/{id}/accept",
        "invitation.accepted",
    ),
    (
        "POST",
        "/users/me/invitations/{id}/decline",
        "invitation.declined",
    ),
    ("PATCH", "/users/me", "user.updated"),
    ("POST", "/users/me/password", "user.password_changed"),
    ("POST", "/users", "user.created"),
    ("PATCH", "/users/{user}", "user.updated"),
    ("DELETE", "/users/{user}", "user.deleted"),
    ("POST", "/users/{user}/tokens", "token.created"),
    ("POST", "/tokens", "token.created"),
    ("DELETE", "/tokens/{id}", "token.revoked"),
    ("POST", "/permissions", "permission.registered"),
    ("DELETE", "/permissions/{key}", "permission.removed"),
    ("POST", "/licenses", "license.created"),
    ("PATCH", "/licenses/{id}", "license.updated"),
    ("DELETE", "/licenses/{id}", "license.revoked"),
    ("POST", "/deployments/register", "deployment.registered"),
    (
        "POST",
        "/deployments/{id}/heartbeat",
        "deployment.heartbeat",
    ),
    ("POST", "/organizations", "organization.created"),
    ("PATCH", "/organizations/{org}", "organization.updated"),
    ("DELETE", "/organizations/{org}", "organization.deleted"),
    ("POST", "/organizations/{org}/leave", "member.left"),
    ("POST", "/organizations/{org}/members", "member.added"),
    (
        "PATCH",
        "/organizations/{org}/members/{user}",
        "member.role_changed",
    ),
    (
        "DELETE",
        "/organizations/{org}/members/{user}",
        "member.removed",
    ),
    (
        "POST",
        "/organizations/{org}/members/{user}/toggle-admin",
        "member.role_changed",
    ),
    (
        "POST",
        "/organizations/{org}/invitations",
        "invitation.created",
    ),
    (
        "DELETE",
        "/organizations/{org}/invitations/{id}",
        "invitation.revoked",
    ),
    (
        "POST",
        "/organizations/{org}/invitations/{id}/resend",
        "invitation.resent",
    ),
    ("POST", "/organizations/{org}/projects", "project.created"),
    (
        "PATCH",
        "/organizations/{org}/projects/{id}",
        "project.updated",
    ),
    (
        "DELETE",
        "/organizations/{org}/projects/{id}",
        "project.deleted",
    ),
    (
        "POST",
        "/organizations/{org}/projects/{id}/members",
        "project_member.added",
    ),
    (
        "PATCH",
        "/organizations/{org}/projects/{id}/members/{user}",
        "project_member.role_changed",
    ),
    (
        "DELETE",
        "/organizations/{org}/projects/{id}/members/{user}",
        "project_member.removed",
    ),
    (
        "POST",
        "/organizations/{org}/applications",
        "application.created",
    ),
    (
        "PATCH",
        "/organizations/{org}/applications/{id}",
        "application.updated",
    ),
    (
        "DELETE",
        "/organizations/{org}/applications/{id}",
        "application.deleted",
    ),
    (
        "POST",
        "/organizations/{org}/service-accounts",
        "service_account.created",
    ),
    (
        "DELETE",
        "/organizations/{org}/service-accounts/{user}",
        "service_account.deleted",
    ),
    (
        "POST",
        "/organizations/{org}/service-accounts/{user}/tokens",
        "token.created",
    ),
    (
        "DELETE",
        "/organizations/{org}/service-accounts/{user}/tokens/{id}",
        "token.revoked",
    ),
    ("POST", "/organizations/{org}/roles", "role.created"),
    ("PATCH", "/organizations/{org}/roles/{key}", "role.updated"),
    ("DELETE", "/organizations/{org}/roles/{key}", "role.deleted"),
    (
        "POST",
        "/organizations/{org}/permissions",
        "permission.registered",
    ),
    (
        "DELETE",
        "/organizations/{org}/permissions/{key}",
        "permission.removed",
    ),
    ("PUT", "/organizations/{org}/license", "license.attached"),
    ("DELETE", "/organizations/{org}/license", "license.detached"),
    (
        "DELETE",
        "/organizations/{org}/deployments/{id}",
        "deployment.removed",
    ),
    ("POST", "/organizations/{org}/domains", "domain.added"),
    (
        "POST",
        "/organizations/{org}/domains/{id}/verify",
        "domain.verified",
    ),
    (
        "DELETE",
        "/organizations/{org}/domains/{id}",
        "domain.removed",
    ),
    (
        "POST",
        "/organizations/{org}/sso-providers",
        "sso_provider.created",
    ),
    (
        "PATCH",
        "/organizations/{org}/sso-providers/{id}",
        "sso_provider.updated",
    ),
    (
        "DELETE",
        "/organizations/{org}/sso-providers/{id}",
        "sso_provider.deleted",
    ),
    ("POST", "/organizations/{org}/webhooks", "webhook.created"),
    (
        "PATCH",
        "/organizations/{org}/webhooks/{id}",
        "webhook.updated",
    ),
    (
        "DELETE",
        "/organizations/{org}/webhooks/{id}",
        "webhook.deleted",
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/rotate-secret",
        "webhook.secret_rotated",
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/ping",
        "webhook.pinged",
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/deliveries/{delivery}/retry",
        "webhook_delivery.retried",
    ),
    ("POST", "/webhooks", "webhook.created"),
    ("PATCH", "/webhooks/{id}", "webhook.updated"),
    ("DELETE", "/webhooks/{id}", "webhook.deleted"),
    (
        "POST",
        "/webhooks/{id}/rotate-secret",
        "webhook.secret_rotated",
    ),
    ("POST", "/webhooks/{id}/ping", "webhook.pinged"),
    (
        "POST",
        "/webhooks/{id}/deliveries/{delivery}/retry",
        "webhook_delivery.retried",
    ),
];

/// Routes with a method that usually changes something but that only read.
pub const READS: &[(&str, &str)] = &[("POST", "/organizations/{org}/permissions/check")];

/// Routes that change something although their method reads: an SSO sign-in ends with the
/// identity provider's redirect, a `GET`.
pub const CHANGING_READS: &[(&str, &str)] = &[("GET", "/auth/sso/callback")];

/// Whether a request to `path` with `method` may change something (reads run without an audit
/// context).
pub fn changes(method: &str, path: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
        || CHANGING_READS
            .iter()
            .any(|(m, p)| *m == method && *p == path)
}

/// The action of `method` `template`, if the route changes something.
pub fn action_of(method: &str, template: &str) -> Option<&'static str> {
    ACTIONS
        .iter()
        .find(|(m, p, _)| *m == method && *p == template)
        .map(|(_, _, a)| *a)
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    User,
    ServiceAccount,
    Superuser,
    /// orgd itself (the retention job, a sign-up's own account).
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ServiceAccount => "service_account",
            ActorType::Superuser => "superuser",
            ActorType::System => "system",
        }
    }
    pub fn parse(s: &str) -> ActorType {
        match s {
            "user" => ActorType::User,
            "service_account" => ActorType::ServiceAccount,
            "superuser" => ActorType::Superuser,
            _ => ActorType::System,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: Option<Uuid>,
    /// The token the request was made with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// Whether the change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Refused: `403`, or `404` for an organization the caller cannot see.
    Refused,
}

/// One audit log entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Entry {
    pub id: Uuid,
    /// `member.added`, `organization.updated`, … (the catalogue is in the README).
    pub action: String,
    pub outcome: Outcome,
    pub actor: Actor,
    /// The organization it happened in; null for installation-wide actions and for refusals
    /// of an organization the caller cannot see.
    pub organization_id: Option<Uuid>,
    pub target: Option<Target>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// `{field: {from, to}}` for the fields a change set; never a secret, password, token or
    /// hash.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub created_at: Timestamp,
}

/// What a request has told the audit so far.
#[derive(Debug, Default)]
struct Pending {
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    method: String,
    action: Option<&'static str>,
    actor: Option<Actor>,
    organization: Option<Uuid>,
    target: Option<Target>,
    changes: Map<String, Value>,
    /// The entry went into a committed transaction already.
    written: bool,
}

tokio::task_local! {
    static PENDING: Arc<Mutex<Pending>>;
}

fn with<R>(f: impl FnOnce(&mut Pending) -> R) -> Option<R> {
    PENDING
        .try_with(|p| f(&mut p.lock().unwrap_or_else(|e| e.into_inner())))
        .ok()
}

/// Runs a request with an audit context; a read (`GET`, `HEAD`, `OPTIONS`) changes nothing and
/// runs without one, at no cost.
pub async fn scope<F: std::future::Future>(
    ip: String,
    user_agent: Option<&str>,
    request_id: String,
    method: &str,
    path: &str,
    f: F,
) -> F::Output {
    if !changes(method, path) {
        return f.await;
    }
    let pending = Pending {
        ip: Some(ip),
        user_agent: user_agent.map(|u| u.chars().take(512).collect()),
        request_id: Some(request_id),
        method: method.to_owned(),
        ..Pending::default()
    };
    PENDING.scope(Arc::new(Mutex::new(pending)), f).await
}

/// The matched route: its action, if it changes something, and its target by default (the
/// last id in the path; a create names what it made through `target`).
pub fn route(template: &str, path: &str) {
    with(|p| {
        p.action = action_of(&p.method, template);
        if p.action.is_some() {
            p.target = default_target(template, path);
        }
    });
}

/// The last `{param}` of `template` with its value in `path`, named by the segment before it.
fn default_target(template: &str, path: &str) -> Option<Target> {
    let names: Vec<&str> = template.split('/').collect();
    let values: Vec<&str> = path.split('/').collect();
    if names.len() != values.len() {
        return None;
    }
    let i = names.iter().rposition(|n| n.starts_with('{'))?;
    let kind = match names.get(i.checked_sub(1)?)? {
        &"organizations" => "organization",
        &"members" | &"users" => "user",
        &"service-accounts" => "service_account",
        &"tokens" => "token",
        &"invitations" => "invitation",
        &"projects" => "project",
        &"applications" => "application",
        &"roles" => "role",
        &"permissions" => "permission",
        &"licenses" => "license",
        &"deployments" => "deployment",
        &"webhooks" => "webhook",
        &"sso-providers" => "sso_provider",
        &"domains" => "domain",
        &"deliveries" => "webhook_delivery",
        other => other,
    };
    Some(Target {
        kind: kind.to_owned(),
        id: values[i].to_owned(),
    })
}

/// The user a request creates or signs in, as its actor when no one is authenticated yet.
pub fn subject(id: Uuid) {
    with(|p| {
        p.actor.get_or_insert(Actor {
            kind: ActorType::User,
            id: Some(id),
            token_id: None,
        });
    });
}

/// The authenticated caller.
pub fn actor(kind: ActorType, id: Uuid, token_id: Option<Uuid>) {
    with(|p| {
        p.actor = Some(Actor {
            kind,
            id: Some(id),
            token_id,
        })
    });
}

/// The organization the request acts in (the first one named wins).
pub fn organization(id: Uuid) {
    with(|p| {
        p.organization.get_or_insert(id);
        // A path names it by id or slug; the entry names it by id.
        if let Some(t) = p.target.as_mut().filter(|t| t.kind == "organization") {
            t.id = id.to_string();
        }
    });
}

/// What the change is about (the last one named wins: a create names what it made).
pub fn target(kind: &str, id: impl ToString) {
    with(|p| {
        p.target = Some(Target {
            kind: kind.to_owned(),
            id: id.to_string(),
        })
    });
}

/// A field the change set, from one value to another (equal values are left out).
pub fn change<A: Serialize + ?Sized, B: Serialize + ?Sized>(field: &str, from: &A, to: &B) {
    let (from, to) = (
        serde_json::to_value(from).unwrap_or(Value::Null),
        serde_json::to_value(to).unwrap_or(Value::Null),
    );
    if from != to {
        with(|p| {
            p.changes.insert(
                field.to_owned(),
                serde_json::json!({"from": from, "to": to}),
            )
        });
    }
}

/// A UUIDv7 of the millisecond `t` (random below it): entries' ids order as their times.
pub fn id_at(t: Timestamp) -> Uuid {
    let ms = t.0.max(0) as u64;
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        ms / 1000,
        (ms % 1000) as u32 * 1_000_000,
    ))
}

/// The millisecond an id of `id_at` was made in.
pub fn time_of(id: Uuid) -> Timestamp {
    Timestamp((id.as_u128() >> 80) as i64)
}

/// The smallest id of the millisecond `t`: every entry older than `t` has a smaller id.
pub fn first_id_at(t: Timestamp) -> Uuid {
    Uuid::from_u128((t.0.max(0) as u128) << 80)
}

fn entry(p: &Pending, action: &str, outcome: Outcome, now: Timestamp) -> Entry {
    Entry {
        id: id_at(now),
        action: action.to_owned(),
        outcome,
        actor: p.actor.clone().unwrap_or(Actor {
            kind: ActorType::System,
            id: None,
            token_id: None,
        }),
        organization_id: p.organization,
        target: p.target.clone(),
        ip: p.ip.clone(),
        user_agent: p.user_agent.clone(),
        request_id: p.request_id.clone(),
        changes: Value::Object(p.changes.clone()),
        created_at: now,
    }
}

/// The entry a committing transaction writes: the request's, once.
pub fn for_commit() -> Option<Entry> {
    with(|p| {
        let action = p.action?;
        if p.written {
            return None;
        }
        p.written = true;
        Some(entry(p, action, Outcome::Succeeded, Timestamp::now()))
    })
    .flatten()
}

/// Undoes `for_commit` when the transaction did not commit after all.
pub fn not_committed() {
    with(|p| p.written = false);
}

/// The entry of a refused attempt at a change, after the answer: `403`, or `404` under an
/// organization (recorded against the caller, without the organization).
pub fn refusal(status: u16, path: &str) -> Option<Entry> {
    with(|p| {
        let action = p.action?;
        if p.written || p.actor.is_none() {
            return None;
        }
        match status {
            403 => Some(entry(p, action, Outcome::Refused, Timestamp::now())),
            // The organization was not resolved for the caller: one they cannot see.
            404 if path.starts_with("/organizations/") && p.organization.is_none() => {
                let mut e = entry(p, action, Outcome::Refused, Timestamp::now());
                e.organization_id = None;
                e.target = None;
                Some(e)
            }
            _ => None,
        }
    })
    .flatten()
}

/// Entries deleted per statement by the retention job: small, so that writers never wait long.
pub const RETENTION_BATCH: i64 = 500;

/// Deletes the entries older than the retention period, in small batches; answers how many.
pub async fn apply_retention(store: &dyn crate::store::Store, days: u32, now: Timestamp) -> u64 {
    if days == 0 {
        return 0;
    }
    let cutoff = now.plus_secs(-(days as i64) * 24 * 3600);
    let mut total = 0;
    loop {
        match store.purge_audit(cutoff, RETENTION_BATCH).await {
            Ok(n) => {
                total += n;
                if (n as i64) < RETENTION_BATCH {
                    return total;
                }
                // Let other writers in between batches.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "audit log retention stopped; it runs again later");
                return total;
            }
        }
    }
}

/// Applies the retention periods (the audit log's, and finished webhook deliveries') at start
/// and then hourly.
pub fn spawn_retention(state: crate::AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let n = apply_retention(
                state.store.as_ref(),
                state.config.audit_retention_days,
                Timestamp::now(),
            )
            .await;
            if n > 0 {
                tracing::info!(deleted = n, "audit log retention");
            }
            let n = crate::webhooks::apply_retention(
                state.store.as_ref(),
                state.config.webhook_delivery_retention_days,
                Timestamp::now(),
            )
            .await;
            if n > 0 {
                tracing::info!(deleted = n, "webhook delivery retention");
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    })
}
