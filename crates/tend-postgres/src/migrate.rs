//! Schema migrations: SQL files embedded in the binary, applied in order, once.

use crate::db::{pool_err, DbExt};
use deadpool_postgres::Pool;
use tend_store::Result;

/// (version, SQL). Append only; never edit a migration that has shipped.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_customer_tokens.sql")),
    (3, include_str!("../migrations/0003_macros.sql")),
    (4, include_str!("../migrations/0004_settings.sql")),
    (5, include_str!("../migrations/0005_job_keys.sql")),
    (6, include_str!("../migrations/0006_mail.sql")),
    (7, include_str!("../migrations/0007_surveys.sql")),
    (8, include_str!("../migrations/0008_survey_kiosks.sql")),
    (9, include_str!("../migrations/0009_survey_rules.sql")),
    (10, include_str!("../migrations/0010_kb.sql")),
    (11, include_str!("../migrations/0011_metrics.sql")),
    (12, include_str!("../migrations/0012_kiosk_embeds.sql")),
    (13, include_str!("../migrations/0013_brands.sql")),
    (14, include_str!("../migrations/0014_survey_dims.sql")),
    (15, include_str!("../migrations/0015_kb_analytics.sql")),
    (16, include_str!("../migrations/0016_metric_targets.sql")),
    (17, include_str!("../migrations/0017_sla_due.sql")),
    (18, include_str!("../migrations/0018_password_resets.sql")),
    (19, include_str!("../migrations/0019_saved_views.sql")),
    (20, include_str!("../migrations/0020_triggers.sql")),
    (21, include_str!("../migrations/0021_routing.sql")),
    (22, include_str!("../migrations/0022_escalation.sql")),
    (24, include_str!("../migrations/0024_kb_category_brand.sql")),
    (
        25,
        include_str!("../migrations/0025_metric_tags_languages.sql"),
    ),
    (26, include_str!("../migrations/0026_org_indexes.sql")),
    (27, include_str!("../migrations/0027_sla_check_column.sql")),
    (29, include_str!("../migrations/0029_handle_time.sql")),
];

/// Namespace of Tend's advisory locks (first key of the two-key form).
pub(crate) const LOCK_NS: i32 = 0x7465_6e64; // "tend"

/// Applies the missing migrations in one transaction. The transaction-scoped advisory lock
/// (keyed by the schema) makes app servers that start together wait for each other: the
/// second one then finds everything applied.
pub(crate) async fn run(pool: &Pool) -> Result<()> {
    let mut c = pool.get().await.map_err(pool_err)?;
    let tx = c.transaction().await.db()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
        &[&LOCK_NS],
    )
    .await
    .db()?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
        .await
        .db()?;
    let applied: Vec<i64> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await
        .db()?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tracing::info!(version, "applying PostgreSQL migration");
        tx.batch_execute(sql).await.db()?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .db()?;
    }
    tx.commit().await.db()
}
