//! Charts as SVG, drawn on the server: line, bar and a weekday × hour heat map. Pure
//! functions from numbers to markup. Every chart is an accessible image (`role="img"`,
//! `<title>` and `<desc>` referenced by `aria-labelledby`); each data point carries its own
//! `<title>` (a tooltip); pages put a text table next to it. Colours are presentation
//! attributes (the Content-Security-Policy forbids inline styles). All text is escaped.

use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;
const PALETTE: [&str; 6] = [
    "#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Escapes text for XML content and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A named line of values (`None`: no value, the line breaks).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// A round number ≥ `max` for the top of an axis (1, 2, 2.5, 5 × 10^n).
pub fn nice_ceiling(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= max {
            return m * p;
        }
    }
    10.0 * p
}

fn open(out: &mut String, id: &str, title: &str, desc: &str, w: f64, h: f64) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    );
}

fn y_axis(out: &mut String, top: f64, fmt: &dyn Fn(f64) -> String) {
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let y = H - BOTTOM - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11" fill="#4b5563">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&fmt(v))
        );
    }
}

fn x_labels(out: &mut String, labels: &[String], x: &dyn Fn(usize) -> f64) {
    let n = labels.len();
    let step = n.div_ceil(8).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % step == 0 || i + 1 == n {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="11" fill="#4b5563">{}</text>"##,
                x(i),
                H - BOTTOM + 16.0,
                esc(l)
            );
        }
    }
}

fn legend(out: &mut String, names: &[&str]) {
    let mut x = LEFT;
    for (i, name) in names.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{}" width="10" height="10" fill="{c}"/><text x="{:.1}" y="{}" font-size="11" fill="#111827">{}</text>"##,
            H - 12.0,
            x + 14.0,
            H - 3.0,
            esc(name)
        );
        x += 24.0 + 7.0 * name.chars().count() as f64;
    }
}

/// A line chart of one or more series over labelled points (periods).
pub fn line_chart(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    series: &[Series],
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let mut out = String::new();
    open(&mut out, id, title, desc, W, H);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let top = nice_ceiling(max);
    y_axis(&mut out, top, fmt);
    let n = labels.len().max(1);
    let plot_w = W - LEFT - RIGHT;
    let x = |i: usize| {
        if n == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| H - BOTTOM - (H - TOP - BOTTOM) * (v / top).clamp(0.0, 1.0);
    x_labels(&mut out, labels, &x);
    for (k, s) in series.iter().enumerate() {
        let c = PALETTE[k % PALETTE.len()];
        let mut segment: Vec<String> = Vec::new();
        let flush = |out: &mut String, seg: &mut Vec<String>| {
            if seg.len() > 1 {
                let _ = write!(
                    out,
                    r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
                    seg.join(" ")
                );
            }
            seg.clear();
        };
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => segment.push(format!("{:.1},{:.1}", x(i), y(*v))),
                None => flush(&mut out, &mut segment),
            }
        }
        flush(&mut out, &mut segment);
        for (i, v) in s.values.iter().enumerate() {
            if let Some(v) = v {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"><title>{}: {} {}</title></circle>"#,
                    x(i),
                    y(*v),
                    esc(labels.get(i).map_or("", String::as_str)),
                    esc(&s.name),
                    esc(&fmt(*v))
                );
            }
        }
    }
    legend(
        &mut out,
        &series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>");
    out
}

/// A horizontal bar chart: one bar per label.
pub fn bar_chart(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    values: &[f64],
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let bar = 20.0;
    let gap = 6.0;
    let left = 140.0;
    let h = TOP + (bar + gap) * labels.len().max(1) as f64 + 8.0;
    let mut out = String::new();
    open(&mut out, id, title, desc, W, h);
    let top = nice_ceiling(values.iter().fold(0.0f64, |a, b| a.max(*b)));
    let plot_w = W - left - 80.0;
    for (i, (l, v)) in labels.iter().zip(values).enumerate() {
        let y = TOP + (bar + gap) * i as f64;
        let w = (plot_w * (v / top).clamp(0.0, 1.0)).max(1.0);
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#111827">{}</text><rect x="{left}" y="{y:.1}" width="{w:.1}" height="{bar}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="12" fill="#111827">{}</text>"##,
            left - 6.0,
            y + 14.0,
            esc(l),
            PALETTE[0],
            esc(l),
            esc(&fmt(*v)),
            left + w + 6.0,
            y + 14.0,
            esc(&fmt(*v))
        );
    }
    out.push_str("</svg>");
    out
}

