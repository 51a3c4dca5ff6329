//! The IMAP inbound path against a real dovecot: mails dropped into a maildir become tickets
//! exactly once, also when `tend serve` is killed (-9) in the middle of a batch.
//!
//! Without dovecot (/usr/sbin/dovecot, Debian package dovecot-imapd) the tests print a
//! message and pass; with `TEND_REQUIRE_MAIL_PEERS=1` they fail instead.

#[path = "support/dovecot.rs"]
mod dovecot;

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dovecot::{Dovecot, PASSWORD};
use tend_core::{Actor, Clock, Role, SystemClock, Ticket, Viewer};
use tend_store::mail::{ClosedPolicy, ImapSource, IntakeEntry, Mailbox, NewMailbox};
use tend_store::{decode_id_cursor, Cursor, PageRequest, Store, TicketQuery};
use tend_web::mail::imap::{poll_once, run};
use tend_web::mail::MailConfig;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tend");

/// A customer's mail; `tag` and `i` make the Message-ID (and the sender: one per mail, so
/// the per-sender rate limit never holds one for review). About 25 KB, so that taking 200 in
/// lasts long enough (about a second) for the test to kill Tend in the middle.
fn mail(tag: &str, i: usize, to: &str) -> Vec<u8> {
    format!(
        "From: Customer {i} <{tag}-customer{i}@example.com>\r\n\
         To: {to}\r\n\
         Subject: {tag} order {i}\r\n\
         Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n\
         Message-ID: <{tag}-{i}@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello, where is order {i}?\r\n{}",
        "The parcel has not arrived yet, could you look into it please?\r\n".repeat(400)
    )
    .into_bytes()
}

fn imap(dv: &Dovecot, user: &str, after_import: &str) -> ImapSource {
    ImapSource {
        host: "127.0.0.1".into(),
        port: dv.port,
        security: "none".into(),
        username: user.into(),
        password: PASSWORD.into(),
        folder: "INBOX".into(),
        after_import: after_import.into(),
    }
}

async fn add_mailbox(store: &dyn Store, address: &str, imap: ImapSource) -> Mailbox {
    store
        .create_mailbox(
            NewMailbox {
                address: address.into(),
                name: address.into(),
                group_id: None,
                brand_id: None,
                closed_policy: ClosedPolicy::FollowUp,
                auto_ack: false,
                imap: Some(imap),
            },
            Actor::SYSTEM,
            SystemClock.now(),
        )
        .await
        .unwrap()
}

