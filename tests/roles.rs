//! Custom roles, application permissions and the permission check: the catalogue, no escalation
//! through roles, deleting a role in use, checks that follow every change at once, and races
//! between role deletion and role assignment.

mod common;

use common::{TestApp, TestUser};
use serde_json::{Value, json};

struct Org {
    id: String,
    owner: TestUser,
    admin: TestUser,
    member: TestUser,
}

async fn org(app: &TestApp, n: &str) -> Org {
    let owner = app.user(&format!("owner{n}")).await;
    let admin = app.user(&format!("admin{n}")).await;
    let member = app.user(&format!("member{n}")).await;
    let id = app.org(&owner, &format!("Org {n}")).await;
    app.add(&id, &owner, &admin, "admin").await;
    app.add(&id, &owner, &member, "member").await;
    Org {
        id,
        owner,
        admin,
        member,
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

async fn check(app: &TestApp, org: &str, caller: &TestUser, body: Value) -> bool {
    app.post(
        &format!("/organizations/{org}/permissions/check"),
        &caller.token,
        body,
    )
    .await
    .expect(200)["allowed"]
        .as_bool()
        .unwrap()
}

async fn catalogue_lists_every_permission_with_the_built_in_roles_holding_it(app: TestApp) {
    let o = org(&app, "c").await;
    let root = app.superuser("root").await;
    let all = app
        .get("/permissions", &o.member.token)
        .await
        .expect(200)
        .clone();
    let keys: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    for p in orgd::authz::Permission::all() {
        assert!(keys.contains(&p.as_str()), "{p:?} missing from {keys:?}");
    }
    let delete = all
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "organization:delete")
        .unwrap();
    assert_eq!(delete["built_in_roles"], json!(["owner"]));
    assert_eq!(delete["source"], "catalogue");
    let read = all
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "members:read")
        .unwrap();
    assert_eq!(read["built_in_roles"], json!(["owner", "admin", "member"]));

    // Application permissions: for the installation (superusers) and for one organization.
    app.post(
        "/permissions",
        &o.owner.token,
        json!({"key": "app:reports:read"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        "/permissions",
        &root.token,
        json!({"key": "app:reports:read", "description": "Reports"}),
    )
    .await
    .expect(201);
    app.post(
        "/permissions",
        &root.token,
        json!({"key": "app:reports:read"}),
    )
    .await
    .expect_error(409, "conflict");
    for bad in ["reports:read", "app:Reports", "app:", "app:a b"] {
        app.post("/permissions", &root.token, json!({"key": bad}))
            .await
            .expect_error(400, "invalid_request");
    }
    let base = format!("/organizations/{}", o.id);
    app.post(
        &format!("{base}/permissions"),
        &o.member.token,
        json!({"key": "app:invoices:read"}),
    )
    .await
    .expect_error(403, "forbidden");
    let created = app
        .post(
            &format!("{base}/permissions"),
            &o.admin.token,
            json!({"key": "app:invoices:read"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(created["source"], "organization");
    app.post(
        &format!("{base}/permissions"),
        &o.admin.token,
        json!({"key": "app:reports:read"}),
    )
    .await
    .expect_error(409, "conflict");
    let here = app
        .get(&format!("{base}/permissions"), &o.member.token)
        .await
        .expect(200)
        .clone();
    let here: Vec<&str> = here
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(here.contains(&"app:invoices:read") && here.contains(&"app:reports:read"));
    assert!(here.contains(&"members:write"));
    // Another organization sees the installation's, not this one's.
    let other = org(&app, "c2").await;
    let there = app
        .get(
            &format!("/organizations/{}/permissions", other.id),
            &other.owner.token,
        )
        .await
        .text;
    assert!(there.contains("app:reports:read") && !there.contains("app:invoices:read"));
    // Removing one that a role grants is refused; unused, it goes.
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "billing", "name": "Billing", "permissions": ["app:invoices:read"]}),
    )
    .await
    .expect(201);
    app.delete(
        &format!("{base}/permissions/app:invoices:read"),
        &o.admin.token,
    )
    .await
    .expect_error(409, "conflict");
    app.delete("/permissions/app:reports:read", &root.token)
        .await
        .expect(200);
    app.delete("/permissions/app:reports:read", &root.token)
        .await
        .expect_error(404, "not_found");
}

async fn custom_roles_are_defined_listed_changed_and_validated(app: TestApp) {
    let o = org(&app, "r").await;
    let base = format!("/organizations/{}", o.id);
    let role = app
        .post(
            &format!("{base}/roles"),
            &o.admin.token,
            json!({"key": "support", "name": "Support", "description": "Helps customers",
                   "permissions": ["members:read", "projects:read"]}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(role["built_in"], false);
    // Every role lets its members see their organization.
    assert_eq!(
        names(&role["permissions"]),
        ["organization:read", "members:read", "projects:read"]
    );
    for (body, code, status) in [
        (
            json!({"key": "support", "name": "Again", "permissions": []}),
            "conflict",
            409,
        ),
        (
            json!({"key": "admin", "name": "Admin 2", "permissions": []}),
            "conflict",
            409,
        ),
        (
            json!({"key": "Bad Key", "name": "x", "permissions": []}),
            "invalid_request",
            400,
        ),
        (
            json!({"key": "ok", "name": "", "permissions": []}),
            "invalid_request",
            400,
        ),
        (
            json!({"key": "ok", "name": "x", "permissions": ["members:raed"]}),
            "invalid_request",
            400,
        ),
        (
            json!({"key": "ok", "name": "x", "permissions": ["app:unregistered"]}),
            "conflict",
            409,
        ),
        (json!({"key": "ok", "name": "x"}), "invalid_request", 400),
    ] {
        app.post(&format!("{base}/roles"), &o.owner.token, body.clone())
            .await
            .expect_error(status, code);
    }
    // An unknown permission is refused with the list of valid ones.
    let r = app
        .post(
            &format!("{base}/roles"),
            &o.owner.token,
            json!({"key": "ok", "name": "x", "permissions": ["members:raed"]}),
        )
        .await;
    assert!(
        r.text.contains("members:raed") && r.text.contains("members:read"),
        "{}",
        r.text
    );

    let list = app
        .get(&format!("{base}/roles"), &o.admin.token)
        .await
        .expect(200)
        .clone();
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["owner", "admin", "member", "support"]);
    assert_eq!(list[0]["member_count"], 1);
    assert_eq!(list[2]["member_count"], 1);
    assert_eq!(list[0]["built_in"], true);
    app.get(&format!("{base}/roles"), &o.member.token)
        .await
        .expect_error(403, "forbidden");

    let changed = app
        .patch(
            &format!("{base}/roles/support"),
            &o.admin.token,
            json!({"name": "Customer support", "description": null,
                   "permissions": ["members:read", "invitations:read"]}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(changed["name"], "Customer support");
    assert_eq!(changed["description"], Value::Null);
    assert_eq!(
        names(&changed["permissions"]),
        ["organization:read", "members:read", "invitations:read"]
    );
    for key in ["owner", "admin", "member"] {
        app.patch(
            &format!("{base}/roles/{key}"),
            &o.owner.token,
            json!({"name": "Mine"}),
        )
        .await
        .expect_error(403, "forbidden");
        app.delete(&format!("{base}/roles/{key}"), &o.owner.token)
            .await
            .expect_error(403, "forbidden");
    }
    app.get(&format!("{base}/roles/nosuch"), &o.owner.token)
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        app.get(&format!("{base}/roles/support"), &o.owner.token)
            .await
            .expect(200)["name"],
        "Customer support"
    );

    // A member with a custom role is admitted by what it grants.
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "pm", "name": "Project manager", "permissions": ["projects:read", "projects:write"]}),
    )
    .await
    .expect(201);
    app.patch(
        &format!("{base}/members/{}", o.member.id),
        &o.owner.token,
        json!({"role": "pm"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("{base}/projects"),
        &o.member.token,
        json!({"name": "Launch"}),
    )
    .await
    .expect(201);
    app.patch(&base, &o.member.token, json!({"description": "x"}))
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("{base}/members"), &o.member.token)
        .await
        .expect_error(403, "forbidden");
    let me = app
        .get(
            &format!("{base}/members/{}/permissions", o.member.id),
            &o.member.token,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(me["role"], "pm");
    assert_eq!(
        names(&me["permissions"]),
        ["organization:read", "projects:read", "projects:write"]
    );
    // Filtering members by a custom role.
    let pms = app
        .get(&format!("{base}/members?role=pm"), &o.owner.token)
        .await
        .expect(200)
        .clone();
    assert_eq!(pms.as_array().unwrap().len(), 1);
    assert_eq!(pms[0]["role"], "pm");
    assert_eq!(pms[0]["admin"], false);
    app.patch(
        &format!("{base}/members/{}", o.member.id),
        &o.owner.token,
        json!({"role": "nosuchrole"}),
    )
    .await
    .expect_error(409, "conflict");
    app.post_empty(
        &format!("{base}/members/{}/toggle-admin", o.member.id),
        &o.owner.token,
    )
    .await
    .expect_error(400, "invalid_request");
}

/// An actor grants only what it holds, and cannot widen a role, its own included.
async fn no_escalation_through_custom_roles(app: TestApp) {
    let o = org(&app, "e").await;
    let base = format!("/organizations/{}", o.id);
    // Admins hold no application permission and not organization:delete.
    app.post(
        &format!("{base}/permissions"),
        &o.owner.token,
        json!({"key": "app:payouts:approve"}),
    )
    .await
    .expect(201);
    for perms in [
        json!(["organization:delete"]),
        json!(["app:payouts:approve"]),
    ] {
        app.post(
            &format!("{base}/roles"),
            &o.admin.token,
            json!({"key": "wide", "name": "Wide", "permissions": perms}),
        )
        .await
        .expect_error(403, "forbidden");
    }
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "approver", "name": "Approver", "permissions": ["app:payouts:approve"]}),
    )
    .await
    .expect(201);
    // The admin cannot give it, edit it, or delete it: it holds what the admin does not.
    let target = app.user("target-e").await;
    app.add(&o.id, &o.owner, &target, "member").await;
    app.patch(
        &format!("{base}/members/{}", target.id),
        &o.admin.token,
        json!({"role": "approver"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        &format!("{base}/invitations"),
        &o.admin.token,
        json!({"email": "x@example.com", "role": "approver"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.patch(
        &format!("{base}/roles/approver"),
        &o.admin.token,
        json!({"permissions": ["members:read"]}),
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(&format!("{base}/roles/approver"), &o.admin.token)
        .await
        .expect_error(403, "forbidden");

    // A manager role: may manage members and roles, but holds less than an admin.
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "manager", "name": "Manager", "permissions":
            ["members:read", "members:write", "roles:read", "roles:write", "invitations:write"]}),
    )
    .await
    .expect(201);
    let manager = app.user("manager-e").await;
    app.post(
        &format!("{base}/members"),
        &o.owner.token,
        json!({"user_id": manager.id, "role": "manager"}),
    )
    .await
    .expect(201);
    // It cannot grant member (member holds projects:read), admin, or owner …
    for role in ["member", "admin", "owner"] {
        app.patch(
            &format!("{base}/members/{}", target.id),
            &manager.token,
            json!({"role": role}),
        )
        .await
        .expect_error(403, "forbidden");
    }
    // … cannot change or remove someone who holds more than it …
    app.patch(
        &format!("{base}/members/{}", o.member.id),
        &manager.token,
        json!({"role": "manager"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(&format!("{base}/members/{}", o.member.id), &manager.token)
        .await
        .expect_error(403, "forbidden");
    // … cannot widen its own role, nor define a wider one …
    app.patch(
        &format!("{base}/roles/manager"),
        &manager.token,
        json!({"permissions": ["members:read", "members:write", "roles:read", "roles:write",
                               "invitations:write", "projects:write"]}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        &format!("{base}/roles"),
        &manager.token,
        json!({"key": "sneaky", "name": "S", "permissions": ["projects:write"]}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        &format!("{base}/invitations"),
        &manager.token,
        json!({"email": "y@example.com", "role": "member"}),
    )
    .await
    .expect_error(403, "forbidden");
    // … but grants what it holds.
    app.post(
        &format!("{base}/roles"),
        &manager.token,
        json!({"key": "viewer", "name": "Viewer", "permissions": ["members:read"]}),
    )
    .await
    .expect(201);
    app.patch(
        &format!("{base}/roles/manager"),
        &manager.token,
        json!({"name": "Team manager"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("{base}/invitations"),
        &manager.token,
        json!({"email": "z@example.com", "role": "viewer"}),
    )
    .await
    .expect(201);
    // The target is a member (holds more than the manager) until the owner makes it a viewer.
    app.patch(
        &format!("{base}/members/{}", target.id),
        &o.owner.token,
        json!({"role": "viewer"}),
    )
    .await
    .expect(200);
    let moved = app
        .patch(
            &format!("{base}/members/{}", target.id),
            &manager.token,
            json!({"role": "manager"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(moved["role"], "manager");
    app.delete(&format!("{base}/members/{}", target.id), &manager.token)
        .await
        .expect(200);
    // Narrowing its own role is allowed; afterwards it holds less.
    app.patch(
        &format!("{base}/members/{}", manager.id),
        &manager.token,
        json!({"role": "viewer"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("{base}/roles"),
        &manager.token,
        json!({"key": "late", "name": "L", "permissions": []}),
    )
    .await
    .expect_error(403, "forbidden");
    // Service accounts too: no account with a role wider than its creator's.
    app.post(
        &format!("{base}/service-accounts"),
        &o.admin.token,
        json!({"name": "Payout bot", "role": "approver"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        &format!("{base}/service-accounts"),
        &o.owner.token,
        json!({"name": "Payout bot", "role": "approver"}),
    )
    .await
    .expect(201);
    // Only the built-in owner role owns: a custom role with every permission cannot make owners.
    let all: Vec<String> = orgd::authz::Permission::all()
        .map(|p| p.as_str().to_string())
        .chain(["app:payouts:approve".to_string()])
        .collect();
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "deputy", "name": "Deputy", "permissions": all}),
    )
    .await
    .expect(201);
    let deputy = app.user("deputy-e").await;
    app.post(
        &format!("{base}/members"),
        &o.owner.token,
        json!({"user_id": deputy.id, "role": "deputy"}),
    )
    .await
    .expect(201);
    app.patch(
        &format!("{base}/members/{}", deputy.id),
        &deputy.token,
        json!({"role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        &format!("{base}/invitations"),
        &deputy.token,
        json!({"email": "boss@example.com", "role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.patch(
        &format!("{base}/members/{}", o.owner.id),
        &deputy.token,
        json!({"role": "member"}),
    )
    .await
    .expect_error(403, "forbidden");
}

async fn a_role_in_use_is_deleted_only_with_a_replacement(app: TestApp) {
    let o = org(&app, "d").await;
    let base = format!("/organizations/{}", o.id);
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "auditor", "name": "Auditor", "permissions": ["members:read"]}),
    )
    .await
    .expect(201);
    app.patch(
        &format!("{base}/members/{}", o.member.id),
        &o.owner.token,
        json!({"role": "auditor"}),
    )
    .await
    .expect(200);
    let invitation = app
        .post(
            &format!("{base}/invitations"),
            &o.owner.token,
            json!({"email": "later@example.com", "role": "auditor"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .delete(&format!("{base}/roles/auditor"), &o.owner.token)
        .await;
    r.expect_error(409, "conflict");
    assert!(r.text.contains("replacement"), "{}", r.text);
    for replacement in ["owner", "nosuch", "auditor"] {
        app.delete(
            &format!("{base}/roles/auditor?replacement={replacement}"),
            &o.owner.token,
        )
        .await
        .expect_error(409, "conflict");
    }
    // The admin cannot hand out a replacement it could not grant.
    app.post(
        &format!("{base}/permissions"),
        &o.owner.token,
        json!({"key": "app:x"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "xer", "name": "X", "permissions": ["app:x"]}),
    )
    .await
    .expect(201);
    app.delete(
        &format!("{base}/roles/auditor?replacement=xer"),
        &o.admin.token,
    )
    .await
    .expect_error(403, "forbidden");
    // Nothing changed by the refusals.
    assert_eq!(
        app.get(&format!("{base}/members/{}", o.member.id), &o.owner.token)
            .await
            .expect(200)["role"],
        "auditor"
    );
    let done = app
        .delete(
            &format!("{base}/roles/auditor?replacement=member"),
            &o.admin.token,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(done["members_moved"], 1);
    assert_eq!(
        app.get(&format!("{base}/members/{}", o.member.id), &o.owner.token)
            .await
            .expect(200)["role"],
        "member"
    );
    let invitations = app
        .get(&format!("{base}/invitations"), &o.owner.token)
        .await
        .expect(200)
        .clone();
    let inv = invitations
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == invitation.as_str())
        .unwrap();
    assert_eq!(inv["role"], "member");
    app.get(&format!("{base}/roles/auditor"), &o.owner.token)
        .await
        .expect_error(404, "not_found");
    // An unused role goes without a replacement.
    app.delete(&format!("{base}/roles/xer"), &o.owner.token)
        .await
        .expect(200);
    // The organization's deletion takes its roles with it.
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "gone", "name": "Gone", "permissions": []}),
    )
    .await
    .expect(201);
    app.delete(&base, &o.owner.token).await.expect(200);
    assert_eq!(app.count("SELECT COUNT(*) FROM roles").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM app_permissions").await, 0);
}

async fn the_check_answers_for_the_caller_members_and_strangers(app: TestApp) {
    let o = org(&app, "k").await;
    let other = org(&app, "k2").await;
    let base = format!("/organizations/{}", o.id);
    assert!(
        check(
            &app,
            &o.id,
            &o.member,
            json!({"permission": "members:read"})
        )
        .await
    );
    assert!(
        !check(
            &app,
            &o.id,
            &o.member,
            json!({"permission": "members:write"})
        )
        .await
    );
    assert!(
        check(
            &app,
            &o.id,
            &o.admin,
            json!({"permission": "members:write"})
        )
        .await
    );
    assert!(
        !check(
            &app,
            &o.id,
            &o.admin,
            json!({"permission": "organization:delete"})
        )
        .await
    );
    assert!(
        check(
            &app,
            &o.id,
            &o.owner,
            json!({"permission": "organization:delete"})
        )
        .await
    );
    // Another member, with members:read.
    assert!(
        check(
            &app,
            &o.id,
            &o.member,
            json!({"permission": "members:write", "user_id": o.admin.id})
        )
        .await
    );
    // A stranger, or a member of another organization only: not allowed, never an error.
    for stranger in [other.owner.id, other.member.id, uuid::Uuid::now_v7()] {
        assert!(
            !check(
                &app,
                &o.id,
                &o.owner,
                json!({"permission": "organization:read", "user_id": stranger})
            )
            .await
        );
    }
    // Unknown permissions and malformed requests.
    for body in [
        json!({"permission": "members:raed"}),
        json!({}),
        json!({"permission": "members:read", "checks": []}),
        json!({"checks": []}),
        json!({"checks": (0..101).map(|_| json!({"permission": "members:read"})).collect::<Vec<_>>()}),
        json!({"checks": [{"permission": "members:read"}, {"permission": "nope"}]}),
    ] {
        app.post(
            &format!("{base}/permissions/check"),
            &o.owner.token,
            body.clone(),
        )
        .await
        .expect_error(400, "invalid_request");
    }
    // A well-formed application permission that is not registered: a reference to nothing.
    app.post(
        &format!("{base}/permissions/check"),
        &o.owner.token,
        json!({"permission": "app:never:registered"}),
    )
    .await
    .expect_error(409, "conflict");
    // A single check and a batch in one request, with a default subject for the batch.
    let both = app
        .post(
            &format!("{base}/permissions/check"),
            &o.member.token,
            json!({"permission": "members:write", "user_id": o.admin.id,
                   "checks": [{"permission": "members:write"},
                              {"permission": "members:write", "user_id": o.member.id}]}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(both["allowed"], true);
    assert_eq!(both["results"][0]["allowed"], true);
    assert_eq!(both["results"][0]["user_id"], json!(o.admin.id));
    assert_eq!(both["results"][1]["allowed"], false);
    // Application permissions: held through a role, by owners implicitly, not by others.
    app.post(
        &format!("{base}/permissions"),
        &o.owner.token,
        json!({"key": "app:invoices:read"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "accountant", "name": "Accountant", "permissions": ["app:invoices:read"]}),
    )
    .await
    .expect(201);
    let accountant = app.user("accountant-k").await;
    app.post(
        &format!("{base}/members"),
        &o.owner.token,
        json!({"user_id": accountant.id, "role": "accountant"}),
    )
    .await
    .expect(201);
    assert!(
        check(
            &app,
            &o.id,
            &accountant,
            json!({"permission": "app:invoices:read"})
        )
        .await
    );
    assert!(
        check(
            &app,
            &o.id,
            &o.owner,
            json!({"permission": "app:invoices:read"})
        )
        .await
    );
    assert!(
        !check(
            &app,
            &o.id,
            &o.admin,
            json!({"permission": "app:invoices:read"})
        )
        .await
    );
    // A role without members:read checks itself only.
    app.post(
        &format!("{base}/permissions/check"),
        &accountant.token,
        json!({"permission": "members:read", "user_id": o.owner.id}),
    )
    .await
    .expect_error(403, "forbidden");
    // The batch form answers in order.
    let batch = app
        .post(
            &format!("{base}/permissions/check"),
            &o.admin.token,
            json!({"checks": [
                {"permission": "members:write"},
                {"permission": "app:invoices:read", "user_id": accountant.id},
                {"permission": "members:write", "user_id": accountant.id},
                {"permission": "organization:delete", "user_id": o.owner.id},
                {"permission": "organization:read", "user_id": other.owner.id},
            ]}),
        )
        .await
        .expect(200)
        .clone();
    let results: Vec<bool> = batch["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(results, [true, true, false, true, false]);
    assert_eq!(batch["results"][1]["user_id"], json!(accountant.id));
    assert!(batch.get("allowed").is_none());
    // Effective permissions: an owner's include every registered application permission.
    let owner = app
        .get(
            &format!("{base}/members/{}/permissions", o.owner.id),
            &o.member.token,
        )
        .await
        .expect(200)
        .clone();
    assert!(names(&owner["permissions"]).contains(&"app:invoices:read".to_string()));
    assert!(names(&owner["permissions"]).contains(&"organization:delete".to_string()));
    app.get(
        &format!("{base}/members/{}/permissions", other.owner.id),
        &o.owner.token,
    )
    .await
    .expect_error(404, "not_found");
    // Another organization's member asking about this one gets the organization's 404.
    app.post(
        &format!("{base}/permissions/check"),
        &other.owner.token,
        json!({"permission": "members:read"}),
    )
    .await
    .expect_error(404, "not_found");
    // A deactivated member holds nothing.
    let root = app.superuser("root-k").await;
    app.patch(
        &format!("/users/{}", accountant.id),
        &root.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200);
    assert!(
        !check(
            &app,
            &o.id,
            &o.owner,
            json!({"permission": "app:invoices:read", "user_id": accountant.id})
        )
        .await
    );
}

/// Every change that takes a permission away is seen by the very next check on this node.
async fn a_check_follows_every_change_at_once(app: TestApp) {
    let o = org(&app, "f").await;
    let base = format!("/organizations/{}", o.id);
    let about = |user: &TestUser, p: &str| json!({"permission": p, "user_id": user.id});
    app.post(
        &format!("{base}/roles"),
        &o.owner.token,
        json!({"key": "editor", "name": "Editor", "permissions": ["projects:write", "members:read"]}),
    )
    .await
    .expect(201);
    for round in 0..5 {
        // Role change: member → editor → member.
        app.patch(
            &format!("{base}/members/{}", o.member.id),
            &o.owner.token,
            json!({"role": "editor"}),
        )
        .await
        .expect(200);
        assert!(
            check(
                &app,
                &o.id,
                &o.member,
                json!({"permission": "projects:write"})
            )
            .await,
            "{round}"
        );
        assert!(check(&app, &o.id, &o.owner, about(&o.member, "projects:write")).await);
        // The role itself loses the permission.
        app.patch(
            &format!("{base}/roles/editor"),
            &o.owner.token,
            json!({"permissions": ["members:read"]}),
        )
        .await
        .expect(200);
        assert!(
            !check(
                &app,
                &o.id,
                &o.member,
                json!({"permission": "projects:write"})
            )
            .await,
            "{round}"
        );
        assert!(!check(&app, &o.id, &o.owner, about(&o.member, "projects:write")).await);
        app.patch(
            &format!("{base}/roles/editor"),
            &o.owner.token,
            json!({"permissions": ["projects:write", "members:read"]}),
        )
        .await
        .expect(200);
        assert!(
            check(
                &app,
                &o.id,
                &o.member,
                json!({"permission": "projects:write"})
            )
            .await
        );
        app.patch(
            &format!("{base}/members/{}", o.member.id),
            &o.owner.token,
            json!({"role": "member"}),
        )
        .await
        .expect(200);
        assert!(
            !check(
                &app,
                &o.id,
                &o.member,
                json!({"permission": "projects:write"})
            )
            .await,
            "{round}"
        );
        assert!(!check(&app, &o.id, &o.owner, about(&o.member, "projects:write")).await);
        // Admin demoted: members:write goes at once.
        assert!(
            check(
                &app,
                &o.id,
                &o.admin,
                json!({"permission": "members:write"})
            )
            .await
        );
        app.patch(
            &format!("{base}/members/{}", o.admin.id),
            &o.owner.token,
            json!({"role": "member"}),
        )
        .await
        .expect(200);
        assert!(
            !check(&app, &o.id, &o.owner, about(&o.admin, "members:write")).await,
            "{round}"
        );
        assert!(
            !check(
                &app,
                &o.id,
                &o.admin,
                json!({"permission": "members:write"})
            )
            .await
        );
        app.patch(
            &format!("{base}/members/{}", o.admin.id),
            &o.owner.token,
            json!({"role": "admin"}),
        )
        .await
        .expect(200);
    }
    // Removal: the former member is a stranger at once.
    assert!(check(&app, &o.id, &o.owner, about(&o.member, "organization:read")).await);
    app.delete(&format!("{base}/members/{}", o.member.id), &o.owner.token)
        .await
        .expect(200);
    assert!(!check(&app, &o.id, &o.owner, about(&o.member, "organization:read")).await);
    app.post(
        &format!("{base}/permissions/check"),
        &o.member.token,
        json!({"permission": "organization:read"}),
    )
    .await
    .expect_error(404, "not_found");
}

/// Deleting a role (with a replacement) races assigning it: whatever the order, no membership
/// is left holding a role that no longer exists, and every request gets a clean answer.
async fn role_deletion_races_role_assignment(app: TestApp) {
    let o = org(&app, "x").await;
    let base = format!("/organizations/{}", o.id);
    let mut users = Vec::new();
    for i in 0..8 {
        let u = app.user(&format!("racer{i}")).await;
        app.add(&o.id, &o.owner, &u, "member").await;
        users.push(u);
    }
    for round in 0..8 {
        app.post(
            &format!("{base}/roles"),
            &o.owner.token,
            json!({"key": "temp", "name": "Temp", "permissions": ["members:read"]}),
        )
        .await
        .expect(201);
        let mut tasks = Vec::new();
        for (i, u) in users.iter().enumerate() {
            let (method, path, body) = if i % 4 == 3 {
                (
                    "DELETE",
                    format!("{base}/roles/temp?replacement=member"),
                    None,
                )
            } else {
                (
                    "PATCH",
                    format!("{base}/members/{}", u.id),
                    Some(json!({"role": "temp"})),
                )
            };
            tasks.push(tokio::spawn(send(
                app.router.clone(),
                method,
                path,
                o.owner.token.clone(),
                body,
            )));
        }
        for t in tasks {
            let (status, text) = t.await.unwrap();
            assert!(
                (200..300).contains(&status) || [400, 404, 409].contains(&status),
                "round {round}: {status} {text}"
            );
        }
        assert_eq!(
            app.count(
                "SELECT COUNT(*) FROM memberships WHERE role NOT IN ('owner', 'admin', 'member') \
                 AND role NOT IN (SELECT key FROM roles)"
            )
            .await,
            0,
            "round {round}"
        );
        // Clean up for the next round: the role goes, its holders become members.
        let r = app
            .delete(
                &format!("{base}/roles/temp?replacement=member"),
                &o.owner.token,
            )
            .await;
        assert!(r.status == 200 || r.status == 404, "{}", r.text);
    }
}

async fn send(
    router: axum::Router,
    method: &'static str,
    path: String,
    token: String,
    body: Option<Value>,
) -> (u16, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(b.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let res = router.oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

on_both_engines!(
    catalogue_lists_every_permission_with_the_built_in_roles_holding_it,
    custom_roles_are_defined_listed_changed_and_validated,
    no_escalation_through_custom_roles,
    a_role_in_use_is_deleted_only_with_a_replacement,
    the_check_answers_for_the_caller_members_and_strangers,
    a_check_follows_every_change_at_once,
    role_deletion_races_role_assignment,
);
