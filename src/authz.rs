//! Roles and what they may do. `Role`'s derived order is privilege order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
    /// Owners and admins are "admin" in the legacy boolean view.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }
}

/// Who acts inside an organization: a superuser (acts as an owner everywhere) or a user whose
/// role is read inside the same transaction that applies the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Superuser(uuid::Uuid),
    User(uuid::Uuid),
}

impl Actor {
    pub fn id(self) -> uuid::Uuid {
        match self {
            Actor::Superuser(id) | Actor::User(id) => id,
        }
    }
}

/// What an action needs, named the same everywhere: the route table below, the documentation
/// and custom roles. Built-in roles are fixed sets of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
pub enum Permission {
    #[serde(rename = "organization:read")]
    OrganizationRead,
    #[serde(rename = "organization:update")]
    OrganizationUpdate,
    #[serde(rename = "organization:delete")]
    OrganizationDelete,
    #[serde(rename = "members:read")]
    MembersRead,
    #[serde(rename = "members:write")]
    MembersWrite,
    #[serde(rename = "invitations:read")]
    InvitationsRead,
    #[serde(rename = "invitations:write")]
    InvitationsWrite,
    #[serde(rename = "projects:read")]
    ProjectsRead,
    #[serde(rename = "projects:write")]
    ProjectsWrite,
    #[serde(rename = "applications:read")]
    ApplicationsRead,
    #[serde(rename = "applications:write")]
    ApplicationsWrite,
    #[serde(rename = "service_accounts:read")]
    ServiceAccountsRead,
    #[serde(rename = "service_accounts:write")]
    ServiceAccountsWrite,
    #[serde(rename = "tokens:write")]
    TokensWrite,
    #[serde(rename = "roles:read")]
    RolesRead,
    #[serde(rename = "roles:write")]
    RolesWrite,
    #[serde(rename = "permissions:write")]
    PermissionsWrite,
}

use Permission as P;

/// Each permission and the least built-in role that holds it. Built-in roles nest by
/// construction: a role holds every permission whose least role it reaches.
const LEAST_ROLE: &[(Permission, Role)] = &[
    (P::OrganizationRead, Role::Member),
    (P::MembersRead, Role::Member),
    (P::ProjectsRead, Role::Member),
    (P::ApplicationsRead, Role::Member),
    (P::TokensWrite, Role::Member),
    (P::OrganizationUpdate, Role::Admin),
    (P::MembersWrite, Role::Admin),
    (P::InvitationsRead, Role::Admin),
    (P::InvitationsWrite, Role::Admin),
    (P::ProjectsWrite, Role::Admin),
    (P::ApplicationsWrite, Role::Admin),
    (P::ServiceAccountsRead, Role::Admin),
    (P::ServiceAccountsWrite, Role::Admin),
    (P::RolesRead, Role::Admin),
    (P::RolesWrite, Role::Admin),
    (P::PermissionsWrite, Role::Admin),
    (P::OrganizationDelete, Role::Owner),
];

