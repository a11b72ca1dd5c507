//! The rules of roles and ownership, decided from facts read inside the changing transaction.

use crate::authz::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The organization would be left without an owner.
    LastOwner,
    Forbidden(&'static str),
    Invalid(&'static str),
}

/// May `actor` (effective role) give a new member `role`?
pub fn check_add(actor: Role, role: Role) -> Result<(), Refusal> {
    if actor < Role::Admin {
        return Err(Refusal::Forbidden("Only owners and admins can add members"));
    }
    if role == Role::Owner && actor != Role::Owner {
        return Err(Refusal::Forbidden("Only owners can grant the owner role"));
    }
    Ok(())
}

/// May `actor` act on an invitation (create, resend, revoke, refresh) carrying `role`? Acting on
/// an invitation hands out its role to whoever holds the link, so it needs the power to grant it.
pub fn check_invitation(actor: Role, role: Role) -> Result<(), Refusal> {
    if actor < Role::Admin {
        return Err(Refusal::Forbidden(
            "Only owners and admins can manage invitations",
        ));
    }
    if role == Role::Owner && actor != Role::Owner {
        return Err(Refusal::Forbidden(
            "Only owners can act on an invitation that grants the owner role",
        ));
    }
    Ok(())
}

/// May `actor` change a member from `current` to `new`, with `owners` owners in the organization?
pub fn check_role_change(
    actor: Role,
    acting_on_self: bool,
    current: Role,
    new: Role,
    owners: Option<i64>,
) -> Result<(), Refusal> {
    if actor < Role::Admin {
        return Err(Refusal::Forbidden(
            "Only owners and admins can change roles",
        ));
    }
    if (current == Role::Owner || new == Role::Owner) && actor != Role::Owner {
        return Err(Refusal::Forbidden(
            "Only owners can grant or take away the owner role",
        ));
    }
    if acting_on_self && new > current {
        return Err(Refusal::Forbidden("Members cannot raise their own role"));
    }
    // The owners are counted only when an owner steps down; uncounted, the change is refused.
    if current == Role::Owner && new != Role::Owner && owners.is_none_or(|n| n <= 1) {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// The role `toggle-admin` moves to.
pub fn toggled(current: Role) -> Result<Role, Refusal> {
    match current {
        Role::Member => Ok(Role::Admin),
        Role::Admin => Ok(Role::Member),
        Role::Owner => Err(Refusal::Invalid(
            "toggle-admin never changes an owner's role",
        )),
    }
}

/// May `actor` remove a member with role `target` (`leaving` when the member removes themself)?
pub fn check_removal(actor: Role, leaving: bool, target: Role, owners: i64) -> Result<(), Refusal> {
    if !leaving {
        if actor < Role::Admin {
            return Err(Refusal::Forbidden(
                "Only owners and admins can remove members",
            ));
        }
        if target == Role::Owner && actor != Role::Owner {
            return Err(Refusal::Forbidden("Only owners can remove an owner"));
        }
    }
    if target == Role::Owner && owners <= 1 {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn role_order_is_privilege_order() {
        assert!(Member < Admin && Admin < Owner);
    }

    #[test]
    fn adding() {
        assert!(check_add(Admin, Member).is_ok());
        assert!(check_add(Admin, Admin).is_ok());
        assert!(matches!(
            check_add(Admin, Owner),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_add(Owner, Owner).is_ok());
        assert!(matches!(
            check_add(Member, Member),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn invitations_need_the_power_to_grant_their_role() {
        assert!(check_invitation(Admin, Member).is_ok());
        assert!(check_invitation(Admin, Admin).is_ok());
        assert!(matches!(
            check_invitation(Admin, Owner),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_invitation(Owner, Owner).is_ok());
        assert!(matches!(
            check_invitation(Member, Member),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn role_changes() {
        assert!(check_role_change(Admin, false, Member, Admin, None).is_ok());
        assert!(matches!(
            check_role_change(Admin, false, Owner, Member, Some(2)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_change(Admin, false, Member, Owner, Some(2)),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_change(Member, true, Member, Admin, None),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_role_change(Admin, true, Admin, Owner, None),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(
            check_role_change(Owner, true, Owner, Admin, Some(1)),
            Err(Refusal::LastOwner)
        );
        assert_eq!(
            check_role_change(Owner, false, Owner, Member, None),
            Err(Refusal::LastOwner)
        );
        assert!(check_role_change(Owner, true, Owner, Admin, Some(2)).is_ok());
        assert!(check_role_change(Owner, false, Member, Owner, None).is_ok());
    }

    #[test]
    fn toggling() {
        assert_eq!(toggled(Member), Ok(Admin));
        assert_eq!(toggled(Admin), Ok(Member));
        assert!(matches!(toggled(Owner), Err(Refusal::Invalid(_))));
    }

    #[test]
    fn removals() {
        assert!(check_removal(Admin, false, Member, 1).is_ok());
        assert!(matches!(
            check_removal(Admin, false, Owner, 2),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_removal(Member, false, Member, 1),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check_removal(Member, true, Member, 1).is_ok());
        assert_eq!(
            check_removal(Owner, true, Owner, 1),
            Err(Refusal::LastOwner)
        );
        assert_eq!(
            check_removal(Owner, false, Owner, 1),
            Err(Refusal::LastOwner)
        );
        assert!(check_removal(Owner, false, Owner, 2).is_ok());
    }
}
