//! PgStore against a real server, one fresh schema per test.
//! URL: $TEND_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres (skipped
//! when that is not reachable).

use chrono::{DateTime, Duration, Utc};
use tend_core::import::ImportRecord;
use tend_core::ticket::Patch;
use tend_core::{Actor, Change, Channel, Priority, Role, Status, Viewer};
use tend_postgres::PgStore;
use tend_store::*;

mod common;
use common::TestDb;

async fn db() -> Option<TestDb> {
    common::db_with_prefix("t").await
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T09:00:00.123456789Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn admin_viewer(id: i64) -> Viewer {
    Viewer {
        agent_id: id,
        role: Role::Admin,
        group_ids: vec![],
    }
}

async fn agent(s: &PgStore, email: &str, role: Role) -> Agent {
    let new = NewAgent {
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
        role,
        password_hash: Some("h".into()),
        active: true,
    };
    s.create_agent(new, Actor::SYSTEM, t0()).await.unwrap()
}

fn new_ticket(subject: &str, requester: RequesterRef) -> NewTicket {
    NewTicket {
        subject: subject.into(),
        status: Status::New,
        priority: Priority::Normal,
        channel: Channel::Email,
        requester,
        assignee_id: None,
        group_id: None,
        brand_id: None,
        tags: vec![],
        fields: Default::default(),
        external_id: None,
        message: None,
        message_by_requester: true,
        idempotency_key: None,
    }
}

fn by_email(email: &str) -> RequesterRef {
    RequesterRef::Email {
        email: email.into(),
        name: None,
    }
}

#[tokio::test]
async fn agents_groups_and_a_ticket_with_a_message() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    assert_eq!(s.backend(), "postgres");
    s.ping().await.unwrap();
    let admin = agent(s, "Admin@Shop.example", Role::Admin).await;
    let bo = agent(s, "bo@shop.example", Role::Agent).await;
    assert!(matches!(
        s.create_agent(NewAgent { email: "admin@shop.example".into(), name: "x".into(), role: Role::Agent, password_hash: None, active: true }, Actor::SYSTEM, t0()).await,
        Err(StoreError::Conflict(m)) if m == "an agent with e-mail admin@shop.example exists"
    ));
    let g = s
        .create_group(
            NewGroup {
                name: "Shipping".into(),
                description: "".into(),
            },
            Actor::agent(admin.id),
            t0(),
        )
        .await
        .unwrap();
    assert!(matches!(
        s.create_group(
            NewGroup {
                name: "shipping".into(),
                description: "".into()
            },
            Actor::SYSTEM,
            t0()
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    let g = s
        .set_group_members(
            g.id,
            vec![bo.id, admin.id, bo.id],
            Actor::agent(admin.id),
            t0(),
        )
        .await
        .unwrap();
    let mut want = vec![admin.id, bo.id];
    want.sort();
    assert_eq!(g.member_ids, want);
    assert!(
        matches!(s.set_group_members(g.id, vec![999], Actor::SYSTEM, t0()).await, Err(StoreError::Invalid { field, .. }) if field == "agent_ids")
    );
    assert_eq!(s.get_agent(bo.id).await.unwrap().group_ids, vec![g.id]);
    assert_eq!(
        s.agent_by_email("ADMIN@shop.example")
            .await
            .unwrap()
            .unwrap()
            .id,
        admin.id
    );
    assert_eq!(
        s.agent_password_hash(bo.id).await.unwrap().as_deref(),
        Some("h")
    );

    s.create_token(
        bo.id,
        "cli".into(),
        vec![1, 2, 3],
        Actor::agent(admin.id),
        t0(),
    )
    .await
    .unwrap();
    let v = s.viewer_by_token(&[1, 2, 3]).await.unwrap().unwrap();
    assert_eq!(
        (v.agent_id, v.role, v.group_ids.clone()),
        (bo.id, Role::Agent, vec![g.id])
    );
    assert!(s.viewer_by_token(&[9]).await.unwrap().is_none());

    let mut nt = new_ticket(
        "Parcel never arrived",
        RequesterRef::Email {
            email: "Ana@Example.com".into(),
            name: Some("Ana".into()),
        },
    );
    nt.group_id = Some(g.id);
    nt.assignee_id = Some(bo.id);
    nt.tags = vec!["vip".into(), "shipping".into()];
    nt.message = Some(NewMessage {
        public: true,
        body_text: "Where is it?".into(),
        body_html: "<p>Where is it?</p>".into(),
        attachments: vec![NewAttachment {
            filename: "a.txt".into(),
            content_type: "text/plain".into(),
            data: b"hello".to_vec(),
        }],
        ..Default::default()
    });
    let created = s
        .create_ticket(nt, Actor::agent(bo.id), t0())
        .await
        .unwrap();
    assert!(!created.replayed);
    let t = created.value;
    assert_eq!(t.tags, vec!["shipping", "vip"]);
    assert_eq!(t.created_at, t.updated_at);
    assert_eq!(
        t.created_at.timestamp_subsec_nanos(),
        123_456_000,
        "microsecond precision"
    );
    assert_eq!(s.get_ticket(t.id, &v).await.unwrap(), t);

    let customer = s
        .customer_by_identity(IdentityKind::Email, "ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (customer.id, customer.name.as_str()),
        (t.requester_id, "Ana")
    );

    let msgs = s.list_messages(t.id, &v).await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].author, Actor::customer(customer.id));
    assert_eq!(msgs[0].attachments.len(), 1);
    let (att, bytes) = s
        .get_attachment(msgs[0].attachments[0].id, &v)
        .await
        .unwrap();
    assert_eq!((att.size, bytes), (5, b"hello".to_vec()));
    assert_eq!(
        att.sha256,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );

    let events = s
        .ticket_events(t.id, &v, PageRequest::default())
        .await
        .unwrap()
        .items;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["ticket.created", "ticket.message_added"]);
    assert_eq!(events[0].actor, Actor::agent(bo.id));
    assert_eq!(t.last_seq, events[1].seq);

    // A second ticket for the same address finds the same customer.
    let t2 = s
        .create_ticket(
            new_ticket("Again", by_email("ana@EXAMPLE.com")),
            Actor::agent(bo.id),
            t0(),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(t2.requester_id, customer.id);

    let mut bad = new_ticket("x", RequesterRef::Id(4242));
    assert!(
        matches!(s.create_ticket(bad.clone(), Actor::SYSTEM, t0()).await, Err(StoreError::Invalid { field, .. }) if field == "requester_id")
    );
    bad.requester = RequesterRef::Id(customer.id);
    bad.assignee_id = Some(4242);
    assert!(
        matches!(s.create_ticket(bad.clone(), Actor::SYSTEM, t0()).await, Err(StoreError::Invalid { field, message }) if field == "assignee_id" && message == "no active agent 4242")
    );
    bad.assignee_id = None;
    bad.group_id = Some(77);
    assert!(
        matches!(s.create_ticket(bad, Actor::SYSTEM, t0()).await, Err(StoreError::Invalid { field, .. }) if field == "group_id")
    );

    let mut ext = new_ticket("x", RequesterRef::Id(customer.id));
    ext.external_id = Some("E-1".into());
    s.create_ticket(ext.clone(), Actor::SYSTEM, t0())
        .await
        .unwrap();
    assert!(
        matches!(s.create_ticket(ext, Actor::SYSTEM, t0()).await, Err(StoreError::Conflict(m)) if m == "a ticket with external_id E-1 exists")
    );

    let other = s
        .create_customer(
            NewCustomer {
                name: "Bea".into(),
                identities: vec![Identity {
                    kind: IdentityKind::Email,
                    value: "ANA@example.com".into(),
                }],
                ..Default::default()
            },
            t0(),
        )
        .await;
    assert!(
        matches!(other, Err(StoreError::Conflict(m)) if m == format!("identity email:ANA@example.com belongs to customer {}", customer.id))
    );

    let audit = s.list_audit(PageRequest::default()).await.unwrap().items;
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "token.created",
            "group.members_set",
            "group.created",
            "agent.created",
            "agent.created"
        ]
    );
    assert!(
        !audit.iter().any(|a| a.data.to_string().contains("\"h\"")),
        "no password hash in the audit log"
    );
    db.drop_schema().await;
}

