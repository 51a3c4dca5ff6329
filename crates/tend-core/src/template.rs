//! Placeholders in texts that admins and agents write (macros, mail templates):
//! `{{ customer.name }}` with names of letters, digits, `_`, `-` and `.`.
//! No logic, no loops, no recursion: a value that contains `{{…}}` is output as it is.
//! There is no escape for a literal `{{` or `}}`: it is refused as malformed, which keeps the
//! grammar trivial and every mistake visible when the text is saved, not when it is sent.
//! One implementation for macros (tend-web) and mail templates (tend-mail).

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{{{name}}}}}")]
    UnknownPlaceholder { name: String },
    #[error("placeholder at byte {offset} is not closed or not a plain name")]
    Malformed { offset: usize },
}

enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TemplateError::Malformed {
            offset: offset + open,
        })?;
        let name = after[..close].trim();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid {
            return Err(TemplateError::Malformed {
                offset: offset + open,
            });
        }
        out.push(Piece::Name(name));
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if rest.contains("}}") {
        return Err(TemplateError::Malformed {
            offset: offset + rest.find("}}").unwrap_or(0),
        });
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks a template at save time: every placeholder well-formed and among `allowed`.
pub fn validate_template(template: &str, allowed: &[&str]) -> Result<(), TemplateError> {
    for p in pieces(template)? {
        if let Piece::Name(n) = p {
            if !allowed.contains(&n) {
                return Err(TemplateError::UnknownPlaceholder {
                    name: n.to_string(),
                });
            }
        }
    }
    Ok(())
}

fn render_inner(
    template: &str,
    values: &HashMap<String, String>,
    html: bool,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 64);
    for p in pieces(template)? {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Name(n) => {
                let v = values
                    .get(n)
                    .ok_or_else(|| TemplateError::UnknownPlaceholder {
                        name: n.to_string(),
                    })?;
                if html {
                    escape_html(v, &mut out);
                } else {
                    out.push_str(v);
                }
            }
        }
    }
    Ok(out)
}

/// Renders for a plain-text body or a header (values as they are).
pub fn render(template: &str, values: &HashMap<String, String>) -> Result<String, TemplateError> {
    render_inner(template, values, false)
}

/// Renders for an HTML body: the template is trusted markup, every value is escaped.
pub fn render_html(
    template: &str,
    values: &HashMap<String, String>,
) -> Result<String, TemplateError> {
    render_inner(template, values, true)
}

fn escape_html(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Placeholders every ticket text may use.
pub const TICKET_PLACEHOLDERS: &[&str] = &[
    "ticket.id",
    "ticket.subject",
    "ticket.status",
    "ticket.priority",
    "customer.name",
    "customer.first_name",
    "customer.email",
    "agent.name",
    "agent.first_name",
];

impl From<TemplateError> for crate::Invalid {
    fn from(e: TemplateError) -> Self {
        crate::Invalid::new(
            "body",
            format!(
                "{e}; known placeholders: {}",
                TICKET_PLACEHOLDERS
                    .iter()
                    .map(|k| format!("{{{{{k}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

/// The first word of a name, for "Hi {{customer.first_name}}".
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn first_names_and_errors_for_people() {
        assert_eq!(first_name("  Ana  Lima "), "Ana");
        let e: crate::Invalid = validate_template("Hi {{customer.nmae}}", TICKET_PLACEHOLDERS)
            .unwrap_err()
            .into();
        assert!(
            e.message.contains("unknown placeholder {{customer.nmae}}"),
            "{e}"
        );
    }

    #[test]
    fn renders_and_escapes() {
        let m = map(&[("customer.name", "<b>Anna</b> & {{agent.name}}")]);
        assert_eq!(
            render("Hi {{customer.name}}!", &m).unwrap(),
            "Hi <b>Anna</b> & {{agent.name}}!"
        );
        assert_eq!(
            render_html("<p>Hi {{ customer.name }}!</p>", &m).unwrap(),
            "<p>Hi &lt;b&gt;Anna&lt;/b&gt; &amp; {{agent.name}}!</p>"
        );
    }

    #[test]
    fn unknown_and_malformed_are_refused() {
        let allowed = ["customer.name", "ticket.id"];
        assert!(validate_template("Hi {{customer.name}} #{{ticket.id}}", &allowed).is_ok());
        assert_eq!(
            validate_template("Hi {{customer.password}}", &allowed),
            Err(TemplateError::UnknownPlaceholder {
                name: "customer.password".into()
            })
        );
        assert!(matches!(
            validate_template("Hi {{customer.name", &allowed),
            Err(TemplateError::Malformed { offset: 3 })
        ));
        assert!(matches!(
            validate_template("Hi {{a b}}", &allowed),
            Err(TemplateError::Malformed { .. })
        ));
        assert!(matches!(
            validate_template("Hi }}", &allowed),
            Err(TemplateError::Malformed { .. })
        ));
        assert_eq!(
            render("{{x}}", &HashMap::new()),
            Err(TemplateError::UnknownPlaceholder { name: "x".into() })
        );
    }
}