/// The whole intake log, oldest first (bounded: 100 pages).
async fn intake(store: &dyn Store) -> Vec<IntakeEntry> {
    let mut out = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = store
            .list_mail_intake(
                None,
                PageRequest {
                    after_id: after,
                    limit: 500,
                },
            )
            .await
            .unwrap();
        out.extend(page.items);
        match page.next_cursor.as_deref().and_then(decode_id_cursor) {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    out.reverse();
    out
}

fn count(entries: &[IntakeEntry], outcome: &str) -> usize {
    entries.iter().filter(|e| e.outcome == outcome).count()
}

/// Every ticket (bounded: 100 pages).
async fn tickets(store: &dyn Store) -> Vec<Ticket> {
    let viewer = Viewer {
        agent_id: 0,
        role: Role::Admin,
        group_ids: vec![],
    };
    let mut q = TicketQuery {
        limit: 100,
        ..Default::default()
    };
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = store.list_tickets(&q, &viewer).await.unwrap();
        out.extend(page.items);
        match page
            .next_cursor
            .as_deref()
            .and_then(|c| Cursor::decode(c, q.sort))
        {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    out
}

#[tokio::test]
async fn imap_mails_become_tickets_exactly_once() {
    let Some(dv) = Dovecot::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(tend_sqlite::SqliteStore::open(dir.path().join("tend.db")).unwrap());
    let clock = SystemClock;
    let cfg = MailConfig::default();
    let support = add_mailbox(&*store, "support@shop.test", imap(&dv, "support", "none")).await;

    for i in 0..5 {
        dv.deliver("support", &mail("a", i, "support@shop.test"));
    }
    let n = poll_once(&*store, &clock, &cfg, &support, 100)
        .await
        .unwrap();
    assert_eq!(n, 5, "dovecot log:\n{}", dv.log());
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &support, 100)
            .await
            .unwrap(),
        0,
        "a second poll takes nothing in again"
    );
    let log = intake(&*store).await;
    assert_eq!(log.len(), 5);
    assert_eq!(count(&log, "created"), 5, "{log:?}");
    assert!(log
        .iter()
        .all(|e| e.source == "imap" && e.mailbox_id == Some(support.id)));
    let subjects: Vec<&str> = log.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(
        subjects,
        (0..5).map(|i| format!("a order {i}")).collect::<Vec<_>>(),
        "taken in in UID order"
    );
    assert_eq!(tickets(&*store).await.len(), 5);
    assert_eq!(
        store.imap_state(support.id).await.unwrap().map(|s| s.1),
        Some(5)
    );
    // after_import = none leaves the mails unread in the INBOX.
    let files = dv.files("support", None);
    assert_eq!(files.len(), 5);
    assert!(files.iter().all(|f| !f.contains(":2,S")), "{files:?}");

    // A second copy of a mail (same Message-ID) is a duplicate, not a ticket.
    dv.deliver("support", &mail("a", 0, "support@shop.test"));
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &support, 100)
            .await
            .unwrap(),
        1
    );
    let log = intake(&*store).await;
    assert_eq!(log.len(), 6);
    assert_eq!(count(&log, "duplicate"), 1, "{log:?}");
    assert_eq!(count(&log, "created"), 5);
    assert_eq!(tickets(&*store).await.len(), 5);

    // `max` bounds a poll; the rest follows in order on the next one, nothing skipped.
    for i in 5..8 {
        dv.deliver("support", &mail("a", i, "support@shop.test"));
    }
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &support, 2).await.unwrap(),
        2
    );
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &support, 2).await.unwrap(),
        1
    );
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &support, 2).await.unwrap(),
        0
    );
    let log = intake(&*store).await;
    assert_eq!(count(&log, "created"), 8);
    assert_eq!(
        log.iter()
            .rev()
            .take(3)
            .map(|e| e.subject.clone())
            .collect::<Vec<_>>(),
        vec!["a order 7", "a order 6", "a order 5"]
    );
    assert_eq!(tickets(&*store).await.len(), 8);

    // after_import = move:Done moves the imported mails out of the INBOX (creating Done).
    let sales = add_mailbox(&*store, "sales@shop.test", imap(&dv, "sales", "move:Done")).await;
    for i in 0..3 {
        dv.deliver("sales", &mail("s", i, "sales@shop.test"));
    }
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &sales, 100).await.unwrap(),
        3
    );
    assert_eq!(
        dv.files("sales", None),
        Vec::<String>::new(),
        "INBOX is empty"
    );
    assert_eq!(dv.files("sales", Some("Done")).len(), 3);
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &sales, 100).await.unwrap(),
        0
    );

    // after_import = seen flags them \Seen.
    let billing = add_mailbox(&*store, "billing@shop.test", imap(&dv, "billing", "seen")).await;
    for i in 0..2 {
        dv.deliver("billing", &mail("b", i, "billing@shop.test"));
    }
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &billing, 100)
            .await
            .unwrap(),
        2
    );
    let files = dv.files("billing", None);
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.contains(":2,S")), "{files:?}");

    let log = intake(&*store).await;
    assert_eq!(count(&log, "created"), 13);
    assert_eq!(count(&log, "duplicate"), 1);
    assert_eq!(tickets(&*store).await.len(), 13);

    // The server renumbers the folder (new UIDVALIDITY): everything is read again, and the
    // Message-IDs keep it from opening tickets twice.
    let before = store.imap_state(support.id).await.unwrap().unwrap();
    let md = dv.maildir("support");
    for f in std::fs::read_dir(&md).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        if name == "dovecot-uidlist" || name.starts_with("dovecot.index") {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &support, 100)
            .await
            .unwrap(),
        9
    );
    let after = store.imap_state(support.id).await.unwrap().unwrap();
    assert_ne!(after.0, before.0, "a new UIDVALIDITY");
    let log = intake(&*store).await;
    assert_eq!(count(&log, "created"), 13);
    assert_eq!(count(&log, "duplicate"), 10);
    assert_eq!(tickets(&*store).await.len(), 13);
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &support, 100)
            .await
            .unwrap(),
        0
    );

    // A mail over the size limit is not downloaded: its header is logged as rejected, and the
    // mail after it still comes in.
    let big = add_mailbox(&*store, "big@shop.test", imap(&dv, "big", "none")).await;
    let mut huge = mail("h", 0, "big@shop.test");
    huge.extend(std::iter::repeat_n(
        b'x',
        tend_web::mail::smtp::MAX_MESSAGE_BYTES + 10,
    ));
    huge.extend(b"\r\n");
    dv.deliver("big", &huge);
    drop(huge);
    dv.deliver("big", &mail("h", 1, "big@shop.test"));
    assert_eq!(
        poll_once(&*store, &clock, &cfg, &big, 100).await.unwrap(),
        2
    );
    let log = intake(&*store).await;
    let last_two: Vec<&IntakeEntry> = log.iter().rev().take(2).collect();
    assert_eq!(last_two[0].outcome, "created");
    assert_eq!(last_two[0].subject, "h order 1");
    assert_eq!(last_two[1].outcome, "rejected");
    assert_eq!(last_two[1].subject, "h order 0", "the header is read");
    assert!(
        last_two[1].reason.contains("larger"),
        "{}",
        last_two[1].reason
    );
    assert!(last_two[1].size < 10_000, "only the header is kept");

    // A wrong password is an error, not a panic, and takes nothing in.
    let mut wrong = support.clone();
    if let Some(i) = wrong.imap.as_mut() {
        i.password = "wrong".into();
    }
    let e = poll_once(&*store, &clock, &cfg, &wrong, 100)
        .await
        .unwrap_err();
    assert!(e.contains("LOGIN"), "{e}");
}

