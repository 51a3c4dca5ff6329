//! Tend's integration suite: one binary, run against SQLite by default and against
//! PostgreSQL when TEND_TEST_DATABASE_URL is set (each test gets its own schema).

mod harness;
#[path = "../support/smtp_sink.rs"]
mod smtp_sink;

mod admin_escalation_ui; // issue 5: escalation, leads, hours in the admin UI
mod api_admin;
mod api_bad_input;
mod api_customers;
mod api_tickets;
mod brands;
mod deflection;
mod durability;
mod escalation;
mod imports;
mod jobs_webhooks;
mod kb;
mod macros;
mod mail;
mod mailbox_admin; // issue 4
mod metrics_dims;
mod password;
mod portal;
mod portal_lang; // issue 4
mod reports;
mod routing;
mod search;
mod sla;
mod sla_calendars;
mod sla_checks; // issue 5: next checks on the ticket row
mod surveys;
mod targets;
mod team;
mod triggers;
mod ui;
mod views;

/// Says loudly when the PostgreSQL run was skipped; fails if CI asked for it and it did not run.
#[tokio::test]
async fn postgres_suite_is_configured() {
    match harness::pg_url() {
        Some(url) => {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!("TEND_TEST_DATABASE_URL is set but PostgreSQL is not reachable: {e}")
                });
            tokio::spawn(conn);
            c.simple_query("SELECT 1")
                .await
                .expect("PostgreSQL answers");
            eprintln!("integration suite ran against PostgreSQL");
        }
        None => {
            eprintln!("\n*** SKIPPED: PostgreSQL. This run used SQLite only. Set TEND_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run the same suite on PostgreSQL. ***\n");
            assert!(std::env::var("TEND_REQUIRE_POSTGRES").is_err(), "TEND_REQUIRE_POSTGRES is set but TEND_TEST_DATABASE_URL is not: the PostgreSQL run was skipped");
        }
    }
}
