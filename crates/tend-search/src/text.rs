//! HTML → plain text for indexing.

/// Tags whose end separates words (a heading followed by a paragraph must not glue
/// "Returns" and "You" into "ReturnsYou").
const BREAKS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "dt",
    "dd",
    "figcaption",
    "img",
];

/// The text of an HTML fragment: script and style contents dropped, block boundaries as line
/// breaks, inline tags removed without a gap, entities decoded, whitespace runs collapsed
/// (line breaks kept once).
pub fn html_to_text(html: &str) -> String {
    let clean = ammonia::Builder::empty()
        .add_tags(BREAKS.iter().copied())
        .clean(html)
        .to_string();
    // What ammonia leaves: the allowed tags (attribute-free here) and text where only
    // `&`, `<`, `>`, `"` and no-break spaces are escaped.
    let mut out = String::with_capacity(clean.len());
    let mut rest = clean.as_str();
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => {
                out.push('\n');
                rest = &rest[start + end + 1..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    let decoded = decode_entities(&out);
    let mut text = String::with_capacity(decoded.len());
    let mut pending: Option<char> = None;
    for c in decoded.chars() {
        if c.is_whitespace() {
            let sep = if c == '\n' { '\n' } else { ' ' };
            pending = match pending {
                Some('\n') => Some('\n'),
                _ => Some(sep),
            };
            continue;
        }
        if let Some(p) = pending.take() {
            if !text.is_empty() {
                text.push(p);
            }
        }
        text.push(c);
    }
    text
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        // At most 12 bytes ahead, cut at a character boundary.
        let mut end = tail.len().min(12);
        while !tail.is_char_boundary(end) {
            end -= 1;
        }
        let Some(semi) = tail[..end].find(';') else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let name = &tail[1..semi];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_separate_words_and_scripts_vanish() {
        let t = html_to_text(
            "<h1>Returns</h1><p>You can <b>re</b>turn items &amp; get a refund.</p>\
             <script>alert('x')</script><style>p{}</style><ul><li>One</li><li>Two&nbsp;3</li></ul>",
        );
        assert_eq!(
            t,
            "Returns\nYou can return items & get a refund.\nOne\nTwo 3"
        );
        assert_eq!(
            html_to_text("a &lt;b&gt; &#233; &#x41; &bogus; &"),
            "a <b> é A &bogus; &"
        );
        assert_eq!(html_to_text(""), "");
        assert_eq!(html_to_text("<p unclosed"), "");
    }
}