/// A stacked column chart: one column per label, one stacked segment per series (values
/// missing or negative count as 0). Each segment carries its own tooltip.
pub fn stacked_bar_chart(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    series: &[Series],
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let mut out = String::new();
    open(&mut out, id, title, desc, W, H);
    let n = labels.len().max(1);
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0))
                .sum()
        })
        .collect();
    let top = nice_ceiling(totals.iter().fold(0.0f64, |a, b| a.max(*b)));
    y_axis(&mut out, top, fmt);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let bar = (slot * 0.7).max(1.0);
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);
    x_labels(&mut out, labels, &x);
    for (i, label) in labels.iter().enumerate() {
        let mut base = 0.0;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().flatten().unwrap_or(0.0).max(0.0);
            if v <= 0.0 {
                continue;
            }
            let y0 = H - BOTTOM - plot_h * (base / top).clamp(0.0, 1.0);
            let y1 = H - BOTTOM - plot_h * ((base + v) / top).clamp(0.0, 1.0);
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{y1:.1}" width="{bar:.1}" height="{:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                x(i) - bar / 2.0,
                (y0 - y1).max(0.5),
                PALETTE[k % PALETTE.len()],
                esc(label),
                esc(&s.name),
                esc(&fmt(v))
            );
            base += v;
        }
    }
    legend(
        &mut out,
        &series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>");
    out
}

/// A weekday × hour heat map (rows Monday..Sunday, columns 0..23 local time).
pub fn heatmap(id: &str, title: &str, desc: &str, m: &[[i64; 24]; 7]) -> String {
    let cell = 22.0;
    let left = 40.0;
    let top = 18.0;
    let w = left + cell * 24.0 + 8.0;
    let h = top + cell * 7.0 + 8.0;
    let mut out = String::new();
    open(&mut out, id, title, desc, w, h);
    let max = m.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    for hour in (0..24).step_by(3) {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="12" text-anchor="middle" font-size="10" fill="#4b5563">{hour:02}</text>"##,
            left + cell * f64::from(hour) + cell / 2.0
        );
    }
    for (d, row) in m.iter().enumerate() {
        let y = top + cell * d as f64;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#111827">{}</text>"##,
            left - 6.0,
            y + 15.0,
            WEEKDAYS[d]
        );
        for (hour, n) in row.iter().enumerate() {
            let x = left + cell * hour as f64;
            let o = if *n == 0 {
                0.04
            } else {
                0.15 + 0.85 * (*n as f64 / max)
            };
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{}" height="{}" fill="#2563eb" fill-opacity="{o:.2}"><title>{} {hour:02}:00–{:02}:00: {n}</title></rect>"##,
                cell - 2.0,
                cell - 2.0,
                WEEKDAYS[d],
                (hour + 1) % 24
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_bars_add_up_and_escape() {
        let svg = stacked_bar_chart(
            "s",
            "Created <by> group",
            "d",
            &["W1".into(), "W2".into()],
            &[
                Series {
                    name: "Billing".into(),
                    values: vec![Some(2.0), Some(1.0)],
                },
                Series {
                    name: "A&B".into(),
                    values: vec![Some(3.0), None],
                },
            ],
            &|v| format!("{v}"),
        );
        assert!(svg.contains("Created &lt;by&gt; group"));
        assert_eq!(
            svg.matches("<rect x=").count(),
            3 + 2,
            "3 segments + 2 legend keys"
        );
        assert!(svg.contains("<title>W1: A&amp;B 3</title>"));
        // The axis top is the largest column (5), not the largest segment.
        assert!(svg.contains(">5<"));
    }

    fn count(v: f64) -> String {
        format!("{v:.0}")
    }

    #[test]
    fn charts_are_accessible_and_escape_text() {
        let labels = vec!["2026-03-01".to_string(), "<b>".to_string()];
        let s = line_chart(
            "c1",
            "Created & solved",
            "Tickets per day",
            &labels,
            &[Series {
                name: "Created\"".into(),
                values: vec![Some(3.0), None],
            }],
            &count,
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains(r#"role="img" aria-labelledby="c1-t c1-d""#));
        assert!(s.contains("<title id=\"c1-t\">Created &amp; solved</title>"));
        assert!(s.contains("&lt;b&gt;") && !s.contains("<b>"));
        assert!(s.contains("Created&quot;"));
        assert!(!s.contains("style="), "CSP: no inline styles");
        assert_eq!(
            s.matches("<circle").count(),
            1,
            "no point for a missing value"
        );
        let b = bar_chart("c2", "By group", "d", &["Billing".into()], &[5.0], &count);
        assert!(b.contains("<title>Billing: 5</title>"));
        let mut m = [[0i64; 24]; 7];
        m[0][9] = 4;
        let h = heatmap("c3", "Heat", "d", &m);
        assert_eq!(h.matches("<rect").count(), 7 * 24);
        assert!(h.contains("<title>Mon 09:00–10:00: 4</title>"));
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(18.0), 20.0);
        assert_eq!(nice_ceiling(23.0), 25.0);
        assert_eq!(nice_ceiling(4100.0), 5000.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
    }
}
