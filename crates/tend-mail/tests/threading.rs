//! Threading decisions on real-client corpus mails and forged variants.

mod common;

use std::collections::HashMap;

use tend_mail::{
    outbound_headers, parse, reply_to_address, subject_tag, thread, Inbound, JoinVia, Mailbox,
    OutboundKind, ReplyContext, ReviewReason, ThreadDecision, ThreadStore, ThreadingContext,
    TicketId,
};

const SECRET: &[u8] = b"corpus-secret";
/// Our reply on ticket 4711 that the corpus replies answer.
const OURS_1: &str = "tend.4711.1772528400000.ev1@shop.example";
const OURS_2: &str = "tend.4711.1772532000000.ev2@shop.example";

#[derive(Default)]
struct Store {
    by_message_id: HashMap<String, TicketId>,
    participants: HashMap<TicketId, Vec<String>>,
    staff: Vec<String>,
}

impl Store {
    fn ticket_4711(participants: &[&str]) -> Store {
        let mut s = Store::default();
        s.by_message_id.insert(OURS_1.into(), 4711);
        s.participants.insert(
            4711,
            participants
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        );
        s.staff = vec!["mia@shop.example".into()];
        s
    }
}

impl ThreadStore for Store {
    fn find_by_message_id(&self, id: &str) -> Option<(TicketId, Vec<String>)> {
        let t = *self.by_message_id.get(id)?;
        Some((t, self.participants.get(&t).cloned().unwrap_or_default()))
    }
    fn participants(&self, ticket_id: TicketId) -> Option<Vec<String>> {
        self.participants.get(&ticket_id).cloned()
    }
    fn is_staff(&self, address: &str) -> bool {
        self.staff.iter().any(|s| s == address)
    }
}

fn mail(name: &str) -> Inbound {
    let raw = std::fs::read(common::corpus_dir().join(name)).unwrap();
    parse(&raw).unwrap()
}

fn decide(m: &Inbound, store: &Store) -> ThreadDecision {
    thread(
        m,
        &ThreadingContext {
            secret: SECRET,
            store,
        },
    )
}

fn mailbox(address: &str) -> Mailbox {
    Mailbox {
        address: address.into(),
        name: None,
    }
}

#[test]
fn outlook_reply_joins_by_in_reply_to() {
    let store = Store::ticket_4711(&["tom.weber@contoso.example", "agent@shop.example"]);
    assert_eq!(
        decide(&mail("b024-outlook-desktop-reply.eml"), &store),
        ThreadDecision::Join {
            ticket_id: 4711,
            via: JoinVia::InReplyTo
        }
    );
}

#[test]
fn gmail_reply_joins_by_references_when_in_reply_to_is_unknown() {
    // b043 answers ev2, which this store never saw; References still holds ev1.
    let store = Store::ticket_4711(&["anna.berg@gmail.example"]);
    let m = mail("b043-reply-with-references.eml");
    assert_eq!(m.in_reply_to, vec![OURS_2.to_string()]);
    assert_eq!(
        decide(&m, &store),
        ThreadDecision::Join {
            ticket_id: 4711,
            via: JoinVia::References
        }
    );
}

#[test]
fn participants_compare_case_insensitively() {
    let store = Store::ticket_4711(&["Tom.Weber@Contoso.EXAMPLE"]);
    assert!(matches!(
        decide(&mail("b024-outlook-desktop-reply.eml"), &store),
        ThreadDecision::Join { .. }
    ));
}

#[test]
fn token_in_reply_to_address_joins() {
    let store = Store::ticket_4711(&["anna.berg@gmail.example"]);
    let m = mail("b044-reply-to-token-address.eml");
    assert!(m.in_reply_to.is_empty() && m.references.is_empty());
    assert_eq!(
        decide(&m, &store),
        ThreadDecision::Join {
            ticket_id: 4711,
            via: JoinVia::ReplyToToken
        }
    );
}

#[test]
fn subject_tag_joins() {
    let store = Store::ticket_4711(&["anna.berg@gmail.example"]);
    assert_eq!(
        decide(&mail("b045-reply-subject-tag-only.eml"), &store),
        ThreadDecision::Join {
            ticket_id: 4711,
            via: JoinVia::SubjectTag
        }
    );
}