impl Permission {
    /// The catalogue.
    pub fn all() -> impl Iterator<Item = Permission> {
        LEAST_ROLE.iter().map(|(p, _)| *p)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            P::OrganizationRead => "organization:read",
            P::OrganizationUpdate => "organization:update",
            P::OrganizationDelete => "organization:delete",
            P::MembersRead => "members:read",
            P::MembersWrite => "members:write",
            P::InvitationsRead => "invitations:read",
            P::InvitationsWrite => "invitations:write",
            P::ProjectsRead => "projects:read",
            P::ProjectsWrite => "projects:write",
            P::ApplicationsRead => "applications:read",
            P::ApplicationsWrite => "applications:write",
            P::ServiceAccountsRead => "service_accounts:read",
            P::ServiceAccountsWrite => "service_accounts:write",
            P::TokensWrite => "tokens:write",
            P::RolesRead => "roles:read",
            P::RolesWrite => "roles:write",
            P::PermissionsWrite => "permissions:write",
        }
    }

    /// The catalogue permission named `s`.
    pub fn parse(s: &str) -> Option<Permission> {
        Permission::all().find(|p| p.as_str() == s)
    }

    /// What holding it allows, for the catalogue's documentation.
    pub fn description(self) -> &'static str {
        match self {
            P::OrganizationRead => "Read the organization; check one's own permissions; leave",
            P::OrganizationUpdate => "Change the organization's profile and settings",
            P::OrganizationDelete => "Delete the organization",
            P::MembersRead => "List and read members; check another member's permissions",
            P::MembersWrite => "Add and remove members and change their roles",
            P::InvitationsRead => "List invitations",
            P::InvitationsWrite => "Invite, resend and revoke invitations",
            P::ProjectsRead => "List and read projects and their members",
            P::ProjectsWrite => "Create, change and delete projects and manage their members",
            P::ApplicationsRead => "List and read applications",
            P::ApplicationsWrite => "Create, change and delete applications",
            P::ServiceAccountsRead => "List service accounts and their tokens",
            P::ServiceAccountsWrite => {
                "Create and delete service accounts; issue and revoke their tokens"
            }
            P::TokensWrite => "Create personal access tokens scoped to the organization",
            P::RolesRead => "List and read the organization's roles",
            P::RolesWrite => "Create, change and delete custom roles",
            P::PermissionsWrite => "Register and remove the organization's application permissions",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The prefix of application-defined permissions (`app:invoices:read`).
pub const APP_PREFIX: &str = "app:";

/// Whether `s` is a well-formed application permission: `app:` then one to eight segments of
/// lowercase letters, digits, `_` and `-`, separated by `:`, 128 characters at most.
pub fn is_app_permission(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(APP_PREFIX) else {
        return false;
    };
    s.len() <= 128
        && rest.split(':').count() <= 8
        && rest.split(':').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

/// A set of permissions: the catalogue's as bits, application-defined ones by name. Owners (and
/// superusers) hold every registered application permission without naming them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Perms {
    bits: u32,
    every_app: bool,
    /// Sorted, without duplicates.
    app: Vec<Box<str>>,
}

impl Perms {
    /// Everything, application permissions included: an owner's or a superuser's set.
    pub fn everything() -> Perms {
        Perms {
            bits: Permission::all().fold(0, |b, p| b | p.bit()),
            every_app: true,
            app: Vec::new(),
        }
    }

    /// The set a built-in role grants.
    pub fn of(role: Role) -> Perms {
        if role == Role::Owner {
            return Perms::everything();
        }
        Perms {
            bits: role.permissions().iter().fold(0, |b, p| b | p.bit()),
            every_app: false,
            app: Vec::new(),
        }
    }

    /// A stored set (names separated by spaces). Names no longer in the catalogue are ignored.
    pub fn from_stored(s: &str) -> Perms {
        Perms::from_names(s.split_ascii_whitespace())
    }

    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Perms {
        let mut set = Perms::default();
        for n in names {
            if let Some(p) = Permission::parse(n) {
                set.bits |= p.bit();
            } else if is_app_permission(n) {
                set.app.push(n.into());
            }
        }
        set.app.sort();
        set.app.dedup();
        set
    }

    /// The stored form: catalogue names in catalogue order, then application names sorted.
    pub fn to_stored(&self) -> String {
        self.names().join(" ")
    }

    /// The names this set holds explicitly (an owner's application permissions are implied).
    pub fn names(&self) -> Vec<String> {
        Permission::all()
            .filter(|p| self.has(*p))
            .map(|p| p.as_str().to_owned())
            .chain(self.app.iter().map(|a| a.to_string()))
            .collect()
    }

    pub fn has(&self, p: Permission) -> bool {
        self.bits & p.bit() != 0
    }

    /// Whether the set holds the permission named `name` (catalogue or registered application
    /// permission; the caller checks that an application permission is registered).
    pub fn has_named(&self, name: &str) -> bool {
        match Permission::parse(name) {
            Some(p) => self.has(p),
            None => {
                is_app_permission(name)
                    && (self.every_app || self.app.binary_search_by(|a| (**a).cmp(name)).is_ok())
            }
        }
    }

    /// Whether every permission of `self` is also in `other`.
    pub fn is_subset(&self, other: &Perms) -> bool {
        self.bits & !other.bits == 0
            && (other.every_app || (!self.every_app && self.app.iter().all(|a| other.has_named(a))))
    }

    /// Whether this set holds every application permission, registered or to come.
    pub fn holds_every_app_permission(&self) -> bool {
        self.every_app
    }

    pub fn app_names(&self) -> impl Iterator<Item = &str> {
        self.app.iter().map(|a| &**a)
    }
}

impl Role {
    /// The permissions a built-in role grants: `member` ⊆ `admin` ⊆ `owner`.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::all().filter(|p| self.grants(*p)).collect()
    }

    pub fn grants(self, p: Permission) -> bool {
        self >= Role::least_with(p)
    }

    /// The least built-in role that grants `p`.
    pub fn least_with(p: Permission) -> Role {
        LEAST_ROLE
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(Role::Owner, |(_, r)| *r)
    }
}

