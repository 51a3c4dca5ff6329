//! Saved views: personal and shared, filters checked by the list API's parser, each agent
//! seeing only their own tickets through any view; the workspace pages to make, use, change
//! and delete them.

use crate::harness::*;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tend_core::Role;

fn ids(b: &serde_json::Value) -> Vec<i64> {
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn saved_views_filter_sort_and_share_without_sharing_tickets() {
    let app = TestApp::spawn().await;
    let billing = app.group("Billing").await;
    let support = app.group("Support").await;
    let (lena, lena_token) = app.agent("lena@shop.test", Role::Agent, &[support]).await;
    let (_otto, otto_token) = app.agent("otto@shop.test", Role::Agent, &[billing]).await;
    let (_sue, sue_token) = app.agent("sue@shop.test", Role::Supervisor, &[]).await;
    let id = |v: serde_json::Value| v["id"].as_i64().unwrap();
    let s1 = id(app.ticket(json!({"subject": "Printer jam", "group_id": support, "tags": ["vip"], "requester": {"email": "a@example.com"}})).await);
    app.clock.advance(chrono::Duration::minutes(1));
    let s2 = id(app.ticket(json!({"subject": "Screen flicker", "group_id": support, "assignee_id": lena, "requester": {"email": "b@example.com"}})).await);
    app.clock.advance(chrono::Duration::minutes(1));
    let b1 = id(app.ticket(json!({"subject": "Refund", "group_id": billing, "tags": ["vip"], "requester": {"email": "c@example.com"}})).await);

    // A personal view: oldest first, three columns.
    let call = |method: Method, path: &str, token: &str, body: Option<serde_json::Value>| {
        let (path, token) = (path.to_string(), token.to_string());
        let app = &app;
        async move { app.call(method, &path, &token, body).await }
    };
    let r = call(Method::POST, "/api/v1/views", &lena_token, Some(json!({"name": "Open support", "filters": format!("status=new,open&group_id={support}"), "sort": "created_at", "columns": ["requester", "group", "due"]}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let mine = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["owner_id"], lena);
    let r = call(
        Method::GET,
        &format!("/api/v1/views/{mine}/tickets"),
        &lena_token,
        None,
    )
    .await;
    assert_eq!(ids(&r.body), vec![s1, s2]);
    assert_eq!(r.body["count"], 2);
    // Paging keeps the view's order.
    let r = call(
        Method::GET,
        &format!("/api/v1/views/{mine}/tickets?limit=1"),
        &lena_token,
        None,
    )
    .await;
    assert_eq!(ids(&r.body), vec![s1]);
    let cur = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = call(
        Method::GET,
        &format!("/api/v1/views/{mine}/tickets?limit=1&cursor={cur}"),
        &lena_token,
        None,
    )
    .await;
    assert_eq!(ids(&r.body), vec![s2]);
    // Someone else's personal view does not exist for them.
    for (m, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"name": "x"}))),
        (Method::DELETE, None),
    ] {
        let r = call(m, &format!("/api/v1/views/{mine}"), &otto_token, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    }
    let r = call(
        Method::GET,
        &format!("/api/v1/views/{mine}/tickets"),
        &otto_token,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(ids(&call(Method::GET, "/api/v1/views", &otto_token, None)
        .await
        .body)
    .is_empty());

    // Only admins and supervisors share; a shared view shows each agent their own tickets.
    let r = call(
        Method::POST,
        "/api/v1/views",
        &lena_token,
        Some(json!({"name": "VIP", "filters": "tag=vip", "shared": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = call(
        Method::POST,
        "/api/v1/views",
        &sue_token,
        Some(json!({"name": "VIP", "filters": "?tag=vip", "shared": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let vip = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["owner_id"], json!(null));
    assert_eq!(
        r.body["columns"],
        json!([
            "requester",
            "status",
            "priority",
            "assignee",
            "due",
            "updated"
        ])
    );
    let seen = |token: String| {
        let app = &app;
        async move {
            ids(&app
                .call(
                    Method::GET,
                    &format!("/api/v1/views/{vip}/tickets"),
                    &token,
                    None,
                )
                .await
                .body)
        }
    };
    assert_eq!(seen(sue_token.clone()).await, vec![b1, s1]);
    assert_eq!(seen(lena_token.clone()).await, vec![s1]);
    assert_eq!(seen(otto_token.clone()).await, vec![b1]);
    let r = call(
        Method::PUT,
        &format!("/api/v1/views/{vip}"),
        &lena_token,
        Some(json!({"name": "Mine now", "filters": ""})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let names: Vec<String> = call(Method::GET, "/api/v1/views", &lena_token, None)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["VIP", "Open support"], "shared first");

    // Bad input: the list API's own messages, under "filters".
    for (body, field, says) in [
        (
            json!({"name": "x", "filters": "status=lost"}),
            "filters",
            "status",
        ),
        (
            json!({"name": "x", "filters": "colour=red"}),
            "filters",
            "colour",
        ),
        (
            json!({"name": "x", "filters": "status=open&cursor=abc"}),
            "filters",
            "cursor",
        ),
        (
            json!({"name": "x", "filters": "updated_after=yesterday"}),
            "filters",
            "RFC 3339",
        ),
        (
            json!({"name": "x", "sort": "subject"}),
            "sort",
            "must be one of",
        ),
        (
            json!({"name": "x", "columns": ["status", "mood"]}),
            "columns",
            "mood",
        ),
        (
            json!({"name": "x", "columns": ["status", "status"]}),
            "columns",
            "twice",
        ),
        (
            json!({"name": "x", "columns": []}),
            "columns",
            "at least one",
        ),
        (json!({"name": "  "}), "name", "empty"),
        (json!({"name": "x".repeat(81)}), "name", "80"),
    ] {
        let r = call(
            Method::POST,
            "/api/v1/views",
            &lena_token,
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r:?}");
        assert_eq!(
            r.headers.get("content-type").unwrap(),
            "application/problem+json"
        );
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(field) && detail.contains(says),
            "{body}: {detail}"
        );
    }

    // Replace and delete, audited.
    let r = call(
        Method::PUT,
        &format!("/api/v1/views/{mine}"),
        &lena_token,
        Some(json!({"name": "Support, all", "filters": format!("group_id={support}")})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["sort"], "-updated_at");
    let r = call(
        Method::DELETE,
        &format!("/api/v1/views/{mine}"),
        &lena_token,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        call(
            Method::GET,
            &format!("/api/v1/views/{mine}"),
            &lena_token,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let audit = app.get("/api/v1/audit-log").await.body.to_string();
    for a in ["view.created", "view.updated", "view.deleted"] {
        assert!(audit.contains(a), "{a}");
    }
}

#[tokio::test]
async fn agents_make_change_and_delete_views_in_the_workspace() {
    let app = TestApp::spawn().await;
    let support = app.group("Support").await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let lena = app
        .store
        .agent_by_email("lena@shop.test")
        .await
        .unwrap()
        .unwrap();
    app.call(
        Method::PUT,
        &format!("/api/v1/groups/{support}/members"),
        app.admin_token(),
        Some(json!({"agent_ids": [lena.id]})),
    )
    .await;
    app.ticket(json!({"subject": "Urgent printer", "priority": "urgent", "group_id": support, "requester": {"email": "a@example.com"}})).await;
    app.ticket(json!({"subject": "Calm question", "priority": "low", "group_id": support, "requester": {"email": "b@example.com"}})).await;
    let cookie = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let page = |path: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let r = app.get_with_cookie(&path, &cookie).await;
            (r.status, String::from_utf8_lossy(&r.raw).into_owned())
        }
    };
    let (st, html) = page("/views/new".into()).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("New view") && html.contains("name=\"column\""));
    let csrf = csrf_of(&html);

    // Without a CSRF token nothing is saved; a bad tag is explained on the form.
    let r = app
        .post_form(
            "/views/new",
            form(&[("name", "Hot"), ("priority", "urgent")]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            "/views/new",
            form(&[
                ("csrf", &csrf),
                ("name", "Hot"),
                ("tag", "not a tag!"),
                ("column", "group"),
            ]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&r.raw).contains("filters: tag"),
        "{}",
        String::from_utf8_lossy(&r.raw)
    );

    let r = app
        .post_form(
            "/views/new",
            form(&[
                ("csrf", &csrf),
                ("name", "Hot"),
                ("status", "new"),
                ("status", "open"),
                ("priority", "urgent"),
                ("priority", "high"),
                ("assignee_id", "any"),
                ("group_id", &support.to_string()),
                ("sort", "-created_at"),
                ("column", "group"),
                ("column", "priority"),
            ]),
            Some(&cookie),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&r.raw)
    );
    let at = r
        .headers
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(at.starts_with("/views/saved-"), "{at}");
    let (st, html) = page(at.clone()).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("Urgent printer") && !html.contains("Calm question"));
    assert!(
        html.contains(">Group</th>")
            && html.contains(">Priority</th>")
            && !html.contains(">Requester</th>"),
        "{html}"
    );
    assert!(
        html.contains("Edit view") && html.contains(&format!("href=\"{at}\"")),
        "in the navigation"
    );
    let key = at.trim_start_matches("/views/").to_string();
    let counts: serde_json::Value =
        serde_json::from_slice(&app.get_with_cookie("/views/counts", &cookie).await.raw).unwrap();
    assert_eq!(counts[&key], 1, "{counts}");

    // Change it: all priorities now.
    let (_, html) = page(format!("{at}/edit")).await;
    assert!(
        html.contains("value=\"Hot\"") && html.contains("value=\"urgent\" checked"),
        "{html}"
    );
    let r = app
        .post_form(
            &format!("{at}/edit"),
            form(&[
                ("csrf", &csrf),
                ("name", "Support queue"),
                ("group_id", &support.to_string()),
                ("column", "requester"),
            ]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, html) = page(at.clone()).await;
    assert!(
        html.contains("Support queue")
            && html.contains("Urgent printer")
            && html.contains("Calm question")
    );
    // Built-in views cannot be edited; delete removes it.
    assert_eq!(
        page("/views/mine/edit".into()).await.0,
        StatusCode::NOT_FOUND
    );
    let r = app
        .post_form(
            &format!("{at}/delete"),
            form(&[("csrf", &csrf)]),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(page(at).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_organization_page_lists_its_people_and_only_visible_tickets() {
    let app = TestApp::spawn().await;
    let support = app.group("Support").await;
    let billing = app.group("Billing").await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    let lena = app
        .store
        .agent_by_email("lena@shop.test")
        .await
        .unwrap()
        .unwrap();
    app.call(
        Method::PUT,
        &format!("/api/v1/groups/{support}/members"),
        app.admin_token(),
        Some(json!({"agent_ids": [lena.id]})),
    )
    .await;
    let org = app
        .post(
            "/api/v1/organizations",
            json!({"name": "Acme <GmbH>", "domains": ["acme.example"], "notes": "Key account"}),
        )
        .await
        .body;
    let oid = org["id"].as_i64().unwrap();
    let ana = app
        .post(
            "/api/v1/customers",
            json!({"name": "Ana Lima", "emails": ["ana@acme.example"], "organization_id": oid}),
        )
        .await
        .body;
    let bo = app
        .post(
            "/api/v1/customers",
            json!({"name": "Bo Berg", "emails": ["bo@acme.example"], "organization_id": oid}),
        )
        .await
        .body;
    app.ticket(json!({"subject": "Printer", "group_id": support, "requester_id": ana["id"]}))
        .await;
    app.ticket(json!({"subject": "Invoice secret", "group_id": billing, "requester_id": bo["id"]}))
        .await;
    app.ticket(json!({"subject": "Elsewhere", "group_id": support, "requester": {"email": "x@other.example"}})).await;
    let cookie = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let r = app
        .get_with_cookie(&format!("/organizations/{oid}"), &cookie)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        html.contains("Acme &#60;GmbH&#62;") && html.contains("Key account"),
        "escaped: {html}"
    );
    assert!(
        html.contains("Ana Lima") && html.contains("Bo Berg") && html.contains("ana@acme.example")
    );
    assert!(html.contains("Printer"));
    assert!(
        !html.contains("Invoice secret") && !html.contains("Elsewhere"),
        "only visible tickets of this organization"
    );
    assert!(html.contains("1 open of 1 ticket(s) you can see"), "{html}");
    // The customer page links to it; an unknown organization is a 404.
    let page = app
        .get_with_cookie(&format!("/customers/{}", ana["id"]), &cookie)
        .await;
    assert!(String::from_utf8_lossy(&page.raw).contains(&format!("href=\"/organizations/{oid}\"")));
    assert_eq!(
        app.get_with_cookie("/organizations/999999", &cookie)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn agents_add_and_delete_macros_on_the_macros_page() {
    let app = TestApp::spawn().await;
    let billing = app.group("Billing").await;
    app.post("/api/v1/agents", json!({"email": "lena@shop.test", "name": "Lena", "role": "agent", "password": "correct horse battery"})).await;
    app.post("/api/v1/agents", json!({"email": "sue@shop.test", "name": "Sue", "role": "supervisor", "password": "correct horse battery"})).await;
    let lena = crate::ui::sign_in(&app, "lena@shop.test", "correct horse battery").await;
    let sue = crate::ui::sign_in(&app, "sue@shop.test", "correct horse battery").await;
    let html =
        String::from_utf8_lossy(&app.get_with_cookie("/macros", &lena).await.raw).into_owned();
    assert!(html.contains("No macros yet") && html.contains("{{customer.first_name}}"));
    assert!(!html.contains("name=\"shared\""), "agents cannot share");
    let csrf = csrf_of(&html);
    // A bad placeholder is explained and what was typed stays.
    let r = app
        .post_form(
            "/macros",
            form(&[
                ("csrf", &csrf),
                ("title", "Refund"),
                ("body", "Hi {{customer.shoe_size}}"),
                ("public", "on"),
            ]),
            Some(&lena),
        )
        .await;
    let html = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        html.contains("body:") && html.contains("shoe_size") && html.contains("value=\"Refund\""),
        "{html}"
    );
    let r = app
        .post_form(
            "/macros",
            form(&[
                ("csrf", &csrf),
                ("title", "Refund"),
                ("body", "Hi {{customer.first_name}}, refunded."),
                ("public", "on"),
                ("status", "solved"),
                ("group_id", &billing.to_string()),
                ("add_tags", "refund, money"),
            ]),
            Some(&lena),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let html = String::from_utf8_lossy(&app.get_with_cookie("/macros?done=added", &lena).await.raw)
        .into_owned();
    assert!(
        html.contains("Refund")
            && html.contains("status solved, group Billing, tags +money +refund"),
        "{html}"
    );
    // It is Lena's own: Sue does not see it.
    let html_sue =
        String::from_utf8_lossy(&app.get_with_cookie("/macros", &sue).await.raw).into_owned();
    assert!(!html_sue.contains("Refund") && html_sue.contains("name=\"shared\""));
    let csrf_sue = csrf_of(&html_sue);
    let r = app
        .post_form(
            "/macros",
            form(&[
                ("csrf", &csrf_sue),
                ("title", "Greeting"),
                ("body", "Hello!"),
                ("public", "on"),
                ("shared", "on"),
            ]),
            Some(&sue),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Lena sees the shared one but may not delete it.
    let html =
        String::from_utf8_lossy(&app.get_with_cookie("/macros", &lena).await.raw).into_owned();
    assert!(html.contains("Greeting") && html.contains("everyone"));
    let macros = app.store.list_macros(0).await.unwrap();
    let greeting = macros.iter().find(|m| m.title == "Greeting").unwrap().id;
    let r = app
        .post_form(
            &format!("/macros/{greeting}/delete"),
            form(&[("csrf", &csrf)]),
            Some(&lena),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_form(
            &format!("/macros/{greeting}/delete"),
            form(&[("csrf", &csrf_sue)]),
            Some(&sue),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        !String::from_utf8_lossy(&app.get_with_cookie("/macros", &lena).await.raw)
            .contains("Greeting")
    );
}