#[test]
fn valid_token_from_non_participant_goes_to_review() {
    let store = Store::ticket_4711(&["someone.else@example.com"]);
    assert_eq!(
        decide(&mail("b044-reply-to-token-address.eml"), &store),
        ThreadDecision::Review {
            ticket_id: Some(4711),
            reason: ReviewReason::NotParticipant {
                via: JoinVia::ReplyToToken,
                sender: "anna.berg@gmail.example".into()
            }
        }
    );
}

#[test]
fn token_for_unknown_ticket_goes_to_review() {
    let store = Store::default();
    assert!(matches!(
        decide(&mail("b044-reply-to-token-address.eml"), &store),
        ThreadDecision::Review {
            ticket_id: Some(4711),
            reason: ReviewReason::UnknownTicket { .. }
        }
    ));
}

#[test]
fn forged_in_reply_to_from_stranger_opens_own_ticket() {
    let store = Store::ticket_4711(&["anna.berg@gmail.example"]);
    let raw = format!(
        "From: Mallory <mallory@evil.example>\r\nTo: support@shop.example\r\n\
         Subject: Re: Kettle does not switch on\r\nMessage-ID: <forged1@evil.example>\r\n\
         In-Reply-To: <{OURS_1}>\r\nReferences: <{OURS_1}>\r\n\r\nPlease send the refund to my account.\r\n"
    );
    assert_eq!(
        decide(&parse(raw.as_bytes()).unwrap(), &store),
        ThreadDecision::NewTicket {
            requester: Mailbox {
                address: "mallory@evil.example".into(),
                name: Some("Mallory".into())
            },
            forwarded_by: None
        }
    );
}

#[test]
fn forged_tokens_are_ignored() {
    let store = Store::ticket_4711(&["mallory@evil.example"]);
    // Right shape, wrong MAC: neither the subject tag nor the plus address verify.
    let raw = "From: mallory@evil.example\r\nTo: support+t4711.0123456789@shop.example\r\n\
               Subject: Re: [#4711-000000]\r\nMessage-ID: <forged2@evil.example>\r\n\r\nhi\r\n";
    assert_eq!(
        decide(&parse(raw.as_bytes()).unwrap(), &store),
        ThreadDecision::NewTicket {
            requester: mailbox("mallory@evil.example"),
            forwarded_by: None
        }
    );
    // Another ticket's valid tag with the id swapped does not verify either.
    let other = subject_tag(SECRET, 4712).replace("4712", "4711");
    let raw = format!(
        "From: mallory@evil.example\r\nTo: support@shop.example\r\nSubject: Re: {other}\r\n\r\nhi\r\n"
    );
    assert!(matches!(
        decide(&parse(raw.as_bytes()).unwrap(), &store),
        ThreadDecision::NewTicket { .. }
    ));
}

#[test]
fn forward_by_staff_opens_ticket_for_original_sender() {
    let store = Store::ticket_4711(&[]);
    assert_eq!(
        decide(&mail("c046-gmail-forward.eml"), &store),
        ThreadDecision::NewTicket {
            requester: Mailbox {
                address: "olga.petrova@example.com".into(),
                name: Some("Olga Petrova".into())
            },
            forwarded_by: Some(Mailbox {
                address: "mia@shop.example".into(),
                name: Some("Mia Sales".into())
            })
        }
    );
}

#[test]
fn forward_by_outsider_keeps_the_forwarder_as_requester() {
    let mut store = Store::ticket_4711(&[]);
    store.staff.clear();
    let d = decide(&mail("c048-outlook-german-forward.eml"), &store);
    let ThreadDecision::NewTicket {
        requester,
        forwarded_by,
    } = d
    else {
        panic!("{d:?}");
    };
    assert_eq!(requester.address, "otto@shop.example");
    assert_eq!(forwarded_by.unwrap().address, "otto@shop.example");
}

