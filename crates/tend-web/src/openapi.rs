//! The OpenAPI 3.1 document for /api/v1, served at /api/v1/openapi.json.

use axum::response::IntoResponse;
use serde_json::{json, Value};
use std::sync::OnceLock;

pub async fn serve() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| document().to_string()).clone();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn ok(schema: Value) -> Value {
    json!({ "description": "OK", "content": { "application/json": { "schema": schema } } })
}

fn page(item: &str) -> Value {
    json!({ "type": "object", "properties": { "items": { "type": "array", "items": r(item) }, "next_cursor": { "type": ["string", "null"] } }, "required": ["items", "next_cursor"] })
}

fn items(item: &str) -> Value {
    json!({ "type": "object", "properties": { "items": { "type": "array", "items": r(item) } } })
}

fn errors() -> Value {
    let p = json!({ "description": "problem", "content": { "application/problem+json": { "schema": r("Problem") } } });
    json!({ "400": p, "401": p, "403": p, "404": p, "409": p, "413": p, "415": p, "422": p, "429": p })
}

fn op(summary: &str, params: Value, body: Option<Value>, status: &str, resp: Value) -> Value {
    let mut responses = errors();
    responses[status] = resp;
    let mut o = json!({ "summary": summary, "parameters": params, "responses": responses });
    if let Some(b) = body {
        o["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": b } } });
    }
    o
}

fn id() -> Value {
    json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } }])
}

fn q(name: &str, ty: &str, desc: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": { "type": ty }, "description": desc })
}

fn paging() -> Vec<Value> {
    vec![
        q("limit", "integer", "1–100, default 25"),
        q("cursor", "string", "next_cursor of the previous page"),
    ]
}

