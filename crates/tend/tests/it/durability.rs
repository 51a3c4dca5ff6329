//! The real binary over a real socket: CLI commands, `serve`, and kill -9 during a burst.

use crate::harness::pg_url;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tend");

/// Where the binary keeps its data for one test: a data dir, or a fresh PostgreSQL database.
/// Shared with the search suite's kill -9 test.
pub(crate) struct Target {
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Target {
    pub(crate) async fn new() -> Target {
        let dir = tempfile::tempdir().unwrap();
        let pg = match pg_url() {
            None => None,
            Some(base) => {
                let name = format!("tend_it_{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
                let (c, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                c.batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                let url = match base.rfind('/') {
                    Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
                    _ => format!("{base}/{name}"),
                };
                Some((url, name))
            }
        };
        Target { dir, pg }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_remove("TEND_DATABASE_URL")
            .env_remove("TEND_SEARCH")
            .env_remove("TEND_SEARCH_DIR")
            .env("TEND_LOG", "warn")
            .arg("--data-dir")
            .arg(self.dir.path());
        if let Some((url, _)) = &self.pg {
            c.arg("--database-url").arg(url);
        }
        c.kill_on_drop(true);
        c
    }

    pub(crate) async fn run(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut c = self.cmd();
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            tokio::io::AsyncWriteExt::write_all(&mut input, s.as_bytes())
                .await
                .unwrap();
        }
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts `tend serve` on a free port; returns the child and its base URL.
    pub(crate) async fn serve(&self) -> (Child, String) {
        let mut c = self.cmd();
        c.args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if let Some(rest) = l.strip_prefix("Tend is running at ") {
                    return rest.split_whitespace().next().unwrap().to_string();
                }
            }
            panic!("serve exited without announcing its address");
        })
        .await
        .expect("serve did not start within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        (child, url)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let (Some((_, name)), Some(base)) = (&self.pg, pg_url()) {
            crate::harness::pg_execute_from_drop(
                &base,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

#[tokio::test]
async fn cli_errors_say_what_to_do_and_exit_non_zero() {
    let t = Target::new().await;
    let (code, _, err) = t
        .run(
            &[
                "user",
                "add",
                "--email",
                "not-an-email",
                "--name",
                "X",
                "--role",
                "admin",
            ],
            None,
        )
        .await;
    assert_ne!(code, 0);
    assert!(err.contains("--email"), "{err}");
    let (code, _, err) = t
        .run(
            &[
                "user",
                "add",
                "--email",
                "a@shop.test",
                "--name",
                "A",
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some("short\n"),
        )
        .await;
    assert_ne!(code, 0);
    assert!(err.contains("10"), "{err}");
    let (code, out, _) = t
        .run(
            &[
                "user",
                "add",
                "--email",
                "a@shop.test",
                "--name",
                "A",
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some("long enough password\n"),
        )
        .await;
    assert_eq!(code, 0);
    assert!(out.contains("added admin agent"), "{out}");
    let (code, _, err) = t
        .run(
            &[
                "user",
                "add",
                "--email",
                "A@shop.test",
                "--name",
                "A",
                "--role",
                "admin",
            ],
            None,
        )
        .await;
    assert_ne!(code, 0);
    assert!(err.contains("exists"), "{err}");
    let (code, _, err) = t
        .run(&["token", "create", "--email", "nobody@shop.test"], None)
        .await;
    assert_ne!(code, 0);
    assert!(err.contains("tend user add"), "{err}");
    let (code, out, _) = t
        .run(&["token", "create", "--email", "a@shop.test"], None)
        .await;
    assert_eq!(code, 0);
    assert!(out.trim().starts_with("tend_"));
    let (code, _, err) = t.run(&["import", "/nonexistent/file.jsonl"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("cannot open"), "{err}");
    let good = r#"{"external_id":"x1","subject":"s","requester":{"email":"c@example.com"},"created_at":"2026-01-01T00:00:00Z"}"#;
    let (code, _, err) = t
        .run(
            &["import", "-"],
            Some(&format!("{good}\n{{\"external_id\":\"x2\"}}\n")),
        )
        .await;
    assert_ne!(code, 0);
    assert!(err.contains("line 2") && err.contains("subject"), "{err}");
    assert!(
        err.contains("0 tickets were imported"),
        "the bad line stopped the batch it was in: {err}"
    );
    let (code, out, _) = t.run(&["import", "-"], Some(&format!("{good}\n"))).await;
    assert_eq!(code, 0);
    assert!(out.contains("imported 1 tickets, skipped 0"), "{out}");
    let (code, out, _) = t.run(&["import", "-"], Some(&format!("{good}\n"))).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("imported 0 tickets, skipped 1"),
        "a rerun skips what is there: {out}"
    );
    let (code, _, err) = t.run(&["serve", "--database-url", "mysql://x"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("postgres://"), "{err}");
}

#[tokio::test]
async fn acknowledged_creates_survive_kill_9() {
    let t = Target::new().await;
    let (code, _, err) = t
        .run(
            &[
                "user",
                "add",
                "--email",
                "k@shop.test",
                "--name",
                "K",
                "--role",
                "admin",
            ],
            None,
        )
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, token, _) = t
        .run(&["token", "create", "--email", "k@shop.test"], None)
        .await;
    let token = token.trim().to_string();
    let (mut child, url) = t.serve().await;
    let client = reqwest::Client::new();
    let acked: std::sync::Arc<std::sync::Mutex<Vec<(i64, String)>>> = Default::default();
    let mut tasks = Vec::new();
    for c in 0..32 {
        let (client, url, token, acked) =
            (client.clone(), url.clone(), token.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                let subject = format!("burst {c}-{i}");
                let r = client
                    .post(format!("{url}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"subject": subject, "requester": {"email": format!("b{c}@example.com")}, "comment": {"body": "kill me"}}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {
                        let v: serde_json::Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => return, // killed while the body was on the wire: not acknowledged
                        };
                        acked.lock().unwrap().push((v["id"].as_i64().unwrap(), subject));
                    }
                    _ => return, // the server is gone
                }
            }
        }));
    }
    // Kill once a few hundred creates are acknowledged (bounded: at most 20 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 300 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    let _ = child.wait().await;
    for task in tasks {
        let _ = task.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} creates were acknowledged before the deadline",
        acked.len()
    );

    let (mut child, url) = t.serve().await;
    for (id, subject) in &acked {
        let r = client
            .get(format!("{url}/api/v1/tickets/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged ticket {id} is lost");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["subject"], subject.as_str());
        let ev: serde_json::Value = client
            .get(format!("{url}/api/v1/tickets/{id}/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            ev["items"].as_array().unwrap().len(),
            2,
            "ticket {id} is whole: created + its message"
        );
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    eprintln!("kill -9: {} acknowledged creates all survived", acked.len());
}
