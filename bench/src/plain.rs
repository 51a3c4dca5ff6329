//! A plain HTTP/1.1 GET client for the timed read scenarios (S2, S3, S7): one blocking TCP
//! connection per client, kept alive while the server allows it, no pool and no async
//! runtime between the clock and the socket.
//!
//! Why not reqwest here: with reqwest on tokio, a third to a half of the 20-GET runs against
//! Tend had one GET of 1–3 ms where the server answers in 0.2 ms, and a plain keep-alive
//! client (Python's `http.client`) against the same server saw none (bench/README.md). A read
//! that takes a fifth of a millisecond is measured with a client that adds nothing. Creates
//! (S1) still go through reqwest: there the client's cost is far below the server's.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Conn {
    /// `host:port`, from an `http://host:port` base.
    addr: String,
    /// The request head after the request line: Host, the caller's headers, the blank line.
    head: String,
    stream: Option<BufReader<TcpStream>>,
}

/// One answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Conn {
    /// `base` is `http://host:port` (loopback; the runner refuses anything else); `headers`
    /// go on every request.
    pub fn new(base: &str, headers: &[(String, String)]) -> Result<Conn> {
        let Some(addr) = base.strip_prefix("http://") else {
            bail!("the plain client speaks http:// only, not {base}");
        };
        let addr = addr.trim_end_matches('/').to_string();
        if addr.contains('/') {
            bail!("the base URL {base} must not have a path");
        }
        let mut head = format!("Host: {addr}\r\nAccept: application/json\r\n");
        for (k, v) in headers {
            if k.contains(['\r', '\n']) || v.contains(['\r', '\n']) {
                bail!("header {k} has a line break");
            }
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        Ok(Conn {
            addr,
            head,
            stream: None,
        })
    }

    /// GETs `path` (starting with `/`). A kept-alive connection that the server has closed
    /// since is opened again once.
    pub fn get(&mut self, path: &str) -> Result<Answer> {
        let reused = self.stream.is_some();
        match self.try_get(path) {
            Ok(a) => Ok(a),
            Err(_) if reused => {
                self.stream = None;
                self.try_get(path)
            }
            Err(e) => Err(e),
        }
    }

    fn try_get(&mut self, path: &str) -> Result<Answer> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr)
                .with_context(|| format!("cannot connect to {}", self.addr))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(300)))?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, s));
        }
        let r = self.stream.as_mut().expect("connected above");
        let req = format!("GET {path} HTTP/1.1\r\n{}", self.head);
        r.get_mut().write_all(req.as_bytes())?;
        let (answer, keep) = read_answer(r)?;
        if !keep {
            self.stream = None;
        }
        Ok(answer)
    }
}

fn line(r: &mut impl BufRead) -> Result<String> {
    let mut l = String::new();
    if r.read_line(&mut l)? == 0 {
        bail!("the server closed the connection");
    }
    Ok(l.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads one response; the flag says whether the connection may carry another.
fn read_answer(r: &mut impl BufRead) -> Result<(Answer, bool)> {
    let status_line = line(r)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP status line: {status_line:?}"))?;
    let mut keep = version == "HTTP/1.1";
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        let h = line(r)?;
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = Some(v.parse().context("bad Content-Length")?),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "connection" => {
                let v = v.to_ascii_lowercase();
                if v.contains("close") {
                    keep = false;
                } else if v.contains("keep-alive") {
                    keep = true;
                }
            }
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = line(r)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .with_context(|| format!("bad chunk size {size_line:?}"))?;
            if size == 0 {
                // trailers, then the blank line
                while !line(r)?.is_empty() {}
                break;
            }
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..])?;
            line(r)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else if status != 204 && status != 304 {
        // No length: the body runs to the end of the connection.
        r.read_to_end(&mut body)?;
        keep = false;
    }
    Ok((Answer { status, body }, keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(raw: &str) -> (Answer, bool) {
        read_answer(&mut std::io::Cursor::new(raw.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn reads_length_chunked_and_close_delimited_bodies() {
        let (a, keep) = answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(
            (a.status, a.body.as_slice(), keep),
            (200, &b"hello"[..], true)
        );
        let (a, keep) = answer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n",
        );
        assert_eq!((a.body.as_slice(), keep), (&b"hello"[..], true));
        let (a, keep) = answer("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\ngone");
        assert_eq!(
            (a.status, a.body.as_slice(), keep),
            (404, &b"gone"[..], false)
        );
        let (_, keep) = answer("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(!keep);
    }

    #[test]
    fn refuses_what_it_cannot_speak() {
        assert!(Conn::new("https://127.0.0.1:1", &[]).is_err());
        assert!(Conn::new("http://127.0.0.1:1/x", &[]).is_err());
        assert!(Conn::new("http://127.0.0.1:1", &[("a".into(), "b\r\nc".into())]).is_err());
        let bad = read_answer(&mut std::io::Cursor::new(b"garbage\r\n\r\n".to_vec()));
        assert!(bad.is_err());
    }

    #[test]
    fn keeps_one_connection_across_gets() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            // One connection, three requests on it: the client must not open a second.
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            for i in 0..3 {
                let mut req = String::new();
                loop {
                    let mut l = String::new();
                    r.read_line(&mut l).unwrap();
                    if l == "\r\n" {
                        break;
                    }
                    req.push_str(&l);
                }
                assert!(req.starts_with("GET /q HTTP/1.1\r\n"), "{req}");
                assert!(req.contains("Authorization: Bearer t\r\n"), "{req}");
                let body = format!("n{i}");
                write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        let mut c = Conn::new(
            &format!("http://{addr}"),
            &[("Authorization".into(), "Bearer t".into())],
        )
        .unwrap();
        for i in 0..3 {
            let a = c.get("/q").unwrap();
            assert_eq!(a.body, format!("n{i}").into_bytes());
        }
        server.join().unwrap();
    }
}
