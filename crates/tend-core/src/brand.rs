//! Brands: the names, hosts, colours and logos a support team shows its customers (like
//! Zendesk's brands). Pure rules only: what a valid name, slug, host, colour and logo are, the
//! WCAG contrast check behind the colours, and the per-brand stylesheet.
//!
//! The colours and where they go (see `crates/tend-web/assets/app.css`):
//! - `primary_color` is the background of the page header (the brand's bar) with **white**
//!   text on it, and of the kiosk's score buttons when they are pressed: white text on the
//!   primary colour must reach 4.5:1.
//! - `accent_color` colours links and primary buttons (white text on the accent; links in the
//!   accent on the page background `#f6f7f9`): the accent must reach 4.5:1 against the page
//!   background, which also makes white text on it pass (white is lighter still).
//!
//! Contrast is WCAG 2.x: relative luminance of sRGB colours, ratio `(L1 + 0.05) / (L2 + 0.05)`,
//! 4.5:1 for normal text (success criterion 1.4.3, level AA). A ratio is never rounded up
//! (4.499 fails), so messages show it cut to two decimals.

use crate::{parse_language, parse_line, truncate_for_message, Invalid};

/// Today's colours: the header bar and the links of the portal before brands existed.
pub const DEFAULT_PRIMARY: &str = "#17324d";
pub const DEFAULT_ACCENT: &str = "#0b5cad";
/// The page background links sit on (`--bg` in app.css).
pub const PAGE_BACKGROUND: &str = "#f6f7f9";
/// Text on the primary colour (header, pressed buttons).
pub const BUTTON_TEXT: &str = "#ffffff";
/// WCAG 2.x level AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;
/// Longest brand name, in characters.
pub const NAME_MAX: usize = 100;
/// Longest slug.
pub const SLUG_MAX: usize = 63;
/// Largest logo, in bytes (256 KiB).
pub const LOGO_MAX_BYTES: usize = 256 * 1024;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    /// `#rrggbb` (either case) → colour; anything else → `None`.
    pub fn from_hex(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let ch = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb {
            r: ch(0)?,
            g: ch(2)?,
            b: ch(4)?,
        })
    }

    /// `#rrggbb`, lower case.
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    /// WCAG 2.x relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        fn lin(c: u8) -> f64 {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        }
        0.2126 * lin(self.r) + 0.7152 * lin(self.g) + 0.0722 * lin(self.b)
    }

    /// The same hue scaled towards black by `f` (0..=1).
    fn scaled(self, f: f64) -> Rgb {
        let s = |c: u8| (f64::from(c) * f).floor().clamp(0.0, 255.0) as u8;
        Rgb {
            r: s(self.r),
            g: s(self.g),
            b: s(self.b),
        }
    }
}

/// WCAG contrast ratio between two colours, 1 to 21, whichever is lighter.
pub fn contrast_ratio(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// A ratio as people read it, never rounded up: `4.49:1`.
pub fn format_ratio(r: f64) -> String {
    format!("{:.2}:1", (r * 100.0).floor() / 100.0)
}

/// The lightest shade of `c` (same hue, darker) that reaches `min` against the lighter
/// `against`; black if none does first.
pub fn darken_until(c: Rgb, against: Rgb, min: f64) -> Rgb {
    let mut f = 1.0;
    while f > 0.0 {
        let d = c.scaled(f);
        if contrast_ratio(d, against) >= min {
            return d;
        }
        f -= 0.01;
    }
    Rgb { r: 0, g: 0, b: 0 }
}

fn color_format(field: &str, raw: &str) -> Result<Rgb, Invalid> {
    Rgb::from_hex(raw.trim()).ok_or_else(|| {
        Invalid::new(
            field,
            format!(
                "'{}' is not a colour like #0b5cad: write # and six hex digits",
                truncate_for_message(raw.trim())
            ),
        )
    })
}

fn check_contrast(
    field: &str,
    c: Rgb,
    against: Rgb,
    what: &str,
    hint: &str,
) -> Result<String, Invalid> {
    let r = contrast_ratio(c, against);
    if r >= MIN_CONTRAST {
        return Ok(c.to_hex());
    }
    let better = darken_until(c, against, MIN_CONTRAST);
    Err(Invalid::new(
        field,
        format!(
            "{} has a contrast ratio of {} with {what}; WCAG AA needs at least 4.5:1 so that \
             everyone can read it. {hint}, for example {} ({}).",
            c.to_hex(),
            format_ratio(r),
            better.to_hex(),
            format_ratio(contrast_ratio(better, against)),
        ),
    ))
}

/// The primary colour: `#rrggbb` with at least 4.5:1 against white text (the header bar and
/// pressed buttons show white text on it). Returned in lower case.
pub fn parse_primary_color(raw: &str) -> Result<String, Invalid> {
    let c = color_format("primary_color", raw)?;
    check_contrast(
        "primary_color",
        c,
        Rgb::from_hex(BUTTON_TEXT).expect("constant"),
        "the white text shown on it",
        "Choose a darker shade",
    )
}

/// The accent colour: `#rrggbb` with at least 4.5:1 against the page background (links are
/// written in it; primary buttons carry white text on it).
pub fn parse_accent_color(raw: &str) -> Result<String, Invalid> {
    let c = color_format("accent_color", raw)?;
    check_contrast(
        "accent_color",
        c,
        Rgb::from_hex(PAGE_BACKGROUND).expect("constant"),
        "the page background #f6f7f9 (links are written in it)",
        "Choose a darker shade",
    )
}

/// A brand's display name: one line, 1 to 100 characters.
pub fn parse_name(raw: &str) -> Result<String, Invalid> {
    parse_line("name", raw, NAME_MAX)
}

/// A slug for URLs (`/brands/{slug}/…`, `?brand=`): a-z, 0-9 and `-`, 1 to 63 characters,
/// starting and ending with a letter or digit.
pub fn parse_slug(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= SLUG_MAX
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::new(
            "slug",
            format!(
                "'{}' must hold only a-z, 0-9 and - (at most {SLUG_MAX}), starting and ending \
                 with a letter or digit, like shop-b",
                truncate_for_message(s)
            ),
        ))
    }
}

