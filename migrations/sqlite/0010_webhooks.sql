-- Webhooks: endpoints (an organization's, or the installation's when organization_id is null),
-- the event types each one subscribes to, and the outbox of deliveries. A change's deliveries
-- are written in the change's own transaction, beside its audit entry; a worker on any node
-- claims due deliveries (one writer at a time) and sends them.
CREATE TABLE webhook_endpoints (
    id                         BLOB PRIMARY KEY NOT NULL,
    organization_id            BLOB REFERENCES organizations (id) ON DELETE CASCADE,
    url                        TEXT NOT NULL,
    description                TEXT,
    -- The subscribed event types as a JSON array, as shown; webhook_subscriptions holds them
    -- one per row for matching a change's event.
    event_types                TEXT NOT NULL,
    enabled                    INTEGER NOT NULL,
    disabled_reason            TEXT,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at INTEGER,
    -- The last delivery the endpoint accepted.
    last_success_at            INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_organization_idx ON webhook_endpoints (organization_id, id);

CREATE TABLE webhook_subscriptions (
    endpoint_id BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
);

CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY NOT NULL,
    endpoint_id     BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The event's id (its audit entry's), sent as `webhook-id`: the same for every endpoint and
    -- every attempt, so receivers can drop a repeat.
    event_id        BLOB NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- While an attempt is under way: the node holding it lets go by this time at the latest.
    claimed_until   INTEGER,
    response_code   INTEGER,
    latency_ms      INTEGER,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
