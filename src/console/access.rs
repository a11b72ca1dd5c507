//! Access control pages of an organization: its roles and the permission matrix, custom roles
//! and application permissions; its email domains and SSO providers.

use std::collections::HashSet;

use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::api::{query, seg};
use super::ui::{self, Retry, form_error, input, s, when};
use super::{Console, S, Submit};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/orgs/{org}/roles", get(roles).post(create_role))
        .route("/orgs/{org}/roles/{key}", get(role).post(update_role))
        .route("/orgs/{org}/roles/{key}/delete", post(delete_role))
        .route("/orgs/{org}/permissions", post(register_permission))
        .route("/orgs/{org}/permissions/delete", post(delete_permission))
        .route("/orgs/{org}/sso", get(sso))
        .route("/orgs/{org}/sso/domains", post(add_domain))
        .route("/orgs/{org}/sso/domains/verify", post(verify_domain))
        .route("/orgs/{org}/sso/domains/delete", post(delete_domain))
        .route("/orgs/{org}/sso/providers", post(create_provider))
        .route(
            "/orgs/{org}/sso/providers/{id}",
            get(provider).post(update_provider),
        )
        .route("/orgs/{org}/sso/providers/{id}/force", post(force_sso))
        .route(
            "/orgs/{org}/sso/providers/{id}/delete",
            post(delete_provider),
        )
}

// --- shared pieces -----------------------------------------------------------------------------

/// Whether the check box `name` of `form` is ticked: as sent when the form is shown again, else
/// `default`.
fn ticked(retry: Option<&Retry>, form: &str, name: &str, default: bool) -> bool {
    match retry.filter(|r| r.form == form) {
        Some(r) => r.fields.checked(name),
        None => default,
    }
}

/// The values of the check boxes `name` of `form`: as sent when the form is shown again, else
/// `default`.
fn picked(
    retry: Option<&Retry>,
    form: &str,
    name: &str,
    default: &HashSet<String>,
) -> HashSet<String> {
    match retry.filter(|r| r.form == form) {
        Some(r) => r.fields.all(name).into_iter().map(str::to_owned).collect(),
        None => default.clone(),
    }
}

/// A string array of JSON as a set.
fn strings(v: &Value) -> HashSet<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| s(x).to_owned()).collect())
        .unwrap_or_default()
}

/// A labelled check box with an explanation under it.
fn check(id: &str, name: &str, label: &str, on: bool, hint: &str) -> Markup {
    html! {
        div.field.check {
            input id=(id) name=(name) type="checkbox" checked[on]
                aria-describedby=[(!hint.is_empty()).then(|| format!("{id}-hint"))];
            label for=(id) { (label) }
        }
        @if !hint.is_empty() { p.hint.check-hint id={ (id) "-hint" } { (hint) } }
    }
}

fn yes_no(v: &Value) -> Markup {
    if v.as_bool() == Some(true) {
        html! { span.badge.ok { "yes" } }
    } else {
        html! { span.badge { "no" } }
    }
}

/// A role's name from the organization's roles, else its key.
fn role_name(roles: &[Value], key: &str) -> String {
    roles
        .iter()
        .find(|r| s(&r["key"]) == key)
        .map(|r| s(&r["name"]).to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| key.to_owned())
}

// --- roles and permissions ---------------------------------------------------------------------

async fn roles(c: Console, Path(org): Path<String>) -> Response {
    roles_page(&c, &org, None).await
}

/// Whether `role` grants `perm` (the built-in roles' grants are in the permission's
/// `built_in_roles`: the owner holds every application permission without listing them).
fn grants(role: &Value, perm: &Value) -> bool {
    let key = s(&perm["key"]);
    role["permissions"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| s(p) == key))
        || (role["built_in"].as_bool() == Some(true)
            && perm["built_in_roles"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| s(r) == s(&role["key"]))))
}

/// The permission check boxes of a role form.
fn permission_checks(
    retry: Option<&Retry>,
    form: &str,
    perms: &[Value],
    chosen: &HashSet<String>,
) -> Markup {
    let chosen = picked(retry, form, "permissions", chosen);
    html! {
        fieldset.perms {
            legend { "Permissions" }
            p.hint { "You can grant only permissions you hold yourself. Every role can read the organization (organization:read)." }
            div.checks {
                @for (i, p) in perms.iter().enumerate() {
                    @let id = format!("{form}-perm-{i}");
                    @let key = s(&p["key"]);
                    label for=(id) title=(s(&p["description"])) {
                        input id=(id) type="checkbox" name="permissions" value=(key) checked[chosen.contains(key)];
                        span { code { (key) } }
                    }
                }
            }
        }
    }
}

