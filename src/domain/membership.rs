//! The rules of roles and ownership, decided from facts read inside the changing transaction:
//! what the actor's role grants, what the role being given or taken grants. One rule underlies
//! them all: an actor hands out, takes away or acts on only permissions it holds itself, and only
//! an owner makes or unmakes an owner.

use crate::authz::{Grant, Permission, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The organization would be left without an owner.
    LastOwner,
    Forbidden(&'static str),
    Invalid(&'static str),
}

fn needs(actor: &Grant, p: Permission, refusal: &'static str) -> Result<(), Refusal> {
    if actor.perms.has(p) {
        Ok(())
    } else {
        Err(Refusal::Forbidden(refusal))
    }
}

/// May `actor` hand out `role` (to a member, an invitation, a service account)?
pub fn check_grant(actor: &Grant, role: &Grant) -> Result<(), Refusal> {
    if role.owner && !actor.owner {
        return Err(Refusal::Forbidden("Only owners can grant the owner role"));
    }
    if !role.perms.is_subset(&actor.perms) {
        return Err(Refusal::Forbidden(
            "You cannot grant a role with permissions you do not hold",
        ));
    }
    Ok(())
}

/// May `actor` give a new member `role`?
pub fn check_add(actor: &Grant, role: &Grant) -> Result<(), Refusal> {
    needs(
        actor,
        Permission::MembersWrite,
        "Adding members requires the members:write permission",
    )?;
    check_grant(actor, role)
}

/// May `actor` act on an invitation (create, resend, revoke, refresh) carrying `role`? Acting on
/// an invitation hands out its role to whoever holds the link, so it needs the power to grant it.
pub fn check_invitation(actor: &Grant, role: &Grant) -> Result<(), Refusal> {
    needs(
        actor,
        Permission::InvitationsWrite,
        "Managing invitations requires the invitations:write permission",
    )?;
    if role.owner && !actor.owner {
        return Err(Refusal::Forbidden(
            "Only owners can act on an invitation that grants the owner role",
        ));
    }
    check_grant(actor, role)
}

/// May `actor` change a member from `current` to `new`, with `owners` owners in the organization?
pub fn check_role_change(
    actor: &Grant,
    acting_on_self: bool,
    current: &Grant,
    new: &Grant,
    owners: Option<i64>,
) -> Result<(), Refusal> {
    needs(
        actor,
        Permission::MembersWrite,
        "Changing roles requires the members:write permission",
    )?;
    if (current.owner || new.owner) && !actor.owner {
        return Err(Refusal::Forbidden(
            "Only owners can grant or take away the owner role",
        ));
    }
    if acting_on_self && !new.perms.is_subset(&current.perms) {
        return Err(Refusal::Forbidden("Members cannot raise their own role"));
    }
    if !current.perms.is_subset(&actor.perms) {
        return Err(Refusal::Forbidden(
            "You cannot change the role of a member who holds permissions you do not",
        ));
    }
    check_grant(actor, new)?;
    // The owners are counted only when an owner steps down; uncounted, the change is refused.
    if current.owner && !new.owner && owners.is_none_or(|n| n <= 1) {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// The role `toggle-admin` moves to.
pub fn toggled(current: &str) -> Result<Role, Refusal> {
    match Role::parse(current) {
        Some(Role::Member) => Ok(Role::Admin),
        Some(Role::Admin) => Ok(Role::Member),
        Some(Role::Owner) => Err(Refusal::Invalid(
            "toggle-admin never changes an owner's role",
        )),
        None => Err(Refusal::Invalid(
            "toggle-admin changes the built-in member and admin roles only; set a custom role's \
             member with PATCH",
        )),
    }
}

/// May `actor` remove a member with role `target` (`leaving` when the member removes themself)?
pub fn check_removal(
    actor: &Grant,
    leaving: bool,
    target: &Grant,
    owners: i64,
) -> Result<(), Refusal> {
    if !leaving {
        needs(
            actor,
            Permission::MembersWrite,
            "Removing members requires the members:write permission",
        )?;
        if target.owner && !actor.owner {
            return Err(Refusal::Forbidden("Only owners can remove an owner"));
        }
        if !target.perms.is_subset(&actor.perms) {
            return Err(Refusal::Forbidden(
                "You cannot remove a member who holds permissions you do not",
            ));
        }
    }
    if target.owner && owners <= 1 {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// May `actor` define or redefine a custom role from `old` (when it exists) to `new`? Nobody
/// defines, widens or narrows a role beyond their own permissions.
pub fn check_role_definition(
    actor: &Grant,
    old: Option<&Grant>,
    new: &Grant,
) -> Result<(), Refusal> {
    needs(
        actor,
        Permission::RolesWrite,
        "Managing roles requires the roles:write permission",
    )?;
    if old.is_some_and(|o| !o.perms.is_subset(&actor.perms)) {
        return Err(Refusal::Forbidden(
            "You cannot change a role that holds permissions you do not",
        ));
    }
    if !new.perms.is_subset(&actor.perms) {
        return Err(Refusal::Forbidden(
            "You cannot give a role permissions you do not hold",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Perms;

    fn g(r: Role) -> Grant {
        Grant::built_in(r)
    }
    fn custom(perms: &str) -> Grant {
        Grant {
            owner: false,
            perms: Perms::from_stored(perms),
        }
    }
    const MEMBER: Role = Role::Member;
    const ADMIN: Role = Role::Admin;
    const OWNER: Role = Role::Owner;

    #[test]
    fn role_order_is_privilege_order() {
        assert!(MEMBER < ADMIN && ADMIN < OWNER);
    }

    #[test]
    fn adding() {
        assert!(check_add(&g(ADMIN), &g(MEMBER)).is_ok());
        assert!(check_add(&g(ADMIN), &g(ADMIN)).is_ok());
        assert!(matches!(
            check_add(&g(ADMIN), &g(OWNER)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_add(&g(OWNER), &g(OWNER)).is_ok());
        assert!(matches!(
            check_add(&g(MEMBER), &g(MEMBER)),
            Err(Refusal::Forbidden(_))
        ));
        // A custom role that may add members grants only what it holds.
        let manager = custom("organization:read members:read members:write");
        assert!(check_add(&manager, &custom("members:read")).is_ok());
        assert!(matches!(
            check_add(&manager, &g(MEMBER)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_add(&g(ADMIN), &custom("organization:delete")),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_add(&g(ADMIN), &custom("app:invoices:read")),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_add(&g(OWNER), &custom("app:invoices:read organization:delete")).is_ok());
    }

    #[test]
    fn invitations_need_the_power_to_grant_their_role() {
        assert!(check_invitation(&g(ADMIN), &g(MEMBER)).is_ok());
        assert!(check_invitation(&g(ADMIN), &g(ADMIN)).is_ok());
        assert!(matches!(
            check_invitation(&g(ADMIN), &g(OWNER)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_invitation(&g(OWNER), &g(OWNER)).is_ok());
        assert!(matches!(
            check_invitation(&g(MEMBER), &g(MEMBER)),
            Err(Refusal::Forbidden(_))
        ));
        let inviter = custom("organization:read invitations:write");
        assert!(check_invitation(&inviter, &custom("organization:read")).is_ok());
        assert!(matches!(
            check_invitation(&inviter, &g(MEMBER)),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn role_changes() {
        let change = |a: Role, me: bool, c: Role, n: Role, owners| {
            check_role_change(&g(a), me, &g(c), &g(n), owners)
        };
        assert!(change(ADMIN, false, MEMBER, ADMIN, None).is_ok());
        assert!(matches!(
            change(ADMIN, false, OWNER, MEMBER, Some(2)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            change(ADMIN, false, MEMBER, OWNER, Some(2)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            change(MEMBER, true, MEMBER, ADMIN, None),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            change(ADMIN, true, ADMIN, OWNER, None),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(
            change(OWNER, true, OWNER, ADMIN, Some(1)),
            Err(Refusal::LastOwner)
        );
        assert_eq!(
            change(OWNER, false, OWNER, MEMBER, None),
            Err(Refusal::LastOwner)
        );
        assert!(change(OWNER, true, OWNER, ADMIN, Some(2)).is_ok());
        assert!(change(OWNER, false, MEMBER, OWNER, None).is_ok());
        // Custom roles: no raising oneself, no acting on someone who holds more, no granting more.
        let manager = custom("organization:read members:read members:write");
        let reader = custom("organization:read members:read");
        assert!(check_role_change(&manager, false, &reader, &reader, None).is_ok());
        assert!(matches!(
            check_role_change(&manager, false, &g(MEMBER), &reader, None),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_change(&manager, false, &reader, &g(ADMIN), None),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_change(&manager, true, &manager, &g(ADMIN), None),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_role_change(&manager, true, &manager, &reader, None).is_ok());
        assert!(matches!(
            check_role_change(&reader, false, &reader, &reader, None),
            Err(Refusal::Forbidden(_))
        ));
        // A custom role with every permission still cannot make an owner.
        let all = Grant {
            owner: false,
            perms: Perms::everything(),
        };
        assert!(matches!(
            check_role_change(&all, false, &g(MEMBER), &g(OWNER), None),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn toggling() {
        assert_eq!(toggled("member"), Ok(ADMIN));
        assert_eq!(toggled("admin"), Ok(MEMBER));
        assert!(matches!(toggled("owner"), Err(Refusal::Invalid(_))));
        assert!(matches!(toggled("billing"), Err(Refusal::Invalid(_))));
    }

    #[test]
    fn removals() {
        assert!(check_removal(&g(ADMIN), false, &g(MEMBER), 1).is_ok());
        assert!(matches!(
            check_removal(&g(ADMIN), false, &g(OWNER), 2),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_removal(&g(MEMBER), false, &g(MEMBER), 1),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_removal(&g(MEMBER), true, &g(MEMBER), 1).is_ok());
        assert_eq!(
            check_removal(&g(OWNER), true, &g(OWNER), 1),
            Err(Refusal::LastOwner)
        );
        assert_eq!(
            check_removal(&g(OWNER), false, &g(OWNER), 1),
            Err(Refusal::LastOwner)
        );
        assert!(check_removal(&g(OWNER), false, &g(OWNER), 2).is_ok());
        let manager = custom("organization:read members:read members:write");
        assert!(matches!(
            check_removal(&manager, false, &g(MEMBER), 1),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_removal(&manager, false, &custom("members:read"), 1).is_ok());
    }

    #[test]
    fn role_definitions() {
        let admin = g(ADMIN);
        let narrow = custom("organization:read members:read");
        assert!(check_role_definition(&admin, None, &narrow).is_ok());
        assert!(matches!(
            check_role_definition(&admin, None, &custom("organization:delete")),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_definition(&admin, Some(&custom("organization:delete")), &narrow),
            Err(Refusal::Forbidden(_))
        ));
        let editor = custom("organization:read roles:write members:read");
        assert!(matches!(
            check_role_definition(&editor, Some(&editor), &custom("roles:write members:write")),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_definition(&g(MEMBER), None, &custom("organization:read")),
            Err(Refusal::Forbidden(_))
        ));
    }
}
