//! Tend's store on PostgreSQL, for many stateless app servers sharing one database.
//!
//! Every write is one transaction on a pooled connection; statements are prepared once per
//! connection and reused. Ticket writers serialise on the ticket row (`FOR UPDATE`); jobs
//! are leased with `FOR UPDATE SKIP LOCKED`; the event log can be tailed safely with
//! [`Store::events_since`] (see `tickets::events_since` for how).

mod admin;
mod brands;
mod db;
mod escalation;
mod import;
mod jobs;
mod kb;
mod kb_analytics;
mod macros;
mod mail;
mod metrics;
mod migrate;
mod routing;
mod rows;
mod sla_bulk;
mod survey;
mod tickets;
mod triggers;
mod views;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use db::{pool_err, DbExt};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tend_core::import::ImportRecord;
use tend_core::ticket::Patch;
use tend_core::{Actor, Ticket, Viewer};
use tend_store::*;
use tokio_postgres::NoTls;

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PgStore {
    /// Connects (pool of `pool_size` connections), runs migrations, returns the store.
    /// `schema`: if Some, every connection sets `search_path` to that schema (created if
    /// missing): tests use one schema per test. It must be a plain lower-case identifier.
    pub async fn open(url: &str, schema: Option<&str>, pool_size: usize) -> Result<PgStore> {
        let mut cfg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("database URL: {e}")))?;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        if let Some(schema) = schema {
            let plain = schema.len() <= 63
                && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !plain {
                return Err(StoreError::invalid(
                    "schema",
                    "must be a lower-case identifier (a-z, 0-9, _)",
                ));
            }
            create_schema(&cfg, schema).await?;
            let options = match cfg.get_options() {
                Some(o) if !o.trim().is_empty() => format!("{o} -c search_path={schema}"),
                _ => format!("-c search_path={schema}"),
            };
            cfg.options(options);
        }
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(15)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(pool_err)?;
        migrate::run(&pool).await?;
        Ok(PgStore { pool })
    }

    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }
}

