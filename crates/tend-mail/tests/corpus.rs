//! Every mail in tests/corpus/*.eml against its entry in tests/corpus/expected.toml.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tend_mail::{classify, forwarded_from, parse, QuoteKind};

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Rejected {
    No(bool),
    Reason(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    rejected: Rejected,
    from: Option<String>,
    from_name: Option<String>,
    subject: Option<String>,
    subject_prefix: Option<String>,
    to: Option<Vec<String>>,
    cc: Option<Vec<String>>,
    reply_to: Option<String>,
    date: Option<String>,
    message_id: Option<String>,
    in_reply_to: Option<String>,
    references: Option<Vec<String>>,
    has_html: Option<bool>,
    attachments: Option<usize>,
    inline: Option<usize>,
    attachment_types: Option<Vec<String>>,
    attachment_names: Option<Vec<String>>,
    visible: Option<String>,
    visible_prefix: Option<String>,
    visible_not_contains: Option<Vec<String>>,
    quote_kind: Option<String>,
    signature: Option<bool>,
    text_contains: Option<Vec<String>>,
    text_not_contains: Option<Vec<String>>,
    html_contains: Option<Vec<String>>,
    html_not_contains: Option<Vec<String>>,
    auto_reply: Option<bool>,
    bulk: Option<bool>,
    bounce: Option<bool>,
    bounce_recipient: Option<String>,
    bounce_status: Option<String>,
    bounce_original_id: Option<String>,
    bounce_diagnostic_contains: Option<String>,
    bounce_permanent: Option<bool>,
    forwarded_original: Option<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn kind_name(k: QuoteKind) -> &'static str {
    match k {
        QuoteKind::Attribution => "attribution",
        QuoteKind::Outlook => "outlook",
        QuoteKind::Forward => "forward",
        QuoteKind::Angle => "angle",
        QuoteKind::Interleaved => "interleaved",
    }
}

fn reason_kind(r: &tend_mail::RejectReason) -> String {
    serde_json::to_value(r).unwrap()["kind"]
        .as_str()
        .unwrap()
        .to_string()
}

fn check(name: &str, raw: &[u8], e: &Expect, fails: &mut Vec<String>) {
    let mut fail = |what: String| fails.push(format!("{name}: {what}"));
    let mail = match (parse(raw), &e.rejected) {
        (Ok(m), Rejected::No(false)) => m,
        (Ok(_), r) => return fail(format!("expected rejection {r:?}, was accepted")),
        (Err(err), Rejected::Reason(want)) => {
            let got = reason_kind(&err.reason);
            if &got != want {
                fail(format!("rejected as {got}, expected {want}"));
            }
            return;
        }
        (Err(err), r) => return fail(format!("rejected ({err}), expected {r:?}")),
    };
    macro_rules! eq {
        ($field:expr, $got:expr) => {
            if let Some(want) = &$field {
                let got = $got;
                if &got != want {
                    fail(format!(
                        "{}: got {:?}, expected {:?}",
                        stringify!($field),
                        got,
                        want
                    ));
                }
            }
        };
    }
    let opt = |s: Option<&str>| s.unwrap_or("").to_string();
    eq!(e.from, opt(mail.from.as_ref().map(|m| m.address.as_str())));
    eq!(
        e.from_name,
        opt(mail.from.as_ref().and_then(|m| m.name.as_deref()))
    );
    eq!(e.subject, mail.subject.clone());
    if let Some(p) = &e.subject_prefix {
        if !mail.subject.starts_with(p.as_str()) {
            fail(format!(
                "subject {:?} does not start with {p:?}",
                mail.subject
            ));
        }
    }
    eq!(
        e.to,
        mail.to
            .iter()
            .map(|m| m.address.clone())
            .collect::<Vec<_>>()
    );
    eq!(
        e.cc,
        mail.cc
            .iter()
            .map(|m| m.address.clone())
            .collect::<Vec<_>>()
    );
    eq!(
        e.reply_to,
        opt(mail.reply_to.first().map(|m| m.address.as_str()))
    );
    eq!(
        e.date,
        mail.date.map(|d| d.to_rfc3339()).unwrap_or_default()
    );
    eq!(e.message_id, opt(mail.message_id.as_deref()));
    eq!(
        e.in_reply_to,
        opt(mail.in_reply_to.first().map(String::as_str))
    );
    eq!(e.references, mail.references.clone());
    eq!(e.has_html, mail.has_html());
    eq!(e.attachments, mail.attachments.len());
    eq!(
        e.inline,
        mail.attachments.iter().filter(|a| a.inline).count()
    );
    eq!(
        e.attachment_types,
        mail.attachments
            .iter()
            .map(|a| a.content_type.clone())
            .collect::<Vec<_>>()
    );
    eq!(
        e.attachment_names,
        mail.attachments
            .iter()
            .map(|a| a.filename.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    );
    eq!(e.visible, mail.body_text_visible.clone());
    if let Some(p) = &e.visible_prefix {
        if !mail.body_text_visible.starts_with(p.as_str()) {
            fail(format!(
                "visible {:?} does not start with {p:?}",
                mail.body_text_visible
            ));
        }
    }
    for s in e.visible_not_contains.iter().flatten() {
        if mail.body_text_visible.contains(s.as_str()) {
            fail(format!("visible text contains {s:?}"));
        }
    }
    eq!(
        e.quote_kind,
        mail.quote.kind.map(kind_name).unwrap_or("").to_string()
    );
    eq!(e.signature, mail.quote.signature_start.is_some());
    for s in e.text_contains.iter().flatten() {
        if !mail.body_text.contains(s.as_str()) {
            fail(format!("text lacks {s:?}; text: {:?}", mail.body_text));
        }
    }
    for s in e.text_not_contains.iter().flatten() {
        if mail.body_text.contains(s.as_str()) {
            fail(format!("text contains {s:?}"));
        }
    }
    let html = mail.body_html.clone().unwrap_or_default();
    for s in e.html_contains.iter().flatten() {
        if !html.contains(s.as_str()) {
            fail(format!("html lacks {s:?}; html: {html:?}"));
        }
    }
    for s in e.html_not_contains.iter().flatten() {
        if html.to_lowercase().contains(&s.to_lowercase()) {
            fail(format!("html contains {s:?}; html: {html:?}"));
        }
    }
    let noise = classify(&mail);
    eq!(e.auto_reply, noise.auto_reply);
    eq!(e.bulk, noise.bulk);
    eq!(e.bounce, noise.bounce.is_some());
    let b = noise.bounce.clone().unwrap_or_default();
    eq!(e.bounce_recipient, opt(b.recipient.as_deref()));
    eq!(e.bounce_status, opt(b.status.as_deref()));
    eq!(e.bounce_original_id, opt(b.original_message_id.as_deref()));
    eq!(e.bounce_permanent, b.is_permanent());
    if let Some(d) = &e.bounce_diagnostic_contains {
        if !b.diagnostic.as_deref().unwrap_or("").contains(d.as_str()) {
            fail(format!("diagnostic {:?} lacks {d:?}", b.diagnostic));
        }
    }
    eq!(
        e.forwarded_original,
        forwarded_from(&mail)
            .map(|f| f.original.address)
            .unwrap_or_default()
    );
}

#[test]
fn every_corpus_mail_meets_its_expectation() {
    let dir = corpus_dir();
    let manifest: BTreeMap<String, Expect> =
        toml::from_str(&std::fs::read_to_string(dir.join("expected.toml")).unwrap()).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 100, "corpus has only {} mails", files.len());
    let mut fails = Vec::new();
    for f in &files {
        match manifest.get(f) {
            Some(e) => check(f, &std::fs::read(dir.join(f)).unwrap(), e, &mut fails),
            None => fails.push(format!("{f}: no entry in expected.toml")),
        }
    }
    for k in manifest.keys() {
        if !files.contains(k) {
            fails.push(format!("{k}: in expected.toml but no such file"));
        }
    }
    assert!(
        fails.is_empty(),
        "{} of {} mails failed:\n{}",
        fails.len(),
        files.len(),
        fails.join("\n")
    );
}
