//! Storage traits, the records they return, and their errors. One implementation per
//! backend (tend-sqlite, tend-postgres); both pass the same integration suite.

pub mod brands;
mod cursor;
pub mod escalation;
pub mod kb;
pub mod kb_analytics;
pub mod mail;
pub mod metrics;
mod records;
pub mod routing;
pub mod sla_bulk;
pub mod survey;
pub mod triggers;

pub use cursor::{decode_id_cursor, encode_id_cursor, Cursor, SortKey, TicketSort};
pub use mail::{MAIL_ACK_JOB, MAIL_REPLY_JOB};
pub use records::*;
pub use survey::SURVEY_SEND_JOB;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tend_core::import::ImportRecord;
use tend_core::ticket::Patch;
use tend_core::{Actor, Change, Ticket, Viewer};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist (or the viewer may not see it: same answer, no IDOR).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is taken, e.g. an e-mail or a group name.
    #[error("{0}")]
    Conflict(String),
    /// A value refers to something that does not exist or is not allowed here.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The database failed. Logged, never shown.
    #[error("database: {0}")]
    Backend(String),
}

impl From<tend_core::Invalid> for StoreError {
    fn from(e: tend_core::Invalid) -> Self {
        StoreError::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

impl StoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Tend keeps. Writes run in one transaction each (the SQLite backend groups
/// concurrent transactions into one commit); a write returns only once it is durable.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// A cheap round trip, for /readyz.
    async fn ping(&self) -> Result<()>;

    // --- agents, groups, tokens -------------------------------------------------------
    async fn create_agent(&self, new: NewAgent, actor: Actor, now: DateTime<Utc>) -> Result<Agent>;
    async fn update_agent(
        &self,
        id: i64,
        up: AgentUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Agent>;
    async fn get_agent(&self, id: i64) -> Result<Agent>;
    async fn agent_by_email(&self, email: &str) -> Result<Option<Agent>>;
    /// The stored argon2 hash of an agent's password, if they have one.
    async fn agent_password_hash(&self, agent_id: i64) -> Result<Option<String>>;
    async fn list_agents(&self) -> Result<Vec<Agent>>;
    async fn create_group(&self, new: NewGroup, actor: Actor, now: DateTime<Utc>) -> Result<Group>;
    async fn get_group(&self, id: i64) -> Result<Group>;
    async fn list_groups(&self) -> Result<Vec<Group>>;
    /// Replaces a group's members.
    async fn set_group_members(
        &self,
        group_id: i64,
        agent_ids: Vec<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Group>;
    /// Stores a token by the SHA-256 of its secret; the secret itself is never stored.
    async fn create_token(
        &self,
        agent_id: i64,
        name: String,
        token_hash: Vec<u8>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo>;
    /// The viewer a token stands for, if the token exists and its agent is active.
    async fn viewer_by_token(&self, token_hash: &[u8]) -> Result<Option<Viewer>>;
    /// Deletes a token (sign-out). Unknown tokens are not an error.
    async fn revoke_token(&self, token_hash: &[u8]) -> Result<()>;
    /// The viewer for an agent (with their current groups).
    async fn viewer(&self, agent_id: i64) -> Result<Viewer>;

    /// Saved views: create, replace, delete (each audited as `view.created|updated|deleted`).
    async fn create_saved_view(
        &self,
        new: NewSavedView,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView>;
    async fn update_saved_view(
        &self,
        id: i64,
        new: NewSavedView,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SavedView>;
    async fn delete_saved_view(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;
    async fn get_saved_view(&self, id: i64) -> Result<SavedView>;
    /// The shared views and the agent's own, shared first, then by name.
    async fn list_saved_views(&self, agent_id: i64) -> Result<Vec<SavedView>>;
    /// Stores an agent's password-reset token by its hash (single use, valid until
    /// `expires_at`); the agent's earlier unused reset tokens stop working.
    async fn create_password_reset(
        &self,
        agent_id: i64,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The agent a reset token is for, if it is unused and unexpired (does not use it).
    async fn password_reset_agent(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>>;
    /// Uses a reset token: sets the password, signs the agent's web sessions out and audits
    /// `agent.password_reset`, in one transaction. `None` if the token is unknown, used or
    /// expired (nothing changes then).
    async fn redeem_password_reset(
        &self,
        token_hash: &[u8],
        password_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>>;

    // --- customer portal ----------------------------------------------------------------
    /// Stores a magic-link (`session: false`, single use) or portal-session token by its hash.
    async fn create_customer_token(
        &self,
        customer_id: i64,
        session: bool,
        token_hash: Vec<u8>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Redeems a magic-link token: its customer, once, if it has not expired.
    async fn redeem_magic_token(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>>;
    /// The customer of a portal session that has not expired.
    async fn customer_by_session(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<i64>>;
    /// Ends a portal session (sign-out).
    async fn revoke_customer_token(&self, token_hash: &[u8]) -> Result<()>;

    // --- organizations and customers ---------------------------------------------------
    async fn create_organization(
        &self,
        new: NewOrganization,
        now: DateTime<Utc>,
    ) -> Result<Organization>;
    async fn update_organization(
        &self,
        id: i64,
        up: OrganizationUpdate,
        now: DateTime<Utc>,
    ) -> Result<Organization>;
    async fn get_organization(&self, id: i64) -> Result<Organization>;
    async fn list_organizations(&self, page: PageRequest) -> Result<Page<Organization>>;
    async fn create_customer(&self, new: NewCustomer, now: DateTime<Utc>) -> Result<Customer>;
    async fn update_customer(
        &self,
        id: i64,
        up: CustomerUpdate,
        now: DateTime<Utc>,
    ) -> Result<Customer>;
    async fn get_customer(&self, id: i64) -> Result<Customer>;
    async fn customer_by_identity(
        &self,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Option<Customer>>;
    async fn list_customers(&self, q: CustomerQuery) -> Result<Page<Customer>>;
    /// The events of all the customer's tickets the viewer may see, newest first.
    async fn customer_timeline(
        &self,
        customer_id: i64,
        viewer: &Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>>;

    // --- custom fields -------------------------------------------------------------------
    async fn create_field_def(
        &self,
        new: NewFieldDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<FieldDef>;
    async fn list_field_defs(&self) -> Result<Vec<FieldDef>>;

    // --- mail -------------------------------------------------------------------------
    async fn create_mailbox(
        &self,
        new: mail::NewMailbox,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<mail::Mailbox>;
    async fn list_mailboxes(&self) -> Result<Vec<mail::Mailbox>>;
    // --- mailbox admin (issue 4: workspace and portal) ----------------------------------
    /// Changes a mailbox (`NotFound`, `Conflict` for an address in use, `Invalid` for an
    /// unknown group); audited as `mailbox.updated` with the changed fields' names.
    async fn update_mailbox(
        &self,
        id: i64,
        up: mail::MailboxUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<mail::Mailbox>;
    /// Answers threading's questions about one mail in one read.
    async fn mail_knowledge(&self, q: mail::MailQuestion) -> Result<mail::MailKnowledge>;
    /// Logs one received mail with its raw bytes and applies its action, in one transaction.
    /// A Message-ID already stored makes it a `duplicate` (nothing else is written).
    async fn deliver_mail(
        &self,
        d: mail::MailDelivery,
        now: DateTime<Utc>,
    ) -> Result<mail::MailDelivered>;
    /// The intake log, newest first; `outcome` filters (e.g. `review`).
    async fn list_mail_intake(
        &self,
        outcome: Option<String>,
        page: PageRequest,
    ) -> Result<Page<mail::IntakeEntry>>;
    /// The raw bytes of a logged mail.
    async fn raw_mail(&self, intake_id: i64) -> Result<Vec<u8>>;
    async fn get_mail_intake(&self, intake_id: i64) -> Result<mail::IntakeEntry>;
    /// Settles a mail held for review: its outcome becomes `outcome` (`accepted`, `discarded`)
    /// with `reason`; `Conflict` if it is not in review (someone else settled it).
    async fn resolve_intake(
        &self,
        intake_id: i64,
        outcome: &str,
        reason: &str,
        ticket_id: Option<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Who and how to mail about a ticket (no viewer check: used by the worker).
    async fn outbound_context(&self, ticket_id: i64) -> Result<mail::OutboundContext>;
    /// A message of a ticket, without a viewer check (used by the worker).
    async fn message_for_mail(&self, ticket_id: i64, message_id: i64) -> Result<Message>;
    /// Records a Message-ID we sent (so replies to it thread) and its References; idempotent.
    async fn record_outbound_mail(
        &self,
        ticket_id: i64,
        message_row: Option<i64>,
        message_id: &str,
        references: &[String],
        meta: Option<mail::MailMeta>,
    ) -> Result<()>;
    /// The last imported UID of a mailbox's IMAP folder and its UIDVALIDITY.
    async fn imap_state(&self, mailbox_id: i64) -> Result<Option<(u32, u32)>>;

    // --- surveys ----------------------------------------------------------------------
    async fn create_survey(
        &self,
        new: survey::NewSurvey,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<survey::Survey>;
    async fn list_surveys(&self) -> Result<Vec<survey::Survey>>;
    async fn get_survey(&self, id: i64) -> Result<survey::Survey>;
    /// The last event sequence number looked at for solves, or `None` when no survey is
    /// active (then nothing needs scanning).
    async fn survey_scan_cursor(&self) -> Result<Option<i64>>;
    /// Moves the scan cursor from `from` to `to` and schedules `sends`, in one transaction;
    /// `false` (and nothing written) if another server moved the cursor first.
    async fn advance_survey_scan(
        &self,
        from: i64,
        to: i64,
        sends: Vec<survey::ScheduledSend>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Creates the invitation for one solve unless the customer is throttled; a retried send
    /// (same `send_key`, not answered) gets its token replaced.
    async fn open_survey_invitation(
        &self,
        new: survey::NewInvitation,
        now: DateTime<Utc>,
    ) -> Result<survey::InvitationOpened>;
    /// The invitation whose token has this SHA-256, with its survey and answer.
    async fn survey_invitation_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<survey::InvitationView>>;
    /// Records (or, once within the edit window, changes) the answer to an invitation. A
    /// first answer or an edit opens `follow_up` (if given and none was opened before) in the
    /// same transaction, linked to the surveyed ticket.
    async fn record_survey_response(
        &self,
        key: survey::InvitationKey,
        answer: survey::SurveyAnswer,
        follow_up: Option<survey::FollowUp>,
        now: DateTime<Utc>,
    ) -> Result<survey::Answered>;
    /// Answers counted by score (and invitations sent), for the score math in tend-core.
    async fn survey_counts(&self, q: survey::ScoreQuery) -> Result<survey::SurveyCounts>;
    /// Creates a kiosk for a survey (`NotFound` if there is no such survey).
    async fn create_survey_kiosk(
        &self,
        new: survey::NewKiosk,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<survey::SurveyKiosk>;
    /// A survey's kiosks, revoked ones included.
    async fn survey_kiosks(&self, survey_id: i64) -> Result<Vec<survey::SurveyKiosk>>;
    /// Revokes a kiosk of a survey (idempotent; `NotFound` if it is not that survey's).
    async fn revoke_survey_kiosk(
        &self,
        survey_id: i64,
        kiosk_id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<survey::SurveyKiosk>;
    /// A kiosk by id, with its survey (the caller compares the token hash).
    async fn survey_kiosk(&self, kiosk_id: i64) -> Result<Option<survey::KioskView>>;
    /// Creates an order or updates it by its external id; in the same transaction queues a
    /// `survey.order` job for each event that is new (placed; delivered once
    /// `delivered_at` is first set), keyed so a replay queues nothing twice.
    async fn upsert_order(
        &self,
        new: survey::NewOrder,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<survey::OrderSaved>;
    async fn get_order(&self, id: i64) -> Result<survey::Order>;
    /// A customer's orders, newest first (at most `limit`).
    async fn customer_orders(&self, customer_id: i64, limit: i64) -> Result<Vec<survey::Order>>;
    /// An invitation by id, with its survey and answer.
    async fn survey_invitation(&self, id: i64) -> Result<Option<survey::InvitationView>>;
    /// Gives an unanswered, unexpired, not yet reminded invitation its reminder token
    /// (a second link; the first mail's links keep working). `None` if it may not be
    /// reminded.
    async fn remind_survey_invitation(
        &self,
        id: i64,
        token_hash: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<Option<survey::InvitationView>>;
    /// A survey's (or a customer's) answers, newest first (keyset: ids below `before`), with
    /// their invitations.
    async fn survey_responses(
        &self,
        of: survey::ResponsesOf,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<survey::ResponseWithInvitation>>;
    /// Customers with an e-mail address and a ticket updated or an order placed since
    /// `since`, by id after `after_id` (relationship survey rounds).
    async fn relationship_candidates(
        &self,
        since: DateTime<Utc>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<i64>>;
    /// The customer's unanswered, unexpired invitations, newest first (for the portal).
    async fn customer_open_invitations(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<survey::InvitationView>>;
    /// Customers at risk: low answers since `since`, or open follow-up/complaint tickets;
    /// most at risk first.
    async fn survey_at_risk(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<survey::AtRiskCustomer>>;
    /// Stores a batch of kiosk answers in one transaction, each at most once per kiosk (by
    /// `client_id`): replays and overlapping batches store nothing twice.
    async fn record_kiosk_answers(
        &self,
        kiosk_id: i64,
        answers: Vec<survey::KioskAnswer>,
        now: DateTime<Utc>,
    ) -> Result<survey::KioskBatch>;

    // --- tickets ----------------------------------------------------------------------
    /// Creates a ticket, its first message if any, and its events, in one transaction.
    /// With an idempotency key, a second call with the same key returns the first ticket.
    async fn create_ticket(
        &self,
        new: NewTicket,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Created<Ticket>>;
    /// The ticket if it exists and the viewer may see it.
    async fn get_ticket(&self, id: i64, viewer: &Viewer) -> Result<Ticket>;
    async fn list_tickets(&self, q: &TicketQuery, viewer: &Viewer) -> Result<Page<Ticket>>;
    /// How many tickets a query matches for this viewer (sort, cursor and limit ignored),
    /// counting no further than `at_most` (a view counter shows "10,000+" rather than
    /// walking 160,000 open tickets of a million on every refresh).
    async fn count_tickets(
        &self,
        q: &TicketQuery,
        viewer: &Viewer,
        at_most: Option<i64>,
    ) -> Result<i64>;
    /// Stores the ticket's next SLA due time (derived by the `sla.check` job; no event).
    async fn set_sla_due(&self, ticket_id: i64, due: Option<DateTime<Utc>>) -> Result<()>;

    // --- SLA bulk (issue 5; sla_bulk.rs) --------------------------------------------------
    /// Up to `limit` open tickets (new, open, pending, on_hold) with `id > after_id`, in id
    /// order, each with its current facts, stored due time and only the events the SLA clock
    /// reads (created, status changes, public messages), in order. One query for the tickets
    /// and one for their events. No viewer: the recompute pass sees every ticket.
    async fn sla_clock_page(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<sla_bulk::SlaClockTicket>>;
    /// Stores each ticket's next due time (when `due_changed`) and moves its next check to
    /// `next_check` (an earlier scheduled check stays), in one transaction; a ticket whose
    /// `last_seq` is no longer the update's is left alone.
    async fn set_sla_dues(&self, updates: Vec<sla_bulk::SlaDueUpdate>) -> Result<()>;

    // --- SLA checks on the ticket row (issue 5; migration 0027; sla_bulk.rs) ---------------
    /// Schedules the ticket's SLA check at `at` unless one is already scheduled earlier
    /// (`tickets.sla_check_us`; ticket writes do this in their own transaction).
    async fn schedule_sla_check(&self, ticket_id: i64, at: DateTime<Utc>) -> Result<()>;
    /// When the ticket's SLA check runs next (`None`: none scheduled; while a worker runs it,
    /// the end of that worker's lease).
    async fn sla_check_at(&self, ticket_id: i64) -> Result<Option<DateTime<Utc>>>;
    /// Claims up to `max` tickets whose check is due at `now` and that no worker holds, in
    /// due order: each is leased until `lease_until`, and its check moves there (a worker that
    /// dies leaves a check that runs again when the lease ends). Two workers never hold the
    /// same ticket (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn claim_sla_checks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        max: i64,
    ) -> Result<Vec<i64>>;
    /// Ends a claimed check: the next check at `next` — or earlier, when a write scheduled
    /// one while the check ran. Nothing when the lease `lease_until` is no longer held.
    async fn finish_sla_check(
        &self,
        ticket_id: i64,
        lease_until: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// Applies a patch: computes the changes against the current state inside the transaction.
    async fn update_ticket(
        &self,
        id: i64,
        patch: Patch,
        viewer: &Viewer,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket>;
    async fn add_message(
        &self,
        ticket_id: i64,
        new: NewMessage,
        viewer: &Viewer,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Message>;
    async fn list_messages(&self, ticket_id: i64, viewer: &Viewer) -> Result<Vec<Message>>;
    /// A ticket's events, oldest first.
    async fn ticket_events(
        &self,
        ticket_id: i64,
        viewer: &Viewer,
        page: PageRequest,
    ) -> Result<Page<Event>>;
    /// Attachment bytes, if the viewer may see the ticket it belongs to.
    async fn get_attachment(&self, id: i64, viewer: &Viewer) -> Result<(Attachment, Vec<u8>)>;
    async fn list_tags(&self) -> Result<Vec<TagCount>>;
    /// Events with `seq > after`, in sequence order, only from committed transactions that
    /// no earlier-numbered transaction can still precede (safe to tail).
    async fn events_since(&self, after: i64, limit: i64) -> Result<Vec<Event>>;
    /// The highest event sequence number (0 when there are none); cheap.
    async fn last_seq(&self) -> Result<i64>;

    // --- import -----------------------------------------------------------------------
    /// Writes a batch of validated records in one transaction; records whose external id
    /// exists already are skipped. Missing groups, agents (inactive, no password),
    /// organizations and customers are created.
    async fn import(&self, batch: Vec<ImportRecord>, now: DateTime<Utc>) -> Result<ImportOutcome>;

    // --- settings ---------------------------------------------------------------------
    /// A settings document by key (e.g. "sla").
    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>>;
    /// Replaces a settings document; audited as `setting.changed`.
    async fn put_setting(
        &self,
        key: &str,
        value: serde_json::Value,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()>;

    // --- macros -----------------------------------------------------------------------
    async fn create_macro(&self, new: NewMacro, actor: Actor, now: DateTime<Utc>) -> Result<Macro>;
    /// Shared macros and the agent's own, by title.
    async fn list_macros(&self, agent_id: i64) -> Result<Vec<Macro>>;
    /// A shared macro or one of the agent's own; NotFound("macro") otherwise.
    async fn get_macro(&self, id: i64, agent_id: i64) -> Result<Macro>;
    async fn delete_macro(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;

    // --- brands -----------------------------------------------------------------------
    // Every change is audited (`brand.created`, `brand.updated`, `brand.logo_changed`,
    // `brand.logo_removed`) in its transaction.
    /// Creates a brand; `Conflict` if its slug or host is taken.
    async fn create_brand(
        &self,
        new: brands::NewBrand,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<brands::Brand>;
    /// Changes the given fields; `Conflict` if the new slug or host is taken.
    async fn update_brand(
        &self,
        id: i64,
        up: brands::BrandUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<brands::Brand>;
    async fn get_brand(&self, id: i64) -> Result<brands::Brand>;
    /// By id (the first active brand is the default); archived ones only if asked for.
    async fn list_brands(&self, include_archived: bool) -> Result<Vec<brands::Brand>>;
    async fn brand_by_slug(&self, slug: &str) -> Result<Option<brands::Brand>>;
    /// The brand with this (normalised) host, archived or not.
    async fn brand_by_host(&self, host: &str) -> Result<Option<brands::Brand>>;
    /// Replaces (`Some`) or removes (`None`) a brand's logo.
    async fn set_brand_logo(
        &self,
        id: i64,
        logo: Option<brands::NewLogo>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<brands::Brand>;
    async fn brand_logo(&self, id: i64) -> Result<Option<brands::BrandLogo>>;

    // --- webhooks, audit --------------------------------------------------------------
    async fn create_webhook(
        &self,
        new: NewWebhook,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Webhook>;
    async fn list_webhooks(&self) -> Result<Vec<Webhook>>;
    async fn get_webhook(&self, id: i64) -> Result<Webhook>;
    async fn delete_webhook(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;
    async fn list_audit(&self, page: PageRequest) -> Result<Page<AuditEntry>>;

    // --- durable jobs -----------------------------------------------------------------
    async fn enqueue_job(&self, job: NewJob) -> Result<i64>;
    /// Queues a job under a key: if a job with that key is already queued (and not leased),
    /// it is moved to the earlier of the two times instead of adding a second one.
    async fn schedule_job(&self, key: &str, job: NewJob) -> Result<()>;
    /// Appends a system event (SLA marks) to a ticket without visibility checks; webhooks fire.
    async fn record_event(
        &self,
        ticket_id: i64,
        change: Change,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Event>;
    /// Leases up to `max` due jobs to `worker` until `now + lease`; a job whose lease ran out
    /// can be leased again (the worker died).
    async fn lease_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        max: i64,
    ) -> Result<Vec<Job>>;
    async fn complete_job(&self, id: i64, worker: &str) -> Result<()>;
    /// Records a failure: retried at `retry_at`, or moved to the dead letters when `None`.
    async fn fail_job(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    async fn list_jobs(&self, state: JobState, limit: i64) -> Result<Vec<Job>>;
    /// Numbers for /metrics: tickets, open tickets, queued and dead jobs, last event seq.
    async fn stats(&self) -> Result<Stats>;

    // --- metrics
    /// Where the metric tailer stands.
    async fn metric_state(&self) -> Result<metrics::MetricState>;
    /// The histories of these tickets (oldest event first) with their stored metric rows;
    /// tickets without events are left out.
    async fn metric_histories(&self, ticket_ids: Vec<i64>) -> Result<Vec<metrics::MetricHistory>>;
    /// The histories of up to `limit` tickets with `id > after_id`, by id (for rebuilds; no
    /// stored rows).
    async fn metric_histories_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<metrics::MetricHistory>>;
    /// Applies a tailer batch in one transaction if the state is still (`from_seq`,
    /// `generation`, not rebuilding); `false` (nothing written) otherwise.
    async fn metric_apply(&self, batch: metrics::MetricBatch) -> Result<bool>;
    /// Starts a rebuild: a new generation, `rebuilding` set, metric tables emptied. Returns
    /// the new state with `last_seq` = a sequence number up to which every event is
    /// committed and visible (the checkpoint to set when the rebuild finishes).
    async fn metric_rebuild_begin(&self) -> Result<metrics::MetricState>;
    /// Writes ticket rows and whole roll-up rows of a rebuild; `Conflict` if another rebuild
    /// started since.
    async fn metric_rebuild_write(
        &self,
        generation: i64,
        tickets: Vec<metrics::TicketMetricRow>,
        rows: Vec<(tend_core::metrics::RowKey, tend_core::metrics::RollupCell)>,
    ) -> Result<()>;
    /// Ends a rebuild: the checkpoint becomes `last_seq`, tailers resume.
    async fn metric_rebuild_finish(&self, generation: i64, last_seq: i64) -> Result<()>;
    /// Roll-up rows of the given grain ranges.
    async fn metric_rollups(
        &self,
        q: metrics::RollupQuery,
    ) -> Result<Vec<tend_core::metrics::StoredRollup>>;
    /// Per dimensions of the family's rows (cube, agent, tag, language): created − solves +
    /// reopens of every roll-up before `at` (an hour), i.e. the tickets open at that instant.
    async fn metric_open_before(
        &self,
        family: tend_core::report::Family,
        at: DateTime<Utc>,
    ) -> Result<Vec<(tend_core::metrics::Dimensions, i64)>>;
    /// Tickets created per UTC hour in `[from, to)` (hours with none left out), for the
    /// weekday × hour heat map.
    async fn metric_created_by_hour(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, i64)>>;
    // --- metric targets, digests, operations (issue 8; tables of migration 0016)
    /// Every target, by id.
    async fn list_targets(&self) -> Result<Vec<metrics::Target>>;
    async fn get_target(&self, id: i64) -> Result<metrics::Target>;
    /// Audited `target.created`; `Conflict` when the name is taken.
    async fn create_target(
        &self,
        def: tend_core::targets::TargetDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<metrics::Target>;
    /// Replaces the definition; audited `target.updated`.
    async fn update_target(
        &self,
        id: i64,
        def: tend_core::targets::TargetDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<metrics::Target>;
    /// Audited `target.deleted`.
    async fn delete_target(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;
    /// Claims a digest (e.g. `weekly:2026-W48`) and queues its jobs in one transaction;
    /// `false` (nothing queued) when it was claimed before — so it goes out once.
    async fn claim_digest(&self, key: &str, jobs: Vec<NewJob>, now: DateTime<Utc>) -> Result<bool>;
    // --- issue 8: moving a keyed job (the weekly digest's new weekday/time) ---------------
    /// Sets the queued (not leased) job under `key` to exactly `job` — its time may be later
    /// than the queued one, unlike `schedule_job` — or removes it (`None`), in one
    /// transaction. A leased (running) job is left alone.
    async fn replace_keyed_job(
        &self,
        key: &str,
        job: Option<NewJob>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Tickets behind a report number (metric rows, newest first; no viewer check: the
    /// caller authorizes).
    async fn metric_drill(&self, q: metrics::DrillQuery) -> Result<Vec<metrics::DrillRow>>;
    /// Open, unassigned and SLA-at-risk counts (due before `soon`), from indexes.
    async fn ops_counts(
        &self,
        now: DateTime<Utc>,
        soon: DateTime<Utc>,
    ) -> Result<metrics::OpsCounts>;
    // --- knowledge base -------------------------------------------------------------------
    // Categories → sections → articles; each article has translations (one per locale) with
    // revisions. Reads here do not filter by visibility (callers decide with
    // `kb::KbTranslationHead::is_live`), except lists given `live_at`. Every change to an
    // article appends to the change feed in the same transaction.
    async fn kb_create_category(
        &self,
        new: kb::NewKbCategory,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbCategory>;
    async fn kb_update_category(
        &self,
        id: i64,
        up: kb::KbGroupUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbCategory>;
    /// `Conflict` while the category has sections.
    async fn kb_delete_category(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;
    async fn kb_get_category(&self, id: i64) -> Result<kb::KbCategory>;
    /// By position, then id.
    async fn kb_list_categories(&self) -> Result<Vec<kb::KbCategory>>;
    async fn kb_create_section(
        &self,
        new: kb::NewKbSection,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbSection>;
    /// A move to another category announces every article of the section on the feed.
    async fn kb_update_section(
        &self,
        id: i64,
        up: kb::KbGroupUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbSection>;
    /// `Conflict` while the section has articles.
    async fn kb_delete_section(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;
    async fn kb_get_section(&self, id: i64) -> Result<kb::KbSection>;
    /// By position, then id; all sections or one category's.
    async fn kb_list_sections(&self, category_id: Option<i64>) -> Result<Vec<kb::KbSection>>;
    /// Creates an article with its first translation (in `source_locale`, revision 1).
    async fn kb_create_article(
        &self,
        new: kb::NewKbArticle,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbArticleFull>;
    async fn kb_update_article(
        &self,
        id: i64,
        up: kb::KbArticleUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbArticle>;
    /// Deletes the article with its translations, revisions, feedback and attachment rows.
    async fn kb_delete_article(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;
    async fn kb_get_article(&self, id: i64) -> Result<kb::KbArticleFull>;
    async fn kb_list_articles(&self, q: kb::KbArticleQuery) -> Result<Page<kb::KbArticle>>;
    /// Creates or replaces one translation and writes a revision. A changed body of the
    /// source-locale translation marks the other translations outdated.
    async fn kb_save_translation(
        &self,
        article_id: i64,
        locale: &str,
        input: kb::KbTranslationInput,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbTranslation>;
    /// `Conflict` for the source-locale translation.
    async fn kb_delete_translation(
        &self,
        article_id: i64,
        locale: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A translation's revisions, newest first, without bodies (at most 1,000).
    async fn kb_revisions(&self, article_id: i64, locale: &str) -> Result<Vec<kb::KbRevision>>;
    /// One revision with its body.
    async fn kb_revision(&self, article_id: i64, revision_id: i64) -> Result<kb::KbRevision>;
    /// Saves the revision's title and body as the translation's current content (keeping its
    /// status and schedule), which writes a new revision.
    async fn kb_restore_revision(
        &self,
        article_id: i64,
        revision_id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbTranslation>;
    async fn kb_add_feedback(
        &self,
        new: kb::NewKbFeedback,
        now: DateTime<Utc>,
    ) -> Result<kb::KbFeedback>;
    /// Newest first.
    async fn kb_list_feedback(
        &self,
        article_id: i64,
        page: PageRequest,
    ) -> Result<Page<kb::KbFeedback>>;
    async fn kb_record_view(&self, article_id: i64) -> Result<()>;
    /// Stores the bytes once per SHA-256 (the `blobs` table ticket attachments use).
    async fn kb_add_attachment(
        &self,
        article_id: i64,
        file: NewAttachment,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<kb::KbAttachment>;
    async fn kb_attachments(&self, article_id: i64) -> Result<Vec<kb::KbAttachment>>;
    async fn kb_attachment(&self, id: i64) -> Result<(kb::KbAttachment, Vec<u8>)>;
    /// Public articles live at `now`, counted per section and locale.
    async fn kb_live_counts(&self, now: DateTime<Utc>) -> Result<Vec<kb::KbLiveCount>>;
    /// The change feed for a search index: `(seq, article_id)` with `seq > after_seq`, in seq
    /// order, at most `limit`; safe to tail (a late-committing writer is never skipped). An
    /// article id whose `kb_article_for_index` is `None` was deleted.
    async fn kb_changes_since(&self, after_seq: i64, limit: i64) -> Result<Vec<(i64, i64)>>;
    /// An article with every translation (bodies included), or `None` if it does not exist.
    async fn kb_article_for_index(&self, article_id: i64) -> Result<Option<kb::KbArticleFull>>;
    /// Article ids above `after_id`, ascending, at most `limit`: for a full reindex.
    async fn kb_article_ids(&self, after_id: i64, limit: i64) -> Result<Vec<i64>>;

    // --- knowledge-base self-service (deflection, auto-reply, analytics; kb_analytics.rs)
    /// Records one search, view, click or customer ticket: a raw event and its daily
    /// roll-up, in one transaction.
    async fn kb_track(&self, ev: kb_analytics::KbTrack, now: DateTime<Utc>) -> Result<()>;
    /// Suggestions were shown in a deflection session: creates the session on first use,
    /// else updates its latest text, hits and time.
    async fn kb_deflect_suggested(
        &self,
        seen: kb_analytics::SuggestSeen,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A suggested article was opened from a session; `false` (nothing written) for a session
    /// that was never shown suggestions.
    async fn kb_deflect_clicked(
        &self,
        session: &str,
        article_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// A customer ticket came through the contact form (`source` `form`) or by mail
    /// (`email`): counts it and, with a session that was shown suggestions and has no ticket
    /// yet, links the ticket to it. One transaction.
    async fn kb_customer_ticket(
        &self,
        source: &'static str,
        session: Option<String>,
        ticket_id: i64,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A deflection session by its id.
    async fn kb_deflect_session(
        &self,
        session: &str,
    ) -> Result<Option<kb_analytics::DeflectSession>>;
    /// Stores the auto-reply of a ticket with its token's SHA-256 (a retried send replaces an
    /// unused token; a used one is kept and `false` returned: nothing to send).
    async fn kb_auto_reply_issue(
        &self,
        ticket_id: i64,
        token_hash: Vec<u8>,
        article_ids: Vec<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    async fn kb_auto_reply_by_token(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<kb_analytics::AutoReply>>;
    /// Uses an auto-reply token once: marks it used, solves its ticket (as its requester) and
    /// counts the deflection, in one transaction.
    async fn kb_auto_reply_solve(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<kb_analytics::AutoReplySolve>;
    /// The counts of the analytics report for a range of days (roll-ups and indexed scans).
    async fn kb_analytics(
        &self,
        q: kb_analytics::KbAnalyticsQuery,
    ) -> Result<kb_analytics::KbAnalyticsData>;

    // --- triggers (issue 5; migration 0020) ----------------------------------------------
    /// Every trigger, by position then id.
    async fn list_triggers(&self) -> Result<Vec<triggers::Trigger>>;
    async fn get_trigger(&self, id: i64) -> Result<triggers::Trigger>;
    /// Audited `trigger.created`.
    async fn create_trigger(
        &self,
        def: tend_core::automation::TriggerDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<triggers::Trigger>;
    /// Replaces the definition; audited `trigger.updated`.
    async fn update_trigger(
        &self,
        id: i64,
        def: tend_core::automation::TriggerDef,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<triggers::Trigger>;
    /// Audited `trigger.deleted`.
    async fn delete_trigger(&self, id: i64, actor: Actor, now: DateTime<Utc>) -> Result<()>;
    /// The last event of the ticket the trigger runner has looked at; `None` when the ticket
    /// has no cursor (none was started, or it was forgotten while no trigger was active):
    /// then the runner must not act.
    async fn trigger_cursor(&self, ticket_id: i64) -> Result<Option<i64>>;
    /// Moves the ticket's trigger cursor from `from` to `to`; `false` (nothing written) if
    /// another run moved it first (or the cursor is gone). The runner claims its events this
    /// way before acting.
    async fn advance_trigger_cursor(&self, ticket_id: i64, from: i64, to: i64) -> Result<bool>;
    /// Records that a time-based automation acts on a ticket in a status period; `false`
    /// (nothing written) if it did before.
    async fn claim_automation_run(
        &self,
        automation_id: i64,
        ticket_id: i64,
        period: i64,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    // --- escalation levels, group leads, working hours (issue 5; migration 0022) -------
    /// The lead of a group (`None`: none set).
    async fn group_lead(&self, group_id: i64) -> Result<Option<i64>>;
    /// Sets (`None`: clears) a group's lead; audited `group.lead_set`. NotFound when the
    /// group or the agent does not exist.
    async fn set_group_lead(
        &self,
        group_id: i64,
        agent_id: Option<i64>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// An agent's working hours, if set.
    async fn agent_hours(&self, agent_id: i64) -> Result<Option<escalation::AgentHours>>;
    /// Sets (`None`: clears) an agent's working hours (a calendar text the caller checked);
    /// audited `agent.hours_set`. NotFound when the agent does not exist.
    async fn set_agent_hours(
        &self,
        agent_id: i64,
        calendar: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<escalation::AgentHours>>;

    // --- routing (issue 5; migration 0021) ---------------------------------------------
    /// An agent's routing settings (defaults if never set); `NotFound("agent")`.
    async fn agent_routing(&self, agent_id: i64) -> Result<routing::AgentRouting>;
    /// Every agent's routing settings, by agent id.
    async fn list_agent_routing(&self) -> Result<Vec<routing::AgentRouting>>;
    /// Changes an agent's routing settings; audited `agent.routing_changed`. In the same
    /// transaction: going off queues the release of their tickets (groups with
    /// `reassign_when_off`); any change queues a drain of waiting tickets.
    async fn set_agent_routing(
        &self,
        agent_id: i64,
        up: routing::AgentRoutingUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<routing::AgentRouting>;
    /// A group's routing settings (manual if never set); `NotFound("group")`.
    async fn group_routing(&self, group_id: i64) -> Result<routing::GroupRouting>;
    /// Every group's routing settings, by group id.
    async fn list_group_routing(&self) -> Result<Vec<routing::GroupRouting>>;
    /// Changes a group's routing settings; audited `group.routing_changed`. A routed mode
    /// queues a drain (its waiting tickets get routed).
    async fn set_group_routing(
        &self,
        group_id: i64,
        up: routing::GroupRoutingUpdate,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<routing::GroupRouting>;
    /// The ticket, its requester's language, its group's settings and candidates (no viewer
    /// check: the worker routes). `None` if there is no such ticket.
    async fn routing_context(&self, ticket_id: i64) -> Result<Option<routing::RoutingContext>>;
    /// Unassigned new/open tickets in routed groups, oldest first, with `id > after_id`.
    async fn routing_waiting(&self, after_id: i64, limit: i64) -> Result<Vec<i64>>;
    /// Assigns through the ordinary ticket-update path (events, webhooks, jobs) with an
    /// internal note, as `Actor::SYSTEM`, only if the ticket is still routable in that group,
    /// the agent still online, active, a member and under capacity, and the round-robin
    /// cursor unmoved (compare-and-set: two servers never double-assign).
    async fn routing_assign(
        &self,
        a: routing::Assign,
        now: DateTime<Utc>,
    ) -> Result<routing::Assigned>;
    /// If the agent is off or deactivated: unassigns up to `limit` of their new/open tickets
    /// in groups with `reassign_when_off` (each write queues its ticket's routing job).
    async fn routing_release(
        &self,
        agent_id: i64,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<routing::Released>;

    // --- search feed
    /// Up to `limit` tickets with `id > after_id`, in id order, each with its message bodies
    /// (plain text, oldest first, internal notes included). No viewer check: this feeds the
    /// search index (`tend reindex`), whose searches apply the viewer's rule themselves.
    async fn tickets_for_index(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(Ticket, Vec<String>)>>;
    /// The tickets with these ids (at most 10,000), in id order, each with its message bodies
    /// as [`Store::tickets_for_index`] gives them, read in one snapshot; an id without a
    /// ticket is left out. Feeds the search index's catch-up (one read per batch of events).
    async fn tickets_for_index_by_id(&self, ids: Vec<i64>) -> Result<Vec<(Ticket, Vec<String>)>>;
}

/// Hex SHA-256, the content address of attachment bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Merges per-status result lists (each already in `sort` order and cut by the same cursor)
/// into one page. Backends run one ordered index scan per status and merge here, instead of
/// sorting every matching row.
pub fn merge_pages(parts: Vec<Vec<Ticket>>, sort: TicketSort, limit: i64) -> Page<Ticket> {
    let mut all: Vec<Ticket> = parts.into_iter().flatten().collect();
    let key = |t: &Ticket| {
        let c = Cursor::of(sort, t);
        (c.key, c.id)
    };
    if sort.descending() {
        all.sort_by_key(|t| std::cmp::Reverse(key(t)));
    } else {
        all.sort_by_key(key);
    }
    all.truncate(limit.max(0) as usize + 1);
    Page::from_overfetch(all, limit, |t| Cursor::of(sort, t).encode())
}
