//! The engine through its public API: languages, typos, prefixes, phrases, snippets,
//! filters and authorization, hostile queries, checkpoints on disk, deletes and rebuilds.

use tend_search::{
    ArticleDoc, ArticleOp, KbQuery, Search, SearchError, TicketBatch, TicketDoc, TicketOp,
    TicketQuery,
};

fn art(id: i64, locale: &str, title: &str, body: &str) -> ArticleDoc {
    ArticleDoc {
        article_id: id,
        locale: locale.into(),
        title: title.into(),
        body_text: body.into(),
        public: true,
        published: true,
        ..Default::default()
    }
}

fn kb(docs: Vec<ArticleDoc>) -> Search {
    let s = Search::open_in_ram().unwrap();
    s.kb()
        .apply(docs.into_iter().map(ArticleOp::Upsert), 1)
        .unwrap();
    s
}

fn ids(s: &Search, q: KbQuery) -> Vec<i64> {
    s.kb()
        .search(&q)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id)
        .collect()
}

fn q(text: &str) -> KbQuery {
    KbQuery::new(text)
}

fn ql(text: &str, locale: &str) -> KbQuery {
    KbQuery {
        locale: Some(locale.into()),
        ..KbQuery::new(text)
    }
}

#[test]
fn stemming_per_language() {
    let s = kb(vec![
        art(1, "en", "Payment methods", "We accept one payment by card."),
        art(
            2,
            "de",
            "Ihre Rechnung",
            "Die Rechnung finden Sie im Kundenkonto.",
        ),
        art(
            3,
            "fr",
            "Remboursement",
            "Le remboursement arrive sous 5 jours.",
        ),
        art(4, "es", "Devoluciones", "Cómo hacer una devolución."),
        art(5, "nl", "Bestelling volgen", "Volg uw bestelling online."),
        art(6, "it", "Spedizione", "Tempi di spedizione."),
        art(7, "pt-BR", "Encomenda", "Acompanhe a sua encomenda."),
    ]);
    assert_eq!(ids(&s, q("payments")), vec![1]);
    assert_eq!(ids(&s, ql("Rechnungen", "de")), vec![2]);
    assert_eq!(ids(&s, ql("remboursements", "fr")), vec![3]);
    assert_eq!(ids(&s, ql("devoluciones", "es")), vec![4]);
    assert_eq!(ids(&s, ql("bestellingen", "nl")), vec![5]);
    assert_eq!(ids(&s, ql("spedizioni", "it")), vec![6]);
    assert_eq!(ids(&s, ql("encomendas", "pt")), vec![7]);
    // Without a locale every language is searched, each with its own analyzer.
    assert_eq!(ids(&s, q("Rechnungen")), vec![2]);
    // A language filter keeps other languages out.
    assert!(ids(&s, ql("payments", "de")).is_empty());
}

#[test]
fn typos_rank_below_exact_matches() {
    let s = kb(vec![
        art(1, "en", "Refund policy", "How a refund is paid back."),
        art(2, "en", "Password", "Reset your password here."),
        art(
            3,
            "en",
            "Shipping",
            "We ship the paymant slip with the parcel.",
        ),
        art(4, "en", "Payment", "Your payment is safe."),
    ]);
    assert_eq!(ids(&s, q("refnud")), vec![1]);
    assert_eq!(ids(&s, q("pasword reset")), vec![2]);
    assert_eq!(
        ids(&s, q("payment")),
        vec![4, 3],
        "exact first, typo match after"
    );
    // A 4-letter word the index knows is not fuzzy ("card" must not find "cart")…
    let s = kb(vec![
        art(1, "en", "Cart", "Your shopping cart."),
        art(2, "en", "Card", "Pay by card."),
    ]);
    assert_eq!(ids(&s, q("card ")), vec![2]);
    // … one it does not know is ("trak" finds "track").
    let s = kb(vec![art(1, "en", "Tracking", "Track your parcel.")]);
    assert_eq!(ids(&s, q("trak ")), vec![1]);
    // Two words run together.
    let s = kb(vec![art(1, "en", "Gift cards", "Buy a gift card.")]);
    assert_eq!(ids(&s, q("giftcard ")), vec![1]);
}

