//! An organization's pages: its context (what the caller may do there), settings, members and
//! invitations. The other sections live in their own modules and use [`OrgCtx`].

use std::collections::HashSet;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::seg;
use super::ui::{self, Nav, Retry, form_error, input, s, when};
use super::{Console, S, Submit};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/orgs/{org}", get(overview))
        .route("/orgs/{org}/settings", post(update_settings))
        .route("/orgs/{org}/transfer", post(transfer))
        .route("/orgs/{org}/delete", post(delete_org))
        .route("/orgs/{org}/leave", post(leave))
        .route("/orgs/{org}/members", get(members).post(invite))
        .route("/orgs/{org}/members/role", post(change_role))
        .route("/orgs/{org}/members/remove", post(remove_member))
        .route("/orgs/{org}/invitations", get(invitations))
        .route("/orgs/{org}/invitations/resend", post(resend))
        .route("/orgs/{org}/invitations/revoke", post(revoke))
}

/// An organization as the signed-in user sees it: the organization, their role, and the
/// permissions their role holds there (which decide what the pages offer; the API decides what
/// is allowed).
pub struct OrgCtx {
    pub id: String,
    pub org: Value,
    pub role: String,
    pub perms: HashSet<String>,
    pub superuser: bool,
}

impl OrgCtx {
    pub async fn load(c: &Console, org: &str) -> Result<OrgCtx, Response> {
        // One after the other: under load, reading both at once was slower (W10, 9% on SQLite
        // and 22% on PostgreSQL; bench/results/console-small-concurrent-reads.md).
        let o = c
            .api
            .get(&format!("/organizations/{}", seg(org)))
            .await
            .map_err(|f| c.failed(f))?;
        let id = s(&o["id"]).to_owned();
        let mine = c
            .api
            .get(&format!(
                "/organizations/{}/members/{}/permissions",
                seg(&id),
                seg(c.my_id())
            ))
            .await;
        let (role, perms) = match mine {
            Ok(p) => (
                s(&p["role"]).to_owned(),
                p["permissions"]
                    .as_array()
                    .map(|ps| ps.iter().map(|p| s(p).to_owned()).collect())
                    .unwrap_or_default(),
            ),
            // A superuser who is not a member: every permission, through the API's own rule.
            Err(_) if c.is_superuser() => (
                String::new(),
                crate::authz::Permission::all()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
            ),
            Err(f) => return Err(c.failed(f)),
        };
        Ok(OrgCtx {
            id,
            org: o,
            role,
            perms,
            superuser: c.is_superuser(),
        })
    }

    pub fn can(&self, permission: &str) -> bool {
        self.superuser || self.perms.contains(permission)
    }

    /// Owner-only actions: granting ownership, licenses, deleting the organization.
    pub fn is_owner(&self) -> bool {
        self.superuser || self.role == "owner"
    }

    pub fn is_primary_owner(&self, c: &Console) -> bool {
        self.superuser || s(&self.org["owner"]["id"]) == c.my_id()
    }

    pub fn name(&self) -> &str {
        s(&self.org["name"])
    }

    /// `/console/orgs/{id}`
    pub fn base(&self) -> String {
        format!("/console/orgs/{}", seg(&self.id))
    }

    /// `/organizations/{id}` of the API.
    pub fn api(&self) -> String {
        format!("/organizations/{}", seg(&self.id))
    }

