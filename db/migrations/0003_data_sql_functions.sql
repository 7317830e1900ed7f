-- Safe casts used by compiled segment rules (app/segments/compile.server.ts). They return NULL
-- instead of raising for values that are not numbers / timestamps, so one odd trait value can
-- never break a segment. Plain SQL (no exception blocks) so the planner inlines them.
CREATE OR REPLACE FUNCTION waypost_try_numeric(value jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE jsonb_typeof(value)
    WHEN 'number' THEN value::numeric
    WHEN 'string' THEN CASE
      WHEN (value #>> '{}') ~ '^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$'
      THEN (value #>> '{}')::numeric
    END
  END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION waypost_try_timestamptz(value jsonb) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(value) = 'string' THEN CASE
    WHEN (value #>> '{}') ~ '^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$'
    THEN CASE
      WHEN substr(value #>> '{}', 9, 2)::int <= extract(day from (make_date(substr(value #>> '{}', 1, 4)::int, substr(value #>> '{}', 6, 2)::int, 1) + interval '1 month' - interval '1 day'))
      THEN (value #>> '{}')::timestamptz
    END
  END END
$$;
--> statement-breakpoint
-- Consent is merged per channel and category: {"sms":{"marketing":false}} keeps sms.transactional.
CREATE OR REPLACE FUNCTION waypost_merge_consent(current jsonb, incoming jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(current, '{}'::jsonb) || coalesce((
    SELECT jsonb_object_agg(channel, coalesce(current -> channel, '{}'::jsonb) || flags)
    FROM jsonb_each(incoming) AS x(channel, flags)
    WHERE jsonb_typeof(flags) = 'object'
  ), '{}'::jsonb)
$$;
--> statement-breakpoint
-- Every event moves users.last_seen_at; free space on each page keeps those updates HOT.
ALTER TABLE "users" SET (fillfactor = 85);
