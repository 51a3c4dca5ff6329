//! The e-mail channel against real peers on loopback: the real `tend` binary with its SMTP
//! listener, swaks (Debian) as the sending client, plain and with STARTTLS, and `tend mail
//! ingest` as a mail server's pipe transport would run it.
//!
//! swaks missing: the swaks tests are skipped with a message, but fail when
//! TEND_REQUIRE_MAIL_PEERS=1 (CI installs it).

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tend");

fn have(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn peers_or_skip(cmds: &[&str]) -> bool {
    let missing: Vec<&&str> = cmds.iter().filter(|c| !have(c)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("TEND_REQUIRE_MAIL_PEERS").is_err(),
        "TEND_REQUIRE_MAIL_PEERS is set but {missing:?} are not installed"
    );
    eprintln!("*** SKIPPED: {missing:?} not installed (apt-get install swaks openssl) ***");
    false
}

struct Tend {
    dir: tempfile::TempDir,
}

impl Tend {
    fn new() -> Tend {
        Tend {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_remove("TEND_DATABASE_URL")
            .env("TEND_LOG", "warn")
            .arg("--data-dir")
            .arg(self.dir.path());
        c.kill_on_drop(true);
        c
    }

    async fn run(&self, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let mut c = self.cmd();
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin).await.unwrap();
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn setup(&self) -> String {
        let (c, _, e) = self
            .run(
                &[
                    "mail",
                    "add-mailbox",
                    "--address",
                    "support@shop.test",
                    "--name",
                    "Shop",
                ],
                b"",
            )
            .await;
        assert_eq!(c, 0, "{e}");
        let (c, _, e) = self
            .run(
                &[
                    "user",
                    "add",
                    "--email",
                    "agent@shop.test",
                    "--name",
                    "Agent",
                    "--role",
                    "admin",
                    "--password-stdin",
                ],
                b"a-long-password-1\n",
            )
            .await;
        assert_eq!(c, 0, "{e}");
        let (c, token, e) = self
            .run(&["token", "create", "--email", "agent@shop.test"], b"")
            .await;
        assert_eq!(c, 0, "{e}");
        token.trim().to_string()
    }

    /// `tend serve` with the SMTP listener on a free port: (child, http base, smtp addr).
    async fn serve(
        &self,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> (Child, String, String) {
        let mut c = self.cmd();
        c.args(["serve", "--listen", "127.0.0.1:0"])
            .env("TEND_SMTP_LISTEN", "127.0.0.1:0")
            .env("TEND_SMTP_HOSTNAME", "mx.shop.test")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some((cert, key)) = tls {
            c.env("TEND_SMTP_TLS_CERT", cert)
                .env("TEND_SMTP_TLS_KEY", key);
        }
        let mut child = c.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (http, smtp) = tokio::time::timeout(Duration::from_secs(30), async {
            let mut smtp = String::new();
            while let Some(l) = lines.next_line().await.unwrap() {
                if let Some(rest) = l.strip_prefix("SMTP listener on ") {
                    smtp = rest.split_whitespace().next().unwrap().to_string();
                }
                if let Some(rest) = l.strip_prefix("Tend is running at ") {
                    return (rest.split_whitespace().next().unwrap().to_string(), smtp);
                }
            }
            panic!("serve exited without announcing its address");
        })
        .await
        .expect("serve did not start within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        (child, http, smtp)
    }
}

async fn swaks(smtp: &str, args: &[&str]) -> (bool, String) {
    let (host, port) = smtp.rsplit_once(':').unwrap();
    let out = Command::new("swaks")
        .args([
            "--server",
            host,
            "--port",
            port,
            "--helo",
            "client.test",
            "--timeout",
            "20",
        ])
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn api(http: &str, token: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{http}/api/v1{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn swaks_mail_creates_tickets_replies_join_forwards_are_recognised_forgeries_do_not_join() {
    if !peers_or_skip(&["swaks"]) {
        return;
    }
    let t = Tend::new();
    let token = t.setup().await;
    let (mut child, http, smtp) = t.serve(None).await;

    let (ok, out) = swaks(
        &smtp,
        &[
            "--from",
            "ann@buyer.test",
            "--to",
            "support@shop.test",
            "--header",
            "Subject: Parcel 1001 is late",
            "--header",
            "Message-Id: <swaks-1@buyer.test>",
            "--header",
            "From: Ann Buyer <ann@buyer.test>",
            "--body",
            "Hello, parcel 1001 has not arrived.",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("250 2.0.0"), "{out}");
    let tickets = api(&http, &token, "/tickets").await;
    assert_eq!(tickets["items"].as_array().unwrap().len(), 1, "{tickets}");
    let id = tickets["items"][0]["id"].as_i64().unwrap();

    // A reply as Thunderbird writes it: In-Reply-To and References.
    let (ok, out) = swaks(
        &smtp,
        &[
            "--from", "ann@buyer.test", "--to", "support@shop.test",
            "--header", "Subject: Re: Parcel 1001 is late",
            "--header", "Message-Id: <swaks-2@buyer.test>",
            "--header", "In-Reply-To: <swaks-1@buyer.test>",
            "--header", "References: <swaks-1@buyer.test>",
            "--header", "User-Agent: Mozilla Thunderbird",
            "--body", "Any news?\n\nOn 02.03.26 09:00, Ann Buyer wrote:\n> Hello, parcel 1001 has not arrived.",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let msgs = api(&http, &token, &format!("/tickets/{id}/messages")).await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), 2, "{msgs}");

    // An agent forwards a customer's mail: a new ticket for the original sender.
    let (ok, out) = swaks(
        &smtp,
        &[
            "--from", "agent@shop.test", "--to", "support@shop.test",
            "--header", "Subject: Fwd: Broken zipper",
            "--header", "Message-Id: <swaks-fwd@shop.test>",
            "--body", "Please handle.\n\n---------- Forwarded message ---------\nFrom: Carl Client <carl@client.test>\nDate: Mon, 2 Mar 2026\nSubject: Broken zipper\nTo: agent@shop.test\n\nThe zipper broke after a day.",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let tickets = api(&http, &token, "/tickets").await;
    let items = tickets["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{tickets}");
    let fwd = items.iter().find(|x| x["id"] != id).unwrap();
    assert!(
        fwd["tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("forwarded")),
        "{fwd}"
    );
    let requester = api(
        &http,
        &token,
        &format!("/customers/{}", fwd["requester_id"]),
    )
    .await;
    assert!(
        requester.to_string().contains("carl@client.test"),
        "{requester}"
    );

    // A stranger forging In-Reply-To does not get into Ann's ticket.
    let (ok, out) = swaks(
        &smtp,
        &[
            "--from",
            "mallory@evil.test",
            "--to",
            "support@shop.test",
            "--header",
            "Subject: Re: Parcel 1001 is late",
            "--header",
            "Message-Id: <swaks-evil@evil.test>",
            "--header",
            "In-Reply-To: <swaks-1@buyer.test>",
            "--body",
            "Send it to my address instead.",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let msgs = api(&http, &token, &format!("/tickets/{id}/messages")).await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        api(&http, &token, "/tickets").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Mail for an address that is not ours is refused.
    let (ok, out) = swaks(
        &smtp,
        &[
            "--from",
            "a@b.test",
            "--to",
            "postmaster@elsewhere.test",
            "--body",
            "x",
        ],
    )
    .await;
    assert!(!ok && out.contains("550"), "{out}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn starttls_works_with_swaks() {
    if !peers_or_skip(&["swaks", "openssl"]) {
        return;
    }
    let t = Tend::new();
    let token = t.setup().await;
    let cert = t.dir.path().join("cert.pem");
    let key = t.dir.path().join("key.pem");
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=mx.shop.test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let (mut child, http, smtp) = t.serve(Some((&cert, &key))).await;
    let (ok, out) = swaks(
        &smtp,
        &[
            "--tls",
            "--from",
            "ann@buyer.test",
            "--to",
            "support@shop.test",
            "--header",
            "Subject: over TLS",
            "--body",
            "secret",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("STARTTLS") && out.contains("250 2.0.0"),
        "{out}"
    );
    assert_eq!(
        api(&http, &token, "/tickets").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn mail_ingest_speaks_a_mail_servers_exit_codes() {
    let t = Tend::new();
    t.setup().await;
    let mail = b"From: ann@buyer.test\r\nTo: support@shop.test\r\nSubject: Piped\r\nMessage-ID: <pipe-1@buyer.test>\r\n\r\nHello through a pipe.\r\n";
    let (code, out, err) = t
        .run(
            &["mail", "ingest", "--recipient", "support@shop.test"],
            mail,
        )
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created"), "{out}");
    // The same mail again (the MTA retried): still one ticket.
    let (code, out, _) = t.run(&["mail", "ingest"], mail).await;
    assert_eq!(code, 0);
    assert!(out.contains("duplicate"), "{out}");
    // An address that is no mailbox: 67 (EX_NOUSER), the MTA bounces it.
    let (code, _, err) = t
        .run(&["mail", "ingest", "--recipient", "nobody@shop.test"], mail)
        .await;
    assert_eq!(code, 67, "{err}");
    assert!(err.contains("add-mailbox"), "{err}");
    // The database cannot be opened: 75 (EX_TEMPFAIL), the MTA keeps the mail and retries.
    let blocker = t.dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let url = format!("sqlite://{}/x/tend.db", blocker.display());
    let (code, _, err) = t
        .run(&["--database-url", &url, "mail", "ingest"], mail)
        .await;
    assert_eq!(code, 75, "{err}");
    let (code, log, _) = t.run(&["mail", "log"], b"").await;
    assert_eq!(code, 0);
    assert_eq!(log.lines().count(), 2, "{log}");
}
