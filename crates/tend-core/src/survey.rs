//! Satisfaction surveys: NPS, CSAT, CES, response rate, and whether a change between two
//! periods is significant. Pure arithmetic over answer counts.
//!
//! Counts (`NpsCounts`, `CsatCounts`, `CesCounts`) are what gets stored and summed: they
//! merge by addition, so per-day counts add up to months. Summaries (`Nps`, `Csat`, `Ces`)
//! are derived from counts and are `None` when there are no responses.
//!
//! Every share is in percent (0–100); NPS is in points (−100..100).

use crate::Invalid;
use serde::{Deserialize, Serialize};

/// The z value of a two-sided 95 % interval.
pub const Z_95: f64 = 1.96;

fn check_score(field: &str, score: u8, min: u8, max: u8) -> Result<(), Invalid> {
    if (min..=max).contains(&score) {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("{score} is not a score from {min} to {max}"),
        ))
    }
}

fn pct(hits: u64, n: u64) -> f64 {
    100.0 * hits as f64 / n as f64
}

// ---------------------------------------------------------------------------------------
// NPS
// ---------------------------------------------------------------------------------------

/// Where a 0–10 "would you recommend us" answer falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NpsCategory {
    /// 0–6.
    Detractor,
    /// 7–8.
    Passive,
    /// 9–10.
    Promoter,
}

/// The category of an NPS answer; a score above 10 is `Invalid`.
pub fn nps_category(score: u8) -> Result<NpsCategory, Invalid> {
    check_score("nps", score, 0, 10)?;
    Ok(match score {
        0..=6 => NpsCategory::Detractor,
        7..=8 => NpsCategory::Passive,
        _ => NpsCategory::Promoter,
    })
}

/// NPS answers counted by category. Merge by adding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpsCounts {
    pub detractors: u64,
    pub passives: u64,
    pub promoters: u64,
}

/// An NPS with its uncertainty.
///
/// With `n` responses, `p` the share of promoters and `d` the share of detractors (as
/// fractions), NPS = 100·(p − d). The NPS estimator is the mean of a variable that is +1
/// for a promoter, 0 for a passive and −1 for a detractor; its variance is
/// `E[X²] − E[X]² = (p + d) − (p − d)²`, so
///
/// ```text
/// Var(NPS as a fraction) = (p + d − (p − d)²) / n
/// SE (NPS points)        = 100 · sqrt(Var)
/// 95 % CI                = NPS ± 1.96 · SE, clamped to −100..100
/// ```
///
/// The interval is the normal (Wald) approximation: it is rough for small `n` and has zero
/// width when every answer is in one category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nps {
    pub n: u64,
    pub promoters_pct: f64,
    pub passives_pct: f64,
    pub detractors_pct: f64,
    /// −100..100.
    pub score: f64,
    /// In NPS points.
    pub standard_error: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl NpsCounts {
    pub fn from_scores(scores: &[u8]) -> Result<NpsCounts, Invalid> {
        let mut c = NpsCounts::default();
        for &s in scores {
            c.add(s)?;
        }
        Ok(c)
    }

    /// Counts one answer; an invalid score leaves the counts unchanged.
    pub fn add(&mut self, score: u8) -> Result<(), Invalid> {
        match nps_category(score)? {
            NpsCategory::Detractor => self.detractors += 1,
            NpsCategory::Passive => self.passives += 1,
            NpsCategory::Promoter => self.promoters += 1,
        }
        Ok(())
    }

    pub fn merge(&mut self, other: &NpsCounts) {
        self.detractors += other.detractors;
        self.passives += other.passives;
        self.promoters += other.promoters;
    }

    pub fn n(&self) -> u64 {
        self.detractors + self.passives + self.promoters
    }

    /// `None` when there are no responses.
    pub fn summary(&self) -> Option<Nps> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let p = self.promoters as f64 / n as f64;
        let d = self.detractors as f64 / n as f64;
        let score = 100.0 * (p - d);
        // Rounding can make the variance a hair negative when all answers share a category.
        let var = ((p + d - (p - d).powi(2)) / n as f64).max(0.0);
        let se = 100.0 * var.sqrt();
        Some(Nps {
            n,
            promoters_pct: 100.0 * p,
            passives_pct: pct(self.passives, n),
            detractors_pct: 100.0 * d,
            score,
            standard_error: se,
            ci_low: (score - Z_95 * se).max(-100.0),
            ci_high: (score + Z_95 * se).min(100.0),
        })
    }
}

