//! The `trigger.run` job (issue 5): runs the active triggers over a ticket's new events.
//!
//! Every ticket write queues the job (keyed per ticket, in the write's transaction) while a
//! trigger is active. A run reads the events after the ticket's trigger cursor, claims them
//! by moving the cursor (compare-and-set: of two runs over the same events only one acts),
//! asks `tend_core::automation::run_chain` which triggers fire, and applies each firing
//! through the ordinary store paths (`update_ticket`, `add_message`) as
//! `trigger_actor(id)`. Those writes queue the job again; that run sees only trigger events
//! and does nothing, which is what keeps chains bounded.
//!
//! Delivery is at most once: the events are claimed before the actions run, so a crash
//! between the two loses that chain's actions rather than sending an auto-reply twice.
//!
//! What a firing does that leaves no event of its own — whom it mailed, which webhook it
//! called, why "assign automatically" assigned nobody — is recorded on the ticket's timeline
//! as one `ticket.automation_acted` event naming the trigger or automation.

use std::collections::HashMap;
use tend_core::automation::{run_chain, trigger_actor, Happened};
use tend_core::template::{first_name, render};
use tend_core::{Role, Viewer};
use tend_store::triggers::{sweep_job, AUTOMATIONS_SETTING, SWEEP_EVERY_MINUTES, SWEEP_KEY};
use tend_store::{NewMessage, PageRequest, Store, StoreError};

fn system() -> Viewer {
    Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    }
}

/// Runs the job for `{"ticket_id": …}`.
pub async fn run(
    store: &dyn Store,
    now: chrono::DateTime<chrono::Utc>,
    payload: &serde_json::Value,
) -> Result<(), String> {
    let e = |e: StoreError| e.to_string();
    let id = payload["ticket_id"]
        .as_i64()
        .ok_or("payload has no ticket_id")?;
    let sys = system();
    // No cursor: none was started for this ticket, or it was forgotten while no trigger was
    // active (a job queued before that). Either way there is nothing this run may claim —
    // reading from the start would run the ticket's whole history through the triggers.
    let Some(from) = store.trigger_cursor(id).await.map_err(e)? else {
        return Ok(());
    };
    let mut events = Vec::new();
    let mut after = (from > 0).then_some(from);
    loop {
        let page = match store
            .ticket_events(
                id,
                &sys,
                PageRequest {
                    after_id: after,
                    limit: 1000,
                },
            )
            .await
        {
            Ok(p) => p,
            Err(StoreError::NotFound(_)) => return Ok(()),
            Err(x) => return Err(x.to_string()),
        };
        after = page.items.last().map(|ev| ev.seq);
        events.extend(page.items.into_iter().filter(|ev| ev.seq > from));
        if page.next_cursor.is_none() {
            break;
        }
    }
    let Some(to) = events.last().map(|ev| ev.seq) else {
        return Ok(());
    };
    if !store
        .advance_trigger_cursor(id, from, to)
        .await
        .map_err(e)?
    {
        return Ok(()); // another run claimed these events
    }
    let happened = Happened::from_changes(events.iter().map(|ev| (&ev.actor, &ev.change)));
    if happened.is_empty() {
        return Ok(());
    }
    let triggers: Vec<(i64, tend_core::automation::TriggerDef)> = store
        .list_triggers()
        .await
        .map_err(e)?
        .into_iter()
        .map(|t| (t.id, t.def))
        .collect();
    if !triggers.iter().any(|(_, d)| d.active) {
        return Ok(());
    }
    let ticket = match store.get_ticket(id, &sys).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => return Ok(()),
        Err(x) => return Err(x.to_string()),
    };
    let body = match happened.message_ids.last() {
        Some(mid) => store
            .list_messages(id, &sys)
            .await
            .map_err(e)?
            .into_iter()
            .find(|m| m.id == *mid)
            .map(|m| m.body_text),
        None => None,
    };
    let chain = run_chain(&triggers, &ticket, &happened, body.as_deref());
    if chain.capped {
        tracing::warn!(
            ticket = id,
            fired = chain.firings.len(),
            "trigger chain stopped at its limit; later matching triggers did not fire"
        );
    }
    let names: HashMap<i64, String> = triggers
        .iter()
        .map(|(id, d)| (*id, d.name.clone()))
        .collect();
    for f in chain.firings {
        let by = By {
            actor: trigger_actor(f.trigger_id),
            trigger_id: Some(f.trigger_id),
            automation_id: None,
            name: names.get(&f.trigger_id).cloned().unwrap_or_default(),
        };
        apply(store, id, &by, f.patch, f.messages, f.outbound, now).await?;
    }
    Ok(())
}