#[test]
fn prefix_on_the_last_word_only() {
    let s = kb(vec![
        art(1, "en", "Password", "Reset your password."),
        art(2, "en", "Parcel", "Where is my parcel?"),
    ]);
    assert_eq!(ids(&s, q("passw")), vec![1]);
    assert_eq!(ids(&s, q("reset passw")), vec![1]);
    assert!(
        ids(&s, q("passw ")).is_empty(),
        "a finished word is not a prefix"
    );
    assert!(ids(&s, q("pa")).is_empty(), "prefixes need 3 characters");
    assert_eq!(ids(&s, q("parc")), vec![2]);
}

#[test]
fn phrases_need_the_words_in_order() {
    let s = kb(vec![
        art(1, "en", "Credit card", "Pay by credit card."),
        art(2, "en", "Gift card", "A card with store credit."),
    ]);
    assert_eq!(ids(&s, q("\"credit card\"")), vec![1]);
    let mut both = ids(&s, q("credit card"));
    both.sort();
    assert_eq!(both, vec![1, 2]);
    // Unbalanced quote: plain words.
    assert_eq!(ids(&s, q("\"credit card")).len(), 2);
    // A phrase with stop words inside.
    let s = kb(vec![art(
        1,
        "en",
        "Terms",
        "the right of withdrawal applies",
    )]);
    assert_eq!(ids(&s, q("\"right of withdrawal\"")), vec![1]);
    assert!(ids(&s, q("\"withdrawal of right\"")).is_empty());
}

#[test]
fn snippets_are_escaped_and_marked() {
    let s = kb(vec![art(
        1,
        "en",
        "<b>Refunds</b>",
        "<script>alert('x')</script> & your refund \"now\"",
    )]);
    let r = s.kb().search(&q("refund")).unwrap();
    let h = &r.hits[0];
    assert_eq!(
        h.title, "<b>Refunds</b>",
        "titles are plain text for the caller to escape"
    );
    assert_eq!(
        h.snippet,
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; your <mark>refund</mark> &quot;now&quot;"
    );
    let r = s.kb().search(&q("script")).unwrap();
    let stripped = r.hits[0]
        .snippet
        .replace("<mark>", "")
        .replace("</mark>", "");
    assert!(
        !stripped.contains('<') && !stripped.contains('>'),
        "{}",
        r.hits[0].snippet
    );
}

#[test]
fn kb_filters() {
    let mut a = art(1, "de-CH", "Versand", "Versand in die Schweiz.");
    a.category_id = Some(10);
    a.section_id = Some(100);
    a.brand_id = Some(7);
    let mut b = art(2, "de", "Versand", "Versand nach Deutschland.");
    b.public = false;
    let mut c = art(3, "de", "Versand", "Versand (Entwurf).");
    c.published = false;
    let s = kb(vec![a, b, c]);
    let all = |k: KbQuery| {
        let mut v = ids(&s, k);
        v.sort();
        v
    };
    assert_eq!(all(ql("versand", "de")), vec![1, 2, 3]);
    assert_eq!(all(ql("versand", "de-CH")), vec![1]);
    assert_eq!(all(ql("versand", "de_ch")), vec![1]);
    assert_eq!(all(ql("versand", "fr")), Vec::<i64>::new());
    assert_eq!(
        all(KbQuery {
            public_only: true,
            published_only: true,
            ..q("versand")
        }),
        vec![1]
    );
    assert_eq!(
        all(KbQuery {
            public_only: true,
            ..q("versand")
        }),
        vec![1, 3]
    );
    for (cat, sec, brand, want) in [
        (Some(10), None, None, vec![1]),
        (None, Some(100), None, vec![1]),
        (None, None, Some(7), vec![1]),
        (Some(11), None, None, vec![]),
    ] {
        assert_eq!(
            all(KbQuery {
                category_id: cat,
                section_id: sec,
                brand_id: brand,
                ..q("versand")
            }),
            want
        );
    }
}

