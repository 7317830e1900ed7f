-- The send trigger of 0022, set-based without joins between its parts (bench:analytics, decision
-- 0860): the planner cannot know how many sends a statement's transition table holds, guessed one,
-- and re-ran the per-user / per-instance lookups once per send (quadratic in a large statement).
-- Now the journey and workspace zones are looked up once per version / workspace into two small
-- maps, and the rest are per-send index probes. Instances needing a recount are those that
-- already had sends (found before the insert) or got a conversion. Same rows as 0022.
-- The events trigger probes the sends once per user of the statement (an SDK batch is mostly one
-- user's events), and skips sends that already have an earlier return.
-- Room on each page for the updates of converted / returned_at, so most stay HOT (no index writes).
ALTER TABLE journey_message_sends SET (fillfactor = 85);--> statement-breakpoint
CREATE OR REPLACE FUNCTION journey_message_sends_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  touched uuid[];
  more uuid[];
  version_zones jsonb;
  workspace_zones jsonb;
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
  SELECT coalesce(jsonb_object_agg(d.version_id, d.zone) FILTER (WHERE d.zone IS NOT NULL), '{}'::jsonb) INTO version_zones FROM (
    SELECT x.version_id::text AS version_id,
           (SELECT t.name FROM journey_versions v JOIN analytics_time_zones t ON t.name = v.program -> 'settings' ->> 'timezone' WHERE v.id = x.version_id) AS zone
    FROM (SELECT DISTINCT n.version_id FROM new_rows n WHERE n.kind = 'message' AND n.message_status = 'sent') x) d;
  SELECT coalesce(jsonb_object_agg(d.workspace_id, d.zone) FILTER (WHERE d.zone IS NOT NULL), '{}'::jsonb) INTO workspace_zones FROM (
    SELECT x.workspace_id::text AS workspace_id,
           (SELECT t.name FROM workspaces w JOIN analytics_time_zones t ON t.name = w.timezone WHERE w.id = x.workspace_id) AS zone
    FROM (SELECT DISTINCT n.workspace_id FROM new_rows n WHERE n.kind = 'message' AND n.message_status = 'sent') x) d;

  WITH s AS MATERIALIZED (
    SELECT n.instance_id, n.seq, n.workspace_id, n.user_id, n.journey_id, n.version_id, coalesce(n.node_id, '') AS node_id, n.at,
           row_number() OVER (PARTITION BY n.instance_id ORDER BY n.at, n.seq) AS nth,
           EXISTS (SELECT 1 FROM journey_message_sends e WHERE e.instance_id = n.instance_id) AS had_sends
    FROM new_rows n
    WHERE n.kind = 'message' AND n.message_status = 'sent'
      AND NOT EXISTS (SELECT 1 FROM journey_message_sends e WHERE e.instance_id = n.instance_id AND e.seq = n.seq)
  ),
  ins AS (
    INSERT INTO journey_message_sends (instance_id, seq, workspace_id, user_id, journey_id, version_id, cohort, node_id, at, local_hour, first, converted, returned_at)
    SELECT s.instance_id, s.seq, s.workspace_id, s.user_id, s.journey_id, s.version_id,
           date_trunc('hour', coalesce((SELECT i.entered_at FROM journey_instances i WHERE i.id = s.instance_id), s.at)), s.node_id, s.at,
           extract(hour FROM s.at AT TIME ZONE coalesce(
             (SELECT t.name FROM users u JOIN analytics_time_zones t ON t.name = coalesce(u.timezone, u.traits ->> 'timezone')
              WHERE u.workspace_id = s.workspace_id AND u.id = s.user_id),
             version_zones ->> s.version_id::text, workspace_zones ->> s.workspace_id::text, 'UTC'))::smallint,
           s.nth = 1 AND NOT (s.had_sends AND EXISTS (SELECT 1 FROM journey_message_sends e WHERE e.instance_id = s.instance_id AND (e.at, e.seq) < (s.at, s.seq))),
           EXISTS (SELECT 1 FROM journey_node_events c
                   WHERE c.instance_id = s.instance_id AND c.kind = 'conversion'
                     AND NOT coalesce((c.data ->> 'holdout')::boolean, false) AND c.at >= s.at),
           (SELECT min(e.timestamp) FROM events e
            WHERE e.workspace_id = s.workspace_id AND e.user_id = s.user_id AND e.name NOT LIKE '$%'
              AND e.timestamp > s.at AND e.timestamp <= s.at + interval '168 hours')
    FROM s
    ON CONFLICT (instance_id, seq) DO NOTHING
    RETURNING 1
  )
  SELECT array_agg(DISTINCT s.instance_id) FILTER (WHERE s.had_sends) INTO more FROM s;

  -- Instances whose other sends may have changed: they already had sends, or a conversion arrived.
  SELECT array_agg(DISTINCT x.instance_id) INTO touched FROM (
    SELECT unnest(coalesce(touched, '{}'::uuid[]) || coalesce(more, '{}'::uuid[])) AS instance_id
    UNION ALL
    SELECT n.instance_id FROM new_rows n WHERE n.kind = 'conversion'
  ) x;
  IF touched IS NOT NULL THEN PERFORM journey_message_sends_recount(touched); END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION journey_message_sends_from_tracked_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ws uuid[];
  us text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH by_user AS (
      SELECT n.workspace_id, n.user_id, min(n.timestamp) AS lo, max(n.timestamp) AS hi
      FROM new_rows n WHERE n.name NOT LIKE '$%' GROUP BY 1, 2
    ),
    candidate AS (
      SELECT s.instance_id, s.seq, s.workspace_id, s.user_id, s.at
      FROM by_user b
      JOIN journey_message_sends s ON s.workspace_id = b.workspace_id AND s.user_id = b.user_id
                                  AND s.at < b.hi AND s.at >= b.lo - interval '168 hours'
      WHERE s.returned_at IS NULL OR s.returned_at > b.lo
    ),
    hit AS (
      SELECT c.instance_id, c.seq, min(n.timestamp) AS at
      FROM candidate c
      JOIN new_rows n ON n.workspace_id = c.workspace_id AND n.user_id = c.user_id
                     AND n.timestamp > c.at AND n.timestamp <= c.at + interval '168 hours' AND n.name NOT LIKE '$%'
      GROUP BY c.instance_id, c.seq
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
$$;