/// Who acts: a trigger or an automation, with the actor its changes are written as.
struct By {
    actor: tend_core::Actor,
    trigger_id: Option<i64>,
    automation_id: Option<i64>,
    name: String,
}

impl By {
    /// How webhook bodies and notification reasons name the source.
    fn source(&self) -> serde_json::Value {
        match (self.trigger_id, self.automation_id) {
            (Some(t), _) => serde_json::json!({ "trigger_id": t }),
            (_, a) => serde_json::json!({ "automation_id": a }),
        }
    }
}

/// Why "assign automatically" left a ticket that routing would not take.
fn not_routable(t: &tend_core::Ticket) -> String {
    let why = if t.assignee_id.is_some() {
        "it is already assigned".to_string()
    } else if t.group_id.is_none() {
        "it has no group".to_string()
    } else {
        format!(
            "it is {} (only new and open tickets are assigned)",
            t.status
        )
    };
    format!("not assigned automatically: {why}")
}

/// Applies one firing through the ordinary store paths: the patch, then "assign
/// automatically" (`crate::routing::assign_ticket_as`; in a manual group the least loaded
/// eligible member), then the messages (rendered against the ticket as those left it), then
/// the outbound actions (mail to agents at their working hours, webhook posts). What the last
/// two did, and why an automatic assignment did not happen, goes on the timeline as one
/// `AutomationActed` event.
async fn apply(
    store: &dyn Store,
    id: i64,
    by: &By,
    patch: tend_core::ticket::Patch,
    messages: Vec<tend_core::automation::PlannedMessage>,
    mut outbound: Vec<tend_core::automation::Outbound>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    use crate::routing::Routed;
    use tend_core::automation::Outbound;
    let e = |e: StoreError| e.to_string();
    let sys = system();
    let actor = by.actor;
    let mut done: Vec<String> = Vec::new();
    if !patch.is_empty() {
        if let Err(x) = store.update_ticket(id, patch, &sys, actor, now).await {
            // A stale reference (an agent deactivated since the save) must not stop the
            // rest of the chain.
            tracing::warn!(ticket = id, actor = ?actor, error = %x, "automation action failed");
            return Ok(());
        }
    }
    let assign = outbound.contains(&Outbound::AssignAutomatically);
    outbound.retain(|o| *o != Outbound::AssignAutomatically);
    if assign {
        match crate::routing::assign_ticket_as(store, id, now, actor, true).await {
            // The assignment's own note says to whom and why.
            Ok(Routed::Assigned { .. }) => {}
            Ok(Routed::Waiting(why)) => {
                done.push(format!("not assigned automatically: {why}"));
            }
            Ok(Routed::NotRoutable) => match store.get_ticket(id, &sys).await {
                Ok(t) => done.push(not_routable(&t)),
                Err(StoreError::NotFound(_)) => return Ok(()),
                Err(x) => {
                    tracing::warn!(ticket = id, actor = ?actor, error = %x, "assign automatically: reading the ticket failed");
                    done.push("not assigned automatically: a server error (logged)".into());
                }
            },
            Err(x) => {
                // Best effort like the other actions: the events are already claimed.
                tracing::warn!(ticket = id, actor = ?actor, error = %x, "assign automatically failed");
                done.push("not assigned automatically: a server error (logged)".into());
            }
        }
    }
    if messages.is_empty() && outbound.is_empty() {
        return record(store, id, by, done, now).await;
    }
    let t = store.get_ticket(id, &sys).await.map_err(e)?;
    let values = placeholder_values(store, &t).await?;
    for m in messages {
        let text = match render(&m.template, &values) {
            Ok(x) => x,
            Err(x) => {
                tracing::warn!(ticket = id, actor = ?actor, error = %x, "automation template");
                continue;
            }
        };
        let msg = NewMessage {
            time_spent_seconds: None,
            public: m.public,
            body_html: tend_core::html::text_to_html(&text),
            body_text: text,
            attachments: vec![],
            mail: None,
            notify: m.public,
        };
        store
            .add_message(id, msg, &sys, actor, now)
            .await
            .map_err(e)?;
    }
    if !outbound.is_empty() {
        let sent = crate::escalation::send_outbound(store, &t, outbound, &values, by.source(), now)
            .await?;
        done.extend(sent);
    }
    record(store, id, by, done, now).await
}

