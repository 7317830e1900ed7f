-- The journey report's send hours and return rates, kept current by triggers (db/schema/analytics.ts,
-- docs/decisions/0860). Written by hand: drizzle-kit does not generate functions or triggers.
--
--   journey_node_events ──(sends, conversions)──▶ journey_message_sends ──▶ journey_message_rollup(_pending)
--   events ──(first tracked event after a send)──▶ journey_message_sends.returned_at
--
-- Every trigger is statement-level with transition tables (one set-based statement per write, like
-- migrations 0016/0019) and returns early when the statement holds nothing it counts.
INSERT INTO analytics_time_zones (name) SELECT name FROM pg_timezone_names ON CONFLICT DO NOTHING;--> statement-breakpoint

-- Sends → rollup deltas: + for new rows, − for old ones (an update does both; equal groups cancel).
CREATE OR REPLACE FUNCTION journey_message_rollup_from_sends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO journey_message_rollup_pending (journey_id, version_id, cohort, node_id, measure, bucket, n)
    SELECT r.journey_id, r.version_id, r.cohort, r.node_id, m.measure, m.bucket, sum(m.n)
    FROM new_rows r
    CROSS JOIN LATERAL (VALUES ('sent', r.local_hour, 1), ('converted', r.local_hour, r.converted::int),
                               ('messaged', CASE WHEN r.returned_at IS NULL THEN 0 ELSE least(7, greatest(1, ceil(extract(epoch FROM r.returned_at - r.at) / 86400)))::smallint END, r.first::int)) AS m(measure, bucket, n)
    WHERE m.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO journey_message_rollup_pending (journey_id, version_id, cohort, node_id, measure, bucket, n)
    SELECT r.journey_id, r.version_id, r.cohort, r.node_id, m.measure, m.bucket, -sum(m.n)
    FROM old_rows r
    CROSS JOIN LATERAL (VALUES ('sent', r.local_hour, 1), ('converted', r.local_hour, r.converted::int),
                               ('messaged', CASE WHEN r.returned_at IS NULL THEN 0 ELSE least(7, greatest(1, ceil(extract(epoch FROM r.returned_at - r.at) / 86400)))::smallint END, r.first::int)) AS m(measure, bucket, n)
    WHERE m.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6;
  ELSE
    INSERT INTO journey_message_rollup_pending (journey_id, version_id, cohort, node_id, measure, bucket, n)
    SELECT r.journey_id, r.version_id, r.cohort, r.node_id, m.measure, m.bucket, sum(r.sign * m.n)
    FROM (SELECT n.*, 1 AS sign FROM new_rows n UNION ALL SELECT o.*, -1 AS sign FROM old_rows o) r
    CROSS JOIN LATERAL (VALUES ('sent', r.local_hour, 1), ('converted', r.local_hour, r.converted::int),
                               ('messaged', CASE WHEN r.returned_at IS NULL THEN 0 ELSE least(7, greatest(1, ceil(extract(epoch FROM r.returned_at - r.at) / 86400)))::smallint END, r.first::int)) AS m(measure, bucket, n)
    WHERE m.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(r.sign * m.n) <> 0;
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER journey_message_sends_rollup_insert AFTER INSERT ON journey_message_sends REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_rollup_from_sends();--> statement-breakpoint
CREATE TRIGGER journey_message_sends_rollup_update AFTER UPDATE ON journey_message_sends REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_rollup_from_sends();--> statement-breakpoint
CREATE TRIGGER journey_message_sends_rollup_delete AFTER DELETE ON journey_message_sends REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_rollup_from_sends();--> statement-breakpoint

-- `first` and `converted` of the sends of some instances, recomputed from what is stored now, and
-- written where they changed (rows locked in key order, so concurrent writers cannot deadlock on them).
CREATE OR REPLACE FUNCTION journey_message_sends_recount(instances uuid[]) RETURNS void LANGUAGE sql AS $$
  WITH truth AS (
    SELECT s.instance_id, s.seq,
           row_number() OVER (PARTITION BY s.instance_id ORDER BY s.at, s.seq) = 1 AS first,
           EXISTS (SELECT 1 FROM journey_node_events c
                   WHERE c.instance_id = s.instance_id AND c.kind = 'conversion'
                     AND NOT coalesce((c.data ->> 'holdout')::boolean, false) AND c.at >= s.at) AS converted
    FROM journey_message_sends s WHERE s.instance_id = ANY (instances)
  ),
  changed AS (
    SELECT s.instance_id, s.seq, t.first, t.converted FROM journey_message_sends s
    JOIN truth t ON t.instance_id = s.instance_id AND t.seq = s.seq
    WHERE (s.first, s.converted) IS DISTINCT FROM (t.first, t.converted)
    ORDER BY s.instance_id, s.seq FOR UPDATE OF s
  )
  UPDATE journey_message_sends s SET first = c.first, converted = c.converted
  FROM changed c WHERE s.instance_id = c.instance_id AND s.seq = c.seq;
