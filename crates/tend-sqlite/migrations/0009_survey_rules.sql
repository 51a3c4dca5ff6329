-- Survey rules (trigger, quiet hours, reminder, promoters, incentive) as one JSON object and
-- follow-up questions (with their answers on the responses);
-- orders (a thin entity: what a purchase or delivery survey asks about); invitations not
-- tied to a ticket (ticket_id 0 = none, as 0 stands for "none" in the roll-ups), tied to an
-- order, and their one reminder (a second link token, so the first mail's links keep
-- working). Responses keep the incentive code shown on the thank-you page.

ALTER TABLE surveys ADD COLUMN rules TEXT NOT NULL DEFAULT '{}';
ALTER TABLE surveys ADD COLUMN questions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    placed_at INTEGER NOT NULL,
    delivered_at INTEGER,
    amount_cents INTEGER NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    items TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id, placed_at);

ALTER TABLE survey_invitations ADD COLUMN order_id INTEGER;
ALTER TABLE survey_invitations ADD COLUMN reminder_token_hash BLOB;
ALTER TABLE survey_invitations ADD COLUMN reminded_at INTEGER;
CREATE UNIQUE INDEX survey_invitations_reminder_token ON survey_invitations(reminder_token_hash);
CREATE INDEX survey_invitations_order ON survey_invitations(order_id);

ALTER TABLE survey_responses ADD COLUMN incentive_code TEXT;
ALTER TABLE survey_responses ADD COLUMN answers TEXT NOT NULL DEFAULT '{}';
