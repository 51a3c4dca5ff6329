//! The e-mail channel end to end over real sockets: mail into the built-in SMTP listener,
//! threading, loop protection, and agent replies out through SMTP to a sink.

use crate::harness::TestApp;
use crate::smtp_sink::SmtpSink;
use serde_json::json;
use std::sync::Arc;
use tend_store::mail::{ClosedPolicy, NewMailbox};
use tend_store::PageRequest;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

struct Mail {
    app: TestApp,
    sink: SmtpSink,
    smtp: std::net::SocketAddr,
    worker: tend_web::worker::Worker,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn mail_app(policy: ClosedPolicy) -> Mail {
    let app = TestApp::spawn().await;
    let sink = SmtpSink::start().await;
    let cfg = Arc::new(tend_web::mail::MailConfig::new(
        Some(sink.url.clone()),
        "Shop Support <support@shop.test>".into(),
        "http://tend.test".into(),
    ));
    app.store
        .create_mailbox(
            NewMailbox {
                address: "support@shop.test".into(),
                name: "Shop Support".into(),
                group_id: None,
                brand_id: None,
                closed_policy: policy,
                auto_ack: true,
                imap: None,
            },
            tend_core::Actor::SYSTEM,
            app.now(),
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp = listener.local_addr().unwrap();
    let server = tend_web::mail::smtp::SmtpServer::new(
        app.store.clone(),
        Arc::new(app.clock.clone()),
        cfg.clone(),
        "mx.shop.test".into(),
        None,
    );
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(tend_web::mail::smtp::serve(listener, server, rx));
    let worker = tend_web::worker::Worker::new(app.store.clone(), Arc::new(app.clock.clone()))
        .with_mail(cfg);
    Mail {
        app,
        sink,
        smtp,
        worker,
        _stop: stop,
    }
}

/// One SMTP conversation; returns every reply line.
async fn smtp_session(addr: std::net::SocketAddr, commands: &[&str]) -> Vec<String> {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut replies = Vec::new();
    let read_reply = async |r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>| {
        let mut out = String::new();
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).await.unwrap() == 0 {
                break;
            }
            let more = l.as_bytes().get(3) == Some(&b'-');
            out.push_str(&l);
            if !more {
                break;
            }
        }
        out
    };
    replies.push(read_reply(&mut r).await);
    for c in commands {
        w.write_all(c.as_bytes()).await.unwrap();
        w.write_all(b"\r\n").await.unwrap();
        replies.push(read_reply(&mut r).await);
    }
    replies
}

/// Sends `raw` (CRLF lines) from `from` to `to` and returns the final reply to DATA.
async fn send(addr: std::net::SocketAddr, from: &str, to: &str, raw: &str) -> String {
    let mut data = String::new();
    for line in raw.replace("\r\n", "\n").split('\n') {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push('.');
    let mail_from = format!("MAIL FROM:<{from}>");
    let rcpt = format!("RCPT TO:<{to}>");
    let r = smtp_session(
        addr,
        &["EHLO client.test", &mail_from, &rcpt, "DATA", &data, "QUIT"],
    )
    .await;
    assert!(r[3].starts_with("250"), "RCPT: {r:?}");
    r[5].clone()
}

async fn tickets(app: &TestApp) -> Vec<serde_json::Value> {
    let r = app.get("/api/v1/tickets?limit=100").await;
    r.body["items"].as_array().unwrap().clone()
}

async fn intake(app: &TestApp) -> Vec<tend_store::mail::IntakeEntry> {
    app.store
        .list_mail_intake(
            None,
            PageRequest {
                after_id: None,
                limit: 100,
            },
        )
        .await
        .unwrap()
        .items
}

fn first_mail() -> String {
    "From: Ann Buyer <ann@buyer.test>\r\nTo: Shop Support <support@shop.test>\r\nSubject: Where is my order 1001?\r\nMessage-ID: <CAF1001@mail.gmail.test>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, my order 1001 has not arrived.\r\nAnn\r\n".into()
}

/// A header's value, unfolded, from the header section.
fn header(data: &str, name: &str) -> Option<String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let head = data.split("\n\n").next().unwrap_or(data);
    let mut lines = head.lines().peekable();
    while let Some(l) = lines.next() {
        if l.to_ascii_lowercase().starts_with(&prefix) {
            let mut v = l[prefix.len()..].trim().to_string();
            while let Some(next) = lines.peek().filter(|n| n.starts_with([' ', '\t'])) {
                v.push(' ');
                v.push_str(next.trim());
                lines.next();
            }
            return Some(v);
        }
    }
    None
}

