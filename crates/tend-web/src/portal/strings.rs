//! The customer portal's, the contact form's and the customer mails' own words in English,
//! German, French and Spanish. Which table a request gets is decided once, by
//! [`crate::i18n::customer_language`]; anything else gets English.

pub struct Portal {
    /// The language of these strings (`<html lang>`).
    pub lang: &'static str,
    pub support: &'static str,
    pub contact_us: &'static str,
    pub your_requests: &'static str,
    // Sign-in.
    pub see_your_requests: &'static str,
    pub link_sent: &'static str,
    pub your_email: &'static str,
    pub send_link: &'static str,
    pub no_account: &'static str,
    pub bad_email: &'static str,
    pub too_many_links: &'static str,
    pub dead_link: &'static str,
    // Home.
    /// "{name}" is replaced.
    pub hello: &'static str,
    pub sign_out: &'static str,
    pub feedback_wanted: &'static str,
    pub no_requests: &'static str,
    pub ask_us: &'static str,
    pub subject: &'static str,
    pub status: &'static str,
    pub last_update: &'static str,
    // A ticket.
    pub all_requests: &'static str,
    pub you: &'static str,
    pub add_reply: &'static str,
    pub send: &'static str,
    pub solved_button: &'static str,
    // Ticket states, in the order new, open, pending, on hold, solved, closed.
    pub states: [&'static str; 6],
    // The contact form.
    pub thank_you: &'static str,
    /// Before the ticket number.
    pub have_request: &'static str,
    /// After the ticket number, before the link to the portal.
    pub will_answer: &'static str,
    pub your_name: &'static str,
    pub how_can_we_help: &'static str,
    pub suggestions: &'static str,
    pub leave_empty: &'static str,
    pub need_name: &'static str,
    pub need_subject: &'static str,
    pub need_message: &'static str,
    pub too_many_requests: &'static str,
    // The sign-in mail.
    pub link_subject: &'static str,
    /// "{name}" and "{link}" are replaced.
    pub link_body: &'static str,
    // The acknowledgement of a ticket opened by mail, when the admin has not written one
    // (templates with the `mail::outbound::ACK_PLACEHOLDERS`).
    pub ack_subject: &'static str,
    pub ack_body: &'static str,
}

impl Portal {
    /// A ticket state's name (the badge keeps the code as its class).
    pub fn state(&self, s: tend_core::Status) -> &'static str {
        use tend_core::Status::*;
        self.states[match s {
            New => 0,
            Open => 1,
            Pending => 2,
            OnHold => 3,
            Solved => 4,
            Closed => 5,
        }]
    }
    pub fn hello(&self, name: &str) -> String {
        self.hello.replace("{name}", name)
    }
    /// The sign-in mail: subject and text.
    pub fn link_mail(&self, name: &str, link: &str, brand: Option<&str>) -> (String, String) {
        let subject = match brand {
            Some(b) => format!("{} · {b}", self.link_subject),
            None => self.link_subject.to_string(),
        };
        let mut text = self
            .link_body
            .replace("{name}", name)
            .replace("{link}", link);
        if let Some(b) = brand {
            text.push_str(&format!("\n— {b}\n"));
        }
        (subject, text)
    }
}