$$;--> statement-breakpoint

-- `returned_at` of the sends of some users, recomputed from their events (after an update or delete of events).
CREATE OR REPLACE FUNCTION journey_message_sends_rereturn(workspaces uuid[], users text[]) RETURNS void LANGUAGE sql AS $$
  WITH truth AS (
    SELECT s.instance_id, s.seq,
           (SELECT min(e.timestamp) FROM events e
            WHERE e.workspace_id = s.workspace_id AND e.user_id = s.user_id AND e.name NOT LIKE '$%'
              AND e.timestamp > s.at AND e.timestamp <= s.at + interval '168 hours') AS returned_at
    FROM journey_message_sends s
    JOIN unnest(workspaces, users) AS u(workspace_id, user_id) ON s.workspace_id = u.workspace_id AND s.user_id = u.user_id
  ),
  changed AS (
    SELECT s.instance_id, s.seq, t.returned_at FROM journey_message_sends s
    JOIN truth t ON t.instance_id = s.instance_id AND t.seq = s.seq
    WHERE s.returned_at IS DISTINCT FROM t.returned_at
    ORDER BY s.instance_id, s.seq FOR UPDATE OF s
  )
  UPDATE journey_message_sends s SET returned_at = c.returned_at
  FROM changed c WHERE s.instance_id = c.instance_id AND s.seq = c.seq;
$$;--> statement-breakpoint

