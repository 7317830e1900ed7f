-- Rollups of journey_node_events and messages (db/schema/analytics.ts, docs/decisions/0800). Written by hand: drizzle-kit does not generate functions or triggers.--> statement-breakpoint
CREATE OR REPLACE FUNCTION journey_node_rollup_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, k.node_id, k.kind, k.output, k.reason, k.status, k.channel, k.extra, count(*) AS n
    FROM new_rows r
    LEFT JOIN LATERAL (SELECT i.entered_at FROM journey_instances i WHERE i.id = r.instance_id LIMIT 1) c ON true
    CROSS JOIN LATERAL (
      SELECT coalesce(r.node_id, '') AS node_id,
             CASE WHEN r.kind = 'conversion' AND coalesce((r.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE r.kind END AS kind,
             coalesce(r.output, '') AS output, coalesce(r.reason, '') AS reason, coalesce(r.message_status, '') AS status,
             coalesce(r.channel, '') AS channel,
             CASE WHEN r.kind = 'conversion' THEN coalesce(r.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      UNION ALL
      SELECT '', 'journey_entered', '', '', '', '', '' WHERE r.kind = 'entered' AND r.seq = 1
      UNION ALL
      SELECT coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM jsonb_array_elements(CASE WHEN r.kind = 'conversion' AND NOT coalesce((r.data ->> 'holdout')::boolean, false)
                                     THEN coalesce(r.data -> 'path', '[]'::jsonb) ELSE '[]'::jsonb END) AS p
    ) k
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, k.node_id, k.kind, k.output, k.reason, k.status, k.channel, k.extra, -count(*) AS n
    FROM old_rows r
    LEFT JOIN LATERAL (SELECT i.entered_at FROM journey_instances i WHERE i.id = r.instance_id LIMIT 1) c ON true
    CROSS JOIN LATERAL (
      SELECT coalesce(r.node_id, '') AS node_id,
             CASE WHEN r.kind = 'conversion' AND coalesce((r.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE r.kind END AS kind,
             coalesce(r.output, '') AS output, coalesce(r.reason, '') AS reason, coalesce(r.message_status, '') AS status,
             coalesce(r.channel, '') AS channel,
             CASE WHEN r.kind = 'conversion' THEN coalesce(r.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      UNION ALL
      SELECT '', 'journey_entered', '', '', '', '', '' WHERE r.kind = 'entered' AND r.seq = 1
      UNION ALL
      SELECT coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM jsonb_array_elements(CASE WHEN r.kind = 'conversion' AND NOT coalesce((r.data ->> 'holdout')::boolean, false)
                                     THEN coalesce(r.data -> 'path', '[]'::jsonb) ELSE '[]'::jsonb END) AS p
    ) k
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, k.node_id, k.kind, k.output, k.reason, k.status, k.channel, k.extra, count(*) AS n
    FROM new_rows r
    LEFT JOIN LATERAL (SELECT i.entered_at FROM journey_instances i WHERE i.id = r.instance_id LIMIT 1) c ON true
    CROSS JOIN LATERAL (
      SELECT coalesce(r.node_id, '') AS node_id,
             CASE WHEN r.kind = 'conversion' AND coalesce((r.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE r.kind END AS kind,
             coalesce(r.output, '') AS output, coalesce(r.reason, '') AS reason, coalesce(r.message_status, '') AS status,
             coalesce(r.channel, '') AS channel,
             CASE WHEN r.kind = 'conversion' THEN coalesce(r.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      UNION ALL
      SELECT '', 'journey_entered', '', '', '', '', '' WHERE r.kind = 'entered' AND r.seq = 1
      UNION ALL
      SELECT coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM jsonb_array_elements(CASE WHEN r.kind = 'conversion' AND NOT coalesce((r.data ->> 'holdout')::boolean, false)
                                     THEN coalesce(r.data -> 'path', '[]'::jsonb) ELSE '[]'::jsonb END) AS p
    ) k
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  ELSE
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, k.node_id, k.kind, k.output, k.reason, k.status, k.channel, k.extra, -count(*) AS n
    FROM old_rows r
    LEFT JOIN LATERAL (SELECT i.entered_at FROM journey_instances i WHERE i.id = r.instance_id LIMIT 1) c ON true
    CROSS JOIN LATERAL (
      SELECT coalesce(r.node_id, '') AS node_id,
             CASE WHEN r.kind = 'conversion' AND coalesce((r.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE r.kind END AS kind,
             coalesce(r.output, '') AS output, coalesce(r.reason, '') AS reason, coalesce(r.message_status, '') AS status,
             coalesce(r.channel, '') AS channel,
             CASE WHEN r.kind = 'conversion' THEN coalesce(r.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      UNION ALL
      SELECT '', 'journey_entered', '', '', '', '', '' WHERE r.kind = 'entered' AND r.seq = 1
      UNION ALL
      SELECT coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM jsonb_array_elements(CASE WHEN r.kind = 'conversion' AND NOT coalesce((r.data ->> 'holdout')::boolean, false)
                                     THEN coalesce(r.data -> 'path', '[]'::jsonb) ELSE '[]'::jsonb END) AS p
    ) k
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION journey_node_rollup_from_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT i.journey_id, i.version_id, date_trunc('hour', i.entered_at), d.node_id, 'message_row', '', '', s.status, d.channel, '', sum(s.n)
    FROM (
      SELECT m.instance_id, coalesce(m.node_id, '') AS node_id, m.channel::text AS channel, 1 AS sign,
             (m.delivered_at IS NOT NULL OR m.state IN ('delivered', 'opened', 'clicked'))::int AS delivered,
             (m.opened_at IS NOT NULL OR m.state IN ('opened', 'clicked'))::int AS opened,
             (m.clicked_at IS NOT NULL OR m.state = 'clicked')::int AS clicked
      FROM new_rows m WHERE m.instance_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    ) d
    CROSS JOIN LATERAL (VALUES ('delivered', d.sign * d.delivered), ('opened', d.sign * d.opened), ('clicked', d.sign * d.clicked)) AS s(status, n)
    CROSS JOIN LATERAL (SELECT j.journey_id, j.version_id, j.entered_at FROM journey_instances j WHERE j.id = d.instance_id::uuid LIMIT 1) i
    WHERE s.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    HAVING sum(s.n) <> 0;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT i.journey_id, i.version_id, date_trunc('hour', i.entered_at), d.node_id, 'message_row', '', '', s.status, d.channel, '', sum(s.n)
    FROM (
      SELECT m.instance_id, coalesce(m.node_id, '') AS node_id, m.channel::text AS channel, 1 AS sign,
             (m.delivered_at IS NOT NULL OR m.state IN ('delivered', 'opened', 'clicked'))::int - (o.delivered_at IS NOT NULL OR o.state IN ('delivered', 'opened', 'clicked'))::int AS delivered,
             (m.opened_at IS NOT NULL OR m.state IN ('opened', 'clicked'))::int - (o.opened_at IS NOT NULL OR o.state IN ('opened', 'clicked'))::int AS opened,
             (m.clicked_at IS NOT NULL OR m.state = 'clicked')::int - (o.clicked_at IS NOT NULL OR o.state = 'clicked')::int AS clicked
      FROM new_rows m JOIN old_rows o ON o.id = m.id
      WHERE m.instance_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        AND ((m.delivered_at IS NOT NULL OR m.state IN ('delivered', 'opened', 'clicked'))::int, (m.opened_at IS NOT NULL OR m.state IN ('opened', 'clicked'))::int, (m.clicked_at IS NOT NULL OR m.state = 'clicked')::int) IS DISTINCT FROM ((o.delivered_at IS NOT NULL OR o.state IN ('delivered', 'opened', 'clicked'))::int, (o.opened_at IS NOT NULL OR o.state IN ('opened', 'clicked'))::int, (o.clicked_at IS NOT NULL OR o.state = 'clicked')::int)
    ) d
    CROSS JOIN LATERAL (VALUES ('delivered', d.sign * d.delivered), ('opened', d.sign * d.opened), ('clicked', d.sign * d.clicked)) AS s(status, n)
    CROSS JOIN LATERAL (SELECT j.journey_id, j.version_id, j.entered_at FROM journey_instances j WHERE j.id = d.instance_id::uuid LIMIT 1) i
    WHERE s.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    HAVING sum(s.n) <> 0;
  ELSE
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT i.journey_id, i.version_id, date_trunc('hour', i.entered_at), d.node_id, 'message_row', '', '', s.status, d.channel, '', sum(s.n)
    FROM (
      SELECT m.instance_id, coalesce(m.node_id, '') AS node_id, m.channel::text AS channel, -1 AS sign,
             (m.delivered_at IS NOT NULL OR m.state IN ('delivered', 'opened', 'clicked'))::int AS delivered,
             (m.opened_at IS NOT NULL OR m.state IN ('opened', 'clicked'))::int AS opened,
             (m.clicked_at IS NOT NULL OR m.state = 'clicked')::int AS clicked
      FROM old_rows m WHERE m.instance_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    ) d
    CROSS JOIN LATERAL (VALUES ('delivered', d.sign * d.delivered), ('opened', d.sign * d.opened), ('clicked', d.sign * d.clicked)) AS s(status, n)
    CROSS JOIN LATERAL (SELECT j.journey_id, j.version_id, j.entered_at FROM journey_instances j WHERE j.id = d.instance_id::uuid LIMIT 1) i
    WHERE s.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    HAVING sum(s.n) <> 0;
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER journey_node_events_rollup_insert AFTER INSERT ON journey_node_events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_node_rollup_from_events();--> statement-breakpoint
CREATE TRIGGER journey_node_events_rollup_update AFTER UPDATE ON journey_node_events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_node_rollup_from_events();--> statement-breakpoint
CREATE TRIGGER journey_node_events_rollup_delete AFTER DELETE ON journey_node_events REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_node_rollup_from_events();--> statement-breakpoint
CREATE TRIGGER messages_rollup_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_node_rollup_from_messages();--> statement-breakpoint
CREATE TRIGGER messages_rollup_update AFTER UPDATE ON messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_node_rollup_from_messages();--> statement-breakpoint
CREATE TRIGGER messages_rollup_delete AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_node_rollup_from_messages();--> statement-breakpoint
-- Existing rows: counted once, as if inserted now (an empty database skips this in no time).
INSERT INTO journey_node_rollup (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
SELECT journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, sum(n) FROM (
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, k.node_id, k.kind, k.output, k.reason, k.status, k.channel, k.extra, count(*) AS n
    FROM journey_node_events r
    LEFT JOIN LATERAL (SELECT i.entered_at FROM journey_instances i WHERE i.id = r.instance_id LIMIT 1) c ON true
    CROSS JOIN LATERAL (
      SELECT coalesce(r.node_id, '') AS node_id,
             CASE WHEN r.kind = 'conversion' AND coalesce((r.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE r.kind END AS kind,
             coalesce(r.output, '') AS output, coalesce(r.reason, '') AS reason, coalesce(r.message_status, '') AS status,
             coalesce(r.channel, '') AS channel,
             CASE WHEN r.kind = 'conversion' THEN coalesce(r.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      UNION ALL
      SELECT '', 'journey_entered', '', '', '', '', '' WHERE r.kind = 'entered' AND r.seq = 1
      UNION ALL
      SELECT coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM jsonb_array_elements(CASE WHEN r.kind = 'conversion' AND NOT coalesce((r.data ->> 'holdout')::boolean, false)
                                     THEN coalesce(r.data -> 'path', '[]'::jsonb) ELSE '[]'::jsonb END) AS p
    ) k
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
) b GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 HAVING sum(n) <> 0;--> statement-breakpoint
INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT i.journey_id, i.version_id, date_trunc('hour', i.entered_at), d.node_id, 'message_row', '', '', s.status, d.channel, '', sum(s.n)
    FROM (
      SELECT m.instance_id, coalesce(m.node_id, '') AS node_id, m.channel::text AS channel, 1 AS sign,
             (m.delivered_at IS NOT NULL OR m.state IN ('delivered', 'opened', 'clicked'))::int AS delivered,
             (m.opened_at IS NOT NULL OR m.state IN ('opened', 'clicked'))::int AS opened,
             (m.clicked_at IS NOT NULL OR m.state = 'clicked')::int AS clicked
      FROM messages m WHERE m.instance_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    ) d
    CROSS JOIN LATERAL (VALUES ('delivered', d.sign * d.delivered), ('opened', d.sign * d.opened), ('clicked', d.sign * d.clicked)) AS s(status, n)
    CROSS JOIN LATERAL (SELECT j.journey_id, j.version_id, j.entered_at FROM journey_instances j WHERE j.id = d.instance_id::uuid LIMIT 1) i
    WHERE s.n <> 0
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    HAVING sum(s.n) <> 0;