#[test]
fn forwards_in_every_corpus_language_are_recognised() {
    let mut store = Store::default();
    for (file, forwarder, original) in [
        (
            "c046-gmail-forward.eml",
            "mia@shop.example",
            "olga.petrova@example.com",
        ),
        (
            "c047-outlook-forward.eml",
            "niklas@shop.example",
            "paul.quast@example.org",
        ),
        (
            "c048-outlook-german-forward.eml",
            "otto@shop.example",
            "rita.sommer@example.de",
        ),
        (
            "c049-thunderbird-french-forward.eml",
            "pierre@shop.example",
            "simone@example.fr",
        ),
        (
            "c050-gmail-spanish-forward.eml",
            "raquel@shop.example",
            "tomas@example.es",
        ),
        (
            "c051-apple-forward.eml",
            "sam@shop.example",
            "ulla.voss@icloud.example",
        ),
    ] {
        store.staff = vec![forwarder.to_string()];
        match decide(&mail(file), &store) {
            ThreadDecision::NewTicket {
                requester,
                forwarded_by: Some(by),
            } => {
                assert_eq!(requester.address, original, "{file}");
                assert_eq!(by.address, forwarder, "{file}");
            }
            d => panic!("{file}: {d:?}"),
        }
    }
}

#[test]
fn known_message_id_is_duplicate() {
    let mut store = Store::ticket_4711(&["tom.weber@contoso.example"]);
    let m = mail("b024-outlook-desktop-reply.eml");
    store
        .by_message_id
        .insert(m.message_id.clone().unwrap(), 4711);
    assert_eq!(
        decide(&m, &store),
        ThreadDecision::Duplicate { ticket_id: 4711 }
    );
}

#[test]
fn mail_without_sender_goes_to_review() {
    let store = Store::default();
    assert_eq!(
        decide(&mail("g107-no-from.eml"), &store),
        ThreadDecision::Review {
            ticket_id: None,
            reason: ReviewReason::NoSender
        }
    );
}

#[test]
fn a_new_mail_opens_a_ticket() {
    let store = Store::ticket_4711(&["anna.berg@example.com"]);
    assert_eq!(
        decide(&mail("a001-plain-ascii.eml"), &store),
        ThreadDecision::NewTicket {
            requester: Mailbox {
                address: "anna.berg@example.com".into(),
                name: Some("Anna Berg".into())
            },
            forwarded_by: None
        }
    );
}

#[test]
fn our_outbound_headers_thread_the_customer_reply() {
    // We reply on ticket 99 to a customer mail; the customer's client answers our mail.
    let customer = mail("a001-plain-ascii.eml");
    let ours = outbound_headers(&ReplyContext {
        ticket_id: 99,
        secret: SECRET,
        support_address: "support@shop.example",
        domain: "shop.example",
        unique: "ev42",
        now: chrono::DateTime::from_timestamp(1_772_528_400, 0).unwrap(),
        subject: &customer.subject,
        parent_message_id: customer.message_id.as_deref(),
        parent_references: &customer.references,
        kind: OutboundKind::AgentReply,
    });
    let our_id = ours.message_id.trim_matches(['<', '>']).to_string();
    let reply = format!(
        "From: Anna Berg <anna.berg@example.com>\r\nTo: {}\r\nSubject: Re: {}\r\n\
         Message-ID: <r1@example.com>\r\nIn-Reply-To: {}\r\nReferences: {} {}\r\n\r\nThanks!\r\n",
        ours.reply_to,
        ours.subject,
        ours.message_id,
        ours.references.as_deref().unwrap(),
        ours.message_id
    );
    let reply = parse(reply.as_bytes()).unwrap();
    let mut store = Store::default();
    store
        .participants
        .insert(99, vec!["anna.berg@example.com".into()]);
    // Token first…
    assert_eq!(
        decide(&reply, &store),
        ThreadDecision::Join {
            ticket_id: 99,
            via: JoinVia::ReplyToToken
        }
    );
    // …and the headers alone suffice when the client dropped the plus address.
    store.by_message_id.insert(our_id, 99);
    let mut plain = reply.clone();
    plain.to = vec![mailbox("support@shop.example")];
    plain.subject = "Re: Order 1001 has not arrived".into();
    assert_eq!(
        decide(&plain, &store),
        ThreadDecision::Join {
            ticket_id: 99,
            via: JoinVia::InReplyTo
        }
    );
    assert_eq!(
        reply_to_address("support@shop.example", SECRET, 99),
        ours.reply_to
    );
}
