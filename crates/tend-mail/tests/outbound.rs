use tend_mail::{
    find_subject_tag, find_token_address, outbound_headers, OutboundKind, ReplyContext,
};

const SECRET: &[u8] = b"k";

fn ctx<'a>(refs: &'a [String], kind: OutboundKind) -> ReplyContext<'a> {
    ReplyContext {
        ticket_id: 123,
        secret: SECRET,
        support_address: "support@shop.example",
        domain: "shop.example",
        unique: "ev-1",
        now: chrono::DateTime::from_timestamp(1_772_528_400, 0).unwrap(),
        subject: "Kettle\r\nBcc: x@evil.example",
        parent_message_id: Some("parent@mail.example"),
        parent_references: refs,
        kind,
    }
}

#[test]
fn agent_reply_headers() {
    let refs = vec!["root@mail.example".to_string()];
    let h = outbound_headers(&ctx(&refs, OutboundKind::AgentReply));
    assert_eq!(h.message_id, "<tend.123.1772528400000.ev-1@shop.example>");
    assert_eq!(h.in_reply_to.as_deref(), Some("<parent@mail.example>"));
    assert_eq!(
        h.references.as_deref(),
        Some("<root@mail.example> <parent@mail.example>")
    );
    assert!(h
        .subject
        .starts_with("Re: Kettle Bcc: x@evil.example [#123-"));
    assert!(!h.subject.contains(['\r', '\n']));
    assert_eq!(find_subject_tag(SECRET, &h.subject), Some(123));
    assert_eq!(find_token_address(SECRET, &h.reply_to), Some(123));
    assert!(h.reply_to.starts_with("support+t123."));
    assert_eq!(h.date, "Tue, 3 Mar 2026 09:00:00 +0000");
    assert_eq!(h.list_unsubscribe, None);
    assert_eq!(h.auto_submitted, None);
    // A second reply does not stack prefixes or tags.
    let again = outbound_headers(&ReplyContext {
        subject: &h.subject,
        ..ctx(&refs, OutboundKind::AgentReply)
    });
    assert_eq!(again.subject, h.subject);
}

#[test]
fn notifications_carry_unsubscribe_and_auto_submitted() {
    let h = outbound_headers(&ctx(
        &[],
        OutboundKind::Notification {
            unsubscribe_url: Some("https://shop.example/u/abc".into()),
            unsubscribe_mailto: Some("unsubscribe@shop.example".into()),
        },
    ));
    assert_eq!(
        h.list_unsubscribe.as_deref(),
        Some("<https://shop.example/u/abc>, <mailto:unsubscribe@shop.example>")
    );
    assert_eq!(
        h.list_unsubscribe_post.as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(h.auto_submitted.as_deref(), Some("auto-generated"));
    let h = outbound_headers(&ctx(&[], OutboundKind::AutoReply));
    assert_eq!(h.auto_submitted.as_deref(), Some("auto-replied"));
    assert_eq!(h.x_auto_response_suppress.as_deref(), Some("All"));
    assert_eq!(h.list_unsubscribe, None);
}

#[test]
fn long_reference_chains_keep_root_and_newest() {
    let refs: Vec<String> = (0..50).map(|i| format!("m{i}@x.example")).collect();
    let h = outbound_headers(&ctx(&refs, OutboundKind::AgentReply));
    let chain: Vec<&str> = h.references.as_deref().unwrap().split(' ').collect();
    assert_eq!(chain.len(), tend_mail::MAX_REFERENCES);
    assert_eq!(chain[0], "<m0@x.example>");
    assert_eq!(chain[1], "<m32@x.example>");
    assert_eq!(*chain.last().unwrap(), "<parent@mail.example>");
}