/// The default language of a brand's pages: a BCP 47 tag (`en`, `de-CH`).
pub fn parse_locale(raw: &str) -> Result<String, Invalid> {
    parse_language(raw).map_err(|e| Invalid::new("default_locale", e.message))
}

/// A brand's host name (`help.shop.example`), normalised: lower case, no scheme, path, port
/// or trailing dot. Pages requested with this `Host` show the brand. Non-ASCII names are
/// written in their `xn--` form.
pub fn normalize_host(raw: &str) -> Result<String, Invalid> {
    let bad = |why: &str| {
        Invalid::new(
            "host",
            format!(
                "'{}' {why}; write a host name like help.shop.example",
                truncate_for_message(raw.trim())
            ),
        )
    };
    let mut s = raw.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest.to_string();
        }
    }
    if let Some(i) = s.find('/') {
        if s[i..].chars().any(|c| c != '/') {
            return Err(bad("has a path"));
        }
        s.truncate(i);
    }
    let s = s.trim_end_matches('.');
    if s.is_empty() {
        return Err(bad("is empty"));
    }
    if s.contains(':') {
        return Err(bad("has a port (brands are matched by host name only)"));
    }
    if !s.is_ascii() {
        return Err(bad("is not ASCII (use the xn-- form of the name)"));
    }
    if s.len() > 253 {
        return Err(bad("is longer than 253 characters"));
    }
    for label in s.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad("is not a valid host name"));
        }
    }
    Ok(s.to_string())
}

/// The host of a request's `Host` header, as brands store it (lower case, without the port
/// and a trailing dot); `None` if it is not a host name.
pub fn request_host(header: &str) -> Option<String> {
    let h = header.trim();
    let name = if h.starts_with('[') {
        // An IPv6 literal: no brand can have it.
        return None;
    } else {
        match h.rsplit_once(':') {
            Some((n, port)) if port.chars().all(|c| c.is_ascii_digit()) => n,
            _ => h,
        }
    };
    normalize_host(name).ok()
}

/// The image formats a logo may have. No SVG: an SVG file can carry script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoType {
    Png,
    Jpeg,
    Webp,
}

impl LogoType {
    pub fn content_type(self) -> &'static str {
        match self {
            LogoType::Png => "image/png",
            LogoType::Jpeg => "image/jpeg",
            LogoType::Webp => "image/webp",
        }
    }
    pub fn from_content_type(ct: &str) -> Option<LogoType> {
        match ct {
            "image/png" => Some(LogoType::Png),
            "image/jpeg" | "image/jpg" => Some(LogoType::Jpeg),
            "image/webp" => Some(LogoType::Webp),
            _ => None,
        }
    }
    /// What the bytes are, by their magic numbers.
    pub fn sniff(bytes: &[u8]) -> Option<LogoType> {
        if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
            Some(LogoType::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(LogoType::Jpeg)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(LogoType::Webp)
        } else {
            None
        }
    }
}

