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