fn ticket(
    id: i64,
    group: Option<i64>,
    assignee: Option<i64>,
    status: &str,
    text: &str,
) -> TicketDoc {
    TicketDoc {
        ticket_id: id,
        group_id: group,
        assignee_id: assignee,
        customer_id: Some(id % 3),
        organization_id: None,
        status: status.into(),
        subject: format!("Ticket {id}"),
        messages: vec![text.into(), "internal note: checked".into()],
        tags: vec!["vip".into()],
        updated_at: 1_700_000_000 + id,
    }
}

fn tids(s: &Search, q: &TicketQuery) -> Vec<i64> {
    let mut v: Vec<i64> = s
        .tickets()
        .search(q)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id)
        .collect();
    v.sort();
    v
}

#[test]
fn agents_only_find_tickets_they_may_open() {
    let s = Search::open_in_ram().unwrap();
    s.tickets()
        .apply(
            vec![
                ticket(1, Some(1), None, "open", "refund please"),
                ticket(2, Some(2), None, "open", "refund please"),
                ticket(3, Some(3), Some(50), "solved", "refund please"),
                ticket(4, None, None, "new", "refund please"),
                ticket(5, None, Some(50), "open", "refund please"),
            ]
            .into_iter()
            .map(TicketOp::Upsert),
            10,
        )
        .unwrap();
    let admin = TicketQuery::new("refund");
    assert_eq!(tids(&s, &admin), vec![1, 2, 3, 4, 5]);
    let agent = TicketQuery {
        allowed_groups: Some(vec![1]),
        assigned_to: Some(50),
        ..TicketQuery::new("refund")
    };
    assert_eq!(tids(&s, &agent), vec![1, 3, 5]);
    let other = TicketQuery {
        allowed_groups: Some(vec![]),
        assigned_to: Some(51),
        ..TicketQuery::new("refund")
    };
    assert!(tids(&s, &other).is_empty());
    let nothing = TicketQuery {
        allowed_groups: Some(vec![]),
        ..TicketQuery::new("refund")
    };
    assert!(tids(&s, &nothing).is_empty());
    // The same rule as Viewer::can_see.
    let v = tend_core::Viewer {
        agent_id: 50,
        role: tend_core::Role::Agent,
        group_ids: vec![2],
    };
    assert_eq!(
        tids(&s, &TicketQuery::new("refund").visible_to(&v)),
        vec![2, 3, 5]
    );
    let sup = tend_core::Viewer {
        role: tend_core::Role::Supervisor,
        ..v
    };
    assert_eq!(
        tids(&s, &TicketQuery::new("refund").visible_to(&sup)).len(),
        5
    );
    // Status and customer filters, internal notes and tags are searchable.
    let st = TicketQuery {
        statuses: vec!["open".into(), "new".into()],
        ..TicketQuery::new("refund")
    };
    assert_eq!(tids(&s, &st), vec![1, 2, 4, 5]);
    let cust = TicketQuery {
        customer_id: Some(1),
        ..TicketQuery::new("refund")
    };
    assert_eq!(tids(&s, &cust), vec![1, 4]);
    assert_eq!(tids(&s, &TicketQuery::new("internal checked")).len(), 5);
    assert_eq!(tids(&s, &TicketQuery::new("vip refund")).len(), 5);
    // Every word must match in tickets.
    assert!(tids(&s, &TicketQuery::new("refund zebrafish")).is_empty());
}