/// Records what a firing did outside its ticket changes (nothing when `done` is empty).
async fn record(
    store: &dyn Store,
    id: i64,
    by: &By,
    done: Vec<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    if done.is_empty() {
        return Ok(());
    }
    let change = tend_core::Change::AutomationActed {
        trigger_id: by.trigger_id,
        automation_id: by.automation_id,
        name: by.name.clone(),
        done,
    };
    // Best effort, like the actions it records: the firing's events are already claimed, so
    // an error here must not drop the later firings of the chain.
    match store.record_event(id, change, by.actor, now).await {
        Ok(_) | Err(StoreError::NotFound(_)) => {}
        Err(x) => {
            tracing::warn!(ticket = id, error = %x, "recording what an automation did failed")
        }
    }
    Ok(())
}

/// The stored time-based automations (none when never saved).
pub async fn load_automations(
    store: &dyn Store,
) -> Result<Vec<tend_core::automation::AutomationDef>, String> {
    let Some(v) = store
        .get_setting(AUTOMATIONS_SETTING)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(vec![]);
    };
    serde_json::from_value(v["automations"].clone()).map_err(|e| format!("stored automations: {e}"))
}

/// The `automation.sweep` job: applies due automations to open tickets (each at most once
/// per ticket and status period), then queues itself again while an automation is active.
/// Reads every open ticket's events: fine for thousands of open tickets, not for millions.
pub async fn sweep(store: &dyn Store, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    use tend_core::Status;
    use tend_store::{Cursor, TicketQuery, TicketSort};
    let e = |e: StoreError| e.to_string();
    let autos: Vec<_> = load_automations(store)
        .await?
        .into_iter()
        .filter(|a| a.active)
        .collect();
    if autos.is_empty() {
        return Ok(());
    }
    // Business-hour automations count in the ticket's SLA calendar (none saved: calendar
    // hours).
    let sla = sla_calendars(store).await?;
    // The next sweep is queued first: a sweep that fails half-way still has a successor.
    store
        .schedule_job(
            SWEEP_KEY,
            sweep_job(now + chrono::Duration::minutes(SWEEP_EVERY_MINUTES)),
        )
        .await
        .map_err(e)?;
    let sys = system();
    let mut cursor: Option<Cursor> = None;
    loop {
        let q = TicketQuery {
            statuses: vec![Status::New, Status::Open, Status::Pending, Status::OnHold],
            sort: TicketSort::IdAsc,
            cursor,
            limit: 200,
            ..Default::default()
        };
        let page = store.list_tickets(&q, &sys).await.map_err(e)?;
        for t in &page.items {
            // One ticket's trouble (a deleted requester, a failing write) is logged and the
            // sweep goes on with the others.
            let calendar = sla
                .as_ref()
                .map(|(policies, cals)| ticket_calendar(policies, cals, t));
            if let Err(err) = sweep_ticket(store, &autos, calendar, t, now).await {
                tracing::warn!(ticket = t.id, error = %err, "automation sweep: ticket skipped");
            }
        }
        match page
            .next_cursor
            .as_deref()
            .and_then(|c| Cursor::decode(c, TicketSort::IdAsc))
        {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(())
}

/// The stored SLA policies and calendars (`None`: no SLA configuration).
async fn sla_calendars(
    store: &dyn Store,
) -> Result<Option<(Vec<tend_core::sla::Policy>, tend_core::sla::Calendars)>, String> {
    let Some((cfg, _)) = crate::escalation::sla_config(store).await? else {
        return Ok(None);
    };
    let cals = cfg
        .calendars()
        .map_err(|e| format!("stored SLA config: {e}"))?;
    Ok(Some((cfg.policies, cals)))
}

/// The calendar a ticket's business-hour automations count in: the one its SLA clocks run on
/// (its policy's calendar, else its group's, else its brand's, else the default;
/// `Calendars::select`). A ticket no policy applies to still gets its group's or brand's.
fn ticket_calendar<'a>(
    policies: &[tend_core::sla::Policy],
    cals: &'a tend_core::sla::Calendars,
    t: &tend_core::Ticket,
) -> &'a tend_core::sla::Calendar {
    use tend_core::sla::{select_policy, Policy, TicketFacts};
    let facts = TicketFacts::of_ticket(t, None);
    let none = Policy {
        name: String::new(),
        conditions: Default::default(),
        targets: vec![],
        calendar: None,
    };
    let policy = select_policy(policies, &facts).unwrap_or(&none);
    cals.select(policy, t.group_id, t.brand_id).calendar
}