pub const EN: Portal = Portal {
    lang: "en",
    support: "Support",
    contact_us: "Contact us",
    your_requests: "Your requests",
    see_your_requests: "See your requests",
    link_sent: "If we know this address, a sign-in link is on its way. It works once, for 30 minutes.",
    your_email: "Your e-mail address",
    send_link: "Send me a sign-in link",
    no_account: "No account needed: we e-mail you a link. New question?",
    bad_email: "Please enter a valid e-mail address, like name@example.com.",
    too_many_links: "Too many sign-in links were requested. Please try again in 15 minutes.",
    dead_link: "This sign-in link has expired or was used already. Ask for a new one below.",
    hello: "Hello {name}",
    sign_out: "Sign out",
    feedback_wanted: "We would like your feedback",
    no_requests: "You have no requests yet.",
    ask_us: "Ask us something",
    subject: "Subject",
    status: "Status",
    last_update: "Last update (UTC)",
    all_requests: "← All your requests",
    you: "You",
    add_reply: "Add a reply",
    send: "Send",
    solved_button: "My problem is solved",
    states: ["new", "open", "pending", "on hold", "solved", "closed"],
    thank_you: "Thank you",
    have_request: "We have your request",
    will_answer: "and will answer by e-mail. You can follow it under",
    your_name: "Your name",
    how_can_we_help: "How can we help?",
    suggestions: "These articles may answer your question",
    leave_empty: "Leave this empty",
    need_name: "Please tell us your name.",
    need_subject: "Please add a short subject (up to 500 characters).",
    need_message: "Please describe your request (up to 50,000 characters).",
    too_many_requests: "You have sent several requests in a short time. Please wait 15 minutes, or reply to one of our mails.",
    link_subject: "Your sign-in link",
    link_body: "Hello {name},\n\nopen this link to see your requests (valid for 30 minutes, once):\n{link}\n\nIf you did not ask for it, ignore this mail.\n",
    ack_subject: crate::mail::outbound::DEFAULT_ACK_SUBJECT,
    ack_body: crate::mail::outbound::DEFAULT_ACK_BODY,
};

pub const DE: Portal = Portal {
    lang: "de",
    support: "Support",
    contact_us: "Kontakt",
    your_requests: "Ihre Anfragen",
    see_your_requests: "Ihre Anfragen ansehen",
    link_sent: "Wenn wir diese Adresse kennen, ist ein Anmeldelink unterwegs. Er funktioniert einmal, 30 Minuten lang.",
    your_email: "Ihre E-Mail-Adresse",
    send_link: "Anmeldelink senden",
    no_account: "Kein Konto nötig: Wir schicken Ihnen einen Link. Neue Frage?",
    bad_email: "Bitte geben Sie eine gültige E-Mail-Adresse ein, etwa name@example.com.",
    too_many_links: "Es wurden zu viele Anmeldelinks angefordert. Bitte versuchen Sie es in 15 Minuten noch einmal.",
    dead_link: "Dieser Anmeldelink ist abgelaufen oder wurde schon benutzt. Fordern Sie unten einen neuen an.",
    hello: "Hallo {name}",
    sign_out: "Abmelden",
    feedback_wanted: "Wir freuen uns über Ihre Rückmeldung",
    no_requests: "Sie haben noch keine Anfragen.",
    ask_us: "Fragen Sie uns",
    subject: "Betreff",
    status: "Status",
    last_update: "Letzte Änderung (UTC)",
    all_requests: "← Alle Ihre Anfragen",
    you: "Sie",
    add_reply: "Antwort hinzufügen",
    send: "Senden",
    solved_button: "Mein Problem ist gelöst",
    states: ["neu", "offen", "wartend", "zurückgestellt", "gelöst", "geschlossen"],
    thank_you: "Vielen Dank",
    have_request: "Wir haben Ihre Anfrage",
    will_answer: "erhalten und antworten per E-Mail. Sie können sie verfolgen unter",
    your_name: "Ihr Name",
    how_can_we_help: "Wie können wir helfen?",
    suggestions: "Diese Artikel beantworten Ihre Frage vielleicht",
    leave_empty: "Bitte leer lassen",
    need_name: "Bitte nennen Sie uns Ihren Namen.",
    need_subject: "Bitte geben Sie einen kurzen Betreff an (bis zu 500 Zeichen).",
    need_message: "Bitte beschreiben Sie Ihr Anliegen (bis zu 50.000 Zeichen).",
    too_many_requests: "Sie haben in kurzer Zeit mehrere Anfragen gesendet. Bitte warten Sie 15 Minuten oder antworten Sie auf eine unserer E-Mails.",
    link_subject: "Ihr Anmeldelink",
    link_body: "Hallo {name},\n\nöffnen Sie diesen Link, um Ihre Anfragen zu sehen (30 Minuten gültig, einmal):\n{link}\n\nWenn Sie ihn nicht angefordert haben, ignorieren Sie diese E-Mail.\n",
    ack_subject: "Wir haben Ihre Anfrage erhalten: {{ticket.subject}}",
    ack_body: "Hallo {{customer.first_name}},\n\nvielen Dank für Ihre Nachricht. Ihre Anfrage #{{ticket.id}} \u{201e}{{ticket.subject}}\u{201c} liegt bei unserem Team; wir antworten so bald wie möglich.\n\nUm etwas zu ergänzen, antworten Sie einfach auf diese E-Mail.\n",
};

