// Tokens, service accounts, invitations, projects and applications: included after engine.rs
// (whose imports and helpers it uses) by sqlite.rs and postgres.rs.

#[derive(FromRow)]
struct TokenRow {
    id: Uuid,
    name: Option<String>,
    kind: String,
    organization_id: Option<Uuid>,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl From<TokenRow> for TokenInfo {
    fn from(r: TokenRow) -> Self {
        TokenInfo {
            id: r.id,
            name: r.name,
            kind: TokenKind::parse(&r.kind).unwrap_or(TokenKind::Pat),
            organization_id: r.organization_id,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
        }
    }
}

const TOKEN_SELECT: &str = "SELECT id, name, kind, organization_id, expires_at, last_used_at, \
     created_at FROM tokens ";

const INVITATION_SELECT: &str = "SELECT i.id, i.email, i.role, i.status, i.expires_at, \
     i.delivery, i.delivery_error, i.created_at, o.id AS org_id, o.name AS org_name, \
     o.slug AS org_slug, i.invitee_id, u.id AS inviter_id, u.username AS inviter_username, \
     u.email AS inviter_email FROM invitations i \
     JOIN organizations o ON o.id = i.organization_id \
     LEFT JOIN users u ON u.id = i.inviter_id ";

#[derive(FromRow)]
struct InvitationRow {
    id: Uuid,
    email: String,
    role: String,
    status: String,
    expires_at: Timestamp,
    delivery: String,
    delivery_error: Option<String>,
    created_at: Timestamp,
    org_id: Uuid,
    org_name: String,
    org_slug: String,
    invitee_id: Option<Uuid>,
    inviter_id: Option<Uuid>,
    inviter_username: Option<String>,
    inviter_email: Option<String>,
}

fn invitation_status(status: &str, expires_at: Timestamp, now: Timestamp) -> InvitationStatus {
    match status {
        "pending" if expires_at <= now => InvitationStatus::Expired,
        "pending" => InvitationStatus::Pending,
        "accepted" => InvitationStatus::Accepted,
        "declined" => InvitationStatus::Declined,
        _ => InvitationStatus::Revoked,
    }
}

impl From<InvitationRow> for Invitation {
    fn from(r: InvitationRow) -> Self {
        let inviter = match (r.inviter_id, r.inviter_username, r.inviter_email) {
            (Some(id), Some(username), Some(email)) => Some(UserSummary {
                id,
                username,
                email,
            }),
            _ => None,
        };
        Invitation {
            id: r.id,
            organization: OrgSummary {
                id: r.org_id,
                name: r.org_name,
                slug: r.org_slug,
            },
            email: r.email,
            user_id: r.invitee_id,
            role: Role::parse(&r.role).unwrap_or(Role::Member),
            status: invitation_status(&r.status, r.expires_at, Timestamp::now()),
            inviter,
            expires_at: r.expires_at,
            delivery: r.delivery,
            delivery_error: r.delivery_error,
            created_at: r.created_at,
        }
    }
}

#[derive(FromRow)]
struct LockedInvitation {
    id: Uuid,
    organization_id: Uuid,
    email: String,
    role: String,
    status: String,
    expires_at: Timestamp,
}

#[derive(FromRow)]
struct ProjectRow {
    id: Uuid,
    name: String,
    slug: String,
    description: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Project {
            id: r.id,
            name: r.name,
            slug: r.slug,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct ProjectMemberRow {
    user_id: Uuid,
    username: String,
    email: String,
    name: Option<String>,
    role: String,
    added_at: Timestamp,
}

impl From<ProjectMemberRow> for ProjectMember {
    fn from(r: ProjectMemberRow) -> Self {
        ProjectMember {
            user_id: r.user_id,
            username: r.username,
            email: r.email,
            name: r.name,
            role: ProjectRole::parse(&r.role).unwrap_or(ProjectRole::Viewer),
            added_at: r.added_at,
        }
    }
}

#[derive(FromRow)]
struct ApplicationRow {
    id: Uuid,
    name: String,
    project_id: Option<Uuid>,
    description: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<ApplicationRow> for Application {
    fn from(r: ApplicationRow) -> Self {
        Application {
            id: r.id,
            name: r.name,
            project_id: r.project_id,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const PROJECT_MEMBER_SELECT: &str = "SELECT u.id AS user_id, u.username, u.email, u.name, \
     pm.role, pm.created_at AS added_at FROM project_members pm JOIN users u ON u.id = pm.user_id ";

async fn invitation_in(tx: &mut Tx, id: Uuid) -> StoreResult<Invitation> {
    let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
    q.push("WHERE i.id = ");
    q.push_bind(id);
    let row: InvitationRow = q.build_query_as().fetch_one(&mut **tx).await.map_err(err)?;
    Ok(row.into())
}

/// A pending invitation of `org` that `actor` may act on: acting on an invitation needs the
/// power to grant its role (only owners act on owner invitations). Read under the organization
/// lock the caller holds.
async fn pending_invitation_for(tx: &mut Tx, org: Uuid, actor: Actor, id: Uuid) -> StoreResult<()> {
    let actor_role = actor_role(tx, org, actor).await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT role, status FROM invitations WHERE organization_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    let (role, status) = row.ok_or(StoreError::NotFound("Invitation"))?;
    rules::check_invitation(actor_role, Role::parse(&role).unwrap_or(Role::Owner))?;
    // An expired invitation is still open: a resend renews it, a revoke ends it.
    if status != "pending" {
        return Err(StoreError::Conflict(
            "the invitation is no longer pending".into(),
        ));
    }
    Ok(())
}

/// May `actor` manage the tokens of service account `account` of `org`? Owners and admins with
/// at least the account's role (a token of an account acts with its role).
async fn check_service_account_manager(
    tx: &mut Tx,
    org: Uuid,
    actor: Actor,
    account: Uuid,
) -> StoreResult<()> {
    let actor_role = actor_role(tx, org, actor).await?;
    let is_sa = user_in(tx, account)
        .await?
        .is_some_and(|u| u.is_service_account);
    let sa_role = match (is_sa, role_of(tx, org, account).await?) {
        (true, Some(role)) => role,
        _ => return Err(StoreError::NotFound("Service account")),
    };
    if actor_role < Role::Admin || sa_role > actor_role {
        return Err(StoreError::Forbidden(
            "Only owners and admins with at least the service account's role manage its tokens"
                .into(),
        ));
    }
    Ok(())
}

async fn project_in(tx: &mut Tx, org: Uuid, id: Uuid) -> StoreResult<ProjectRow> {
    sqlx::query_as("SELECT * FROM projects WHERE organization_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?
        .ok_or(StoreError::NotFound("Project"))
}

async fn project_slug_taken(tx: &mut Tx, org: Uuid, slug: &str, except: Uuid) -> StoreResult<bool> {
    let hit: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM projects WHERE organization_id = $1 AND lower(slug) = lower($2) AND id <> $3",
    )
    .bind(org)
    .bind(slug)
    .bind(except)
    .fetch_optional(&mut **tx)
    .await
    .map_err(err)?;
    Ok(hit.is_some())
}

async fn project_member_in(tx: &mut Tx, project: Uuid, user: Uuid) -> StoreResult<ProjectMember> {
    let mut q = QueryBuilder::<Db>::new(PROJECT_MEMBER_SELECT);
    q.push("WHERE pm.project_id = ");
    q.push_bind(project);
    q.push(" AND pm.user_id = ");
    q.push_bind(user);
    let row: Option<ProjectMemberRow> = q
        .build_query_as()
        .fetch_optional(&mut **tx)
        .await
        .map_err(err)?;
    row.map(ProjectMember::from)
        .ok_or(StoreError::NotFound("Project member"))
}

async fn check_app_project(tx: &mut Tx, org: Uuid, project: Option<Uuid>) -> StoreResult<()> {
    if let Some(p) = project {
        let hit: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM projects WHERE organization_id = $1 AND id = $2")
                .bind(org)
                .bind(p)
                .fetch_optional(&mut **tx)
                .await
                .map_err(err)?;
        if hit.is_none() {
            return Err(StoreError::Conflict(
                "project_id does not name a project of this organization".into(),
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl Resources for SqlStore {
    async fn list_tokens(&self, user: Uuid) -> StoreResult<Vec<TokenInfo>> {
        let mut q = QueryBuilder::<Db>::new(TOKEN_SELECT);
        q.push("WHERE user_id = ");
        q.push_bind(user);
        q.push(" AND kind <> 'session' ORDER BY id");
        let rows: Vec<TokenRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(TokenInfo::from).collect())
    }

    async fn token_info(&self, user: Uuid, id: Uuid) -> StoreResult<Option<TokenInfo>> {
        let mut q = QueryBuilder::<Db>::new(TOKEN_SELECT);
        q.push("WHERE user_id = ");
        q.push_bind(user);
        q.push(" AND id = ");
        q.push_bind(id);
        let row: Option<TokenRow> = q
            .build_query_as()
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        Ok(row.map(TokenInfo::from))
    }

    async fn revoke_token(&self, user: Uuid, id: Uuid) -> StoreResult<bool> {
        let mut tx = begin_write(self).await?;
        let done = sqlx::query("DELETE FROM tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.touch(crate::store::cache::Tag::User(user));
        commit(tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_service_account(
        &self,
        org: Uuid,
        actor: Actor,
        username: Option<String>,
        name: String,
        role: Role,
    ) -> StoreResult<(User, Member)> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let actor_role = actor_role(&mut tx, org, actor).await?;
        rules::check_add(actor_role, role)?;
        let local = format!("sa.{}", validate::slug_from_name(&name));
        let email = format!(
            "{local}@{}.service-accounts.invalid",
            Uuid::now_v7().simple()
        );
        let user = insert_user(
            &mut tx,
            NewUser {
                email,
                username,
                name: Some(name),
                password_hash: None,
                is_superuser: false,
                is_service_account: true,
            },
        )
        .await?;
        insert_membership(&mut tx, org, user.id, role, Timestamp::now()).await?;
        let member = member_in(&mut tx, org, user.id).await?;
        commit(tx).await?;
        Ok((user, member))
    }

    async fn list_service_accounts(&self, org: Uuid) -> StoreResult<Vec<Member>> {
        let mut q = QueryBuilder::<Db>::new(MEMBER_SELECT);
        q.push("WHERE m.organization_id = ");
        q.push_bind(org);
        q.push(" AND u.is_service_account ORDER BY m.created_at, m.user_id");
        let rows: Vec<MemberRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(Member::from).collect())
    }

    async fn delete_service_account(&self, org: Uuid, actor: Actor, user: Uuid) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let actor_role = actor_role(&mut tx, org, actor).await?;
        let target = role_of(&mut tx, org, user).await?;
        let is_sa = user_in(&mut tx, user)
            .await?
            .is_some_and(|u| u.is_service_account);
        let (Some(target), true) = (target, is_sa) else {
            return Err(StoreError::NotFound("Service account"));
        };
        let owners = owner_count(&mut tx, org).await?;
        rules::check_removal(actor_role, false, target, owners)?;
        drop_membership(&mut tx, org, user, target).await?;
        // A service account that belongs nowhere any more is deleted with its tokens.
        let remaining: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1")
                .bind(user)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        if remaining == 0 {
            sqlx::query("DELETE FROM users WHERE id = $1 AND is_service_account")
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        commit(tx).await
    }

    async fn issue_service_account_token(
        &self,
        org: Uuid,
        actor: Actor,
        new: NewToken,
    ) -> StoreResult<Uuid> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        check_service_account_manager(&mut tx, org, actor, new.user_id).await?;
        let id = Uuid::now_v7();
        insert_token(
            &mut *tx,
            id,
            &NewToken {
                organization_id: Some(org),
                ..new
            },
        )
        .await?;
        commit(tx).await?;
        Ok(id)
    }

    async fn service_account_tokens(
        &self,
        org: Uuid,
        actor: Actor,
        account: Uuid,
    ) -> StoreResult<Vec<TokenInfo>> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        check_service_account_manager(&mut tx, org, actor, account).await?;
        let mut q = QueryBuilder::<Db>::new(TOKEN_SELECT);
        q.push("WHERE user_id = ");
        q.push_bind(account);
        q.push(" AND organization_id = ");
        q.push_bind(org);
        q.push(" ORDER BY id");
        let rows: Vec<TokenRow> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        commit(tx).await?;
        Ok(rows.into_iter().map(TokenInfo::from).collect())
    }

    async fn revoke_service_account_token(
        &self,
        org: Uuid,
        actor: Actor,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        check_service_account_manager(&mut tx, org, actor, account).await?;
        let done = sqlx::query(
            "DELETE FROM tokens WHERE id = $1 AND user_id = $2 AND organization_id = $3",
        )
        .bind(id)
        .bind(account)
        .bind(org)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Token"));
        }
        commit(tx).await
    }

    async fn create_invitation(
        &self,
        new: NewInvitation,
        actor: Actor,
    ) -> StoreResult<(Invitation, bool)> {
        let org = new.organization_id;
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let actor_role = actor_role(&mut tx, org, actor).await?;
        rules::check_invitation(actor_role, new.role)?;
        let member: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.organization_id = $1 AND lower(u.email) = lower($2)",
        )
        .bind(org)
        .bind(&new.email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        if member.is_some() {
            return Err(StoreError::Conflict("already a member".into()));
        }
        let now = Timestamp::now();
        let existing: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT id, role FROM invitations WHERE organization_id = $1 AND lower(email) = lower($2) \
             AND status = 'pending'",
        )
        .bind(org)
        .bind(&new.email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        let (id, refreshed) = match existing {
            Some((id, role)) => {
                // Refreshing replaces the pending invitation's link: that is acting on it too.
                rules::check_invitation(actor_role, Role::parse(&role).unwrap_or(Role::Owner))?;
                sqlx::query(
                    "UPDATE invitations SET role = $1, token_hash = $2, expires_at = $3, \
                     inviter_id = $4, delivery = $5, delivery_error = NULL, delivery_attempts = 0, \
                     next_attempt_at = NULL, updated_at = $6, invitee_id = $8 WHERE id = $7",
                )
                .bind(new.role.as_str())
                .bind(&new.hash[..])
                .bind(new.expires_at)
                .bind(actor.id())
                .bind(new.delivery)
                .bind(now)
                .bind(id)
                .bind(new.invitee_id)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                (id, true)
            }
            None => {
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO invitations (id, organization_id, email, role, token_hash, status, \
                     inviter_id, expires_at, delivery, created_at, updated_at, invitee_id) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $9, $10)",
                )
                .bind(id)
                .bind(org)
                .bind(&new.email)
                .bind(new.role.as_str())
                .bind(&new.hash[..])
                .bind(actor.id())
                .bind(new.expires_at)
                .bind(new.delivery)
                .bind(now)
                .bind(new.invitee_id)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
                (id, false)
            }
        };
        let inv = invitation_in(&mut tx, id).await?;
        commit(tx).await?;
        Ok((inv, refreshed))
    }

    async fn list_invitations(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Invitation>> {
        let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
        q.push("WHERE i.organization_id = ");
        q.push_bind(org);
        if let Some(Cursor::Id(after)) = page.after {
            q.push(" AND i.id > ");
            q.push_bind(after);
        }
        q.push(" ORDER BY i.id");
        push_page(&mut q, page);
        let rows: Vec<InvitationRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(Invitation::from).collect())
    }

    async fn invitation(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Invitation>> {
        let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
        q.push("WHERE i.organization_id = ");
        q.push_bind(org);
        q.push(" AND i.id = ");
        q.push_bind(id);
        let row: Option<InvitationRow> = q
            .build_query_as()
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        Ok(row.map(Invitation::from))
    }

    async fn revoke_invitation(&self, org: Uuid, actor: Actor, id: Uuid) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        pending_invitation_for(&mut tx, org, actor, id).await?;
        sqlx::query("UPDATE invitations SET status = 'revoked', updated_at = $1 WHERE id = $2")
            .bind(Timestamp::now())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        commit(tx).await
    }

    async fn rotate_invitation(
        &self,
        org: Uuid,
        actor: Actor,
        id: Uuid,
        hash: [u8; 32],
        expires_at: Option<Timestamp>,
    ) -> StoreResult<Invitation> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        pending_invitation_for(&mut tx, org, actor, id).await?;
        sqlx::query(
            "UPDATE invitations SET token_hash = $1, expires_at = COALESCE($2, expires_at), \
             updated_at = $3 WHERE id = $4",
        )
        .bind(&hash[..])
        .bind(expires_at)
        .bind(Timestamp::now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let inv = invitation_in(&mut tx, id).await?;
        commit(tx).await?;
        Ok(inv)
    }

    async fn record_delivery(
        &self,
        id: Uuid,
        delivery: &str,
        error: Option<String>,
        next_attempt_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        let failed = delivery == "failed";
        sqlx::query(
            "UPDATE invitations SET delivery = $1, delivery_error = $2, next_attempt_at = $3, \
             delivery_attempts = delivery_attempts + $4, updated_at = $5 WHERE id = $6",
        )
        .bind(delivery)
        .bind(error)
        .bind(next_attempt_at)
        .bind(if failed { 1i32 } else { 0i32 })
        .bind(Timestamp::now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn due_deliveries(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<DueDelivery>> {
        #[derive(FromRow)]
        struct Row {
            id: Uuid,
            email: String,
            organization_name: String,
            delivery_attempts: i32,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT i.id, i.email, o.name AS organization_name, i.delivery_attempts \
             FROM invitations i JOIN organizations o ON o.id = i.organization_id \
             WHERE i.delivery = 'failed' AND i.status = 'pending' AND i.next_attempt_at <= $1 \
             AND i.expires_at > $1 ORDER BY i.next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|r| DueDelivery {
                id: r.id,
                email: r.email,
                organization_name: r.organization_name,
                attempts: r.delivery_attempts,
            })
            .collect())
    }

    async fn rotate_for_delivery(&self, id: Uuid, hash: [u8; 32]) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE invitations SET token_hash = $1, delivery = 'pending', updated_at = $2 \
             WHERE id = $3 AND status = 'pending' AND delivery = 'failed'",
        )
        .bind(&hash[..])
        .bind(Timestamp::now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn invitations_for_email(&self, email: &str) -> StoreResult<Vec<Invitation>> {
        let mut q = QueryBuilder::<Db>::new(INVITATION_SELECT);
        q.push("WHERE lower(i.email) = lower(");
        q.push_bind(email.to_owned());
        q.push(") AND i.status = 'pending' AND i.expires_at > ");
        q.push_bind(Timestamp::now());
        q.push(" ORDER BY i.id");
        let rows: Vec<InvitationRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(Invitation::from).collect())
    }

    async fn accept_invitation(
        &self,
        hash: [u8; 32],
        invitee: Invitee,
    ) -> StoreResult<(User, Uuid)> {
        let mut tx = begin_write(self).await?;
        // Lock order: the organization first, then the invitation (as deleting the organization
        // does), so an accept racing a delete waits instead of deadlocking.
        let org: Uuid =
            sqlx::query_scalar("SELECT organization_id FROM invitations WHERE token_hash = $1")
                .bind(&hash[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?
                .ok_or(StoreError::NotFound("Invitation"))?;
        lock_org(&mut tx, org)
            .await
            .map_err(|_| StoreError::NotFound("Invitation"))?;
        // Locks the invitation: of concurrent accepts, one finds it pending.
        let inv: LockedInvitation = sqlx::query_as(LOCK_INVITATION)
            .bind(&hash[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?
            .ok_or(StoreError::NotFound("Invitation"))?;
        let now = Timestamp::now();
        match invitation_status(&inv.status, inv.expires_at, now) {
            InvitationStatus::Pending => {}
            other => {
                let word = serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                return Err(StoreError::Conflict(format!("The invitation is {word}")));
            }
        }
        let user = match invitee {
            Invitee::User(id) => {
                let user = user_in(&mut tx, id)
                    .await?
                    .ok_or(StoreError::NotFound("User"))?;
                if user.email.to_lowercase() != inv.email.to_lowercase() {
                    return Err(StoreError::Forbidden(
                        "This invitation was sent to another email address".into(),
                    ));
                }
                user
            }
            Invitee::NewAccount {
                password_hash,
                name,
                username,
            } => {
                // An invitation only ever creates an account. It never sets or changes the
                // password of an existing one, provisioned (password-less) and deactivated
                // accounts included: whoever holds the link is not thereby that account's owner.
                let existing: Option<Uuid> =
                    sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)")
                        .bind(&inv.email)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(err)?;
                match existing {
                    Some(_) => {
                        return Err(StoreError::Conflict(
                            "An account with this email exists: sign in to accept (an account \
                             without a password is claimed through password reset)"
                                .into(),
                        ));
                    }
                    None => {
                        insert_user(
                            &mut tx,
                            NewUser {
                                email: inv.email.clone(),
                                username,
                                name,
                                password_hash: Some(password_hash),
                                ..Default::default()
                            },
                        )
                        .await?
                    }
                }
            }
        };
        if role_of(&mut tx, inv.organization_id, user.id)
            .await?
            .is_none()
        {
            let role = Role::parse(&inv.role).unwrap_or(Role::Member);
            insert_membership(&mut tx, inv.organization_id, user.id, role, now).await?;
        }
        sqlx::query("UPDATE invitations SET status = 'accepted', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(inv.id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        commit(tx).await?;
        Ok((user, inv.organization_id))
    }

    async fn decline_invitation(&self, hash: [u8; 32], user: Option<Uuid>) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        let inv: LockedInvitation = sqlx::query_as(LOCK_INVITATION)
            .bind(&hash[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?
            .ok_or(StoreError::NotFound("Invitation"))?;
        // The organization's pending count changes.
        tx.touch(crate::store::cache::Tag::Org(inv.organization_id));
        if invitation_status(&inv.status, inv.expires_at, Timestamp::now())
            != InvitationStatus::Pending
        {
            return Err(StoreError::Invalid(
                "The invitation is no longer pending".into(),
            ));
        }
        if let Some(id) = user {
            let u = user_in(&mut tx, id)
                .await?
                .ok_or(StoreError::NotFound("User"))?;
            if u.email.to_lowercase() != inv.email.to_lowercase() {
                return Err(StoreError::Forbidden(
                    "This invitation was sent to another email address".into(),
                ));
            }
        }
        sqlx::query("UPDATE invitations SET status = 'declined', updated_at = $1 WHERE id = $2")
            .bind(Timestamp::now())
            .bind(inv.id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        commit(tx).await
    }

    async fn create_project(
        &self,
        org: Uuid,
        name: String,
        slug: Option<String>,
        description: Option<String>,
    ) -> StoreResult<Project> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let slug = match slug {
            Some(s) => {
                if project_slug_taken(&mut tx, org, &s, Uuid::nil()).await? {
                    return Err(StoreError::Conflict("slug is already taken".into()));
                }
                s
            }
            None => {
                let base = validate::slug_from_name(&name);
                let mut candidate = base.clone();
                let mut n = 1;
                while project_slug_taken(&mut tx, org, &candidate, Uuid::nil()).await? {
                    n += 1;
                    candidate = format!("{base}-{n}");
                }
                candidate
            }
        };
        let now = Timestamp::now();
        let row = ProjectRow {
            id: Uuid::now_v7(),
            name,
            slug,
            description,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO projects (id, organization_id, name, slug, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(row.id)
        .bind(org)
        .bind(&row.name)
        .bind(&row.slug)
        .bind(&row.description)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        commit(tx).await?;
        Ok(row.into())
    }

    async fn list_projects(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Project>> {
        let mut q = QueryBuilder::<Db>::new("SELECT * FROM projects WHERE organization_id = ");
        q.push_bind(org);
        if let Some(Cursor::Id(after)) = page.after {
            q.push(" AND id > ");
            q.push_bind(after);
        }
        q.push(" ORDER BY id");
        push_page(&mut q, page);
        let rows: Vec<ProjectRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(Project::from).collect())
    }

    async fn project(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Project>> {
        let row: Option<ProjectRow> =
            sqlx::query_as("SELECT * FROM projects WHERE organization_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
        Ok(row.map(Project::from))
    }

    async fn update_project(
        &self,
        org: Uuid,
        id: Uuid,
        patch: ProjectPatch,
    ) -> StoreResult<Project> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let mut p = project_in(&mut tx, org, id).await?;
        if let Some(slug) = patch.slug {
            if project_slug_taken(&mut tx, org, &slug, id).await? {
                return Err(StoreError::Conflict("slug is already taken".into()));
            }
            p.slug = slug;
        }
        if let Some(v) = patch.name {
            p.name = v;
        }
        if let Some(v) = patch.description {
            p.description = v;
        }
        p.updated_at = Timestamp::now();
        sqlx::query("UPDATE projects SET name = $1, slug = $2, description = $3, updated_at = $4 WHERE id = $5")
            .bind(&p.name)
            .bind(&p.slug)
            .bind(&p.description)
            .bind(p.updated_at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        commit(tx).await?;
        Ok(p.into())
    }

    async fn delete_project(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let done = sqlx::query("DELETE FROM projects WHERE organization_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Project"));
        }
        commit(tx).await
    }

    async fn project_role(&self, project: Uuid, user: Uuid) -> StoreResult<Option<ProjectRole>> {
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2",
        )
        .bind(project)
        .bind(user)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        Ok(role.as_deref().and_then(ProjectRole::parse))
    }

    async fn list_project_members(
        &self,
        org: Uuid,
        project: Uuid,
        page: &Page,
    ) -> StoreResult<Vec<ProjectMember>> {
        if self.project(org, project).await?.is_none() {
            return Err(StoreError::NotFound("Project"));
        }
        let mut q = QueryBuilder::<Db>::new(PROJECT_MEMBER_SELECT);
        q.push("WHERE pm.project_id = ");
        q.push_bind(project);
        if let Some(Cursor::At(ms, user)) = page.after {
            q.push(" AND (pm.created_at > ");
            q.push_bind(ms);
            q.push(" OR (pm.created_at = ");
            q.push_bind(ms);
            q.push(" AND pm.user_id > ");
            q.push_bind(user);
            q.push("))");
        }
        q.push(" ORDER BY pm.created_at, pm.user_id");
        push_page(&mut q, page);
        let rows: Vec<ProjectMemberRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(ProjectMember::from).collect())
    }

    async fn add_project_member(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        role: ProjectRole,
    ) -> StoreResult<ProjectMember> {
        let mut tx = begin_write(self).await?;
        // The membership cannot vanish under us: removals take the same lock.
        lock_org(&mut tx, org).await?;
        project_in(&mut tx, org, project).await?;
        if role_of(&mut tx, org, user).await?.is_none() {
            return Err(StoreError::Conflict(
                "only members of the organization can join its projects".into(),
            ));
        }
        let exists: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM project_members WHERE project_id = $1 AND user_id = $2",
        )
        .bind(project)
        .bind(user)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?;
        if exists.is_some() {
            return Err(StoreError::Conflict("already a project member".into()));
        }
        sqlx::query("INSERT INTO project_members (project_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(project)
            .bind(user)
            .bind(role.as_str())
            .bind(Timestamp::now())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let m = project_member_in(&mut tx, project, user).await?;
        commit(tx).await?;
        Ok(m)
    }

    async fn update_project_member(
        &self,
        org: Uuid,
        project: Uuid,
        user: Uuid,
        role: ProjectRole,
    ) -> StoreResult<ProjectMember> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        project_in(&mut tx, org, project).await?;
        let done = sqlx::query(
            "UPDATE project_members SET role = $1 WHERE project_id = $2 AND user_id = $3",
        )
        .bind(role.as_str())
        .bind(project)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Project member"));
        }
        let m = project_member_in(&mut tx, project, user).await?;
        commit(tx).await?;
        Ok(m)
    }

    async fn remove_project_member(&self, org: Uuid, project: Uuid, user: Uuid) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        project_in(&mut tx, org, project).await?;
        let done =
            sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
                .bind(project)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Project member"));
        }
        commit(tx).await
    }

    async fn create_application(
        &self,
        org: Uuid,
        name: String,
        project: Option<Uuid>,
        description: Option<String>,
    ) -> StoreResult<Application> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        check_app_project(&mut tx, org, project).await?;
        let now = Timestamp::now();
        let row = ApplicationRow {
            id: Uuid::now_v7(),
            name,
            project_id: project,
            description,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO applications (id, organization_id, project_id, name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(row.id)
        .bind(org)
        .bind(row.project_id)
        .bind(&row.name)
        .bind(&row.description)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        commit(tx).await?;
        Ok(row.into())
    }

    async fn list_applications(&self, org: Uuid, page: &Page) -> StoreResult<Vec<Application>> {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT id, name, project_id, description, created_at, updated_at FROM applications \
             WHERE organization_id = ",
        );
        q.push_bind(org);
        if let Some(Cursor::Id(after)) = page.after {
            q.push(" AND id > ");
            q.push_bind(after);
        }
        q.push(" ORDER BY id");
        push_page(&mut q, page);
        let rows: Vec<ApplicationRow> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(Application::from).collect())
    }

    async fn application(&self, org: Uuid, id: Uuid) -> StoreResult<Option<Application>> {
        let row: Option<ApplicationRow> = sqlx::query_as(
            "SELECT id, name, project_id, description, created_at, updated_at FROM applications \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        Ok(row.map(Application::from))
    }

    async fn update_application(
        &self,
        org: Uuid,
        id: Uuid,
        patch: ApplicationPatch,
    ) -> StoreResult<Application> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let mut a: ApplicationRow = sqlx::query_as(
            "SELECT id, name, project_id, description, created_at, updated_at FROM applications \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(err)?
        .ok_or(StoreError::NotFound("Application"))?;
        if let Some(p) = patch.project_id {
            check_app_project(&mut tx, org, p).await?;
            a.project_id = p;
        }
        if let Some(v) = patch.name {
            a.name = v;
        }
        if let Some(v) = patch.description {
            a.description = v;
        }
        a.updated_at = Timestamp::now();
        sqlx::query(
            "UPDATE applications SET name = $1, project_id = $2, description = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(&a.name)
        .bind(a.project_id)
        .bind(&a.description)
        .bind(a.updated_at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        commit(tx).await?;
        Ok(a.into())
    }

    async fn delete_application(&self, org: Uuid, id: Uuid) -> StoreResult<()> {
        let mut tx = begin_write(self).await?;
        lock_org(&mut tx, org).await?;
        let done = sqlx::query("DELETE FROM applications WHERE organization_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Application"));
        }
        commit(tx).await
    }
}