#[test]
fn totals_and_pages() {
    let s = Search::open_in_ram().unwrap();
    s.tickets()
        .apply(
            (1..=30).map(|i| TicketOp::Upsert(ticket(i, Some(1), None, "open", "parcel lost"))),
            1,
        )
        .unwrap();
    let mut seen = Vec::new();
    for page in 0..4 {
        let r = s
            .tickets()
            .search(&TicketQuery {
                limit: 10,
                offset: page * 10,
                ..TicketQuery::new("parcel")
            })
            .unwrap();
        assert_eq!(r.total, 30);
        seen.extend(r.hits.iter().map(|h| h.id));
    }
    seen.sort();
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
    let r = s
        .tickets()
        .search(&TicketQuery {
            limit: 0,
            ..TicketQuery::new("parcel")
        })
        .unwrap();
    assert_eq!((r.hits.len(), r.total), (0, 30));
    let r = s
        .tickets()
        .search(&TicketQuery {
            limit: 1_000_000,
            offset: usize::MAX,
            ..TicketQuery::new("parcel")
        })
        .unwrap();
    assert!(r.hits.is_empty());
}

#[test]
fn hostile_queries_never_fail() {
    let s = kb(vec![
        art(1, "en", "Refund", "refund money back"),
        art(2, "ja", "返金", "返金について"),
    ]);
    s.tickets()
        .apply(
            vec![TicketOp::Upsert(ticket(1, Some(1), None, "open", "refund"))],
            1,
        )
        .unwrap();
    let long_word = "a".repeat(10_000);
    let long_text = "refund ".repeat(2_000);
    let many_words: String = (0..5_000).map(|i| format!("w{i} ")).collect();
    let nasty: Vec<String> = vec![
        long_word,
        long_text.clone(),
        many_words,
        "!!!???...,,,;;;".into(),
        "\"".into(),
        "\"\"\"".into(),
        "\"refund".into(),
        "refund\"".into(),
        "\u{0}\u{1}\u{7f}\r\n\t".into(),
        "re\u{0}fund".into(),
        "*:?~^()[]{}+-!&&||\\/".into(),
        "title:refund AND body:x OR NOT y".into(),
        "🦀🦀🦀 refund 🦀".into(),
        "\u{202e}dnufer".into(),
        "ǅ İ ß ﬃ".into(),
        "99999999999999999999999999999999".into(),
        "".into(),
        " ".into(),
        "返金".into(),
    ];
    for text in &nasty {
        for locale in [
            None,
            Some("en"),
            Some("xx-YY"),
            Some("<script>"),
            Some(""),
            Some("ja"),
        ] {
            let r = s.kb().search(&KbQuery {
                locale: locale.map(String::from),
                ..q(text)
            });
            assert!(r.is_ok(), "{text:?} {locale:?}: {r:?}");
        }
        let r = s.tickets().search(&TicketQuery::new(text.clone()));
        assert!(r.is_ok(), "{text:?}: {r:?}");
    }
    // Sensible answers, not just no errors.
    assert_eq!(ids(&s, q(&long_text)), vec![1]);
    assert_eq!(ids(&s, q("title:refund")), vec![1]);
    assert_eq!(ids(&s, q("🦀🦀🦀 refund 🦀")), vec![1]);
    assert_eq!(ids(&s, ql("返金", "ja")), vec![2]);
    assert!(ids(&s, q("!!!???")).is_empty());
}

#[test]
fn checkpoint_and_documents_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Search::open(dir.path()).unwrap();
        assert_eq!(s.tickets().checkpoint(), 0);
        assert_eq!(s.kb().checkpoint(), 0);
        s.tickets()
            .apply(
                vec![TicketOp::Upsert(ticket(
                    1,
                    Some(1),
                    None,
                    "open",
                    "zebrafish",
                ))],
                42,
            )
            .unwrap();
        s.kb()
            .apply(
                vec![ArticleOp::Upsert(art(9, "en", "Warranty", "two years"))],
                7,
            )
            .unwrap();
        // A rebuild that is never finished leaves the committed index alone.
        let mut rb = s.tickets().rebuild_begin().unwrap();
        rb.add(vec![ticket(2, Some(1), None, "open", "quokka")])
            .unwrap();
        let err = s.tickets().apply(vec![], 43).unwrap_err();
        assert!(matches!(err, SearchError::Rebuilding(_)), "{err}");
        drop(rb);
        assert_eq!(s.tickets().checkpoint(), 42);
        // A second handle on the same directory cannot write.
        assert!(matches!(
            Search::open(dir.path()).err(),
            Some(SearchError::Locked(_))
        ));
    }
    let s = Search::open(dir.path()).unwrap();
    assert_eq!(s.tickets().checkpoint(), 42);
    assert_eq!(s.kb().checkpoint(), 7);
    assert_eq!(tids(&s, &TicketQuery::new("zebrafish")), vec![1]);
    assert!(tids(&s, &TicketQuery::new("quokka")).is_empty());
    assert_eq!(ids(&s, q("warranty")), vec![9]);
}

