//! An organization's projects (with their members), applications and service accounts (with
//! their tokens).

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Failure, query, seg};
use super::org::OrgCtx;
use super::ui::{self, Retry, form_error, input, s, when};
use super::{Console, S, Submit};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/orgs/{org}/projects", get(projects).post(create_project))
        .route("/orgs/{org}/projects/{id}", get(project))
        .route("/orgs/{org}/projects/{id}/edit", post(update_project))
        .route("/orgs/{org}/projects/{id}/delete", post(delete_project))
        .route(
            "/orgs/{org}/projects/{id}/members",
            post(add_project_member),
        )
        .route(
            "/orgs/{org}/projects/{id}/members/role",
            post(change_project_role),
        )
        .route(
            "/orgs/{org}/projects/{id}/members/remove",
            post(remove_project_member),
        )
        .route("/orgs/{org}/applications", post(create_application))
        .route("/orgs/{org}/applications/{id}", get(application))
        .route(
            "/orgs/{org}/applications/{id}/edit",
            post(update_application),
        )
        .route(
            "/orgs/{org}/applications/{id}/delete",
            post(delete_application),
        )
        .route(
            "/orgs/{org}/service-accounts",
            get(service_accounts).post(create_service_account),
        )
        .route("/orgs/{org}/service-accounts/{user}", get(service_account))
        .route(
            "/orgs/{org}/service-accounts/{user}/tokens",
            post(create_sa_token),
        )
        .route(
            "/orgs/{org}/service-accounts/{user}/tokens/revoke",
            post(revoke_sa_token),
        )
        .route(
            "/orgs/{org}/service-accounts/{user}/delete",
            post(delete_service_account),
        )
}

use super::ui::PAGE;
/// The most items fetched at once for pickers and names (the API's own maximum is 1000).
const ALL: &str = "1000";

/// The roles a project member can have.
const PROJECT_ROLES: [(&str, &str); 3] = [
    ("viewer", "Viewer"),
    ("editor", "Editor"),
    ("admin", "Admin"),
];

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    app_offset: u64,
}

fn project_role_options() -> Vec<(String, String)> {
    PROJECT_ROLES
        .iter()
        .map(|(k, t)| ((*k).to_owned(), (*t).to_owned()))
        .collect()
}

/// Previous/next links of a second paged list on one page, under its own query parameter.
fn pager_by(
    path: &str,
    key: &str,
    keep: &[(&str, &str)],
    offset: u64,
    shown: usize,
    total: Option<u64>,
) -> Markup {
    let at = |o: u64| {
        let o = o.to_string();
        let mut p: Vec<(&str, &str)> = keep.to_vec();
        p.push((key, &o));
        format!("{path}{}", query(&p))
    };
    let has_next = match total {
        Some(t) => offset + (shown as u64) < t,
        None => shown as u64 >= PAGE,
    };
    html! {
        nav.pager aria-label="Pages" {
            @if offset > 0 { a href=(at(offset.saturating_sub(PAGE))) rel="prev" { "← Previous" } }
            span {
                @if shown == 0 { "Nothing here" }
                @else { "Showing " (offset + 1) "–" (offset + shown as u64) @if let Some(t) = total { " of " (t) } }
            }
            @if has_next { a href=(at(offset + PAGE)) rel="next" { "Next →" } }
        }
    }
}

/// "" for 0, so that a first page adds nothing to an address.
fn nonzero(n: u64) -> String {
    if n == 0 { String::new() } else { n.to_string() }
}

// --- projects and applications -----------------------------------------------------------------

async fn projects(c: Console, Path(org): Path<String>, Query(q): Query<ListQuery>) -> Response {
    projects_page(&c, &org, &q, None).await
}

