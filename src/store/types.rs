//! The types that cross the `Store` traits: what clients are shown (users, organizations,
//! members, invitations, tokens, projects, applications) and what handlers pass in.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::authz::Role;
use crate::domain::Timestamp;
use crate::domain::plans::{LicenseStatus, LicenseTerms, Limits, PlanName, Plans, Standing};

/// A user as every endpoint shows it: never with a password hash.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    /// Whether the email address is proven to be the account's: a verification link sent to it
    /// was used, or a superuser marked it. Changing the address makes it unverified again.
    pub email_verified: bool,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub is_active: bool,
    pub is_superuser: bool,
    pub is_service_account: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub email: String,
    /// Derived from the email when absent.
    pub username: Option<String>,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub is_superuser: bool,
    pub is_service_account: bool,
    pub email_verified: bool,
}

/// A change to a user; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub metadata: Option<Value>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
    /// A superuser's say; without it, a new address is unverified.
    pub email_verified: Option<bool>,
    /// A new password (hashed); every session and token of the account ends with it.
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Session,
    Pat,
    Sa,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Pat => "pat",
            TokenKind::Sa => "sa",
        }
    }
    pub fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "session" => Some(TokenKind::Session),
            "pat" => Some(TokenKind::Pat),
            "sa" => Some(TokenKind::Sa),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: Uuid,
    pub kind: TokenKind,
    pub name: Option<String>,
    pub hash: [u8; 32],
    pub organization_id: Option<Uuid>,
    pub expires_at: Option<Timestamp>,
    /// The SSO provider the session came from (and a token minted from such a session).
    pub sso_provider_id: Option<Uuid>,
}

/// What a presented token resolves to.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token_id: Uuid,
    pub kind: TokenKind,
    pub organization_id: Option<Uuid>,
    pub expires_at: Option<Timestamp>,
    pub user: std::sync::Arc<User>,
    pub sso_provider_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    Suspended,
    Banned,
}

impl OrgStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Active => "active",
            OrgStatus::Suspended => "suspended",
            OrgStatus::Banned => "banned",
        }
    }
    pub fn parse(s: &str) -> OrgStatus {
        match s {
            "suspended" => OrgStatus::Suspended,
            "banned" => OrgStatus::Banned,
            _ => OrgStatus::Active,
        }
    }
}

/// How an `{org}` path segment names an organization.
#[derive(Debug, Clone)]
pub enum OrgKey {
    Id(Uuid),
    Slug(String),
}

impl OrgKey {
    pub fn parse(s: &str) -> OrgKey {
        match Uuid::try_parse(s) {
            Ok(id) => OrgKey::Id(id),
            Err(_) => OrgKey::Slug(s.to_owned()),
        }
    }
}