#[test]
fn upserts_replace_and_deletes_remove() {
    let s = kb(vec![
        art(1, "en", "Returns", "Send it back"),
        art(1, "de", "Rücksendung", "Schicken Sie es zurück"),
        art(2, "en", "Returns for gifts", "Send a gift back"),
    ]);
    s.kb()
        .apply(
            vec![ArticleOp::Upsert(art(1, "en", "Returns", "Return label"))],
            2,
        )
        .unwrap();
    assert_eq!(
        s.kb().num_docs(),
        3,
        "an upsert replaces its (article, locale)"
    );
    assert_eq!(ids(&s, q("label")), vec![1]);
    assert_eq!(ids(&s, q("back")), vec![2]);
    s.kb()
        .apply(
            vec![ArticleOp::DeleteLocale {
                article_id: 2,
                locale: "EN".into(),
            }],
            3,
        )
        .unwrap();
    assert!(ids(&s, q("gift")).is_empty());
    s.kb()
        .apply(vec![ArticleOp::Delete { article_id: 1 }], 4)
        .unwrap();
    assert_eq!(s.kb().num_docs(), 0, "a delete removes every locale");
    assert_eq!(s.kb().checkpoint(), 4);

    s.tickets()
        .apply(
            vec![
                TicketOp::Upsert(ticket(1, Some(1), None, "open", "marzipan")),
                TicketOp::Upsert(ticket(1, Some(1), None, "solved", "theremin")),
                TicketOp::Upsert(ticket(2, Some(1), None, "open", "marzipan")),
                TicketOp::Delete(2),
            ],
            5,
        )
        .unwrap();
    assert!(tids(&s, &TicketQuery::new("marzipan")).is_empty());
    let r = s.tickets().search(&TicketQuery::new("theremin")).unwrap();
    assert_eq!(r.hits.len(), 1);
    assert_eq!(r.hits[0].status.as_deref(), Some("solved"));
}

/// The call failed because its staged batch is void.
fn void(r: Result<(), SearchError>) {
    match r {
        Err(SearchError::Rebuilding(_)) => {}
        other => panic!("expected a void batch (Rebuilding), got {other:?}"),
    }
}