async fn create_schema(cfg: &tokio_postgres::Config, schema: &str) -> Result<()> {
    let (client, connection) = cfg.connect(NoTls).await.db()?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "PostgreSQL setup connection failed");
        }
    });
    let result = client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await;
    drop(client);
    let _ = task.await;
    match result {
        // Two servers creating it at once: the loser sees a unique violation; fine.
        Err(e) if db::is_unique_violation(&e) => Ok(()),
        r => r.db(),
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        self.conn().await?.simple_query("SELECT 1").await.db()?;
        Ok(())
    }

    // --- agents, groups, tokens -------------------------------------------------------

    async fn create_agent(&self, new: NewAgent, actor: Actor, now: DateTime<Utc>) -> Result<Agent> {
        admin::create_agent(self, new, actor, now).await
    }
    async fn update_agent(
        &self,
        id: i64,
        up: AgentUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Agent> {
        admin::update_agent(self, id, up, actor, now).await
    }
    async fn get_agent(&self, id: i64) -> Result<Agent> {
        admin::get_agent(self, id).await
    }
    async fn agent_by_email(&self, email: &str) -> Result<Option<Agent>> {
        admin::agent_by_email(self, email).await
    }
    async fn agent_password_hash(&self, agent_id: i64) -> Result<Option<String>> {
        admin::agent_password_hash(self, agent_id).await
    }
    async fn list_agents(&self) -> Result<Vec<Agent>> {
        admin::list_agents(self).await
    }
    async fn create_group(&self, new: NewGroup, actor: Actor, now: DateTime<Utc>) -> Result<Group> {
        admin::create_group(self, new, actor, now).await
    }
    async fn get_group(&self, id: i64) -> Result<Group> {
        admin::get_group(self, id).await
    }
    async fn list_groups(&self) -> Result<Vec<Group>> {
        admin::list_groups(self).await
    }
    async fn set_group_members(
        &self,
        group_id: i64,
        agent_ids: Vec<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Group> {
        admin::set_group_members(self, group_id, agent_ids, actor, now).await
    }
    async fn create_token(
        &self,
        agent_id: i64,
        name: String,
        token_hash: Vec<u8>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo> {
        admin::create_token(self, agent_id, name, token_hash, actor, now).await
    }
    async fn viewer_by_token(&self, token_hash: &[u8]) -> Result<Option<Viewer>> {
        admin::viewer_by_token(self, token_hash).await
    }
    async fn viewer(&self, agent_id: i64) -> Result<Viewer> {
        admin::viewer(self, agent_id).await
    }
    async fn create_saved_view(
        &self,
        new: NewSavedView,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView> {
        views::create(self, new, actor, now).await
    }
    async fn update_saved_view(
        &self,
        id: i64,
        new: NewSavedView,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView> {
        views::update(self, id, new, actor, now).await
    }
    async fn delete_saved_view(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        views::delete(self, id, actor, now).await
    }
    async fn get_saved_view(&self, id: i64) -> Result<SavedView> {
        views::get(self, id).await
    }
    async fn list_saved_views(&self, agent_id: i64) -> Result<Vec<SavedView>> {
        views::list(self, agent_id).await
    }
    async fn create_password_reset(
        &self,
        agent_id: i64,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        admin::create_password_reset(self, agent_id, token_hash, expires_at, now).await
    }
    async fn password_reset_agent(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        admin::password_reset_agent(self, token_hash, now).await
    }
    async fn redeem_password_reset(
        &self,
        token_hash: &[u8],
        password_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        admin::redeem_password_reset(self, token_hash, password_hash, now).await
    }
    async fn create_customer_token(
        &self,
        customer_id: i64,
        session: bool,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let c = self.conn().await?;
        let kind = if session { "session" } else { "magic" };
        c.execute(
            "INSERT INTO customer_tokens(customer_id, kind, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&customer_id, &kind, &token_hash, &expires_at, &now],
        )
        .await
        .map_err(crate::db::backend)?;
        Ok(())
    }
    async fn redeem_magic_token(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let c = self.conn().await?;
        let row = c
            .query_opt(
                "UPDATE customer_tokens SET used_at = $2 WHERE token_hash = $1 AND kind = 'magic' AND used_at IS NULL AND expires_at > $2 RETURNING customer_id",
                &[&token_hash, &now],
            )
            .await
            .map_err(crate::db::backend)?;
        Ok(row.map(|r| r.get(0)))
    }
    async fn customer_by_session(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let c = self.conn().await?;
        let row = c
            .query_opt("SELECT customer_id FROM customer_tokens WHERE token_hash = $1 AND kind = 'session' AND expires_at > $2", &[&token_hash, &now])
            .await
            .map_err(crate::db::backend)?;
        Ok(row.map(|r| r.get(0)))
    }
    async fn revoke_customer_token(&self, token_hash: &[u8]) -> Result<()> {
        let c = self.conn().await?;
        c.execute(
            "DELETE FROM customer_tokens WHERE token_hash = $1",
            &[&token_hash],
        )
        .await
        .map_err(crate::db::backend)?;
        Ok(())
    }
    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let c = self.conn().await?;
        let row = c
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .await
            .map_err(crate::db::backend)?;
        Ok(row.map(|r| r.get(0)))
    }
    async fn put_setting(
        &self,
        key: &str,
        value: serde_json::Value,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let now = crate::db::us(now);
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(crate::db::backend)?;
        tx.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            &[&key, &value, &now],
        )
        .await
        .map_err(crate::db::backend)?;
        if key == "sla" {
            // Every open ticket's clocks follow the new calendar and policies.
            jobs::schedule_restart(&tx, SLA_RECOMPUTE_KEY, &sla_recompute_job(0, now)).await?;
        }
        admin::audit(
            &tx,
            actor,
            "setting.changed",
            format!("setting:{key}"),
            value,
            now,
        )
        .await?;
        tx.commit().await.map_err(crate::db::backend)
    }
    async fn schedule_job(&self, key: &str, job: NewJob) -> Result<()> {
        let c = self.conn().await?;
        jobs::schedule(&c, key, &job).await
    }
    async fn record_event(
        &self,
        ticket_id: i64,
        change: tend_core::Change,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Event> {
        tickets::record_event(self, ticket_id, change, actor, now).await
    }
    async fn create_macro(&self, new: NewMacro, actor: Actor, now: DateTime<Utc>) -> Result<Macro> {
        macros::create(self, new, actor, now).await
    }
    async fn list_macros(&self, agent_id: i64) -> Result<Vec<Macro>> {
        macros::list(self, agent_id).await
    }
    async fn get_macro(&self, id: i64, agent_id: i64) -> Result<Macro> {
        macros::get(self, id, agent_id).await
    }
    async fn delete_macro(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        macros::delete(self, id, actor, now).await
    }
    async fn create_brand(
        &self,
        new: tend_store::brands::NewBrand,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::brands::Brand> {
        brands::create(self, new, actor, now).await
    }
    async fn update_brand(
        &self,
        id: i64,
        up: tend_store::brands::BrandUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::brands::Brand> {
        brands::update(self, id, up, actor, now).await
    }
    async fn get_brand(&self, id: i64) -> Result<tend_store::brands::Brand> {
        brands::get(self, id).await
    }
    async fn list_brands(&self, include_archived: bool) -> Result<Vec<tend_store::brands::Brand>> {
        brands::list(self, include_archived).await
    }
    async fn brand_by_slug(&self, slug: &str) -> Result<Option<tend_store::brands::Brand>> {
        brands::by(self, "slug", slug).await
    }
    async fn brand_by_host(&self, host: &str) -> Result<Option<tend_store::brands::Brand>> {
        brands::by(self, "host", host).await
    }
    async fn set_brand_logo(
        &self,
        id: i64,
        logo: Option<tend_store::brands::NewLogo>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::brands::Brand> {
        brands::set_logo(self, id, logo, actor, now).await
    }
    async fn brand_logo(&self, id: i64) -> Result<Option<tend_store::brands::BrandLogo>> {
        brands::logo(self, id).await
    }
    async fn revoke_token(&self, token_hash: &[u8]) -> Result<()> {
        let c = self.conn().await?;
        c.execute(
            "DELETE FROM api_tokens WHERE token_hash = $1",
            &[&token_hash],
        )
        .await
        .map_err(crate::db::backend)?;
        Ok(())
    }

    // --- organizations and customers ---------------------------------------------------

    async fn create_organization(
        &self,
        new: NewOrganization,
        now: DateTime<Utc>,
    ) -> Result<Organization> {
        admin::create_organization(self, new, now).await
    }
    async fn update_organization(
        &self,
        id: i64,
        up: OrganizationUpdate,
        now: DateTime<Utc>,
    ) -> Result<Organization> {
        admin::update_organization(self, id, up, now).await
    }
    async fn get_organization(&self, id: i64) -> Result<Organization> {
        admin::get_organization(self, id).await
    }
    async fn list_organizations(&self, page: PageRequest) -> Result<Page<Organization>> {
        admin::list_organizations(self, page).await
    }
    async fn create_customer(&self, new: NewCustomer, now: DateTime<Utc>) -> Result<Customer> {
        admin::create_customer(self, new, now).await
    }
    async fn update_customer(
        &self,
        id: i64,
        up: CustomerUpdate,
        now: DateTime<Utc>,
    ) -> Result<Customer> {
        admin::update_customer(self, id, up, now).await
    }
    async fn get_customer(&self, id: i64) -> Result<Customer> {
        admin::get_customer(self, id).await
    }
    async fn customer_by_identity(
        &self,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Option<Customer>> {
        admin::customer_by_identity(self, kind, value).await
    }
    async fn list_customers(&self, q: CustomerQuery) -> Result<Page<Customer>> {
        admin::list_customers(self, q).await
    }
    async fn customer_timeline(
        &self,
        customer_id: i64,
        viewer: &Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        admin::customer_timeline(self, customer_id, viewer, page).await
    }

    // --- custom fields -----------------------------------------------------------------

    async fn create_field_def(
        &self,
        new: NewFieldDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<FieldDef> {
        admin::create_field_def(self, new, actor, now).await
    }
    async fn list_field_defs(&self) -> Result<Vec<FieldDef>> {
        admin::list_field_defs(self).await
    }

    // --- mail ---------------------------------------------------------------------------

    async fn create_survey(
        &self,
        new: tend_store::survey::NewSurvey,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::Survey> {
        survey::create_survey(self, new, actor, now).await
    }
    async fn list_surveys(&self) -> Result<Vec<tend_store::survey::Survey>> {
        survey::list_surveys(self).await
    }
    async fn get_survey(&self, id: i64) -> Result<tend_store::survey::Survey> {
        survey::get_survey(self, id).await
    }
    async fn survey_scan_cursor(&self) -> Result<Option<i64>> {
        survey::survey_scan_cursor(self).await
    }
    async fn advance_survey_scan(
        &self,
        from: i64,
        to: i64,
        sends: Vec<tend_store::survey::ScheduledSend>,
        _now: DateTime<Utc>,
    ) -> Result<bool> {
        survey::advance_survey_scan(self, from, to, sends).await
    }
    async fn open_survey_invitation(
        &self,
        new: tend_store::survey::NewInvitation,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::InvitationOpened> {
        survey::open_survey_invitation(self, new, now).await
    }
    async fn survey_invitation_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<tend_store::survey::InvitationView>> {
        survey::survey_invitation_by_token(self, token_hash).await
    }
    async fn record_survey_response(
        &self,
        key: tend_store::survey::InvitationKey,
        answer: tend_store::survey::SurveyAnswer,
        follow_up: Option<tend_store::survey::FollowUp>,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::Answered> {
        survey::record_survey_response(self, key, answer, follow_up, now).await
    }
    async fn relationship_candidates(
        &self,
        since: DateTime<Utc>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        survey::relationship_candidates(self, since, after_id, limit).await
    }
    async fn customer_open_invitations(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<tend_store::survey::InvitationView>> {
        survey::customer_open_invitations(self, customer_id, now).await
    }
    async fn upsert_order(
        &self,
        new: tend_store::survey::NewOrder,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::OrderSaved> {
        survey::upsert_order(self, new, actor, now).await
    }
    async fn get_order(&self, id: i64) -> Result<tend_store::survey::Order> {
        survey::get_order(self, id).await
    }
    async fn customer_orders(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> Result<Vec<tend_store::survey::Order>> {
        survey::customer_orders(self, customer_id, limit).await
    }
    async fn survey_invitation(
        &self,
        id: i64,
    ) -> Result<Option<tend_store::survey::InvitationView>> {
        survey::survey_invitation(self, id).await
    }
    async fn remind_survey_invitation(
        &self,
        id: i64,
        token_hash: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<Option<tend_store::survey::InvitationView>> {
        survey::remind_survey_invitation(self, id, token_hash, now).await
    }
    async fn survey_responses(
        &self,
        of: tend_store::survey::ResponsesOf,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<tend_store::survey::ResponseWithInvitation>> {
        survey::survey_responses(self, of, before, limit).await
    }
    async fn survey_at_risk(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<tend_store::survey::AtRiskCustomer>> {
        survey::survey_at_risk(self, since, limit).await
    }
    async fn survey_counts(
        &self,
        q: tend_store::survey::ScoreQuery,
    ) -> Result<tend_store::survey::SurveyCounts> {
        survey::survey_counts(self, q).await
    }
    async fn create_survey_kiosk(
        &self,
        new: tend_store::survey::NewKiosk,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::SurveyKiosk> {
        survey::create_survey_kiosk(self, new, actor, now).await
    }
    async fn survey_kiosks(&self, survey_id: i64) -> Result<Vec<tend_store::survey::SurveyKiosk>> {
        survey::survey_kiosks(self, survey_id).await
    }
    async fn revoke_survey_kiosk(
        &self,
        survey_id: i64,
        kiosk_id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::SurveyKiosk> {
        survey::revoke_survey_kiosk(self, survey_id, kiosk_id, actor, now).await
    }
    async fn survey_kiosk(&self, kiosk_id: i64) -> Result<Option<tend_store::survey::KioskView>> {
        survey::survey_kiosk(self, kiosk_id).await
    }
    async fn record_kiosk_answers(
        &self,
        kiosk_id: i64,
        answers: Vec<tend_store::survey::KioskAnswer>,
        now: DateTime<Utc>,
    ) -> Result<tend_store::survey::KioskBatch> {
        survey::record_kiosk_answers(self, kiosk_id, answers, now).await
    }
    async fn create_mailbox(
        &self,
        new: tend_store::mail::NewMailbox,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::mail::Mailbox> {
        mail::create_mailbox(self, new, actor, now).await
    }
    async fn list_mailboxes(&self) -> Result<Vec<tend_store::mail::Mailbox>> {
        mail::list_mailboxes(self).await
    }
    // issue 4: mailbox admin
    async fn update_mailbox(
        &self,
        id: i64,
        up: tend_store::mail::MailboxUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::mail::Mailbox> {
        mail::update_mailbox(self, id, up, actor, now).await
    }
    async fn mail_knowledge(
        &self,
        q: tend_store::mail::MailQuestion,
    ) -> Result<tend_store::mail::MailKnowledge> {
        mail::mail_knowledge(self, q).await
    }
    async fn deliver_mail(
        &self,
        d: tend_store::mail::MailDelivery,
        now: DateTime<Utc>,
    ) -> Result<tend_store::mail::MailDelivered> {
        mail::deliver_mail(self, d, now).await
    }
    async fn list_mail_intake(
        &self,
        outcome: Option<String>,
        page: PageRequest,
    ) -> Result<Page<tend_store::mail::IntakeEntry>> {
        mail::list_mail_intake(self, outcome, page).await
    }
    async fn raw_mail(&self, intake_id: i64) -> Result<Vec<u8>> {
        mail::raw_mail(self, intake_id).await
    }
    async fn get_mail_intake(&self, intake_id: i64) -> Result<tend_store::mail::IntakeEntry> {
        mail::get_mail_intake(self, intake_id).await
    }
    async fn resolve_intake(
        &self,
        intake_id: i64,
        outcome: &str,
        reason: &str,
        ticket_id: Option<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        mail::resolve_intake(self, intake_id, outcome, reason, ticket_id, actor, now).await
    }
    async fn outbound_context(&self, ticket_id: i64) -> Result<tend_store::mail::OutboundContext> {
        mail::outbound_context(self, ticket_id).await
    }
    async fn message_for_mail(&self, ticket_id: i64, message_id: i64) -> Result<Message> {
        mail::message_for_mail(self, ticket_id, message_id).await
    }
    async fn record_outbound_mail(
        &self,
        ticket_id: i64,
        message_row: Option<i64>,
        message_id: &str,
        references: &[String],
        meta: Option<tend_store::mail::MailMeta>,
    ) -> Result<()> {
        mail::record_outbound_mail(self, ticket_id, message_row, message_id, references, meta).await
    }
    async fn imap_state(&self, mailbox_id: i64) -> Result<Option<(u32, u32)>> {
        mail::imap_state(self, mailbox_id).await
    }

    // --- tickets ------------------------------------------------------------------------

    async fn create_ticket(
        &self,
        new: NewTicket,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Created<Ticket>> {
        tickets::create_ticket(self, new, actor, now).await
    }
    async fn get_ticket(&self, id: i64, viewer: &Viewer) -> Result<Ticket> {
        tickets::get_ticket(self, id, viewer).await
    }
    async fn list_tickets(&self, q: &TicketQuery, viewer: &Viewer) -> Result<Page<Ticket>> {
        tickets::list_tickets(self, q, viewer).await
    }
    async fn count_tickets(
        &self,
        q: &TicketQuery,
        viewer: &Viewer,
        at_most: Option<i64>,
    ) -> Result<i64> {
        tickets::count_tickets(self, q, viewer, at_most).await
    }
    async fn set_sla_due(&self, ticket_id: i64, due: Option<DateTime<Utc>>) -> Result<()> {
        tickets::set_sla_due(self, ticket_id, due).await
    }
    // SLA bulk (issue 5): sla_bulk.rs
    async fn sla_clock_page(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<tend_store::sla_bulk::SlaClockTicket>> {
        sla_bulk::sla_clock_page(self, after_id, limit).await
    }
    async fn set_sla_dues(&self, updates: Vec<tend_store::sla_bulk::SlaDueUpdate>) -> Result<()> {
        sla_bulk::set_sla_dues(self, updates).await
    }
    async fn schedule_sla_check(&self, ticket_id: i64, at: DateTime<Utc>) -> Result<()> {
        sla_bulk::schedule_sla_check(self, ticket_id, at).await
    }
    async fn sla_check_at(&self, ticket_id: i64) -> Result<Option<DateTime<Utc>>> {
        sla_bulk::sla_check_at(self, ticket_id).await
    }
    async fn claim_sla_checks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max: i64,
    ) -> Result<Vec<i64>> {
        sla_bulk::claim_sla_checks(self, now, lease_until, max).await
    }
    async fn finish_sla_check(
        &self,
        ticket_id: i64,
        lease_until: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sla_bulk::finish_sla_check(self, ticket_id, lease_until, next).await
    }
    async fn update_ticket(
        &self,
        id: i64,
        patch: Patch,
        viewer: &Viewer,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        tickets::update_ticket(self, id, patch, viewer, actor, now).await
    }
    async fn add_message(
        &self,
        ticket_id: i64,
        new: NewMessage,
        viewer: &Viewer,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        tickets::add_message(self, ticket_id, new, viewer, actor, now).await
    }
    async fn list_messages(&self, ticket_id: i64, viewer: &Viewer) -> Result<Vec<Message>> {
        tickets::list_messages(self, ticket_id, viewer).await
    }
    async fn ticket_events(
        &self,
        ticket_id: i64,
        viewer: &Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>> {
        tickets::ticket_events(self, ticket_id, viewer, page).await
    }
    async fn get_attachment(&self, id: i64, viewer: &Viewer) -> Result<(Attachment, Vec<u8>)> {
        tickets::get_attachment(self, id, viewer).await
    }
    async fn list_tags(&self) -> Result<Vec<TagCount>> {
        tickets::list_tags(self).await
    }
    async fn last_seq(&self) -> Result<i64> {
        let c = self.conn().await?;
        let r = c
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])
            .await
            .map_err(crate::db::backend)?;
        Ok(r.get(0))
    }
    async fn events_since(&self, after: i64, limit: i64) -> Result<Vec<Event>> {
        tickets::events_since(self, after, limit).await
    }

    // --- import -------------------------------------------------------------------------

    async fn import(&self, batch: Vec<ImportRecord>, now: DateTime<Utc>) -> Result<ImportOutcome> {
        import::import(self, batch, now).await
    }

    // --- webhooks, audit ----------------------------------------------------------------

    async fn create_webhook(
        &self,
        new: NewWebhook,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Webhook> {
        admin::create_webhook(self, new, actor, now).await
    }
    async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        admin::list_webhooks(self).await
    }
    async fn get_webhook(&self, id: i64) -> Result<Webhook> {
        admin::get_webhook(self, id).await
    }
    async fn delete_webhook(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        admin::delete_webhook(self, id, actor, now).await
    }
    async fn list_audit(&self, page: PageRequest) -> Result<Page<AuditEntry>> {
        admin::list_audit(self, page).await
    }

    // --- durable jobs -------------------------------------------------------------------

    async fn enqueue_job(&self, job: NewJob) -> Result<i64> {
        jobs::enqueue_job(self, job).await
    }
    async fn lease_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        max: i64,
    ) -> Result<Vec<Job>> {
        jobs::lease_jobs(self, worker, now, lease, max).await
    }
    async fn complete_job(&self, id: i64, worker: &str) -> Result<()> {
        jobs::complete_job(self, id, worker).await
    }
    async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        jobs::fail_job(self, id, worker, error, retry_at).await
    }
    async fn list_jobs(&self, state: JobState, limit: i64) -> Result<Vec<Job>> {
        jobs::list_jobs(self, state, limit).await
    }
    async fn stats(&self) -> Result<Stats> {
        tickets::stats(self).await
    }
    // --- metrics
    async fn metric_state(&self) -> Result<tend_store::metrics::MetricState> {
        metrics::metric_state(self).await
    }
    async fn metric_histories(
        &self,
        ticket_ids: Vec<i64>,
    ) -> Result<Vec<tend_store::metrics::MetricHistory>> {
        metrics::metric_histories(self, ticket_ids).await
    }
    async fn metric_histories_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<tend_store::metrics::MetricHistory>> {
        metrics::metric_histories_after(self, after_id, limit).await
    }
    async fn metric_apply(&self, batch: tend_store::metrics::MetricBatch) -> Result<bool> {
        metrics::metric_apply(self, batch).await
    }
    async fn metric_rebuild_begin(&self) -> Result<tend_store::metrics::MetricState> {
        metrics::metric_rebuild_begin(self).await
    }
    async fn metric_rebuild_write(
        &self,
        generation: i64,
        tickets: Vec<tend_store::metrics::TicketMetricRow>,
        rows: Vec<(tend_core::metrics::RowKey, tend_core::metrics::RollupCell)>,
    ) -> Result<()> {
        metrics::metric_rebuild_write(self, generation, tickets, rows).await
    }
    async fn metric_rebuild_finish(&self, generation: i64, last_seq: i64) -> Result<()> {
        metrics::metric_rebuild_finish(self, generation, last_seq).await
    }
    async fn metric_rollups(
        &self,
        q: tend_store::metrics::RollupQuery,
    ) -> Result<Vec<tend_core::metrics::StoredRollup>> {
        metrics::metric_rollups(self, q).await
    }
    async fn metric_open_before(
        &self,
        family: tend_core::report::Family,
        at: DateTime<Utc>,
    ) -> Result<Vec<(tend_core::metrics::Dimensions, i64)>> {
        metrics::metric_open_before(self, family, at).await
    }
    async fn metric_created_by_hour(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64)>> {
        metrics::metric_created_by_hour(self, from, to).await
    }
    async fn list_targets(&self) -> Result<Vec<tend_store::metrics::Target>> {
        metrics::list_targets(self).await
    }
    async fn get_target(&self, id: i64) -> Result<tend_store::metrics::Target> {
        metrics::get_target(self, id).await
    }
    async fn create_target(
        &self,
        def: tend_core::targets::TargetDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::metrics::Target> {
        metrics::save_target(self, None, def, actor, now).await
    }
    async fn update_target(
        &self,
        id: i64,
        def: tend_core::targets::TargetDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::metrics::Target> {
        metrics::save_target(self, Some(id), def, actor, now).await
    }
    async fn delete_target(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        metrics::delete_target(self, id, actor, now).await
    }
    async fn list_triggers(&self) -> Result<Vec<tend_store::triggers::Trigger>> {
        triggers::list(self).await
    }
    async fn get_trigger(&self, id: i64) -> Result<tend_store::triggers::Trigger> {
        triggers::get(self, id).await
    }
    async fn create_trigger(
        &self,
        def: tend_core::automation::TriggerDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::triggers::Trigger> {
        triggers::create(self, def, actor, now).await
    }
    async fn update_trigger(
        &self,
        id: i64,
        def: tend_core::automation::TriggerDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::triggers::Trigger> {
        triggers::update(self, id, def, actor, now).await
    }
    async fn delete_trigger(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        triggers::delete(self, id, actor, now).await
    }
    async fn trigger_cursor(&self, ticket_id: i64) -> Result<Option<i64>> {
        triggers::cursor(self, ticket_id).await
    }
    async fn advance_trigger_cursor(&self, ticket_id: i64, from: i64, to: i64) -> Result<bool> {
        triggers::advance(self, ticket_id, from, to).await
    }
    async fn claim_automation_run(
        &self,
        automation_id: i64,
        ticket_id: i64,
        period: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        triggers::claim_automation_run(self, automation_id, ticket_id, period, now).await
    }
    // --- escalation (issue 5; migration 0022)
    async fn group_lead(&self, group_id: i64) -> Result<Option<i64>> {
        escalation::group_lead(self, group_id).await
    }
    async fn set_group_lead(
        &self,
        group_id: i64,
        agent_id: Option<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        escalation::set_group_lead(self, group_id, agent_id, actor, now).await
    }
    async fn agent_hours(
        &self,
        agent_id: i64,
    ) -> Result<Option<tend_store::escalation::AgentHours>> {
        escalation::agent_hours(self, agent_id).await
    }
    async fn set_agent_hours(
        &self,
        agent_id: i64,
        calendar: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<tend_store::escalation::AgentHours>> {
        escalation::set_agent_hours(self, agent_id, calendar, actor, now).await
    }
    async fn claim_digest(&self, key: &str, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Result<bool> {
        metrics::claim_digest(self, key, jobs, now).await
    }
    async fn replace_keyed_job(
        &self,
        key: &str,
        job: Option<NewJob>,
        _now: DateTime<Utc>,
    ) -> Result<()> {
        metrics::replace_keyed_job(self, key, job).await
    }
    async fn metric_drill(
        &self,
        q: tend_store::metrics::DrillQuery,
    ) -> Result<Vec<tend_store::metrics::DrillRow>> {
        metrics::metric_drill(self, q).await
    }
    async fn ops_counts(
        &self,
        now: DateTime<Utc>,
        soon: DateTime<Utc>,
    ) -> Result<tend_store::metrics::OpsCounts> {
        metrics::ops_counts(self, now, soon).await
    }
    // --- knowledge base -------------------------------------------------------------------
    async fn kb_create_category(
        &self,
        new: tend_store::kb::NewKbCategory,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbCategory> {
        kb::create_category(self, new, actor, now).await
    }
    async fn kb_update_category(
        &self,
        id: i64,
        up: tend_store::kb::KbGroupUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbCategory> {
        kb::update_category(self, id, up, actor, now).await
    }
    async fn kb_delete_category(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        kb::delete_category(self, id, actor, now).await
    }
    async fn kb_get_category(&self, id: i64) -> Result<tend_store::kb::KbCategory> {
        kb::get_category(self, id).await
    }
    async fn kb_list_categories(&self) -> Result<Vec<tend_store::kb::KbCategory>> {
        kb::list_categories(self).await
    }
    async fn kb_create_section(
        &self,
        new: tend_store::kb::NewKbSection,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbSection> {
        kb::create_section(self, new, actor, now).await
    }
    async fn kb_update_section(
        &self,
        id: i64,
        up: tend_store::kb::KbGroupUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbSection> {
        kb::update_section(self, id, up, actor, now).await
    }
    async fn kb_delete_section(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        kb::delete_section(self, id, actor, now).await
    }
    async fn kb_get_section(&self, id: i64) -> Result<tend_store::kb::KbSection> {
        kb::get_section(self, id).await
    }
    async fn kb_list_sections(
        &self,
        category_id: Option<i64>,
    ) -> Result<Vec<tend_store::kb::KbSection>> {
        kb::list_sections(self, category_id).await
    }
    async fn kb_create_article(
        &self,
        new: tend_store::kb::NewKbArticle,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbArticleFull> {
        kb::create_article(self, new, actor, now).await
    }
    async fn kb_update_article(
        &self,
        id: i64,
        up: tend_store::kb::KbArticleUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbArticle> {
        kb::update_article(self, id, up, actor, now).await
    }
    async fn kb_delete_article(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()> {
        kb::delete_article(self, id, actor, now).await
    }
    async fn kb_get_article(&self, id: i64) -> Result<tend_store::kb::KbArticleFull> {
        kb::get_article(self, id).await
    }
    async fn kb_list_articles(
        &self,
        q: tend_store::kb::KbArticleQuery,
    ) -> Result<Page<tend_store::kb::KbArticle>> {
        kb::list_articles(self, q).await
    }
    async fn kb_save_translation(
        &self,
        article_id: i64,
        locale: &str,
        input: tend_store::kb::KbTranslationInput,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbTranslation> {
        kb::save_translation_for(self, article_id, locale, input, actor, now).await
    }
    async fn kb_delete_translation(
        &self,
        article_id: i64,
        locale: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        kb::delete_translation(self, article_id, locale, actor, now).await
    }
    async fn kb_revisions(
        &self,
        article_id: i64,
        locale: &str,
    ) -> Result<Vec<tend_store::kb::KbRevision>> {
        kb::revisions(self, article_id, locale).await
    }
    async fn kb_revision(
        &self,
        article_id: i64,
        revision_id: i64,
    ) -> Result<tend_store::kb::KbRevision> {
        kb::revision(self, article_id, revision_id).await
    }
    async fn kb_restore_revision(
        &self,
        article_id: i64,
        revision_id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbTranslation> {
        kb::restore_revision(self, article_id, revision_id, actor, now).await
    }
    async fn kb_add_feedback(
        &self,
        new: tend_store::kb::NewKbFeedback,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbFeedback> {
        kb::add_feedback(self, new, now).await
    }
    async fn kb_list_feedback(
        &self,
        article_id: i64,
        page: PageRequest,
    ) -> Result<Page<tend_store::kb::KbFeedback>> {
        kb::list_feedback(self, article_id, page).await
    }
    async fn kb_record_view(&self, article_id: i64) -> Result<()> {
        kb::record_view(self, article_id).await
    }
    async fn kb_add_attachment(
        &self,
        article_id: i64,
        file: NewAttachment,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb::KbAttachment> {
        kb::add_attachment(self, article_id, file, actor, now).await
    }
    async fn kb_attachments(&self, article_id: i64) -> Result<Vec<tend_store::kb::KbAttachment>> {
        kb::attachments(self, article_id).await
    }
    async fn kb_attachment(&self, id: i64) -> Result<(tend_store::kb::KbAttachment, Vec<u8>)> {
        kb::attachment(self, id).await
    }
    async fn kb_live_counts(&self, now: DateTime<Utc>) -> Result<Vec<tend_store::kb::KbLiveCount>> {
        kb::live_counts(self, now).await
    }
    async fn kb_changes_since(&self, after_seq: i64, limit: i64) -> Result<Vec<(i64, i64)>> {
        kb::changes_since(self, after_seq, limit).await
    }
    async fn kb_article_for_index(
        &self,
        article_id: i64,
    ) -> Result<Option<tend_store::kb::KbArticleFull>> {
        kb::article_for_index(self, article_id).await
    }
    async fn kb_article_ids(&self, after_id: i64, limit: i64) -> Result<Vec<i64>> {
        kb::article_ids(self, after_id, limit).await
    }
    async fn kb_track(
        &self,
        ev: tend_store::kb_analytics::KbTrack,
        now: DateTime<Utc>,
    ) -> Result<()> {
        kb_analytics::track(self, ev, now).await
    }
    async fn kb_deflect_suggested(
        &self,
        seen: tend_store::kb_analytics::SuggestSeen,
        now: DateTime<Utc>,
    ) -> Result<()> {
        kb_analytics::suggested(self, seen, now).await
    }
    async fn kb_deflect_clicked(
        &self,
        session: &str,
        article_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        kb_analytics::clicked(self, session, article_id, now).await
    }
    async fn kb_customer_ticket(
        &self,
        source: &'static str,
        session: Option<String>,
        ticket_id: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        kb_analytics::customer_ticket(self, source, session, ticket_id, now).await
    }
    async fn kb_deflect_session(
        &self,
        session: &str,
    ) -> Result<Option<tend_store::kb_analytics::DeflectSession>> {
        kb_analytics::session(self, session).await
    }
    async fn kb_auto_reply_issue(
        &self,
        ticket_id: i64,
        token_hash: Vec<u8>,
        article_ids: Vec<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        kb_analytics::auto_reply_issue(self, ticket_id, token_hash, article_ids, now).await
    }
    async fn kb_auto_reply_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<tend_store::kb_analytics::AutoReply>> {
        kb_analytics::auto_reply_by_token(self, token_hash).await
    }
    async fn kb_auto_reply_solve(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<tend_store::kb_analytics::AutoReplySolve> {
        kb_analytics::auto_reply_solve(self, token_hash, now).await
    }
    async fn kb_analytics(
        &self,
        q: tend_store::kb_analytics::KbAnalyticsQuery,
    ) -> Result<tend_store::kb_analytics::KbAnalyticsData> {
        kb_analytics::analytics(self, q).await
    }
    // --- search feed
    // --- routing (issue 5; migration 0021)
    async fn agent_routing(&self, agent_id: i64) -> Result<tend_store::routing::AgentRouting> {
        routing::agent(self, agent_id).await
    }
    async fn list_agent_routing(&self) -> Result<Vec<tend_store::routing::AgentRouting>> {
        routing::list_agents(self).await
    }
    async fn set_agent_routing(
        &self,
        agent_id: i64,
        up: tend_store::routing::AgentRoutingUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::AgentRouting> {
        routing::set_agent(self, agent_id, up, actor, now).await
    }
    async fn group_routing(&self, group_id: i64) -> Result<tend_store::routing::GroupRouting> {
        routing::group(self, group_id).await
    }
    async fn list_group_routing(&self) -> Result<Vec<tend_store::routing::GroupRouting>> {
        routing::list_groups(self).await
    }
    async fn set_group_routing(
        &self,
        group_id: i64,
        up: tend_store::routing::GroupRoutingUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::GroupRouting> {
        routing::set_group(self, group_id, up, actor, now).await
    }
    async fn routing_context(
        &self,
        ticket_id: i64,
    ) -> Result<Option<tend_store::routing::RoutingContext>> {
        routing::context(self, ticket_id).await
    }
    async fn routing_waiting(&self, after_id: i64, limit: i64) -> Result<Vec<i64>> {
        routing::waiting(self, after_id, limit).await
    }
    async fn routing_assign(
        &self,
        a: tend_store::routing::Assign,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::Assigned> {
        routing::assign(self, a, now).await
    }
    async fn routing_release(
        &self,
        agent_id: i64,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<tend_store::routing::Released> {
        routing::release(self, agent_id, limit, now).await
    }
    async fn tickets_for_index(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(Ticket, Vec<String>)>> {
        tickets::tickets_for_index(self, after_id, limit).await
    }
    async fn tickets_for_index_by_id(&self, ids: Vec<i64>) -> Result<Vec<(Ticket, Vec<String>)>> {
        tickets::tickets_for_index_by_id(self, ids).await
    }
}