pub fn document() -> Value {
    let status_enum = json!(["new", "open", "pending", "on_hold", "solved", "closed"]);
    let priority_enum = json!(["low", "normal", "high", "urgent"]);
    let channel_enum = json!(["email", "web", "portal", "chat", "phone", "social", "api"]);
    let time = json!({ "type": "string", "format": "date-time" });
    let opt_id = json!({ "type": ["integer", "null"] });
    let mut ticket_params = vec![
        q("status", "string", "comma-separated statuses"),
        q("priority", "string", "comma-separated priorities"),
        q("assignee_id", "string", "an agent id, 'me' or 'none'"),
        q("group_id", "string", "a group id or 'none'"),
        q("requester_id", "integer", ""),
        q("organization_id", "integer", ""),
        q("channel", "string", ""),
        q("tag", "string", ""),
        q("updated_after", "string", "RFC 3339"),
        q("updated_before", "string", "RFC 3339"),
        q(
            "sort",
            "string",
            "-updated_at (default), updated_at, -created_at, created_at, -id, id",
        ),
    ];
    ticket_params.extend(paging());
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": "Tend API", "version": env!("CARGO_PKG_VERSION"), "description": "Self-hosted customer service. Errors are RFC 9457 problem+json. Lists use cursor pagination." },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/me": { "get": op("The agent behind the token", json!([]), None, "200", ok(r("Agent"))) },
            "/sessions": { "post": { "summary": "Sign in with e-mail and password; returns a new API token (throttled)", "security": [], "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["email", "password"], "properties": { "email": { "type": "string" }, "password": { "type": "string" } } } } } }, "responses": { "201": ok(json!({ "type": "object" })), "401": errors()["401"], "429": errors()["429"] } } },
            "/tokens": { "post": op("Create an API token for yourself", json!([]), Some(json!({ "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } })), "201", ok(json!({ "type": "object" }))) },
            "/tickets": {
                "get": op("List tickets you may see", Value::Array(ticket_params), None, "200", ok(page("Ticket"))),
                "post": { "summary": "Create a ticket (send Idempotency-Key to make retries safe)", "parameters": [{ "name": "Idempotency-Key", "in": "header", "schema": { "type": "string" } }], "requestBody": { "required": true, "content": { "application/json": { "schema": r("CreateTicket") } } }, "responses": { "201": ok(r("Ticket")), "200": ok(r("Ticket")), "400": errors()["400"], "401": errors()["401"], "409": errors()["409"], "422": errors()["422"] } }
            },
            "/tickets/{id}": {
                "get": op("Get a ticket", id(), None, "200", ok(r("Ticket"))),
                "patch": op("Change a ticket; each change becomes an event", id(), Some(r("UpdateTicket")), "200", ok(r("Ticket")))
            },
            "/tickets/{id}/messages": {
                "get": op("A ticket's messages", id(), None, "200", ok(items("Message"))),
                "post": op("Reply (public) or add an internal note (public: false)", id(), Some(r("NewMessage")), "201", ok(r("Message")))
            },
            "/tickets/{id}/events": { "get": op("A ticket's timeline, oldest first", id(), None, "200", ok(page("Event"))) },
            "/attachments/{id}": { "get": op("Download an attachment", id(), None, "200", json!({ "description": "the file" })) },
            "/tags": { "get": op("Tags with their ticket counts", json!([]), None, "200", ok(json!({ "type": "object" }))) },
            "/search/tickets": { "get": op("Full-text ticket search, ranked (tickets you may open; see docs/search.md for the query rules)", json!([q("q", "string", "words, \"phrases\"; typos tolerated; the last word also matches as a prefix"), q("status", "string", "comma-separated statuses"), q("customer_id", "integer", ""), q("limit", "integer", "1-100, default 25"), q("offset", "integer", "0-10000")]), None, "200", ok(json!({ "type": "object", "properties": { "hits": { "type": "array", "items": { "type": "object" } }, "total": { "type": "integer" }, "took_ms": { "type": "number" } } }))) },
            "/search/articles": { "get": { "summary": "Help-center search: published public articles (agents sending a token also get internal ones)", "security": [{}, { "bearer": [] }], "parameters": [q("q", "string", "the question"), q("locale", "string", "de matches de and de-CH; de-CH only de-CH"), q("category", "integer", ""), q("section", "integer", ""), q("brand", "integer", ""), q("limit", "integer", "1-100, default 25"), q("offset", "integer", "0-10000")], "responses": { "200": ok(json!({ "type": "object" })), "401": errors()["401"], "422": errors()["422"], "503": { "description": "search is not configured" } } } },
            "/customers": {
                "get": op("List or find customers", json!([q("email", "string", "exact e-mail"), q("phone", "string", "exact phone"), q("organization_id", "integer", ""), q("limit", "integer", ""), q("cursor", "string", "")]), None, "200", ok(page("Customer"))),
                "post": op("Create a customer", json!([]), Some(r("CreateCustomer")), "201", ok(r("Customer")))
            },
            "/customers/{id}": { "get": op("Get a customer", id(), None, "200", ok(r("Customer"))), "patch": op("Change a customer", id(), Some(json!({ "type": "object" })), "200", ok(r("Customer"))) },
            "/customers/{id}/timeline": { "get": op("Every event of the customer's tickets, newest first", id(), None, "200", ok(page("Event"))) },
            "/organizations": { "get": op("List organizations", Value::Array(paging()), None, "200", ok(page("Organization"))), "post": op("Create an organization", json!([]), Some(json!({ "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "domains": { "type": "array", "items": { "type": "string" } }, "notes": { "type": "string" } } })), "201", ok(r("Organization"))) },
            "/organizations/{id}": { "get": op("Get an organization", id(), None, "200", ok(r("Organization"))), "patch": op("Change an organization", id(), Some(json!({ "type": "object" })), "200", ok(r("Organization"))) },
            "/agents": { "get": op("List agents", json!([]), None, "200", ok(items("Agent"))), "post": op("Create an agent (admin)", json!([]), Some(json!({ "type": "object", "required": ["email", "name", "role"], "properties": { "email": { "type": "string" }, "name": { "type": "string" }, "role": { "enum": ["admin", "supervisor", "agent"] }, "password": { "type": "string", "minLength": 10 } } })), "201", ok(r("Agent"))) },
            "/agents/{id}": { "get": op("Get an agent", id(), None, "200", ok(r("Agent"))), "patch": op("Change an agent (admin; anyone may change their own password)", id(), Some(json!({ "type": "object" })), "200", ok(r("Agent"))) },
            "/groups": { "get": op("List groups", json!([]), None, "200", ok(items("Group"))), "post": op("Create a group (admin)", json!([]), Some(json!({ "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "description": { "type": "string" } } })), "201", ok(r("Group"))) },
            "/groups/{id}": { "get": op("Get a group", id(), None, "200", ok(r("Group"))) },
            "/groups/{id}/members": { "put": op("Replace a group's members (admin)", id(), Some(json!({ "type": "object", "required": ["agent_ids"], "properties": { "agent_ids": { "type": "array", "items": { "type": "integer" } } } })), "200", ok(r("Group"))) },
            "/field-definitions": { "get": op("Custom field definitions", json!([]), None, "200", ok(items("FieldDef"))), "post": op("Define a custom field (admin)", json!([]), Some(json!({ "type": "object", "required": ["key", "label", "type"], "properties": { "key": { "type": "string" }, "label": { "type": "string" }, "type": { "enum": ["text", "textarea", "integer", "decimal", "checkbox", "date", "dropdown"] }, "options": { "type": "array", "items": { "type": "string" } } } })), "201", ok(r("FieldDef"))) },
            "/webhooks": { "get": op("List webhooks (admin)", json!([]), None, "200", ok(items("Webhook"))), "post": op("Subscribe a URL to event kinds (admin); deliveries are signed", json!([]), Some(json!({ "type": "object", "required": ["url", "events"], "properties": { "url": { "type": "string" }, "events": { "type": "array", "items": { "type": "string" } }, "secret": { "type": "string" } } })), "201", ok(r("Webhook"))) },
            "/webhooks/{id}": { "get": op("Get a webhook (admin)", id(), None, "200", ok(r("Webhook"))), "delete": op("Delete a webhook (admin)", id(), None, "204", json!({ "description": "deleted" })) },
            "/audit-log": { "get": op("Admin actions, newest first (admin, supervisor)", Value::Array(paging()), None, "200", ok(page("AuditEntry"))) },
            "/jobs": { "get": op("Background jobs by state (admin); default: dead letters", json!([q("state", "string", "queued, done or dead"), q("limit", "integer", "")]), None, "200", ok(json!({ "type": "object" }))) },
            "/imports": { "post": { "summary": "Import tickets with history as JSON Lines (admin); idempotent by external_id", "requestBody": { "required": true, "content": { "application/x-ndjson": { "schema": { "type": "string" } } } }, "responses": { "200": ok(json!({ "type": "object", "properties": { "created": { "type": "integer" }, "skipped": { "type": "integer" } } })), "422": errors()["422"] } } }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Problem": { "type": "object", "properties": { "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" }, "detail": { "type": "string" }, "field": { "type": "string" } } },
                "Ticket": { "type": "object", "properties": { "id": { "type": "integer" }, "subject": { "type": "string" }, "status": { "enum": status_enum }, "priority": { "enum": priority_enum }, "channel": { "enum": channel_enum }, "requester_id": { "type": "integer" }, "organization_id": opt_id, "assignee_id": opt_id, "group_id": opt_id, "brand_id": opt_id, "tags": { "type": "array", "items": { "type": "string" } }, "fields": { "type": "object" }, "external_id": { "type": ["string", "null"] }, "created_at": time, "updated_at": time, "solved_at": { "type": ["string", "null"], "format": "date-time" }, "last_seq": { "type": "integer" } } },
                "CreateTicket": { "type": "object", "required": ["subject"], "additionalProperties": false, "properties": { "subject": { "type": "string", "maxLength": 500 }, "status": { "enum": status_enum }, "priority": { "enum": priority_enum }, "channel": { "enum": channel_enum }, "requester_id": { "type": "integer" }, "requester": { "type": "object", "required": ["email"], "properties": { "email": { "type": "string" }, "name": { "type": "string" } } }, "assignee_id": { "type": "integer" }, "group_id": { "type": "integer" }, "brand_id": { "type": "integer" }, "tags": { "type": "array", "items": { "type": "string" } }, "fields": { "type": "object" }, "external_id": { "type": "string" }, "comment": r("NewMessage") } },
                "UpdateTicket": { "type": "object", "additionalProperties": false, "properties": { "subject": { "type": "string" }, "status": { "enum": status_enum }, "priority": { "enum": priority_enum }, "assignee_id": opt_id, "group_id": opt_id, "tags": { "type": "array", "items": { "type": "string" } }, "add_tags": { "type": "array", "items": { "type": "string" } }, "remove_tags": { "type": "array", "items": { "type": "string" } }, "fields": { "type": "object" } } },
                "NewMessage": { "type": "object", "additionalProperties": false, "properties": { "body": { "type": "string" }, "html": { "type": "string", "description": "sanitized on arrival" }, "public": { "type": "boolean", "default": true }, "author": { "enum": ["requester", "agent"], "description": "first message of a new ticket only" }, "time_spent_seconds": { "type": "integer", "minimum": 1, "maximum": 86400, "description": "time the agent spent on this reply or note (agents' messages only); counted as handle time in reports" }, "attachments": { "type": "array", "items": { "type": "object", "required": ["filename", "data_base64"], "properties": { "filename": { "type": "string" }, "content_type": { "type": "string" }, "data_base64": { "type": "string" } } } } } },
                "Message": { "type": "object", "properties": { "id": { "type": "integer" }, "ticket_id": { "type": "integer" }, "author": r("Actor"), "public": { "type": "boolean" }, "body_text": { "type": "string" }, "body_html": { "type": "string" }, "created_at": time, "attachments": { "type": "array", "items": { "type": "object" } } } },
                "Actor": { "type": "object", "properties": { "kind": { "enum": ["agent", "customer", "system"] }, "id": opt_id } },
                "Event": { "type": "object", "properties": { "seq": { "type": "integer" }, "ticket_id": { "type": "integer" }, "actor": r("Actor"), "at": time, "kind": { "type": "string" }, "change": { "type": "object", "properties": { "type": { "type": "string" } } } } },
                "Customer": { "type": "object", "properties": { "id": { "type": "integer" }, "name": { "type": "string" }, "organization_id": opt_id, "language": { "type": ["string", "null"] }, "time_zone": { "type": ["string", "null"] }, "notes": { "type": "string" }, "identities": { "type": "array", "items": { "type": "object", "properties": { "kind": { "enum": ["email", "phone", "social"] }, "value": { "type": "string" } } } }, "created_at": time, "updated_at": time } },
                "CreateCustomer": { "type": "object", "required": ["name"], "additionalProperties": false, "properties": { "name": { "type": "string" }, "emails": { "type": "array", "items": { "type": "string" } }, "phones": { "type": "array", "items": { "type": "string" } }, "social": { "type": "array", "items": { "type": "string" } }, "organization_id": { "type": "integer" }, "language": { "type": "string" }, "time_zone": { "type": "string" }, "notes": { "type": "string" } } },
                "Organization": { "type": "object", "properties": { "id": { "type": "integer" }, "name": { "type": "string" }, "domains": { "type": "array", "items": { "type": "string" } }, "notes": { "type": "string" }, "created_at": time, "updated_at": time } },
                "Agent": { "type": "object", "properties": { "id": { "type": "integer" }, "email": { "type": "string" }, "name": { "type": "string" }, "role": { "enum": ["admin", "supervisor", "agent"] }, "active": { "type": "boolean" }, "group_ids": { "type": "array", "items": { "type": "integer" } }, "created_at": time } },
                "Group": { "type": "object", "properties": { "id": { "type": "integer" }, "name": { "type": "string" }, "description": { "type": "string" }, "member_ids": { "type": "array", "items": { "type": "integer" } }, "created_at": time } },
                "FieldDef": { "type": "object", "properties": { "id": { "type": "integer" }, "key": { "type": "string" }, "label": { "type": "string" }, "field_type": { "type": "string" }, "options": { "type": "array", "items": { "type": "string" } }, "created_at": time } },
                "Webhook": { "type": "object", "properties": { "id": { "type": "integer" }, "url": { "type": "string" }, "events": { "type": "array", "items": { "type": "string" } }, "active": { "type": "boolean" }, "created_at": time } },
                "AuditEntry": { "type": "object", "properties": { "id": { "type": "integer" }, "actor": r("Actor"), "action": { "type": "string" }, "target": { "type": "string" }, "data": { "type": "object" }, "at": time } }
            }
        }
    });
    surveys(&mut doc);
    mail(&mut doc);
    kb(&mut doc);
    kb_self_service(&mut doc);
    reports(&mut doc);
    report_extras(&mut doc);
    brands(&mut doc);
    crate::api::routing::openapi(&mut doc); // routing (issue 5)
    crate::api::escalation::openapi(&mut doc); // triggers, automations, escalation (issue 5)
    doc
}

/// Brands (docs/brands.md).
fn brands(doc: &mut Value) {
    let p = &mut doc["paths"];
    let color =
        |d: &str| json!({ "type": "string", "pattern": "^#[0-9a-fA-F]{6}$", "description": d });
    let fields = json!({
        "name": { "type": "string", "maxLength": 100 },
        "slug": { "type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" },
        "host": { "type": ["string", "null"], "description": "host name whose pages show the brand, e.g. help.shop.example (no port)" },
        "primary_color": color("header bar; white text on it must reach 4.5:1 (WCAG AA)"),
        "accent_color": color("links and primary buttons; must reach 4.5:1 against the page background #f6f7f9"),
        "default_locale": { "type": "string", "description": "BCP 47, default en" }
    });
    let mut create = json!({ "type": "object", "required": ["name", "slug"], "additionalProperties": false, "properties": fields.clone() });
    create["properties"]["primary_color"]["default"] = json!("#17324d");
    create["properties"]["accent_color"]["default"] = json!("#0b5cad");
    let mut patch =
        json!({ "type": "object", "additionalProperties": false, "properties": fields.clone() });
    patch["properties"]["archived"] = json!({ "type": "boolean" });
    p["/brands"] = json!({
        "get": op("Brands by id; the first active one is the default (agents)", json!([q("include_archived", "boolean", "also archived brands")]), None, "200", ok(items("Brand"))),
        "post": op("Create a brand (admin); audited", json!([]), Some(create), "201", ok(r("Brand")))
    });
    p["/brands/{id}"] = json!({
        "get": op("A brand (agents)", id(), None, "200", ok(r("Brand"))),
        "patch": op("Change a brand (admin); host null removes it; audited", id(), Some(patch), "200", ok(r("Brand"))),
        "delete": op("Archive a brand (admin): its pages fall back to the default brand; PATCH archived false restores it", id(), None, "204", json!({ "description": "archived" }))
    });
    let mut put_logo = op("Upload the logo (admin): the image as the body; PNG, JPEG or WebP by magic bytes, at most 256 KB; no SVG", id(), None, "200", ok(r("Brand")));
    put_logo["requestBody"] = json!({ "required": true, "content": { "image/png": { "schema": { "type": "string", "format": "binary" } }, "image/jpeg": { "schema": { "type": "string", "format": "binary" } }, "image/webp": { "schema": { "type": "string", "format": "binary" } } } });
    p["/brands/{id}/logo"] = json!({
        "put": put_logo,
        "delete": op("Remove the logo (admin)", id(), None, "200", ok(r("Brand")))
    });
    let mut props = fields;
    for (k, v) in [
        ("id", json!({ "type": "integer" })),
        ("logo_content_type", json!({ "type": ["string", "null"] })),
        ("logo_sha256", json!({ "type": ["string", "null"] })),
        ("logo_size", json!({ "type": ["integer", "null"] })),
        (
            "logo_url",
            json!({ "type": ["string", "null"], "description": "public: /brands/{slug}/logo?v=…" }),
        ),
        (
            "theme_url",
            json!({ "type": "string", "description": "public stylesheet: /brands/{slug}/theme.css?v=…" }),
        ),
        ("archived", json!({ "type": "boolean" })),
        (
            "archived_at",
            json!({ "type": ["string", "null"], "format": "date-time" }),
        ),
        (
            "created_at",
            json!({ "type": "string", "format": "date-time" }),
        ),
        (
            "updated_at",
            json!({ "type": "string", "format": "date-time" }),
        ),
    ] {
        props[k] = v;
    }
    doc["components"]["schemas"]["Brand"] = json!({ "type": "object", "properties": props });
}

/// Ticket metrics from the roll-ups (issue 8).
fn reports(doc: &mut Value) {
    let row = json!({ "type": "object", "properties": {
        "period": { "type": "string", "description": "2026-03-02, 2026-W10, 2026-03, total or previous" },
        "first_day": { "type": "string", "format": "date" }, "last_day": { "type": "string", "format": "date" },
        "start": { "type": "string", "format": "date-time" }, "end": { "type": "string", "format": "date-time" },
        "group": { "type": "object", "description": "the group_by dimensions' values (ids as numbers, null = not set)" },
        "values": { "type": "object", "additionalProperties": { "type": ["number", "null"] }, "description": "one value per column key" } } });
    doc["paths"]["/reports/tickets"] = json!({
        "get": op(
            "Ticket metrics (admin, supervisor): volume, backlog, first/next response and resolution times (median, p90, mean; calendar and business hours), FCR, one-touch, reopens, replies per ticket, SLA compliance, CSAT/NPS/CES — per day/week/month of an IANA time zone, grouped by up to 3 dimensions, with the previous period. Read from roll-ups only. `format=csv` streams the same report as CSV (cells that could start a formula are neutralised). See the columns' definitions in the answer and docs/metrics.md.",
            json!([
                q("from", "string", "first local day, YYYY-MM-DD (default: to − 29 days)"),
                q("to", "string", "last local day included, YYYY-MM-DD (default: today); at most 1,096 days"),
                q("tz", "string", "IANA time zone with whole-hour offsets (default UTC)"),
                q("interval", "string", "day, week (ISO) or month; default by range length"),
                q("group_by", "string", "comma-separated, at most 3: channel, priority, group, brand; or assignee, tag (top 20 + '(other)') or language alone"),
                q("by", "string", "alias of group_by"),
                q("metrics", "string", "comma-separated families: volume, frt, nrt, resolution, fcr, one_touch, reopens, replies, handle_time, sla, csat, nps, ces, or all (default)"),
                q("channel", "string", "filter"), q("priority", "string", "filter"),
                q("group_id", "integer", "filter"), q("brand_id", "integer", "filter"),
                q("assignee_id", "integer", "filter (not with channel/priority/group/brand)"),
                q("tag", "string", "filter: tickets counted with this tag (not with other dimensions)"),
                q("language", "string", "filter: BCP 47 language at creation (not with other dimensions)"),
                q("format", "string", "json (default) or csv")
            ]),
            None,
            "200",
            json!({ "description": "OK", "content": {
                "application/json": { "schema": { "type": "object", "properties": {
                    "from": { "type": "string" }, "to": { "type": "string" }, "tz": { "type": "string" }, "interval": { "type": "string" },
                    "group_by": { "type": "array", "items": { "type": "string" } }, "metrics": { "type": "array", "items": { "type": "string" } },
                    "columns": { "type": "array", "items": { "type": "object", "properties": { "key": { "type": "string" }, "label": { "type": "string" }, "unit": { "enum": ["count", "seconds", "percent", "ratio", "score"] }, "family": { "type": "string" }, "definition": { "type": "string" } } } },
                    "rows": { "type": "array", "items": row.clone() }, "groups": { "type": "array", "items": row.clone() },
                    "total": row.clone(), "previous": row, "change": { "type": "object" },
                    "notes": { "type": "array", "items": { "type": "string" } } } } },
                "text/csv": { "schema": { "type": "string" } } } })
        )
    });
}

/// Targets, drill-down, the weekly digest and the public service page (issue 8;
/// docs/metrics.md).
fn report_extras(doc: &mut Value) {
    let ok = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": { "type": "object" } } } });
    let target = json!({ "type": "object", "properties": {
        "name": { "type": "string", "maxLength": 120 },
        "metric": { "type": "string", "description": "frt, nrt, first_resolution, full_resolution (with statistic) or a report column key (created, backlog, fcr_rate, sla_first_reply, csat, nps, …)" },
        "statistic": { "enum": ["median", "p90", "mean", null] },
        "business_hours": { "type": "boolean" },
        "comparator": { "enum": ["<", "<=", ">", ">="] },
        "threshold": { "type": "number", "description": "in the column's unit (seconds, percent, count, ratio, score)" },
        "scope": { "type": "object", "properties": { "channel": { "type": "string" }, "priority": { "type": "string" }, "group_id": { "type": "integer" }, "brand_id": { "type": "integer" }, "assignee_id": { "type": "integer" } } },
        "active": { "type": "boolean" } } });
    let p = &mut doc["paths"];
    p["/targets"] = json!({
        "get": op("Metric targets (any agent).", json!([]), None, "200", ok("items")),
        "post": op("Create a target (admin; audited).", json!([]), Some(target.clone()), "201", ok("the target")),
    });
    p["/targets/{id}"] = json!({
        "get": op("A target (any agent).", id(), None, "200", ok("the target")),
        "patch": op("Change a target (admin; audited): the fields given replace the stored ones.", id(), Some(target), "200", ok("the target")),
        "delete": op("Delete a target (admin; audited).", id(), None, "204", json!({ "description": "deleted" })),
    });
    p["/targets/status"] = json!({
        "get": op("Each active target's status (on_track, off_track, no_data), value, previous value and trend, computed by the report engine (any agent).",
            json!([q("period", "string", "today, yesterday, this_week, last_week, this_month (default), last_month, last_7_days, last_30_days"),
                   q("from", "string", "YYYY-MM-DD, with to (instead of period)"), q("to", "string", "YYYY-MM-DD"),
                   q("tz", "string", "IANA time zone (default UTC)")]),
            None, "200", ok("period, from, to, previous_from, previous_to, items")),
    });
    let mut drill = vec![
        q("metric", "string", "created, frt_*, first_resolution_*, full_resolution_*, solved_tickets, fcr_rate, one_touch_rate, reopen_rate, replies_per_ticket"),
        q("from", "string", "first local day"), q("to", "string", "last local day"), q("tz", "string", "IANA time zone"),
        q("channel", "string", "filter"), q("priority", "string", "filter"), q("group_id", "integer", "filter"),
        q("brand_id", "integer", "filter"), q("assignee_id", "integer", "filter"),
    ];
    drill.extend(paging());
    p["/reports/drill"] = json!({
        "get": op("The tickets behind a report number (admin, supervisor), newest first.", Value::Array(drill), None, "200", ok("items, next_cursor")),
    });
    let digest = json!({ "type": "object", "properties": {
        "enabled": { "type": "boolean" }, "recipients": { "type": "array", "items": { "type": "string", "format": "email" } },
        "weekday": { "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] },
        "hour": { "type": "integer", "minimum": 0, "maximum": 23 }, "tz": { "type": "string" } } });
    p["/reports/digest"] = json!({
        "get": op("The weekly digest setting (admin, supervisor).", json!([]), None, "200", ok("the setting")),
        "put": op("Set the weekly digest (admin; audited): mailed once a week with the figures and target statuses.", json!([]), Some(digest), "200", ok("the setting")),
    });
    p["/service-page"] = json!({
        "get": op("The public service page setting (admin).", json!([]), None, "200", ok("the setting")),
        "put": op("Publish chosen report figures on /service or /service/{brand slug} (admin; audited). Off by default.", json!([]),
            Some(json!({ "type": "object", "properties": { "pages": { "type": "array", "items": { "type": "object", "properties": {
                "brand_id": { "type": ["integer", "null"] }, "enabled": { "type": "boolean" }, "title": { "type": "string" },
                "period": { "type": "string" }, "tz": { "type": "string" },
                "figures": { "type": "array", "items": { "type": "object", "properties": { "metric": { "type": "string" }, "label": { "type": "string" } } } } } } } } })),
            "200", ok("the setting")),
    });
}

/// The e-mail channel's admin endpoints.
fn mail(doc: &mut Value) {
    let time = json!({ "type": "string", "format": "date-time" });
    let outcomes = json!([
        "created",
        "appended",
        "review",
        "bounce",
        "duplicate",
        "rejected",
        "accepted",
        "discarded"
    ]);
    doc["paths"]["/mailboxes"] = json!({
        "get": op("Mailboxes (admin); IMAP passwords are never returned", json!([]), None, "200", ok(items("Mailbox"))),
        "post": op("Add a mailbox: an address customers write to, its group, closed-ticket policy, acknowledgement, optional IMAP account (admin)", json!([]), Some(r("CreateMailbox")), "201", ok(r("Mailbox")))
    });
    // issue 4: change or disable a mailbox
    doc["paths"]["/mailboxes/{id}"] = json!({
        "patch": op("Change a mailbox (admin): only the fields sent; \"active\": false disables it; \"imap\": null stops polling; an imap password left empty keeps the stored one; brand_id must name an active brand (422); a taken address is 409",
            id(), Some(json!({ "type": "object", "additionalProperties": false, "properties": {
                "address": { "type": "string" }, "name": { "type": "string" },
                "group_id": { "type": ["integer", "null"] }, "brand_id": { "type": ["integer", "null"] },
                "closed_policy": { "enum": ["reopen", "follow_up"] }, "auto_ack": { "type": "boolean" },
                "imap": { "type": ["object", "null"] }, "active": { "type": "boolean" } } })),
            "200", ok(r("Mailbox")))
    });
    doc["paths"]["/mail/intake"] = json!({
        "get": op("The intake log, newest first: every received mail and what became of it (admin)",
            json!([q("outcome", "string", "filter: created, appended, review, bounce, duplicate, rejected, accepted, discarded"), q("limit", "integer", "1–100, default 25"), q("cursor", "string", "next_cursor of the previous page")]),
            None, "200", ok(page("IntakeEntry")))
    });
    doc["paths"]["/mail/intake/{id}/raw"] = json!({
        "get": op("The raw mail as received, message/rfc822 (admin)", id(), None, "200", json!({ "description": "the mail", "content": { "message/rfc822": {} } }))
    });
    doc["paths"]["/mail/intake/{id}/accept"] = json!({
        "post": op("Take a mail out of review: into ticket_id (its sender becomes a participant) or as a new ticket (admin); 409 when it is not in review", id(),
            Some(json!({ "type": "object", "additionalProperties": false, "properties": { "ticket_id": { "type": "integer" } } })), "200", ok(r("MailDelivered")))
    });
    doc["paths"]["/mail/intake/{id}/discard"] = json!({
        "post": op("Discard a mail held for review; it stays in the log (admin)", id(), None, "204", json!({ "description": "discarded" }))
    });
    doc["paths"]["/mail/inbound"] = json!({
        "post": {
            "summary": "Take one raw RFC 5322 mail in over HTTP (admin); 503 means try again later",
            "parameters": [q("recipient", "string", "the mailbox address it was sent to")],
            "requestBody": { "required": true, "content": { "message/rfc822": {} } },
            "responses": { "201": ok(r("MailDelivered")), "400": errors()["400"], "401": errors()["401"], "403": errors()["403"], "422": errors()["422"] }
        }
    });
    doc["paths"]["/mail/templates"] = json!({
        "get": op("The acknowledgement template and its placeholders (admin)", json!([]), None, "200", ok(json!({ "type": "object" }))),
        "put": op("Change the acknowledgement template; unknown placeholders are refused (admin)", json!([]),
            Some(json!({ "type": "object", "required": ["ack_subject", "ack_body"], "additionalProperties": false, "properties": { "ack_subject": { "type": "string" }, "ack_body": { "type": "string" } } })), "200", ok(json!({ "type": "object" })))
    });
    let schemas = &mut doc["components"]["schemas"];
    schemas["Mailbox"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "address": { "type": "string" }, "name": { "type": "string" }, "group_id": { "type": ["integer", "null"] }, "brand_id": { "type": ["integer", "null"] }, "closed_policy": { "enum": ["reopen", "follow_up"] }, "auto_ack": { "type": "boolean" }, "imap": { "type": ["object", "null"] }, "active": { "type": "boolean" }, "created_at": time } });
    schemas["CreateMailbox"] = json!({ "type": "object", "required": ["address"], "additionalProperties": false, "properties": { "address": { "type": "string" }, "name": { "type": "string" }, "group_id": { "type": "integer" }, "brand_id": { "type": "integer" }, "closed_policy": { "enum": ["reopen", "follow_up"] }, "auto_ack": { "type": "boolean" }, "imap": { "type": "object", "required": ["host", "port", "username", "password"], "properties": { "host": { "type": "string" }, "port": { "type": "integer" }, "security": { "enum": ["none", "tls"] }, "username": { "type": "string" }, "password": { "type": "string" }, "folder": { "type": "string" }, "after_import": { "type": "string", "description": "none, seen or move:<folder>" } } } } });
    schemas["IntakeEntry"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "received_at": time, "mailbox_id": { "type": ["integer", "null"] }, "source": { "enum": ["smtp", "imap", "pipe", "api", "review"] }, "message_id": { "type": ["string", "null"] }, "sender": { "type": ["string", "null"] }, "subject": { "type": "string" }, "outcome": { "enum": outcomes }, "reason": { "type": "string" }, "ticket_id": { "type": ["integer", "null"] }, "message_row": { "type": ["integer", "null"] }, "size": { "type": "integer" } } });
    schemas["MailDelivered"] = json!({ "type": "object", "properties": { "intake_id": { "type": "integer" }, "outcome": { "type": "string" }, "ticket_id": { "type": ["integer", "null"] }, "message_id": { "type": ["integer", "null"] } } });
}

/// Satisfaction surveys (added beside the document to keep the `json!` above within the
/// macro recursion limit).
fn surveys(doc: &mut Value) {
    let time = json!({ "type": "string", "format": "date-time" });
    let texts = json!({ "type": "object", "additionalProperties": { "type": "string" }, "description": "language tag → text, e.g. {\"en\": \"…\", \"de\": \"…\"}" });
    doc["paths"]["/surveys"] = json!({
        "get": op("Survey definitions (admin)", json!([]), None, "200", ok(items("Survey"))),
        "post": op("Define an NPS, CSAT or CES survey sent delay_hours after a ticket is solved (admin)", json!([]), Some(r("CreateSurvey")), "201", ok(r("Survey")))
    });
    doc["paths"]["/surveys/scores"] = json!({
        "get": op(
            "Scores from stored answers (admin, supervisor): NPS with standard error and 95 % CI, CSAT % and mean per scale, CES mean and % agree, response rate",
            json!([
                q("kind", "string", "nps (default), csat or ces"),
                q("from", "string", "RFC 3339; answers at or after"),
                q("to", "string", "RFC 3339; answers before"),
                q("group_by", "string", "month (UTC), or group, agent, channel, brand, tag or product as when the survey was sent (an answer counts once under each tag/product); default: one total; 400 for anything else"),
                q("by", "string", "short for group_by")
            ]),
            None,
            "200",
            ok(json!({ "type": "object", "properties": { "kind": { "type": "string" }, "group_by": { "type": "string" }, "total": r("ScoreBucket"), "buckets": { "type": "array", "items": r("ScoreBucket") } } }))
        )
    });
    let schemas = &mut doc["components"]["schemas"];
    schemas["Survey"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "name": { "type": "string" }, "kind": { "enum": ["nps", "csat", "ces"] }, "scale": { "type": ["integer", "null"] }, "question": texts, "follow_up": texts, "delay_hours": { "type": "integer" }, "throttle_days": { "type": "integer" }, "sample_rate": { "type": "number" }, "expires_days": { "type": "integer" }, "active": { "type": "boolean" }, "rules": r("SurveyRules"), "created_at": time } });
    schemas["CreateSurvey"] = json!({ "type": "object", "required": ["name", "kind", "question"], "additionalProperties": false, "properties": { "name": { "type": "string" }, "kind": { "enum": ["nps", "csat", "ces"] }, "scale": { "enum": [5, 3, 2], "description": "CSAT only; default 5" }, "question": texts, "follow_up": texts, "delay_hours": { "type": "integer", "default": 24, "minimum": 0, "maximum": 2160 }, "throttle_days": { "type": "integer", "default": 30, "minimum": 0 }, "sample_rate": { "type": "number", "default": 1, "minimum": 0, "maximum": 1 }, "expires_days": { "type": "integer", "default": 14, "minimum": 1, "maximum": 365 }, "active": { "type": "boolean", "default": true }, "rules": r("SurveyRules"), "questions": { "type": "array", "maxItems": 10, "items": r("SurveyQuestion") } } });
    schemas["ScoreBucket"] = json!({ "type": "object", "properties": { "key": { "type": ["string", "null"], "description": "YYYY-MM, group/agent/brand id, channel, tag or product; null for none" }, "responses": { "type": "integer" }, "sent": { "type": "integer" }, "response_rate_pct": { "type": ["number", "null"] }, "nps": { "type": "object", "properties": { "n": { "type": "integer" }, "score": { "type": "number" }, "promoters_pct": { "type": "number" }, "passives_pct": { "type": "number" }, "detractors_pct": { "type": "number" }, "standard_error": { "type": "number" }, "ci_low": { "type": "number" }, "ci_high": { "type": "number" } } }, "csat": { "type": "array", "items": { "type": "object" } }, "ces": { "type": "object" } } });
    survey_rules(doc);
}

/// Survey rules, sending by hand, customers at risk, orders, kiosks.
fn survey_rules(doc: &mut Value) {
    let time = json!({ "type": "string", "format": "date-time" });
    let kiosk_id = json!({ "name": "kiosk_id", "in": "path", "required": true, "schema": { "type": "integer" } });
    let p = &mut doc["paths"];
    p["/surveys/{id}/send"] = json!({
        "post": op("Survey customers by hand, e.g. a relationship NPS round (admin): one send job per customer, checked like automatic sends (throttle, sampling, quiet hours, e-mail)", id(), Some(r("SendSurvey")), "202", ok(json!({ "type": "object", "properties": { "queued": { "type": "integer" }, "survey_id": { "type": "integer" } } })))
    });
    p["/surveys/{id}/responses"] = json!({
        "get": op("A survey's answers with comments and follow-up answers, newest first, with the invitation (ticket, customer, agent, group, channel, order as when sent) (admin, supervisor)", json!([id()[0], q("before", "integer", "response id to page below"), q("limit", "integer", "1–200, default 50")]), None, "200", ok(json!({ "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object" } }, "next_before": { "type": ["integer", "null"] } } })))
    });
    p["/surveys/scores/compare"] = json!({
        "get": op("Two periods' score and the significance of the change (admin, supervisor): NPS z-test on the difference (both standard errors), CSAT % satisfied and CES % agree two-proportion z-tests", json!([q("kind", "string", "nps (default), csat or ces"), q("before_from", "string", "RFC 3339"), q("before_to", "string", "RFC 3339"), q("after_from", "string", "RFC 3339"), q("after_to", "string", "RFC 3339"), q("alpha", "number", "significance level, default 0.05")]), None, "200", ok(json!({ "type": "object", "properties": { "before": r("ScoreBucket"), "after": r("ScoreBucket"), "comparison": { "type": ["object", "null"], "properties": { "before": { "type": "number" }, "after": { "type": "number" }, "delta": { "type": "number" }, "standard_error": { "type": "number" }, "z": { "type": "number" }, "p_value": { "type": "number" }, "significant": { "type": "boolean" } } }, "not_comparable": { "type": ["string", "null"] } } })))
    });
    p["/surveys/at-risk"] = json!({
        "get": op("Customers at risk (admin, supervisor): low answers within `days` (NPS 0–6, CSAT ≤ 2 or the lowest answer, CES ≤ 3) or open tickets tagged survey-follow-up or complaint; most at risk first", json!([q("days", "integer", "1–3650, default 90"), q("limit", "integer", "1–1000, default 100")]), None, "200", ok(json!({ "type": "object", "properties": { "since": time, "items": { "type": "array", "items": r("AtRiskCustomer") } } })))
    });
    p["/surveys/{id}/kiosks"] = json!({
        "get": op("A survey's kiosks, revoked ones included (admin)", id(), None, "200", ok(items("Kiosk"))),
        "post": op("Create a kiosk (admin); the response holds its secret URL once (and, with embed_origins, an iframe snippet for those sites)", id(), Some(json!({ "type": "object", "required": ["name"], "additionalProperties": false, "properties": { "name": { "type": "string" }, "group_id": { "type": ["integer", "null"] }, "embed_origins": { "type": "array", "maxItems": 10, "items": { "type": "string", "description": "https://host[:port]" } } } })), "201", ok(r("Kiosk")))
    });
    p["/surveys/{id}/kiosks/{kiosk_id}"] = json!({
        "delete": op("Revoke a kiosk (admin); its page and sync answer 410 from then on", json!([id()[0], kiosk_id]), None, "200", ok(r("Kiosk")))
    });
    p["/orders"] = json!({
        "post": op("Report an order (admin token of the shop integration): created (201) or updated (200) by external_id; the first report and the first delivered_at queue the surveys with trigger order_placed / order_delivered", json!([]), Some(r("OrderIn")), "201", ok(json!({ "type": "object", "properties": { "order": r("Order"), "survey_events": { "type": "array", "items": { "enum": ["placed", "delivered"] } } } })))
    });
    p["/orders/{id}"] =
        json!({ "get": op("One order (admin, supervisor)", id(), None, "200", ok(r("Order"))) });
    p["/customers/{id}/orders"] = json!({ "get": op("A customer's orders, newest first, at most 100 (admin, supervisor)", id(), None, "200", ok(items("Order"))) });
    let s = &mut doc["components"]["schemas"];
    s["SurveyRules"] = json!({ "type": "object", "additionalProperties": false, "properties": {
        "trigger": { "enum": ["ticket_solved", "order_placed", "order_delivered", "manual", "relationship"], "default": "ticket_solved" },
        "period_days": { "type": ["integer", "null"], "minimum": 7, "maximum": 730, "description": "relationship only: days between rounds; each round surveys customers with a ticket updated or an order placed in the last period" },
        "quiet_hours": { "type": ["object", "null"], "required": ["start", "end"], "properties": { "start": { "type": "integer", "minimum": 0, "maximum": 23 }, "end": { "type": "integer", "minimum": 0, "maximum": 23 } }, "description": "local hours without survey mail, in the customer's time zone (else time_zone, else UTC); wraps over midnight when start > end" },
        "time_zone": { "type": ["string", "null"], "description": "IANA name" },
        "reminder_hours": { "type": ["integer", "null"], "minimum": 1, "description": "one reminder with its own link if unanswered; before expiry" },
        "promoter": { "type": "object", "properties": { "action": { "enum": ["none", "thank", "review"] }, "url": { "type": "string", "description": "review only: http(s)" } } },
        "incentive": { "type": ["string", "null"], "description": "code template shown on the thank-you page, must contain {code}" } } });
    s["SurveyQuestion"] = json!({ "type": "object", "required": ["id", "kind", "label"], "additionalProperties": false, "properties": { "id": { "type": "string", "pattern": "^[a-z0-9_-]{1,32}$" }, "kind": { "enum": ["text", "single", "multiple", "rating"] }, "label": { "type": "object", "additionalProperties": { "type": "string" } }, "options": { "type": "array", "minItems": 2, "maxItems": 20, "items": { "type": "object", "required": ["id", "label"], "properties": { "id": { "type": "string" }, "label": { "type": "object" } } } }, "max": { "type": "integer", "minimum": 3, "maximum": 10, "description": "rating only; default 5" }, "required": { "type": "boolean", "default": false } } });
    s["SendSurvey"] = json!({ "type": "object", "additionalProperties": false, "properties": { "customer_id": { "type": "integer" }, "customer_ids": { "type": "array", "items": { "type": "integer" }, "maxItems": 1000 }, "ticket_id": { "type": "integer", "description": "with one customer only" } } });
    s["AtRiskCustomer"] = json!({ "type": "object", "properties": { "customer_id": { "type": "integer" }, "name": { "type": "string" }, "email": { "type": ["string", "null"] }, "low_answers": { "type": "integer" }, "last_low_at": { "type": ["string", "null"], "format": "date-time" }, "last_kind": { "type": ["string", "null"] }, "last_score": { "type": ["integer", "null"] }, "open_complaints": { "type": "integer" } } });
    s["Kiosk"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "survey_id": { "type": "integer" }, "name": { "type": "string" }, "group_id": { "type": ["integer", "null"] }, "created_at": time, "revoked_at": { "type": ["string", "null"], "format": "date-time" }, "embed_origins": { "type": "array", "items": { "type": "string" } }, "url": { "type": "string", "description": "only in the create response" }, "embed_html": { "type": "string", "description": "only in the create response, with embed_origins" } } });
    let item = json!({ "type": "object", "required": ["name"], "additionalProperties": false, "properties": { "sku": { "type": "string" }, "name": { "type": "string" }, "quantity": { "type": "integer", "minimum": 1, "default": 1 }, "price_cents": { "type": "integer", "minimum": 0 } } });
    s["OrderIn"] = json!({ "type": "object", "required": ["external_id", "customer", "placed_at"], "additionalProperties": false, "properties": { "external_id": { "type": "string" }, "customer": { "type": "object", "additionalProperties": false, "properties": { "id": { "type": "integer" }, "email": { "type": "string" }, "name": { "type": "string" } }, "description": "an existing customer's id, or an e-mail (found or created)" }, "placed_at": time, "delivered_at": time, "amount_cents": { "type": "integer", "minimum": 0 }, "currency": { "type": "string", "description": "ISO 4217" }, "items": { "type": "array", "items": item, "maxItems": 500 } } });
    s["Order"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "external_id": { "type": "string" }, "customer_id": { "type": "integer" }, "placed_at": time, "delivered_at": { "type": ["string", "null"], "format": "date-time" }, "amount_cents": { "type": "integer" }, "currency": { "type": "string" }, "items": { "type": "array", "items": item }, "created_at": time, "updated_at": time } });
}

/// The knowledge base (issue 6): categories, sections, articles, translations, revisions,
/// feedback, attachments. Reads work without a token and then show published public content
/// only; writes need an agent's token (deletes: admin or supervisor).
fn kb(doc: &mut Value) {
    let time = json!({ "type": "string", "format": "date-time" });
    let loc = || json!({ "name": "locale", "in": "path", "required": true, "schema": { "type": "string" }, "description": "BCP 47 language[-Region], e.g. en, de-CH" });
    let rev = || json!({ "name": "rev", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } });
    let id_loc = json!([id()[0], loc()]);
    let id_rev = json!([id()[0], rev()]);
    let public = |mut o: Value| {
        o["security"] = json!([{}, { "bearer": [] }]);
        o
    };
    let labels = json!({ "type": "object", "additionalProperties": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "description": { "type": "string" } } }, "description": "locale → {name, description}" });
    let group_in = json!({ "type": "object", "required": ["name"], "additionalProperties": false, "properties": { "name": { "type": "string", "maxLength": 200 }, "description": { "type": "string", "maxLength": 2000 }, "position": { "type": "integer" }, "brand_id": { "type": ["integer", "null"] }, "translations": labels, "category_id": { "type": "integer", "description": "sections only (required there)" } } });
    let group_patch = json!({ "type": "object", "additionalProperties": false, "properties": { "name": { "type": "string" }, "description": { "type": "string" }, "position": { "type": "integer" }, "brand_id": { "type": ["integer", "null"] }, "translations": labels, "category_id": { "type": "integer", "description": "sections only: move (every article is re-announced on the change feed)" } } });
    let p = &mut doc["paths"];
    p["/kb/categories"] = json!({
        "get": public(op("Categories by position (without a token: only those with published public articles)", json!([]), None, "200", ok(items("KbCategory")))),
        "post": op("Create a category (agents)", json!([]), Some(group_in.clone()), "201", ok(r("KbCategory")))
    });
    p["/kb/categories/{id}"] = json!({
        "get": public(op("Get a category", id(), None, "200", ok(r("KbCategory")))),
        "patch": op("Change a category (agents)", id(), Some(group_patch.clone()), "200", ok(r("KbCategory"))),
        "delete": op("Delete an empty category (admin, supervisor); 409 while it has sections", id(), None, "204", json!({ "description": "deleted" }))
    });
    p["/kb/sections"] = json!({
        "get": public(op("Sections by position", json!([q("category_id", "integer", "one category's sections")]), None, "200", ok(items("KbSection")))),
        "post": op("Create a section in a category (agents)", json!([]), Some(group_in), "201", ok(r("KbSection")))
    });
    p["/kb/sections/{id}"] = json!({
        "get": public(op("Get a section", id(), None, "200", ok(r("KbSection")))),
        "patch": op("Change or move a section (agents)", id(), Some(group_patch), "200", ok(r("KbSection"))),
        "delete": op("Delete an empty section (admin, supervisor); 409 while it has articles", id(), None, "204", json!({ "description": "deleted" }))
    });
    p["/kb/articles"] = json!({
        "get": public(op("Articles by id (without a token: public ones with a live translation, and only those translations)", json!([q("section_id", "integer", ""), q("category_id", "integer", ""), q("brand_id", "integer", ""), q("limit", "integer", "1–100, default 25"), q("cursor", "string", "next_cursor of the previous page")]), None, "200", ok(page("KbArticle")))),
        "post": op("Create an article with its first (source) translation (agents); body over 2 MiB → 413", json!([]), Some(r("CreateKbArticle")), "201", ok(r("KbArticle")))
    });
    p["/kb/articles/{id}"] = json!({
        "get": public(op("Get an article with its translations and bodies; drafts, internal and scheduled articles are 404 without a token", id(), None, "200", ok(r("KbArticle")))),
        "patch": op("Change an article: section, position, brand, visibility, tags, related articles, source locale (agents)", id(), Some(json!({ "type": "object", "additionalProperties": false, "properties": { "section_id": { "type": "integer" }, "position": { "type": "integer" }, "brand_id": { "type": ["integer", "null"] }, "visibility": { "enum": ["public", "internal"] }, "tags": { "type": "array", "items": { "type": "string" } }, "related_ids": { "type": "array", "items": { "type": "integer" }, "maxItems": 50 }, "source_locale": { "type": "string" } } })), "200", ok(r("KbArticle"))),
        "delete": op("Delete an article with its translations, revisions, feedback (admin, supervisor)", id(), None, "204", json!({ "description": "deleted" }))
    });
    p["/kb/articles/{id}/translations/{locale}"] = json!({
        "get": public(op("One translation with its body", id_loc.clone(), None, "200", ok(r("KbTranslation")))),
        "put": op("Create (201) or save (200) a translation; omitted fields keep their values; every save is a revision; a changed source body marks the other translations outdated (agents)", id_loc.clone(), Some(r("SaveKbTranslation")), "200", ok(r("KbTranslation"))),
        "delete": op("Delete a translation other than the source (admin, supervisor)", id_loc.clone(), None, "204", json!({ "description": "deleted" }))
    });
    p["/kb/articles/{id}/translations/{locale}/revisions"] = json!({
        "get": op("A translation's revisions, newest first, without bodies (agents)", id_loc, None, "200", ok(items("KbRevision")))
    });
    p["/kb/articles/{id}/revisions/{rev}"] = json!({
        "get": op("One revision with its body (agents)", id_rev.clone(), None, "200", ok(r("KbRevision")))
    });
    p["/kb/articles/{id}/revisions/{rev}/restore"] = json!({
        "post": op("Make a revision's title and body current again (a new revision; status and schedule stay) (agents)", id_rev, None, "200", ok(r("KbTranslation")))
    });
    p["/kb/articles/{id}/diff"] = json!({
        "get": op("Line diff of two revisions of one translation (agents)", json!([id()[0], { "name": "from", "in": "query", "required": true, "schema": { "type": "integer" } }, { "name": "to", "in": "query", "required": true, "schema": { "type": "integer" } }]), None, "200",
            ok(json!({ "type": "object", "properties": { "article_id": { "type": "integer" }, "locale": { "type": "string" }, "from": r("KbRevision"), "to": r("KbRevision"), "title": { "type": ["object", "null"] }, "lines_inserted": { "type": "integer" }, "lines_deleted": { "type": "integer" }, "unified": { "type": "string", "description": "unified diff of the bodies, 3 lines of context" } } })))
    });
    p["/kb/articles/{id}/feedback"] = json!({
        "get": op("Feedback, newest first, with the yes/no totals (agents)", json!([id()[0], q("limit", "integer", ""), q("cursor", "string", "")]), None, "200", ok(json!({ "type": "object", "properties": { "helpful_yes": { "type": "integer" }, "helpful_no": { "type": "integer" }, "items": { "type": "array", "items": r("KbFeedback") }, "next_cursor": { "type": ["string", "null"] } } }))),
        "post": public(op("\"Was this helpful?\" (no token needed; throttled per client: 5 per 15 minutes)", id(), Some(json!({ "type": "object", "required": ["locale", "helpful"], "additionalProperties": false, "properties": { "locale": { "type": "string" }, "helpful": { "type": "boolean" }, "comment": { "type": "string", "maxLength": 2000 } } })), "201", ok(r("KbFeedback"))))
    });
    p["/kb/articles/{id}/attachments"] = json!({
        "get": public(op("An article's attachments", id(), None, "200", ok(items("KbAttachment")))),
        "post": op("Attach a file or image (agents); at most 10 MiB; stored once per content hash", id(), Some(json!({ "type": "object", "required": ["filename", "data_base64"], "additionalProperties": false, "properties": { "filename": { "type": "string" }, "content_type": { "type": "string" }, "data_base64": { "type": "string" } } })), "201", ok(r("KbAttachment")))
    });
    p["/kb/attachments/{id}"] = json!({
        "get": public(op("An attachment's bytes (PNG, JPEG, GIF, WebP inline; anything else as a download)", id(), None, "200", json!({ "description": "the file" })))
    });
    let tr_head = json!({ "locale": { "type": "string" }, "title": { "type": "string" }, "status": { "enum": ["draft", "published", "archived"] }, "effective_status": { "enum": ["draft", "scheduled", "published", "archived"] }, "outdated": { "type": "boolean" }, "publish_at": { "type": ["string", "null"], "format": "date-time" }, "created_at": time, "updated_at": time });
    let mut tr = tr_head.clone();
    tr["body_html"] = json!({ "type": "string", "description": "sanitized HTML" });
    tr["article_id"] = json!({ "type": "integer" });
    tr["updated_by"] = r("Actor");
    let s = &mut doc["components"]["schemas"];
    s["KbCategory"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "brand_id": { "type": ["integer", "null"] }, "position": { "type": "integer" }, "name": { "type": "string" }, "description": { "type": "string" }, "translations": labels, "created_at": time, "updated_at": time } });
    s["KbSection"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "category_id": { "type": "integer" }, "brand_id": { "type": ["integer", "null"] }, "position": { "type": "integer" }, "name": { "type": "string" }, "description": { "type": "string" }, "translations": labels, "created_at": time, "updated_at": time } });
    s["KbTranslation"] = json!({ "type": "object", "properties": tr });
    s["KbArticle"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "section_id": { "type": "integer" }, "category_id": { "type": "integer" }, "brand_id": { "type": ["integer", "null"] }, "position": { "type": "integer" }, "source_locale": { "type": "string" }, "visibility": { "enum": ["public", "internal"] }, "tags": { "type": "array", "items": { "type": "string" } }, "related_ids": { "type": "array", "items": { "type": "integer" } }, "author_id": { "type": ["integer", "null"], "description": "agents only" }, "view_count": { "type": "integer" }, "helpful_yes": { "type": "integer" }, "helpful_no": { "type": "integer" }, "slug": { "type": "string" }, "created_at": time, "updated_at": time, "translations": { "type": "array", "items": r("KbTranslation"), "description": "lists leave out body_html" } } });
    s["CreateKbArticle"] = json!({ "type": "object", "required": ["section_id", "title"], "additionalProperties": false, "properties": { "section_id": { "type": "integer" }, "position": { "type": "integer" }, "brand_id": { "type": "integer" }, "visibility": { "enum": ["public", "internal"], "default": "public" }, "tags": { "type": "array", "items": { "type": "string" } }, "related_ids": { "type": "array", "items": { "type": "integer" } }, "locale": { "type": "string", "default": "en", "description": "the source locale" }, "title": { "type": "string", "maxLength": 300 }, "body_markdown": { "type": "string", "description": "CommonMark; or body_html (exactly one); at most 2 MiB" }, "body_html": { "type": "string", "description": "sanitized on arrival" }, "status": { "enum": ["draft", "published", "archived"], "default": "draft" }, "publish_at": { "type": "string", "format": "date-time", "description": "scheduled publishing: a draft is shown from this time" } } });
    s["SaveKbTranslation"] = json!({ "type": "object", "additionalProperties": false, "properties": { "title": { "type": "string" }, "body_markdown": { "type": "string" }, "body_html": { "type": "string" }, "status": { "enum": ["draft", "published", "archived"] }, "publish_at": { "type": ["string", "null"], "format": "date-time" }, "outdated": { "type": "boolean", "description": "saving clears the flag unless this says otherwise" } } });
    s["KbRevision"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "article_id": { "type": "integer" }, "locale": { "type": "string" }, "author": r("Actor"), "at": time, "title": { "type": "string" }, "status": { "type": "string" }, "publish_at": { "type": ["string", "null"], "format": "date-time" }, "body_html": { "type": "string", "description": "single revisions only" } } });
    s["KbFeedback"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "article_id": { "type": "integer" }, "locale": { "type": "string" }, "helpful": { "type": "boolean" }, "comment": { "type": "string" }, "at": time } });
    s["KbAttachment"] = json!({ "type": "object", "properties": { "id": { "type": "integer" }, "article_id": { "type": "integer" }, "filename": { "type": "string" }, "content_type": { "type": "string" }, "size": { "type": "integer" }, "sha256": { "type": "string" }, "created_at": time, "url": { "type": "string" } } });
}

