//! Generates a believable online shop's customer service as import records (JSON Lines):
//! agents in groups, customers (some in organizations) writing in several languages,
//! tickets with 1–20 messages, realistic status/priority/channel mix, and a skewed topic
//! vocabulary: some words occur in most tickets, some in about 1 %.
//! Deterministic for a given seed and `now`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// A small, fast, deterministic PRNG (SplitMix64).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < p
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// Index with Zipf-like skew: index 0 most likely.
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as usize % n.max(1)
    }
}

pub const GROUPS: &[&str] = &["Support", "Billing", "Shipping", "Returns"];

pub struct AgentSeed {
    pub email: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    pub groups: &'static [&'static str],
}

/// The demo team. Passwords are set by the demo loader, not here.
pub const AGENTS: &[AgentSeed] = &[
    AgentSeed {
        email: "admin@demo.tend.test",
        name: "Alex Admin",
        role: "admin",
        groups: &["Support", "Billing", "Shipping", "Returns"],
    },
    AgentSeed {
        email: "sam@demo.tend.test",
        name: "Sam Supervisor",
        role: "supervisor",
        groups: &["Support", "Shipping"],
    },
    AgentSeed {
        email: "lena@demo.tend.test",
        name: "Lena Vogel",
        role: "agent",
        groups: &["Support", "Returns"],
    },
    AgentSeed {
        email: "marc@demo.tend.test",
        name: "Marc Dubois",
        role: "agent",
        groups: &["Support"],
    },
    AgentSeed {
        email: "sofia@demo.tend.test",
        name: "Sofía García",
        role: "agent",
        groups: &["Billing"],
    },
    AgentSeed {
        email: "tom@demo.tend.test",
        name: "Tom Baker",
        role: "agent",
        groups: &["Shipping", "Returns"],
    },
    AgentSeed {
        email: "ines@demo.tend.test",
        name: "Inês Costa",
        role: "agent",
        groups: &["Billing", "Support"],
    },
    AgentSeed {
        email: "jan@demo.tend.test",
        name: "Jan de Vries",
        role: "agent",
        groups: &["Shipping"],
    },
];