/// The real binary with its own data dir.
struct Tend {
    dir: tempfile::TempDir,
}

impl Tend {
    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_remove("TEND_DATABASE_URL")
            .env("TEND_LOG", "info")
            .env("TEND_DATA_DIR", self.dir.path())
            .arg("--data-dir")
            .arg(self.dir.path());
        c.kill_on_drop(true);
        c
    }

    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let mut c = self.cmd();
        c.args(args).stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts `tend serve` on a free port; its log goes to `serve-<n>.log` in the data dir.
    async fn serve(&self, n: usize, env: &[(&str, &str)]) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("serve-{n}.log"))).unwrap();
        let mut c = self.cmd();
        c.args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if l.starts_with("Tend is running at ") {
                    return;
                }
            }
            panic!("serve exited without announcing its address");
        })
        .await
        .expect("serve did not start within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        child
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for n in 0..3 {
            if let Ok(s) = std::fs::read_to_string(self.dir.path().join(format!("serve-{n}.log"))) {
                out.push_str(&format!("--- serve {n}\n{s}"));
            }
        }
        out
    }
}

/// How many mails the intake log holds: the newest entry's id (the log starts empty).
async fn taken_in(store: &dyn Store) -> i64 {
    store
        .list_mail_intake(
            None,
            PageRequest {
                after_id: None,
                limit: 1,
            },
        )
        .await
        .unwrap()
        .items
        .first()
        .map(|e| e.id)
        .unwrap_or(0)
}

/// Waits (bounded in time and rounds) until the intake log holds `n` mails.
async fn wait_for(store: &dyn Store, n: i64, within: Duration, what: &str, tend: &Tend) {
    let deadline = Instant::now() + within;
    let mut last = 0;
    for _ in 0..100_000 {
        last = taken_in(store).await;
        if last >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        last >= n,
        "{what}: {last} of {n} mails taken in within {within:?}\n{}",
        tend.logs()
    );
}