pub const FR: Portal = Portal {
    lang: "fr",
    support: "Assistance",
    contact_us: "Nous contacter",
    your_requests: "Vos demandes",
    see_your_requests: "Voir vos demandes",
    link_sent: "Si nous connaissons cette adresse, un lien de connexion est en route. Il fonctionne une fois, pendant 30 minutes.",
    your_email: "Votre adresse e-mail",
    send_link: "M’envoyer un lien de connexion",
    no_account: "Pas besoin de compte : nous vous envoyons un lien par e-mail. Nouvelle question ?",
    bad_email: "Veuillez saisir une adresse e-mail valide, comme nom@example.com.",
    too_many_links: "Trop de liens de connexion ont été demandés. Veuillez réessayer dans 15 minutes.",
    dead_link: "Ce lien de connexion a expiré ou a déjà été utilisé. Demandez-en un nouveau ci-dessous.",
    hello: "Bonjour {name}",
    sign_out: "Se déconnecter",
    feedback_wanted: "Votre avis nous intéresse",
    no_requests: "Vous n’avez encore aucune demande.",
    ask_us: "Posez-nous une question",
    subject: "Objet",
    status: "État",
    last_update: "Dernière mise à jour (UTC)",
    all_requests: "← Toutes vos demandes",
    you: "Vous",
    add_reply: "Ajouter une réponse",
    send: "Envoyer",
    solved_button: "Mon problème est résolu",
    states: ["nouvelle", "ouverte", "en attente", "suspendue", "résolue", "fermée"],
    thank_you: "Merci",
    have_request: "Nous avons bien reçu votre demande",
    will_answer: "et vous répondrons par e-mail. Vous pouvez la suivre sous",
    your_name: "Votre nom",
    how_can_we_help: "Comment pouvons-nous vous aider ?",
    suggestions: "Ces articles répondent peut-être à votre question",
    leave_empty: "Laissez ce champ vide",
    need_name: "Veuillez nous indiquer votre nom.",
    need_subject: "Veuillez ajouter un objet court (500 caractères au plus).",
    need_message: "Veuillez décrire votre demande (50 000 caractères au plus).",
    too_many_requests: "Vous avez envoyé plusieurs demandes en peu de temps. Veuillez patienter 15 minutes, ou répondre à l’un de nos e-mails.",
    link_subject: "Votre lien de connexion",
    link_body: "Bonjour {name},\n\nouvrez ce lien pour voir vos demandes (valable 30 minutes, une seule fois) :\n{link}\n\nSi vous ne l’avez pas demandé, ignorez cet e-mail.\n",
    ack_subject: "Nous avons reçu votre demande : {{ticket.subject}}",
    ack_body: "Bonjour {{customer.first_name}},\n\nmerci de nous avoir écrit. Votre demande n° {{ticket.id}} « {{ticket.subject}} » est entre les mains de notre équipe ; nous vous répondrons dès que possible.\n\nPour ajouter quelque chose, répondez simplement à cet e-mail.\n",
};

