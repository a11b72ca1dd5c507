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

/// The effective role of an actor: superusers count as owners.
pub fn effective(actor: Actor, role: Option<Role>) -> Option<Role> {
    match actor {
        Actor::Superuser(_) => Some(Role::Owner),
        Actor::User(_) => role,
    }
}

/// What an action needs, named the same everywhere: the route table below, the documentation,
/// and (later) custom roles. Built-in roles are sets of these.
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
}

use Permission as P;

/// Each permission and the least built-in role that holds it. Built-in roles nest by
/// construction: a role holds every permission whose least role it reaches.
const LEAST_ROLE: &[(Permission, Role)] = &[
    (P::OrganizationRead, Role::Member),
    (P::MembersRead, Role::Member),
    (P::ProjectsRead, Role::Member),
    (P::ApplicationsRead, Role::Member),
    (P::OrganizationUpdate, Role::Admin),
    (P::MembersWrite, Role::Admin),
    (P::InvitationsRead, Role::Admin),
    (P::InvitationsWrite, Role::Admin),
    (P::ProjectsWrite, Role::Admin),
    (P::ApplicationsWrite, Role::Admin),
    (P::ServiceAccountsRead, Role::Admin),
    (P::ServiceAccountsWrite, Role::Admin),
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
        }
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
}

const fn read(permission: Permission) -> Need {
    Need {
        permission,
        writes: false,
        or_project_admin: false,
        or_self: false,
    }
}

const fn write(permission: Permission) -> Need {
    Need {
        permission,
        writes: true,
        or_project_admin: false,
        or_self: false,
    }
}

const fn project_admin_write() -> Need {
    Need {
        or_project_admin: true,
        ..write(P::ProjectsWrite)
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
    (
        "PATCH",
        "/organizations/{org}",
        write(P::OrganizationUpdate),
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
    ("POST", "/auth/signup", Access::Public),
    ("POST", "/auth/login", Access::Public),
    ("POST", "/auth/password-reset", Access::Public),
    ("POST", "/auth/password-reset/confirm", Access::Public),
    ("POST", "/invitations/accept", Access::Public),
    ("POST", "/invitations/decline", Access::Public),
    ("POST", "/auth/logout", Access::Authenticated),
    ("GET", "/users/me", Access::Authenticated),
    ("PATCH", "/users/me", Access::Authenticated),
    ("POST", "/users/me/password", Access::Authenticated),
    ("GET", "/users/me/invitations", Access::Authenticated),
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
        assert_eq!(Role::Member.permissions().len(), 4);
        assert!(!Role::Admin.grants(P::OrganizationDelete));
        assert!(!Role::Member.grants(P::MembersWrite));
        assert_eq!(Role::least_with(P::InvitationsRead), Role::Admin);
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