-- Node events → sends. A send's local hour is taken from the user's zone now (the profile's
-- `timezone`, else `traits.timezone`; an unknown or missing zone falls back to the journey's, then
-- the workspace's, then UTC — decision 0105), looked up once per user / version / workspace of the
-- statement. `first`, `converted` and `returned_at` are computed from what is already stored, so
-- the result does not depend on the order rows arrive in.
CREATE OR REPLACE FUNCTION journey_message_sends_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  touched uuid[];
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF TG_OP = 'UPDATE' THEN
      -- A row that stays the same send keeps its row (and the hour it was counted in).
      DELETE FROM journey_message_sends s USING old_rows o
      WHERE s.instance_id = o.instance_id AND s.seq = o.seq
        AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.instance_id = o.instance_id AND n.seq = o.seq
                          AND n.kind = 'message' AND n.message_status = 'sent' AND n.at = s.at
                          AND n.version_id = s.version_id AND coalesce(n.node_id, '') = s.node_id AND n.user_id = s.user_id);
    ELSE
      DELETE FROM journey_message_sends s USING old_rows o WHERE s.instance_id = o.instance_id AND s.seq = o.seq;
    END IF;
    SELECT array_agg(DISTINCT o.instance_id) INTO touched FROM old_rows o
    WHERE (o.kind = 'message' AND o.message_status = 'sent') OR o.kind = 'conversion';
    IF TG_OP = 'DELETE' THEN
      IF touched IS NOT NULL THEN PERFORM journey_message_sends_recount(touched); END IF;
      RETURN NULL;
    END IF;
  END IF;

  -- INSERT, or the new side of an UPDATE.
  IF NOT EXISTS (SELECT 1 FROM new_rows n WHERE (n.kind = 'message' AND n.message_status = 'sent') OR n.kind = 'conversion') THEN
    IF touched IS NOT NULL THEN PERFORM journey_message_sends_recount(touched); END IF;
    RETURN NULL;
  END IF;
  WITH s AS MATERIALIZED (
    SELECT n.instance_id, n.seq, n.workspace_id, n.user_id, n.journey_id, n.version_id, coalesce(n.node_id, '') AS node_id, n.at,
           row_number() OVER (PARTITION BY n.instance_id ORDER BY n.at, n.seq) AS nth
    FROM new_rows n
    WHERE n.kind = 'message' AND n.message_status = 'sent'
      AND NOT EXISTS (SELECT 1 FROM journey_message_sends e WHERE e.instance_id = n.instance_id AND e.seq = n.seq)
  ),
  user_zone AS (
    SELECT d.workspace_id, d.user_id,
           (SELECT t.name FROM users u JOIN analytics_time_zones t ON t.name = coalesce(u.timezone, u.traits ->> 'timezone')
            WHERE u.workspace_id = d.workspace_id AND u.id = d.user_id) AS zone
    FROM (SELECT DISTINCT workspace_id, user_id FROM s) d
  ),
  version_zone AS (
    SELECT d.version_id,
           (SELECT t.name FROM journey_versions v JOIN analytics_time_zones t ON t.name = v.program -> 'settings' ->> 'timezone'
            WHERE v.id = d.version_id) AS zone
    FROM (SELECT DISTINCT version_id FROM s) d
  ),
  workspace_zone AS (
    SELECT d.workspace_id,
           (SELECT t.name FROM workspaces w JOIN analytics_time_zones t ON t.name = w.timezone WHERE w.id = d.workspace_id) AS zone
    FROM (SELECT DISTINCT workspace_id FROM s) d
  ),
  entry AS (
    SELECT d.instance_id, (SELECT i.entered_at FROM journey_instances i WHERE i.id = d.instance_id) AS entered_at
    FROM (SELECT DISTINCT instance_id FROM s) d
  )
  INSERT INTO journey_message_sends (instance_id, seq, workspace_id, user_id, journey_id, version_id, cohort, node_id, at, local_hour, first, converted, returned_at)
  SELECT s.instance_id, s.seq, s.workspace_id, s.user_id, s.journey_id, s.version_id,
         date_trunc('hour', coalesce(entry.entered_at, s.at)), s.node_id, s.at,
         extract(hour FROM s.at AT TIME ZONE coalesce(uz.zone, vz.zone, wz.zone, 'UTC'))::smallint,
         s.nth = 1 AND NOT EXISTS (SELECT 1 FROM journey_message_sends e WHERE e.instance_id = s.instance_id AND (e.at, e.seq) < (s.at, s.seq)),
         EXISTS (SELECT 1 FROM journey_node_events c
                 WHERE c.instance_id = s.instance_id AND c.kind = 'conversion'
                   AND NOT coalesce((c.data ->> 'holdout')::boolean, false) AND c.at >= s.at),
         (SELECT min(e.timestamp) FROM events e
          WHERE e.workspace_id = s.workspace_id AND e.user_id = s.user_id AND e.name NOT LIKE '$%'
            AND e.timestamp > s.at AND e.timestamp <= s.at + interval '168 hours')
  FROM s
  LEFT JOIN entry ON entry.instance_id = s.instance_id
  LEFT JOIN user_zone uz ON uz.workspace_id = s.workspace_id AND uz.user_id = s.user_id
  LEFT JOIN version_zone vz ON vz.version_id = s.version_id
  LEFT JOIN workspace_zone wz ON wz.workspace_id = s.workspace_id
  ON CONFLICT (instance_id, seq) DO NOTHING;

  -- Instances whose other sends may have changed: a conversion arrived, or a send joined earlier ones.
  SELECT array_agg(DISTINCT x.instance_id) INTO touched FROM (
    SELECT unnest(coalesce(touched, '{}'::uuid[])) AS instance_id
    UNION ALL
    SELECT n.instance_id FROM new_rows n WHERE n.kind = 'conversion'
    UNION ALL
    SELECT d.instance_id FROM (SELECT DISTINCT n.instance_id FROM new_rows n WHERE n.kind = 'message' AND n.message_status = 'sent') d
    WHERE (SELECT count(*) FROM journey_message_sends e WHERE e.instance_id = d.instance_id) > 1
  ) x;
  IF touched IS NOT NULL THEN PERFORM journey_message_sends_recount(touched); END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER journey_node_events_sends_insert AFTER INSERT ON journey_node_events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_sends_from_events();--> statement-breakpoint
CREATE TRIGGER journey_node_events_sends_update AFTER UPDATE ON journey_node_events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_sends_from_events();--> statement-breakpoint
CREATE TRIGGER journey_node_events_sends_delete AFTER DELETE ON journey_node_events REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_sends_from_events();--> statement-breakpoint