#[test]
fn a_staged_batch_shows_up_whole_at_its_commit() {
    let s = Search::open_in_ram().unwrap();
    let ix = s.tickets();
    let up = |id: i64, text: &str| TicketOp::Upsert(ticket(id, Some(1), None, "open", text));
    let mut b = TicketBatch::default();
    ix.stage(&mut b, vec![up(1, "wombat"), up(2, "wombat")])
        .unwrap();
    // A later chunk of the same batch replaces a ticket of an earlier one and removes another.
    ix.stage(
        &mut b,
        vec![up(1, "numbat"), TicketOp::Delete(2), up(3, "wombat")],
    )
    .unwrap();
    assert!(
        tids(&s, &TicketQuery::new("wombat")).is_empty(),
        "nothing before the commit"
    );
    assert_eq!(ix.checkpoint(), 0);
    ix.commit_batch(b, 17).unwrap();
    assert_eq!(ix.checkpoint(), 17);
    assert_eq!(tids(&s, &TicketQuery::new("wombat")), vec![3]);
    assert_eq!(tids(&s, &TicketQuery::new("numbat")), vec![1]);
    assert_eq!(ix.num_docs(), 2);

    // A batch that an `apply` overtakes is void: its staged ticket never shows up and its
    // commit (which would move the checkpoint past the dropped ticket) fails.
    let mut b = TicketBatch::default();
    ix.stage(&mut b, vec![up(4, "quokka")]).unwrap();
    ix.apply(vec![up(5, "dingo")], 18).unwrap();
    void(ix.stage(&mut b, vec![up(6, "quokka")]));
    void(ix.commit_batch(b, 30));
    assert_eq!(ix.checkpoint(), 18);
    assert!(tids(&s, &TicketQuery::new("quokka")).is_empty());
    assert_eq!(tids(&s, &TicketQuery::new("dingo")), vec![5]);

    // So is one that a rebuild overtakes, even after the rebuild finished.
    let mut b = TicketBatch::default();
    ix.stage(&mut b, vec![up(7, "quokka")]).unwrap();
    let mut rb = ix.rebuild_begin().unwrap();
    void(ix.stage(&mut b, vec![up(8, "quokka")]));
    rb.add(vec![ticket(9, Some(1), None, "open", "koala")])
        .unwrap();
    rb.finish(40).unwrap();
    void(ix.commit_batch(b, 50));
    assert_eq!(ix.checkpoint(), 40);
    assert!(tids(&s, &TicketQuery::new("quokka")).is_empty());
    assert_eq!(tids(&s, &TicketQuery::new("koala")), vec![9]);

    // A new batch after an abandoned one starts clean; an empty batch commits the checkpoint.
    {
        let mut abandoned = TicketBatch::default();
        ix.stage(&mut abandoned, vec![up(10, "quokka")]).unwrap();
    }
    let mut b = TicketBatch::default();
    ix.stage(&mut b, vec![up(11, "platypus")]).unwrap();
    ix.commit_batch(b, 60).unwrap();
    assert!(tids(&s, &TicketQuery::new("quokka")).is_empty());
    assert_eq!(tids(&s, &TicketQuery::new("platypus")), vec![11]);
    ix.commit_batch(TicketBatch::default(), 61).unwrap();
    assert_eq!(ix.checkpoint(), 61);
}

#[test]
fn a_rebuild_swaps_in_at_its_end() {
    let s = Search::open_in_ram().unwrap();
    s.tickets()
        .apply(
            vec![TicketOp::Upsert(ticket(
                1,
                Some(1),
                None,
                "open",
                "old text",
            ))],
            5,
        )
        .unwrap();
    let mut rb = s.tickets().rebuild_begin().unwrap();
    rb.add((10..20).map(|i| ticket(i, Some(1), None, "open", "new text")))
        .unwrap();
    assert_eq!(
        tids(&s, &TicketQuery::new("old")),
        vec![1],
        "old index until the swap"
    );
    assert_eq!(rb.finish(99).unwrap(), 10);
    assert!(tids(&s, &TicketQuery::new("old")).is_empty());
    assert_eq!(tids(&s, &TicketQuery::new("new")).len(), 10);
    assert_eq!(s.tickets().checkpoint(), 99);
}

#[test]
fn html_to_text_for_articles() {
    assert_eq!(
        tend_search::html_to_text("<h2>Returns</h2><p>Within <em>30</em> days</p>"),
        "Returns\nWithin 30 days"
    );
}

#[test]
fn common_words_get_no_typo_or_prefix_variants() {
    let s = Search::open_in_ram().unwrap();
    let mut docs: Vec<TicketOp> = (1..=1_200)
        .map(|i| TicketOp::Upsert(ticket(i, Some(1), None, "open", "where is my package")))
        .collect();
    docs.push(TicketOp::Upsert(ticket(
        5_000,
        Some(1),
        None,
        "open",
        "my pakcage",
    )));
    docs.push(TicketOp::Upsert(ticket(
        5_001,
        Some(1),
        None,
        "open",
        "the packageless form",
    )));
    s.tickets().apply(docs, 1).unwrap();
    // "package" is in 1,200 of 1,202 documents: no typo ("pakcage") or prefix
    // ("packageless") variants.
    let r = s.tickets().search(&TicketQuery::new("package")).unwrap();
    assert_eq!(r.total, 1_200);
    // A rare word still gets both.
    let r = s.tickets().search(&TicketQuery::new("pakcage")).unwrap();
    assert_eq!(
        r.total, 1_201,
        "typo variants of a rare word reach the common one"
    );
    assert_eq!(r.hits[0].id, 5_000, "the exact match first");
    let r = s.tickets().search(&TicketQuery::new("packagel")).unwrap();
    assert_eq!(r.hits[0].id, 5_001, "prefix of an unknown word");
}

