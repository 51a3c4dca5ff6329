//! Demo data: the demo team with passwords, and a few hundred generated tickets.

use anyhow::Result;
use chrono::{DateTime, Utc};
use tend_core::{Actor, Role};
use tend_store::{NewAgent, NewGroup, Store};

pub const DEMO_PASSWORD: &str = "demo-password";

/// Loads the demo shop unless it is there already. `announce` prints even when skipping.
pub async fn load(
    store: &dyn Store,
    tickets: u64,
    now: DateTime<Utc>,
    announce: bool,
) -> Result<()> {
    if store
        .agent_by_email(tend_datagen::AGENTS[0].email)
        .await
        .map_err(crate::store_err)?
        .is_some()
    {
        if announce {
            println!(
                "demo data is already loaded; sign in as {} / {DEMO_PASSWORD}",
                tend_datagen::AGENTS[0].email
            );
        }
        return Ok(());
    }
    let hash = tend_web::auth::hash_password(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut groups = std::collections::HashMap::new();
    for g in tend_datagen::GROUPS {
        let grp = store
            .create_group(
                NewGroup {
                    name: g.to_string(),
                    description: format!("{g} team"),
                },
                Actor::SYSTEM,
                now,
            )
            .await
            .map_err(crate::store_err)?;
        groups.insert(*g, (grp.id, Vec::new()));
    }
    for a in tend_datagen::AGENTS {
        let role: Role = a
            .role
            .parse()
            .map_err(|e: tend_core::Invalid| anyhow::anyhow!("{e}"))?;
        let agent = store
            .create_agent(
                NewAgent {
                    email: a.email.into(),
                    name: a.name.into(),
                    role,
                    password_hash: Some(hash.clone()),
                    active: true,
                },
                Actor::SYSTEM,
                now,
            )
            .await
            .map_err(crate::store_err)?;
        for g in a.groups {
            if let Some((_, members)) = groups.get_mut(g) {
                members.push(agent.id);
            }
        }
    }
    for (id, members) in groups.into_values() {
        store
            .set_group_members(id, members, Actor::SYSTEM, now)
            .await
            .map_err(crate::store_err)?;
    }
    for (title, body, actions) in [
        (
            "Ask for the order number",
            "Hi {{customer.first_name}},\n\nthanks for getting in touch. Could you send us your order number so we can look into ticket #{{ticket.id}}?\n\nBest regards,\n{{agent.first_name}}",
            tend_store::MacroActions { status: Some(tend_core::Status::Pending), add_tags: vec!["needs-order-number".into()], ..Default::default() },
        ),
        (
            "Refund issued",
            "Hi {{customer.first_name}},\n\nwe have issued your refund; it will show on your statement within 3–5 business days.\n\nBest regards,\n{{agent.first_name}}",
            tend_store::MacroActions { status: Some(tend_core::Status::Solved), add_tags: vec!["refund".into()], ..Default::default() },
        ),
    ] {
        let new = tend_store::NewMacro { title: title.into(), owner_id: None, body: body.into(), public: true, actions };
        store.create_macro(new, Actor::SYSTEM, now).await.map_err(crate::store_err)?;
    }
    let week: Vec<serde_json::Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| serde_json::json!({"day": d, "start": "08:00", "end": "18:00"}))
        .collect();
    let sla: tend_web::api::sla::SlaConfig = serde_json::from_value(serde_json::json!({
        "calendar": {
            "time_zone": "Europe/Berlin",
            "hours": week,
            "holidays": [{"yearly": "01-01", "name": "New Year"}, {"yearly": "12-24", "name": "Christmas Eve"}, {"yearly": "12-25", "name": "Christmas Day"}, {"yearly": "12-26", "name": "Boxing Day"}]
        },
        "policies": [
            {"name": "Urgent", "conditions": {"priority": ["urgent"]}, "targets": [{"metric": "first_reply", "minutes": 60}, {"metric": "next_reply", "minutes": 120}, {"metric": "resolution", "minutes": 480}]},
            {"name": "High", "conditions": {"priority": ["high"]}, "targets": [{"metric": "first_reply", "minutes": 240}, {"metric": "next_reply", "minutes": 480}, {"metric": "resolution", "minutes": 1200}]},
            {"name": "Standard", "targets": [{"metric": "first_reply", "minutes": 480}, {"metric": "next_reply", "minutes": 960}, {"metric": "resolution", "minutes": 3000}]}
        ]
    }))?;
    sla.check().map_err(|e| anyhow::anyhow!("demo SLA: {e}"))?;
    store
        .put_setting(
            tend_web::api::sla::SETTING,
            serde_json::to_value(&sla)?,
            Actor::SYSTEM,
            now,
        )
        .await
        .map_err(crate::store_err)?;
    crate::demo_kb::load(store, now).await?;
    let g = tend_datagen::Generator::new(tend_datagen::Spec::new(tickets, now));
    let records = (0..g.len())
        .map(|i| tend_core::import::ImportRecord::parse_line(&g.record(i).to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("demo record: {e}"))?;
    let o = store.import(records, now).await.map_err(crate::store_err)?;
    let token = tend_web::auth::generate_token();
    let admin = store
        .agent_by_email(tend_datagen::AGENTS[0].email)
        .await
        .map_err(crate::store_err)?
        .ok_or_else(|| anyhow::anyhow!("demo admin missing"))?;
    store
        .create_token(
            admin.id,
            "demo".into(),
            tend_web::auth::hash_token(&token),
            Actor::SYSTEM,
            now,
        )
        .await
        .map_err(crate::store_err)?;
    println!(
        "Loaded the demo shop: {} agents, {} tickets.",
        tend_datagen::AGENTS.len(),
        o.created
    );
    println!(
        "  sign in: {} / {DEMO_PASSWORD} (every demo agent has this password)",
        admin.email
    );
    println!("  API token for the admin: {token}");
    println!("  try: curl -H 'Authorization: Bearer {token}' '<the address below>/api/v1/tickets?status=open'");
    Ok(())
}
