-- Makes FerretDB 1.24's reads by _id use an index on its PostgreSQL backend. Run on every start of
-- a local store (postgres.ts), inside the store's own database; every statement is idempotent.
--
-- FerretDB keeps each collection in a table of one jsonb column, `_jsonb`, with a unique btree on
-- `_jsonb->'_id'`. Its updates use that btree (`WHERE _jsonb->'_id' = $2`), but the filter it pushes
-- down for `{_id: x}`, the read half of every find, findOne and update, is containment,
-- `_jsonb->$1 @> $2`, which a btree cannot serve: each such read scanned its whole table
-- (docs/store-backend.md). Two changes make it an index lookup:
--
-- 1. A GIN index (jsonb_path_ops, which serves @>) on `_jsonb->'_id'` for every FerretDB table,
--    created by an event trigger when FerretDB creates the table (so a re-created collection gets
--    it too), and here for the tables that already exist. `hazards` also gets one on `cell`: a
--    report in a new area looks up the open hazards of its cells (`{type, cell}`, both pushed down
--    as containment), which scanned every hazard ever reported.
--    Without `fastupdate`: with it, PostgreSQL appends new entries to a pending list that every
--    search reads in full until a vacuum folds it in, and with `road_segments` gaining hundreds of
--    segments a second the list held 24,000 entries between vacuums, read by every lookup.
-- 2. Custom plans for every prepared statement. FerretDB's driver prepares its statements with the
--    key as a parameter (`->$1`); only a plan made for the actual values can see that the
--    expression is `_jsonb->'_id'` and match the index. PostgreSQL's default switches a statement
--    to one generic plan after five executions, and that plan scans.
--
-- FerretDB does not know about the GIN indexes (listIndexes shows its own); dropping a collection
-- drops its table and them with it.

ALTER DATABASE :"dbname" SET plan_cache_mode = force_custom_plan;

CREATE OR REPLACE FUNCTION public.roadpulse_id_gin_index(target regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  relation_name text;
  schema_name text;
  lookup record;
  index_name text;
  made regclass;
BEGIN
  SELECT c.relname, n.nspname INTO relation_name, schema_name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target;
  -- Only FerretDB's collection tables: one jsonb column named _jsonb.
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = target AND attname = '_jsonb' AND NOT attisdropped) THEN
    RETURN;
  END IF;
  FOR lookup IN
    -- `_id` in every table; in `hazards` also `cell` (FerretDB names a table <collection>_<8 hex>).
    SELECT '_id' AS field, '_id_gin' AS suffix
    UNION ALL
    SELECT 'cell', '_cell_gin' WHERE relation_name ~ '^hazards_[0-9a-f]{8}$'
  LOOP
    index_name := left(relation_name, 62 - length(lookup.suffix)) || lookup.suffix;
    EXECUTE format(
      'CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb->%L) jsonb_path_ops) WITH (fastupdate = off)',
      index_name, target, lookup.field
    );
    -- An index made before fastupdate was turned off: turn it off and fold its pending list in.
    made := to_regclass(format('%I.%I', schema_name, index_name));
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = made AND reloptions @> ARRAY['fastupdate=off']) THEN
      EXECUTE format('ALTER INDEX %s SET (fastupdate = off)', made);
      PERFORM gin_clean_pending_list(made);
    END IF;
  END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION public.roadpulse_id_gin_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  created record;
BEGIN
  FOR created IN
    SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_type = 'table'
  LOOP
    PERFORM public.roadpulse_id_gin_index(created.objid::regclass);
  END LOOP;
END
$fn$;

DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'roadpulse_id_gin') THEN
    CREATE EVENT TRIGGER roadpulse_id_gin ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
      EXECUTE FUNCTION public.roadpulse_id_gin_on_create();
  END IF;
END
$do$;

SELECT public.roadpulse_id_gin_index(c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public');
