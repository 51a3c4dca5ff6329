//! Limits: each one rejects or truncates, never panics or stalls. No timing is asserted here;
//! `examples/intake_bench.rs` measures.

mod common;

use tend_mail::{parse, parse_with, Limits, RejectReason, Truncation};

#[test]
fn raw_over_30_mb_is_rejected() {
    let raw = common::big_raw(30 * 1024 * 1024 + 1);
    let err = parse(&raw).unwrap_err();
    assert!(matches!(err.reason, RejectReason::TooLarge { .. }), "{err}");
    // Just under the limit is taken in.
    let raw = common::big_raw(5 * 1024 * 1024);
    assert!(parse(&raw).is_ok());
}

#[test]
fn attachment_over_25_mb_is_rejected() {
    let raw = common::big_attachment(25 * 1024 * 1024 + 1);
    assert!(raw.len() < 30 * 1024 * 1024);
    let err = parse(&raw).unwrap_err();
    assert_eq!(
        err.reason,
        RejectReason::AttachmentTooLarge {
            size: 25 * 1024 * 1024 + 1,
            limit: 25 * 1024 * 1024
        }
    );
    let ok = parse(&common::big_attachment(1024 * 1024)).unwrap();
    assert_eq!(ok.attachments[0].data.len(), 1024 * 1024);
}

#[test]
fn nesting_and_part_count() {
    assert!(parse(&common::nested(20)).is_ok());
    for depth in [21, 50, 1000] {
        let err = parse(&common::nested(depth)).unwrap_err();
        assert!(
            matches!(err.reason, RejectReason::TooDeep { depth: d, limit: 20 } if d >= 21),
            "{depth}: {err}"
        );
    }
    assert!(parse(&common::many_parts(99)).is_ok());
    for n in [100, 10_000] {
        let err = parse(&common::many_parts(n)).unwrap_err();
        assert!(
            matches!(err.reason, RejectReason::TooManyParts { limit: 100, .. }),
            "{n}: {err}"
        );
    }
}

#[test]
fn big_html_is_truncated_for_display_and_text_kept() {
    let mail = parse(&common::big_html(3 * 1024 * 1024, true)).unwrap();
    assert!(matches!(
        mail.truncations[..],
        [Truncation::Html { kept, .. }] if kept <= 2 * 1024 * 1024
    ));
    let html = mail.body_html.as_deref().unwrap();
    assert!(html.len() <= 2 * 1024 * 1024 + 64 * 1024);
    assert!(!html.contains("END-OF-HTML"));
    assert!(mail.body_text.contains("END-OF-TEXT"));

    // HTML only: the plain text comes from the whole HTML.
    let mail = parse(&common::big_html(3 * 1024 * 1024, false)).unwrap();
    assert!(mail.body_text.contains("END-OF-HTML"));
    assert!(!mail.body_html.unwrap().contains("END-OF-HTML"));
}

#[test]
fn ten_thousand_links_are_kept_more_are_cut() {
    let mail = parse(&common::links(10_000)).unwrap();
    assert!(mail.truncations.is_empty());
    let html = mail.body_html.unwrap();
    assert!(html.contains("item/9999?ref=mail"));
    assert!(html.contains("END-OF-LINKS"));
    assert_eq!(html.matches("noopener").count(), 10_000);

    let mail = parse(&common::links(10_001)).unwrap();
    assert_eq!(
        mail.truncations,
        vec![Truncation::Links {
            count: 10_001,
            limit: 10_000
        }]
    );
    let html = mail.body_html.unwrap();
    assert!(html.contains("item/9999?"));
    assert!(!html.contains("item/10000?"));
    assert!(mail.body_text.contains("item 10000"));
}

#[test]
fn limits_are_configurable() {
    let tight = Limits {
        max_raw_bytes: 100,
        ..Limits::default()
    };
    let err = parse_with(&common::links(5), &tight).unwrap_err();
    assert!(matches!(
        err.reason,
        RejectReason::TooLarge { limit: 100, .. }
    ));
    let few_links = Limits {
        max_links: 3,
        ..Limits::default()
    };
    let mail = parse_with(&common::links(5), &few_links).unwrap();
    assert_eq!(mail.body_html.unwrap().matches("<a ").count(), 3);
}

#[test]
fn empty_and_tiny_inputs_do_not_panic() {
    for raw in [
        &b""[..],
        b"\r\n",
        b":",
        b"From:",
        b"From: a@b.c",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x",
        b"\xff\xfe\x00",
    ] {
        let _ = parse(raw);
    }
}
