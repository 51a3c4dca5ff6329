//! Spawns an app per test: its own SQLite file or its own PostgreSQL schema, a moved clock.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use tend_core::{Actor, Clock, ManualClock, Role};
use tend_store::{NewAgent, NewGroup, Store};
use tower::ServiceExt;

pub fn pg_url() -> Option<String> {
    std::env::var("TEND_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Runs one statement on PostgreSQL from a `Drop` (best effort): a separate thread with its
/// own runtime, so it works inside a tokio runtime too.
pub fn pg_execute_from_drop(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .ok()?;
            tokio::spawn(conn);
            c.batch_execute(&sql).await.ok()
        })
    })
    .join();
}

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Where a test's data lives; reopening it gives the same data (a restart).
pub enum Place {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl Place {
    pub fn new() -> Place {
        match pg_url() {
            Some(url) => Place::Postgres {
                url,
                schema: format!("t_{:016x}", rand::random::<u64>()),
            },
            None => Place::Sqlite(tempfile::tempdir().expect("tempdir")),
        }
    }
    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Place::Sqlite(dir) => Arc::new(
                tend_sqlite::SqliteStore::open(dir.path().join("tend.db")).expect("open sqlite"),
            ),
            Place::Postgres { url, schema } => Arc::new(
                tend_postgres::PgStore::open(url, Some(schema), 8)
                    .await
                    .expect("open postgres"),
            ),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Place::Postgres { url, schema } = self {
            // A test that panicked mid-transaction may still hold locks: give up after 5 s
            // rather than hang the suite (the schema is then left behind).
            pg_execute_from_drop(
                url,
                &format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {schema} CASCADE"),
            );
        }
    }
}

pub struct TestApp {
    pub place: Place,
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    pub router: axum::Router,
    /// Admin: id and token.
    pub admin: (i64, String),
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.raw))
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let place = Place::new();
        let store = place.open().await;
        Self::with(place, store).await
    }

    pub async fn with(place: Place, store: Arc<dyn Store>) -> TestApp {
        let clock = ManualClock::new(t0());
        let router = tend_web::router(tend_web::AppState::new(
            store.clone(),
            Arc::new(clock.clone()),
        ));
        let admin = match store.agent_by_email("root@tend.test").await.unwrap() {
            Some(a) => a,
            None => store
                .create_agent(
                    NewAgent {
                        email: "root@tend.test".into(),
                        name: "Root".into(),
                        role: Role::Admin,
                        password_hash: None,
                        active: true,
                    },
                    Actor::SYSTEM,
                    t0(),
                )
                .await
                .unwrap(),
        };
        let token = tend_web::auth::generate_token();
        store
            .create_token(
                admin.id,
                "test".into(),
                tend_web::auth::hash_token(&token),
                Actor::SYSTEM,
                t0(),
            )
            .await
            .unwrap();
        TestApp {
            place,
            store,
            clock,
            router,
            admin: (admin.id, token),
        }
    }

    /// Drops the store and opens it again from its file or schema: a restart.
    pub async fn restart(self) -> TestApp {
        let TestApp { place, store, .. } = self;
        drop(store);
        let store = place.open().await;
        Self::with(place, store).await
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn admin_token(&self) -> &str {
        &self.admin.1
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        let resp = self
            .router
            .clone()
            .oneshot(b.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        // Every API error is problem+json with a message.
        if (status.is_client_error() || status.is_server_error()) && path.starts_with("/api/") {
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{status} {}",
                String::from_utf8_lossy(&raw)
            );
            assert!(
                body["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "problem without detail: {body}"
            );
        }
        Resp {
            status,
            headers,
            body,
            raw,
        }
    }

    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        let (ct, bytes) = match body {
            Some(b) => (Some("application/json"), serde_json::to_vec(&b).unwrap()),
            None => (None, vec![]),
        };
        self.raw(method, path, Some(token), ct, bytes, &[]).await
    }

    /// A page as a signed-in browser asks for it.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Resp {
        self.raw(Method::GET, path, None, None, vec![], &[("cookie", cookie)])
            .await
    }

    /// A form post, with a session cookie or without.
    pub async fn post_form(&self, path: &str, body: Vec<u8>, cookie: Option<&str>) -> Resp {
        let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("cookie", c)]).unwrap_or_default();
        self.raw(
            Method::POST,
            path,
            None,
            Some("application/x-www-form-urlencoded"),
            body,
            &headers,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, &self.admin.1.clone(), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, &self.admin.1.clone(), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, &self.admin.1.clone(), Some(body))
            .await
    }

    /// An agent with a token, in the given groups.
    pub async fn agent(&self, email: &str, role: Role, groups: &[i64]) -> (i64, String) {
        let a = self
            .store
            .create_agent(
                NewAgent {
                    email: email.into(),
                    name: email.into(),
                    role,
                    password_hash: None,
                    active: true,
                },
                Actor::SYSTEM,
                t0(),
            )
            .await
            .unwrap();
        for g in groups {
            let mut members = self.store.get_group(*g).await.unwrap().member_ids;
            members.push(a.id);
            self.store
                .set_group_members(*g, members, Actor::SYSTEM, t0())
                .await
                .unwrap();
        }
        let token = tend_web::auth::generate_token();
        self.store
            .create_token(
                a.id,
                "t".into(),
                tend_web::auth::hash_token(&token),
                Actor::SYSTEM,
                t0(),
            )
            .await
            .unwrap();
        (a.id, token)
    }

    pub async fn group(&self, name: &str) -> i64 {
        self.store
            .create_group(
                NewGroup {
                    name: name.into(),
                    description: String::new(),
                },
                Actor::SYSTEM,
                t0(),
            )
            .await
            .unwrap()
            .id
    }

    /// Creates a ticket through the API and returns its JSON.
    pub async fn ticket(&self, body: Value) -> Value {
        let r = self.post("/api/v1/tickets", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        r.body
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(html: &str) -> String {
    let i = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + "name=\"csrf\" value=\"".len();
    html[i..i + 64].to_string()
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// An app whose mail (replies, sign-in and password links, surveys) goes to a fresh SMTP
/// sink, with base URL `http://tend.test`, and a worker that sends it.
pub async fn spawn_with_mail() -> (
    TestApp,
    crate::smtp_sink::SmtpSink,
    tend_web::worker::Worker,
) {
    let mut app = TestApp::spawn().await;
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let mail = Arc::new(tend_web::mail::MailConfig::new(
        Some(sink.url.clone()),
        "Shop Support <support@shop.test>".into(),
        "http://tend.test".into(),
    ));
    let mut state = tend_web::AppState::new(app.store.clone(), Arc::new(app.clock.clone()));
    state.mail = mail.clone();
    app.router = tend_web::router(state);
    let worker = tend_web::worker::Worker::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_mail(mail);
    (app, sink, worker)
}