/// What a role grants whoever holds it: its permissions and, for the built-in owner role only,
/// ownership (custom roles never own, whatever permissions they hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub owner: bool,
    pub perms: Perms,
}

impl Grant {
    pub fn built_in(role: Role) -> Grant {
        Grant {
            owner: role == Role::Owner,
            perms: Perms::of(role),
        }
    }

    /// A role's grant from its key and, for a custom role, its stored permissions.
    pub fn of_key(key: &str, custom: Option<&str>) -> Option<Grant> {
        match (Role::parse(key), custom) {
            (Some(role), _) => Some(Grant::built_in(role)),
            (None, Some(stored)) => Some(Grant {
                owner: false,
                perms: Perms::from_stored(stored),
            }),
            (None, None) => None,
        }
    }

    /// A superuser acts as an owner everywhere.
    pub fn superuser() -> Grant {
        Grant::built_in(Role::Owner)
    }
}

/// Whether `s` is a well-formed key for a custom role: a lowercase letter, then up to 47
/// lowercase letters, digits, `_` and `-`; the built-in keys are taken.
pub fn is_role_key(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 48
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// A role named in a request: `owner`, `admin`, `member` or the key of one of the
/// organization's custom roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "member", pattern = "^[a-z][a-z0-9_-]{0,47}$")]
pub struct RoleKey(String);

impl RoleKey {
    pub fn built_in(role: Role) -> RoleKey {
        RoleKey(role.as_str().into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoleKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if is_role_key(&s) {
            Ok(RoleKey(s))
        } else {
            Err(format!(
                "unknown role '{s}': owner, admin, member or a custom role's key"
            ))
        }
    }
}

impl From<RoleKey> for String {
    fn from(k: RoleKey) -> String {
        k.0
    }
}

/// What a route under `/organizations/{org}` needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub permission: Permission,
    /// Refused in a suspended organization (`403 organization_suspended`).
    pub writes: bool,
    /// Also granted to an admin of the project named by `{id}` (project member management).
    pub or_project_admin: bool,
    /// Also granted when `{user}` is the caller (removing oneself is leaving).
    pub or_self: bool,
    /// Admitted in a deactivated organization: the change that reactivates it (the store then
    /// refuses anything else while it is inactive).
    pub reactivates: bool,
}

const fn read(permission: Permission) -> Need {
    Need {
        permission,
        writes: false,
        or_project_admin: false,
        or_self: false,
        reactivates: false,
    }
}

const fn write(permission: Permission) -> Need {
    Need {
        permission,
        writes: true,
        or_project_admin: false,
        or_self: false,
        reactivates: false,
    }
}

const fn reactivating_write(permission: Permission) -> Need {
    Need {
        reactivates: true,
        ..write(permission)
    }
}

const fn project_admin_write() -> Need {
    Need {
        or_project_admin: true,
        ..write(P::ProjectsWrite)
    }
}

const fn self_or_read(permission: Permission) -> Need {
    Need {
        or_self: true,
        ..read(permission)
    }
}

const fn self_or_write(permission: Permission) -> Need {
    Need {
        or_self: true,
        ..write(permission)
    }
}

/// Every route under an organization and what it needs: the one place where route-level
/// authorization is decided (by the `OrgContext` extractor). A route missing here is refused
/// (deny by default), and a test checks that every such route has its row. Rules that depend
/// on the data (the owner rules, who may grant which role) are then re-checked inside the
/// write transaction, where a concurrent change cannot alter them between check and write.
pub const ROUTES: &[(&str, &str, Need)] = &[
    ("GET", "/organizations/{org}", read(P::OrganizationRead)),
    // Owners reactivate a deactivated organization with `{"active": true}`.
    (
        "PATCH",
        "/organizations/{org}",
        reactivating_write(P::OrganizationUpdate),
    ),
    (
        "DELETE",
        "/organizations/{org}",
        write(P::OrganizationDelete),
    ),
    (
        "POST",
        "/organizations/{org}/leave",
        write(P::OrganizationRead),
    ),
    ("GET", "/organizations/{org}/members", read(P::MembersRead)),
    (
        "POST",
        "/organizations/{org}/members",
        write(P::MembersWrite),
    ),
    (
        "GET",
        "/organizations/{org}/members/{user}",
        read(P::MembersRead),
    ),
    (
        "PATCH",
        "/organizations/{org}/members/{user}",
        write(P::MembersWrite),
    ),
    (
        "DELETE",
        "/organizations/{org}/members/{user}",
        self_or_write(P::MembersWrite),
    ),
    (
        "POST",
        "/organizations/{org}/members/{user}/toggle-admin",
        write(P::MembersWrite),
    ),
    (
        "GET",
        "/organizations/{org}/invitations",
        read(P::InvitationsRead),
    ),
    (
        "POST",
        "/organizations/{org}/invitations",
        write(P::InvitationsWrite),
    ),
    (
        "DELETE",
        "/organizations/{org}/invitations/{id}",
        write(P::InvitationsWrite),
    ),
    (
        "POST",
        "/organizations/{org}/invitations/{id}/resend",
        write(P::InvitationsWrite),
    ),
    (
        "GET",
        "/organizations/{org}/projects",
        read(P::ProjectsRead),
    ),
    (
        "POST",
        "/organizations/{org}/projects",
        write(P::ProjectsWrite),
    ),
    (
        "GET",
        "/organizations/{org}/projects/{id}",
        read(P::ProjectsRead),
    ),
    (
        "PATCH",
        "/organizations/{org}/projects/{id}",
        write(P::ProjectsWrite),
    ),
    (
        "DELETE",
        "/organizations/{org}/projects/{id}",
        write(P::ProjectsWrite),
    ),
    (
        "GET",
        "/organizations/{org}/projects/{id}/members",
        read(P::ProjectsRead),
    ),
    (
        "POST",
        "/organizations/{org}/projects/{id}/members",
        project_admin_write(),
    ),
    (
        "PATCH",
        "/organizations/{org}/projects/{id}/members/{user}",
        project_admin_write(),
    ),
    (
        "DELETE",
        "/organizations/{org}/projects/{id}/members/{user}",
        project_admin_write(),
    ),
    (
        "GET",
        "/organizations/{org}/applications",
        read(P::ApplicationsRead),
    ),
    (
        "POST",
        "/organizations/{org}/applications",
        write(P::ApplicationsWrite),
    ),
    (
        "GET",
        "/organizations/{org}/applications/{id}",
        read(P::ApplicationsRead),
    ),
    (
        "PATCH",
        "/organizations/{org}/applications/{id}",
        write(P::ApplicationsWrite),
    ),
    (
        "DELETE",
        "/organizations/{org}/applications/{id}",
        write(P::ApplicationsWrite),
    ),
    (
        "GET",
        "/organizations/{org}/service-accounts",
        read(P::ServiceAccountsRead),
    ),
    (
        "POST",
        "/organizations/{org}/service-accounts",
        write(P::ServiceAccountsWrite),
    ),
    (
        "DELETE",
        "/organizations/{org}/service-accounts/{user}",
        write(P::ServiceAccountsWrite),
    ),
    (
        "POST",
        "/organizations/{org}/service-accounts/{user}/tokens",
        write(P::ServiceAccountsWrite),
    ),
    (
        "GET",
        "/organizations/{org}/service-accounts/{user}/tokens",
        read(P::ServiceAccountsRead),
    ),
    ("GET", "/organizations/{org}/roles", read(P::RolesRead)),
    ("POST", "/organizations/{org}/roles", write(P::RolesWrite)),
    (
        "GET",
        "/organizations/{org}/roles/{key}",
        read(P::RolesRead),
    ),
    (
        "PATCH",
        "/organizations/{org}/roles/{key}",
        write(P::RolesWrite),
    ),
    (
        "DELETE",
        "/organizations/{org}/roles/{key}",
        write(P::RolesWrite),
    ),
    (
        "GET",
        "/organizations/{org}/permissions",
        read(P::OrganizationRead),
    ),
    (
        "POST",
        "/organizations/{org}/permissions",
        write(P::PermissionsWrite),
    ),
    (
        "DELETE",
        "/organizations/{org}/permissions/{key}",
        write(P::PermissionsWrite),
    ),
    // Checking oneself needs membership only; checking another member needs `members:read`,
    // decided by the handler from the body.
    (
        "POST",
        "/organizations/{org}/permissions/check",
        read(P::OrganizationRead),
    ),
    (
        "GET",
        "/organizations/{org}/members/{user}/permissions",
        self_or_read(P::MembersRead),
    ),
    // Any member sees the plan, limits and usage. Attaching and removing a license is for
    // owners (the permission no other built-in role holds; the store then requires ownership
    // itself, and a superuser for attaching by id).
    (
        "GET",
        "/organizations/{org}/license",
        read(P::OrganizationRead),
    ),
    (
        "PUT",
        "/organizations/{org}/license",
        write(P::OrganizationDelete),
    ),
    (
        "DELETE",
        "/organizations/{org}/license",
        write(P::OrganizationDelete),
    ),
    (
        "GET",
        "/organizations/{org}/deployments",
        read(P::OrganizationUpdate),
    ),
    (
        "DELETE",
        "/organizations/{org}/deployments/{id}",
        write(P::OrganizationUpdate),
    ),
    (
        "GET",
        "/organizations/{org}/audit-log",
        read(P::OrganizationUpdate),
    ),
    // SSO decides who signs in as whom: owners and admins.
    (
        "GET",
        "/organizations/{org}/domains",
        read(P::OrganizationUpdate),
    ),
    (
        "POST",
        "/organizations/{org}/domains",
        write(P::OrganizationUpdate),
    ),
    (
        "POST",
        "/organizations/{org}/domains/{id}/verify",
        write(P::OrganizationUpdate),
    ),
    (
        "DELETE",
        "/organizations/{org}/domains/{id}",
        write(P::OrganizationUpdate),
    ),
    (
        "GET",
        "/organizations/{org}/sso-providers",
        read(P::OrganizationUpdate),
    ),
    (
        "POST",
        "/organizations/{org}/sso-providers",
        write(P::OrganizationUpdate),
    ),
    (
        "GET",
        "/organizations/{org}/sso-providers/{id}",
        read(P::OrganizationUpdate),
    ),
    (
        "PATCH",
        "/organizations/{org}/sso-providers/{id}",
        write(P::OrganizationUpdate),
    ),
    (
        "DELETE",
        "/organizations/{org}/sso-providers/{id}",
        write(P::OrganizationUpdate),
    ),
    // Webhooks carry what the audit log shows: the same permission manages them.
    (
        "GET",
        "/organizations/{org}/webhooks",
        read(P::OrganizationUpdate),
    ),
    (
        "POST",
        "/organizations/{org}/webhooks",
        write(P::OrganizationUpdate),
    ),
    (
        "GET",
        "/organizations/{org}/webhooks/{id}",
        read(P::OrganizationUpdate),
    ),
    (
        "PATCH",
        "/organizations/{org}/webhooks/{id}",
        write(P::OrganizationUpdate),
    ),
    (
        "DELETE",
        "/organizations/{org}/webhooks/{id}",
        write(P::OrganizationUpdate),
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/rotate-secret",
        write(P::OrganizationUpdate),
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/ping",
        write(P::OrganizationUpdate),
    ),
    (
        "GET",
        "/organizations/{org}/webhooks/{id}/deliveries",
        read(P::OrganizationUpdate),
    ),
    (
        "GET",
        "/organizations/{org}/webhooks/{id}/deliveries/{delivery}",
        read(P::OrganizationUpdate),
    ),
    (
        "POST",
        "/organizations/{org}/webhooks/{id}/deliveries/{delivery}/retry",
        write(P::OrganizationUpdate),
    ),
    // Revoking a credential stays possible in a suspended organization.
    (
        "DELETE",
        "/organizations/{org}/service-accounts/{user}/tokens/{id}",
        read(P::ServiceAccountsWrite),
    ),
];

/// The row of `method` `path` (a route template), if any.
pub fn need(method: &str, path: &str) -> Option<Need> {
    ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, n)| *n)
}

