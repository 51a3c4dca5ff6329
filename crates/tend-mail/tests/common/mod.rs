//! Pathological mails too big to keep as files, built on demand (tests and the bench share them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every corpus mail, sorted by name.
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn head(content_type: &str) -> String {
    format!(
        "From: Gen <gen@example.com>\r\nTo: support@shop.example\r\nSubject: generated\r\n\
         Message-ID: <gen@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n"
    )
}

/// An HTML-only mail with `n` links.
pub fn links(n: usize) -> Vec<u8> {
    let mut s = head("text/html; charset=utf-8");
    s.push_str("<html><body><p>Links:</p>\r\n");
    for i in 0..n {
        s.push_str(&format!(
            "<a href=\"https://example.com/item/{i}?ref=mail\">item {i}</a><br>\r\n"
        ));
    }
    s.push_str("<p>END-OF-LINKS</p></body></html>\r\n");
    s.into_bytes()
}

/// multipart/alternative with a short text part and an HTML part of about `bytes` bytes.
pub fn big_html(bytes: usize, with_text: bool) -> Vec<u8> {
    let mut html = String::from("<html><body>");
    let para = "<p>Lorem ipsum dolor sit amet, consectetur <b>adipiscing</b> elit.</p>\r\n";
    while html.len() < bytes {
        html.push_str(para);
    }
    html.push_str("<p>END-OF-HTML</p></body></html>");
    if !with_text {
        let mut s = head("text/html; charset=utf-8");
        s.push_str(&html);
        return s.into_bytes();
    }
    let mut s = head("multipart/alternative; boundary=\"bh\"");
    s.push_str(
        "--bh\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe text part. END-OF-TEXT\r\n",
    );
    s.push_str("--bh\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
    s.push_str(&html);
    s.push_str("\r\n--bh--\r\n");
    s.into_bytes()
}

/// `depth` nested multipart/mixed levels around one text part.
pub fn nested(depth: usize) -> Vec<u8> {
    let mut s = head(&format!("multipart/mixed; boundary=\"l{depth}\""));
    for i in (1..=depth).rev() {
        s.push_str(&format!("--l{i}\r\n"));
        if i > 1 {
            s.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"l{}\"\r\n\r\n",
                i - 1
            ));
        }
    }
    s.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
    for i in 1..=depth {
        s.push_str(&format!("--l{i}--\r\n"));
    }
    s.into_bytes()
}

/// A multipart/mixed with `n` tiny text parts.
pub fn many_parts(n: usize) -> Vec<u8> {
    let mut s = head("multipart/mixed; boundary=\"p\"");
    for i in 0..n {
        s.push_str(&format!(
            "--p\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        ));
    }
    s.push_str("--p--\r\n");
    s.into_bytes()
}

/// A mail with one binary attachment of `bytes` bytes (Content-Transfer-Encoding: binary).
pub fn big_attachment(bytes: usize) -> Vec<u8> {
    let mut s = head("multipart/mixed; boundary=\"ba\"").into_bytes();
    s.extend_from_slice(b"--ba\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n");
    s.extend_from_slice(
        b"--ba\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: binary\r\n\r\n",
    );
    s.extend(std::iter::repeat_n(b'x', bytes));
    s.extend_from_slice(b"\r\n--ba--\r\n");
    s
}

/// A plain mail whose body makes it `bytes` long.
pub fn big_raw(bytes: usize) -> Vec<u8> {
    let mut s = head("text/plain").into_bytes();
    while s.len() < bytes {
        s.extend_from_slice(
            b"0123456789012345678901234567890123456789012345678901234567890123456789012\r\n",
        );
    }
    s
}
