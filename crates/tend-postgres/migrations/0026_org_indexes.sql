-- Organization pages at a million tickets (issue 4, measured with bench/pages.py): the list
-- (newest updated first) sorted every ticket of a 25,000-ticket organization (77 ms) and the
-- open count read each of them (96 ms). Ordered and per-status index scans instead; partial,
-- so the 85 % of tickets without an organization cost nothing to keep in them.
DROP INDEX IF EXISTS tickets_org;
CREATE INDEX tickets_org_updated ON tickets(organization_id, updated_at DESC, id DESC)
    WHERE organization_id IS NOT NULL;
CREATE INDEX tickets_org_status ON tickets(organization_id, status)
    WHERE organization_id IS NOT NULL;
