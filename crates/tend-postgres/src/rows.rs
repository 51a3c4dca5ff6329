//! Column lists and row → record conversions. Each `*_COLS` matches its converter.

use crate::db::{actor, from_json, parse};
use tend_core::Ticket;
use tend_store::{
    Agent, Attachment, AuditEntry, Customer, Event, FieldDef, Group, Job, JobState, Message,
    Organization, Result, Webhook,
};
use tokio_postgres::Row;

pub(crate) const AGENT_COLS: &str = "a.id, a.email, a.name, a.role, a.active, a.created_at, \
    COALESCE((SELECT array_agg(gm.group_id ORDER BY gm.group_id) FROM group_members gm WHERE gm.agent_id = a.id), '{}')";

pub(crate) fn agent(r: &Row) -> Result<Agent> {
    Ok(Agent {
        id: r.get(0),
        email: r.get(1),
        name: r.get(2),
        role: parse("role", r.get(3))?,
        active: r.get(4),
        created_at: r.get(5),
        group_ids: r.get(6),
    })
}

pub(crate) const GROUP_COLS: &str = "g.id, g.name, g.description, g.created_at, \
    COALESCE((SELECT array_agg(gm.agent_id ORDER BY gm.agent_id) FROM group_members gm WHERE gm.group_id = g.id), '{}')";

pub(crate) fn group(r: &Row) -> Group {
    Group {
        id: r.get(0),
        name: r.get(1),
        description: r.get(2),
        created_at: r.get(3),
        member_ids: r.get(4),
    }
}

pub(crate) const ORG_COLS: &str = "o.id, o.name, o.domains, o.notes, o.created_at, o.updated_at";

pub(crate) fn organization(r: &Row) -> Result<Organization> {
    Ok(Organization {
        id: r.get(0),
        name: r.get(1),
        domains: from_json(r.get(2))?,
        notes: r.get(3),
        created_at: r.get(4),
        updated_at: r.get(5),
    })
}

pub(crate) const CUSTOMER_COLS: &str = "c.id, c.name, c.organization_id, c.language, c.time_zone, c.notes, c.created_at, c.updated_at, \
    COALESCE((SELECT jsonb_agg(jsonb_build_object('kind', ci.kind, 'value', ci.value) ORDER BY ci.id) \
              FROM customer_identities ci WHERE ci.customer_id = c.id), '[]'::jsonb)";

pub(crate) fn customer(r: &Row) -> Result<Customer> {
    Ok(Customer {
        id: r.get(0),
        name: r.get(1),
        organization_id: r.get(2),
        language: r.get(3),
        time_zone: r.get(4),
        notes: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
        identities: from_json(r.get(8))?,
    })
}

pub(crate) const FIELD_COLS: &str = "f.id, f.key, f.label, f.field_type, f.options, f.created_at";

pub(crate) fn field_def(r: &Row) -> Result<FieldDef> {
    Ok(FieldDef {
        id: r.get(0),
        key: r.get(1),
        label: r.get(2),
        field_type: parse("field type", r.get(3))?,
        options: from_json(r.get(4))?,
        created_at: r.get(5),
    })
}

pub(crate) const TICKET_COLS: &str = "t.id, t.subject, t.status, t.priority, t.channel, t.requester_id, t.organization_id, \
    t.assignee_id, t.group_id, t.brand_id, t.tags, t.fields, t.external_id, t.created_at, t.updated_at, t.solved_at, t.last_seq, t.sla_due_us";

pub(crate) fn ticket(r: &Row) -> Result<Ticket> {
    Ok(Ticket {
        id: r.get(0),
        subject: r.get(1),
        status: parse("status", r.get(2))?,
        priority: parse("priority", r.get(3))?,
        channel: parse("channel", r.get(4))?,
        requester_id: r.get(5),
        organization_id: r.get(6),
        assignee_id: r.get(7),
        group_id: r.get(8),
        brand_id: r.get(9),
        tags: r.get(10),
        fields: from_json(r.get(11))?,
        external_id: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
        solved_at: r.get(15),
        last_seq: r.get(16),
        sla_due_at: tend_store::sla_due_from_us(r.get(17)),
    })
}

pub(crate) const MESSAGE_COLS: &str = "m.id, m.ticket_id, m.author_kind, m.author_id, m.public, m.body_text, m.body_html, m.created_at, m.mail";

pub(crate) fn message(r: &Row) -> Message {
    Message {
        id: r.get(0),
        ticket_id: r.get(1),
        author: actor(r.get(2), r.get(3)),
        public: r.get(4),
        body_text: r.get(5),
        body_html: r.get(6),
        created_at: r.get(7),
        attachments: Vec::new(),
        // Like the SQLite store: mail headers that no longer parse are left out.
        mail: r
            .get::<_, Option<serde_json::Value>>(8)
            .and_then(|v| serde_json::from_value(v).ok()),
    }
}

pub(crate) const ATTACHMENT_COLS: &str =
    "x.id, x.message_id, x.filename, x.content_type, x.size, x.sha256";

pub(crate) fn attachment(r: &Row) -> Attachment {
    let sha: Vec<u8> = r.get(5);
    Attachment {
        id: r.get(0),
        message_id: r.get(1),
        filename: r.get(2),
        content_type: r.get(3),
        size: r.get(4),
        sha256: hex::encode(sha),
    }
}

pub(crate) const EVENT_COLS: &str =
    "e.seq, e.ticket_id, e.actor_kind, e.actor_id, e.at, e.kind, e.data";

pub(crate) fn event(r: &Row) -> Result<Event> {
    Ok(Event {
        seq: r.get(0),
        ticket_id: r.get(1),
        actor: actor(r.get(2), r.get(3)),
        at: r.get(4),
        kind: r.get(5),
        change: from_json(r.get(6))?,
    })
}

pub(crate) const WEBHOOK_COLS: &str = "w.id, w.url, w.events, w.secret, w.active, w.created_at";

pub(crate) fn webhook(r: &Row) -> Result<Webhook> {
    Ok(Webhook {
        id: r.get(0),
        url: r.get(1),
        events: from_json(r.get(2))?,
        secret: r.get(3),
        active: r.get(4),
        created_at: r.get(5),
    })
}

pub(crate) const AUDIT_COLS: &str =
    "l.id, l.actor_kind, l.actor_id, l.action, l.target, l.data, l.at";

pub(crate) fn audit(r: &Row) -> AuditEntry {
    AuditEntry {
        id: r.get(0),
        actor: actor(r.get(1), r.get(2)),
        action: r.get(3),
        target: r.get(4),
        data: r.get(5),
        at: r.get(6),
    }
}

pub(crate) const JOB_COLS: &str =
    "j.id, j.kind, j.payload, j.state, j.run_at, j.attempts, j.max_attempts, j.last_error";

pub(crate) fn job(r: &Row) -> Job {
    Job {
        id: r.get(0),
        kind: r.get(1),
        payload: r.get(2),
        state: JobState::parse(r.get(3)),
        run_at: r.get(4),
        attempts: r.get(5),
        max_attempts: r.get(6),
        last_error: r.get(7),
    }
}
