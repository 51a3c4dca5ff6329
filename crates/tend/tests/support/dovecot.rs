//! A real dovecot IMAP server on 127.0.0.1 for tests: its own config, maildirs, state and log
//! in a temp dir, any user name logs in with [`PASSWORD`]. Killed when dropped.
//!
//! Mails are dropped into a user's maildir `new/` the way a delivery agent does (written in
//! `tmp/`, renamed), so dovecot finds them as new mail.
//!
//! dovecot is looked for at `TEND_DOVECOT`, else /usr/sbin/dovecot. Missing: the caller skips
//! (with a message), unless `TEND_REQUIRE_MAIL_PEERS=1`, which makes it a failure.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "imap-test-secret";

/// Where dovecot is looked for.
const CANDIDATES: &[&str] = &["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"];

pub struct Dovecot {
    pub port: u16,
    /// Implicit TLS (imaps), when started with [`Dovecot::start_tls`].
    pub tls_port: Option<u16>,
    dir: tempfile::TempDir,
    child: Child,
    uid: u32,
    gid: u32,
    seq: AtomicU64,
}

/// Whether a missing dovecot fails the test instead of skipping it.
pub fn required() -> bool {
    std::env::var("TEND_REQUIRE_MAIL_PEERS").is_ok_and(|v| v == "1")
}

/// `TEND_DOVECOT` names the binary; else the usual places.
fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TEND_DOVECOT").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// The effective uid of this process (from /proc, no libc needed).
fn current_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// (name, uid, gid) of a passwd entry, by name or by uid.
fn passwd(name: Option<&str>, uid: Option<u32>) -> Option<(String, u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        let (n, u, g) = (f[0], f[2].parse().ok()?, f[3].parse().ok()?);
        let hit = name.is_some_and(|x| x == n) || uid.is_some_and(|x| x == u);
        hit.then(|| (n.to_string(), u, g))
    })
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Dovecot {
    /// Starts dovecot, or returns `None` (after saying so) when it is not installed; with
    /// `TEND_REQUIRE_MAIL_PEERS=1` a missing dovecot panics instead.
    pub fn start() -> Option<Dovecot> {
        Dovecot::start_with(false)
    }

    /// Also listens with implicit TLS on `tls_port`, with a certificate for 127.0.0.1 signed
    /// by a test CA ([`Dovecot::ca_file`]). Needs the `openssl` command; without it `None`.
    pub fn start_tls() -> Option<Dovecot> {
        Dovecot::start_with(true)
    }

    /// The test CA's certificate (PEM), for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn start_with(tls: bool) -> Option<Dovecot> {
        let Some(bin) = find_binary() else {
            if required() {
                panic!("dovecot is not installed (apt-get install dovecot-imapd) and TEND_REQUIRE_MAIL_PEERS=1");
            }
            eprintln!("SKIPPED: dovecot is not installed (apt-get install dovecot-imapd); set TEND_REQUIRE_MAIL_PEERS=1 to make this a failure");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        // The login and mail processes run as an unprivileged user: they must reach the dir.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let me = current_uid();
        let (login_user, internal_user, uid, gid) = if me == 0 {
            // imap-login refuses root, and so does mail access: use nobody for both.
            let (n, u, g) = passwd(Some("nobody"), None).unwrap_or(("nobody".into(), 65534, 65534));
            (n, "root".to_string(), u, g)
        } else {
            let (n, u, g) = passwd(None, Some(me)).expect("the current user in /etc/passwd");
            (n.clone(), n, u, g)
        };
        let d = dir.path().display().to_string();
        for sub in ["mail", "home"] {
            let p = dir.path().join(sub);
            std::fs::create_dir_all(&p).unwrap();
            chown(&p, uid, gid);
        }
        let port = free_port();
        let tls_port = if tls {
            if let Err(e) = make_certificates(dir.path()) {
                if required() {
                    panic!("cannot make test certificates and TEND_REQUIRE_MAIL_PEERS=1: {e}");
                }
                eprintln!("SKIPPED: cannot make test certificates: {e}");
                return None;
            }
            Some(free_port())
        } else {
            None
        };
        let ssl = match tls_port {
            Some(_) => format!("ssl = yes\nssl_cert = <{d}/cert.pem\nssl_key = <{d}/key.pem"),
            None => "ssl = no".to_string(),
        };
        let imaps = match tls_port {
            Some(p) => format!("address = 127.0.0.1\n    port = {p}\n    ssl = yes"),
            None => "port = 0".to_string(),
        };
        let conf = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
{ssl}
auth_mechanisms = plain
disable_plaintext_auth = no
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:{d}/mail/%u
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service anvil {{
  chroot =
}}
"#
        );
        let conf_path = dir.path().join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(&bin)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut dv = Dovecot {
            port,
            tls_port,
            dir,
            child,
            uid,
            gid,
            seq: AtomicU64::new(0),
        };
        dv.wait_ready();
        Some(dv)
    }

    /// Waits (at most 15 s) until dovecot greets on its port.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("dovecot exited ({status}) at start:\n{}", self.log());
            }
            if let Ok(s) = std::net::TcpStream::connect_timeout(
                &([127, 0, 0, 1], self.port).into(),
                Duration::from_secs(1),
            ) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("* OK") {
                    return;
                }
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "dovecot did not greet on port {} within 15 s:\n{}",
            self.port,
            self.log()
        );
    }

    /// dovecot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// The maildir of a user (its INBOX).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user)
    }

    fn ensure_maildir(&self, path: &Path) {
        for sub in ["", "new", "cur", "tmp"] {
            let p = path.join(sub);
            if !p.exists() {
                std::fs::create_dir_all(&p).unwrap();
                chown(&p, self.uid, self.gid);
            }
        }
    }

    /// Drops a mail into the user's INBOX (`new/`); returns its file name.
    pub fn deliver(&self, user: &str, raw: &[u8]) -> String {
        let md = self.maildir(user);
        self.ensure_maildir(&md);
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let name = format!(
            "{}.M{n}P{}.tend-test",
            1_700_000_000 + n,
            std::process::id()
        );
        let tmp = md.join("tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        chown(&tmp, self.uid, self.gid);
        std::fs::rename(&tmp, md.join("new").join(&name)).unwrap();
        name
    }

    /// The file names of the mails in a folder (`None`: INBOX), `new/` and `cur/` together.
    pub fn files(&self, user: &str, folder: Option<&str>) -> Vec<String> {
        let mut md = self.maildir(user);
        if let Some(f) = folder {
            md = md.join(format!(".{f}"));
        }
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(md.join(sub)) {
                out.extend(
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned()),
                );
            }
        }
        out.sort();
        out
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it (`ca.pem`, `cert.pem`, `key.pem`
/// in `dir`), made with the `openssl` command.
fn make_certificates(dir: &Path) -> Result<(), String> {
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Tend test CA",
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "openssl {args:?} failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ))
            }
            Err(e) => return Err(format!("no openssl command ({e})")),
        }
    }
    Ok(())
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; SIGKILL if it takes too long.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
