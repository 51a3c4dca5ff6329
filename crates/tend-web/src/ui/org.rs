//! The organization page: its details, its people and their tickets (only the tickets the
//! agent may open).

use super::pages::{nav, short_time, Nav};
use super::{render, Session};
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use tend_store::*;

/// People and tickets shown on the page (the first ones; the API pages through the rest).
const SHOWN: i64 = 100;

#[derive(Template)]
#[template(path = "organization.html")]
struct OrgPage {
    nav: Nav,
    org: Organization,
    /// (id, name, first identity)
    people: Vec<(i64, String, String)>,
    more_people: bool,
    /// (id, subject, status, requester, updated)
    tickets: Vec<(i64, String, String, String, String)>,
    /// "4,087" or "10,000+".
    open: String,
    total: String,
}

fn shown_count(n: i64) -> String {
    let cap = super::views::COUNT_CAP;
    if n > cap {
        format!("{}+", thousands(cap))
    } else {
        thousands(n)
    }
}

fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
) -> Result<Response, AppError> {
    let org = s.store.get_organization(id).await?;
    let people_page = s
        .store
        .list_customers(CustomerQuery {
            identity: None,
            organization_id: Some(id),
            page: PageRequest {
                after_id: None,
                limit: SHOWN,
            },
        })
        .await?;
    let names: std::collections::HashMap<i64, String> = people_page
        .items
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect();
    let people = people_page
        .items
        .iter()
        .map(|c| {
            (
                c.id,
                c.name.clone(),
                c.identities
                    .first()
                    .map(|i| i.value.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut q = TicketQuery {
        organization_id: Some(id),
        limit: SHOWN,
        ..Default::default()
    };
    let cap = Some(super::views::COUNT_CAP + 1);
    let total = s.store.count_tickets(&q, &sess.viewer, cap).await?;
    let tickets_page = s.store.list_tickets(&q, &sess.viewer).await?;
    q.statuses = vec![
        tend_core::Status::New,
        tend_core::Status::Open,
        tend_core::Status::Pending,
        tend_core::Status::OnHold,
    ];
    let open = s.store.count_tickets(&q, &sess.viewer, cap).await?;
    let mut tickets = Vec::with_capacity(tickets_page.items.len());
    for t in tickets_page.items {
        let requester = match names.get(&t.requester_id) {
            Some(n) => n.clone(),
            None => s
                .store
                .get_customer(t.requester_id)
                .await
                .map(|c| c.name)
                .unwrap_or_default(),
        };
        tickets.push((
            t.id,
            t.subject,
            t.status.to_string(),
            requester,
            short_time(t.updated_at),
        ));
    }
    let nav = nav(&s, &sess, "").await?;
    Ok(render(&OrgPage {
        nav,
        org,
        people,
        more_people: people_page.next_cursor.is_some(),
        tickets,
        open: shown_count(open),
        total: shown_count(total),
    }))
}