// ---------------------------------------------------------------------------------------
// CSAT
// ---------------------------------------------------------------------------------------

/// The answer scale of a CSAT question. Answers run from 1 to `max()`.
///
/// "Satisfied" is the top two answers on the 5-point scale (4 and 5) and the top answer
/// on the 2-point (2 = 👍) and 3-point (3 = 🙂) scales: on those short scales the second
/// answer from the top is the neutral or negative one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsatScale {
    TwoPoint,
    ThreePoint,
    FivePoint,
}

impl CsatScale {
    pub fn max(self) -> u8 {
        match self {
            CsatScale::TwoPoint => 2,
            CsatScale::ThreePoint => 3,
            CsatScale::FivePoint => 5,
        }
    }
    /// The lowest answer that counts as satisfied.
    pub fn satisfied_from(self) -> u8 {
        match self {
            CsatScale::FivePoint => 4,
            s => s.max(),
        }
    }
    pub fn check(self, score: u8) -> Result<(), Invalid> {
        check_score("csat", score, 1, self.max())
    }
}

/// CSAT answers counted by score on one scale. Merge by adding (same scale only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatCounts {
    pub scale: CsatScale,
    /// `counts[i]` is the number of answers `i + 1`; entries above the scale stay 0.
    pub counts: [u64; 5],
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Csat {
    pub scale: CsatScale,
    pub n: u64,
    pub satisfied: u64,
    /// Share of satisfied answers (see `CsatScale`).
    pub csat_pct: f64,
    /// Mean answer on the scale's own 1..max values.
    pub mean: f64,
}

impl CsatCounts {
    pub fn new(scale: CsatScale) -> CsatCounts {
        CsatCounts {
            scale,
            counts: [0; 5],
        }
    }

    pub fn from_scores(scale: CsatScale, scores: &[u8]) -> Result<CsatCounts, Invalid> {
        let mut c = CsatCounts::new(scale);
        for &s in scores {
            c.add(s)?;
        }
        Ok(c)
    }

    pub fn add(&mut self, score: u8) -> Result<(), Invalid> {
        self.scale.check(score)?;
        self.counts[usize::from(score - 1)] += 1;
        Ok(())
    }

    /// Adds `other`'s counts; answers on different scales do not add up.
    pub fn merge(&mut self, other: &CsatCounts) -> Result<(), Invalid> {
        if self.scale != other.scale {
            return Err(Invalid::new(
                "scale",
                "CSAT answers on different scales cannot be added up",
            ));
        }
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        Ok(())
    }

    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn satisfied(&self) -> u64 {
        self.counts[usize::from(self.scale.satisfied_from() - 1)..]
            .iter()
            .sum()
    }

    /// `None` when there are no responses.
    pub fn summary(&self) -> Option<Csat> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let satisfied = self.satisfied();
        Some(Csat {
            scale: self.scale,
            n,
            satisfied,
            csat_pct: pct(satisfied, n),
            mean: weighted_mean(&self.counts, n),
        })
    }
}

fn weighted_mean(counts: &[u64], n: u64) -> f64 {
    let total: u64 = counts
        .iter()
        .enumerate()
        .map(|(i, c)| (i as u64 + 1) * c)
        .sum();
    total as f64 / n as f64
}