#[tokio::test]
async fn updates_append_events_and_no_change_appends_none() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let admin = agent(s, "admin@shop.example", Role::Admin).await;
    let bo = agent(s, "bo@shop.example", Role::Agent).await;
    let v = admin_viewer(admin.id);
    let t = s
        .create_ticket(
            new_ticket("s", by_email("c@x.example")),
            Actor::agent(admin.id),
            t0(),
        )
        .await
        .unwrap()
        .value;
    let later = t0() + Duration::hours(1);
    let patch = Patch {
        status: Some(Status::Solved),
        assignee_id: Some(Some(bo.id)),
        add_tags: vec!["vip".into()],
        ..Default::default()
    };
    let u = s
        .update_ticket(t.id, patch.clone(), &v, Actor::agent(admin.id), later)
        .await
        .unwrap();
    assert_eq!(u.status, Status::Solved);
    assert_eq!(u.assignee_id, Some(bo.id));
    assert_eq!(u.tags, vec!["vip"]);
    assert_eq!(
        u.solved_at.map(|x| x.timestamp_micros()),
        Some(later.timestamp_micros())
    );
    assert_eq!(s.get_ticket(t.id, &v).await.unwrap(), u);
    let events = s
        .ticket_events(t.id, &v, PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 4);
    assert!(matches!(
        events[1].change,
        Change::StatusChanged {
            from: Status::New,
            to: Status::Solved
        }
    ));
    assert_eq!(u.last_seq, events[3].seq);
    // Paging the log: two at a time.
    let p1 = s
        .ticket_events(
            t.id,
            &v,
            PageRequest {
                after_id: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    let after = decode_id_cursor(p1.next_cursor.as_deref().unwrap()).unwrap();
    let p2 = s
        .ticket_events(
            t.id,
            &v,
            PageRequest {
                after_id: Some(after),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(p2.items.len(), 2);
    assert!(p2.next_cursor.is_none());

    let same = s
        .update_ticket(
            t.id,
            patch,
            &v,
            Actor::agent(admin.id),
            later + Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(same, u, "nothing changed, nothing written");
    assert_eq!(
        s.ticket_events(t.id, &v, PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        4
    );

    let bad = Patch {
        group_id: Some(Some(99)),
        ..Default::default()
    };
    assert!(
        matches!(s.update_ticket(t.id, bad, &v, Actor::SYSTEM, later).await, Err(StoreError::Invalid { field, .. }) if field == "group_id")
    );
    assert_eq!(
        s.list_tags().await.unwrap(),
        vec![TagCount {
            tag: "vip".into(),
            count: 1
        }]
    );
    let st = s.stats().await.unwrap();
    assert_eq!(
        (st.tickets, st.open_tickets, st.last_seq),
        (1, 0, u.last_seq)
    );
    db.drop_schema().await;
}

#[tokio::test]
async fn agents_outside_the_group_get_not_found() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let a = agent(s, "a@shop.example", Role::Agent).await;
    let b = agent(s, "b@shop.example", Role::Agent).await;
    let ga = s
        .create_group(
            NewGroup {
                name: "A".into(),
                description: "".into(),
            },
            Actor::SYSTEM,
            t0(),
        )
        .await
        .unwrap();
    let gb = s
        .create_group(
            NewGroup {
                name: "B".into(),
                description: "".into(),
            },
            Actor::SYSTEM,
            t0(),
        )
        .await
        .unwrap();
    s.set_group_members(ga.id, vec![a.id], Actor::SYSTEM, t0())
        .await
        .unwrap();
    s.set_group_members(gb.id, vec![b.id], Actor::SYSTEM, t0())
        .await
        .unwrap();
    let va = s.viewer(a.id).await.unwrap();
    let vb = s.viewer(b.id).await.unwrap();
    let mut nt = new_ticket("in B", by_email("c@x.example"));
    nt.group_id = Some(gb.id);
    nt.message = Some(NewMessage {
        public: true,
        body_text: "hi".into(),
        body_html: "hi".into(),
        attachments: vec![NewAttachment {
            filename: "f".into(),
            content_type: "x/y".into(),
            data: vec![1],
        }],
        ..Default::default()
    });
    let t = s
        .create_ticket(nt, Actor::agent(b.id), t0())
        .await
        .unwrap()
        .value;
    let nf = |r: Result<(), StoreError>| {
        assert!(matches!(r, Err(StoreError::NotFound("ticket"))), "{r:?}")
    };
    nf(s.get_ticket(t.id, &va).await.map(|_| ()));
    nf(s.update_ticket(
        t.id,
        Patch {
            subject: Some("x".into()),
            ..Default::default()
        },
        &va,
        Actor::agent(a.id),
        t0(),
    )
    .await
    .map(|_| ()));
    let msg = NewMessage {
        public: false,
        body_text: "n".into(),
        body_html: "n".into(),
        attachments: vec![],
        ..Default::default()
    };
    nf(
        s.add_message(t.id, msg.clone(), &va, Actor::agent(a.id), t0())
            .await
            .map(|_| ()),
    );
    nf(s.list_messages(t.id, &va).await.map(|_| ()));
    nf(s.ticket_events(t.id, &va, PageRequest::default())
        .await
        .map(|_| ()));
    let att = s.list_messages(t.id, &vb).await.unwrap()[0].attachments[0].id;
    // An attachment of a hidden ticket is as missing as one that does not exist.
    assert!(matches!(
        s.get_attachment(att, &va).await,
        Err(StoreError::NotFound("attachment"))
    ));
    assert!(matches!(
        s.get_ticket(9999, &vb).await,
        Err(StoreError::NotFound("ticket"))
    ));
    assert!(s
        .list_tickets(
            &TicketQuery {
                limit: 10,
                ..Default::default()
            },
            &va
        )
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        s.list_tickets(
            &TicketQuery {
                limit: 10,
                ..Default::default()
            },
            &vb
        )
        .await
        .unwrap()
        .items
        .len(),
        1
    );
    let tl = s
        .customer_timeline(t.requester_id, &va, PageRequest::default())
        .await
        .unwrap();
    assert!(tl.items.is_empty());
    assert_eq!(
        s.customer_timeline(t.requester_id, &vb, PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // Assigning the ticket to a makes it visible to a.
    let u = s
        .update_ticket(
            t.id,
            Patch {
                assignee_id: Some(Some(a.id)),
                ..Default::default()
            },
            &vb,
            Actor::agent(b.id),
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(s.get_ticket(t.id, &va).await.unwrap(), u);
    let m = s
        .add_message(
            t.id,
            msg,
            &va,
            Actor::agent(a.id),
            t0() + Duration::minutes(5),
        )
        .await
        .unwrap();
    assert_eq!(m.author, Actor::agent(a.id));
    let t = s.get_ticket(t.id, &va).await.unwrap();
    assert_eq!(t.updated_at, m.created_at);
    db.drop_schema().await;
}

#[tokio::test]
async fn idempotency_key_replays_the_first_ticket() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let a = agent(s, "a@shop.example", Role::Agent).await;
    let b = agent(s, "b@shop.example", Role::Agent).await;
    let mut nt = new_ticket("once", by_email("c@x.example"));
    nt.idempotency_key = Some("k-1".into());
    let first = s
        .create_ticket(nt.clone(), Actor::agent(a.id), t0())
        .await
        .unwrap();
    let again = s
        .create_ticket(nt.clone(), Actor::agent(a.id), t0() + Duration::seconds(3))
        .await
        .unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(first.value, again.value);
    // Keys are per agent.
    let other = s.create_ticket(nt, Actor::agent(b.id), t0()).await.unwrap();
    assert!(!other.replayed);
    assert_ne!(other.value.id, first.value.id);
    assert_eq!(s.stats().await.unwrap().tickets, 2);
    db.drop_schema().await;
}

#[tokio::test]
async fn keyset_pagination_walks_every_ticket_once() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let admin = agent(s, "admin@shop.example", Role::Admin).await;
    let v = admin_viewer(admin.id);
    let mut ids = Vec::new();
    for i in 0..5 {
        // Two pairs share an updated_at: the id breaks the tie.
        let at = t0() + Duration::minutes(i / 2);
        let mut nt = new_ticket(&format!("t{i}"), by_email("c@x.example"));
        // Mixed statuses: a status filter then merges one ordered scan per status.
        nt.status = if i % 2 == 0 {
            Status::New
        } else {
            Status::Open
        };
        ids.push(
            s.create_ticket(nt, Actor::SYSTEM, at)
                .await
                .unwrap()
                .value
                .id,
        );
    }
    let sorts = [
        TicketSort::UpdatedDesc,
        TicketSort::UpdatedAsc,
        TicketSort::CreatedDesc,
        TicketSort::IdAsc,
        TicketSort::IdDesc,
    ];
    for (sort, statuses) in sorts
        .iter()
        .flat_map(|s| [(*s, vec![]), (*s, vec![Status::Open, Status::New])])
    {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let q = TicketQuery {
                sort,
                cursor,
                limit: 2,
                statuses: statuses.clone(),
                ..Default::default()
            };
            let page = s.list_tickets(&q, &v).await.unwrap();
            pages += 1;
            seen.extend(page.items.iter().map(|t| t.id));
            match page.next_cursor {
                Some(c) => cursor = Some(Cursor::decode(&c, sort).unwrap()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{sort:?}");
        let mut want = ids.clone();
        if sort.descending() {
            want.reverse();
        }
        assert_eq!(seen, want, "{sort:?}");
    }
    // Filters.
    let q = TicketQuery {
        statuses: vec![Status::Open],
        sort: TicketSort::IdAsc,
        limit: 10,
        ..Default::default()
    };
    let open: Vec<i64> = s
        .list_tickets(&q, &v)
        .await
        .unwrap()
        .items
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(open, [ids[1], ids[3]]);
    let q = TicketQuery {
        statuses: vec![Status::Closed],
        limit: 10,
        ..Default::default()
    };
    assert!(s.list_tickets(&q, &v).await.unwrap().items.is_empty());
    let q = TicketQuery {
        assignee_id: Some(None),
        updated_after: Some(t0() + Duration::minutes(1)),
        updated_before: Some(t0() + Duration::minutes(2)),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        s.list_tickets(&q, &v).await.unwrap().items.len(),
        2,
        "updated_after <= updated_at < updated_before"
    );
    db.drop_schema().await;
}

const REC1: &str = r#"{"external_id":"zd-1","subject":"Where is my parcel?","status":"closed","requester":{"email":"ana@example.com","name":"Ana","language":"de"},"organization":"Acme","group":"Shipping","tags":["Shipping"],"created_at":"2026-01-02T10:00:00Z","messages":[{"author":"ana@example.com","body":"Hi <there>","created_at":"2026-01-02T10:00:00Z"},{"author":"bo@shop.example","author_is_agent":true,"html":"<p onclick=\"x()\">On its way</p>","created_at":"2026-01-02T11:00:00Z"}],"history":[{"at":"2026-01-02T10:30:00Z","by":"bo@shop.example","status":"open","assignee":"bo@shop.example"},{"at":"2026-01-02T11:00:00Z","by":"bo@shop.example","status":"solved"}]}"#;
const REC2: &str = r#"{"external_id":"zd-2","subject":"Refund","requester":{"email":"cy@example.com"},"organization":"ACME","priority":"high","created_at":"2026-01-03T10:00:00Z","messages":[{"author":"dee@example.com","body":"cc","created_at":"2026-01-03T10:05:00Z"}]}"#;

#[tokio::test]
async fn import_creates_tickets_and_skips_known_ones() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let admin = agent(s, "admin@shop.example", Role::Admin).await;
    let v = admin_viewer(admin.id);
    let recs: Vec<ImportRecord> = [REC1, REC2]
        .iter()
        .map(|l| ImportRecord::parse_line(l).unwrap())
        .collect();
    let mut batch = recs.clone();
    batch.push(recs[0].clone()); // repeated inside the batch
    let out = s.import(batch, t0()).await.unwrap();
    assert_eq!(
        out,
        ImportOutcome {
            created: 2,
            skipped: 1
        }
    );
    assert_eq!(
        s.import(recs, t0()).await.unwrap(),
        ImportOutcome {
            created: 0,
            skipped: 2
        }
    );

    let page = s
        .list_tickets(
            &TicketQuery {
                sort: TicketSort::IdAsc,
                limit: 10,
                ..Default::default()
            },
            &v,
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let (t1, t2) = (&page.items[0], &page.items[1]);
    assert_eq!(t1.external_id.as_deref(), Some("zd-1"));
    assert_eq!(t1.status, Status::Closed);
    assert_eq!(t1.tags, vec!["shipping"]);
    assert_eq!(
        t1.organization_id, t2.organization_id,
        "Acme and ACME are one organization"
    );
    assert!(t1.organization_id.is_some());
    let bo = s.agent_by_email("bo@shop.example").await.unwrap().unwrap();
    assert!(!bo.active);
    assert_eq!(bo.role, Role::Agent);
    assert!(s.agent_password_hash(bo.id).await.unwrap().is_none());
    assert_eq!(t1.assignee_id, Some(bo.id));
    assert_eq!(t1.created_at.to_rfc3339(), "2026-01-02T10:00:00+00:00");
    assert_eq!(t1.updated_at.to_rfc3339(), "2026-01-02T11:00:00+00:00");
    let groups = s.list_groups().await.unwrap();
    assert_eq!(
        groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["Shipping"]
    );
    assert_eq!(t1.group_id, Some(groups[0].id));
    let ana = s.get_customer(t1.requester_id).await.unwrap();
    assert_eq!(
        (ana.name.as_str(), ana.language.as_deref(), ana.email()),
        ("Ana", Some("de"), Some("ana@example.com"))
    );
    assert_eq!(t2.priority, Priority::High);

    let events = s
        .ticket_events(t1.id, &v, PageRequest::default())
        .await
        .unwrap()
        .items;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ticket.created",
            "ticket.message_added",
            "ticket.status_changed",
            "ticket.assignee_changed",
            "ticket.message_added",
            "ticket.status_changed",
            "ticket.status_changed"
        ]
    );
    assert_eq!(t1.last_seq, events.last().unwrap().seq);
    assert_eq!(events[0].actor, Actor::customer(ana.id));
    let msgs = s.list_messages(t1.id, &v).await.unwrap();
    assert_eq!(msgs[0].body_html, "Hi &lt;there&gt;");
    assert!(!msgs[1].body_html.contains("onclick") && msgs[1].body_html.contains("On its way"));
    assert_eq!(msgs[1].author, Actor::agent(bo.id));
    let dee = s
        .customer_by_identity(IdentityKind::Email, "dee@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.list_messages(t2.id, &v).await.unwrap()[0].author,
        Actor::customer(dee.id)
    );
    assert!(
        s.list_jobs(JobState::Queued, 10).await.unwrap().is_empty(),
        "imports send no webhooks"
    );
    db.drop_schema().await;
}

#[tokio::test]
async fn jobs_lease_complete_fail_and_die() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let now = t0();
    let lease = Duration::seconds(30);
    let j1 = s
        .enqueue_job(NewJob {
            kind: "k".into(),
            payload: serde_json::json!({"n": 1}),
            run_at: now,
            max_attempts: 2,
        })
        .await
        .unwrap();
    let j2 = s
        .enqueue_job(NewJob {
            kind: "k".into(),
            payload: serde_json::json!({"n": 2}),
            run_at: now + Duration::seconds(1),
            max_attempts: 1,
        })
        .await
        .unwrap();
    let later = s
        .enqueue_job(NewJob {
            kind: "k".into(),
            payload: serde_json::json!({}),
            run_at: now + Duration::hours(1),
            max_attempts: 1,
        })
        .await
        .unwrap();

    let got = s
        .lease_jobs("w1", now + Duration::seconds(1), lease, 10)
        .await
        .unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), [j1, j2]);
    assert_eq!(got[0].attempts, 1);
    assert!(
        s.lease_jobs("w2", now + Duration::seconds(2), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased jobs are not handed out twice"
    );
    assert!(matches!(
        s.complete_job(j1, "w2").await,
        Err(StoreError::NotFound("job"))
    ));
    s.complete_job(j1, "w1").await.unwrap();
    s.fail_job(j2, "w1", "boom", Some(now + Duration::seconds(10)))
        .await
        .unwrap();
    assert!(s
        .lease_jobs("w2", now + Duration::seconds(5), lease, 10)
        .await
        .unwrap()
        .is_empty());
    // j2 is due again but spent its only attempt: buried, not returned.
    assert!(s
        .lease_jobs("w2", now + Duration::seconds(11), lease, 10)
        .await
        .unwrap()
        .is_empty());
    let dead = s.list_jobs(JobState::Dead, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("lease expired after the last attempt")
    );
    let got = s
        .lease_jobs("w3", now + Duration::hours(2), lease, 10)
        .await
        .unwrap();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), [later]);
    s.fail_job(later, "w3", "gone", None).await.unwrap();
    assert_eq!(
        s.list_jobs(JobState::Dead, 10)
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        [later, j2]
    );
    assert_eq!(s.list_jobs(JobState::Done, 10).await.unwrap()[0].id, j1);
    let st = s.stats().await.unwrap();
    assert_eq!((st.jobs_queued, st.jobs_dead), (0, 2));
    db.drop_schema().await;
}

#[tokio::test]
async fn events_since_tails_the_log_and_webhooks_get_jobs() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let admin = agent(s, "admin@shop.example", Role::Admin).await;
    let v = admin_viewer(admin.id);
    let hook = s
        .create_webhook(
            NewWebhook {
                url: "https://hooks.example/x".into(),
                events: vec!["ticket.created".into()],
                secret: "s3cret".into(),
            },
            Actor::agent(admin.id),
            t0(),
        )
        .await
        .unwrap();
    let all = s
        .create_webhook(
            NewWebhook {
                url: "https://hooks.example/all".into(),
                events: vec!["*".into()],
                secret: "s".into(),
            },
            Actor::agent(admin.id),
            t0(),
        )
        .await
        .unwrap();
    assert!(s.events_since(0, 100).await.unwrap().is_empty());
    let mut nt = new_ticket("s", by_email("c@x.example"));
    nt.message = Some(NewMessage {
        public: true,
        body_text: "b".into(),
        body_html: "b".into(),
        attachments: vec![],
        ..Default::default()
    });
    let t = s
        .create_ticket(nt, Actor::agent(admin.id), t0())
        .await
        .unwrap()
        .value;
    s.update_ticket(
        t.id,
        Patch {
            priority: Some(Priority::Urgent),
            ..Default::default()
        },
        &v,
        Actor::agent(admin.id),
        t0(),
    )
    .await
    .unwrap();
    let evs = s.events_since(0, 100).await.unwrap();
    assert_eq!(evs.len(), 3);
    assert!(evs.windows(2).all(|w| w[0].seq < w[1].seq));
    let rest = s.events_since(evs[0].seq, 100).await.unwrap();
    assert_eq!(rest, evs[1..]);
    assert_eq!(s.events_since(evs[0].seq, 1).await.unwrap(), evs[1..2]);
    assert!(s.events_since(evs[2].seq, 100).await.unwrap().is_empty());

    // Outbox: created → both hooks, the other two events → the "*" hook only.
    let all_jobs = s.list_jobs(JobState::Queued, 10).await.unwrap();
    // No SLA is configured in this store, so no SLA checks are scheduled; only webhooks.
    assert_eq!(
        all_jobs
            .iter()
            .filter(|j| j.kind == tend_store::SLA_JOB)
            .count(),
        0
    );
    let jobs: Vec<_> = all_jobs
        .into_iter()
        .filter(|j| j.kind != tend_store::SLA_JOB)
        .collect();
    assert_eq!(jobs.len(), 4);
    assert!(jobs
        .iter()
        .all(|j| j.kind == WEBHOOK_JOB && j.max_attempts == WEBHOOK_MAX_ATTEMPTS));
    let mut payloads: Vec<_> = jobs.iter().map(|j| j.payload.clone()).collect();
    payloads.sort_by_key(|p| (p["seq"].as_i64(), p["webhook_id"].as_i64()));
    assert_eq!(
        payloads,
        [
            webhook_job_payload(hook.id, evs[0].seq),
            webhook_job_payload(all.id, evs[0].seq),
            webhook_job_payload(all.id, evs[1].seq),
            webhook_job_payload(all.id, evs[2].seq)
        ]
    );
    s.delete_webhook(hook.id, Actor::agent(admin.id), t0())
        .await
        .unwrap();
    assert!(matches!(
        s.get_webhook(hook.id).await,
        Err(StoreError::NotFound("webhook"))
    ));
    assert!(matches!(
        s.delete_webhook(hook.id, Actor::SYSTEM, t0()).await,
        Err(StoreError::NotFound("webhook"))
    ));
    let audit = s.list_audit(PageRequest::default()).await.unwrap().items;
    assert_eq!(audit[0].action, "webhook.deleted");
    assert!(!audit.iter().any(|a| a.data.to_string().contains("s3cret")));
    db.drop_schema().await;
}

