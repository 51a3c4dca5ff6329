//! The e-mail channel's storage on PgStore, one fresh schema per test.
//! URL: $TEND_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres (skipped
//! when that is not reachable).

use chrono::{DateTime, Duration, Utc};
use tend_core::{Actor, Change, Channel, Priority, Role, Status, Viewer};
use tend_postgres::PgStore;
use tend_store::mail::*;
use tend_store::*;

mod common;
use common::TestDb;

async fn db() -> Option<TestDb> {
    common::db_with_prefix("m").await
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T09:00:00.123456Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn admin() -> Viewer {
    Viewer {
        agent_id: 1,
        role: Role::Admin,
        group_ids: vec![],
    }
}

fn new_mailbox(address: &str) -> NewMailbox {
    NewMailbox {
        address: address.into(),
        name: "Support".into(),
        group_id: None,
        brand_id: None,
        closed_policy: ClosedPolicy::FollowUp,
        auto_ack: true,
        imap: None,
    }
}

fn meta(from: &str, message_id: &str, in_reply_to: &[&str], cc: &[&str]) -> MailMeta {
    MailMeta {
        direction: "in".into(),
        from: from.into(),
        to: vec!["support@shop.example".into()],
        cc: cc.iter().map(|s| s.to_string()).collect(),
        subject: "Where is my parcel?".into(),
        message_id: Some(message_id.into()),
        in_reply_to: in_reply_to.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn raw(from: &str, message_id: &str) -> Vec<u8> {
    format!("From: {from}\r\nMessage-ID: <{message_id}>\r\nSubject: Where is my parcel?\r\n\r\nHello\r\n")
        .into_bytes()
}

fn message(meta: MailMeta, body: &str) -> NewMessage {
    NewMessage {
        public: true,
        body_text: body.into(),
        body_html: format!("<p>{body}</p>"),
        mail: Some(meta),
        ..Default::default()
    }
}

/// A mail that opens a ticket.
fn new_ticket_mail(
    mailbox_id: i64,
    from: &str,
    message_id: &str,
    cc: &[&str],
    follow_up_of: Option<i64>,
) -> MailDelivery {
    let m = meta(from, message_id, &[], cc);
    MailDelivery {
        mailbox_id: Some(mailbox_id),
        source: "smtp".into(),
        raw: raw(from, message_id),
        message_id: Some(message_id.into()),
        sender: Some(from.into()),
        subject: m.subject.clone(),
        meta: m.clone(),
        action: MailAction::NewTicket {
            ticket: Box::new(NewTicket {
                subject: m.subject.clone(),
                status: Status::New,
                priority: Priority::Normal,
                channel: Channel::Email,
                requester: RequesterRef::Email {
                    email: from.into(),
                    name: None,
                },
                assignee_id: None,
                group_id: None,
                brand_id: None,
                tags: vec![],
                fields: Default::default(),
                external_id: None,
                message: Some(message(m, "Hello")),
                message_by_requester: true,
                idempotency_key: None,
            }),
            participants: cc.iter().map(|s| s.to_string()).collect(),
            follow_up_of,
            auto_ack: true,
        },
        imap_uid: None,
    }
}

/// A reply appended to a ticket.
fn reply_mail(
    mailbox_id: i64,
    ticket_id: i64,
    from: &str,
    message_id: &str,
    parent: &str,
    reopen_to: Option<Status>,
) -> MailDelivery {
    let m = meta(from, message_id, &[parent], &[]);
    MailDelivery {
        mailbox_id: Some(mailbox_id),
        source: "imap".into(),
        raw: raw(from, message_id),
        message_id: Some(message_id.into()),
        sender: Some(from.into()),
        subject: m.subject.clone(),
        meta: m.clone(),
        action: MailAction::Append {
            ticket_id,
            message: message(m, "Still waiting"),
            reopen_to,
            participants: vec![],
        },
        imap_uid: None,
    }
}

async fn jobs_of_kind(s: &PgStore, kind: &str) -> Vec<Job> {
    s.list_jobs(JobState::Queued, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == kind)
        .collect()
}

#[tokio::test]
async fn mailboxes_are_unique_by_address_case_insensitively() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let mb = s
        .create_mailbox(new_mailbox(" Support@Shop.Example "), Actor::SYSTEM, t0())
        .await
        .unwrap();
    assert_eq!(mb.address, "support@shop.example");
    assert!(mb.active && mb.auto_ack);
    assert_eq!(mb.closed_policy, ClosedPolicy::FollowUp);
    assert_eq!(mb.created_at, t0());
    let err = s
        .create_mailbox(new_mailbox("SUPPORT@shop.example"), Actor::SYSTEM, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let mut other = new_mailbox("billing@shop.example");
    other.group_id = Some(999);
    let err = s
        .create_mailbox(other, Actor::SYSTEM, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    let mut imap = new_mailbox("imap@shop.example");
    imap.imap = Some(ImapSource {
        host: "127.0.0.1".into(),
        port: 143,
        security: "none".into(),
        username: "u".into(),
        password: "p".into(),
        folder: "INBOX".into(),
        after_import: "seen".into(),
    });
    let imap = s.create_mailbox(imap, Actor::SYSTEM, t0()).await.unwrap();
    let all = s.list_mailboxes().await.unwrap();
    assert_eq!(all, vec![mb, imap.clone()]);
    assert_eq!(all[1].imap.as_ref().unwrap().password, "p");
    let audit = s.list_audit(PageRequest::default()).await.unwrap();
    assert_eq!(
        audit
            .items
            .iter()
            .filter(|a| a.action == "mailbox.created")
            .count(),
        2
    );
    db.drop_schema().await;
}

#[tokio::test]
async fn a_mail_opens_a_ticket_once_and_threads_by_message_id() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let mb = s
        .create_mailbox(new_mailbox("support@shop.example"), Actor::SYSTEM, t0())
        .await
        .unwrap();
    let mut first = new_ticket_mail(
        mb.id,
        "Ann@Example.com",
        "m1@example.com",
        &["Bob@Example.com"],
        None,
    );
    first.imap_uid = Some((77, 5));
    let raw_first = first.raw.clone();
    let d = s.deliver_mail(first.clone(), t0()).await.unwrap();
    assert_eq!(d.outcome, "created");
    let tid = d.ticket_id.unwrap();
    let mid = d.message_id.unwrap();

    // The ticket, its message with the mail headers and the intake id, the ack job.
    let t = s.get_ticket(tid, &admin()).await.unwrap();
    assert_eq!(t.channel, Channel::Email);
    let msgs = s.list_messages(tid, &admin()).await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].id, mid);
    assert_eq!(msgs[0].author, Actor::customer(t.requester_id));
    let m = msgs[0].mail.clone().unwrap();
    assert_eq!(m.message_id.as_deref(), Some("m1@example.com"));
    assert_eq!(m.intake_id, Some(d.intake_id));
    assert_eq!(s.message_for_mail(tid, mid).await.unwrap(), msgs[0]);
    assert!(matches!(
        s.message_for_mail(tid + 1, mid).await,
        Err(StoreError::NotFound(_))
    ));
    let acks = jobs_of_kind(s, MAIL_ACK_JOB).await;
    assert_eq!(acks.len(), 1);
    assert_eq!(
        acks[0].payload,
        serde_json::json!({"ticket_id": tid, "message_id": mid, "mailbox_id": mb.id})
    );

    // The raw bytes and the IMAP progress were saved with it.
    assert_eq!(s.raw_mail(d.intake_id).await.unwrap(), raw_first);
    assert!(matches!(
        s.raw_mail(d.intake_id + 100).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.imap_state(mb.id).await.unwrap(), Some((77, 5)));
    assert_eq!(s.imap_state(mb.id + 1).await.unwrap(), None);

    // The same mail again: logged as a duplicate, nothing else.
    let mut again = first.clone();
    again.imap_uid = Some((77, 6));
    let dup = s.deliver_mail(again, t0()).await.unwrap();
    assert_eq!(dup.outcome, "duplicate");
    assert_eq!(dup.ticket_id, Some(tid));
    assert_eq!(dup.message_id, None);
    assert_eq!(s.stats().await.unwrap().tickets, 1);
    assert_eq!(s.list_messages(tid, &admin()).await.unwrap().len(), 1);
    assert_eq!(jobs_of_kind(s, MAIL_ACK_JOB).await.len(), 1);
    assert_eq!(s.imap_state(mb.id).await.unwrap(), Some((77, 6)));
    // An older UID does not move the mark back; a new UIDVALIDITY resets it.
    let mut older = new_ticket_mail(mb.id, "x@example.com", "old@example.com", &[], None);
    older.action = MailAction::Drop {
        outcome: "rejected".into(),
        ticket_id: None,
        reason: "test".into(),
    };
    older.imap_uid = Some((77, 2));
    s.deliver_mail(older.clone(), t0()).await.unwrap();
    assert_eq!(s.imap_state(mb.id).await.unwrap(), Some((77, 6)));
    older.message_id = Some("old2@example.com".into());
    older.imap_uid = Some((78, 1));
    s.deliver_mail(older, t0()).await.unwrap();
    assert_eq!(s.imap_state(mb.id).await.unwrap(), Some((78, 1)));

    // The intake log, newest first, filterable by outcome, pageable.
    let log = s
        .list_mail_intake(None, PageRequest::default())
        .await
        .unwrap();
    let outcomes: Vec<&str> = log.items.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["rejected", "rejected", "duplicate", "created"]);
    assert_eq!(log.items[3].id, d.intake_id);
    assert_eq!(log.items[3].ticket_id, Some(tid));
    assert_eq!(log.items[3].message_row, Some(mid));
    assert_eq!(log.items[3].size, raw_first.len() as i64);
    assert_eq!(log.items[3].received_at, t0());
    let dups = s
        .list_mail_intake(Some("duplicate".into()), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(dups.items.len(), 1);
    assert_eq!(dups.items[0].id, dup.intake_id);
    let p1 = s
        .list_mail_intake(
            None,
            PageRequest {
                after_id: None,
                limit: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(p1.items.len(), 3);
    let after = decode_id_cursor(p1.next_cursor.as_deref().unwrap()).unwrap();
    let p2 = s
        .list_mail_intake(
            None,
            PageRequest {
                after_id: Some(after),
                limit: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_eq!(p2.next_cursor, None);

    // What threading learns: the ticket by Message-ID, its participants (requester + CC).
    let k = s
        .mail_knowledge(MailQuestion {
            message_ids: vec!["m1@example.com".into(), "unknown@example.com".into()],
            ticket_ids: vec![],
            addresses: vec![],
            sender: Some("ann@example.com".into()),
            since: Some(t0() - Duration::minutes(1)),
        })
        .await
        .unwrap();
    assert_eq!(k.ticket_by_message_id.len(), 1);
    assert_eq!(k.ticket_by_message_id["m1@example.com"], tid);
    let info = &k.tickets[&tid];
    assert_eq!(info.status, Status::New);
    assert_eq!(info.participants, ["ann@example.com", "bob@example.com"]);
    assert_eq!(k.recent_from_sender, 2);
    db.drop_schema().await;
}

#[tokio::test]
async fn concurrent_deliveries_of_one_message_id_make_one_ticket() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let mb = s
        .create_mailbox(new_mailbox("support@shop.example"), Actor::SYSTEM, t0())
        .await
        .unwrap();
    for round in 0..5 {
        let mail = new_ticket_mail(
            mb.id,
            &format!("c{round}@example.com"),
            &format!("race-{round}@example.com"),
            &[],
            None,
        );
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (s, mail) = (s.clone(), mail.clone());
                tokio::spawn(async move { s.deliver_mail(mail, t0()).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().unwrap().outcome);
        }
        outcomes.sort();
        assert_eq!(
            outcomes,
            ["created", "duplicate", "duplicate", "duplicate"],
            "round {round}"
        );
    }
    assert_eq!(s.stats().await.unwrap().tickets, 5);
    db.drop_schema().await;
}

#[tokio::test]
async fn a_reply_reopens_a_solved_ticket_and_a_follow_up_links_both() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let mb = s
        .create_mailbox(new_mailbox("support@shop.example"), Actor::SYSTEM, t0())
        .await
        .unwrap();
    let d = s
        .deliver_mail(
            new_ticket_mail(mb.id, "ann@example.com", "m1@example.com", &[], None),
            t0(),
        )
        .await
        .unwrap();
    let tid = d.ticket_id.unwrap();
    let patch = tend_core::ticket::Patch {
        status: Some(Status::Solved),
        ..Default::default()
    };
    let solved = s
        .update_ticket(tid, patch, &admin(), Actor::agent(1), t0())
        .await
        .unwrap();
    assert_eq!(solved.status, Status::Solved);
    assert!(solved.solved_at.is_some());

    // The customer's answer is appended as theirs and reopens the ticket.
    let later = t0() + Duration::hours(1);
    let r = s
        .deliver_mail(
            reply_mail(
                mb.id,
                tid,
                "ann@example.com",
                "m2@example.com",
                "m1@example.com",
                Some(Status::Open),
            ),
            later,
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, "appended");
    assert_eq!(r.ticket_id, Some(tid));
    let t = s.get_ticket(tid, &admin()).await.unwrap();
    assert_eq!(t.status, Status::Open);
    assert_eq!(t.solved_at, None);
    assert_eq!(t.updated_at, later);
    let events = s
        .ticket_events(tid, &admin(), PageRequest::default())
        .await
        .unwrap()
        .items;
    let last_two: Vec<&Change> = events.iter().rev().take(2).map(|e| &e.change).collect();
    assert!(matches!(
        last_two[0],
        Change::StatusChanged {
            from: Status::Solved,
            to: Status::Open
        }
    ));
    assert!(
        matches!(last_two[1], Change::MessageAdded { message_id, .. } if Some(*message_id) == r.message_id)
    );
    assert_eq!(t.last_seq, events.last().unwrap().seq);
    let msgs = s.list_messages(tid, &admin()).await.unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].author, Actor::customer(t.requester_id));
    assert_eq!(msgs[1].mail.as_ref().unwrap().intake_id, Some(r.intake_id));

    // The reply is now the parent an agent's answer threads under.
    let ctx = s.outbound_context(tid).await.unwrap();
    assert_eq!(ctx.parent_message_id.as_deref(), Some("m2@example.com"));
    assert_eq!(ctx.parent_references, ["m1@example.com"]);

    // An open ticket stays as it is when asked to reopen to its own status.
    let same = s
        .deliver_mail(
            reply_mail(
                mb.id,
                tid,
                "ann@example.com",
                "m3@example.com",
                "m2@example.com",
                Some(Status::Open),
            ),
            later,
        )
        .await
        .unwrap();
    assert_eq!(same.outcome, "appended");
    let n_events = s
        .ticket_events(tid, &admin(), PageRequest::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(n_events, events.len() + 1);

    // A follow-up ticket is linked both ways.
    let f = s
        .deliver_mail(
            new_ticket_mail(mb.id, "ann@example.com", "m4@example.com", &[], Some(tid)),
            later,
        )
        .await
        .unwrap();
    let fid = f.ticket_id.unwrap();
    assert_ne!(fid, tid);
    let linked = |evs: Vec<Event>| -> Vec<(i64, String)> {
        evs.into_iter()
            .filter_map(|e| match e.change {
                Change::Linked {
                    ticket_id,
                    relation,
                } => Some((ticket_id, relation)),
                _ => None,
            })
            .collect()
    };
    let new_events = s
        .ticket_events(fid, &admin(), PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(
        linked(new_events.clone()),
        [(tid, "follow_up_of".to_string())]
    );
    let old_events = s
        .ticket_events(tid, &admin(), PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(
        linked(old_events.clone()),
        [(fid, "followed_up_by".to_string())]
    );
    let old = s.get_ticket(tid, &admin()).await.unwrap();
    assert_eq!(old.last_seq, old_events.last().unwrap().seq);
    assert_eq!(old.updated_at, later);
    let new = s.get_ticket(fid, &admin()).await.unwrap();
    assert_eq!(new.last_seq, new_events.last().unwrap().seq);
    db.drop_schema().await;
}

#[tokio::test]
async fn outbound_context_and_replies_to_customers() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let mb = s
        .create_mailbox(new_mailbox("support@shop.example"), Actor::SYSTEM, t0())
        .await
        .unwrap();
    let d = s
        .deliver_mail(
            new_ticket_mail(
                mb.id,
                "Ann@example.com",
                "m1@example.com",
                &["bob@example.com", "ANN@example.com"],
                None,
            ),
            t0(),
        )
        .await
        .unwrap();
    let tid = d.ticket_id.unwrap();
    let ctx = s.outbound_context(tid).await.unwrap();
    assert_eq!(ctx.ticket_id, tid);
    assert_eq!(ctx.subject, "Where is my parcel?");
    assert_eq!(ctx.requester_name, "Ann");
    assert_eq!(ctx.requester_emails, ["Ann@example.com"]);
    assert_eq!(ctx.cc, ["bob@example.com"]);
    assert!(ctx.bounced.is_empty());
    assert_eq!(ctx.mailbox.as_ref().map(|m| m.id), Some(mb.id));
    assert_eq!(ctx.parent_message_id.as_deref(), Some("m1@example.com"));
    assert!(ctx.parent_references.is_empty());
    assert!(matches!(
        s.outbound_context(tid + 100).await,
        Err(StoreError::NotFound(_))
    ));

    // A public agent reply with notify: the reply job is queued with the message.
    let reply = NewMessage {
        public: true,
        body_text: "On its way".into(),
        body_html: "<p>On its way</p>".into(),
        notify: true,
        ..Default::default()
    };
    let m = s
        .add_message(tid, reply, &admin(), Actor::agent(1), t0())
        .await
        .unwrap();
    assert_eq!(m.mail, None);
    let jobs = jobs_of_kind(s, MAIL_REPLY_JOB).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].payload,
        serde_json::json!({"ticket_id": tid, "message_id": m.id})
    );
    // The worker records what it sent: idempotent, and the meta is kept once.
    let sent = MailMeta {
        direction: "out".into(),
        from: "support@shop.example".into(),
        to: vec!["Ann@example.com".into()],
        subject: "Re: Where is my parcel?".into(),
        message_id: Some("out1@shop.example".into()),
        in_reply_to: vec!["m1@example.com".into()],
        ..Default::default()
    };
    for _ in 0..2 {
        s.record_outbound_mail(
            tid,
            Some(m.id),
            "out1@shop.example",
            &["m1@example.com".to_string()],
            Some(sent.clone()),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.message_for_mail(tid, m.id).await.unwrap().mail,
        Some(sent)
    );
    // The customer's mail stays the parent; a reply to ours threads to the ticket.
    let ctx = s.outbound_context(tid).await.unwrap();
    assert_eq!(ctx.parent_message_id.as_deref(), Some("m1@example.com"));
    let k = s
        .mail_knowledge(MailQuestion {
            message_ids: vec!["out1@shop.example".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(k.ticket_by_message_id["out1@shop.example"], tid);

    // A permanent bounce for Bob: flagged, a private note on the ticket.
    let bounce = MailDelivery {
        mailbox_id: Some(mb.id),
        source: "smtp".into(),
        raw: b"bounce".to_vec(),
        message_id: Some("bounce1@mx.example".into()),
        sender: Some("mailer-daemon@mx.example".into()),
        subject: "Undeliverable".into(),
        meta: MailMeta::default(),
        action: MailAction::Bounce {
            ticket_id: Some(tid),
            address: Some("Bob@Example.com".into()),
            permanent: true,
            note: Some(NewMessage {
                public: false,
                body_text: "bob@example.com bounced".into(),
                body_html: "bob@example.com bounced".into(),
                ..Default::default()
            }),
        },
        imap_uid: None,
    };
    let b = s.deliver_mail(bounce, t0()).await.unwrap();
    assert_eq!(b.outcome, "bounce");
    assert_eq!(b.ticket_id, Some(tid));
    assert!(b.message_id.is_some());
    let ctx = s.outbound_context(tid).await.unwrap();
    assert!(ctx.bounced.contains("bob@example.com"));
    let agent = s
        .create_agent(
            NewAgent {
                email: "Agent@Shop.Example".into(),
                name: "Agent".into(),
                role: Role::Agent,
                password_hash: None,
                active: true,
            },
            Actor::SYSTEM,
            t0(),
        )
        .await
        .unwrap();
    let k = s
        .mail_knowledge(MailQuestion {
            ticket_ids: vec![tid],
            addresses: vec![
                "BOB@example.com".into(),
                "agent@shop.example".into(),
                "ann@example.com".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(k.bounced.contains("bob@example.com") && k.bounced.len() == 1);
    assert!(k.staff.contains("agent@shop.example") && k.staff.len() == 1);
    assert_eq!(
        k.tickets[&tid].participants,
        ["ann@example.com", "bob@example.com"]
    );
    assert!(agent.id > 0);
    db.drop_schema().await;
}
