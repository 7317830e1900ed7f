-- The rollup trigger on journey_node_events, cheaper per row (bench:analytics, docs/decisions/0800):
-- the instance's entry time is looked up once per instance in the statement, not per node event;
-- the derived rows (journey_entered, conversion_path) come from filtered scans instead of a
-- per-row lateral; and the grouping hashes (a sort on text keys cost more than the insert itself
-- when the planner misjudged the transition table's size). Same counts as 0016.
CREATE OR REPLACE FUNCTION journey_node_rollup_from_events() RETURNS trigger LANGUAGE plpgsql SET enable_sort = off SET work_mem = '32MB' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, r.node_id, r.kind, r.output, r.reason, r.status, r.channel, r.extra, count(*) AS n
    FROM (
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(e.node_id, '') AS node_id,
             CASE WHEN e.kind = 'conversion' AND coalesce((e.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE e.kind END AS kind,
             coalesce(e.output, '') AS output, coalesce(e.reason, '') AS reason, coalesce(e.message_status, '') AS status,
             coalesce(e.channel, '') AS channel,
             CASE WHEN e.kind = 'conversion' THEN coalesce(e.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      FROM new_rows e
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, '', 'journey_entered', '', '', '', '', ''
      FROM new_rows e WHERE e.kind = 'entered' AND e.seq = 1
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM new_rows e CROSS JOIN LATERAL jsonb_array_elements(coalesce(e.data -> 'path', '[]'::jsonb)) AS p
      WHERE e.kind = 'conversion' AND NOT coalesce((e.data ->> 'holdout')::boolean, false)
    ) r
    LEFT JOIN (SELECT d.id, (SELECT i.entered_at FROM journey_instances i WHERE i.id = d.id) AS entered_at
               FROM (SELECT DISTINCT instance_id AS id FROM new_rows) d) c ON c.id = r.instance_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, r.node_id, r.kind, r.output, r.reason, r.status, r.channel, r.extra, -count(*) AS n
    FROM (
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(e.node_id, '') AS node_id,
             CASE WHEN e.kind = 'conversion' AND coalesce((e.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE e.kind END AS kind,
             coalesce(e.output, '') AS output, coalesce(e.reason, '') AS reason, coalesce(e.message_status, '') AS status,
             coalesce(e.channel, '') AS channel,
             CASE WHEN e.kind = 'conversion' THEN coalesce(e.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      FROM old_rows e
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, '', 'journey_entered', '', '', '', '', ''
      FROM old_rows e WHERE e.kind = 'entered' AND e.seq = 1
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM old_rows e CROSS JOIN LATERAL jsonb_array_elements(coalesce(e.data -> 'path', '[]'::jsonb)) AS p
      WHERE e.kind = 'conversion' AND NOT coalesce((e.data ->> 'holdout')::boolean, false)
    ) r
    LEFT JOIN (SELECT d.id, (SELECT i.entered_at FROM journey_instances i WHERE i.id = d.id) AS entered_at
               FROM (SELECT DISTINCT instance_id AS id FROM old_rows) d) c ON c.id = r.instance_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, r.node_id, r.kind, r.output, r.reason, r.status, r.channel, r.extra, count(*) AS n
    FROM (
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(e.node_id, '') AS node_id,
             CASE WHEN e.kind = 'conversion' AND coalesce((e.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE e.kind END AS kind,
             coalesce(e.output, '') AS output, coalesce(e.reason, '') AS reason, coalesce(e.message_status, '') AS status,
             coalesce(e.channel, '') AS channel,
             CASE WHEN e.kind = 'conversion' THEN coalesce(e.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      FROM new_rows e
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, '', 'journey_entered', '', '', '', '', ''
      FROM new_rows e WHERE e.kind = 'entered' AND e.seq = 1
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM new_rows e CROSS JOIN LATERAL jsonb_array_elements(coalesce(e.data -> 'path', '[]'::jsonb)) AS p
      WHERE e.kind = 'conversion' AND NOT coalesce((e.data ->> 'holdout')::boolean, false)
    ) r
    LEFT JOIN (SELECT d.id, (SELECT i.entered_at FROM journey_instances i WHERE i.id = d.id) AS entered_at
               FROM (SELECT DISTINCT instance_id AS id FROM new_rows) d) c ON c.id = r.instance_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  ELSE
    INSERT INTO journey_node_rollup_pending (journey_id, version_id, cohort, node_id, kind, output, reason, status, channel, extra, n)
    SELECT r.journey_id, r.version_id, date_trunc('hour', coalesce(c.entered_at, r.at)) AS cohort, r.node_id, r.kind, r.output, r.reason, r.status, r.channel, r.extra, -count(*) AS n
    FROM (
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(e.node_id, '') AS node_id,
             CASE WHEN e.kind = 'conversion' AND coalesce((e.data ->> 'holdout')::boolean, false) THEN 'conversion_holdout' ELSE e.kind END AS kind,
             coalesce(e.output, '') AS output, coalesce(e.reason, '') AS reason, coalesce(e.message_status, '') AS status,
             coalesce(e.channel, '') AS channel,
             CASE WHEN e.kind = 'conversion' THEN coalesce(e.data ->> 'attributedNodeId', '') ELSE '' END AS extra
      FROM old_rows e
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, '', 'journey_entered', '', '', '', '', ''
      FROM old_rows e WHERE e.kind = 'entered' AND e.seq = 1
      UNION ALL
      SELECT e.instance_id, e.journey_id, e.version_id, e.at, coalesce(p ->> 'nodeId', ''), 'conversion_path', coalesce(p ->> 'output', ''), '', '', '', ''
      FROM old_rows e CROSS JOIN LATERAL jsonb_array_elements(coalesce(e.data -> 'path', '[]'::jsonb)) AS p
      WHERE e.kind = 'conversion' AND NOT coalesce((e.data ->> 'holdout')::boolean, false)
    ) r
    LEFT JOIN (SELECT d.id, (SELECT i.entered_at FROM journey_instances i WHERE i.id = d.id) AS entered_at
               FROM (SELECT DISTINCT instance_id AS id FROM old_rows) d) c ON c.id = r.instance_id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  END IF;
  RETURN NULL;
END
$$;