// ---------------------------------------------------------------------------------------
// CES
// ---------------------------------------------------------------------------------------

/// Customer effort: "the company made it easy to handle my issue", 1 (strongly disagree)
/// to 7 (strongly agree). Merge by adding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CesCounts {
    /// `counts[i]` is the number of answers `i + 1`.
    pub counts: [u64; 7],
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ces {
    pub n: u64,
    /// Answers 5, 6 or 7.
    pub agree: u64,
    pub agree_pct: f64,
    /// Mean answer, 1..7.
    pub mean: f64,
}

impl CesCounts {
    pub const AGREE_FROM: u8 = 5;

    pub fn from_scores(scores: &[u8]) -> Result<CesCounts, Invalid> {
        let mut c = CesCounts::default();
        for &s in scores {
            c.add(s)?;
        }
        Ok(c)
    }

    pub fn add(&mut self, score: u8) -> Result<(), Invalid> {
        check_score("ces", score, 1, 7)?;
        self.counts[usize::from(score - 1)] += 1;
        Ok(())
    }

    pub fn merge(&mut self, other: &CesCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
    }

    pub fn n(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn agree(&self) -> u64 {
        self.counts[usize::from(Self::AGREE_FROM - 1)..]
            .iter()
            .sum()
    }

    /// `None` when there are no responses.
    pub fn summary(&self) -> Option<Ces> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let agree = self.agree();
        Some(Ces {
            n,
            agree,
            agree_pct: pct(agree, n),
            mean: weighted_mean(&self.counts, n),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Response rate
// ---------------------------------------------------------------------------------------

/// Responses / surveys sent, in percent. `Ok(None)` when nothing was sent; more responses
/// than surveys sent is `Invalid`.
pub fn response_rate_pct(responses: u64, sent: u64) -> Result<Option<f64>, Invalid> {
    if responses > sent {
        return Err(Invalid::new(
            "responses",
            format!("{responses} responses to {sent} surveys sent"),
        ));
    }
    Ok((sent > 0).then(|| pct(responses, sent)))
}

// ---------------------------------------------------------------------------------------
// Comparing two periods
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Before,
    After,
}

/// Why two periods cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotComparable {
    #[error("no responses in the {0:?} period")]
    NoResponses(Period),
    /// Both periods have every answer in one category but the scores differ: the normal
    /// approximation gives no test.
    #[error("no variation in either period; the difference cannot be tested")]
    ZeroVariance,
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// The change of a score from `before` to `after` and its two-sided z-test.
/// `delta`, `before`, `after` and `standard_error` are in the score's units (NPS points or
/// percent); `z = delta / standard_error`, positive when the score went up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeriodComparison {
    pub before: f64,
    pub after: f64,
    pub delta: f64,
    pub standard_error: f64,
    pub z: f64,
    /// Two-sided: `P(|Z| ≥ |z|)` for a standard normal `Z`.
    pub p_value: f64,
}

impl PeriodComparison {
    fn from_delta(before: f64, after: f64, se: f64) -> Result<Self, NotComparable> {
        let delta = after - before;
        let z = if se > 0.0 {
            delta / se
        } else if delta == 0.0 {
            0.0
        } else {
            return Err(NotComparable::ZeroVariance);
        };
        Ok(PeriodComparison {
            before,
            after,
            delta,
            standard_error: se,
            z,
            p_value: two_sided_p(z),
        })
    }

    /// Whether the change is significant at level `alpha` (e.g. 0.05).
    pub fn is_significant(&self, alpha: f64) -> bool {
        self.p_value < alpha
    }
}

/// NPS change, tested with `z = (NPS_after − NPS_before) / sqrt(SE_before² + SE_after²)`
/// (independent samples; SEs as in [`Nps`]).
pub fn compare_nps(
    before: &NpsCounts,
    after: &NpsCounts,
) -> Result<PeriodComparison, NotComparable> {
    let b = before
        .summary()
        .ok_or(NotComparable::NoResponses(Period::Before))?;
    let a = after
        .summary()
        .ok_or(NotComparable::NoResponses(Period::After))?;
    let se = (b.standard_error.powi(2) + a.standard_error.powi(2)).sqrt();
    PeriodComparison::from_delta(b.score, a.score, se)
}

/// Two-proportion z-test with the pooled proportion: with `p₁ = x₁/n₁`, `p₂ = x₂/n₂` and
/// `p = (x₁ + x₂)/(n₁ + n₂)`, `SE = sqrt(p(1 − p)(1/n₁ + 1/n₂))` and `z = (p₂ − p₁)/SE`.
/// Results are in percent. When the pooled proportion is 0 or 1 both periods are identical
/// and `z = 0`, `p = 1`.
pub fn compare_proportions(
    before_hits: u64,
    before_n: u64,
    after_hits: u64,
    after_n: u64,
) -> Result<PeriodComparison, NotComparable> {
    for (period, hits, n) in [
        (Period::Before, before_hits, before_n),
        (Period::After, after_hits, after_n),
    ] {
        if n == 0 {
            return Err(NotComparable::NoResponses(period));
        }
        if hits > n {
            return Err(Invalid::new("hits", format!("{hits} of {n} responses")).into());
        }
    }
    let (n1, n2) = (before_n as f64, after_n as f64);
    let pooled = (before_hits + after_hits) as f64 / (n1 + n2);
    let se = 100.0
        * (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
            .max(0.0)
            .sqrt();
    PeriodComparison::from_delta(pct(before_hits, before_n), pct(after_hits, after_n), se)
}

/// CSAT % change (two-proportion z-test). Both periods must use the same scale.
pub fn compare_csat(
    before: &CsatCounts,
    after: &CsatCounts,
) -> Result<PeriodComparison, NotComparable> {
    if before.scale != after.scale {
        return Err(Invalid::new("scale", "CSAT periods use different scales").into());
    }
    compare_proportions(before.satisfied(), before.n(), after.satisfied(), after.n())
}

/// CES % agree change (two-proportion z-test).
pub fn compare_ces_agree(
    before: &CesCounts,
    after: &CesCounts,
) -> Result<PeriodComparison, NotComparable> {
    compare_proportions(before.agree(), before.n(), after.agree(), after.n())
}

// ---------------------------------------------------------------------------------------
// Normal distribution
// ---------------------------------------------------------------------------------------

/// The complementary error function, to better than 1e-12 relative error for `x < 2.5` and
/// better for larger `x`.
///
/// For `|x| < 2.5`: `erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1))` (all terms
/// positive, no cancellation) and `erfc = 1 − erf`. For `x ≥ 2.5` the continued fraction
/// `erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + 2/(x + …)))))`, evaluated from
/// the tail. `erfc(−x) = 2 − erfc(x)`.
pub fn erfc(x: f64) -> f64 {
    const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        let x2 = x * x;
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term > sum * 1e-17 {
            n += 1.0;
            term *= 2.0 * x2 / (2.0 * n + 1.0);
            sum += term;
        }
        return 1.0 - 2.0 * FRAC_1_SQRT_PI * (-x2).exp() * sum;
    }
    if x > 27.5 {
        return 0.0; // below the smallest positive f64
    }
    let mut t = x;
    for k in (1..=120).rev() {
        t = x + (k as f64 / 2.0) / t;
    }
    FRAC_1_SQRT_PI * (-x * x).exp() / t
}

/// `P(Z ≤ z)` for a standard normal `Z`.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// `P(|Z| ≥ |z|)` for a standard normal `Z`.
pub fn two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn nps_categories_and_validation() {
        assert_eq!(nps_category(0).unwrap(), NpsCategory::Detractor);
        assert_eq!(nps_category(6).unwrap(), NpsCategory::Detractor);
        assert_eq!(nps_category(7).unwrap(), NpsCategory::Passive);
        assert_eq!(nps_category(8).unwrap(), NpsCategory::Passive);
        assert_eq!(nps_category(9).unwrap(), NpsCategory::Promoter);
        assert_eq!(nps_category(10).unwrap(), NpsCategory::Promoter);
        let e = nps_category(11).unwrap_err();
        assert_eq!(e.field, "nps");
        let mut c = NpsCounts::default();
        assert!(c.add(11).is_err());
        assert_eq!(c.n(), 0, "a refused score is not counted");
        assert!(NpsCounts::from_scores(&[10, 255]).is_err());
        assert_eq!(NpsCounts::default().summary(), None);
    }

    #[test]
    fn nps_with_standard_error_and_interval() {
        // 10 responses: 5 promoters, 2 passives, 3 detractors → NPS = 50 − 30 = 20;
        // p = .5, d = .3, var = (.8 − .2²)/10 = .076, SE = 100·√.076 = 27.5681;
        // CI = 20 ± 1.96·27.5681 = [−34.0335, 74.0335].
        let c = NpsCounts::from_scores(&[10, 9, 9, 10, 9, 7, 8, 0, 6, 3]).unwrap();
        assert_eq!(
            c,
            NpsCounts {
                detractors: 3,
                passives: 2,
                promoters: 5
            }
        );
        let s = c.summary().unwrap();
        assert_eq!(s.n, 10);
        assert!(close(s.score, 20.0, 1e-9));
        assert!(close(s.promoters_pct, 50.0, 1e-9));
        assert!(close(s.passives_pct, 20.0, 1e-9));
        assert!(close(s.detractors_pct, 30.0, 1e-9));
        assert!(close(s.standard_error, 27.568_097_5, 1e-6));
        assert!(close(s.ci_low, -34.033_471_1, 1e-6));
        assert!(close(s.ci_high, 74.033_471_1, 1e-6));
    }

    #[test]
    fn nps_interval_is_clamped_and_degenerate_cases_have_no_width() {
        // 9 promoters, 1 passive: NPS 90, var = (.9 − .81)/10 = .009, SE = 9.4868,
        // 90 + 1.96·9.4868 = 108.59 → clamped to 100; low = 71.4058.
        let s = NpsCounts {
            detractors: 0,
            passives: 1,
            promoters: 9,
        }
        .summary()
        .unwrap();
        assert!(close(s.score, 90.0, 1e-9));
        assert!(close(s.standard_error, 9.486_833, 1e-6));
        assert_eq!(s.ci_high, 100.0);
        assert!(close(s.ci_low, 71.405_807_4, 1e-6));
        // All detractors: NPS −100, SE 0.
        let s = NpsCounts {
            detractors: 4,
            ..Default::default()
        }
        .summary()
        .unwrap();
        assert_eq!(
            (s.score, s.standard_error, s.ci_low, s.ci_high),
            (-100.0, 0.0, -100.0, -100.0)
        );
    }

    #[test]
    fn nps_counts_merge() {
        let mut a = NpsCounts::from_scores(&[10, 0]).unwrap();
        a.merge(&NpsCounts::from_scores(&[7, 9]).unwrap());
        assert_eq!(a, NpsCounts::from_scores(&[10, 0, 7, 9]).unwrap());
    }

    #[test]
    fn csat_scales() {
        // 1–5: answers 5,5,4,3,1 → top two = 3 of 5 = 60 %; mean = 18/5 = 3.6.
        let s = CsatCounts::from_scores(CsatScale::FivePoint, &[5, 5, 4, 3, 1])
            .unwrap()
            .summary()
            .unwrap();
        assert_eq!((s.n, s.satisfied), (5, 3));
        assert!(close(s.csat_pct, 60.0, 1e-9));
        assert!(close(s.mean, 3.6, 1e-9));
        // 3-point: 3,3,2,1 → top one = 2 of 4 = 50 %; mean = 9/4 = 2.25.
        let s = CsatCounts::from_scores(CsatScale::ThreePoint, &[3, 3, 2, 1])
            .unwrap()
            .summary()
            .unwrap();
        assert!(close(s.csat_pct, 50.0, 1e-9));
        assert!(close(s.mean, 2.25, 1e-9));
        // 2-point: 2,2,2,1 → 3 of 4 = 75 %; mean = 7/4.
        let s = CsatCounts::from_scores(CsatScale::TwoPoint, &[2, 2, 2, 1])
            .unwrap()
            .summary()
            .unwrap();
        assert!(close(s.csat_pct, 75.0, 1e-9));
        assert!(close(s.mean, 1.75, 1e-9));
        // Validation.
        assert!(CsatCounts::from_scores(CsatScale::TwoPoint, &[3]).is_err());
        assert!(CsatCounts::from_scores(CsatScale::FivePoint, &[0]).is_err());
        assert!(CsatCounts::from_scores(CsatScale::FivePoint, &[6]).is_err());
        assert_eq!(CsatCounts::new(CsatScale::FivePoint).summary(), None);
        let mut five = CsatCounts::new(CsatScale::FivePoint);
        assert!(five.merge(&CsatCounts::new(CsatScale::ThreePoint)).is_err());
    }

    #[test]
    fn ces_mean_and_agree() {
        // 7,6,5,4,2,1 → agree (5–7) = 3 of 6 = 50 %; mean = 25/6 = 4.1667.
        let s = CesCounts::from_scores(&[7, 6, 5, 4, 2, 1])
            .unwrap()
            .summary()
            .unwrap();
        assert_eq!((s.n, s.agree), (6, 3));
        assert!(close(s.agree_pct, 50.0, 1e-9));
        assert!(close(s.mean, 25.0 / 6.0, 1e-12));
        assert!(CesCounts::from_scores(&[8]).is_err());
        assert!(CesCounts::from_scores(&[0]).is_err());
        assert_eq!(CesCounts::default().summary(), None);
    }

    #[test]
    fn response_rate() {
        // 30 answers to 120 surveys → 25 %.
        assert_eq!(response_rate_pct(30, 120).unwrap(), Some(25.0));
        assert_eq!(response_rate_pct(0, 0).unwrap(), None);
        assert!(response_rate_pct(5, 4).is_err());
    }

    #[test]
    fn nps_change_z_test() {
        // Before: the 10-answer example, NPS 20, SE 27.5681 (var .076).
        // After: 100 answers, 60 P / 20 passive / 20 D → NPS 40, var = (.8 − .16)/100 = .0064,
        // SE = 8. Δ = 20, SE_Δ = √(760 + 64) = √824 = 28.7054, z = 0.69673,
        // p = 2·(1 − Φ(0.69673)) = 0.48597: not significant.
        let before = NpsCounts {
            detractors: 3,
            passives: 2,
            promoters: 5,
        };
        let after = NpsCounts {
            detractors: 20,
            passives: 20,
            promoters: 60,
        };
        let c = compare_nps(&before, &after).unwrap();
        assert!(close(c.delta, 20.0, 1e-9));
        assert!(close(c.standard_error, 28.705_400_19, 1e-6));
        assert!(close(c.z, 0.696_733_014, 1e-8));
        assert!(close(c.p_value, 0.485_969_894, 1e-8));
        assert!(!c.is_significant(0.05));
        assert_eq!(
            compare_nps(&NpsCounts::default(), &after),
            Err(NotComparable::NoResponses(Period::Before))
        );
        assert_eq!(
            compare_nps(&after, &NpsCounts::default()),
            Err(NotComparable::NoResponses(Period::After))
        );
        // Every answer a promoter before, every answer a detractor after: SE 0 both times.
        let all = |promoters, detractors| NpsCounts {
            promoters,
            detractors,
            passives: 0,
        };
        assert_eq!(
            compare_nps(&all(5, 0), &all(0, 5)),
            Err(NotComparable::ZeroVariance)
        );
        let same = compare_nps(&all(5, 0), &all(9, 0)).unwrap();
        assert_eq!((same.z, same.p_value), (0.0, 1.0));
    }

    #[test]
    fn proportion_change_z_test() {
        // CSAT 160/200 = 80 % → 140/200 = 70 %. Pooled p = .75,
        // SE = √(.75·.25·(1/200 + 1/200)) = √.001875 = 0.0433013 = 4.33013 points,
        // z = −10/4.33013 = −2.30940, p = 0.0209213: significant at 5 %.
        let before = CsatCounts {
            scale: CsatScale::FivePoint,
            counts: [10, 10, 20, 60, 100],
        };
        let after = CsatCounts {
            scale: CsatScale::FivePoint,
            counts: [20, 20, 20, 60, 80],
        };
        let c = compare_csat(&before, &after).unwrap();
        assert!(close(c.before, 80.0, 1e-9) && close(c.after, 70.0, 1e-9));
        assert!(close(c.standard_error, 4.330_127_02, 1e-6));
        assert!(close(c.z, -2.309_401_077, 1e-8));
        assert!(close(c.p_value, 0.020_921_335, 1e-8));
        assert!(c.is_significant(0.05));
        assert!(matches!(
            compare_csat(&before, &CsatCounts::new(CsatScale::FivePoint)),
            Err(NotComparable::NoResponses(Period::After))
        ));
        assert!(matches!(
            compare_csat(&before, &CsatCounts::new(CsatScale::TwoPoint)),
            Err(NotComparable::Invalid(_))
        ));
        assert!(matches!(
            compare_proportions(3, 2, 1, 1),
            Err(NotComparable::Invalid(_))
        ));
        // All agree in both periods: pooled p = 1, no difference.
        let all_agree = CesCounts::from_scores(&[7, 6, 5]).unwrap();
        let c = compare_ces_agree(&all_agree, &all_agree).unwrap();
        assert_eq!((c.z, c.p_value), (0.0, 1.0));
    }

    #[test]
    fn erfc_and_normal_cdf_match_reference_values() {
        // Reference values from Python's math.erfc (double precision).
        let cases = [
            (0.0, 1.0),
            (0.1, 0.887_537_083_981_715_2),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (1.5, 0.033_894_853_524_689_274),
            (2.0, 0.004_677_734_981_047_265),
            (2.4999, 0.000_407_169_900_333_451_4),
            (2.5, 0.000_406_952_017_444_958_9),
            (2.5001, 0.000_406_734_243_470_679_8),
            (3.0, 2.209_049_699_858_543_8e-5),
            (4.0, 1.541_725_790_028_002e-8),
            (5.0, 1.537_459_794_428_035_1e-12),
            (6.0, 2.151_973_671_249_891_6e-17),
            (10.0, 2.088_487_583_762_545e-45),
            (26.0, 5.663_192_408_856_143e-296),
        ];
        for (x, want) in cases {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-11,
                "erfc({x}) = {got}, want {want}"
            );
            let neg = erfc(-x);
            assert!((neg - (2.0 - want)).abs() < 1e-15);
        }
        assert_eq!(erfc(40.0), 0.0);
        assert!(erfc(f64::NAN).is_nan());
        assert!(close(normal_cdf(1.96), 0.975_002_104_851_779_5, 1e-12));
        assert!(close(normal_cdf(0.0), 0.5, 1e-15));
        assert!(close(two_sided_p(1.96), 0.049_995_790_296_440_87, 1e-12));
        assert!(close(two_sided_p(-1.96), two_sided_p(1.96), 0.0));
        assert_eq!(two_sided_p(0.0), 1.0);
    }
}