async fn roles_page(c: &Console, org: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let roles = or_fail!(c, c.api.list(&format!("{}/roles", ctx.api())).await).0;
    let perms = or_fail!(c, c.api.list(&format!("{}/permissions", ctx.api())).await).0;
    let b = ctx.base();
    let can_roles = ctx.can("roles:write");
    let can_perms = ctx.can("permissions:write");
    let own: Vec<&Value> = perms
        .iter()
        .filter(|p| s(&p["source"]) == "organization")
        .collect();
    let default_perms: HashSet<String> = ["organization:read".to_owned()].into();
    ui::page(
        c,
        ui::status_of(retry),
        "Roles and permissions",
        &ctx.nav("/roles"),
        html! {
            (ui::stray_error(retry, &[
                "delete-permission",
                if can_roles { "create-role" } else { "" },
                if can_perms { "register-permission" } else { "" },
            ]))
            section {
                h2 #roles-heading { "Roles" }
                p.hint { "Every member holds one role; a role grants permissions. The built-in roles cannot be changed; custom roles can." }
                div.table-wrap {
                    table #roles aria-labelledby="roles-heading" {
                        thead { tr { th { "Name" } th { "Key" } th { "Kind" } th { "Members" } th { "Pending invitations" } th { "Description" } } }
                        tbody {
                            @for r in &roles {
                                @let key = s(&r["key"]);
                                tr data-role=(key) {
                                    td { a href={ (b) "/roles/" (seg(key)) } { (s(&r["name"])) } }
                                    td { code { (key) } }
                                    td { @if r["built_in"].as_bool() == Some(true) { span.badge { "built in" } } @else { span.badge.ok { "custom" } } }
                                    td { (ui::num(&r["member_count"])) }
                                    td { (ui::num(&r["pending_invitation_count"])) }
                                    td { (s(&r["description"])) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 #matrix-heading { "Permission matrix" }
                p.hint { "Which role grants which permission. The owner role also holds every application permission." }
                div.table-wrap {
                    table #permission-matrix.matrix aria-labelledby="matrix-heading" {
                        thead {
                            tr {
                                th scope="col" { "Permission" }
                                @for r in &roles { th scope="col" { (s(&r["name"])) } }
                            }
                        }
                        tbody {
                            @for p in &perms {
                                tr data-permission=(s(&p["key"])) {
                                    th scope="row" {
                                        code { (s(&p["key"])) }
                                        @if s(&p["source"]) != "catalogue" { " " span.badge { (s(&p["source"])) } }
                                        @if let Some(d) = p["description"].as_str().filter(|d| !d.is_empty()) { br; small { (d) } }
                                    }
                                    @for r in &roles {
                                        @if grants(r, p) {
                                            td.granted { span aria-hidden="true" { "✓" } span.sr { "granted" } }
                                        } @else {
                                            td.denied { span aria-hidden="true" { "—" } span.sr { "not granted" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if can_roles {
                section #create-role {
                    h2 { "Create a custom role" }
                    (form_error(retry, "create-role"))
                    (ui::form(c, &format!("{b}/roles"), "create-role", html! {
                        (input(retry, "create-role", "key", "Key", "text", "", true, "A lowercase letter, then lowercase letters, digits, _ or -; it cannot change later."))
                        (input(retry, "create-role", "name", "Name", "text", "", true, ""))
                        (ui::textarea(retry, "create-role", "description", "Description", ""))
                        (permission_checks(retry, "create-role", &perms, &default_perms))
                        div.actions { button type="submit" { "Create role" } }
                    }))
                }
            }
            section #app-permissions {
                h2 { "Application permissions" }
                p.hint { "Permissions your own applications check (app:…). Registered here, they can be granted by custom roles; the owner role holds them all." }
                (form_error(retry, "delete-permission"))
                @if own.is_empty() {
                    (ui::empty(if can_perms { "This organization has registered no application permission. Register one below." } else { "This organization has registered no application permission." }))
                } @else {
                    div.table-wrap {
                        table #custom-permissions {
                            thead { tr { th { "Permission" } th { "Description" } th { "Registered" } @if can_perms { th { span.sr { "Actions" } } } } }
                            tbody {
                                @for p in &own {
                                    tr data-permission=(s(&p["key"])) {
                                        td { code { (s(&p["key"])) } }
                                        td { (s(&p["description"])) }
                                        td { (when(&p["created_at"])) }
                                        @if can_perms {
                                            td {
                                                (ui::action_button(c, &format!("{b}/permissions/delete"), "Delete", "small danger", &[("key", s(&p["key"])), ("_form", "delete-permission")]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if can_perms {
                    h3 { "Register a permission" }
                    (form_error(retry, "register-permission"))
                    (ui::form(c, &format!("{b}/permissions"), "register-permission", html! {
                        (input(retry, "register-permission", "key", "Key", "text", "", true, "app: then up to 8 parts of lowercase letters, digits, _ or -, separated by colons, e.g. app:invoices:read."))
                        (ui::textarea(retry, "register-permission", "description", "Description", ""))
                        div.actions { button type="submit" { "Register permission" } }
                    }))
                }
            }
        },
    )
}

/// The permissions checked in a role form, as the API takes them.
fn chosen_permissions(f: &super::Fields) -> Vec<&str> {
    f.all("permissions")
}

async fn create_role(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({
        "key": f.get("key"),
        "name": f.get("name"),
        "description": f.opt("description"),
        "permissions": chosen_permissions(&f),
    });
    match c
        .api
        .post(&format!("/organizations/{}/roles", seg(&org)), body)
        .await
    {
        Ok(r) => c.done(
            &format!("/console/orgs/{}/roles", seg(&org)),
            &format!("The role {} was created.", s(&r["name"])),
        ),
        Err(failure) => roles_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn register_permission(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({"key": f.get("key"), "description": f.opt("description")});
    match c
        .api
        .post(&format!("/organizations/{}/permissions", seg(&org)), body)
        .await
    {
        Ok(p) => c.done(
            &format!("/console/orgs/{}/roles", seg(&org)),
            &format!("The permission {} was registered.", s(&p["key"])),
        ),
        Err(failure) => roles_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_permission(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let key = f.get("key").to_owned();
    if !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        return ui::confirm(
            &c,
            &ctx.nav("/roles"),
            "Delete permission",
            &[
                format!("The permission {key} is no longer registered in {}.", ctx.name()),
                "Applications that check it get an error (it is not registered) instead of an answer.".to_owned(),
                "It cannot be deleted while a role grants it: take it out of those roles first.".to_owned(),
            ],
            &format!("{}/permissions/delete", ctx.base()),
            &f,
            &format!("{}/roles", ctx.base()),
        );
    }
    match c
        .api
        .delete(&format!(
            "/organizations/{}/permissions/{}",
            seg(&org),
            seg(&key)
        ))
        .await
    {
        Ok(_) => c.done(
            &format!("/console/orgs/{}/roles", seg(&org)),
            &format!("The permission {key} was deleted."),
        ),
        Err(failure) => roles_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

// --- one role ----------------------------------------------------------------------------------

async fn role(c: Console, Path((org, key)): Path<(String, String)>) -> Response {
    role_page(&c, &org, &key, None).await
}

async fn role_page(c: &Console, org: &str, key: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let r = or_fail!(
        c,
        c.api
            .get(&format!("{}/roles/{}", ctx.api(), seg(key)))
            .await
    );
    let perms = or_fail!(c, c.api.list(&format!("{}/permissions", ctx.api())).await).0;
    let roles = ctx.roles(c).await;
    let b = ctx.base();
    let here = format!("{b}/roles/{}", seg(key));
    let built_in = r["built_in"].as_bool() == Some(true);
    let editable = !built_in && ctx.can("roles:write");
    let members = r["member_count"].as_u64().unwrap_or(0);
    let pending = r["pending_invitation_count"].as_u64().unwrap_or(0);
    let replacements: Vec<(String, String)> = ui::role_options(&roles, false)
        .into_iter()
        .filter(|(k, _)| k != key)
        .collect();
    let held: Vec<&Value> = perms.iter().filter(|p| grants(&r, p)).collect();
    ui::page(
        c,
        ui::status_of(retry),
        &format!("Role: {}", s(&r["name"])),
        &ctx.nav("/roles"),
        html! {
            (ui::stray_error(retry, if editable { &["edit-role", "delete-role"] } else { &[] }))
            p { a href={ (b) "/roles" } { "← All roles" } }
            dl.facts {
                dt { "Key" } dd { code { (s(&r["key"])) } }
                dt { "Kind" } dd { @if built_in { "Built in (cannot be changed)" } @else { "Custom" } }
                dt { "Members" } dd { (members) }
                dt { "Pending invitations" } dd { (pending) }
                @if !built_in {
                    dt { "Created" } dd { (when(&r["created_at"])) }
                    dt { "Changed" } dd { (when(&r["updated_at"])) }
                }
            }
            @if editable {
                section #edit-role {
                    h2 { "Edit the role" }
                    p.hint { "Members holding the role hold the new permissions as soon as you save." }
                    (form_error(retry, "edit-role"))
                    (ui::form(c, &here, "edit-role", html! {
                        (input(retry, "edit-role", "name", "Name", "text", s(&r["name"]), true, ""))
                        (ui::textarea(retry, "edit-role", "description", "Description", s(&r["description"])))
                        (permission_checks(retry, "edit-role", &perms, &strings(&r["permissions"])))
                        div.actions { button type="submit" { "Save role" } }
                    }))
                }
                section.danger-zone #delete-role {
                    h2 { "Delete the role" }
                    (form_error(retry, "delete-role"))
                    (ui::form(c, &format!("{here}/delete"), "delete-role", html! {
                        @if members + pending > 0 {
                            p { (members) " members and " (pending) " pending invitations hold this role: choose the role they get instead." }
                            (ui::select(retry, "delete-role", "replacement", "Move them to", &replacements, "member"))
                        } @else {
                            p { "No member or pending invitation holds this role." }
                        }
                        div.actions { button.danger type="submit" { "Delete role…" } }
                    }))
                }
            } @else {
                section {
                    h2 { "Permissions" }
                    @if s(&r["description"]).is_empty() {} @else { p { (s(&r["description"])) } }
                    @if held.is_empty() {
                        (ui::empty("This role grants no permission."))
                    } @else {
                        ul #role-permissions {
                            @for p in &held {
                                li { code { (s(&p["key"])) } @if let Some(d) = p["description"].as_str() { " — " (d) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

async fn update_role(
    Path((org, key)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let body = json!({
        "name": f.get("name"),
        "description": f.opt("description"),
        "permissions": chosen_permissions(&f),
    });
    match c
        .api
        .patch(
            &format!("/organizations/{}/roles/{}", seg(&org), seg(&key)),
            body,
        )
        .await
    {
        Ok(r) => c.done(
            &format!("/console/orgs/{}/roles/{}", seg(&org), seg(&key)),
            &format!("The role {} was saved.", s(&r["name"])),
        ),
        Err(failure) => role_page(&c, &org, &key, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_role(
    Path((org, key)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let replacement = f.get("replacement").to_owned();
    if !f.confirmed() {
        let r = match c
            .api
            .get(&format!("{}/roles/{}", ctx.api(), seg(&key)))
            .await
        {
            Ok(r) => r,
            Err(failure) => {
                return role_page(&c, &org, &key, Some(&Retry::new(f, failure))).await;
            }
        };
        let members = r["member_count"].as_u64().unwrap_or(0);
        let pending = r["pending_invitation_count"].as_u64().unwrap_or(0);
        let mut lines = vec![format!(
            "The role {} ({key}) is deleted for good.",
            s(&r["name"])
        )];
        if members + pending > 0 {
            let roles = ctx.roles(&c).await;
            lines.push(format!(
                "{members} members and {pending} pending invitations move to {}.",
                role_name(&roles, &replacement)
            ));
        } else {
            lines.push("No member or pending invitation holds it.".to_owned());
        }
        return ui::confirm(
            &c,
            &ctx.nav("/roles"),
            "Delete role",
            &lines,
            &format!("{}/roles/{}/delete", ctx.base(), seg(&key)),
            &f,
            &format!("{}/roles/{}", ctx.base(), seg(&key)),
        );
    }
    let replacement_name = role_name(&ctx.roles(&c).await, &replacement);
    match c
        .api
        .delete(&format!(
            "{}/roles/{}{}",
            ctx.api(),
            seg(&key),
            query(&[("replacement", &replacement)])
        ))
        .await
    {
        Ok(done) => {
            let moved = done["members_moved"].as_u64().unwrap_or(0);
            let notice = if moved > 0 {
                format!("The role {key} was deleted; {moved} members moved to {replacement_name}.")
            } else {
                format!("The role {key} was deleted.")
            };
            c.done(&format!("{}/roles", ctx.base()), &notice)
        }
        Err(failure) => role_page(&c, &org, &key, Some(&Retry::new(f, failure))).await,
    }
}

// --- SSO and domains ---------------------------------------------------------------------------

const FORCE_HINT: &str = "Members whose email is in the provider's domains must sign in through it: \
    their password sessions, and tokens made from them, are refused in this organization. \
    Owners are exempt and keep their password (break glass), so nobody is locked out.";

const JIT_HINT: &str = "People of these domains who sign in through the provider for the first \
    time join the organization with the default role.";

async fn sso(c: Console, Path(org): Path<String>) -> Response {
    sso_page(&c, &org, None).await
}

/// The domain check boxes and role, scope and switch fields of a provider form.
#[allow(clippy::too_many_arguments)]
fn provider_fields(
    retry: Option<&Retry>,
    form: &str,
    domains: &[String],
    chosen: &HashSet<String>,
    roles: &[(String, String)],
    default_role: &str,
    scopes: &str,
    jit: bool,
) -> Markup {
    let chosen = picked(retry, form, "domains", chosen);
    html! {
        (input(retry, form, "scopes", "Scopes", "text", scopes, false, "Space separated; must include openid. Leave blank for openid email profile."))
        fieldset.perms {
            legend { "Domains" }
            @if domains.is_empty() {
                p.hint { "No verified domain yet: verify a domain above, then let this provider sign its people in." }
            } @else {
                p.hint { "The verified domains whose people this provider signs in (sign-in by email, force SSO and automatic membership follow them)." }
                div.checks {
                    @for (i, d) in domains.iter().enumerate() {
                        @let id = format!("{form}-domain-{i}");
                        label for=(id) {
                            input id=(id) type="checkbox" name="domains" value=(d) checked[chosen.contains(d)];
                            span { (d) }
                        }
                    }
                }
            }
        }
        (ui::select(retry, form, "default_role", "Default role", roles, default_role))
        (check(&format!("{form}-jit_provisioning"), "jit_provisioning", "Just-in-time membership", ticked(retry, form, "jit_provisioning", jit), JIT_HINT))
    }
}

/// The client secret field: never filled in, not even after a failed attempt.
fn secret_field(form: &str, required: bool, hint: &str) -> Markup {
    let id = format!("{form}-client_secret");
    html! {
        div.field {
            label for=(id) { "Client secret" }
            input id=(id) name="client_secret" type="password" autocomplete="new-password" required[required];
            @if !hint.is_empty() { small { (hint) } }
        }
    }
}

/// The scopes typed in a provider form, as the API takes them (`None`: left blank).
fn scopes_of(f: &super::Fields) -> Option<Vec<&str>> {
    let scopes: Vec<&str> = f.get("scopes").split_whitespace().collect();
    Some(scopes).filter(|s| !s.is_empty())
}

async fn sso_page(c: &Console, org: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let domains = or_fail!(c, c.api.list(&format!("{}/domains", ctx.api())).await).0;
    let providers = or_fail!(c, c.api.list(&format!("{}/sso-providers", ctx.api())).await).0;
    let roles = ctx.roles(c).await;
    let role_choices = ui::role_options(&roles, false);
    let verified: Vec<String> = domains
        .iter()
        .filter(|d| d["verified"].as_bool() == Some(true))
        .map(|d| s(&d["domain"]).to_owned())
        .collect();
    let b = ctx.base();
    let redirect_uri = providers
        .first()
        .map(|p| s(&p["redirect_uri"]).to_owned())
        .unwrap_or_else(|| format!("{}/auth/sso/callback", c.shared.state.config.public_url));
    // The domain whose verification failed, to show its proof next to the API's explanation.
    let failed_domain = retry
        .filter(|r| r.form == "verify-domain" && r.failure.status == 409)
        .and_then(|r| domains.iter().find(|d| s(&d["id"]) == r.fields.get("id")));
    ui::page(
        c,
        ui::status_of(retry),
        "SSO and domains",
        &ctx.nav("/sso"),
        html! {
            (ui::stray_error(retry, &["verify-domain", "delete-domain", "add-domain", "create-provider"]))
            p { "People with an email in a verified domain can sign in through the organization's identity provider (OpenID Connect)." }
            section #domains-section {
                h2 { "Domains" }
                p.hint { "Claim a domain, prove it is yours by serving a text file on it, then verify it." }
                (form_error(retry, "verify-domain"))
                @if let Some(d) = failed_domain {
                    div.notice.warn role="status" {
                        p { "To verify " strong { (s(&d["domain"])) } ", serve this text:" }
                        p { code { (s(&d["verification"]["token"])) } }
                        p { "at " code { (s(&d["verification"]["url"])) } ", then press Verify again." }
                    }
                }
                (form_error(retry, "delete-domain"))
                @if domains.is_empty() {
                    (ui::empty("No domain yet. Add your organization's email domain below, e.g. acme.com."))
                } @else {
                    div.table-wrap {
                        table #domains {
                            thead { tr { th { "Domain" } th { "Verified" } th { "Verified at" } th { "Proof" } th { span.sr { "Actions" } } } }
                            tbody {
                                @for d in &domains {
                                    @let id = s(&d["id"]);
                                    @let name = s(&d["domain"]);
                                    @let ok = d["verified"].as_bool() == Some(true);
                                    tr data-domain=(name) {
                                        td { (name) }
                                        td { (yes_no(&d["verified"])) }
                                        td { (when(&d["verified_at"])) }
                                        td {
                                            @if ok {
                                                @if let Some(by) = d["verified_by"].as_str() { small { "by " (if by == "http" { "its file" } else { by }) } }
                                            } @else {
                                                small { "Serve " code { (s(&d["verification"]["token"])) } " at " code { (s(&d["verification"]["url"])) } }
                                            }
                                        }
                                        td.actions {
                                            @if !ok {
                                                (ui::action_button(c, &format!("{b}/sso/domains/verify"), "Verify", "small", &[("id", id), ("domain", name), ("_form", "verify-domain")]))
                                                @if c.is_superuser() {
                                                    (ui::action_button(c, &format!("{b}/sso/domains/verify"), "Verify without checking", "small secondary", &[("id", id), ("domain", name), ("skip_check", "true"), ("_form", "verify-domain")]))
                                                }
                                            }
                                            (ui::action_button(c, &format!("{b}/sso/domains/delete"), "Delete", "small danger", &[("id", id), ("domain", name), ("_form", "delete-domain")]))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "Add a domain" }
                (form_error(retry, "add-domain"))
                (ui::form(c, &format!("{b}/sso/domains"), "add-domain", html! {
                    (input(retry, "add-domain", "domain", "Domain", "text", "", true, "An email domain, e.g. acme.com."))
                    div.actions { button type="submit" { "Add domain" } }
                }))
            }
            section #providers-section {
                h2 { "Identity providers" }
                @if providers.is_empty() {
                    (ui::empty("No identity provider yet. Connect one below."))
                } @else {
                    div.table-wrap {
                        table #sso-providers {
                            thead { tr { th { "Name" } th { "Issuer" } th { "Domains" } th { "Default role" } th { "Force SSO" } th { "Just-in-time" } th { "Redirect URI (register at the provider)" } } }
                            tbody {
                                @for p in &providers {
                                    tr data-provider=(s(&p["id"])) {
                                        td { a href={ (b) "/sso/providers/" (seg(s(&p["id"]))) } { (s(&p["name"])) } }
                                        td { code { (s(&p["issuer"])) } }
                                        td {
                                            @let ds: Vec<&str> = p["domains"].as_array().map(|a| a.iter().map(s).collect()).unwrap_or_default();
                                            @if ds.is_empty() { "—" } @else { (ds.join(", ")) }
                                        }
                                        td { (role_name(&roles, s(&p["default_role"]))) }
                                        td { (yes_no(&p["force_sso"])) }
                                        td { (yes_no(&p["jit_provisioning"])) }
                                        td { code { (s(&p["redirect_uri"])) } }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "Connect a provider" }
                p.hint { "Register this redirect URI with the provider first: " code { (redirect_uri) } }
                (form_error(retry, "create-provider"))
                (ui::form(c, &format!("{b}/sso/providers"), "create-provider", html! {
                    (input(retry, "create-provider", "name", "Name", "text", "", true, "Shown to people when they sign in, e.g. Acme Okta."))
                    (input(retry, "create-provider", "issuer", "Issuer URL", "url", "", true, "Its discovery document ({issuer}/.well-known/openid-configuration) is fetched when you save."))
                    (input(retry, "create-provider", "client_id", "Client ID", "text", "", true, ""))
                    (secret_field("create-provider", true, "Stored sealed; never shown again."))
                    (provider_fields(retry, "create-provider", &verified, &HashSet::new(), &role_choices, "member", "", true))
                    (check("create-provider-force_sso", "force_sso", "Force SSO", ticked(retry, "create-provider", "force_sso", false), FORCE_HINT))
                    div.actions { button type="submit" { "Connect provider" } }
                }))
            }
        },
    )
}

async fn add_domain(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    match c
        .api
        .post(
            &format!("/organizations/{}/domains", seg(&org)),
            json!({"domain": f.get("domain")}),
        )
        .await
    {
        Ok(d) => c.done(
            &format!("/console/orgs/{}/sso", seg(&org)),
            &format!(
                "{} was added. To verify it, serve the text {} at {}, then press Verify.",
                s(&d["domain"]),
                s(&d["verification"]["token"]),
                s(&d["verification"]["url"])
            ),
        ),
        Err(failure) => sso_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn verify_domain(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = if f.get("skip_check") == "true" {
        json!({"skip_check": true})
    } else {
        json!({})
    };
    match c
        .api
        .post(
            &format!(
                "/organizations/{}/domains/{}/verify",
                seg(&org),
                seg(f.get("id"))
            ),
            body,
        )
        .await
    {
        Ok(d) => c.done(
            &format!("/console/orgs/{}/sso", seg(&org)),
            &format!("{} is verified.", s(&d["domain"])),
        ),
        Err(failure) => sso_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_domain(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let domain = f.get("domain").to_owned();
    if !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        return ui::confirm(
            &c,
            &ctx.nav("/sso"),
            "Delete domain",
            &[
                format!("{} no longer claims {domain}; its verification is lost.", ctx.name()),
                "To use it again, add it again and prove it with a new token.".to_owned(),
                "A domain a provider still signs people in for cannot be deleted: take it out of the provider first.".to_owned(),
            ],
            &format!("{}/sso/domains/delete", ctx.base()),
            &f,
            &format!("{}/sso", ctx.base()),
        );
    }
    match c
        .api
        .delete(&format!(
            "/organizations/{}/domains/{}",
            seg(&org),
            seg(f.get("id"))
        ))
        .await
    {
        Ok(_) => c.done(
            &format!("/console/orgs/{}/sso", seg(&org)),
            &format!("{domain} was deleted."),
        ),
        Err(failure) => sso_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

async fn create_provider(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let mut body = json!({
        "name": f.get("name"),
        "issuer": f.get("issuer"),
        "client_id": f.get("client_id"),
        "client_secret": f.get("client_secret"),
        "domains": f.all("domains"),
        "force_sso": f.checked("force_sso"),
        "jit_provisioning": f.checked("jit_provisioning"),
    });
    if let Some(scopes) = scopes_of(&f) {
        body["scopes"] = json!(scopes);
    }
    if let Some(role) = f.opt("default_role") {
        body["default_role"] = json!(role);
    }
    match c
        .api
        .post(&format!("/organizations/{}/sso-providers", seg(&org)), body)
        .await
    {
        Ok(p) => c.done(
            &format!(
                "/console/orgs/{}/sso/providers/{}",
                seg(&org),
                seg(s(&p["id"]))
            ),
            &format!(
                "{} was connected. Register the redirect URI {} with the provider.",
                s(&p["name"]),
                s(&p["redirect_uri"])
            ),
        ),
        Err(failure) => sso_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

// --- one provider ------------------------------------------------------------------------------

async fn provider(c: Console, Path((org, id)): Path<(String, String)>) -> Response {
    provider_page(&c, &org, &id, None).await
}

async fn provider_page(c: &Console, org: &str, id: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let p = or_fail!(
        c,
        c.api
            .get(&format!("{}/sso-providers/{}", ctx.api(), seg(id)))
            .await
    );
    let domains = or_fail!(c, c.api.list(&format!("{}/domains", ctx.api())).await).0;
    let roles = ctx.roles(c).await;
    let current = strings(&p["domains"]);
    // The verified domains, and any the provider lists that are not among them.
    let mut choices: Vec<String> = domains
        .iter()
        .filter(|d| d["verified"].as_bool() == Some(true))
        .map(|d| s(&d["domain"]).to_owned())
        .collect();
    let mut extra: Vec<String> = current
        .iter()
        .filter(|d| !choices.contains(d))
        .cloned()
        .collect();
    extra.sort();
    choices.extend(extra);
    let mut role_choices = ui::role_options(&roles, false);
    let default_role = s(&p["default_role"]);
    if !role_choices.iter().any(|(k, _)| k == default_role) {
        role_choices.insert(0, (default_role.to_owned(), default_role.to_owned()));
    }
    let scopes: Vec<&str> = p["scopes"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let b = ctx.base();
    let here = format!("{b}/sso/providers/{}", seg(id));
    let forced = p["force_sso"].as_bool() == Some(true);
    let name = s(&p["name"]);
    let domain_list = if current.is_empty() {
        "no domain yet".to_owned()
    } else {
        let mut ds: Vec<&String> = current.iter().collect();
        ds.sort();
        ds.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
    };
    ui::page(
        c,
        ui::status_of(retry),
        &format!("SSO provider: {name}"),
        &ctx.nav("/sso"),
        html! {
            (ui::stray_error(retry, &["force-sso", "edit-provider", "delete-provider"]))
            p { a href={ (b) "/sso" } { "← SSO and domains" } }
            dl.facts {
                dt { "Redirect URI" } dd { code #redirect-uri { (s(&p["redirect_uri"])) } " " button.small.secondary type="submit" data-copy="#redirect-uri" { "Copy" } }
                dt { "Issuer" } dd { code { (s(&p["issuer"])) } }
                dt { "Client ID" } dd { code { (s(&p["client_id"])) } }
                dt { "Domains" } dd { (domain_list) }
                dt { "Force SSO" } dd { @if forced { "on" } @else { "off" } }
                dt { "Created" } dd { (when(&p["created_at"])) }
                dt { "Changed" } dd { (when(&p["updated_at"])) }
            }
            section #force-sso {
                h2 { "Force SSO" }
                p { (FORCE_HINT) }
                p { "It is " strong { @if forced { "on" } @else { "off" } } " for " (domain_list) "." }
                (form_error(retry, "force-sso"))
                @if forced {
                    (ui::action_button(c, &format!("{here}/force"), "Turn off force SSO", "secondary", &[("force_sso", "false"), ("_form", "force-sso")]))
                } @else {
                    (ui::action_button(c, &format!("{here}/force"), "Turn on force SSO", "", &[("force_sso", "true"), ("_form", "force-sso")]))
                }
            }
            section #edit-provider {
                h2 { "Edit the provider" }
                (form_error(retry, "edit-provider"))
                (ui::form(c, &here, "edit-provider", html! {
                    (input(retry, "edit-provider", "name", "Name", "text", name, true, ""))
                    (input(retry, "edit-provider", "issuer", "Issuer URL", "url", s(&p["issuer"]), true, "Changing it fetches the new discovery document when you save."))
                    (input(retry, "edit-provider", "client_id", "Client ID", "text", s(&p["client_id"]), true, ""))
                    (secret_field("edit-provider", false, "Leave blank to keep the current secret."))
                    (provider_fields(retry, "edit-provider", &choices, &current, &role_choices, default_role, &scopes.join(" "), p["jit_provisioning"].as_bool() == Some(true)))
                    div.actions { button type="submit" { "Save provider" } }
                }))
            }
            section.danger-zone #delete-provider {
                h2 { "Delete the provider" }
                (form_error(retry, "delete-provider"))
                (ui::form(c, &format!("{here}/delete"), "delete-provider", html! {
                    p { "Nobody signs in through " (name) " any more, and the sessions that came through it end." }
                    div.actions { button.danger type="submit" { "Delete provider…" } }
                }))
            }
        },
    )
}

async fn update_provider(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let mut body = json!({
        "name": f.get("name"),
        "issuer": f.get("issuer"),
        "client_id": f.get("client_id"),
        "domains": f.all("domains"),
        "jit_provisioning": f.checked("jit_provisioning"),
    });
    // The secret is not trimmed, and left unchanged when blank.
    if let Some((_, secret)) =
        f.0.iter()
            .find(|(k, v)| k == "client_secret" && !v.is_empty())
    {
        body["client_secret"] = json!(secret);
    }
    if let Some(scopes) = scopes_of(&f) {
        body["scopes"] = json!(scopes);
    }
    if let Some(role) = f.opt("default_role") {
        body["default_role"] = json!(role);
    }
    match c
        .api
        .patch(
            &format!("/organizations/{}/sso-providers/{}", seg(&org), seg(&id)),
            body,
        )
        .await
    {
        Ok(p) => c.done(
            &format!("/console/orgs/{}/sso/providers/{}", seg(&org), seg(&id)),
            &format!("{} was saved.", s(&p["name"])),
        ),
        Err(failure) => provider_page(&c, &org, &id, Some(&Retry::new(f, failure))).await,
    }
}

async fn force_sso(Path((org, id)): Path<(String, String)>, Submit { c, f }: Submit) -> Response {
    let on = f.get("force_sso") == "true";
    if on && !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        let p = match c
            .api
            .get(&format!("{}/sso-providers/{}", ctx.api(), seg(&id)))
            .await
        {
            Ok(p) => p,
            Err(failure) => {
                return provider_page(&c, &org, &id, Some(&Retry::new(f, failure))).await;
            }
        };
        let mut ds: Vec<String> = strings(&p["domains"]).into_iter().collect();
        ds.sort();
        let who = if ds.is_empty() {
            "Members of the provider's domains (it has none yet)".to_owned()
        } else {
            format!("Members with an email at {}", ds.join(", "))
        };
        return ui::confirm(
            &c,
            &ctx.nav("/sso"),
            "Turn on force SSO",
            &[
                format!(
                    "{who} must sign in through {}: their password sessions, and tokens made from them, are refused in {} at once.",
                    s(&p["name"]),
                    ctx.name()
                ),
                "Owners are exempt and keep their password (break glass).".to_owned(),
                "Turning it off again restores password sign-in at once.".to_owned(),
            ],
            &format!("{}/sso/providers/{}/force", ctx.base(), seg(&id)),
            &f,
            &format!("{}/sso/providers/{}", ctx.base(), seg(&id)),
        );
    }
    match c
        .api
        .patch(
            &format!("/organizations/{}/sso-providers/{}", seg(&org), seg(&id)),
            json!({"force_sso": on}),
        )
        .await
    {
        Ok(p) => c.done(
            &format!("/console/orgs/{}/sso/providers/{}", seg(&org), seg(&id)),
            &if on {
                format!(
                    "Force SSO is on: members of its domains sign in through {}.",
                    s(&p["name"])
                )
            } else {
                "Force SSO is off: members of its domains may sign in with a password again."
                    .to_owned()
            },
        ),
        Err(failure) => provider_page(&c, &org, &id, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_provider(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let p = match c
        .api
        .get(&format!("{}/sso-providers/{}", ctx.api(), seg(&id)))
        .await
    {
        Ok(p) => p,
        Err(failure) => return c.failed(failure),
    };
    let name = s(&p["name"]).to_owned();
    if !f.confirmed() {
        let mut lines = vec![
            format!("Nobody can sign in through {name} any more."),
            format!("Sessions that came through {name}, and tokens made from them, end at once."),
        ];
        if p["force_sso"].as_bool() == Some(true) {
            lines.push(
                "Its force SSO rule ends with it: password sign-in works again for members of its domains."
                    .to_owned(),
            );
        }
        lines.push("The domains stay claimed and verified.".to_owned());
        return ui::confirm(
            &c,
            &ctx.nav("/sso"),
            "Delete provider",
            &lines,
            &format!("{}/sso/providers/{}/delete", ctx.base(), seg(&id)),
            &f,
            &format!("{}/sso/providers/{}", ctx.base(), seg(&id)),
        );
    }
    match c
        .api
        .delete(&format!("{}/sso-providers/{}", ctx.api(), seg(&id)))
        .await
    {
        Ok(_) => c.done(
            &format!("{}/sso", ctx.base()),
            &format!("{name} was deleted; the sessions that came through it ended."),
        ),
        Err(failure) => provider_page(&c, &org, &id, Some(&Retry::new(f, failure))).await,
    }
}