/// The facts an access decision needs: the organization and the caller's role in it.
#[derive(Debug, Clone)]
pub struct OrgAccessRow {
    pub id: Uuid,
    pub status: OrgStatus,
    pub owner_id: Uuid,
    /// The user's role key, when a member.
    pub role: Option<String>,
    /// What that role grants.
    pub grant: Option<crate::authz::Grant>,
    /// The organization as this user sees it, read by the same statement (shared with the
    /// cache: reading it per request copies nothing).
    pub organization: std::sync::Arc<Organization>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManagedBy {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwnerSummary {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub country_code: Option<String>,
    pub status: OrgStatus,
    pub status_reason: Option<String>,
    pub verified: bool,
    pub owner: OwnerSummary,
    pub member_count: i64,
    pub pending_member_count: i64,
    pub project_count: i64,
    pub application_count: i64,
    /// The plan in force: the attached license's while it has started and has neither expired
    /// nor been revoked, else `free`.
    pub plan: PlanName,
    /// A non-trial license is in force.
    pub has_active_subscription: bool,
    /// The expiry of the attached trial license (also once passed), else null.
    pub trial_expiry: Option<Timestamp>,
    /// False while an owner has deactivated the organization: it can be read, and nothing else
    /// changes until an owner reactivates it. Independent of `status`.
    pub active: bool,
    pub managed_by: Vec<ManagedBy>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Whether a service account's own token may create further tokens (default false).
    pub service_accounts_can_mint_tokens: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The caller's role: `owner`, `admin`, `member` or a custom role's key (absent for a
    /// superuser who is not a member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The first page of members, with `?include=members`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
    /// The attached license's terms, from which `plan`, `has_active_subscription` and
    /// `trial_expiry` are decided when the organization is shown (`at`).
    #[serde(skip)]
    pub license: Option<LicenseTerms>,
}

impl Organization {
    /// The organization as shown at `now`: its plan fields decided from its license then (a
    /// cached view stays right across an expiry).
    pub fn at(mut self, plans: &Plans, now: Timestamp) -> Self {
        let s = Standing::at(plans, self.license.as_ref(), now);
        self.plan = s.plan;
        self.has_active_subscription = s.has_active_subscription;
        self.trial_expiry = s.trial_expiry;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewOrganization {
    pub name: String,
    /// `None`: derive from the name, picking a free variant.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub country_code: Option<String>,
    pub metadata: Value,
    pub owner_id: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
    pub logo_url: Option<Option<String>>,
    pub country_code: Option<Option<String>>,
    pub metadata: Option<Value>,
    pub owner_id: Option<Uuid>,
    pub service_accounts_can_mint_tokens: Option<bool>,
    pub status: Option<OrgStatus>,
    pub status_reason: Option<Option<String>>,
    pub verified: Option<bool>,
    pub managed_by: Option<Vec<ManagedBy>>,
    /// Owners only; the one change a deactivated organization accepts is reactivation.
    pub active: Option<bool>,
}

impl OrgPatch {
    pub fn touches_superuser_fields(&self) -> bool {
        self.status.is_some()
            || self.status_reason.is_some()
            || self.verified.is_some()
            || self.managed_by.is_some()
    }
    pub fn touches_profile(&self) -> bool {
        self.name.is_some()
            || self.slug.is_some()
            || self.description.is_some()
            || self.logo_url.is_some()
            || self.country_code.is_some()
            || self.metadata.is_some()
            || self.service_accounts_can_mint_tokens.is_some()
    }
}

#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    /// `None`: every organization (a superuser's view); else those the user belongs to.
    pub member: Option<Uuid>,
    /// The caller, for `role` on each item.
    pub viewer: Uuid,
    /// A scoped token sees its organization only.
    pub only: Option<Uuid>,
    pub name: Option<String>,
    pub owner_id: Option<Uuid>,
    pub status: Option<OrgStatus>,
    /// Only organizations that are active (not deactivated by an owner) with status `active`.
    pub active_only: bool,
    /// Only organizations on this plan at `now`.
    pub plan: Option<(PlanName, Timestamp)>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    /// `owner`, `admin`, `member` or the key of one of the organization's custom roles.
    #[schema(example = "member")]
    pub role: String,
    /// True for owners and admins.
    pub admin: bool,
    pub joined_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub role: Option<String>,
    pub q: Option<String>,
}

#[derive(Debug, Clone)]
pub enum MemberTarget {
    UserId(Uuid),
    Username(String),
    /// Provisions a password-less user when nobody has this email.
    Email {
        email: String,
        name: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub enum RoleChange {
    Set(String),
    ToggleAdmin,
}

/// A personal access or service-account token, as listed (never with its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: Option<String>,
    pub kind: TokenKind,
    /// The organization a scoped token is confined to.
    pub organization_id: Option<Uuid>,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub username: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgSummary {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub organization: OrgSummary,
    /// The invited address. Masked (`j***@example.com`) for the organization when the
    /// invitation was made by adding an existing account by id or username while member
    /// additions need consent.
    pub email: String,
    /// The invited account, when the invitation was made for an existing account by id or
    /// username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The role the invitee gets: built-in or one of the organization's custom roles.
    pub role: String,
    pub status: InvitationStatus,
    /// Who invited; null once that user is deleted.
    pub inviter: Option<UserSummary>,
    pub expires_at: Timestamp,
    /// `none` (no mail server: the link was logged), `pending`, `sent` or `failed` (retried
    /// with backoff).
    pub delivery: String,
    pub delivery_error: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
    pub hash: [u8; 32],
    pub expires_at: Timestamp,
    pub delivery: &'static str,
    /// Set when an existing account is invited by id or username (its email stays hidden from
    /// the organization).
    pub invitee_id: Option<Uuid>,
}

/// Who accepts an invitation.
#[derive(Debug, Clone)]
pub enum Invitee {
    /// A signed-in user, whose email must match.
    User(Uuid),
    /// Someone without an account (or with a password-less, provisioned one).
    NewAccount {
        password_hash: String,
        name: Option<String>,
        username: Option<String>,
    },
}

/// An invitation whose email is due for (another) delivery attempt.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: Uuid,
    pub email: String,
    pub organization_name: String,
    pub attempts: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    Viewer,
    Editor,
    Admin,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Editor => "editor",
            ProjectRole::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<ProjectRole> {
        match s {
            "viewer" => Some(ProjectRole::Viewer),
            "editor" => Some(ProjectRole::Editor),
            "admin" => Some(ProjectRole::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectMember {
    pub user_id: Uuid,
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub role: ProjectRole,
    pub added_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Application {
    pub id: Uuid,
    pub name: String,
    pub project_id: Option<Uuid>,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct ApplicationPatch {
    pub name: Option<String>,
    pub project_id: Option<Option<Uuid>>,
    pub description: Option<Option<String>>,
}

/// Rows for bulk loading (`orgd admin seed`).
#[derive(Debug, Clone, Default)]
pub struct SeedBatch {
    /// id, username, email, password hash
    pub users: Vec<(Uuid, String, String, Option<String>)>,
    /// id, name, slug, owner id
    pub organizations: Vec<(Uuid, String, String, Uuid)>,
    /// organization id, user id, role
    pub memberships: Vec<(Uuid, Uuid, Role)>,
}

/// A role of an organization: one of the built-in roles or a custom one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleInfo {
    /// `owner`, `admin`, `member`, or a custom role's key (lowercase letters, digits, `_`, `-`).
    #[schema(example = "billing")]
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// The permissions the role grants (the built-in owner role also holds every application
    /// permission, registered now or later, without listing them).
    #[schema(example = json!(["organization:read", "members:read", "app:invoices:read"]))]
    pub permissions: Vec<String>,
    pub built_in: bool,
    /// Members holding the role.
    pub member_count: i64,
    /// Pending invitations that would grant it.
    pub pending_invitation_count: i64,
    /// Null for built-in roles.
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewRole {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub permissions: Option<Vec<String>>,
}

/// A permission of the catalogue, or one registered by an application.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermissionInfo {
    #[schema(example = "members:read")]
    pub key: String,
    pub description: Option<String>,
    /// `catalogue` (orgd's own), `installation` (registered by a superuser for every
    /// organization) or `organization` (registered by this organization).
    #[schema(example = "catalogue")]
    pub source: String,
    /// The built-in roles that hold it.
    #[schema(example = json!(["owner", "admin", "member"]))]
    pub built_in_roles: Vec<String>,
    pub created_at: Option<Timestamp>,
}

/// A license as superusers see it; its key is shown once, at creation (`IssuedLicense`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct License {
    pub id: Uuid,
    /// The key's first characters, to tell keys apart (`orgd_lic_AbCd…`).
    pub key_hint: String,
    /// A label for the superuser (the customer, the contract).
    pub name: Option<String>,
    pub plan: PlanName,
    /// Replaces the plan's member limit while the license is in force; null keeps the plan's.
    pub seats: Option<i64>,
    pub features: Vec<String>,
    /// A trial: shown as the organization's `trial_expiry`, never as a subscription.
    pub trial: bool,
    /// How many deployments may register under it; null is unlimited.
    pub max_deployments: Option<i64>,
    pub starts_at: Timestamp,
    /// Null: never expires.
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Where the license stands now.
    pub status: LicenseStatus,
    /// The organization holding it, if any.
    pub organization_id: Option<Uuid>,
    pub deployment_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl License {
    pub fn terms(&self) -> LicenseTerms {
        LicenseTerms {
            plan: self.plan,
            seats: self.seats,
            trial: self.trial,
            starts_at: self.starts_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewLicense {
    pub key_hash: [u8; 32],
    pub key_hint: String,
    pub name: Option<String>,
    pub plan: PlanName,
    pub seats: Option<i64>,
    pub features: Vec<String>,
    pub trial: bool,
    pub max_deployments: Option<i64>,
    pub starts_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// Attach it to this organization at once (replacing the organization's current license).
    pub organization_id: Option<Uuid>,
}

/// A change to a license; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct LicensePatch {
    pub name: Option<Option<String>>,
    pub plan: Option<PlanName>,
    pub seats: Option<Option<i64>>,
    pub features: Option<Vec<String>>,
    pub trial: Option<bool>,
    pub max_deployments: Option<Option<i64>>,
    pub starts_at: Option<Timestamp>,
    pub expires_at: Option<Option<Timestamp>>,
}

#[derive(Debug, Clone, Default)]
pub struct LicenseFilter {
    pub plan: Option<PlanName>,
    pub organization_id: Option<Uuid>,
}

/// How an organization's owner or a superuser names the license to attach.
#[derive(Debug, Clone)]
pub enum LicenseRef {
    /// Superusers.
    Id(Uuid),
    /// The hash of a key the caller holds.
    Key([u8; 32]),
}

/// What an organization uses of each limited resource.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Usage {
    /// Seats in use: active human members (and service accounts when the plan counts them).
    pub members: i64,
    pub projects: i64,
    pub applications: i64,
    /// Live tokens scoped to the organization.
    pub tokens: i64,
    pub service_accounts: i64,
    /// Deployments registered under the organization's license.
    pub deployments: i64,
}

/// An organization's license, plan, limits and usage (`GET /organizations/{org}/license`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationLicense {
    /// The plan in force.
    pub plan: PlanName,
    pub has_active_subscription: bool,
    pub trial_expiry: Option<Timestamp>,
    /// The limits in force (null: unlimited).
    pub limits: Limits,
    /// The deployment cap of the license in force (null: unlimited).
    pub max_deployments: Option<i64>,
    pub usage: Usage,
    /// The features in force.
    pub features: Vec<String>,
    pub service_accounts_take_seats: bool,
    /// The attached license, in force or not (null without one).
    pub license: Option<License>,
}

/// A self-hosted installation running under a license.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deployment {
    pub id: Uuid,
    pub license_id: Uuid,
    pub name: String,
    pub hostname: String,
    pub version: String,
    /// `stale` when no heartbeat arrived within the installation's window.
    pub status: DeploymentStatus,
    pub last_seen_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Active,
    Stale,
}

#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub name: String,
    pub hostname: String,
    pub version: String,
    pub token_hash: [u8; 32],
}

/// What the licensing rules run on: the plans, the clock, and when a deployment turns stale.
#[derive(Debug, Clone, Default)]
pub struct Licensing {
    pub plans: Plans,
    pub clock: crate::domain::Clock,
    pub deployment_stale_secs: i64,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// `None`: across the installation (superusers).
    pub organization_id: Option<Uuid>,
    pub action: Option<String>,
    pub actor_id: Option<Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// A webhook endpoint: an organization's, or the installation's (superusers) when
/// `organization_id` is null. Its signing secret is shown once, when created or rotated.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    /// Where events are POSTed.
    pub url: String,
    pub description: Option<String>,
    /// Event types from `GET /webhooks/event-types`, or `*` for every one.
    pub event_types: Vec<String>,
    /// A disabled endpoint gets no new events; its pending deliveries wait until it is enabled.
    pub enabled: bool,
    /// Why orgd disabled it (deliveries kept failing); null when enabled or disabled by a user.
    pub disabled_reason: Option<String>,
    /// While a rotation overlaps: until when the previous secret still signs, beside the new.
    pub previous_secret_expires_at: Option<Timestamp>,
    /// The last delivery it accepted.
    pub last_success_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new endpoint, checked.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub secret: String,
}

/// A change to an endpoint, checked; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or under way).
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt of the schedule failed (or a retry did).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> DeliveryStatus {
        match s {
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event's id, sent as `webhook-id` with every attempt (the same for every endpoint; it
    /// is also the id of the change's audit entry).
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<Timestamp>,
    /// The status code of the last answer.
    pub response_code: Option<i32>,
    /// How long the last attempt took.
    pub latency_ms: Option<i32>,
    /// What went wrong with the last attempt.
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An organization's OpenID Connect provider. Its client secret is write-only: sealed at rest
/// and never shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SsoProvider {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Always `oidc`.
    #[serde(rename = "type")]
    #[schema(example = "oidc")]
    pub kind: String,
    pub name: String,
    /// The issuer; its discovery document is `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// Verified domains of the organization whose users this provider signs in: home-realm
    /// discovery, force SSO and just-in-time membership follow them.
    pub domains: Vec<String>,
    /// Members with an email in `domains` must sign in through this provider
    /// (`403 sso_required` otherwise). Owners keep password access (break glass).
    pub force_sso: bool,
    /// A user signing in through it for the first time joins the organization as
    /// `default_role`.
    pub jit_provisioning: bool,
    pub default_role: String,
    /// Where the provider sends users back: register it with the provider.
    pub redirect_uri: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new provider, checked, its secret sealed.
#[derive(Debug, Clone)]
pub struct NewSsoProvider {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Vec<u8>,
    pub scopes: Vec<String>,
    pub domains: Vec<String>,
    pub force_sso: bool,
    pub jit_provisioning: bool,
    pub default_role: String,
}

/// A change to a provider, checked; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct SsoProviderPatch {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Vec<u8>>,
    pub scopes: Option<Vec<String>>,
    pub domains: Option<Vec<String>>,
    pub force_sso: Option<bool>,
    pub jit_provisioning: Option<bool>,
    pub default_role: Option<String>,
}

/// An email domain an organization claims, and how to prove it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgDomain {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub domain: String,
    pub verified: bool,
    pub verified_at: Option<Timestamp>,
    /// `http` (the well-known file was found) or `superuser`.
    pub verified_by: Option<String>,
    /// Serve this text at this URL, then `POST …/domains/{id}/verify`.
    pub verification: DomainProof,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainProof {
    pub url: String,
    pub token: String,
}

/// A sign-in under way: what the callback checks.
#[derive(Debug, Clone)]
pub struct SsoState {
    pub provider_id: Uuid,
    pub nonce: String,
    pub verifier: String,
    pub return_to: Option<String>,
}

/// A provider forcing SSO in an organization, and the domains it forces.
#[derive(Debug, Clone)]
pub struct Enforcement {
    pub provider_id: Uuid,
    pub domains: Vec<String>,
}

/// Who a provider says signed in.
#[derive(Debug, Clone)]
pub struct SsoIdentity {
    pub subject: String,
    pub email: String,
    pub name: Option<String>,
}