    /// The organization's sections the caller may open.
    pub fn nav(&self, active: &str) -> Nav {
        let b = self.base();
        let mut links = vec![(b.clone(), "Overview")];
        let sections: [(&str, &'static str, &str); 10] = [
            ("/members", "Members", "members:read"),
            ("/invitations", "Invitations", "invitations:read"),
            ("/projects", "Projects and applications", "projects:read"),
            (
                "/service-accounts",
                "Service accounts",
                "service_accounts:read",
            ),
            ("/roles", "Roles and permissions", "roles:read"),
            ("/sso", "SSO and domains", "organization:update"),
            ("/license", "License and usage", "organization:read"),
            ("/deployments", "Deployments", "organization:update"),
            ("/audit-log", "Audit log", "organization:update"),
            ("/webhooks", "Webhooks", "organization:update"),
        ];
        for (path, label, need) in sections {
            if self.can(need) {
                links.push((format!("{b}{path}"), label));
            }
        }
        let reason = self.org["status_reason"]
            .as_str()
            .map(|r| format!(" Reason: {r}."))
            .unwrap_or_default();
        let banner = match s(&self.org["status"]) {
            "suspended" => Some(format!(
                "This organization is suspended by the operator: it can be read but not changed.{reason}"
            )),
            "banned" => Some(format!("This organization is banned by the operator.{reason}")),
            _ if self.org["active"].as_bool() == Some(false) => Some(
                "This organization is deactivated: an owner can reactivate it; until then it can be read but not changed."
                    .to_owned(),
            ),
            _ => None,
        };
        Nav {
            heading: self.name().to_owned(),
            links,
            active: format!("{b}{active}"),
            banner,
        }
    }

    /// The organization's roles (built in and custom), for role pickers.
    pub async fn roles(&self, c: &Console) -> Vec<Value> {
        c.api
            .list(&format!("{}/roles", self.api()))
            .await
            .map(|r| r.0)
            .unwrap_or_else(|_| {
                ["owner", "admin", "member"]
                    .iter()
                    .map(|k| json!({"key": k, "name": k}))
                    .collect()
            })
    }
}

// --- overview and settings ---------------------------------------------------------------------

async fn overview(c: Console, Path(org): Path<String>) -> Response {
    overview_page(&c, &org, None).await
}

async fn overview_page(c: &Console, org: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let o = &ctx.org;
    let b = ctx.base();
    let candidates: Vec<(String, String)> = if ctx.is_primary_owner(c) && ctx.can("members:read") {
        c.api
            .list(&format!("{}/members?limit=200", ctx.api()))
            .await
            .map(|r| r.0)
            .unwrap_or_default()
            .iter()
            .filter(|m| s(&m["user_id"]) != s(&o["owner"]["id"]))
            .map(|m| {
                (
                    s(&m["user_id"]).to_owned(),
                    format!(
                        "{} ({}, {})",
                        ui::display_name(m),
                        s(&m["email"]),
                        s(&m["role"])
                    ),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    ui::page(
        c,
        ui::status_of(retry),
        ctx.name(),
        &ctx.nav(""),
        html! {
            dl.facts {
                dt { "Slug" } dd { code { (s(&o["slug"])) } }
                dt { "Your role" } dd { @if ctx.role.is_empty() { "Operator (not a member)" } @else { (ctx.role) } }
                dt { "Primary owner" } dd { (s(&o["owner"]["email"])) }
                dt { "Status" } dd {
                    (s(&o["status"]))
                    @if let Some(r) = o["status_reason"].as_str() { " — " (r) }
                    @if o["active"].as_bool() == Some(false) { " (deactivated)" }
                }
                dt { "Plan" } dd { (s(&o["plan"])) }
                dt { "Members" } dd { (ui::num(&o["member_count"])) " (" (ui::num(&o["pending_member_count"])) " invited)" }
                dt { "Projects" } dd { (ui::num(&o["project_count"])) }
                dt { "Applications" } dd { (ui::num(&o["application_count"])) }
                dt { "Created" } dd { (when(&o["created_at"])) }
            }
            @if ctx.can("organization:update") {
                section {
                    h2 { "Settings" }
                    (form_error(retry, "settings"))
                    (ui::form(c, &format!("{b}/settings"), "settings", html! {
                        (input(retry, "settings", "name", "Name", "text", s(&o["name"]), true, ""))
                        (input(retry, "settings", "slug", "Slug", "text", s(&o["slug"]), true, "Letters, digits and hyphens; part of addresses that name the organization."))
                        div.field {
                            label for="settings-description" { "Description" }
                            textarea #settings-description name="description" rows="3" { (ui::value_or(retry, "settings", "description", s(&o["description"]))) }
                        }
                        (input(retry, "settings", "logo_url", "Logo URL", "url", s(&o["logo_url"]), false, ""))
                        div.actions { button type="submit" { "Save settings" } }
                    }))
                }
            }
            @if ctx.is_primary_owner(c) && !candidates.is_empty() {
                section #transfer {
                    h2 { "Transfer ownership" }
                    p { "Make another member the primary owner. You can confirm on the next page." }
                    (form_error(retry, "transfer"))
                    (ui::form(c, &format!("{b}/transfer"), "transfer", html! {
                        (ui::select(retry, "transfer", "owner_id", "New primary owner", &candidates, ""))
                        div.actions { button.danger type="submit" { "Transfer ownership…" } }
                    }))
                }
            }
            section.danger-zone {
                h2 { "Leave or delete" }
                (form_error(retry, "leave"))
                @if !ctx.role.is_empty() {
                    (ui::form(c, &format!("{b}/leave"), "leave", html! {
                        p { "Leave this organization: you lose access to it." }
                        button.danger type="submit" { "Leave organization…" }
                    }))
                }
                @if ctx.can("organization:delete") {
                    (form_error(retry, "delete"))
                    (ui::form(c, &format!("{b}/delete"), "delete", html! {
                        p { "Delete the organization with everything in it." }
                        button.danger type="submit" { "Delete organization…" }
                    }))
                }
            }
        },
    )
}

async fn update_settings(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({
        "name": f.get("name"),
        "slug": f.get("slug"),
        "description": f.opt("description"),
        "logo_url": f.opt("logo_url"),
    });
    match c
        .api
        .patch(&format!("/organizations/{}", seg(&org)), body)
        .await
    {
        Ok(o) => c.done(
            &format!("/console/orgs/{}", seg(s(&o["id"]))),
            "The settings were saved.",
        ),
        Err(failure) => overview_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn transfer(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let to = f.get("owner_id").to_owned();
    if !f.confirmed() {
        let who = c
            .api
            .get(&format!("{}/members/{}", ctx.api(), seg(&to)))
            .await
            .map(|m| format!("{} ({})", ui::display_name(&m), s(&m["email"])))
            .unwrap_or_else(|_| to.clone());
        return ui::confirm(
            &c,
            &ctx.nav(""),
            "Transfer ownership",
            &[
                format!("{who} becomes the primary owner of {}, with the owner role.", ctx.name()),
                "Only the primary owner (or an operator) can transfer ownership again: after this, that is no longer you.".to_owned(),
                "You keep your current role; another owner can change it.".to_owned(),
                "The organization's limits and plan follow the new primary owner's account.".to_owned(),
            ],
            &format!("{}/transfer", ctx.base()),
            &f,
            &ctx.base(),
        );
    }
    match c.api.patch(&ctx.api(), json!({"owner_id": to})).await {
        Ok(_) => c.done(&ctx.base(), "Ownership was transferred."),
        Err(failure) => overview_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_org(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    if !f.confirmed() {
        return ui::confirm(
            &c,
            &ctx.nav(""),
            &format!("Delete {}", ctx.name()),
            &[
                format!("{} and its {} members' access to it are gone for good.", ctx.name(), ui::num(&ctx.org["member_count"])),
                "Its projects, applications, service accounts and their tokens, roles, invitations, SSO providers and webhooks are deleted.".to_owned(),
                "This cannot be undone.".to_owned(),
            ],
            &format!("{}/delete", ctx.base()),
            &f,
            &ctx.base(),
        );
    }
    match c.api.delete(&ctx.api()).await {
        Ok(_) => c.done("/console", &format!("{} was deleted.", ctx.name())),
        Err(failure) => overview_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn leave(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    if !f.confirmed() {
        return ui::confirm(
            &c,
            &ctx.nav(""),
            &format!("Leave {}", ctx.name()),
            &[
                "You lose access to the organization and its projects at once.".to_owned(),
                "To come back, someone has to invite you again.".to_owned(),
            ],
            &format!("{}/leave", ctx.base()),
            &f,
            &ctx.base(),
        );
    }
    match c.api.post(&format!("{}/leave", ctx.api()), json!({})).await {
        Ok(_) => c.done("/console", &format!("You left {}.", ctx.name())),
        Err(failure) => overview_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

// --- members -----------------------------------------------------------------------------------

use super::ui::PAGE;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub offset: u64,
}

async fn members(c: Console, Path(org): Path<String>, Query(q): Query<ListQuery>) -> Response {
    members_page(&c, &org, &q, None).await
}

async fn members_page(c: &Console, org: &str, q: &ListQuery, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let path = ui::paged(
        &format!("{}/members", ctx.api()),
        &[("q", &q.q), ("role", &q.role)],
        q.offset,
    );
    let (items, _) = or_fail!(c, c.api.list(&path).await);
    let roles = ctx.roles(c).await;
    let b = ctx.base();
    let can_write = ctx.can("members:write");
    // Owner is granted only by owners; the API refuses it to anyone else as well.
    let grantable = ui::role_options(&roles, ctx.is_owner());
    let mut filter_roles = vec![(String::new(), "Any role".to_owned())];
    filter_roles.extend(ui::role_options(&roles, true));
    let total = if q.q.is_empty() && q.role.is_empty() {
        ctx.org["member_count"].as_u64()
    } else {
        None
    };
    ui::page(
        c,
        ui::status_of(retry),
        "Members",
        &ctx.nav("/members"),
        html! {
            form.filters method="get" action={ (b) "/members" } role="search" {
                div.field {
                    label for="q" { "Search" }
                    input #q name="q" type="search" value=(q.q) placeholder="Name, username or email";
                }
                div.field {
                    label for="role" { "Role" }
                    select #role name="role" {
                        @for (v, t) in &filter_roles { option value=(v) selected[*v == q.role] { (t) } }
                    }
                }
                div.actions { button.secondary type="submit" { "Filter" } }
            }
            (form_error(retry, "role"))
            (form_error(retry, "remove"))
            @if items.is_empty() {
                (ui::empty(if q.q.is_empty() && q.role.is_empty() { "No members." } else { "No member matches." }))
            } @else {
                div.table-wrap {
                    table #members {
                        thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Joined" } @if can_write { th { span.sr { "Actions" } } } } }
                        tbody {
                            @for m in &items {
                                (member_row(c, &ctx, m, &grantable, can_write))
                            }
                        }
                    }
                }
            }
            (ui::pager(&format!("{b}/members"), &[("q", &q.q), ("role", &q.role)], q.offset, PAGE, items.len(), total))
            @if ctx.can("invitations:write") {
                section #invite {
                    h2 { "Invite someone" }
                    (form_error(retry, "invite"))
                    (ui::form(c, &format!("{b}/members"), "invite", html! {
                        (input(retry, "invite", "email", "Email", "email", "", true, ""))
                        (ui::select(retry, "invite", "role", "Role", &grantable, "member"))
                        div.actions { button type="submit" { "Send invitation" } }
                    }))
                }
            }
        },
    )
}

fn member_row(
    c: &Console,
    ctx: &OrgCtx,
    m: &Value,
    grantable: &[(String, String)],
    can_write: bool,
) -> Markup {
    let b = ctx.base();
    let user = s(&m["user_id"]);
    let role = s(&m["role"]);
    let is_primary = user == s(&ctx.org["owner"]["id"]);
    // Only owners change an owner's role; the API says so too.
    let may_change = can_write && (role != "owner" || ctx.is_owner());
    html! {
        tr data-user=(user) {
            td { (ui::display_name(m)) @if is_primary { " " span.badge { "primary owner" } } }
            td { (s(&m["email"])) }
            td.role {
                @if may_change {
                    form.inline method="post" action={ (b) "/members/role" } {
                        input type="hidden" name="_csrf" value=(c.csrf);
                        input type="hidden" name="_form" value="role";
                        input type="hidden" name="user_id" value=(user);
                        label.sr for={ "role-" (user) } { "Role of " (s(&m["email"])) }
                        select id={ "role-" (user) } name="role" {
                            @if !grantable.iter().any(|(k, _)| k == role) { option value=(role) selected { (role) } }
                            @for (k, t) in grantable { option value=(k) selected[k == role] { (t) } }
                        }
                        button.small.secondary type="submit" { "Change role" }
                    }
                } @else {
                    (role)
                }
            }
            td { (when(&m["joined_at"])) }
            @if can_write {
                td {
                    @if may_change && !is_primary {
                        (ui::action_button(c, &format!("{b}/members/remove"), "Remove", "danger small", &[("user_id", user), ("email", s(&m["email"])), ("_form", "remove")]))
                    }
                }
            }
        }
    }
}

async fn invite(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({"email": f.get("email"), "role": f.get("role")});
    match c
        .api
        .post(&format!("/organizations/{}/invitations", seg(&org)), body)
        .await
    {
        // Without a mail server the API hands the link to the inviter, this once.
        Ok(inv) if inv["accept_url"].is_string() => {
            let ctx = ctx_or_return!(&c, &org);
            ui::page(
                &c,
                StatusCode::CREATED,
                "Invitation created",
                &ctx.nav("/members"),
                html! {
                    div.notice.warn role="status" {
                        p { "No mail server is configured, so no email was sent. Send this link to " strong { (s(&inv["email"])) } " yourself. It is shown only now and works once." }
                    }
                    div.secret {
                        code #secret { (s(&inv["accept_url"])) }
                        button type="submit" data-copy="#secret" { "Copy" }
                    }
                    p { a.button href={ (ctx.base()) "/invitations" } { "Done" } }
                },
            )
        }
        Ok(inv) => c.done(
            &format!("/console/orgs/{}/invitations", seg(&org)),
            &format!("An invitation was sent to {}.", s(&inv["email"])),
        ),
        Err(failure) => {
            members_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn change_role(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let user = f.get("user_id").to_owned();
    match c
        .api
        .patch(
            &format!("/organizations/{}/members/{}", seg(&org), seg(&user)),
            json!({"role": f.get("role")}),
        )
        .await
    {
        Ok(m) => c.done(
            &format!("/console/orgs/{}/members", seg(&org)),
            &format!("{} is now {}.", s(&m["email"]), s(&m["role"])),
        ),
        Err(failure) => {
            members_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn remove_member(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let user = f.get("user_id").to_owned();
    if !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        return ui::confirm(
            &c,
            &ctx.nav("/members"),
            "Remove member",
            &[
                format!(
                    "{} loses access to {} and its projects at once.",
                    f.get("email"),
                    ctx.name()
                ),
                "Their tokens scoped to this organization are revoked.".to_owned(),
                "To come back, they need a new invitation.".to_owned(),
            ],
            &format!("{}/members/remove", ctx.base()),
            &f,
            &format!("{}/members", ctx.base()),
        );
    }
    match c
        .api
        .delete(&format!(
            "/organizations/{}/members/{}",
            seg(&org),
            seg(&user)
        ))
        .await
    {
        Ok(_) => c.done(
            &format!("/console/orgs/{}/members", seg(&org)),
            &format!("{} was removed.", f.get("email")),
        ),
        Err(failure) => {
            members_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

// --- invitations -------------------------------------------------------------------------------

async fn invitations(c: Console, Path(org): Path<String>, Query(q): Query<ListQuery>) -> Response {
    invitations_page(&c, &org, q.offset, None).await
}

async fn invitations_page(c: &Console, org: &str, offset: u64, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let (items, _) = or_fail!(
        c,
        c.api
            .list(&ui::paged(
                &format!("{}/invitations", ctx.api()),
                &[],
                offset
            ))
            .await
    );
    let b = ctx.base();
    let can_write = ctx.can("invitations:write");
    ui::page(
        c,
        ui::status_of(retry),
        "Invitations",
        &ctx.nav("/invitations"),
        html! {
            (form_error(retry, "invitation"))
            @if items.is_empty() {
                (ui::empty("No pending invitations. Invite people from the Members page."))
            } @else {
                div.table-wrap {
                    table #invitations {
                        thead { tr { th { "Email" } th { "Role" } th { "Invited by" } th { "Status" } th { "Delivery" } th { "Expires" } @if can_write { th { span.sr { "Actions" } } } } }
                        tbody {
                            @for i in &items {
                                tr {
                                    td { (s(&i["email"])) }
                                    td { (s(&i["role"])) }
                                    td { (s(&i["inviter"]["email"])) }
                                    td { (s(&i["status"])) }
                                    td { (s(&i["delivery"])) @if let Some(e) = i["delivery_error"].as_str() { br; small { (e) } } }
                                    td { (when(&i["expires_at"])) }
                                    @if can_write {
                                        td.actions {
                                            @if s(&i["status"]) == "pending" {
                                                (ui::action_button(c, &format!("{b}/invitations/resend"), "Resend", "small secondary", &[("id", s(&i["id"])), ("_form", "invitation")]))
                                                (ui::action_button(c, &format!("{b}/invitations/revoke"), "Revoke", "small danger", &[("id", s(&i["id"])), ("email", s(&i["email"])), ("_form", "invitation")]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (ui::pager(&format!("{b}/invitations"), &[], offset, PAGE, items.len(), None))
        },
    )
}

async fn resend(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    match c
        .api
        .post(
            &format!(
                "/organizations/{}/invitations/{}/resend",
                seg(&org),
                seg(f.get("id"))
            ),
            json!({}),
        )
        .await
    {
        Ok(inv) => c.done(
            &format!("/console/orgs/{}/invitations", seg(&org)),
            &format!(
                "The invitation to {} was sent again, with a new link.",
                s(&inv["email"])
            ),
        ),
        Err(failure) => invitations_page(&c, &org, 0, Some(&Retry::new(f, failure))).await,
    }
}

async fn revoke(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    if !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        return ui::confirm(
            &c,
            &ctx.nav("/invitations"),
            "Revoke invitation",
            &[format!(
                "The link sent to {} stops working.",
                f.get("email")
            )],
            &format!("{}/invitations/revoke", ctx.base()),
            &f,
            &format!("{}/invitations", ctx.base()),
        );
    }
    match c
        .api
        .delete(&format!(
            "/organizations/{}/invitations/{}",
            seg(&org),
            seg(f.get("id"))
        ))
        .await
    {
        Ok(_) => c.done(
            &format!("/console/orgs/{}/invitations", seg(&org)),
            &format!("The invitation to {} was revoked.", f.get("email")),
        ),
        Err(failure) => invitations_page(&c, &org, 0, Some(&Retry::new(f, failure))).await,
    }
}