/// Who may call a route outside any organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any signed-in caller (the route then acts on the caller's own things only).
    Authenticated,
    /// A superuser with an unscoped token.
    Superuser,
}

/// Every route outside `/organizations/{org}` and who may call it; together with `ROUTES`, every
/// route of the API has exactly one row. Superuser routes are admitted by the
/// `SuperuserCaller` extractor from this table; authenticated ones by `Caller`.
pub const INSTALLATION_ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Access::Public),
    ("GET", "/readyz", Access::Public),
    ("GET", "/metrics", Access::Public),
    ("POST", "/auth/signup", Access::Public),
    ("POST", "/auth/login", Access::Public),
    ("POST", "/auth/password-reset", Access::Public),
    ("POST", "/auth/password-reset/confirm", Access::Public),
    ("POST", "/auth/verify-email", Access::Public),
    ("POST", "/auth/verify-email/resend", Access::Public),
    ("POST", "/invitations/accept", Access::Public),
    ("POST", "/invitations/decline", Access::Public),
    (
        "POST",
        "/users/me/invitations/{id}/accept",
        Access::Authenticated,
    ),
    (
        "POST",
        "/users/me/invitations/{id}/decline",
        Access::Authenticated,
    ),
    ("POST", "/auth/logout", Access::Authenticated),
    ("GET", "/users/me", Access::Authenticated),
    ("PATCH", "/users/me", Access::Authenticated),
    ("POST", "/users/me/password", Access::Authenticated),
    ("GET", "/users/me/invitations", Access::Authenticated),
    ("GET", "/users/me/sessions", Access::Authenticated),
    ("GET", "/tokens", Access::Authenticated),
    ("POST", "/tokens", Access::Authenticated),
    ("DELETE", "/tokens/{id}", Access::Authenticated),
    ("GET", "/organizations", Access::Authenticated),
    ("POST", "/organizations", Access::Authenticated),
    ("GET", "/users", Access::Superuser),
    ("POST", "/users", Access::Superuser),
    ("GET", "/users/{user}", Access::Superuser),
    ("PATCH", "/users/{user}", Access::Superuser),
    ("DELETE", "/users/{user}", Access::Superuser),
    ("POST", "/users/{user}/tokens", Access::Superuser),
    ("GET", "/permissions", Access::Authenticated),
    ("POST", "/permissions", Access::Superuser),
    ("DELETE", "/permissions/{key}", Access::Superuser),
    ("GET", "/plans", Access::Authenticated),
    ("GET", "/audit-log", Access::Superuser),
    ("GET", "/auth/sso/start", Access::Public),
    ("GET", "/auth/sso/{provider_id}/start", Access::Public),
    ("GET", "/auth/sso/callback", Access::Public),
    ("GET", "/webhooks/event-types", Access::Authenticated),
    ("GET", "/webhooks", Access::Superuser),
    ("POST", "/webhooks", Access::Superuser),
    ("GET", "/webhooks/{id}", Access::Superuser),
    ("PATCH", "/webhooks/{id}", Access::Superuser),
    ("DELETE", "/webhooks/{id}", Access::Superuser),
    ("POST", "/webhooks/{id}/rotate-secret", Access::Superuser),
    ("POST", "/webhooks/{id}/ping", Access::Superuser),
    ("GET", "/webhooks/{id}/deliveries", Access::Superuser),
    (
        "GET",
        "/webhooks/{id}/deliveries/{delivery}",
        Access::Superuser,
    ),
    (
        "POST",
        "/webhooks/{id}/deliveries/{delivery}/retry",
        Access::Superuser,
    ),
    ("GET", "/licenses", Access::Superuser),
    ("POST", "/licenses", Access::Superuser),
    ("GET", "/licenses/{id}", Access::Superuser),
    ("PATCH", "/licenses/{id}", Access::Superuser),
    ("DELETE", "/licenses/{id}", Access::Superuser),
    // The license key, or the deployment's own token, is the credential.
    ("POST", "/deployments/register", Access::Public),
    ("POST", "/deployments/{id}/heartbeat", Access::Public),
];