#[test]
fn ticket_words_that_fill_a_page_get_no_typo_variants() {
    let s = Search::open_in_ram().unwrap();
    let mut docs: Vec<TicketOp> = (1..=49)
        .map(|i| TicketOp::Upsert(ticket(i, Some(1), None, "open", "a zebrafish tank")))
        .collect();
    docs.push(TicketOp::Upsert(ticket(
        1_000,
        Some(1),
        None,
        "open",
        "a zebrafisch tank",
    )));
    s.tickets().apply(docs, 1).unwrap();
    // 49 tickets: fewer than a page's worth, the typo variant still counts.
    let r = s.tickets().search(&TicketQuery::new("zebrafish ")).unwrap();
    assert_eq!(r.total, 50, "typo variants below 50 exact matches");
    assert_ne!(r.hits[0].id, 1_000, "the exact matches first");
    s.tickets()
        .apply(
            vec![TicketOp::Upsert(ticket(
                50,
                Some(1),
                None,
                "open",
                "a zebrafish tank",
            ))],
            2,
        )
        .unwrap();
    // 50 tickets hold the word: it is what the agent meant.
    let r = s.tickets().search(&TicketQuery::new("zebrafish ")).unwrap();
    assert_eq!(r.total, 50, "no typo variants at 50 exact matches");
    assert!(r.hits.iter().all(|h| h.id != 1_000));
    // The typo itself (one ticket) still reaches the word.
    let r = s
        .tickets()
        .search(&TicketQuery::new("zebrafisch "))
        .unwrap();
    assert_eq!(r.total, 51);
    // The help center always expands: a misspelt article is found by the right word.
    let s = kb(vec![
        art(1, "en", "Zebrafish", "Zebrafish care."),
        art(2, "en", "Tanks", "A zebrafisch tank."),
    ]);
    assert_eq!(ids(&s, q("zebrafish ")), vec![1, 2]);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            // A file may vanish while we copy (a merge finishing): a crash image either way.
            let _ = std::fs::copy(e.path(), target);
        }
    }
}

#[test]
fn a_crash_during_a_rebuild_leaves_the_old_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = Search::open_with(
        dir.path(),
        tend_search::Options {
            writer_threads: 1,
            writer_memory: 20_000_000,
        },
    )
    .unwrap();
    s.tickets()
        .apply(
            vec![TicketOp::Upsert(ticket(
                1,
                Some(1),
                None,
                "open",
                "old marzipan",
            ))],
            5,
        )
        .unwrap();
    let mut rb = s.tickets().rebuild_begin().unwrap();
    // Enough text to flush several segments (and let merges and file clean-up run).
    let filler = "lorem ipsum dolor sit amet consectetur ".repeat(60);
    for chunk in 0..6 {
        rb.add((0..5_000).map(|i| {
            let id = 10 + chunk * 5_000 + i;
            ticket(id, Some(1), None, "open", &format!("{filler} {id}"))
        }))
        .unwrap();
    }
    // The files as a kill -9 would leave them right now.
    let image = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), image.path());
    drop(rb);
    drop(s);
    let crashed = Search::open(image.path()).unwrap();
    assert_eq!(crashed.tickets().checkpoint(), 5);
    assert_eq!(crashed.tickets().num_docs(), 1);
    assert_eq!(tids(&crashed, &TicketQuery::new("marzipan")), vec![1]);
}
