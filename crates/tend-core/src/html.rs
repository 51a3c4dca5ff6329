//! HTML that came from outside (mail, API clients, articles) is sanitized before it is stored
//! for display; plain text is kept beside it for search and notifications.

/// Sanitizes HTML for display: no script, no event handlers, no styles that load things,
/// links open without referrer.
pub fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto", "cid"].into_iter().collect())
        .clean(html)
        .to_string()
}

/// Escapes plain text and keeps its line breaks, for a message written as text.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        for c in line.trim_end_matches('\r').chars() {
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
    out
}

/// A plain-text rendering of HTML: tags dropped, block ends as line breaks, common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let clean = ammonia::Builder::empty()
        .add_tags(["p", "br", "div", "li", "tr"])
        .clean(html)
        .to_string();
    let mut out = String::with_capacity(clean.len());
    let mut rest = clean.as_str();
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[start + 1..start + end];
        if tag.starts_with("br")
            || tag.starts_with("/p")
            || tag.starts_with("/div")
            || tag.starts_with("/li")
            || tag.starts_with("/tr")
        {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_handlers_are_removed() {
        let dirty = r#"<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)></p>"#;
        let clean = sanitize(dirty);
        assert!(!clean.contains("script"));
        assert!(!clean.contains("onclick"));
        assert!(!clean.contains("onerror"));
        assert!(!clean.contains("javascript:"));
        assert!(clean.contains("Hi"));
    }

    #[test]
    fn text_round_trips_through_html() {
        let t = "a < b & \"c\"\nsecond line";
        assert_eq!(
            text_to_html(t),
            "a &lt; b &amp; &quot;c&quot;<br>second line"
        );
        assert_eq!(html_to_text(&text_to_html(t)), t);
        assert_eq!(
            html_to_text("<p>one</p><p>two <b>bold</b></p>"),
            "one\ntwo bold"
        );
    }
}
