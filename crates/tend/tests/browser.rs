//! Browser tests: Debian's chromium driven through chromedriver (WebDriver) against the real
//! binary serving the demo shop on 127.0.0.1. Screenshots go to test-artifacts/browser/.
//! Skipped (loudly) when chromedriver is missing, unless TEND_REQUIRE_BROWSER is set.

use fantoccini::Locator;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[path = "support/chrome.rs"]
mod chrome;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;
use chrome::{browser, chromedriver, shot};

const BIN: &str = env!("CARGO_BIN_EXE_tend");

async fn serve_demo(dir: &std::path::Path, smtp: Option<&str>) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    if let Some(url) = smtp {
        cmd.env("TEND_SMTP_URL", url);
    }
    let mut child = cmd
        .env_remove("TEND_DATABASE_URL")
        .env("TEND_LOG", "warn")
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(rest) = l.strip_prefix("Tend is running at ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("serve exited early");
    })
    .await
    .expect("serve started");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// Waits (bounded, 10 s) until an element matching `css` contains `text`; returns its text.
async fn wait_text(c: &fantoccini::Client, css: &str, text: &str) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.contains(text) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {css} containing {text:?}; last seen: {last:?}");
}

#[tokio::test]
async fn agent_signs_in_opens_a_view_and_a_ticket_and_replies() {
    let Some((_driver, port)) = chromedriver().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve_demo(dir.path(), None).await;
    let c = browser(port, 1280).await;

    c.goto(&format!("{url}/views/mine")).await.unwrap();
    assert!(
        c.current_url().await.unwrap().path().starts_with("/login"),
        "signed-out agents are sent to sign in"
    );
    shot(&c, "01-login").await;
    fill_login(&c, "lena@demo.tend.test", "wrong password").await;
    wait_text(&c, ".error", "Wrong e-mail or password").await;
    fill_login(&c, "lena@demo.tend.test", "demo-password").await;
    wait_text(&c, "main h1", "My open tickets").await;
    shot(&c, "02-my-open-tickets").await;

    // A group queue, then the keyboard: j selects the first row, o opens it.
    c.find(Locator::LinkText("Support"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "main h1", "Support").await;
    let rows = c
        .find_all(Locator::Css("[data-list] tbody tr"))
        .await
        .unwrap();
    assert!(!rows.is_empty(), "the demo Support queue has open tickets");
    shot(&c, "03-support-queue").await;
    let body = c.find(Locator::Css("body")).await.unwrap();
    body.send_keys("j").await.unwrap();
    body.send_keys("o").await.unwrap();
    wait_text(&c, "#subject", "#").await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/tickets/"));
    shot(&c, "04-ticket").await;

    // r focuses the reply box; Ctrl+Enter sends.
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("r")
        .await
        .unwrap();
    let ta = c.find(Locator::Id("body")).await.unwrap();
    ta.send_keys("Thanks for waiting — a replacement is on its way. <b>not bold</b>")
        .await
        .unwrap();
    c.find(Locator::Id("then_status"))
        .await
        .unwrap()
        .select_by_value("pending")
        .await
        .unwrap();
    c.find(Locator::Css("#reply-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The text is shown as typed: markup in a reply is escaped, not rendered.
    wait_text(
        &c,
        "#latest",
        "a replacement is on its way. <b>not bold</b>",
    )
    .await;
    assert_eq!(
        c.find(Locator::Css(".meta .badge"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "pending"
    );
    shot(&c, "05-replied").await;

    // A macro fills the reply with the customer's name and sets fields when sent.
    c.find(Locator::Id("macro"))
        .await
        .unwrap()
        .select_by_label("Ask for the order number")
        .await
        .unwrap();
    c.find(Locator::Id("apply-macro"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "#macro-applied", "status → pending").await;
    let text = c
        .find(Locator::Id("body"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        text.starts_with("Hi ") && text.contains("order number") && text.ends_with("Lena"),
        "{text}"
    );
    shot(&c, "05b-macro-applied").await;
    c.find(Locator::Css("#reply-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, ".meta", "needs-order-number").await;

    // A second agent opens the same ticket: the first sees them, then their reply, live.
    let ticket_url = c.current_url().await.unwrap().to_string();
    let b = browser(port, 1280).await;
    b.goto(&format!("{url}/login")).await.unwrap();
    fill_login(&b, "admin@demo.tend.test", "demo-password").await;
    wait_text(&b, "main h1", "My open tickets").await;
    b.goto(&ticket_url).await.unwrap();
    wait_text(&b, "#presence", "Lena Vogel").await;
    type_into(
        &b,
        "body",
        "Second agent here: I will take the refund part.",
    )
    .await;
    wait_text(&c, "#presence", "Alex Admin (typing…)").await;
    shot(&c, "06-collision-typing").await;
    b.find(Locator::Css("#reply-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(
        &c,
        "#timeline",
        "Second agent here: I will take the refund part.",
    )
    .await;
    shot(&c, "07-live-reply").await;
    b.close().await.unwrap();

    // ? opens the shortcut help.
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("?")
        .await
        .unwrap();
    assert!(c.find(Locator::Css("dialog#help[open]")).await.is_ok());
    shot(&c, "08-shortcuts").await;
    c.close().await.unwrap();

    // Narrow screens (375 px) get a one-column layout.
    let m = browser(port, 375).await;
    m.goto(&format!("{url}/login")).await.unwrap();
    fill_login(&m, "lena@demo.tend.test", "demo-password").await;
    wait_text(&m, "main h1", "My open tickets").await;
    m.find(Locator::LinkText("Support"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&m, "main h1", "Support").await;
    shot(&m, "09-mobile-queue").await;
    m.close().await.unwrap();
}

/// Types text into the field with this id.
async fn type_into(c: &fantoccini::Client, id: &str, text: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Types an e-mail and password into the sign-in form and sends it.
async fn fill_login(c: &fantoccini::Client, email: &str, password: &str) {
    type_into(c, "email", email).await;
    type_into(c, "password", password).await;
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn sign_in_agent(port: u16, url: &str, email: &str) -> fantoccini::Client {
    let c = browser(port, 1280).await;
    c.goto(&format!("{url}/login")).await.unwrap();
    fill_login(&c, email, "demo-password").await;
    wait_text(&c, "main h1", "My open tickets").await;
    c
}

#[tokio::test]
async fn customer_uses_the_contact_form_and_the_portal_and_the_agent_sees_the_reply_live() {
    let Some((_driver, port)) = chromedriver().await else {
        return;
    };
    let sink = smtp_sink::SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve_demo(dir.path(), Some(&sink.url)).await;

    // The contact form files a ticket.
    let cust = browser(port, 1280).await;
    cust.goto(&format!("{url}/contact")).await.unwrap();
    type_into(&cust, "name", "Rosa Weber").await;
    type_into(&cust, "email", "rosa.weber@example.org").await;
    type_into(&cust, "subject", "The jacket is the wrong size").await;
    type_into(&cust, "message", "I ordered M and got XL. Can I swap it?").await;
    shot(&cust, "10-contact-form").await;
    cust.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let thanks = wait_text(&cust, "#thanks", "We have your request").await;
    let id: i64 = thanks
        .split("(#")
        .nth(1)
        .and_then(|x| x.split(')').next())
        .and_then(|x| x.parse().ok())
        .expect("ticket number shown");
    shot(&cust, "11-contact-thanks").await;

    // Portal sign-in by magic link, delivered over SMTP.
    cust.goto(&format!("{url}/portal")).await.unwrap();
    type_into(&cust, "email", "rosa.weber@example.org").await;
    cust.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&cust, "[role=status]", "sign-in link is on its way").await;
    let mut link = None;
    for _ in 0..200 {
        if let Some(m) = sink
            .messages()
            .into_iter()
            .find(|m| m.to.iter().any(|t| t == "rosa.weber@example.org"))
        {
            assert!(
                m.from.contains("support@localhost"),
                "sent from the configured sender: {}",
                m.from
            );
            link = smtp_sink::link_in(&m.data, "/portal/auth?token=");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = link.expect("the sign-in mail reached the SMTP sink");
    cust.goto(&link).await.unwrap();
    wait_text(&cust, "h1", "Hello Rosa Weber").await;
    let rows = cust
        .find_all(Locator::Css("#my-requests tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only her own ticket");
    shot(&cust, "12-portal-home").await;

    // An agent has the ticket open; the customer's reply appears there without a reload.
    let agent = sign_in_agent(port, &url, "admin@demo.tend.test").await;
    agent.goto(&format!("{url}/tickets/{id}")).await.unwrap();
    wait_text(&agent, "#subject", "The jacket is the wrong size").await;
    cust.goto(&format!("{url}/portal/tickets/{id}"))
        .await
        .unwrap();
    type_into(&cust, "body", "Also, the colour should be navy, not black.").await;
    cust.find(Locator::Css("#reply-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&cust, "#timeline", "the colour should be navy").await;
    shot(&cust, "13-portal-reply").await;
    wait_text(&agent, "#timeline", "the colour should be navy").await;
    shot(&agent, "14-agent-sees-customer-reply-live").await;
    cust.close().await.unwrap();
    agent.close().await.unwrap();
}