#[tokio::test]
async fn concurrent_writers_never_make_a_tailer_skip() {
    let Some(db) = db().await else { return };
    let s = db.store.clone();
    let mut writers = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                s.create_ticket(
                    new_ticket(&format!("w{w}-{i}"), by_email(&format!("c{w}@x.example"))),
                    Actor::SYSTEM,
                    t0(),
                )
                .await
                .unwrap();
            }
        }));
    }
    let mut after = 0;
    let mut got = Vec::new();
    loop {
        let done = writers.iter().all(|w| w.is_finished());
        let evs = s.events_since(after, 7).await.unwrap();
        if let Some(last) = evs.last() {
            after = last.seq;
        }
        got.extend(evs.iter().map(|e| e.seq));
        if done && evs.is_empty() {
            break;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(got.len(), 100, "every event exactly once");
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    db.drop_schema().await;
}

/// The interleaving a plain `txid < xmin` filter gets wrong: transaction A takes its xid
/// first, B (newer xid) inserts an event, A inserts one with a higher seq and commits while
/// B is still open. Returning A's event would move a tailer past B's.
#[tokio::test]
async fn an_older_transaction_with_a_higher_seq_is_held_back() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let t = s
        .create_ticket(
            new_ticket("s", by_email("c@x.example")),
            Actor::SYSTEM,
            t0(),
        )
        .await
        .unwrap()
        .value;
    let connect = || async {
        let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("SET search_path = {}", db.schema))
            .await
            .unwrap();
        c
    };
    let (a, b) = (connect().await, connect().await);
    let insert = format!(
        "INSERT INTO events (ticket_id, kind, actor_kind, data, at) VALUES ({}, 'ticket.message_added', 'system', '{{\"type\":\"message_added\",\"message_id\":1,\"public\":true}}', now()) RETURNING seq",
        t.id
    );
    a.batch_execute("BEGIN; SELECT pg_current_xact_id()")
        .await
        .unwrap();
    b.batch_execute("BEGIN; SELECT pg_current_xact_id()")
        .await
        .unwrap();
    let seq_b: i64 = b.query_one(insert.as_str(), &[]).await.unwrap().get(0);
    let seq_a: i64 = a.query_one(insert.as_str(), &[]).await.unwrap().get(0);
    assert!(seq_a > seq_b);
    a.batch_execute("COMMIT").await.unwrap();
    assert!(
        s.events_since(t.last_seq, 100).await.unwrap().is_empty(),
        "nothing past B's seq while B runs"
    );
    let commit_b = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        b.batch_execute("COMMIT").await.unwrap();
    });
    let got: Vec<i64> = s
        .events_since(t.last_seq, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    commit_b.await.unwrap();
    assert_eq!(got, [seq_b, seq_a]);
    db.drop_schema().await;
}