#[tokio::test]
async fn mail_opens_a_ticket_replies_thread_and_agent_answers_go_out_with_threading_headers() {
    let m = mail_app(ClosedPolicy::FollowUp).await;
    let app = &m.app;

    // Unknown recipients are refused at RCPT.
    let r = smtp_session(
        m.smtp,
        &[
            "EHLO c",
            "MAIL FROM:<x@y.test>",
            "RCPT TO:<nobody@shop.test>",
            "QUIT",
        ],
    )
    .await;
    assert!(r[3].starts_with("550"), "{r:?}");

    let reply = send(m.smtp, "ann@buyer.test", "support@shop.test", &first_mail()).await;
    assert!(reply.starts_with("250"), "{reply}");
    let ts = tickets(app).await;
    assert_eq!(ts.len(), 1);
    let t = &ts[0];
    assert_eq!(t["channel"], "email");
    assert_eq!(t["subject"], "Where is my order 1001?");
    let id = t["id"].as_i64().unwrap();
    let msgs = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .clone();
    assert_eq!(msgs[0]["author"]["kind"], "customer");
    assert_eq!(msgs[0]["mail"]["message_id"], "CAF1001@mail.gmail.test");
    assert!(msgs[0]["body_text"]
        .as_str()
        .unwrap()
        .contains("order 1001"));

    // The acknowledgement goes out, marked automatic, with the ticket token in Reply-To.
    m.worker.tick().await.unwrap();
    let sent = m.sink.received.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let ack = &sent[0].data;
    assert_eq!(sent[0].to, vec!["ann@buyer.test".to_string()]);
    assert_eq!(
        header(ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(ack, "In-Reply-To").as_deref(),
        Some("<CAF1001@mail.gmail.test>")
    );
    assert!(
        header(ack, "Reply-To").unwrap().contains("support+t"),
        "{ack}"
    );

    // A reply as Gmail writes it (In-Reply-To + References) joins the ticket.
    let gmail_reply = "From: Ann Buyer <ann@buyer.test>\r\nTo: support@shop.test\r\nSubject: Re: Where is my order 1001?\r\nMessage-ID: <CAF1002@mail.gmail.test>\r\nIn-Reply-To: <CAF1001@mail.gmail.test>\r\nReferences: <CAF1001@mail.gmail.test>\r\n\r\nAny news?\r\n\r\nOn Mon, 2 Mar 2026 at 09:00, Ann Buyer <ann@buyer.test> wrote:\r\n> Hello, my order 1001 has not arrived.\r\n";
    send(m.smtp, "ann@buyer.test", "support@shop.test", gmail_reply).await;
    assert_eq!(tickets(app).await.len(), 1);
    let msgs = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .clone();
    assert_eq!(msgs.as_array().unwrap().len(), 2);
    // The quoted history is kept, and where it starts is recorded for folding.
    let text = msgs[1]["body_text"].as_str().unwrap();
    let q = msgs[1]["mail"]["quote_start"].as_u64().unwrap() as usize;
    assert!(text[..q].contains("Any news?") && text[q..].contains("wrote:"));

    // The agent page shows the new part, folds the quoted history, and names the mail.
    app.post("/api/v1/agents", json!({"email": "ada@shop.test", "name": "Ada", "role": "admin", "password": "correct horse battery"})).await;
    let cookie = crate::ui::sign_in(app, "ada@shop.test", "correct horse battery").await;
    let page = app
        .get_with_cookie(&format!("/tickets/{id}"), &cookie)
        .await;
    let html = String::from_utf8_lossy(&page.raw).to_string();
    assert!(
        html.contains("E-mail from Ann Buyer &lt;ann@buyer.test&gt;")
            || html.contains("E-mail from Ann Buyer &#60;ann@buyer.test&#62;"),
        "{html}"
    );
    assert!(html.contains("Show the quoted text"), "{html}");
    assert!(html.contains("raw mail"));
    let admin_page = app.get_with_cookie("/admin/mail", &cookie).await;
    let html = String::from_utf8_lossy(&admin_page.raw).to_string();
    assert_eq!(admin_page.status, 200);
    assert!(
        html.contains("support@shop.test")
            && html.contains("o-created")
            && html.contains("o-appended"),
        "{html}"
    );
    app.post("/api/v1/agents", json!({"email": "bea@shop.test", "name": "Bea", "role": "agent", "password": "correct horse battery"})).await;
    let bea = crate::ui::sign_in(app, "bea@shop.test", "correct horse battery").await;
    assert_eq!(app.get_with_cookie("/admin/mail", &bea).await.status, 403);

    // An agent answers; the mail carries In-Reply-To/References to the customer's last mail.
    let r = app
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            json!({"body": "It ships today."}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    m.worker.tick().await.unwrap();
    let sent = m.sink.received.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let out = &sent[1].data;
    assert_eq!(sent[1].to, vec!["ann@buyer.test".to_string()]);
    assert_eq!(
        header(out, "In-Reply-To").as_deref(),
        Some("<CAF1002@mail.gmail.test>")
    );
    assert_eq!(
        header(out, "References").as_deref(),
        Some("<CAF1001@mail.gmail.test> <CAF1002@mail.gmail.test>")
    );
    assert!(header(out, "Subject")
        .unwrap()
        .starts_with("Re: Where is my order 1001?"));
    assert_eq!(header(out, "Auto-Submitted"), None);
    let out_id = header(out, "Message-ID").unwrap();
    let reply_to = header(out, "Reply-To").unwrap();
    let token_address = reply_to
        .rsplit_once('<')
        .map(|(_, a)| a.trim_end_matches('>').to_string())
        .unwrap_or(reply_to.clone());
    assert!(out.contains("It ships today."));
    // Internal notes are never mailed.
    app.post(
        &format!("/api/v1/tickets/{id}/messages"),
        json!({"body": "internal", "public": false}),
    )
    .await;
    m.worker.tick().await.unwrap();
    assert_eq!(m.sink.received.lock().unwrap().len(), 2);

    // Outlook-style answer to the agent's mail (only In-Reply-To to our Message-ID) joins.
    let outlook = format!("From: \"Buyer, Ann\" <Ann@Buyer.test>\r\nTo: support@shop.test\r\nSubject: AW: Where is my order 1001?\r\nMessage-ID: <AM0PR01@outlook.test>\r\nIn-Reply-To: {out_id}\r\nThread-Topic: Where is my order 1001?\r\n\r\nThanks!\r\n\r\n________________________________\r\nFrom: Shop Support <support@shop.test>\r\nSent: Monday\r\nTo: Ann\r\nSubject: Re: Where is my order 1001?\r\n\r\nIt ships today.\r\n");
    send(m.smtp, "ann@buyer.test", "support@shop.test", &outlook).await;
    // A client that drops all headers but answers the token address joins by the token.
    let bare = "From: ann@buyer.test\r\nTo: TOKEN\r\nSubject: one more thing\r\nMessage-ID: <bare1@buyer.test>\r\n\r\nAlso: gift wrap, please.\r\n".replace("TOKEN", &token_address);
    send(m.smtp, "ann@buyer.test", &token_address, &bare).await;
    assert_eq!(tickets(app).await.len(), 1);
    let msgs = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .clone();
    assert_eq!(msgs.as_array().unwrap().len(), 6);

    // A stranger who forges In-Reply-To gets their own ticket; Ann's ticket is untouched.
    let forged = "From: mallory@evil.test\r\nTo: support@shop.test\r\nSubject: Re: Where is my order 1001?\r\nMessage-ID: <forged@evil.test>\r\nIn-Reply-To: <CAF1001@mail.gmail.test>\r\n\r\nPlease send the parcel to my address instead.\r\n";
    send(m.smtp, "mallory@evil.test", "support@shop.test", forged).await;
    let ts = tickets(app).await;
    assert_eq!(ts.len(), 2);
    let msgs = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .clone();
    assert_eq!(msgs.as_array().unwrap().len(), 6);
    // …and a stranger with a valid token (a forwarded notification) waits for review.
    let fwd_token = "From: colleague@buyer.test\r\nTo: TOKEN\r\nSubject: Re: order\r\nMessage-ID: <col1@buyer.test>\r\n\r\nI am Ann's colleague.\r\n".replace("TOKEN", &token_address);
    send(m.smtp, "colleague@buyer.test", &token_address, &fwd_token).await;
    assert_eq!(tickets(app).await.len(), 2);
    let log = intake(app).await;
    assert_eq!(log[0].outcome, "review", "{log:?}");
    assert_eq!(log[0].ticket_id, Some(id));
    // An admin lets the colleague in: the mail joins the ticket and the colleague's next mail
    // joins by itself.
    let review_id = log[0].id;
    let r = app
        .post(
            &format!("/api/v1/mail/intake/{review_id}/accept"),
            json!({"ticket_id": id}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["ticket_id"], id);
    let again = app
        .post(
            &format!("/api/v1/mail/intake/{review_id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(
        app.store.get_mail_intake(review_id).await.unwrap().outcome,
        "accepted"
    );
    let next = "From: colleague@buyer.test\r\nTo: TOKEN\r\nSubject: Re: order\r\nMessage-ID: <col2@buyer.test>\r\n\r\nAnn is on holiday; I take over.\r\n".replace("TOKEN", &token_address);
    send(m.smtp, "colleague@buyer.test", &token_address, &next).await;
    assert_eq!(intake(app).await[0].outcome, "appended");
    let msgs = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .clone();
    assert_eq!(msgs.as_array().unwrap().len(), 8);

    // Held automatic mail can be discarded from the admin page (CSRF-checked form).
    let ooo = "From: away@buyer.test\r\nTo: support@shop.test\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <away1@buyer.test>\r\n\r\nAway.\r\n";
    send(m.smtp, "away@buyer.test", "support@shop.test", ooo).await;
    let held = intake(app).await[0].id;
    let page = String::from_utf8_lossy(
        &app.get_with_cookie("/admin/mail?outcome=review", &cookie)
            .await
            .raw,
    )
    .to_string();
    assert!(
        page.contains(&format!("action=\"/admin/mail/{held}\"")),
        "{page}"
    );
    let csrf = crate::harness::csrf_of(&page);
    let r = app
        .post_form(
            &format!("/admin/mail/{held}"),
            format!("csrf={csrf}&action=discard").into_bytes(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        app.store.get_mail_intake(held).await.unwrap().outcome,
        "discarded"
    );
    let r = app
        .post_form(
            &format!("/admin/mail/{held}"),
            b"csrf=wrong&action=discard".to_vec(),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 403);

    // The same mail delivered twice is stored once.
    let again = send(m.smtp, "ann@buyer.test", "support@shop.test", &first_mail()).await;
    assert!(again.starts_with("250"), "{again}");
    assert_eq!(intake(app).await[0].outcome, "duplicate");
    assert_eq!(tickets(app).await.len(), 2);
    // The raw mail is kept byte for byte and readable by admins.
    let raw = app
        .get(&format!(
            "/api/v1/mail/intake/{}/raw",
            log.last().unwrap().id
        ))
        .await;
    assert_eq!(raw.status, 200);
    assert!(String::from_utf8_lossy(&raw.raw).contains("Message-ID: <CAF1001@mail.gmail.test>"));
}

#[tokio::test]
async fn automatic_mail_and_bounces_never_trigger_replies() {
    let m = mail_app(ClosedPolicy::FollowUp).await;
    let app = &m.app;
    // An out-of-office to the support address: held for review, no ticket, no acknowledgement.
    let ooo = "From: bob@buyer.test\r\nTo: support@shop.test\r\nSubject: Automatic reply: away\r\nAuto-Submitted: auto-replied\r\nX-Autoreply: yes\r\nMessage-ID: <ooo1@buyer.test>\r\n\r\nI am away until Monday.\r\n";
    send(m.smtp, "bob@buyer.test", "support@shop.test", ooo).await;
    // A newsletter (Precedence: bulk) likewise.
    let bulk = "From: news@vendor.test\r\nTo: support@shop.test\r\nSubject: Our news\r\nPrecedence: bulk\r\nList-Id: <news.vendor.test>\r\nMessage-ID: <news1@vendor.test>\r\n\r\nNews.\r\n";
    send(m.smtp, "news@vendor.test", "support@shop.test", bulk).await;
    assert_eq!(tickets(app).await.len(), 0);
    let log = intake(app).await;
    assert!(log.iter().all(|e| e.outcome == "review"), "{log:?}");
    m.worker.tick().await.unwrap();
    assert!(m.sink.received.lock().unwrap().is_empty());

    // A real ticket, answered by an agent; the agent's mail bounces.
    send(m.smtp, "carl@nowhere.test", "support@shop.test", "From: carl@nowhere.test\r\nTo: support@shop.test\r\nSubject: Broken zipper\r\nMessage-ID: <c1@nowhere.test>\r\n\r\nThe zipper broke.\r\n").await;
    let id = tickets(app).await[0]["id"].as_i64().unwrap();
    m.worker.tick().await.unwrap(); // the acknowledgement
    let ack_id = header(&m.sink.received.lock().unwrap()[0].data, "Message-ID").unwrap();
    let dsn = format!("From: MAILER-DAEMON@mx.nowhere.test\r\nTo: support@shop.test\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <dsn1@mx.nowhere.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.nowhere.test\r\n\r\nFinal-Recipient: rfc822; carl@nowhere.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ack_id}\r\nTo: carl@nowhere.test\r\n--B--\r\n");
    send(m.smtp, "", "support@shop.test", &dsn).await;
    let log = intake(app).await;
    assert_eq!(log[0].outcome, "bounce", "{log:?}");
    assert_eq!(log[0].ticket_id, Some(id));
    let msgs = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .clone();
    let note = msgs.as_array().unwrap().last().unwrap();
    assert_eq!(note["public"], false);
    assert!(
        note["body_text"].as_str().unwrap().contains("5.1.1"),
        "{note}"
    );
    // The flagged address is not mailed again.
    app.post(
        &format!("/api/v1/tickets/{id}/messages"),
        json!({"body": "Sorry to hear!"}),
    )
    .await;
    m.worker.tick().await.unwrap();
    assert_eq!(m.sink.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn replies_to_closed_tickets_follow_the_mailbox_policy() {
    for (policy, expect_tickets) in [(ClosedPolicy::FollowUp, 2), (ClosedPolicy::Reopen, 1)] {
        let m = mail_app(policy).await;
        let app = &m.app;
        send(m.smtp, "ann@buyer.test", "support@shop.test", &first_mail()).await;
        let id = tickets(app).await[0]["id"].as_i64().unwrap();
        let r = app
            .patch(
                &format!("/api/v1/tickets/{id}"),
                json!({"status": "closed"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        let reply = "From: ann@buyer.test\r\nTo: support@shop.test\r\nSubject: Re: Where is my order 1001?\r\nMessage-ID: <late@buyer.test>\r\nIn-Reply-To: <CAF1001@mail.gmail.test>\r\n\r\nIt came back broken.\r\n";
        send(m.smtp, "ann@buyer.test", "support@shop.test", reply).await;
        let ts = tickets(app).await;
        assert_eq!(ts.len(), expect_tickets, "{policy:?}");
        if policy == ClosedPolicy::FollowUp {
            let new = ts.iter().find(|t| t["id"] != id).unwrap();
            assert!(new["tags"]
                .as_array()
                .unwrap()
                .contains(&json!("follow_up")));
            let ev = app
                .get(&format!("/api/v1/tickets/{}/events", new["id"]))
                .await
                .body;
            assert!(ev.to_string().contains("follow_up_of"), "{ev}");
        } else {
            assert_eq!(ts[0]["status"], "open");
        }
    }
}

#[tokio::test]
async fn hostile_mail_is_stored_safely_or_rejected_with_a_reason() {
    let m = mail_app(ClosedPolicy::FollowUp).await;
    let app = &m.app;
    // Header injection in the subject and display name; script in HTML and SVG.
    let evil = "From: \"Eve\\r\\nBcc: all@victims.test\" <eve@evil.test>\r\nTo: support@shop.test\r\nSubject: =?utf-8?Q?hi=0D=0ABcc=3A_all=40victims.test?=\r\nMessage-ID: <evil1@evil.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n--X\r\nContent-Type: text/html\r\n\r\n<p onclick=\"alert(1)\">Hi<script>alert(2)</script><img src=x onerror=alert(3)><a href=\"javascript:alert(4)\">x</a></p>\r\n--X\r\nContent-Type: image/svg+xml; name=\"a.svg\"\r\nContent-Disposition: inline; filename=\"a.svg\"\r\n\r\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(5)</script></svg>\r\n--X--\r\n";
    let r = send(m.smtp, "eve@evil.test", "support@shop.test", evil).await;
    assert!(r.starts_with("250"), "{r}");
    let t = &tickets(app).await[0];
    assert!(!t["subject"].as_str().unwrap().contains('\n'));
    let id = t["id"].as_i64().unwrap();
    let msgs = app
        .get(&format!("/api/v1/tickets/{id}/messages"))
        .await
        .body["items"]
        .clone();
    let html = msgs[0]["body_html"].as_str().unwrap();
    for bad in ["<script", "onclick", "onerror", "javascript:"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    let att = &msgs[0]["attachments"][0];
    assert_eq!(att["filename"], "a.svg");
    // Downloads are attachments, never rendered inline.
    let dl = app.get(&format!("/api/v1/attachments/{}", att["id"])).await;
    assert_eq!(dl.status, 200);
    let cd = dl
        .headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cd.starts_with("attachment"), "{cd}");
    m.worker.tick().await.unwrap();
    let ack = m.sink.received.lock().unwrap()[0].data.clone();
    assert!(!ack.to_ascii_lowercase().contains("\nbcc:"), "{ack}");

    // Garbage that is no mail at all: logged as rejected with its reason, nothing else.
    let r = send(m.smtp, "x@y.test", "support@shop.test", "\u{1}\u{2}\u{3}").await;
    assert!(r.starts_with("250"), "{r}");
    let log = intake(app).await;
    assert_eq!(log[0].outcome, "rejected");
    assert!(!log[0].reason.is_empty());
    assert_eq!(tickets(app).await.len(), 1);
}

#[tokio::test]
async fn the_whole_corpus_goes_through_the_listener_without_a_failure() {
    let m = mail_app(ClosedPolicy::FollowUp).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tend-mail/tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 100, "{}", files.len());
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        // Over the socket, as a mail server would send it (no SMTP-level size problem here).
        let text = String::from_utf8_lossy(&raw).into_owned();
        let r = send(m.smtp, "sender@corpus.test", "support@shop.test", &text).await;
        assert!(r.starts_with("250"), "{}: {r}", f.display());
    }
    let n = m
        .app
        .store
        .list_mail_intake(
            None,
            PageRequest {
                after_id: None,
                limit: 500,
            },
        )
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(n, files.len());
}