#[tokio::test]
async fn a_kill_9_in_the_middle_of_a_batch_neither_loses_nor_doubles_a_mail() {
    const MAILS: usize = 200;
    let Some(dv) = Dovecot::start() else { return };
    let tend = Tend {
        dir: tempfile::tempdir().unwrap(),
    };
    let server = format!("127.0.0.1:{}", dv.port);
    let (code, out, err) = tend
        .run(
            &[
                "mail",
                "add-mailbox",
                "--address",
                "support@shop.test",
                "--imap",
                &server,
                "--imap-user",
                "support",
                "--no-ack",
            ],
            &[("TEND_IMAP_PASSWORD", PASSWORD)],
        )
        .await;
    assert_eq!(code, 0, "{out}{err}");
    for i in 0..MAILS {
        dv.deliver("support", &mail("k", i, "support@shop.test"));
    }
    // The test reads the same SQLite file (WAL: readers do not block the server).
    let store: Arc<dyn Store> =
        Arc::new(tend_sqlite::SqliteStore::open(tend.dir.path().join("tend.db")).unwrap());

    // Kill -9 as soon as the first mails are in: the poller is in the middle of a batch.
    let mut child = tend.serve(0, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..1_000_000 {
        if taken_in(&*store).await > 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    let _ = child.wait().await;
    let at_kill = taken_in(&*store).await;
    assert!(
        at_kill > 0,
        "nothing was taken in within 60 s\n{}\ndovecot:\n{}",
        tend.logs(),
        dv.log()
    );
    assert!(
        (at_kill as usize) < MAILS,
        "all {MAILS} mails were in before the kill: the test did not kill in the middle"
    );
    eprintln!("killed -9 after {at_kill} of {MAILS} mails");

    let mut child = tend.serve(1, &[]).await;
    wait_for(
        &*store,
        MAILS as i64,
        Duration::from_secs(120),
        "after the restart",
        &tend,
    )
    .await;
    let log = intake(&*store).await;
    assert_eq!(log.len(), MAILS, "{}", tend.logs());
    assert_eq!(count(&log, "created"), MAILS);
    assert_eq!(count(&log, "duplicate"), 0);
    let subjects: HashSet<&str> = log.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects.len(), MAILS, "every mail once");
    let ts = tickets(&*store).await;
    assert_eq!(ts.len(), MAILS);
    assert_eq!(ts.iter().map(|t| t.id).collect::<HashSet<_>>().len(), MAILS);
    assert_eq!(
        store.imap_state(1).await.unwrap().map(|s| s.1),
        Some(MAILS as u32)
    );

    // A mail arriving while Tend waits (IDLE) comes in too; by then every earlier UID was
    // passed, so no late duplicate can hide.
    dv.deliver("support", &mail("k", MAILS, "support@shop.test"));
    wait_for(
        &*store,
        MAILS as i64 + 1,
        Duration::from_secs(45),
        "a mail during IDLE",
        &tend,
    )
    .await;
    let log = intake(&*store).await;
    assert_eq!(log.len(), MAILS + 1);
    assert_eq!(count(&log, "created"), MAILS + 1);
    assert_eq!(tickets(&*store).await.len(), MAILS + 1);
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

#[tokio::test]
async fn imap_over_tls_checks_the_server_certificate() {
    let Some(dv) = Dovecot::start_tls() else {
        return;
    };
    let tend = Tend {
        dir: tempfile::tempdir().unwrap(),
    };
    let store: Arc<dyn Store> =
        Arc::new(tend_sqlite::SqliteStore::open(tend.dir.path().join("tend.db")).unwrap());
    let mut src = imap(&dv, "secure", "none");
    src.port = dv.tls_port.unwrap();
    src.security = "tls".into();
    let secure = add_mailbox(&*store, "secure@shop.test", src).await;
    dv.deliver("secure", &mail("t", 0, "secure@shop.test"));

    // The system's CAs do not know the test CA: refused, nothing taken in.
    let e = poll_once(&*store, &SystemClock, &MailConfig::default(), &secure, 100)
        .await
        .unwrap_err();
    assert!(e.contains("certificate"), "{e}");
    assert_eq!(taken_in(&*store).await, 0);

    // Trusting the test CA (SSL_CERT_FILE), `tend serve` reads the mailbox over TLS.
    let ca = dv.ca_file().display().to_string();
    let mut child = tend.serve(0, &[("SSL_CERT_FILE", &ca)]).await;
    wait_for(&*store, 1, Duration::from_secs(30), "over TLS", &tend).await;
    let log = intake(&*store).await;
    assert_eq!(count(&log, "created"), 1, "{log:?}");
    assert_eq!(log[0].mailbox_id, Some(secure.id));
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

#[tokio::test]
async fn the_poller_moves_mails_left_behind_by_a_crash_and_stops_when_told() {
    let Some(dv) = Dovecot::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(tend_sqlite::SqliteStore::open(dir.path().join("tend.db")).unwrap());
    let cfg = Arc::new(MailConfig::default());
    let late = add_mailbox(&*store, "late@shop.test", imap(&dv, "late", "move:Done")).await;
    for i in 0..2 {
        dv.deliver("late", &mail("l", i, "late@shop.test"));
    }
    // Taken in, then "crashed" before the move: the mails are still in the INBOX.
    let mut no_move = late.clone();
    if let Some(i) = no_move.imap.as_mut() {
        i.after_import = "none".into();
    }
    assert_eq!(
        poll_once(&*store, &SystemClock, &cfg, &no_move, 100)
            .await
            .unwrap(),
        2
    );
    assert_eq!(dv.files("late", None).len(), 2);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(run(
        store.clone(),
        Arc::new(SystemClock),
        cfg.clone(),
        stop_rx,
    ));
    // The poller moves them on connecting, and takes in (and moves) a new mail.
    dv.deliver("late", &mail("l", 2, "late@shop.test"));
    let deadline = Instant::now() + Duration::from_secs(30);
    for _ in 0..3000 {
        // A move copies first, then expunges: wait for both halves.
        let moved = dv.files("late", Some("Done")).len() == 3 && dv.files("late", None).is_empty();
        if moved || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        dv.files("late", Some("Done")).len(),
        3,
        "dovecot log:\n{}",
        dv.log()
    );
    assert!(dv.files("late", None).is_empty());
    let log = intake(&*store).await;
    assert_eq!(log.len(), 3);
    assert_eq!(count(&log, "created"), 3);

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(20), poller)
        .await
        .expect("the poller stops within 20 s")
        .unwrap();
}
