//! Tend's integration suite: one binary, run against SQLite by default and against
//! PostgreSQL when TEND_TEST_DATABASE_URL is set (each test gets its own schema).

mod harness;

mod api_admin;
mod api_bad_input;
mod api_customers;
mod api_tickets;
mod durability;
mod imports;
mod jobs_webhooks;