/// Why a logo upload is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoProblem {
    /// Larger than [`LOGO_MAX_BYTES`] (HTTP 413).
    TooLarge(String),
    /// A declared type that is not PNG, JPEG or WebP (HTTP 415).
    UnsupportedType(String),
    /// Bytes that are not what the type says, or no image at all (HTTP 422).
    Invalid(Invalid),
}

/// Checks an uploaded logo: its declared `Content-Type` (parameters ignored) must be PNG,
/// JPEG or WebP, the bytes must start with that format's magic number (a browser never
/// sniffs them into something else), and it must be 1 byte to 256 KiB.
pub fn check_logo(content_type: &str, bytes: &[u8]) -> Result<LogoType, LogoProblem> {
    let declared = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some(want) = LogoType::from_content_type(&declared) else {
        let why = if declared.contains("svg") {
            "SVG logos are not accepted because an SVG file can carry script".to_string()
        } else if declared.is_empty() {
            "send the logo with a Content-Type header".to_string()
        } else {
            format!("'{}' is not accepted", truncate_for_message(&declared))
        };
        return Err(LogoProblem::UnsupportedType(format!(
            "{why}; upload a PNG, JPEG or WebP image with Content-Type image/png, image/jpeg or image/webp"
        )));
    };
    if bytes.len() > LOGO_MAX_BYTES {
        return Err(LogoProblem::TooLarge(format!(
            "the logo has {} bytes; at most {} KB (262144 bytes) are accepted: scale it down \
             (about 400 px wide is plenty for a page header)",
            bytes.len(),
            LOGO_MAX_BYTES / 1024
        )));
    }
    match LogoType::sniff(bytes) {
        Some(t) if t == want => Ok(t),
        Some(t) => Err(LogoProblem::Invalid(Invalid::new(
            "logo",
            format!(
                "the file is {} but was sent as {}: send it with Content-Type {}",
                t.content_type(),
                want.content_type(),
                t.content_type()
            ),
        ))),
        None => Err(LogoProblem::Invalid(Invalid::new(
            "logo",
            format!(
                "the body is not a {} image (its first bytes do not match): upload the image \
                 file itself",
                want.content_type()
            ),
        ))),
    }
}

