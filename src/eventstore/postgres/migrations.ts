import type { Migration } from '../migration.js';

const TENANT_SETTING = "current_setting('backoffice.tenant', true)";

/**
 * Versioned schema of the PostgreSQL event store. Never edit a released migration: add one.
 * Entry-point functions put the caller's `backoffice.tenant` back before they return: the tenant
 * they set for row-level security lasts only for their call, not for the caller's transaction.
 * Appends run in one server-side function call per group (one round trip, one commit); the
 * row lock on `log_head` orders commits so that positions become visible in order (docs/decisions/0002).
 */
export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'events and checkpoints',
    sql: `
      CREATE TABLE events (
        position bigint PRIMARY KEY,
        tenant text NOT NULL,
        stream_id text NOT NULL,
        stream_version integer NOT NULL,
        event_id uuid NOT NULL,
        type text NOT NULL,
        schema_version smallint NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        recorded_at timestamptz NOT NULL,
        UNIQUE (tenant, stream_id, stream_version),
        UNIQUE (tenant, event_id)
      );
      CREATE INDEX events_by_tenant ON events (tenant, position);
      CREATE TABLE log_head (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        position bigint NOT NULL
      );
      INSERT INTO log_head (position) VALUES (0);
      CREATE TABLE checkpoints (
        name text PRIMARY KEY,
        position bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 2,
    name: 'idempotency keys and the append function',
    sql: `
      CREATE TABLE idempotency_keys (
        tenant text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        result jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, key)
      );
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

      CREATE FUNCTION version_matches(expected jsonb, current_version integer) RETURNS boolean
      LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE expected #>> '{}'
          WHEN 'any' THEN true
          WHEN 'no_stream' THEN current_version = 0
          WHEN 'exists' THEN current_version > 0
          ELSE current_version = (expected #>> '{}')::integer
        END
      $$;

      CREATE FUNCTION append_one(req jsonb, head bigint, at timestamptz, ttl interval) RETURNS jsonb
      LANGUAGE plpgsql AS $$
      DECLARE
        prior idempotency_keys%ROWTYPE;
        current_version integer;
        taken text;
        n integer := jsonb_array_length(req->'e');
        result jsonb;
      BEGIN
        PERFORM set_config('backoffice.tenant', req->>'t', true);
        IF req->>'k' IS NOT NULL THEN
          SELECT * INTO prior FROM idempotency_keys
            WHERE tenant = req->>'t' AND key = req->>'k' AND created_at > at - ttl;
          IF FOUND AND prior.fingerprint <> req->>'f' THEN
            RETURN jsonb_build_object('error', 'idempotency_key_reused');
          ELSIF FOUND THEN
            RETURN prior.result || '{"duplicate": true}';
          END IF;
        END IF;
        SELECT coalesce(max(stream_version), 0) INTO current_version FROM events
          WHERE tenant = req->>'t' AND stream_id = req->>'s';
        IF NOT version_matches(req->'x', current_version) THEN
          RETURN jsonb_build_object('error', 'version_conflict', 'actual', current_version);
        END IF;
        IF (req->>'c')::boolean THEN
          SELECT ev->>'i' INTO taken FROM jsonb_array_elements(req->'e') AS ev
            WHERE EXISTS (SELECT 1 FROM events WHERE tenant = req->>'t' AND event_id = (ev->>'i')::uuid) LIMIT 1;
          IF taken IS NOT NULL THEN
            RETURN jsonb_build_object('error', 'already_exists', 'eventId', taken);
          END IF;
        END IF;
        INSERT INTO events (position, tenant, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at)
          SELECT head + e.i, req->>'t', req->>'s', current_version + e.i, (e.ev->>'i')::uuid, e.ev->>'y',
                 (e.ev->>'v')::smallint, e.ev->'d', req->'m', at
          FROM jsonb_array_elements(req->'e') WITH ORDINALITY AS e(ev, i);
        result := jsonb_build_object(
          'streamId', req->>'s',
          'streamVersion', current_version + n,
          'firstPosition', (head + 1)::text,
          'lastPosition', (head + n)::text,
          'eventIds', (SELECT jsonb_agg(ev->'i') FROM jsonb_array_elements(req->'e') AS ev),
          'recordedAt', at);
        IF req->>'k' IS NOT NULL THEN
          INSERT INTO idempotency_keys (tenant, key, fingerprint, result, created_at)
            VALUES (req->>'t', req->>'k', req->>'f', result, at)
            ON CONFLICT (tenant, key) DO UPDATE
              SET fingerprint = excluded.fingerprint, result = excluded.result, created_at = excluded.created_at;
        END IF;
        RETURN result || '{"duplicate": false}';
      END $$;

      CREATE FUNCTION append_events(batch jsonb, ttl interval) RETURNS jsonb
      LANGUAGE plpgsql AS $$
      DECLARE
        head bigint;
        at timestamptz := date_trunc('milliseconds', clock_timestamp());
        req jsonb;
        outcome jsonb;
        outcomes jsonb := '[]';
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
      BEGIN
        SELECT position INTO head FROM log_head FOR UPDATE;
        FOR req IN SELECT value FROM jsonb_array_elements(batch) LOOP
          outcome := append_one(req, head, at, ttl);
          IF outcome ? 'lastPosition' AND NOT (outcome->>'duplicate')::boolean THEN
            head := (outcome->>'lastPosition')::bigint;
          END IF;
          outcomes := outcomes || jsonb_build_array(outcome);
        END LOOP;
        UPDATE log_head SET position = head;
        PERFORM pg_notify('backoffice_events', head::text);
        PERFORM set_config('backoffice.tenant', prior, true);
        RETURN outcomes;
      END $$;

      CREATE FUNCTION find_idempotent(tenant_id text, idempotency_key text, ttl interval) RETURNS jsonb
      LANGUAGE plpgsql AS $$
      DECLARE
        found jsonb;
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
      BEGIN
        PERFORM set_config('backoffice.tenant', tenant_id, true);
        SELECT result INTO found FROM idempotency_keys
          WHERE tenant = tenant_id AND key = idempotency_key AND created_at > clock_timestamp() - ttl;
        PERFORM set_config('backoffice.tenant', prior, true);
        RETURN found;
      END $$;

      CREATE FUNCTION read_log(tenant_id text, after bigint, max_rows integer) RETURNS SETOF events
      LANGUAGE plpgsql AS $$
      DECLARE
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
      BEGIN
        PERFORM set_config('backoffice.tenant', coalesce(tenant_id, '*'), true);
        IF tenant_id IS NULL THEN
          RETURN QUERY SELECT * FROM events WHERE position > after ORDER BY position LIMIT max_rows;
        ELSE
          RETURN QUERY SELECT * FROM events WHERE tenant = tenant_id AND position > after ORDER BY position LIMIT max_rows;
        END IF;
        PERFORM set_config('backoffice.tenant', prior, true);
      END $$;

      CREATE FUNCTION read_stream(tenant_id text, stream text, from_version integer, max_rows integer) RETURNS SETOF events
      LANGUAGE plpgsql AS $$
      DECLARE
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
      BEGIN
        PERFORM set_config('backoffice.tenant', tenant_id, true);
        RETURN QUERY SELECT * FROM events
          WHERE tenant = tenant_id AND stream_id = stream AND stream_version >= from_version
          ORDER BY stream_version LIMIT max_rows;
        PERFORM set_config('backoffice.tenant', prior, true);
      END $$;`,
  },
  {
    version: 3,
    name: 'row-level security on tenant data',
    sql: ['events', 'idempotency_keys']
      .map(
        (table) => `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});`,
      )
      .join('\n'),
  },
  {
    version: 4,
    name: 'documents projected inline with their version history',
    sql: `
      CREATE TABLE documents (
        tenant text NOT NULL,
        module text NOT NULL,
        entity text NOT NULL,
        id text NOT NULL,
        version integer NOT NULL,
        data jsonb,
        deleted boolean NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        from_position bigint NOT NULL,
        to_position bigint,
        from_time timestamptz NOT NULL,
        to_time timestamptz,
        PRIMARY KEY (tenant, module, entity, id, version)
      );
      CREATE UNIQUE INDEX documents_current ON documents (tenant, module, entity, id COLLATE "C") WHERE to_position IS NULL;
      CREATE INDEX documents_as_of ON documents (tenant, module, entity, from_position);
      -- Enabled but not forced: queries filter JSON with non-leakproof operators, which row-level
      -- security would keep away from every expression index (docs/decisions/0003).
      ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON documents
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});

      CREATE FUNCTION project_document(req jsonb, outcome jsonb, at timestamptz) RETURNS void
      LANGUAGE plpgsql AS $$
      DECLARE
        doc jsonb := req->'doc';
        pos bigint := (outcome->>'lastPosition')::bigint;
        gone boolean := jsonb_typeof(req->'doc'->'d') = 'null';
        created timestamptz;
      BEGIN
        UPDATE documents SET to_position = pos, to_time = at
          WHERE tenant = req->>'t' AND module = doc->>'m' AND entity = doc->>'n' AND id = doc->>'i' AND to_position IS NULL
          RETURNING created_at INTO created;
        INSERT INTO documents (tenant, module, entity, id, version, data, deleted, created_at, updated_at,
                               from_position, to_position, from_time, to_time)
          VALUES (req->>'t', doc->>'m', doc->>'n', doc->>'i', (outcome->>'streamVersion')::integer,
                  CASE WHEN gone THEN NULL ELSE doc->'d' END, gone, coalesce(created, at), at, pos, NULL, at, NULL);
      END $$;

      CREATE OR REPLACE FUNCTION append_events(batch jsonb, ttl interval) RETURNS jsonb
      LANGUAGE plpgsql AS $$
      DECLARE
        head bigint;
        at timestamptz := date_trunc('milliseconds', clock_timestamp());
        req jsonb;
        outcome jsonb;
        outcomes jsonb := '[]';
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
      BEGIN
        SELECT position INTO head FROM log_head FOR UPDATE;
        FOR req IN SELECT value FROM jsonb_array_elements(batch) LOOP
          outcome := append_one(req, head, at, ttl);
          IF outcome ? 'lastPosition' AND NOT (outcome->>'duplicate')::boolean THEN
            head := (outcome->>'lastPosition')::bigint;
            IF req ? 'doc' THEN
              PERFORM project_document(req, outcome, at);
            END IF;
          END IF;
          outcomes := outcomes || jsonb_build_array(outcome);
        END LOOP;
        UPDATE log_head SET position = head;
        PERFORM pg_notify('backoffice_events', head::text);
        PERFORM set_config('backoffice.tenant', prior, true);
        RETURN outcomes;
      END $$;`,
  },
  {
    version: 5,
    name: 'set-based group appends',
    sql: `
      -- A group holds at most one append per stream and per idempotency key (the group committer
      -- guarantees it; otherwise a unique constraint fails the group and the store retries one by one),
      -- so every append of a tenant's share of the group is checked and written by a few set-based
      -- statements instead of a loop of statements per append.
      CREATE OR REPLACE FUNCTION append_tenant_group(tenant_id text, batch jsonb, head bigint, at timestamptz, ttl interval)
      RETURNS jsonb LANGUAGE plpgsql AS $$
      DECLARE
        decided jsonb;
        closed jsonb;
      BEGIN
        -- Values compared with table columns are materialised as plain columns first: under
        -- row-level security, a condition that calls a non-leakproof function (such as ->>)
        -- cannot use an index.
        WITH requests AS MATERIALIZED (
          SELECT (x.o - 1)::int AS i, x.req, jsonb_array_length(x.req->'e') AS n,
                 x.req->>'s' AS stream, x.req->>'k' AS key, (x.req->>'c')::boolean AS client_ids
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS x(req, o)
          WHERE x.req->>'t' = tenant_id
        ), client_ids AS MATERIALIZED (
          SELECT r.i, (ev->>'i')::uuid AS event_id
          FROM requests r, jsonb_array_elements(r.req->'e') AS ev WHERE r.client_ids
        ), checked AS (
          SELECT r.i, r.req, r.n, k.result AS prior_result, k.fingerprint AS prior_fingerprint,
            coalesce((SELECT max(e.stream_version) FROM events e WHERE e.tenant = tenant_id AND e.stream_id = r.stream), 0) AS cur,
            (SELECT c.event_id::text FROM client_ids c JOIN events e ON e.tenant = tenant_id AND e.event_id = c.event_id
              WHERE c.i = r.i LIMIT 1) AS taken
          FROM requests r
          LEFT JOIN idempotency_keys k ON k.tenant = tenant_id AND k.key = r.key AND k.created_at > at - ttl
        ), verdicts AS (
          SELECT c.*, CASE
              WHEN c.prior_result IS NOT NULL AND c.prior_fingerprint <> c.req->>'f' THEN 'reused'
              WHEN c.prior_result IS NOT NULL THEN 'duplicate'
              WHEN NOT version_matches(c.req->'x', c.cur) THEN 'conflict'
              WHEN c.taken IS NOT NULL THEN 'taken'
              ELSE 'ok'
            END AS verdict
          FROM checked c
        ), placed AS (
          SELECT v.*, head + 1 + coalesce(sum(CASE WHEN v.verdict = 'ok' THEN v.n ELSE 0 END)
            OVER (ORDER BY v.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS first
          FROM verdicts v
        )
        SELECT jsonb_agg(jsonb_build_object('i', i, 'req', req, 'n', n, 'cur', cur, 'verdict', verdict,
                 'prior', prior_result, 'taken', taken, 'first', first) ORDER BY i)
          INTO decided FROM placed;

        INSERT INTO events (position, tenant, stream_id, stream_version, event_id, type, schema_version, data, metadata, recorded_at)
          SELECT (d->>'first')::bigint + e.o - 1, tenant_id, d->'req'->>'s', (d->>'cur')::integer + e.o::integer,
                 (e.ev->>'i')::uuid, e.ev->>'y', (e.ev->>'v')::smallint, e.ev->'d', d->'req'->'m', at
          FROM jsonb_array_elements(decided) AS d, jsonb_array_elements(d->'req'->'e') WITH ORDINALITY AS e(ev, o)
          WHERE d->>'verdict' = 'ok';

        SELECT jsonb_agg(d || jsonb_build_object('result', jsonb_build_object(
                 'streamId', d->'req'->>'s',
                 'streamVersion', (d->>'cur')::integer + (d->>'n')::integer,
                 'firstPosition', d->>'first',
                 'lastPosition', ((d->>'first')::bigint + (d->>'n')::integer - 1)::text,
                 'eventIds', (SELECT jsonb_agg(ev->'i') FROM jsonb_array_elements(d->'req'->'e') AS ev),
                 'recordedAt', at)))
          INTO decided FROM jsonb_array_elements(decided) AS d;

        INSERT INTO idempotency_keys (tenant, key, fingerprint, result, created_at)
          SELECT tenant_id, d->'req'->>'k', d->'req'->>'f', d->'result', at
          FROM jsonb_array_elements(decided) AS d
          WHERE d->>'verdict' = 'ok' AND d->'req'->>'k' IS NOT NULL
          ON CONFLICT (tenant, key) DO UPDATE
            SET fingerprint = excluded.fingerprint, result = excluded.result, created_at = excluded.created_at;

        WITH targets AS MATERIALIZED (
          SELECT d->'req'->'doc'->>'m' AS module, d->'req'->'doc'->>'n' AS entity, d->'req'->'doc'->>'i' AS id,
                 (d->'result'->>'lastPosition')::bigint AS pos
          FROM jsonb_array_elements(decided) AS d WHERE d->>'verdict' = 'ok' AND d->'req' ? 'doc'
        ), updated AS (
          UPDATE documents SET to_position = t.pos, to_time = at FROM targets t
          WHERE documents.tenant = tenant_id AND documents.module = t.module AND documents.entity = t.entity
            AND documents.id = t.id AND documents.to_position IS NULL
          RETURNING documents.module, documents.entity, documents.id, documents.created_at
        )
        SELECT coalesce(jsonb_object_agg(module || '/' || entity || '/' || id, created_at), '{}') INTO closed FROM updated;

        INSERT INTO documents (tenant, module, entity, id, version, data, deleted, created_at, updated_at,
                               from_position, to_position, from_time, to_time)
          SELECT tenant_id, d->'req'->'doc'->>'m', d->'req'->'doc'->>'n', d->'req'->'doc'->>'i',
                 (d->'result'->>'streamVersion')::integer,
                 NULLIF(d->'req'->'doc'->'d', 'null'::jsonb), jsonb_typeof(d->'req'->'doc'->'d') = 'null',
                 coalesce((closed->>(concat_ws('/', d->'req'->'doc'->>'m', d->'req'->'doc'->>'n', d->'req'->'doc'->>'i')))::timestamptz, at),
                 at, (d->'result'->>'lastPosition')::bigint, NULL, at, NULL
          FROM jsonb_array_elements(decided) AS d
          WHERE d->>'verdict' = 'ok' AND d->'req' ? 'doc';

        RETURN decided;
      END $$;

      CREATE FUNCTION append_outcome(d jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE d->>'verdict'
          WHEN 'ok' THEN d->'result' || '{"duplicate": false}'
          WHEN 'duplicate' THEN d->'prior' || '{"duplicate": true}'
          WHEN 'conflict' THEN jsonb_build_object('error', 'version_conflict', 'actual', (d->>'cur')::integer)
          WHEN 'taken' THEN jsonb_build_object('error', 'already_exists', 'eventId', d->>'taken')
          ELSE jsonb_build_object('error', 'idempotency_key_reused')
        END
      $$;

      -- Independent appends (distinct streams and keys: what the group committer sends) are written
      -- per tenant in one set-based pass; any other batch is written one append at a time, in order.
      CREATE OR REPLACE FUNCTION append_events(batch jsonb, ttl interval) RETURNS jsonb
      LANGUAGE plpgsql AS $$
      DECLARE
        head bigint;
        at timestamptz := date_trunc('milliseconds', clock_timestamp());
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
        outcomes jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(batch)]);
        independent boolean;
        tenant_id text;
        idx integer;
        d jsonb;
      BEGIN
        SELECT position INTO head FROM log_head FOR UPDATE;
        SELECT count(*) = count(DISTINCT (value->>'t', value->>'s'))
           AND count(value->>'k') = count(DISTINCT (value->>'t', value->>'k')) FILTER (WHERE value->>'k' IS NOT NULL)
          INTO independent FROM jsonb_array_elements(batch);
        FOR tenant_id, idx IN
          SELECT DISTINCT value->>'t', NULL::integer FROM jsonb_array_elements(batch) WHERE independent
          UNION ALL
          SELECT x.value->>'t', (x.o - 1)::integer FROM jsonb_array_elements(batch) WITH ORDINALITY AS x(value, o) WHERE NOT independent
          ORDER BY 2
        LOOP
          PERFORM set_config('backoffice.tenant', tenant_id, true);
          FOR d IN SELECT value FROM jsonb_array_elements(append_tenant_group(tenant_id,
              CASE WHEN idx IS NULL THEN batch ELSE jsonb_build_array(batch->idx) END, head, at, ttl)) LOOP
            outcomes[coalesce(idx, (d->>'i')::integer) + 1] := append_outcome(d);
            IF d->>'verdict' = 'ok' THEN
              head := greatest(head, (d->'result'->>'lastPosition')::bigint);
            END IF;
          END LOOP;
        END LOOP;
        UPDATE log_head SET position = head;
        PERFORM pg_notify('backoffice_events', head::text);
        PERFORM set_config('backoffice.tenant', prior, true);
        RETURN to_jsonb(outcomes);
      END $$;

      DROP FUNCTION project_document(jsonb, jsonb, timestamptz);
      DROP FUNCTION append_one(jsonb, bigint, timestamptz, interval);`,
  },
  {
    version: 6,
    name: 'sealed signing keys of the software key vault',
    sql: `
      CREATE TABLE vault_keys (
        tenant text NOT NULL,
        kid text NOT NULL,
        alg text NOT NULL,
        public_jwk jsonb NOT NULL,
        format smallint NOT NULL,
        master_key_id text NOT NULL,
        wrapped_key bytea NOT NULL,
        iv bytea NOT NULL,
        ciphertext bytea NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, kid)
      );
      ALTER TABLE vault_keys ENABLE ROW LEVEL SECURITY;
      ALTER TABLE vault_keys FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON vault_keys
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});`,
  },
  {
    version: 7,
    name: 'commit-ordered recorded times, document migrations in the append, request fingerprints',
    sql: `
      ALTER TABLE log_head ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT 'epoch';
      UPDATE log_head SET recorded_at = coalesce((SELECT max(recorded_at) FROM events), 'epoch');

      CREATE OR REPLACE FUNCTION find_idempotent(tenant_id text, idempotency_key text, ttl interval) RETURNS jsonb
      LANGUAGE plpgsql AS $$
      DECLARE
        found jsonb;
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
      BEGIN
        PERFORM set_config('backoffice.tenant', tenant_id, true);
        SELECT jsonb_build_object('result', result, 'fingerprint', fingerprint) INTO found FROM idempotency_keys
          WHERE tenant = tenant_id AND key = idempotency_key AND created_at > clock_timestamp() - ttl;
        PERFORM set_config('backoffice.tenant', prior, true);
        RETURN found;
      END $$;

      -- The renames and drops of a module version, applied to every stored version of the entity's
      -- documents in the transaction that appends the version (so no write can slip between).
      CREATE FUNCTION migrate_documents(tenant_id text, migrations jsonb) RETURNS void
      LANGUAGE plpgsql AS $$
      DECLARE
        m jsonb;
      BEGIN
        FOR m IN SELECT value FROM jsonb_array_elements(migrations) LOOP
          IF m ? 'rename' THEN
            UPDATE documents SET data = (data - (m->'rename'->>'from')) || jsonb_build_object(m->'rename'->>'to', data -> (m->'rename'->>'from'))
              WHERE tenant = tenant_id AND module = m->>'module' AND entity = m->>'entity' AND data ? (m->'rename'->>'from');
          ELSE
            UPDATE documents SET data = data - (m->>'drop')
              WHERE tenant = tenant_id AND module = m->>'module' AND entity = m->>'entity' AND data ? (m->>'drop');
          END IF;
        END LOOP;
      END $$;

      -- Recorded times follow positions: the time is taken after the log lock and never goes back.
      CREATE OR REPLACE FUNCTION append_events(batch jsonb, ttl interval) RETURNS jsonb
      LANGUAGE plpgsql AS $$
      DECLARE
        head bigint;
        at timestamptz;
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
        outcomes jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(batch)]);
        independent boolean;
        tenant_id text;
        idx integer;
        d jsonb;
      BEGIN
        SELECT position, greatest(date_trunc('milliseconds', clock_timestamp()), recorded_at) INTO head, at FROM log_head FOR UPDATE;
        SELECT count(*) = count(DISTINCT (value->>'t', value->>'s'))
           AND count(value->>'k') = count(DISTINCT (value->>'t', value->>'k')) FILTER (WHERE value->>'k' IS NOT NULL)
          INTO independent FROM jsonb_array_elements(batch);
        FOR tenant_id, idx IN
          SELECT DISTINCT value->>'t', NULL::integer FROM jsonb_array_elements(batch) WHERE independent
          UNION ALL
          SELECT x.value->>'t', (x.o - 1)::integer FROM jsonb_array_elements(batch) WITH ORDINALITY AS x(value, o) WHERE NOT independent
          ORDER BY 2
        LOOP
          PERFORM set_config('backoffice.tenant', tenant_id, true);
          FOR d IN SELECT value FROM jsonb_array_elements(append_tenant_group(tenant_id,
              CASE WHEN idx IS NULL THEN batch ELSE jsonb_build_array(batch->idx) END, head, at, ttl)) LOOP
            outcomes[coalesce(idx, (d->>'i')::integer) + 1] := append_outcome(d);
            IF d->>'verdict' = 'ok' THEN
              head := greatest(head, (d->'result'->>'lastPosition')::bigint);
              IF d->'req' ? 'mig' THEN
                PERFORM migrate_documents(tenant_id, d->'req'->'mig');
              END IF;
            END IF;
          END LOOP;
        END LOOP;
        UPDATE log_head SET position = head, recorded_at = at;
        PERFORM pg_notify('backoffice_events', head::text);
        PERFORM set_config('backoffice.tenant', prior, true);
        RETURN to_jsonb(outcomes);
      END $$;`,
  },
  {
    version: 8,
    name: 'purge of expired idempotency keys',
    sql: `
      CREATE FUNCTION purge_idempotency_keys(ttl interval) RETURNS integer
      LANGUAGE plpgsql AS $$
      DECLARE
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
        removed integer;
      BEGIN
        PERFORM set_config('backoffice.tenant', '*', true);
        DELETE FROM idempotency_keys WHERE created_at < clock_timestamp() - ttl;
        GET DIAGNOSTICS removed = ROW_COUNT;
        PERFORM set_config('backoffice.tenant', prior, true);
        RETURN removed;
      END $$;`,
  },
  {
    version: 9,
    name: 'identity store tables and tenant deletion',
    sql: `
      CREATE TABLE credentials (
        tenant text NOT NULL,
        kind text NOT NULL,
        subject text NOT NULL,
        hash text NOT NULL,
        change_required boolean NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, kind, subject)
      );
      CREATE TABLE refresh_tokens (
        hash text PRIMARY KEY,
        tenant text NOT NULL,
        family text NOT NULL,
        subject text NOT NULL,
        roles jsonb NOT NULL,
        scope text NOT NULL,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        family_expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz
      );
      CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant, family);
      CREATE INDEX refresh_tokens_by_subject ON refresh_tokens (tenant, subject);
      CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (family_expires_at);
      CREATE TABLE login_attempts (
        tenant text NOT NULL,
        key text NOT NULL,
        failures integer NOT NULL,
        last_failure_at timestamptz NOT NULL,
        locked_until timestamptz,
        PRIMARY KEY (tenant, key)
      );
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        at timestamptz NOT NULL,
        action text NOT NULL,
        actor text NOT NULL,
        address text,
        target text,
        detail jsonb NOT NULL
      );
      CREATE INDEX audit_log_by_tenant ON audit_log (tenant, id);
      ${['credentials', 'refresh_tokens', 'login_attempts', 'audit_log']
        .map(
          (table) => `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});`,
        )
        .join('\n')}

      -- One statement, so one snapshot: an append that commits meanwhile keeps both its events and
      -- its document, or loses both. log_head is left alone: positions are never given again.
      CREATE FUNCTION delete_tenant_events(tenant_id text) RETURNS void
      LANGUAGE plpgsql AS $$
      DECLARE
        prior text := coalesce(current_setting('backoffice.tenant', true), '');
      BEGIN
        PERFORM set_config('backoffice.tenant', tenant_id, true);
        WITH events_gone AS (DELETE FROM events WHERE tenant = tenant_id),
             documents_gone AS (DELETE FROM documents WHERE tenant = tenant_id)
        DELETE FROM idempotency_keys WHERE tenant = tenant_id;
        PERFORM set_config('backoffice.tenant', prior, true);
      END $$;`,
  },
  {
    version: 10,
    name: 'reports maintained from the log',
    sql: `
      CREATE TABLE report_versions (
        tenant text NOT NULL,
        report text NOT NULL,
        version integer NOT NULL,
        definition jsonb NOT NULL,
        status text NOT NULL,
        reason text,
        position bigint NOT NULL,
        group_count integer NOT NULL,
        PRIMARY KEY (tenant, report, version)
      );
      CREATE TABLE report_groups (
        tenant text NOT NULL,
        report text NOT NULL,
        version integer NOT NULL,
        group_key text COLLATE "C" NOT NULL,
        state jsonb NOT NULL,
        PRIMARY KEY (tenant, report, version, group_key)
      );
      CREATE TABLE report_members (
        tenant text NOT NULL,
        report text NOT NULL,
        version integer NOT NULL,
        record_id text COLLATE "C" NOT NULL,
        data jsonb NOT NULL,
        PRIMARY KEY (tenant, report, version, record_id)
      );
      CREATE TABLE report_cursor (
        name text PRIMARY KEY,
        position bigint NOT NULL
      );
      ${['report_versions', 'report_groups', 'report_members']
        .map(
          (table) => `
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${table}
        USING (tenant = ${TENANT_SETTING} OR ${TENANT_SETTING} = '*')
        WITH CHECK (tenant = ${TENANT_SETTING});`,
        )
        .join('\n')}`,
  },
  {
    version: 11,
    name: 'report groups keep their view',
    // A group as reads show it, written with its state: a read of many groups then parses none.
    sql: 'ALTER TABLE report_groups ADD COLUMN view text;',
  },
];