/// Applies the first due automation to one ticket. One per ticket and sweep: the next sweep
/// reads the ticket's history afresh, so a later automation never acts on times that the
/// first one's change (a new status period) made stale.
async fn sweep_ticket(
    store: &dyn Store,
    autos: &[tend_core::automation::AutomationDef],
    calendar: Option<&tend_core::sla::Calendar>,
    t: &tend_core::Ticket,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    use tend_core::automation::{automation_due, TimeFacts};
    let e = |e: StoreError| e.to_string();
    let sys = system();
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let p = store
            .ticket_events(
                t.id,
                &sys,
                PageRequest {
                    after_id: after,
                    limit: 1000,
                },
            )
            .await
            .map_err(e)?;
        after = p.items.last().map(|ev| ev.seq);
        events.extend(p.items);
        if p.next_cursor.is_none() {
            break;
        }
    }
    let facts = TimeFacts::from_events(
        t.created_at,
        events.iter().map(|ev| (ev.at, &ev.actor, &ev.change)),
    );
    for a in autos {
        let Some(period) = automation_due(a, t, &facts, now, calendar) else {
            continue;
        };
        if !store
            .claim_automation_run(a.id, t.id, period, now)
            .await
            .map_err(e)?
        {
            continue;
        }
        let (patch, messages) = tend_core::automation::effects(&a.actions);
        let outbound = tend_core::automation::outbound(&a.actions);
        let by = By {
            actor: tend_core::Actor::SYSTEM,
            trigger_id: None,
            automation_id: Some(a.id),
            name: a.name.clone(),
        };
        apply(store, t.id, &by, patch, messages, outbound, now).await?;
        return Ok(());
    }
    Ok(())
}

/// The values of `tend_core::template::TICKET_PLACEHOLDERS` for a ticket: the customer is the
/// requester, the agent the assignee (empty when there is none).
pub(crate) async fn placeholder_values(
    store: &dyn Store,
    t: &tend_core::Ticket,
) -> Result<HashMap<String, String>, String> {
    let mut v: HashMap<String, String> = HashMap::new();
    v.insert("ticket.id".into(), t.id.to_string());
    v.insert("ticket.subject".into(), t.subject.clone());
    v.insert("ticket.status".into(), t.status.to_string());
    v.insert("ticket.priority".into(), t.priority.to_string());
    let customer = store
        .get_customer(t.requester_id)
        .await
        .map_err(|e| e.to_string())?;
    v.insert("customer.name".into(), customer.name.clone());
    v.insert("customer.first_name".into(), first_name(&customer.name));
    v.insert(
        "customer.email".into(),
        customer.email().unwrap_or("").to_string(),
    );
    let agent = match t.assignee_id {
        Some(a) => store.get_agent(a).await.ok().map(|a| a.name),
        None => None,
    }
    .unwrap_or_default();
    v.insert("agent.first_name".into(), first_name(&agent));
    v.insert("agent.name".into(), agent);
    Ok(v)
}