struct Topic {
    group: &'static str,
    tag: &'static str,
    /// Subjects per language: en, de, fr, es, nl.
    subjects: [&'static str; 5],
    /// Opening messages per language.
    bodies: [&'static str; 5],
}

const LANGS: &[&str] = &["en", "de", "fr", "es", "nl"];

const TOPICS: &[Topic] = &[
    Topic { group: "Shipping", tag: "where-is-my-order", subjects: ["Where is my order?", "Wo ist meine Bestellung?", "Où est ma commande ?", "¿Dónde está mi pedido?", "Waar is mijn bestelling?"], bodies: ["Hello, I ordered last week and the tracking has not moved since. Can you check my order please? Thanks", "Hallo, ich habe letzte Woche bestellt und die Sendungsverfolgung bewegt sich nicht. Können Sie meine Bestellung prüfen? Danke", "Bonjour, j'ai commandé la semaine dernière et le suivi ne bouge plus. Pouvez-vous vérifier ma commande ? Merci", "Hola, hice el pedido la semana pasada y el seguimiento no avanza. ¿Pueden revisar mi pedido? Gracias", "Hallo, ik heb vorige week besteld en de track-and-trace staat stil. Kunt u mijn bestelling nakijken? Bedankt"] },
    Topic { group: "Returns", tag: "return", subjects: ["I want to return an item", "Ich möchte einen Artikel zurücksenden", "Je souhaite retourner un article", "Quiero devolver un artículo", "Ik wil een artikel retourneren"], bodies: ["Hi, the shoes from my order do not fit. How do I return them and get a refund? Thanks", "Hallo, die Schuhe aus meiner Bestellung passen nicht. Wie sende ich sie zurück und bekomme mein Geld? Danke", "Bonjour, les chaussures de ma commande ne me vont pas. Comment les retourner et être remboursé ? Merci", "Hola, los zapatos de mi pedido no me quedan. ¿Cómo los devuelvo y recibo el reembolso? Gracias", "Hallo, de schoenen uit mijn bestelling passen niet. Hoe stuur ik ze terug en krijg ik mijn geld? Bedankt"] },
    Topic { group: "Billing", tag: "invoice", subjects: ["Invoice needed for my order", "Rechnung für meine Bestellung", "Facture pour ma commande", "Factura de mi pedido", "Factuur voor mijn bestelling"], bodies: ["Hello, could you send me an invoice with our VAT number for my order please? Thanks", "Hallo, können Sie mir bitte eine Rechnung mit unserer USt-IdNr. für meine Bestellung schicken? Danke", "Bonjour, pourriez-vous m'envoyer une facture avec notre numéro de TVA pour ma commande ? Merci", "Hola, ¿me pueden enviar una factura con nuestro NIF para mi pedido? Gracias", "Hallo, kunt u mij een factuur met ons btw-nummer voor mijn bestelling sturen? Bedankt"] },
    Topic { group: "Billing", tag: "payment", subjects: ["Charged twice for one order", "Zweimal abgebucht", "Débité deux fois", "Me cobraron dos veces", "Twee keer afgeschreven"], bodies: ["Hi, my card was charged twice for the same order. Please refund the second payment. Thanks", "Hallo, meine Karte wurde für dieselbe Bestellung zweimal belastet. Bitte erstatten Sie die zweite Zahlung. Danke", "Bonjour, ma carte a été débitée deux fois pour la même commande. Merci de rembourser le second paiement.", "Hola, me cobraron dos veces el mismo pedido en la tarjeta. Por favor devuelvan el segundo pago. Gracias", "Hallo, mijn kaart is twee keer belast voor dezelfde bestelling. Graag de tweede betaling terugstorten. Bedankt"] },
    Topic { group: "Support", tag: "product-question", subjects: ["Question about a product", "Frage zu einem Produkt", "Question sur un produit", "Pregunta sobre un producto", "Vraag over een product"], bodies: ["Hello, is the rain jacket from your shop waterproof or only water-repellent? Thanks", "Hallo, ist die Regenjacke aus Ihrem Shop wasserdicht oder nur wasserabweisend? Danke", "Bonjour, la veste de pluie de votre boutique est-elle imperméable ou seulement déperlante ? Merci", "Hola, ¿la chaqueta de lluvia de su tienda es impermeable o solo repelente al agua? Gracias", "Hallo, is de regenjas uit uw winkel waterdicht of alleen waterafstotend? Bedankt"] },
    Topic { group: "Support", tag: "account", subjects: ["Cannot log in to my account", "Kann mich nicht anmelden", "Impossible de me connecter", "No puedo iniciar sesión", "Kan niet inloggen"], bodies: ["Hi, the password reset email never arrives, so I cannot log in to my account. Please help. Thanks", "Hallo, die E-Mail zum Zurücksetzen des Passworts kommt nie an, ich kann mich nicht anmelden. Danke", "Bonjour, l'e-mail de réinitialisation n'arrive jamais, je ne peux pas me connecter à mon compte. Merci", "Hola, el correo para restablecer la contraseña nunca llega y no puedo entrar en mi cuenta. Gracias", "Hallo, de e-mail om mijn wachtwoord te herstellen komt nooit aan, ik kan niet inloggen. Bedankt"] },
    Topic { group: "Shipping", tag: "damaged", subjects: ["Parcel arrived damaged", "Paket beschädigt angekommen", "Colis arrivé endommagé", "El paquete llegó dañado", "Pakket beschadigd aangekomen"], bodies: ["Hello, the parcel with my order arrived crushed and the lamp inside is broken. Photos attached. Thanks", "Hallo, das Paket mit meiner Bestellung kam zerdrückt an, die Lampe ist kaputt. Fotos anbei. Danke", "Bonjour, le colis de ma commande est arrivé écrasé et la lampe est cassée. Photos jointes. Merci", "Hola, el paquete de mi pedido llegó aplastado y la lámpara está rota. Adjunto fotos. Gracias", "Hallo, het pakket met mijn bestelling kwam geplet aan en de lamp is kapot. Foto's bijgevoegd. Bedankt"] },
    Topic { group: "Support", tag: "complaint", subjects: ["Very unhappy with the service", "Sehr unzufrieden mit dem Service", "Très mécontent du service", "Muy descontento con el servicio", "Zeer ontevreden over de service"], bodies: ["This is the third time I write about my order and nobody answers. I expect a reply today.", "Ich schreibe zum dritten Mal wegen meiner Bestellung und niemand antwortet. Ich erwarte heute eine Antwort.", "C'est la troisième fois que j'écris au sujet de ma commande et personne ne répond.", "Es la tercera vez que escribo por mi pedido y nadie responde. Espero una respuesta hoy.", "Dit is de derde keer dat ik over mijn bestelling schrijf en niemand antwoordt."] },
];

/// Words that appear in about 1 % of tickets (benchmarks search for them).
pub const RARE_WORDS: &[&str] = &["zebrafish", "quokka", "marzipan", "theremin"];

const FIRST: &[&str] = &[
    "Anna", "Ben", "Chloé", "David", "Elif", "Felix", "Greta", "Hugo", "Isabel", "Jonas", "Karin",
    "Luca", "Mia", "Noah", "Olga", "Pablo", "Rosa", "Stefan", "Tara", "Umut", "Vera", "Willem",
    "Yara", "Zoe",
];
const LAST: &[&str] = &[
    "Müller", "Schmidt", "Martin", "Bernard", "García", "López", "Jansen", "de Jong", "Rossi",
    "Smith", "Brown", "Kowalski", "Novak", "Silva", "Weber", "Fischer", "Moreau", "Petit",
    "Bakker", "Visser",
];
const ORGS: &[&str] = &[
    "Acme Retail GmbH",
    "Blue Harbor Hotels",
    "Café Central",
    "Nordwind Logistics",
    "Pixel & Paper",
    "Studio Lumen",
];

const AGENT_REPLIES: &[&str] = &[
    "Thanks for reaching out! I have checked your order and will get back to you shortly.",
    "I am sorry about this. I have asked our warehouse and will update you as soon as I hear back.",
    "Good news: a replacement is on its way. You will receive the tracking number by email.",
    "I have issued the refund; it will show on your statement within 3–5 business days.",
    "Could you send us a photo of the label and your order number, please?",
];
const CUSTOMER_REPLIES: &[&str] = &[
    "Thank you, that helps.",
    "Any news on my order? Thanks",
    "Here is the photo you asked for.",
    "It still has not arrived, please check again.",
    "Great, thanks a lot!",
];

/// Options for a generated data set.
pub struct Spec {
    pub tickets: u64,
    pub seed: u64,
    pub now: DateTime<Utc>,
    /// Tickets spread over this many days before `now`.
    pub days: i64,
    /// Largest number of messages per ticket (1–20).
    pub max_messages: u64,
    /// Benchmarks: a word put into every `every`-th ticket's first message (ticket numbers
    /// `every`, `2 * every`, … counting from 1), on top of the generated vocabulary — the peer
    /// comparison searches for it. `None` (the default) leaves the output unchanged.
    pub marker: Option<Marker>,
}

/// See [`Spec::marker`].
#[derive(Clone, Debug)]
pub struct Marker {
    pub word: String,
    pub every: u64,
}

impl Spec {
    pub fn new(tickets: u64, now: DateTime<Utc>) -> Spec {
        Spec {
            tickets,
            seed: 42,
            now,
            days: 90,
            max_messages: 20,
            marker: None,
        }
    }
}

/// The generator: call `record(i)` for i in 0..tickets; each is independent (parallel-safe).
pub struct Generator {
    spec: Spec,
    customers: u64,
}

impl Generator {
    pub fn new(spec: Spec) -> Generator {
        let customers = (spec.tickets / 3).max(10);
        Generator { spec, customers }
    }

    pub fn len(&self) -> u64 {
        self.spec.tickets
    }

    pub fn is_empty(&self) -> bool {
        self.spec.tickets == 0
    }

    fn customer(&self, n: u64) -> (String, String, &'static str, Option<&'static str>) {
        let mut r = Rng::new(self.spec.seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let first = r.pick(FIRST);
        let last = r.pick(LAST);
        let lang = LANGS[r.skewed(LANGS.len())];
        let org = if r.chance(0.15) {
            Some(*r.pick(ORGS))
        } else {
            None
        };
        let local: String = format!("{}.{}{}", first, last, n)
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        (
            format!("{first} {last}"),
            format!("{local}@example.com"),
            lang,
            org,
        )
    }

    /// Ticket `i` as one import record.
    pub fn record(&self, i: u64) -> Value {
        let mut r = Rng::new(self.spec.seed.wrapping_mul(31).wrapping_add(i));
        let topic = &TOPICS[r.skewed(TOPICS.len())];
        let cust_n = r.below(self.customers);
        let (name, email, lang, org) = self.customer(cust_n);
        let li = LANGS.iter().position(|l| *l == lang).unwrap_or(0);
        // Newer tickets are more likely (volume grows); ages in minutes.
        let span = self.spec.days * 24 * 60;
        let age_min =
            (span as f64 * (1.0 - (r.below(1_000_000) as f64 / 1_000_000.0).sqrt())) as i64;
        let created = self.spec.now - Duration::minutes(age_min.max(5));
        let channel = *r.pick(&[
            "email", "email", "email", "email", "web", "web", "portal", "chat", "phone", "social",
            "api",
        ]);
        let priority = *r.pick(&[
            "normal", "normal", "normal", "normal", "normal", "low", "high", "high", "urgent",
        ]);
        let candidates: Vec<&AgentSeed> = AGENTS
            .iter()
            .filter(|a| a.groups.contains(&topic.group) && a.role == "agent")
            .collect();
        let agent = candidates[r.below(candidates.len() as u64) as usize];
        let mut body = topic.bodies[li].to_string();
        if r.chance(0.01) {
            body.push_str(&format!(" P.S. my {} arrived too.", r.pick(RARE_WORDS)));
        }
        body.push_str(&format!(" Order #{}", 100_000 + r.below(900_000)));
        if let Some(m) = &self.spec.marker {
            if m.every > 0 && (i + 1).is_multiple_of(m.every) {
                body.push_str(&format!(" The {} is involved.", m.word));
            }
        }
        let max_m = self.spec.max_messages.clamp(1, 20);
        // Geometric-ish message count: most tickets are short.
        let mut n_msgs = 1;
        while n_msgs < max_m && r.chance(0.55) {
            n_msgs += 1;
        }
        // Old tickets are mostly closed; fresh ones open.
        let age_days = age_min / (24 * 60);
        let status = if age_days > 14 {
            if r.chance(0.9) {
                "closed"
            } else {
                "solved"
            }
        } else if age_days > 3 {
            *r.pick(&["solved", "solved", "closed", "pending", "open"])
        } else {
            *r.pick(&["new", "open", "open", "pending", "on_hold", "solved"])
        };
        let mut messages = vec![json!({ "author": email, "body": body, "created_at": created })];
        let mut t = created;
        let mut history = Vec::new();
        let first_reply_gap = Duration::minutes(5 + r.below(8 * 60) as i64);
        for k in 1..n_msgs {
            t += if k == 1 {
                first_reply_gap
            } else {
                Duration::minutes(10 + r.below(36 * 60) as i64)
            };
            if t > self.spec.now {
                break;
            }
            if k == 1 && status != "new" {
                history.push(json!({ "at": t, "by": agent.email, "status": "open", "assignee": agent.email }));
            }
            let by_agent = k % 2 == 1;
            let (author, text) = if by_agent {
                (agent.email.to_string(), *r.pick(AGENT_REPLIES))
            } else {
                (email.clone(), *r.pick(CUSTOMER_REPLIES))
            };
            messages.push(json!({ "author": author, "author_is_agent": by_agent, "public": !by_agent || r.chance(0.9), "body": text, "created_at": t }));
        }
        if matches!(status, "solved" | "closed") {
            let at = (t + Duration::minutes(1 + r.below(120) as i64)).min(self.spec.now);
            if history.is_empty() {
                history.push(json!({ "at": at, "by": agent.email, "assignee": agent.email }));
            }
            history.push(json!({ "at": at, "by": agent.email, "status": "solved" }));
        }
        let mut tags = vec![topic.tag.to_string(), format!("lang-{lang}")];
        if r.chance(0.05) {
            tags.push("vip".into());
        }
        let mut rec = json!({
            "external_id": format!("gen-{}-{i}", self.spec.seed),
            "subject": topic.subjects[li],
            "status": status,
            "priority": priority,
            "channel": channel,
            "requester": { "email": email, "name": name, "language": lang },
            "group": topic.group,
            "tags": tags,
            "created_at": created,
            "messages": messages,
            "history": history,
        });
        if let Some(o) = org {
            rec["organization"] = json!(o);
        }
        if status != "new" && history.is_empty() {
            rec["assignee"] = json!(agent.email);
        }
        rec
    }
}

/// Ticket record `rec` (from [`Generator::record`]) in a flat, helpdesk-neutral form for the
/// peers' loaders (Request Tracker, django-helpdesk): `n` (1-based ticket number), `subject`,
/// `body` (the first message), `requester`, `requester_name`, `language`, `queue` (the group),
/// `status` and `priority` (Tend's names: the loader maps them), `channel`, `created_at` and
/// `replies` (the later messages: `author`, `agent`, `public`, `body`, `created_at`).
pub fn peer_record(n: u64, rec: &Value) -> Value {
    let msgs = rec["messages"].as_array().cloned().unwrap_or_default();
    let replies: Vec<Value> = msgs
        .iter()
        .skip(1)
        .map(|m| {
            json!({
                "author": m["author"],
                "agent": m["author_is_agent"].as_bool().unwrap_or(false),
                "public": m["public"].as_bool().unwrap_or(true),
                "body": m["body"],
                "created_at": m["created_at"],
            })
        })
        .collect();
    json!({
        "n": n,
        "subject": rec["subject"],
        "body": msgs.first().map(|m| m["body"].clone()).unwrap_or(Value::Null),
        "requester": rec["requester"]["email"],
        "requester_name": rec["requester"]["name"],
        "language": rec["requester"]["language"],
        "queue": rec["group"],
        "status": rec["status"],
        "priority": rec["priority"],
        "channel": rec["channel"],
        "created_at": rec["created_at"],
        "replies": replies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_well_formed() {
        let now = DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let g = Generator::new(Spec::new(500, now));
        assert_eq!(g.record(7), g.record(7));
        let mut rare = 0;
        let mut closed = 0;
        for i in 0..500 {
            let r = g.record(i);
            let m = r["messages"].as_array().unwrap();
            assert!(!m.is_empty() && m.len() <= 20);
            if r.to_string().contains("zebrafish")
                || RARE_WORDS.iter().any(|w| r.to_string().contains(w))
            {
                rare += 1;
            }
            if r["status"] == "closed" {
                closed += 1;
            }
            let created: DateTime<Utc> = serde_json::from_value(r["created_at"].clone()).unwrap();
            assert!(created <= now);
        }
        for i in 0..500 {
            let line = g.record(i).to_string();
            tend_core::import::ImportRecord::parse_line(&line)
                .unwrap_or_else(|e| panic!("record {i} does not import: {e}\n{line}"));
        }
        assert!(rare < 25, "rare words stay rare: {rare}");
        assert!(closed > 100, "old tickets are mostly closed: {closed}");
    }

    #[test]
    fn marker_word_in_every_nth_ticket_and_peer_form() {
        let now = DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let plain = Generator::new(Spec::new(1000, now));
        let mut spec = Spec::new(1000, now);
        spec.marker = Some(Marker {
            word: "zebrafish".into(),
            every: 100,
        });
        let g = Generator::new(spec);
        let mut marked = 0;
        for i in 0..1000 {
            let r = g.record(i);
            let body = r["messages"][0]["body"].as_str().unwrap();
            if body.ends_with(" The zebrafish is involved.") {
                marked += 1;
                assert!((i + 1).is_multiple_of(100));
            } else {
                // Unmarked tickets are exactly what the default generator writes.
                assert_eq!(r, plain.record(i));
            }
            let p = peer_record(i + 1, &r);
            assert_eq!(p["n"], i + 1);
            assert_eq!(p["body"], r["messages"][0]["body"]);
            assert_eq!(
                p["replies"].as_array().unwrap().len() + 1,
                r["messages"].as_array().unwrap().len()
            );
            assert!(p["subject"].is_string() && p["requester"].is_string());
        }
        assert_eq!(marked, 10);
    }
}