pub const ES: Portal = Portal {
    lang: "es",
    support: "Soporte",
    contact_us: "Contacto",
    your_requests: "Sus solicitudes",
    see_your_requests: "Ver sus solicitudes",
    link_sent: "Si conocemos esta dirección, le hemos enviado un enlace de acceso. Funciona una vez, durante 30 minutos.",
    your_email: "Su dirección de correo",
    send_link: "Enviarme un enlace de acceso",
    no_account: "No necesita cuenta: le enviamos un enlace por correo. ¿Tiene una nueva pregunta?",
    bad_email: "Introduzca una dirección de correo válida, como nombre@example.com.",
    too_many_links: "Se han pedido demasiados enlaces de acceso. Inténtelo de nuevo en 15 minutos.",
    dead_link: "Este enlace de acceso ha caducado o ya se ha usado. Pida uno nuevo abajo.",
    hello: "Hola, {name}",
    sign_out: "Cerrar sesión",
    feedback_wanted: "Nos gustaría conocer su opinión",
    no_requests: "Todavía no tiene solicitudes.",
    ask_us: "Pregúntenos algo",
    subject: "Asunto",
    status: "Estado",
    last_update: "Última actualización (UTC)",
    all_requests: "← Todas sus solicitudes",
    you: "Usted",
    add_reply: "Añadir una respuesta",
    send: "Enviar",
    solved_button: "Mi problema está resuelto",
    states: ["nueva", "abierta", "pendiente", "en espera", "resuelta", "cerrada"],
    thank_you: "Gracias",
    have_request: "Hemos recibido su solicitud",
    will_answer: "y le responderemos por correo. Puede seguirla en",
    your_name: "Su nombre",
    how_can_we_help: "¿En qué podemos ayudarle?",
    suggestions: "Estos artículos quizá respondan a su pregunta",
    leave_empty: "Deje este campo vacío",
    need_name: "Díganos su nombre, por favor.",
    need_subject: "Añada un asunto breve (hasta 500 caracteres).",
    need_message: "Describa su solicitud (hasta 50.000 caracteres).",
    too_many_requests: "Ha enviado varias solicitudes en poco tiempo. Espere 15 minutos o responda a uno de nuestros correos.",
    link_subject: "Su enlace de acceso",
    link_body: "Hola, {name}:\n\nabra este enlace para ver sus solicitudes (válido 30 minutos, una sola vez):\n{link}\n\nSi no lo ha pedido, ignore este correo.\n",
    ack_subject: "Hemos recibido su solicitud: {{ticket.subject}}",
    ack_body: "Hola, {{customer.first_name}}:\n\ngracias por escribirnos. Su solicitud n.º {{ticket.id}} «{{ticket.subject}}» está en manos de nuestro equipo; le responderemos lo antes posible.\n\nPara añadir algo, simplemente responda a este correo.\n",
};

/// The table for a language chosen by [`crate::i18n::customer_language`]; English otherwise.
pub fn portal(lang: &str) -> &'static Portal {
    match tend_store::kb::primary_language(lang) {
        "de" => &DE,
        "fr" => &FR,
        "es" => &ES,
        _ => &EN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_its_table_and_others_get_english() {
        for l in crate::i18n::CUSTOMER_LANGUAGES {
            assert_eq!(portal(l).lang, *l);
        }
        assert_eq!(portal("ja").lang, "en");
        assert_eq!(portal("de-AT").lang, "de");
        let (subject, text) = DE.link_mail("Jörg", "https://x/l", Some("Shop"));
        assert_eq!(subject, "Ihr Anmeldelink · Shop");
        // The acknowledgement defaults are templates the admin check would accept.
        for t in [&EN, &DE, &FR, &ES] {
            for x in [t.ack_subject, t.ack_body] {
                tend_core::template::validate_template(x, crate::mail::outbound::ACK_PLACEHOLDERS)
                    .unwrap();
            }
        }
        assert!(
            text.contains("Hallo Jörg")
                && text.contains("https://x/l")
                && text.ends_with("— Shop\n")
        );
    }
}
