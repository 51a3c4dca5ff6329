//! Demo knowledge base: a few categories, sections and articles for the demo shop, some in
//! English and German, one internal, one scheduled for tomorrow.

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use tend_core::Actor;
use tend_store::kb::*;
use tend_store::Store;

struct Article {
    title: &'static str,
    markdown: &'static str,
    tags: &'static [&'static str],
    visibility: KbVisibility,
    /// Hours from now until it is published; `None`: published now.
    scheduled_in: Option<i64>,
    german: Option<(&'static str, &'static str)>,
}

/// A section: its name, its German name and description, its articles.
type Section = (&'static str, (&'static str, &'static str), Vec<Article>);
/// A category: name, description, German name and description, sections.
type Category = (
    &'static str,
    &'static str,
    (&'static str, &'static str),
    Vec<Section>,
);

const fn public(
    title: &'static str,
    markdown: &'static str,
    tags: &'static [&'static str],
    german: Option<(&'static str, &'static str)>,
) -> Article {
    Article {
        title,
        markdown,
        tags,
        visibility: KbVisibility::Public,
        scheduled_in: None,
        german,
    }
}

fn label(name: &str, description: &str) -> BTreeMap<String, KbLabel> {
    BTreeMap::from([(
        "de".to_string(),
        KbLabel {
            name: name.into(),
            description: description.into(),
        },
    )])
}

fn body(markdown: &str) -> Result<(String, String)> {
    tend_web::api::kb::render_body(Some(markdown), None).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Loads the demo articles (the caller checks that the demo is not loaded yet).
pub async fn load(store: &dyn Store, now: DateTime<Utc>) -> Result<()> {
    let err = crate::store_err;
    let tree: [Category; 2] = [
        (
            "Orders and shipping",
            "Where your parcel is and when it arrives.",
            ("Bestellung und Versand", "Wo Ihr Paket ist und wann es ankommt."),
            vec![
                (
                    "Tracking",
                    ("Sendungsverfolgung", ""),
                    vec![
                        public(
                            "Where is my order?",
                            "You get a mail with a **tracking link** as soon as your parcel leaves our warehouse, usually within one business day.\n\n1. Open the mail *Your order has shipped*.\n2. Follow the tracking link.\n\nNo mail after two business days? Check your spam folder, then [contact us](/contact).",
                            &["tracking", "shipping"],
                            Some(("Wo ist meine Bestellung?", "Sobald Ihr Paket unser Lager verlässt, erhalten Sie eine E-Mail mit einem **Link zur Sendungsverfolgung**, meist innerhalb eines Werktags.\n\nKeine E-Mail nach zwei Werktagen? Sehen Sie im Spam-Ordner nach und [schreiben Sie uns](/contact).")),
                        ),
                        public(
                            "Delivery times by country",
                            "| Country | Standard | Express |\n|---|---|---|\n| Germany | 1–2 days | next day |\n| Austria, Switzerland | 2–4 days | 1–2 days |\n| Rest of EU | 3–6 days | 2–3 days |\n\nTimes are business days from shipping.",
                            &["shipping"],
                            None,
                        ),
                    ],
                ),
                (
                    "Changing an order",
                    ("Bestellung ändern", ""),
                    vec![
                        public(
                            "Change the delivery address",
                            "You can change the address until the order is packed: open *Your orders*, choose the order and **Edit address**. Once it has shipped, ask the carrier to redirect it with the tracking link.",
                            &["address"],
                            None,
                        ),
                        Article {
                            title: "New: same-day delivery in Berlin",
                            markdown: "From tomorrow, orders placed before 11:00 are delivered the same day within Berlin.",
                            tags: &["shipping", "berlin"],
                            visibility: KbVisibility::Public,
                            scheduled_in: Some(24),
                            german: None,
                        },
                    ],
                ),
            ],
        ),
        (
            "Returns and refunds",
            "Sending things back and getting your money.",
            ("Rücksendung und Erstattung", "Zurücksenden und Geld zurück."),
            vec![(
                "Returns",
                ("Rücksendungen", ""),
                vec![
                    public(
                        "How do I return an item?",
                        "You have **30 days** to return unworn items.\n\n1. Print the return label from *Your orders*.\n2. Pack the item in its original packaging.\n3. Drop it at any parcel shop.\n\nWe refund within 5 business days of receiving it.",
                        &["returns", "refund"],
                        Some(("Wie sende ich einen Artikel zurück?", "Sie haben **30 Tage** Zeit, ungetragene Artikel zurückzusenden.\n\n1. Drucken Sie das Rücksendeetikett unter *Ihre Bestellungen*.\n2. Verpacken Sie den Artikel in der Originalverpackung.\n3. Geben Sie ihn in einem Paketshop ab.")),
                    ),
                    public(
                        "When will I get my refund?",
                        "Refunds go back to the payment method you used, within 5 business days after the return arrives. Card refunds can take another 3–5 days to show on your statement.",
                        &["refund"],
                        None,
                    ),
                    Article {
                        title: "Goodwill refunds without a return (agents)",
                        markdown: "For items under 15 EUR, agents may refund without a return. Tag the ticket `goodwill` and note the reason.",
                        tags: &["refund", "internal"],
                        visibility: KbVisibility::Internal,
                        scheduled_in: None,
                        german: None,
                    },
                ],
            )],
        ),
    ];
    for (cpos, (name, description, (de_name, de_description), sections)) in
        tree.into_iter().enumerate()
    {
        let cat = store
            .kb_create_category(
                NewKbCategory {
                    brand_id: None,
                    position: cpos as i64,
                    name: name.into(),
                    description: description.into(),
                    translations: label(de_name, de_description),
                },
                Actor::SYSTEM,
                now,
            )
            .await
            .map_err(err)?;
        for (spos, (sname, (de_sname, de_sdesc), articles)) in sections.into_iter().enumerate() {
            let sec = store
                .kb_create_section(
                    NewKbSection {
                        category_id: cat.id,
                        brand_id: None,
                        position: spos as i64,
                        name: sname.into(),
                        description: String::new(),
                        translations: label(de_sname, de_sdesc),
                    },
                    Actor::SYSTEM,
                    now,
                )
                .await
                .map_err(err)?;
            for (apos, a) in articles.into_iter().enumerate() {
                let (body_html, body_text) = body(a.markdown)?;
                let (status, publish_at) = match a.scheduled_in {
                    Some(h) => (KbStatus::Draft, Some(now + Duration::hours(h))),
                    None => (KbStatus::Published, None),
                };
                let full = store
                    .kb_create_article(
                        NewKbArticle {
                            section_id: sec.id,
                            brand_id: None,
                            position: apos as i64,
                            source_locale: "en".into(),
                            visibility: a.visibility,
                            tags: a.tags.iter().map(|t| t.to_string()).collect(),
                            related_ids: vec![],
                            translation: KbTranslationInput {
                                title: a.title.into(),
                                body_html,
                                body_text,
                                status,
                                publish_at,
                                outdated: None,
                            },
                        },
                        Actor::SYSTEM,
                        now,
                    )
                    .await
                    .map_err(err)?;
                if let Some((title, markdown)) = a.german {
                    let (body_html, body_text) = body(markdown)?;
                    store
                        .kb_save_translation(
                            full.article.id,
                            "de",
                            KbTranslationInput {
                                title: title.into(),
                                body_html,
                                body_text,
                                status: KbStatus::Published,
                                publish_at: None,
                                outdated: None,
                            },
                            Actor::SYSTEM,
                            now,
                        )
                        .await
                        .map_err(err)?;
                }
            }
        }
    }
    Ok(())
}
