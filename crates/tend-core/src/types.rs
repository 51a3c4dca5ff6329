//! Domain values that parse: once you hold one, it is valid.

use crate::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text $(, alias = $alias)*)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                match s {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(Invalid::new(
                        stringify!($name).to_ascii_lowercase(),
                        format!("'{}' is not one of: {}", truncate_for_message(s), [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}

string_enum!(
    /// Where a ticket stands. `pending` waits for the customer, `on_hold` for a third party.
    Status { New = "new", Open = "open", Pending = "pending", OnHold = "on_hold" | "on-hold" | "hold", Solved = "solved", Closed = "closed" }
);
string_enum!(Priority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" });
string_enum!(
    /// The channel a ticket came in through.
    Channel { Email = "email", Web = "web", Portal = "portal", Chat = "chat", Phone = "phone", Social = "social", Api = "api" }
);
string_enum!(
    /// Agent roles: admins configure, supervisors see every group, agents see their groups.
    Role { Admin = "admin", Supervisor = "supervisor", Agent = "agent" }
);
string_enum!(
    /// The type of a custom field; values are checked against it.
    FieldType { Text = "text", Textarea = "textarea", Integer = "integer", Decimal = "decimal", Checkbox = "checkbox", Date = "date", Dropdown = "dropdown" }
);

impl Status {
    /// Statuses in which a ticket still needs work.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Solved | Status::Closed)
    }
}

impl Priority {
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }
}

pub fn truncate_for_message(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Limits on sizes a client can send.
pub mod limits {
    pub const SUBJECT_MAX: usize = 500;
    pub const NAME_MAX: usize = 200;
    pub const BODY_MAX: usize = 1_000_000;
    pub const NOTES_MAX: usize = 10_000;
    pub const TAG_MAX: usize = 64;
    pub const TAGS_PER_TICKET: usize = 100;
    pub const EXTERNAL_ID_MAX: usize = 200;
    pub const FIELD_TEXT_MAX: usize = 10_000;
    pub const ATTACHMENT_MAX: usize = 10 * 1024 * 1024;
    pub const URL_MAX: usize = 2_000;
}

/// An e-mail address, trimmed, with its domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, Invalid> {
        let s = raw.trim();
        let bad = |m: &str| Invalid::new("email", format!("'{}' {m}", truncate_for_message(s)));
        if s.is_empty() {
            return Err(Invalid::new("email", "is empty"));
        }
        if s.len() > 254 {
            return Err(bad("is longer than 254 characters"));
        }
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c))
        {
            return Err(bad(
                "contains a space, control character or one of <>()[],;:\\\"",
            ));
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| bad("has no @: write it as name@example.com"))?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad("has an invalid part before the @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(bad("has an invalid domain: write it as name@example.com"));
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// A tag: lower case letters, digits, `_`, `-`, `:` and `.`, at most 64 characters.
pub fn parse_tag(raw: &str) -> Result<String, Invalid> {
    let t = raw.trim().to_lowercase();
    if t.is_empty() {
        return Err(Invalid::new("tags", "a tag is empty"));
    }
    if t.chars().count() > limits::TAG_MAX {
        return Err(Invalid::new(
            "tags",
            format!(
                "tag '{}' is longer than {} characters",
                truncate_for_message(&t),
                limits::TAG_MAX
            ),
        ));
    }
    if !t.chars().all(|c| c.is_alphanumeric() || "_-:.".contains(c)) {
        return Err(Invalid::new(
            "tags",
            format!(
                "tag '{}' may only hold letters, digits, _ - : and .",
                truncate_for_message(&t)
            ),
        ));
    }
    Ok(t)
}

/// Parses, de-duplicates and sorts a list of tags.
pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = raw.iter().map(|t| parse_tag(t)).collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    if out.len() > limits::TAGS_PER_TICKET {
        return Err(Invalid::new(
            "tags",
            format!("at most {} tags per ticket", limits::TAGS_PER_TICKET),
        ));
    }
    Ok(out)
}

/// A non-empty, trimmed single-line text of bounded length.
pub fn parse_line(field: &str, raw: &str, max: usize) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Invalid::new(
            field,
            "must be one line without control characters",
        ));
    }
    Ok(s.to_string())
}

/// A text of bounded length (may be multi-line, may be empty).
pub fn check_len(field: &str, s: &str, max: usize) -> Result<(), Invalid> {
    if s.len() > max {
        return Err(Invalid::new(field, format!("is longer than {max} bytes")));
    }
    Ok(())
}

/// A BCP 47 language tag such as `en`, `de-CH` or `pt-BR`, normalised to the usual case.
pub fn parse_language(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    let bad = || {
        Invalid::new(
            "language",
            format!(
                "'{}' is not a BCP 47 language tag such as en, de-CH or pt-BR",
                truncate_for_message(s)
            ),
        )
    };
    if s.is_empty() || s.len() > 35 {
        return Err(bad());
    }
    let mut parts = s.split(['-', '_']);
    let primary = parts.next().ok_or_else(bad)?;
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut out = primary.to_ascii_lowercase();
    for p in parts {
        if p.is_empty() || p.len() > 8 || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        out.push('-');
        if p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()) {
            out.push_str(&p.to_ascii_uppercase());
        } else if p.len() == 4 && p.chars().all(|c| c.is_ascii_alphabetic()) {
            let mut c = p.chars();
            out.extend(c.next().map(|f| f.to_ascii_uppercase()));
            out.push_str(&c.as_str().to_ascii_lowercase());
        } else {
            out.push_str(&p.to_ascii_lowercase());
        }
    }
    Ok(out)
}