/// The row of an installation route, if any.
pub fn installation_access(method: &str, path: &str) -> Option<Access> {
    INSTALLATION_ROUTES
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, a)| *a)
}

#[cfg(test)]
mod permission_tests {
    use super::*;

    #[test]
    fn built_in_roles_nest() {
        for p in Role::Member.permissions() {
            assert!(Role::Admin.grants(p), "{p:?}");
        }
        for p in Role::Admin.permissions() {
            assert!(Role::Owner.grants(p), "{p:?}");
        }
        assert_eq!(Role::Owner.permissions().len(), Permission::all().count());
        assert_eq!(Role::Member.permissions().len(), 5);
        assert!(!Role::Admin.grants(P::OrganizationDelete));
        assert!(!Role::Member.grants(P::MembersWrite));
        assert_eq!(Role::least_with(P::InvitationsRead), Role::Admin);
    }

    #[test]
    fn permission_sets() {
        let admin = Perms::of(Role::Admin);
        let owner = Perms::of(Role::Owner);
        let custom = Perms::from_stored("members:read app:invoices:read bogus projects:write");
        assert_eq!(
            custom.names(),
            ["members:read", "projects:write", "app:invoices:read"]
        );
        assert_eq!(Perms::from_stored(&custom.to_stored()), custom);
        assert!(custom.has_named("app:invoices:read"));
        assert!(!custom.has_named("app:invoices:write"));
        assert!(!custom.has_named("bogus"));
        assert!(
            !custom.is_subset(&admin),
            "admins hold no application permission"
        );
        assert!(custom.is_subset(&owner));
        assert!(admin.is_subset(&owner) && !owner.is_subset(&admin));
        assert!(owner.has_named("app:anything"));
        assert!(Perms::of(Role::Member).is_subset(&admin));
        let without_app = Perms::from_stored("members:read projects:write");
        assert!(without_app.is_subset(&custom) && without_app.is_subset(&admin));
        assert!(!custom.is_subset(&without_app));
    }

    #[test]
    fn names_of_roles_and_application_permissions() {
        assert!(is_role_key("billing-admin") && is_role_key("a1_b"));
        for bad in ["", "Billing", "1st", "a b", "x".repeat(49).as_str(), "é"] {
            assert!(!is_role_key(bad), "{bad}");
        }
        assert!(is_app_permission("app:invoices:read") && is_app_permission("app:x"));
        for bad in [
            "app:",
            "app::x",
            "invoices:read",
            "app:Invoices",
            "app:a b",
            "app:x:",
        ] {
            assert!(!is_app_permission(bad), "{bad}");
        }
        assert!(!is_app_permission(&format!("app:{}", "x".repeat(130))));
        for p in Permission::all() {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert!(!is_app_permission(p.as_str()));
        }
    }

    #[test]
    fn every_route_is_declared_once() {
        for (i, (m, p, _)) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[i + 1..].iter().any(|(m2, p2, _)| m2 == m && p2 == p),
                "{m} {p} twice"
            );
        }
    }
}