/// The per-brand stylesheet: CSS custom properties that app.css and kiosk.css read (their
/// defaults are today's colours). The colours must have been checked (`#rrggbb`); anything
/// else falls back to the default so nothing but a colour can reach the CSS.
pub fn theme_css(primary: &str, accent: &str) -> String {
    let p = Rgb::from_hex(primary)
        .map(Rgb::to_hex)
        .unwrap_or_else(|| DEFAULT_PRIMARY.into());
    let a = Rgb::from_hex(accent)
        .map(Rgb::to_hex)
        .unwrap_or_else(|| DEFAULT_ACCENT.into());
    format!(
        "/* Tend brand theme: colours checked for WCAG AA contrast. */\n\
         :root {{ --brand-primary: {p}; --brand-primary-ink: #fff; --accent: {a}; --accent-ink: #fff; }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(s: &str) -> Rgb {
        Rgb::from_hex(s).unwrap()
    }

    #[test]
    fn parses_and_prints_colours() {
        assert_eq!(
            rgb("#0B5cAd"),
            Rgb {
                r: 0x0b,
                g: 0x5c,
                b: 0xad
            }
        );
        assert_eq!(rgb("#0B5CAD").to_hex(), "#0b5cad");
        for bad in ["0b5cad", "#0b5ca", "#0b5cadd", "#0g5cad", "#abc", "", "#"] {
            assert!(Rgb::from_hex(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn luminance_of_known_colours() {
        assert_eq!(rgb("#000000").luminance(), 0.0);
        assert!((rgb("#ffffff").luminance() - 1.0).abs() < 1e-12);
        // #808080: 128/255 = 0.50196; ((0.50196 + 0.055) / 1.055)^2.4 = 0.21586.
        assert!((rgb("#808080").luminance() - 0.21586).abs() < 1e-4);
        // Pure red: 0.2126 × 1.
        assert!((rgb("#ff0000").luminance() - 0.2126).abs() < 1e-12);
    }

    #[test]
    fn contrast_ratios_computed_by_hand() {
        // Black on white: (1 + 0.05) / (0 + 0.05) = 21.
        assert!((contrast_ratio(rgb("#000000"), rgb("#ffffff")) - 21.0).abs() < 1e-9);
        // Order does not matter; same colour is 1.
        assert!((contrast_ratio(rgb("#ffffff"), rgb("#000000")) - 21.0).abs() < 1e-9);
        assert!((contrast_ratio(rgb("#0b5cad"), rgb("#0b5cad")) - 1.0).abs() < 1e-12);
        // #777777 on white: 119/255 = 0.46667 → L = ((0.46667 + 0.055) / 1.055)^2.4 = 0.18447;
        // 1.05 / 0.23447 = 4.478 — the classic grey that just fails AA.
        let r = contrast_ratio(rgb("#777777"), rgb("#ffffff"));
        assert!((r - 4.478).abs() < 0.005, "{r}");
        // #767676 on white: 118/255 → L = 0.18116; 1.05 / 0.23116 = 4.542 — just passes.
        let r = contrast_ratio(rgb("#767676"), rgb("#ffffff"));
        assert!((r - 4.542).abs() < 0.005, "{r}");
        // Pure red on white: 1.05 / (0.2126 + 0.05) = 3.998.
        let r = contrast_ratio(rgb("#ff0000"), rgb("#ffffff"));
        assert!((r - 3.998).abs() < 0.001, "{r}");
    }

    #[test]
    fn ratios_are_never_rounded_up() {
        assert_eq!(format_ratio(4.4999), "4.49:1");
        assert_eq!(format_ratio(21.0), "21.00:1");
        assert_eq!(format_ratio(3.998), "3.99:1");
    }

    #[test]
    fn primary_needs_contrast_with_white_text() {
        assert_eq!(parse_primary_color("#17324D").unwrap(), "#17324d");
        assert_eq!(parse_primary_color(" #767676 ").unwrap(), "#767676");
        let e = parse_primary_color("#777777").unwrap_err();
        assert_eq!(e.field, "primary_color");
        assert!(e.message.contains("4.47:1"), "{}", e.message);
        assert!(e.message.contains("4.5:1"), "{}", e.message);
        assert!(e.message.contains("darker"), "{}", e.message);
        // The suggestion itself passes.
        // #ffcc00: L = 0.6444, 1.05 / 0.6944 = 1.512; the lightest passing shade of it is
        // #8e7200 (4.60:1).
        let e = parse_primary_color("#ffcc00").unwrap_err();
        assert!(e.message.contains("1.51:1"), "{}", e.message);
        assert!(e.message.contains("#8e7200 (4.60:1)"), "{}", e.message);
        let hex = e.message.split("for example ").nth(1).unwrap()[..7].to_string();
        assert!(contrast_ratio(rgb(&hex), rgb("#ffffff")) >= MIN_CONTRAST);
        assert!(parse_primary_color(&hex).is_ok());
        let e = parse_primary_color("blue").unwrap_err();
        assert!(e.message.contains("six hex digits"));
    }

    #[test]
    fn accent_needs_contrast_with_the_page_background() {
        // Today's accent: #0b5cad vs #f6f7f9 ≈ 6.22:1.
        assert_eq!(parse_accent_color("#0b5cad").unwrap(), "#0b5cad");
        // #767676 passes on white (4.54) but not on the page background (#f6f7f9, L = 0.92954:
        // 0.97954 / 0.23116 = 4.237).
        let r = contrast_ratio(rgb("#767676"), rgb(PAGE_BACKGROUND));
        assert!((r - 4.237).abs() < 0.005, "{r}");
        let e = parse_accent_color("#767676").unwrap_err();
        assert_eq!(e.field, "accent_color");
        assert!(e.message.contains("4.23:1"), "{}", e.message);
    }

    #[test]
    fn defaults_pass_their_own_checks() {
        assert!(parse_primary_color(DEFAULT_PRIMARY).is_ok());
        assert!(parse_accent_color(DEFAULT_ACCENT).is_ok());
    }

    #[test]
    fn darkening_keeps_the_hue_and_reaches_the_target() {
        let d = darken_until(rgb("#ff0000"), rgb("#ffffff"), MIN_CONTRAST);
        assert_eq!((d.g, d.b), (0, 0));
        assert!(d.r < 0xff);
        assert!(contrast_ratio(d, rgb("#ffffff")) >= MIN_CONTRAST);
        // One step lighter would fail (it is the lightest that passes, within a 1 % step).
        let lighter = Rgb {
            r: ((f64::from(d.r) / 0.99).min(255.0)) as u8 + 1,
            g: 0,
            b: 0,
        };
        assert!(contrast_ratio(lighter, rgb("#ffffff")) < MIN_CONTRAST + 0.2);
    }

    #[test]
    fn slugs() {
        assert_eq!(parse_slug(" shop-b ").unwrap(), "shop-b");
        assert_eq!(parse_slug("a").unwrap(), "a");
        assert_eq!(parse_slug("2nd-shop").unwrap(), "2nd-shop");
        for bad in [
            "",
            "Shop",
            "shop_b",
            "-shop",
            "shop-",
            "shop b",
            "shöp",
            &"a".repeat(64),
        ] {
            let e = parse_slug(bad).unwrap_err();
            assert_eq!(e.field, "slug", "{bad}");
        }
    }

    #[test]
    fn names_and_locales() {
        assert_eq!(parse_name("  Kettle & Co ").unwrap(), "Kettle & Co");
        assert!(parse_name("").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(parse_name("two\nlines").is_err());
        assert_eq!(parse_locale("de_ch").unwrap(), "de-CH");
        assert_eq!(parse_locale("xx-!").unwrap_err().field, "default_locale");
    }

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(
            normalize_host(" Help.Shop.Example ").unwrap(),
            "help.shop.example"
        );
        assert_eq!(
            normalize_host("https://help.shop.example/").unwrap(),
            "help.shop.example"
        );
        assert_eq!(
            normalize_host("help.shop.example.").unwrap(),
            "help.shop.example"
        );
        assert_eq!(normalize_host("localhost").unwrap(), "localhost");
        assert_eq!(
            normalize_host("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "help.shop.example:8080",
            "https://help.shop.example/path",
            "bücher.example",
            "-bad.example",
            "a..b",
            "under_score.example",
            "sp ace.example",
        ] {
            assert_eq!(normalize_host(bad).unwrap_err().field, "host", "{bad}");
        }
    }

    #[test]
    fn request_hosts_drop_the_port() {
        assert_eq!(
            request_host("Help.Shop.Example:8080").as_deref(),
            Some("help.shop.example")
        );
        assert_eq!(
            request_host("help.shop.example").as_deref(),
            Some("help.shop.example")
        );
        assert_eq!(request_host("[::1]:8080"), None);
        assert_eq!(request_host("bad host"), None);
    }

    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    const JPEG: &[u8] = &[0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F'];
    const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 ";

    #[test]
    fn logos_by_magic_bytes() {
        assert_eq!(check_logo("image/png", PNG), Ok(LogoType::Png));
        assert_eq!(check_logo("image/jpeg", JPEG), Ok(LogoType::Jpeg));
        assert_eq!(check_logo("IMAGE/WEBP; q=1", WEBP), Ok(LogoType::Webp));
        // Declared PNG, bytes JPEG.
        match check_logo("image/png", JPEG) {
            Err(LogoProblem::Invalid(e)) => {
                assert!(e.message.contains("image/jpeg"), "{}", e.message)
            }
            other => panic!("{other:?}"),
        }
        // Not an image at all.
        assert!(matches!(
            check_logo("image/png", b"<svg onload=alert(1)>"),
            Err(LogoProblem::Invalid(_))
        ));
        assert!(matches!(
            check_logo("image/png", b""),
            Err(LogoProblem::Invalid(_))
        ));
        // SVG and others refused by type, with the reason.
        match check_logo("image/svg+xml", b"<svg/>") {
            Err(LogoProblem::UnsupportedType(m)) => assert!(m.contains("script"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_logo("text/html", PNG),
            Err(LogoProblem::UnsupportedType(_))
        ));
        assert!(matches!(
            check_logo("", PNG),
            Err(LogoProblem::UnsupportedType(_))
        ));
    }

    #[test]
    fn logo_size_limit() {
        let mut big = PNG.to_vec();
        big.resize(LOGO_MAX_BYTES, 0);
        assert_eq!(check_logo("image/png", &big), Ok(LogoType::Png));
        big.push(0);
        assert!(matches!(
            check_logo("image/png", &big),
            Err(LogoProblem::TooLarge(_))
        ));
    }

    #[test]
    fn theme_css_holds_only_colours() {
        let css = theme_css("#123456", "#0B5CAD");
        assert!(css.contains("--brand-primary: #123456;"), "{css}");
        assert!(css.contains("--accent: #0b5cad;"), "{css}");
        let css = theme_css("red;} body{display:none", "#0b5cad");
        assert!(css.contains(DEFAULT_PRIMARY));
        assert!(!css.contains("display"));
    }
}