/// An IANA time zone name such as `Europe/Berlin`.
pub fn parse_time_zone(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    s.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            Invalid::new(
                "time_zone",
                format!(
                    "'{}' is not an IANA time zone name such as Europe/Berlin",
                    truncate_for_message(s)
                ),
            )
        })
}

/// A custom field key: lower-case letters, digits and `_`, starting with a letter.
pub fn parse_field_key(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty()
        || s.len() > 64
        || !s.starts_with(|c: char| c.is_ascii_lowercase())
        || !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(Invalid::new(
            "key",
            format!(
                "'{}' must start with a-z and hold only a-z, 0-9 and _ (at most 64)",
                truncate_for_message(s)
            ),
        ));
    }
    Ok(s.to_string())
}

/// A webhook target: an http(s) URL.
pub fn parse_http_url(field: &str, raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.len() > limits::URL_MAX {
        return Err(Invalid::new(field, "is too long"));
    }
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| Invalid::new(field, "must start with https:// or http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Invalid::new(field, "is not a valid URL"));
    }
    Ok(s.to_string())
}

/// Checks one custom field value against its definition; `null` clears a field.
pub fn check_field_value(
    key: &str,
    ty: FieldType,
    options: &[String],
    v: &serde_json::Value,
) -> Result<(), Invalid> {
    use serde_json::Value;
    let field = format!("fields.{key}");
    if v.is_null() {
        return Ok(());
    }
    let ok = match ty {
        FieldType::Text | FieldType::Textarea => match v {
            Value::String(s) => {
                check_len(&field, s, limits::FIELD_TEXT_MAX)?;
                true
            }
            _ => false,
        },
        FieldType::Integer => v.is_i64(),
        FieldType::Decimal => v.is_number(),
        FieldType::Checkbox => v.is_boolean(),
        FieldType::Date => v
            .as_str()
            .map(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
            .unwrap_or(false),
        FieldType::Dropdown => match v.as_str() {
            Some(s) if options.iter().any(|o| o == s) => true,
            Some(s) => {
                return Err(Invalid::new(
                    field,
                    format!(
                        "'{}' is not one of the options: {}",
                        truncate_for_message(s),
                        options.join(", ")
                    ),
                ))
            }
            None => false,
        },
    };
    if ok {
        Ok(())
    } else {
        let want = match ty {
            FieldType::Text | FieldType::Textarea => "a string",
            FieldType::Integer => "an integer",
            FieldType::Decimal => "a number",
            FieldType::Checkbox => "true or false",
            FieldType::Date => "a date as YYYY-MM-DD",
            FieldType::Dropdown => "one of the option strings",
        };
        Err(Invalid::new(field, format!("must be {want}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_parse_or_say_why() {
        assert_eq!(
            Email::parse(" Ana@Example.COM ").unwrap().as_str(),
            "Ana@example.com"
        );
        assert!(Email::parse("nope").unwrap_err().message.contains("no @"));
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("a b@c.de").is_err());
        assert!(Email::parse("a@-b.de").is_err());
        assert!(Email::parse("\"x\"@y.de").is_err());
        assert!(Email::parse(&format!("{}@x.de", "a".repeat(65))).is_err());
        assert_eq!(Email::parse("x@müller.de").unwrap().domain(), "müller.de");
    }

    #[test]
    fn statuses_round_trip_and_accept_aliases() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
        }
        assert_eq!("on-hold".parse::<Status>().unwrap(), Status::OnHold);
        let e = "done".parse::<Status>().unwrap_err();
        assert!(e.message.contains("new, open, pending"));
        assert_eq!(
            serde_json::from_str::<Status>("\"hold\"").unwrap(),
            Status::OnHold
        );
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(
            parse_tags(&["VIP".into(), "vip".into(), "a:b".into()]).unwrap(),
            vec!["a:b", "vip"]
        );
        assert!(parse_tag("has space").is_err());
        assert!(parse_tag("").is_err());
        assert!(parse_tag(&"x".repeat(65)).is_err());
    }

    #[test]
    fn languages_and_zones() {
        assert_eq!(parse_language("pt_br").unwrap(), "pt-BR");
        assert_eq!(parse_language("zh-hant-tw").unwrap(), "zh-Hant-TW");
        assert!(parse_language("english").is_err());
        assert_eq!(parse_time_zone("Europe/Berlin").unwrap(), "Europe/Berlin");
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn field_values_are_typed() {
        let opts = vec!["a".to_string(), "b".to_string()];
        assert!(check_field_value("k", FieldType::Integer, &[], &serde_json::json!(3)).is_ok());
        assert!(check_field_value("k", FieldType::Integer, &[], &serde_json::json!("3")).is_err());
        assert!(
            check_field_value("k", FieldType::Date, &[], &serde_json::json!("2026-02-30")).is_err()
        );
        assert!(
            check_field_value("k", FieldType::Date, &[], &serde_json::json!("2026-02-28")).is_ok()
        );
        assert!(
            check_field_value("k", FieldType::Dropdown, &opts, &serde_json::json!("c")).is_err()
        );
        assert!(
            check_field_value("k", FieldType::Dropdown, &opts, &serde_json::json!("b")).is_ok()
        );
        assert!(check_field_value("k", FieldType::Checkbox, &[], &serde_json::Value::Null).is_ok());
    }

    #[test]
    fn urls() {
        assert!(parse_http_url("url", "https://example.com/hook").is_ok());
        assert!(parse_http_url("url", "ftp://x").is_err());
        assert!(parse_http_url("url", "http:///x").is_err());
    }
}