/// Knowledge-base self-service: suggestions, the auto-reply switch, analytics (docs/kb.md).
fn kb_self_service(doc: &mut Value) {
    let p = &mut doc["paths"];
    let mut sug = op("Up to 5 published public articles for text a customer is typing (no token; 60 requests a minute per client); with a session id the deflection session is recorded", json!([q("q", "string", "the text so far (first 1,000 characters read)"), q("session", "string", "the form's deflection session id (32 hex digits)"), q("locale", "string", "language tag, default en")]), None, "200",
        ok(json!({ "type": "object", "properties": { "suggestions": { "type": "array", "items": { "type": "object", "properties": { "id": { "type": "integer" }, "title": { "type": "string" }, "locale": { "type": "string" }, "snippet": { "type": "string", "description": "HTML-safe, <mark> around hits" }, "url": { "type": "string", "description": "through /self-service/open when a session is given" } } } } } })));
    sug["security"] = json!([]);
    p["/kb/suggestions"] = json!({ "get": sug });
    p["/kb/analytics"] = json!({
        "get": op("Self-service numbers for whole UTC days from..to (agents); definitions in the answer and docs/kb.md; bad dates, from after to or more than 366 days → 422", json!([q("from", "string", "YYYY-MM-DD, default 29 days before to"), q("to", "string", "YYYY-MM-DD, default today")]), None, "200",
            ok(json!({ "type": "object", "properties": { "searches": { "type": "integer" }, "zero_result_searches": { "type": "integer" }, "click_through_rate": { "type": ["number", "null"] }, "article_views": { "type": "integer" }, "helpful_rate": { "type": ["number", "null"] }, "tickets": { "type": "integer" }, "tickets_after_article_view": { "type": "integer" }, "deflected": { "type": "integer" }, "self_service_ratio": { "type": ["number", "null"] }, "content_gaps": { "type": "array" }, "top_articles": { "type": "array" }, "daily": { "type": "array" }, "sessions": { "type": "object" }, "definitions": { "type": "object" } } })))
    });
    let switch = json!({ "type": "object", "required": ["enabled"], "additionalProperties": false, "properties": { "enabled": { "type": "boolean" } } });
    p["/kb/auto-reply"] = json!({
        "get": op("Whether new mail tickets get an auto-reply with articles and a 'this solved my problem' link (agents)", json!([]), None, "200", ok(switch.clone())),
        "put": op("Switch the auto-reply on or off (admins)", json!([]), Some(switch.clone()), "200", ok(switch))
    });
}