-- Tracked events → `returned_at` of the user's sends in the 7 days before each event. An insert
-- can only move it earlier (least); an update or delete of events recomputes it for those users.
CREATE OR REPLACE FUNCTION journey_message_sends_from_tracked_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ws uuid[];
  us text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH hit AS (
      SELECT s.instance_id, s.seq, min(n.timestamp) AS at
      FROM new_rows n
      JOIN journey_message_sends s ON s.workspace_id = n.workspace_id AND s.user_id = n.user_id
                                  AND s.at < n.timestamp AND s.at >= n.timestamp - interval '168 hours'
      WHERE n.name NOT LIKE '$%'
      GROUP BY s.instance_id, s.seq
    ),
    changed AS (
      SELECT s.instance_id, s.seq, hit.at FROM journey_message_sends s
      JOIN hit ON hit.instance_id = s.instance_id AND hit.seq = s.seq
      WHERE s.returned_at IS NULL OR s.returned_at > hit.at
      ORDER BY s.instance_id, s.seq FOR UPDATE OF s
    )
    UPDATE journey_message_sends s SET returned_at = c.at FROM changed c WHERE s.instance_id = c.instance_id AND s.seq = c.seq;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(x.workspace_id), array_agg(x.user_id) INTO ws, us FROM (
      SELECT workspace_id, user_id FROM old_rows UNION SELECT workspace_id, user_id FROM new_rows) x;
  ELSE
    SELECT array_agg(x.workspace_id), array_agg(x.user_id) INTO ws, us FROM (SELECT DISTINCT workspace_id, user_id FROM old_rows) x;
  END IF;
  IF ws IS NOT NULL THEN PERFORM journey_message_sends_rereturn(ws, us); END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER events_message_returns_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_sends_from_tracked_events();--> statement-breakpoint
CREATE TRIGGER events_message_returns_update AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_sends_from_tracked_events();--> statement-breakpoint
CREATE TRIGGER events_message_returns_delete AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_message_sends_from_tracked_events();--> statement-breakpoint

-- Sends already stored: counted once, as if inserted now (an empty database skips this in no time).
-- The rollup trigger above turns them into rollup rows.
WITH s AS MATERIALIZED (
  SELECT n.instance_id, n.seq, n.workspace_id, n.user_id, n.journey_id, n.version_id, coalesce(n.node_id, '') AS node_id, n.at,
         row_number() OVER (PARTITION BY n.instance_id ORDER BY n.at, n.seq) AS nth
  FROM journey_node_events n WHERE n.kind = 'message' AND n.message_status = 'sent'
),
user_zone AS (
  SELECT d.workspace_id, d.user_id,
         (SELECT t.name FROM users u JOIN analytics_time_zones t ON t.name = coalesce(u.timezone, u.traits ->> 'timezone')
          WHERE u.workspace_id = d.workspace_id AND u.id = d.user_id) AS zone
  FROM (SELECT DISTINCT workspace_id, user_id FROM s) d
),
version_zone AS (
  SELECT d.version_id,
         (SELECT t.name FROM journey_versions v JOIN analytics_time_zones t ON t.name = v.program -> 'settings' ->> 'timezone'
          WHERE v.id = d.version_id) AS zone
  FROM (SELECT DISTINCT version_id FROM s) d
),
workspace_zone AS (
  SELECT d.workspace_id,
         (SELECT t.name FROM workspaces w JOIN analytics_time_zones t ON t.name = w.timezone WHERE w.id = d.workspace_id) AS zone
  FROM (SELECT DISTINCT workspace_id FROM s) d
)
INSERT INTO journey_message_sends (instance_id, seq, workspace_id, user_id, journey_id, version_id, cohort, node_id, at, local_hour, first, converted, returned_at)
SELECT s.instance_id, s.seq, s.workspace_id, s.user_id, s.journey_id, s.version_id,
       date_trunc('hour', coalesce((SELECT i.entered_at FROM journey_instances i WHERE i.id = s.instance_id), s.at)), s.node_id, s.at,
       extract(hour FROM s.at AT TIME ZONE coalesce(uz.zone, vz.zone, wz.zone, 'UTC'))::smallint,
       s.nth = 1,
       EXISTS (SELECT 1 FROM journey_node_events c
               WHERE c.instance_id = s.instance_id AND c.kind = 'conversion'
                 AND NOT coalesce((c.data ->> 'holdout')::boolean, false) AND c.at >= s.at),
       (SELECT min(e.timestamp) FROM events e
        WHERE e.workspace_id = s.workspace_id AND e.user_id = s.user_id AND e.name NOT LIKE '$%'
          AND e.timestamp > s.at AND e.timestamp <= s.at + interval '168 hours')
FROM s
LEFT JOIN user_zone uz ON uz.workspace_id = s.workspace_id AND uz.user_id = s.user_id
LEFT JOIN version_zone vz ON vz.version_id = s.version_id
LEFT JOIN workspace_zone wz ON wz.workspace_id = s.workspace_id;
