//! /search: full-text search from the header of every workspace page — the tickets the
//! agent may open (the same rule and index as `GET /api/v1/search/tickets`) and the
//! knowledge-base articles live now (internal ones included, for linking in replies).

use super::pages::{nav, Nav};
use super::{render, Session};
use crate::extract::Query;
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

/// Longest query kept (the engine reads at most 1,000 characters anyway).
const QUERY_MAX: usize = 500;

pub struct TicketHit {
    pub id: i64,
    pub subject: String,
    pub status: String,
    /// HTML from the engine: escaped text with `<mark>` around the matches.
    pub snippet: String,
}

pub struct ArticleHit {
    pub href: String,
    pub title: String,
    pub locale: String,
    pub snippet: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    nav: Nav,
    q: String,
    /// Why there are no results (search off, nothing found).
    message: Option<String>,
    tickets: Vec<TicketHit>,
    total: usize,
    articles: Vec<ArticleHit>,
}

#[derive(Deserialize)]
pub struct Params {
    q: Option<String>,
}

pub async fn page(
    State(s): State<AppState>,
    sess: Session,
    Query(p): Query<Params>,
) -> Result<Response, AppError> {
    let nav = nav(&s, &sess, "search").await?;
    let q: String =
        p.q.unwrap_or_default()
            .trim()
            .chars()
            .take(QUERY_MAX)
            .collect();
    let mut page = SearchPage {
        nav,
        q: q.clone(),
        message: None,
        tickets: vec![],
        total: 0,
        articles: vec![],
    };
    if q.is_empty() {
        return Ok(render(&page));
    }
    let Some(search) = s.search.clone() else {
        page.message = Some("Full-text search is switched off on this server (TEND_SEARCH=off). Use the views on the left.".into());
        return Ok(render(&page));
    };
    let (hits, total) = crate::api::search::search_tickets(
        &s,
        &sess.viewer,
        tend_search::TicketQuery {
            limit: 25,
            ..tend_search::TicketQuery::new(q.clone())
        },
    )
    .await?;
    page.total = total;
    page.tickets = hits
        .into_iter()
        .map(|h| TicketHit {
            id: h.id,
            subject: h.title,
            status: h.status.unwrap_or_default(),
            snippet: h.snippet,
        })
        .collect();
    let kq = tend_search::KbQuery {
        published_only: true,
        limit: 5,
        ..tend_search::KbQuery::new(q)
    };
    let found = tokio::task::spawn_blocking(move || search.kb().search(&kq))
        .await
        .map_err(|e| AppError::Internal(format!("search task: {e}")))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    page.articles = crate::helpcenter::live_hits(&s, found.hits, false)
        .await
        .into_iter()
        .filter_map(|h| {
            let locale = h.locale?;
            Some(ArticleHit {
                href: crate::helpcenter::article_path(&locale, h.id, &h.title),
                title: h.title,
                locale,
                snippet: h.snippet,
            })
        })
        .collect();
    if page.tickets.is_empty() && page.articles.is_empty() {
        page.message = Some("Nothing found. Try fewer or other words; typos are forgiven.".into());
    }
    Ok(render(&page))
}