async fn projects_page(c: &Console, org: &str, q: &ListQuery, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let (items, _) = or_fail!(
        c,
        c.api
            .list(&ui::paged(
                &format!("{}/projects", ctx.api()),
                &[],
                q.offset
            ))
            .await
    );
    // Every project, for the applications' project names and the project pickers.
    let all_projects = c
        .api
        .list(&format!(
            "{}/projects{}",
            ctx.api(),
            query(&[("limit", ALL)])
        ))
        .await
        .map(|r| r.0)
        .unwrap_or_default();
    let apps = c
        .api
        .list(&ui::paged(
            &format!("{}/applications", ctx.api()),
            &[],
            q.app_offset,
        ))
        .await
        .map(|r| r.0);
    let b = ctx.base();
    let can_projects = ctx.can("projects:write");
    let can_apps = ctx.can("applications:write");
    let names: HashMap<&str, &str> = all_projects
        .iter()
        .map(|p| (s(&p["id"]), s(&p["name"])))
        .collect();
    let mut project_options = vec![(String::new(), "No project".to_owned())];
    project_options.extend(
        all_projects
            .iter()
            .map(|p| (s(&p["id"]).to_owned(), s(&p["name"]).to_owned())),
    );
    let app_offset_kept = nonzero(q.app_offset);
    let mut shown = vec!["project-delete", "application-delete"];
    if can_projects {
        shown.push("project");
    }
    if can_apps {
        shown.push("application");
    }
    let offset_kept = nonzero(q.offset);
    ui::page(
        c,
        ui::status_of(retry),
        "Projects and applications",
        &ctx.nav("/projects"),
        html! {
            (ui::stray_error(retry, &shown))
            section #projects-section {
                h2 { "Projects" }
                (form_error(retry, "project-delete"))
                @if items.is_empty() {
                    (ui::empty(if q.offset > 0 { "No more projects." } else if can_projects { "No projects yet. Create one below to group applications and give people access to them." } else { "No projects yet." }))
                } @else {
                    div.table-wrap {
                        table #projects {
                            thead { tr { th { "Name" } th { "Slug" } th { "Description" } th { "Created" } @if can_projects { th { span.sr { "Actions" } } } } }
                            tbody {
                                @for p in &items {
                                    @let id = s(&p["id"]);
                                    @let href = format!("{b}/projects/{}", seg(id));
                                    tr data-project=(id) {
                                        td { a href=(href) { (s(&p["name"])) } }
                                        td { code { (s(&p["slug"])) } }
                                        td { (s(&p["description"])) }
                                        td { (when(&p["created_at"])) }
                                        @if can_projects {
                                            td.actions {
                                                a.button.small.secondary href={ (href) "#edit" } { "Edit" }
                                                (ui::action_button(c, &format!("{href}/delete"), "Delete", "danger small", &[("_form", "project-delete")]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !items.is_empty() || q.offset > 0 {
                    (ui::pager(&format!("{b}/projects"), &[("app_offset", &app_offset_kept)], q.offset, PAGE, items.len(), ctx.org["project_count"].as_u64()))
                }
                @if can_projects {
                    section #create-project {
                        h3 { "Create a project" }
                        (form_error(retry, "project"))
                        (ui::form(c, &format!("{b}/projects"), "project", html! {
                            (input(retry, "project", "name", "Name", "text", "", true, ""))
                            (input(retry, "project", "slug", "Slug", "text", "", false, "Optional: letters, digits and hyphens. Made from the name when empty."))
                            (ui::textarea(retry, "project", "description", "Description", ""))
                            div.actions { button type="submit" { "Create project" } }
                        }))
                    }
                }
            }
            section #applications-section {
                h2 { "Applications" }
                (form_error(retry, "application-delete"))
                @match &apps {
                    Err(f) => { (ui::failure_box(f)) }
                    Ok(apps) => {
                        @if apps.is_empty() {
                            (ui::empty(if q.app_offset > 0 { "No more applications." } else if can_apps { "No applications yet. Register one below, in a project or on its own." } else { "No applications yet." }))
                        } @else {
                            div.table-wrap {
                                table #applications {
                                    thead { tr { th { "Name" } th { "Project" } th { "Description" } th { "Created" } @if can_apps { th { span.sr { "Actions" } } } } }
                                    tbody {
                                        @for a in apps {
                                            @let id = s(&a["id"]);
                                            @let href = format!("{b}/applications/{}", seg(id));
                                            tr data-application=(id) {
                                                td { a href=(href) { (s(&a["name"])) } }
                                                td {
                                                    @if let Some(p) = a["project_id"].as_str() {
                                                        a href={ (b) "/projects/" (seg(p)) } { (names.get(p).copied().unwrap_or(p)) }
                                                    } @else { "—" }
                                                }
                                                td { (s(&a["description"])) }
                                                td { (when(&a["created_at"])) }
                                                @if can_apps {
                                                    td.actions {
                                                        a.button.small.secondary href={ (href) "#edit" } { "Edit" }
                                                        (ui::action_button(c, &format!("{href}/delete"), "Delete", "danger small", &[("_form", "application-delete")]))
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if !apps.is_empty() || q.app_offset > 0 {
                            (pager_by(&format!("{b}/projects"), "app_offset", &[("offset", &offset_kept)], q.app_offset, apps.len(), ctx.org["application_count"].as_u64()))
                        }
                    }
                }
                @if can_apps {
                    section #create-application {
                        h3 { "Create an application" }
                        (form_error(retry, "application"))
                        (ui::form(c, &format!("{b}/applications"), "application", html! {
                            (input(retry, "application", "name", "Name", "text", "", true, ""))
                            (ui::select(retry, "application", "project_id", "Project", &project_options, ""))
                            (ui::textarea(retry, "application", "description", "Description", ""))
                            div.actions { button type="submit" { "Create application" } }
                        }))
                    }
                }
            }
        },
    )
}

async fn create_project(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({
        "name": f.get("name"),
        "slug": f.opt("slug"),
        "description": f.opt("description"),
    });
    match c
        .api
        .post(&format!("/organizations/{}/projects", seg(&org)), body)
        .await
    {
        Ok(p) => c.done(
            &format!("/console/orgs/{}/projects/{}", seg(&org), seg(s(&p["id"]))),
            &format!("The project {} was created.", s(&p["name"])),
        ),
        Err(failure) => {
            projects_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    offset: u64,
}

async fn project(
    c: Console,
    Path((org, id)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Response {
    project_page(&c, &org, &id, q.offset, None).await
}

async fn project_page(
    c: &Console,
    org: &str,
    id: &str,
    offset: u64,
    retry: Option<&Retry>,
) -> Response {
    let ctx = ctx_or_return!(c, org);
    let api = format!("{}/projects/{}", ctx.api(), seg(id));
    let p = or_fail!(c, c.api.get(&api).await);
    let (members, _) = or_fail!(
        c,
        c.api
            .list(&ui::paged(&format!("{api}/members"), &[], offset))
            .await
    );
    // Every member of the project: who is in it already, and whether the caller is its admin.
    let everyone = c
        .api
        .list(&format!("{api}/members{}", query(&[("limit", ALL)])))
        .await
        .map(|r| r.0)
        .unwrap_or_default();
    let in_project: HashSet<&str> = everyone.iter().map(|m| s(&m["user_id"])).collect();
    let project_admin = everyone
        .iter()
        .any(|m| s(&m["user_id"]) == c.my_id() && s(&m["role"]) == "admin");
    // Project admins manage the project's members too; the API decides.
    let can_members = ctx.can("projects:write") || project_admin;
    let can_edit = ctx.can("projects:write");
    let candidates: Option<Vec<(String, String)>> = if can_members {
        c.api
            .list(&format!(
                "{}/members{}",
                ctx.api(),
                query(&[("limit", ALL)])
            ))
            .await
            .ok()
            .map(|(ms, _)| {
                ms.iter()
                    .filter(|m| !in_project.contains(s(&m["user_id"])))
                    .map(|m| {
                        (
                            s(&m["user_id"]).to_owned(),
                            format!("{} ({})", ui::display_name(m), s(&m["email"])),
                        )
                    })
                    .collect()
            })
    } else {
        None
    };
    let apps: Vec<Value> = c
        .api
        .list(&format!(
            "{}/applications{}",
            ctx.api(),
            query(&[("limit", ALL)])
        ))
        .await
        .map(|r| r.0)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| s(&a["project_id"]) == s(&p["id"]))
        .collect();
    let b = ctx.base();
    let here = format!("{b}/projects/{}", seg(s(&p["id"])));
    let roles = project_role_options();
    let mut shown = vec!["project-member-role", "project-member-remove"];
    if can_members {
        shown.push("project-member");
    }
    if can_edit {
        shown.extend(["project-edit", "project-delete"]);
    }
    ui::page(
        c,
        ui::status_of(retry),
        &format!("Project {}", s(&p["name"])),
        &ctx.nav("/projects"),
        html! {
            p { a href={ (b) "/projects" } { "← All projects and applications" } }
            (ui::stray_error(retry, &shown))
            dl.facts {
                dt { "Name" } dd { (s(&p["name"])) }
                dt { "Slug" } dd { code { (s(&p["slug"])) } }
                dt { "Description" } dd { @if let Some(d) = p["description"].as_str().filter(|d| !d.is_empty()) { (d) } @else { "—" } }
                dt { "Created" } dd { (when(&p["created_at"])) }
                dt { "Updated" } dd { (when(&p["updated_at"])) }
                dt { "Applications" } dd {
                    @if apps.is_empty() { "None" }
                    @for (i, a) in apps.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ (b) "/applications/" (seg(s(&a["id"]))) } { (s(&a["name"])) }
                    }
                }
            }
            section #project-members-section {
                h2 { "Project members" }
                (form_error(retry, "project-member-role"))
                (form_error(retry, "project-member-remove"))
                @if members.is_empty() {
                    (ui::empty(if offset > 0 { "No more project members." } else if can_members { "Nobody is a member of this project yet. Add members of the organization below." } else { "Nobody is a member of this project yet." }))
                } @else {
                    div.table-wrap {
                        table #project-members {
                            thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Added" } @if can_members { th { span.sr { "Actions" } } } } }
                            tbody {
                                @for m in &members {
                                    @let user = s(&m["user_id"]);
                                    tr data-user=(user) {
                                        td { (ui::display_name(m)) }
                                        td { (s(&m["email"])) }
                                        td.role {
                                            @if can_members {
                                                form.inline method="post" action={ (here) "/members/role" } {
                                                    input type="hidden" name="_csrf" value=(c.csrf);
                                                    input type="hidden" name="_form" value="project-member-role";
                                                    input type="hidden" name="user_id" value=(user);
                                                    label.sr for={ "project-role-" (user) } { "Project role of " (s(&m["email"])) }
                                                    select id={ "project-role-" (user) } name="role" {
                                                        @for (k, t) in &roles { option value=(k) selected[k == s(&m["role"])] { (t) } }
                                                    }
                                                    button.small.secondary type="submit" { "Change role" }
                                                }
                                            } @else {
                                                (s(&m["role"]))
                                            }
                                        }
                                        td { (when(&m["added_at"])) }
                                        @if can_members {
                                            td.actions {
                                                (ui::action_button(c, &format!("{here}/members/remove"), "Remove", "danger small", &[("user_id", user), ("_form", "project-member-remove")]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !members.is_empty() || offset > 0 {
                    (ui::pager(&here, &[], offset, PAGE, members.len(), None))
                }
                @if can_members {
                    section #add-project-member {
                        h3 { "Add a member" }
                        (form_error(retry, "project-member"))
                        @match &candidates {
                            Some(list) if list.is_empty() => {
                                (ui::empty("Every member of the organization is in this project already. Invite people to the organization first."))
                            }
                            Some(list) => {
                                (ui::form(c, &format!("{here}/members"), "project-member", html! {
                                    (ui::select(retry, "project-member", "user_id", "Organization member", list, ""))
                                    (ui::select(retry, "project-member", "role", "Project role", &roles, "viewer"))
                                    div.actions { button type="submit" { "Add to project" } }
                                }))
                            }
                            None => {
                                (ui::form(c, &format!("{here}/members"), "project-member", html! {
                                    (input(retry, "project-member", "user_id", "User id of an organization member", "text", "", true, "You cannot list the organization's members, so give the member's user id."))
                                    (ui::select(retry, "project-member", "role", "Project role", &roles, "viewer"))
                                    div.actions { button type="submit" { "Add to project" } }
                                }))
                            }
                        }
                    }
                }
            }
            @if can_edit {
                section #edit {
                    h2 { "Edit project" }
                    (form_error(retry, "project-edit"))
                    (ui::form(c, &format!("{here}/edit"), "project-edit", html! {
                        (input(retry, "project-edit", "name", "Name", "text", s(&p["name"]), true, ""))
                        (input(retry, "project-edit", "slug", "Slug", "text", s(&p["slug"]), true, "Letters, digits and hyphens; unique in the organization."))
                        (ui::textarea(retry, "project-edit", "description", "Description", s(&p["description"])))
                        div.actions { button type="submit" { "Save project" } }
                    }))
                }
                section.danger-zone {
                    h2 { "Delete project" }
                    (form_error(retry, "project-delete"))
                    (ui::form(c, &format!("{here}/delete"), "project-delete", html! {
                        p { "Delete this project and its memberships. Its applications stay, outside any project." }
                        button.danger type="submit" { "Delete project…" }
                    }))
                }
            }
        },
    )
}

async fn update_project(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let body = json!({
        "name": f.get("name"),
        "slug": f.get("slug"),
        "description": f.opt("description"),
    });
    match c
        .api
        .patch(
            &format!("/organizations/{}/projects/{}", seg(&org), seg(&id)),
            body,
        )
        .await
    {
        Ok(p) => c.done(
            &format!("/console/orgs/{}/projects/{}", seg(&org), seg(&id)),
            &format!("The project {} was saved.", s(&p["name"])),
        ),
        Err(failure) => project_page(&c, &org, &id, 0, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_project(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let api = format!("{}/projects/{}", ctx.api(), seg(&id));
    let p = match c.api.get(&api).await {
        Ok(p) => p,
        Err(failure) => {
            return projects_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await;
        }
    };
    let name = s(&p["name"]).to_owned();
    if !f.confirmed() {
        let members = c
            .api
            .list(&format!("{api}/members{}", query(&[("limit", ALL)])))
            .await
            .map(|r| r.0.len())
            .unwrap_or(0);
        let here = format!("{}/projects/{}", ctx.base(), seg(&id));
        return ui::confirm(
            &c,
            &ctx.nav("/projects"),
            "Delete project",
            &[
                match members {
                    0 => format!("The project {name} is deleted. It has no members."),
                    1 => format!("The project {name} is deleted, with its one membership: that person loses the access it gave them."),
                    n => format!("The project {name} is deleted, with its {n} memberships: those people lose the access it gave them."),
                },
                "Its applications are not deleted: they stay in the organization, outside any project.".to_owned(),
                "This cannot be undone.".to_owned(),
            ],
            &format!("{here}/delete"),
            &f,
            &format!("{}/projects", ctx.base()),
        );
    }
    match c.api.delete(&api).await {
        Ok(_) => c.done(
            &format!("{}/projects", ctx.base()),
            &format!("The project {name} was deleted."),
        ),
        Err(failure) => {
            projects_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn add_project_member(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let body = json!({"user_id": f.get("user_id"), "role": f.opt("role")});
    match c
        .api
        .post(
            &format!("/organizations/{}/projects/{}/members", seg(&org), seg(&id)),
            body,
        )
        .await
    {
        Ok(m) => c.done(
            &format!("/console/orgs/{}/projects/{}", seg(&org), seg(&id)),
            &format!(
                "{} was added to the project as {}.",
                s(&m["email"]),
                s(&m["role"])
            ),
        ),
        Err(failure) => project_page(&c, &org, &id, 0, Some(&Retry::new(f, failure))).await,
    }
}

async fn change_project_role(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    match c
        .api
        .patch(
            &format!(
                "/organizations/{}/projects/{}/members/{}",
                seg(&org),
                seg(&id),
                seg(f.get("user_id"))
            ),
            json!({"role": f.get("role")}),
        )
        .await
    {
        Ok(m) => c.done(
            &format!("/console/orgs/{}/projects/{}", seg(&org), seg(&id)),
            &format!(
                "{} is now {} of the project.",
                s(&m["email"]),
                s(&m["role"])
            ),
        ),
        Err(failure) => project_page(&c, &org, &id, 0, Some(&Retry::new(f, failure))).await,
    }
}

async fn remove_project_member(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let user = f.get("user_id").to_owned();
    let path = format!(
        "/organizations/{}/projects/{}/members/{}",
        seg(&org),
        seg(&id),
        seg(&user)
    );
    let here = format!("/console/orgs/{}/projects/{}", seg(&org), seg(&id));
    if !f.confirmed() {
        let ctx = ctx_or_return!(&c, &org);
        let api = format!("{}/projects/{}", ctx.api(), seg(&id));
        let project = c
            .api
            .get(&api)
            .await
            .map(|p| s(&p["name"]).to_owned())
            .unwrap_or_default();
        let who = c
            .api
            .list(&format!("{api}/members{}", query(&[("limit", ALL)])))
            .await
            .ok()
            .and_then(|(ms, _)| {
                ms.iter()
                    .find(|m| s(&m["user_id"]) == user)
                    .map(|m| format!("{} ({})", ui::display_name(m), s(&m["email"])))
            })
            .unwrap_or_else(|| user.clone());
        return ui::confirm(
            &c,
            &ctx.nav("/projects"),
            "Remove from project",
            &[
                format!("{who} loses the access the project {project} gave them."),
                format!(
                    "They stay a member of {}, with their organization role.",
                    ctx.name()
                ),
            ],
            &format!("{here}/members/remove"),
            &f,
            &here,
        );
    }
    match c.api.delete(&path).await {
        Ok(_) => c.done(&here, "The member was removed from the project."),
        Err(failure) => project_page(&c, &org, &id, 0, Some(&Retry::new(f, failure))).await,
    }
}

// --- applications ------------------------------------------------------------------------------

async fn create_application(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({
        "name": f.get("name"),
        "project_id": f.opt("project_id"),
        "description": f.opt("description"),
    });
    match c
        .api
        .post(&format!("/organizations/{}/applications", seg(&org)), body)
        .await
    {
        Ok(a) => c.done(
            &format!("/console/orgs/{}/projects#applications", seg(&org)),
            &format!("The application {} was created.", s(&a["name"])),
        ),
        Err(failure) => {
            projects_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

async fn application(c: Console, Path((org, id)): Path<(String, String)>) -> Response {
    application_page(&c, &org, &id, None).await
}

async fn application_page(c: &Console, org: &str, id: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    let a = or_fail!(
        c,
        c.api
            .get(&format!("{}/applications/{}", ctx.api(), seg(id)))
            .await
    );
    let all_projects = c
        .api
        .list(&format!(
            "{}/projects{}",
            ctx.api(),
            query(&[("limit", ALL)])
        ))
        .await
        .map(|r| r.0)
        .unwrap_or_default();
    let mut project_options = vec![(String::new(), "No project".to_owned())];
    project_options.extend(
        all_projects
            .iter()
            .map(|p| (s(&p["id"]).to_owned(), s(&p["name"]).to_owned())),
    );
    let project_id = s(&a["project_id"]);
    let project_name = all_projects
        .iter()
        .find(|p| s(&p["id"]) == project_id)
        .map(|p| s(&p["name"]))
        .unwrap_or(project_id);
    let b = ctx.base();
    let here = format!("{b}/applications/{}", seg(s(&a["id"])));
    ui::page(
        c,
        ui::status_of(retry),
        &format!("Application {}", s(&a["name"])),
        &ctx.nav("/projects"),
        html! {
            p { a href={ (b) "/projects" } { "← All projects and applications" } }
            (ui::stray_error(retry, if ctx.can("applications:write") { &["application-edit", "application-delete"] } else { &[] }))
            dl.facts {
                dt { "Name" } dd { (s(&a["name"])) }
                dt { "Id" } dd { code { (s(&a["id"])) } }
                dt { "Project" } dd {
                    @if project_id.is_empty() { "—" } @else { a href={ (b) "/projects/" (seg(project_id)) } { (project_name) } }
                }
                dt { "Description" } dd { @if let Some(d) = a["description"].as_str().filter(|d| !d.is_empty()) { (d) } @else { "—" } }
                dt { "Created" } dd { (when(&a["created_at"])) }
                dt { "Updated" } dd { (when(&a["updated_at"])) }
            }
            @if ctx.can("applications:write") {
                section #edit {
                    h2 { "Edit application" }
                    (form_error(retry, "application-edit"))
                    (ui::form(c, &format!("{here}/edit"), "application-edit", html! {
                        (input(retry, "application-edit", "name", "Name", "text", s(&a["name"]), true, ""))
                        (ui::select(retry, "application-edit", "project_id", "Project", &project_options, project_id))
                        (ui::textarea(retry, "application-edit", "description", "Description", s(&a["description"])))
                        div.actions { button type="submit" { "Save application" } }
                    }))
                }
                section.danger-zone {
                    h2 { "Delete application" }
                    (form_error(retry, "application-delete"))
                    (ui::form(c, &format!("{here}/delete"), "application-delete", html! {
                        p { "Delete this application for good." }
                        button.danger type="submit" { "Delete application…" }
                    }))
                }
            }
        },
    )
}

async fn update_application(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let body = json!({
        "name": f.get("name"),
        "project_id": f.opt("project_id"),
        "description": f.opt("description"),
    });
    match c
        .api
        .patch(
            &format!("/organizations/{}/applications/{}", seg(&org), seg(&id)),
            body,
        )
        .await
    {
        Ok(a) => c.done(
            &format!("/console/orgs/{}/applications/{}", seg(&org), seg(&id)),
            &format!("The application {} was saved.", s(&a["name"])),
        ),
        Err(failure) => application_page(&c, &org, &id, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_application(
    Path((org, id)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let api = format!("{}/applications/{}", ctx.api(), seg(&id));
    let a = match c.api.get(&api).await {
        Ok(a) => a,
        Err(failure) => {
            return projects_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await;
        }
    };
    let name = s(&a["name"]).to_owned();
    if !f.confirmed() {
        return ui::confirm(
            &c,
            &ctx.nav("/projects"),
            "Delete application",
            &[
                format!("The application {name} is deleted from {}.", ctx.name()),
                "This cannot be undone.".to_owned(),
            ],
            &format!("{}/applications/{}/delete", ctx.base(), seg(&id)),
            &f,
            &format!("{}/projects", ctx.base()),
        );
    }
    match c.api.delete(&api).await {
        Ok(_) => c.done(
            &format!("{}/projects#applications", ctx.base()),
            &format!("The application {name} was deleted."),
        ),
        Err(failure) => {
            projects_page(
                &c,
                &org,
                &ListQuery::default(),
                Some(&Retry::new(f, failure)),
            )
            .await
        }
    }
}

// --- service accounts --------------------------------------------------------------------------

async fn service_accounts(c: Console, Path(org): Path<String>) -> Response {
    service_accounts_page(&c, &org, None).await
}

async fn service_accounts_page(c: &Console, org: &str, retry: Option<&Retry>) -> Response {
    let ctx = ctx_or_return!(c, org);
    // The API lists every service account at once (no paging).
    let (items, _) = or_fail!(
        c,
        c.api.list(&format!("{}/service-accounts", ctx.api())).await
    );
    let can_write = ctx.can("service_accounts:write");
    let roles = if can_write {
        ui::role_options(&ctx.roles(c).await, false)
    } else {
        Vec::new()
    };
    let b = ctx.base();
    ui::page(
        c,
        ui::status_of(retry),
        "Service accounts",
        &ctx.nav("/service-accounts"),
        html! {
            (ui::stray_error(retry, if can_write { &["service-account"] } else { &[] }))
            p { "Service accounts are members of the organization for scripts and integrations: they sign in with tokens only, never with a password." }
            @if items.is_empty() {
                (ui::empty(if can_write { "No service accounts yet. Create one below; it comes with its first token." } else { "No service accounts yet." }))
            } @else {
                div.table-wrap {
                    table #service-accounts {
                        thead { tr { th { "Name" } th { "Username" } th { "Role" } th { "Created" } } }
                        tbody {
                            @for m in &items {
                                @let user = s(&m["user_id"]);
                                tr data-user=(user) {
                                    td { a href={ (b) "/service-accounts/" (seg(user)) } { (ui::display_name(m)) } }
                                    td { code { (s(&m["username"])) } }
                                    td { (s(&m["role"])) }
                                    td { (when(&m["joined_at"])) }
                                }
                            }
                        }
                    }
                }
            }
            @if can_write {
                section #create-service-account {
                    h2 { "Create a service account" }
                    (form_error(retry, "service-account"))
                    (ui::form(c, &format!("{b}/service-accounts"), "service-account", html! {
                        (input(retry, "service-account", "name", "Name", "text", "", true, "What it is for, e.g. “CI deploys”."))
                        (input(retry, "service-account", "username", "Username", "text", "", false, "Optional: letters, digits, dots, hyphens and underscores. Made from the name when empty."))
                        (ui::select(retry, "service-account", "role", "Role", &roles, "member"))
                        div.actions { button type="submit" { "Create service account" } }
                    }))
                }
            }
        },
    )
}

async fn create_service_account(Path(org): Path<String>, Submit { c, f }: Submit) -> Response {
    let body = json!({
        "name": f.get("name"),
        "username": f.opt("username"),
        "role": f.opt("role"),
    });
    match c
        .api
        .post(
            &format!("/organizations/{}/service-accounts", seg(&org)),
            body,
        )
        .await
    {
        Ok(r) => {
            let ctx = ctx_or_return!(&c, &org);
            let user = s(&r["user"]["id"]);
            ui::secret(
                &c,
                &ctx.nav("/service-accounts"),
                "Service account created",
                &format!(
                    "The service account {} ({}) was created with its first token, “{}”.",
                    ui::display_name(&r["user"]),
                    s(&r["user"]["username"]),
                    s(&r["token"]["name"])
                ),
                s(&r["token"]["token"]),
                &format!("{}/service-accounts/{}", ctx.base(), seg(user)),
            )
        }
        Err(failure) => service_accounts_page(&c, &org, Some(&Retry::new(f, failure))).await,
    }
}

/// A service account of the organization, from the list (the API has no single read).
async fn find_service_account(c: &Console, ctx: &OrgCtx, user: &str) -> Result<Value, Failure> {
    let (items, _) = c
        .api
        .list(&format!("{}/service-accounts", ctx.api()))
        .await?;
    items
        .into_iter()
        .find(|m| s(&m["user_id"]) == user)
        .ok_or_else(|| {
            Failure::new(
                404,
                "not_found",
                "There is no such service account in this organization.",
            )
        })
}

async fn service_account(c: Console, Path((org, user)): Path<(String, String)>) -> Response {
    service_account_page(&c, &org, &user, None).await
}

async fn service_account_page(
    c: &Console,
    org: &str,
    user: &str,
    retry: Option<&Retry>,
) -> Response {
    let ctx = ctx_or_return!(c, org);
    let m = or_fail!(c, find_service_account(c, &ctx, user).await);
    let (tokens, _) = or_fail!(
        c,
        c.api
            .list(&format!(
                "{}/service-accounts/{}/tokens",
                ctx.api(),
                seg(user)
            ))
            .await
    );
    let can_write = ctx.can("service_accounts:write");
    let b = ctx.base();
    let here = format!("{b}/service-accounts/{}", seg(user));
    ui::page(
        c,
        ui::status_of(retry),
        &format!("Service account {}", ui::display_name(&m)),
        &ctx.nav("/service-accounts"),
        html! {
            p { a href={ (b) "/service-accounts" } { "← All service accounts" } }
            (ui::stray_error(retry, if can_write { &["service-token-revoke", "service-token", "service-account-delete"] } else { &["service-token-revoke"] }))
            dl.facts {
                dt { "Name" } dd { (ui::display_name(&m)) }
                dt { "Username" } dd { code { (s(&m["username"])) } }
                dt { "Role" } dd { (s(&m["role"])) }
                dt { "Created" } dd { (when(&m["joined_at"])) }
            }
            section #tokens-section {
                h2 { "Tokens" }
                (form_error(retry, "service-token-revoke"))
                @if tokens.is_empty() {
                    (ui::empty(if can_write { "This service account has no tokens: it cannot sign in. Create one below." } else { "This service account has no tokens." }))
                } @else {
                    div.table-wrap {
                        table #service-tokens {
                            thead { tr { th { "Name" } th { "Created" } th { "Last used" } th { "Expires" } @if can_write { th { span.sr { "Actions" } } } } }
                            tbody {
                                @for t in &tokens {
                                    tr data-token=(s(&t["id"])) {
                                        td { (s(&t["name"])) }
                                        td { (when(&t["created_at"])) }
                                        td { @if t["last_used_at"].is_null() { "Never" } @else { (when(&t["last_used_at"])) } }
                                        td { @if t["expires_at"].is_null() { "Never" } @else { (when(&t["expires_at"])) } }
                                        @if can_write {
                                            td.actions {
                                                (ui::action_button(c, &format!("{here}/tokens/revoke"), "Revoke", "danger small", &[("id", s(&t["id"])), ("_form", "service-token-revoke")]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if can_write {
                    section #create-service-token {
                        h3 { "Create a token" }
                        (form_error(retry, "service-token"))
                        (ui::form(c, &format!("{here}/tokens"), "service-token", html! {
                            (input(retry, "service-token", "name", "Name", "text", "", true, "What it is for, e.g. “staging deploys”."))
                            (input(retry, "service-token", "expires_at", "Expires", "date", "", false, "Optional: the token stops working at the start of that day (UTC)."))
                            div.actions { button type="submit" { "Create token" } }
                        }))
                    }
                }
            }
            @if can_write {
                section.danger-zone {
                    h2 { "Delete service account" }
                    (form_error(retry, "service-account-delete"))
                    (ui::form(c, &format!("{here}/delete"), "service-account-delete", html! {
                        p { "Remove this service account from the organization; its tokens stop working." }
                        button.danger type="submit" { "Delete service account…" }
                    }))
                }
            }
        },
    )
}

async fn create_sa_token(
    Path((org, user)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let mut body = json!({"name": f.get("name")});
    if let Some(d) = f.opt("expires_at") {
        body["expires_at"] = json!(ui::day_start(d));
    }
    match c
        .api
        .post(
            &format!(
                "/organizations/{}/service-accounts/{}/tokens",
                seg(&org),
                seg(&user)
            ),
            body,
        )
        .await
    {
        Ok(t) => {
            let ctx = ctx_or_return!(&c, &org);
            ui::secret(
                &c,
                &ctx.nav("/service-accounts"),
                "Token created",
                &format!("The service account's token “{}”.", s(&t["name"])),
                s(&t["token"]),
                &format!("{}/service-accounts/{}", ctx.base(), seg(&user)),
            )
        }
        Err(failure) => service_account_page(&c, &org, &user, Some(&Retry::new(f, failure))).await,
    }
}

async fn revoke_sa_token(
    Path((org, user)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let here = format!("{}/service-accounts/{}", ctx.base(), seg(&user));
    let id = f.get("id").to_owned();
    if !f.confirmed() {
        let account = find_service_account(&c, &ctx, &user)
            .await
            .map(|m| ui::display_name(&m))
            .unwrap_or_default();
        let name = c
            .api
            .list(&format!(
                "{}/service-accounts/{}/tokens",
                ctx.api(),
                seg(&user)
            ))
            .await
            .ok()
            .and_then(|(ts, _)| {
                ts.iter()
                    .find(|t| s(&t["id"]) == id)
                    .map(|t| s(&t["name"]).to_owned())
            })
            .unwrap_or_default();
        return ui::confirm(
            &c,
            &ctx.nav("/service-accounts"),
            "Revoke token",
            &[
                if name.is_empty() {
                    format!("This token of the service account {account} stops working at once.")
                } else {
                    format!(
                        "The token “{name}” of the service account {account} stops working at once."
                    )
                },
                "Scripts and integrations that use it are refused from their very next request."
                    .to_owned(),
                "This cannot be undone: create a new token to replace it.".to_owned(),
            ],
            &format!("{here}/tokens/revoke"),
            &f,
            &here,
        );
    }
    match c
        .api
        .delete(&format!(
            "{}/service-accounts/{}/tokens/{}",
            ctx.api(),
            seg(&user),
            seg(&id)
        ))
        .await
    {
        Ok(_) => c.done(&here, "The token was revoked."),
        Err(failure) => service_account_page(&c, &org, &user, Some(&Retry::new(f, failure))).await,
    }
}

async fn delete_service_account(
    Path((org, user)): Path<(String, String)>,
    Submit { c, f }: Submit,
) -> Response {
    let ctx = ctx_or_return!(&c, &org);
    let here = format!("{}/service-accounts/{}", ctx.base(), seg(&user));
    let name = match find_service_account(&c, &ctx, &user).await {
        Ok(m) => ui::display_name(&m),
        Err(failure) => {
            return service_accounts_page(&c, &org, Some(&Retry::new(f, failure))).await;
        }
    };
    if !f.confirmed() {
        let tokens = c
            .api
            .list(&format!(
                "{}/service-accounts/{}/tokens",
                ctx.api(),
                seg(&user)
            ))
            .await
            .map(|r| r.0.len())
            .unwrap_or(0);
        return ui::confirm(
            &c,
            &ctx.nav("/service-accounts"),
            "Delete service account",
            &[
                format!("The service account {name} is removed from {}.", ctx.name()),
                match tokens {
                    0 => "It has no tokens.".to_owned(),
                    1 => "Its one token stops working at once: scripts and integrations that use it are refused from their next request.".to_owned(),
                    n => format!("Its {n} tokens stop working at once: scripts and integrations that use them are refused from their next request."),
                },
                "A service account that belongs to no other organization is deleted for good."
                    .to_owned(),
            ],
            &format!("{here}/delete"),
            &f,
            &here,
        );
    }
    match c
        .api
        .delete(&format!("{}/service-accounts/{}", ctx.api(), seg(&user)))
        .await
    {
        Ok(_) => c.done(
            &format!("{}/service-accounts", ctx.base()),
            &format!("The service account {name} was deleted."),
        ),
        Err(failure) => service_account_page(&c, &org, &user, Some(&Retry::new(f, failure))).await,
    }
}
