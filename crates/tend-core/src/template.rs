//! Placeholders in texts that admins and agents write (macros, mail templates):
//! `{{customer.name}}`. Unknown placeholders are refused when the text is saved, not when it
//! is sent. Values are inserted as plain text; HTML escaping is the renderer's job.

use crate::Invalid;
use std::collections::BTreeMap;

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

/// Splits a text into literal and placeholder parts; errors on an unclosed `{{`.
fn parts(text: &str) -> Result<Vec<(bool, &str)>, Invalid> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push((false, &rest[..start]));
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            Invalid::new(
                "body",
                "a placeholder is opened with {{ but never closed with }}",
            )
        })?;
        out.push((true, after[..end].trim()));
        rest = &after[end + 2..];
    }
    out.push((false, rest));
    Ok(out)
}

/// Checks that every placeholder is one of `known`.
pub fn validate(text: &str, known: &[&str]) -> Result<(), Invalid> {
    for (is_ph, p) in parts(text)? {
        if is_ph && !known.contains(&p) {
            return Err(Invalid::new(
                "body",
                format!(
                    "unknown placeholder {{{{{p}}}}}; known: {}",
                    known
                        .iter()
                        .map(|k| format!("{{{{{k}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Fills placeholders from `values`; a missing value renders as empty text.
pub fn render(text: &str, values: &BTreeMap<&str, String>) -> Result<String, Invalid> {
    let mut out = String::with_capacity(text.len());
    for (is_ph, p) in parts(text)? {
        if is_ph {
            match values.get(p) {
                Some(v) => out.push_str(v),
                None if TICKET_PLACEHOLDERS.contains(&p) => {}
                None => {
                    return Err(Invalid::new(
                        "body",
                        format!("unknown placeholder {{{{{p}}}}}"),
                    ))
                }
            }
        } else {
            out.push_str(p);
        }
    }
    Ok(out)
}

/// The first word of a name, for "Hi {{customer.first_name}}".
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_render_and_unknown_ones_are_refused() {
        let mut v = BTreeMap::new();
        v.insert("customer.first_name", "Ana".to_string());
        v.insert("ticket.id", "42".to_string());
        assert_eq!(
            render("Hi {{ customer.first_name }}, about #{{ticket.id}}:", &v).unwrap(),
            "Hi Ana, about #42:"
        );
        assert_eq!(
            render("{{agent.name}}", &v).unwrap(),
            "",
            "known but absent renders empty"
        );
        assert!(validate("Hi {{customer.nmae}}", TICKET_PLACEHOLDERS)
            .unwrap_err()
            .message
            .contains("unknown placeholder {{customer.nmae}}"));
        assert!(validate("Hi {{customer.name", TICKET_PLACEHOLDERS).is_err());
        assert!(validate("no placeholders } { at all", TICKET_PLACEHOLDERS).is_ok());
        assert_eq!(first_name("  Ana  Lima "), "Ana");
    }
}
