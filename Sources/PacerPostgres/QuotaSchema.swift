import PostgresNIO

/// The shared quota's table and functions, created on first use (versioned in
/// `pacer_quota_schema`, serialised by an advisory lock like the queue's).
///
/// `pacer_quotas` holds one row per quota name: the theoretical arrival times of the request
/// and token GCRA (in seconds since the epoch, on the database's clock), the limits learned
/// from the server, the pause a 429 imposed, the end of an open breaker's cooldown, and the
/// probe of a quota whose limits are not known yet. `pacer_quota_lease` books a lease in one
/// round trip under the row's lock; `pacer_quota_hold` extends the pause or the breaker and
/// tells every listener on `pacer_quota`.
enum QuotaSchema {
    /// The statements of version 1, in order (its lease and pause functions are version 2's
    /// now: a new database gets only those).
    static let version1: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS pacer_quotas (
            name text PRIMARY KEY,
            tat_requests double precision NOT NULL DEFAULT 0,
            tat_tokens double precision NOT NULL DEFAULT 0,
            learned_rpm double precision,
            learned_tpm double precision,
            unlimited boolean NOT NULL DEFAULT false,
            paused_until double precision NOT NULL DEFAULT 0,
            probe_until double precision NOT NULL DEFAULT 0,
            leases bigint NOT NULL DEFAULT 0,
            granted bigint NOT NULL DEFAULT 0
        ) WITH (fillfactor = 50)
        """
    ]

    /// Version 2: the breaker in the row, so that a process that joins while it is open
    /// learns it from its first lease, not only from a `NOTIFY` it was not there to hear.
    static let version2: [PostgresQuery] = [
        "ALTER TABLE pacer_quotas ADD COLUMN IF NOT EXISTS breaker_until double precision NOT NULL DEFAULT 0",
        """
        DROP FUNCTION IF EXISTS pacer_quota_lease(
            text, bigint, bigint, double precision, double precision, double precision, double precision, boolean,
            double precision, double precision, double precision)
        """,
        // A new database gets version 3's lease function here (step 3 replaces it with itself).
        leaseFunction,
        // A pause (a 429's) or a breaker's cooldown: kept in the row until it ends, and told
        // to every listener on `pacer_quota`.
        """
        CREATE OR REPLACE FUNCTION pacer_quota_hold(p_name text, p_breaker boolean, p_seconds double precision)
        RETURNS double precision LANGUAGE plpgsql AS $$
        DECLARE
            now_s double precision := extract(epoch FROM clock_timestamp());
            until_s double precision;
        BEGIN
            INSERT INTO pacer_quotas (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
            UPDATE pacer_quotas SET
                paused_until = CASE WHEN p_breaker THEN pacer_quotas.paused_until
                    ELSE greatest(pacer_quotas.paused_until, now_s + p_seconds) END,
                breaker_until = CASE WHEN p_breaker THEN greatest(pacer_quotas.breaker_until, now_s + p_seconds)
                    ELSE pacer_quotas.breaker_until END
            WHERE name = p_name
            RETURNING CASE WHEN p_breaker THEN pacer_quotas.breaker_until ELSE pacer_quotas.paused_until END
            INTO until_s;
            PERFORM pg_notify('pacer_quota', (CASE WHEN p_breaker
                THEN json_build_object('quota', p_name, 'breaker_seconds', until_s - now_s)
                ELSE json_build_object('quota', p_name, 'paused_until', until_s, 'db_now', now_s) END)::text);
            RETURN until_s;
        END
        $$
        """,
        // Version 1's name for a pause, which a process of that version still running calls.
        """
        CREATE OR REPLACE FUNCTION pacer_quota_pause(p_name text, p_seconds double precision)
        RETURNS double precision LANGUAGE sql AS $$ SELECT pacer_quota_hold(p_name, false, p_seconds) $$
        """,
    ]

    /// Version 3: a lease settles the tokens its process booked and did not use (a request's
    /// estimate less its real usage), so that processes sharing a token limit run as fast as
    /// one alone; one lease moves at most a minute of the token limit. The lease function of
    /// version 2 stays, under its signature, for a version-2 process still running.
    static let version3: [PostgresQuery] = [
        leaseFunction,
        """
        DROP FUNCTION IF EXISTS pacer_quota_lease(
            text, bigint, bigint, double precision, double precision, double precision, double precision, boolean,
            double precision, double precision, double precision)
        """,
        """
        CREATE FUNCTION pacer_quota_lease(
            p_name text, p_requests bigint, p_tokens bigint,
            p_rpm double precision, p_tpm double precision,
            p_learned_rpm double precision, p_learned_tpm double precision, p_unlimited boolean,
            p_headroom double precision, p_probe_seconds double precision, p_horizon double precision
        ) RETURNS TABLE (
            granted integer, granted_tokens bigint, window_start double precision, spacing double precision,
            db_now double precision, paused_until double precision, rpm double precision, tpm double precision,
            breaker_until double precision
        ) LANGUAGE sql AS $$
            SELECT granted, granted_tokens, window_start, spacing, db_now, paused_until, rpm, tpm, breaker_until
            FROM pacer_quota_lease(p_name, p_requests, p_tokens, p_rpm, p_tpm, p_learned_rpm, p_learned_tpm,
                p_unlimited, p_headroom, p_probe_seconds, p_horizon, 0::bigint, NULL::double precision)
        $$
        """,
    ]

    /// Version 4: the token limit is a bucket, as one process's is. A booking is charged its
    /// estimate, admitted while the bucket has room for it (a burst's worth at most), and
    /// settled on its real usage as soon as its answer is back (`pacer_quota_settle`, which
    /// tells every listener, so that a process waiting for room asks again at once). The
    /// lease function of version 3 stays for a version-3 process still running.
    static let version4: [PostgresQuery] = [bookFunction, settleFunction]

    /// The migration that creates them: one round trip when they are there at this version.
    static let migration = SchemaMigration(
        name: "quota",
        versionTable: "pacer_quota_schema",
        steps: [version1, version2, version3, version4]
    )

    // A booking of up to `p_requests` slots, each for `p_tokens / p_requests` tokens. Each
    // slot goes at the latest of now, the pause's end, the request GCRA's next arrival, and
    // the time the token bucket has room for it: the bucket holds `p_burst` seconds of the
    // limit, and a request larger than that goes when the bucket is empty (running it into
    // debt, as the server does). Slots are booked while the first is within `p_horizon` and
    // each slot's tokens within `p_burst`: a booking made long before its tokens are free
    // would keep the estimate of requests still in flight, which `pacer_quota_settle` gives
    // back as their answers arrive. The slots are returned as a start and an even spacing:
    // the slot times are convex in their index, so the chord never puts a slot early.
    // `p_settle_tokens` the process booked and did not use are given back first.
    // `p_forget_learned` drops the limits learned so far (the process's server answers
    // without any). Without a known limit: one probe at a time (until an answer brings the
    // limits), or all asked when the server has none.
    private static let bookFunction: PostgresQuery = """
        CREATE OR REPLACE FUNCTION pacer_quota_book(
            p_name text, p_requests bigint, p_tokens bigint,
            p_rpm double precision, p_tpm double precision,
            p_learned_rpm double precision, p_learned_tpm double precision, p_unlimited boolean,
            p_headroom double precision, p_probe_seconds double precision, p_horizon double precision,
            p_settle_tokens bigint, p_burst double precision, p_forget_learned boolean
        ) RETURNS TABLE (
            granted integer, granted_tokens bigint, window_start double precision, spacing double precision,
            db_now double precision, rpm double precision, tpm double precision, breaker_until double precision
        ) LANGUAGE plpgsql AS $$
        #variable_conflict use_variable
        DECLARE
            q pacer_quotas%ROWTYPE;
            now_s double precision := extract(epoch FROM clock_timestamp());
            eff_rpm double precision;
            eff_tpm double precision;
            per_slot double precision := 0;
            token_rate double precision;
            room_needed double precision := 0;
            gap double precision;
            slot double precision;
            token_time double precision;
            last_slot double precision;
        BEGIN
            INSERT INTO pacer_quotas (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
            SELECT * INTO q FROM pacer_quotas WHERE name = p_name FOR UPDATE;
            q.learned_rpm := coalesce(p_learned_rpm, q.learned_rpm);
            q.learned_tpm := coalesce(p_learned_tpm, q.learned_tpm);
            q.unlimited := q.unlimited OR p_unlimited;
            -- A process whose server answers without limits: what earlier runs learned (from
            -- another server, maybe) no longer holds.
            IF p_forget_learned THEN
                q.learned_rpm := NULL;
                q.learned_tpm := NULL;
                q.unlimited := true;
            END IF;
            eff_rpm := coalesce(p_rpm, q.learned_rpm);
            eff_tpm := coalesce(p_tpm, q.learned_tpm);
            db_now := now_s;
            breaker_until := q.breaker_until;
            rpm := eff_rpm;
            tpm := eff_tpm;
            spacing := 0;
            granted := 0;
            granted_tokens := 0;
            IF eff_tpm IS NOT NULL THEN
                token_rate := eff_tpm * (1 - p_headroom) / 60;
                q.tat_tokens := greatest(now_s, q.tat_tokens - greatest(p_settle_tokens, 0) / token_rate);
                per_slot := p_tokens::double precision / greatest(p_requests, 1);
                -- Room in the bucket before a slot of `per_slot` tokens fits, in seconds.
                room_needed := greatest(0, token_rate * p_burst - per_slot) / token_rate;
            END IF;
            IF eff_rpm IS NOT NULL THEN gap := 60.0 / (eff_rpm * (1 - p_headroom)); END IF;
            IF eff_rpm IS NULL AND eff_tpm IS NULL AND NOT q.unlimited THEN
                IF q.probe_until > now_s THEN
                    window_start := least(q.probe_until, now_s + 0.25);
                ELSE
                    q.probe_until := now_s + p_probe_seconds;
                    granted := 1;
                    window_start := greatest(now_s, q.paused_until);
                END IF;
            ELSIF eff_rpm IS NULL AND eff_tpm IS NULL THEN
                granted := p_requests;
                window_start := greatest(now_s, q.paused_until);
            ELSE
                FOR i IN 1..greatest(p_requests, 1) LOOP
                    slot := greatest(now_s, q.paused_until);
                    IF eff_rpm IS NOT NULL THEN slot := greatest(slot, q.tat_requests); END IF;
                    token_time := now_s;
                    IF eff_tpm IS NOT NULL THEN
                        token_time := greatest(now_s, q.tat_tokens - room_needed);
                        slot := greatest(slot, token_time);
                    END IF;
                    IF slot > now_s + p_horizon OR token_time > now_s + p_burst THEN
                        IF granted = 0 THEN
                            window_start := greatest(slot - p_horizon, token_time - p_burst);
                        END IF;
                        EXIT;
                    END IF;
                    IF granted = 0 THEN window_start := slot; END IF;
                    granted := granted + 1;
                    last_slot := slot;
                    IF eff_rpm IS NOT NULL THEN q.tat_requests := slot + gap; END IF;
                    IF eff_tpm IS NOT NULL THEN q.tat_tokens := greatest(q.tat_tokens, now_s) + per_slot / token_rate; END IF;
                END LOOP;
                IF granted > 1 THEN spacing := (last_slot - window_start) / (granted - 1); END IF;
            END IF;
            IF granted > 0 THEN
                granted_tokens := CASE WHEN eff_tpm IS NULL THEN 9223372036854775807
                    ELSE ceil(per_slot * granted)::bigint END;
            END IF;
            -- Limits known: the probe is over.
            IF eff_rpm IS NOT NULL OR eff_tpm IS NOT NULL OR q.unlimited THEN q.probe_until := 0; END IF;
            UPDATE pacer_quotas SET
                tat_requests = q.tat_requests, tat_tokens = q.tat_tokens,
                learned_rpm = q.learned_rpm, learned_tpm = q.learned_tpm, unlimited = q.unlimited,
                probe_until = q.probe_until, leases = pacer_quotas.leases + 1,
                granted = pacer_quotas.granted + granted
            WHERE name = p_name;
            RETURN NEXT;
        END
        $$
        """

    // Gives back `p_tokens` a process booked and did not use (a request's estimate less its
    // real usage, as soon as its answer is back), never before now, and tells every
    // listener, so that a process waiting for room in the bucket asks again at once.
    private static let settleFunction: PostgresQuery = """
        CREATE OR REPLACE FUNCTION pacer_quota_settle(
            p_name text, p_tokens bigint, p_tpm double precision, p_headroom double precision
        ) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            now_s double precision := extract(epoch FROM clock_timestamp());
        BEGIN
            UPDATE pacer_quotas SET tat_tokens = greatest(now_s,
                tat_tokens - greatest(p_tokens, 0) / (coalesce(p_tpm, learned_tpm) * (1 - p_headroom) / 60))
            WHERE name = p_name AND coalesce(p_tpm, learned_tpm) IS NOT NULL;
            PERFORM pg_notify('pacer_quota', json_build_object('quota', p_name, 'settled', true)::text);
        END
        $$
        """

    // A lease: `p_requests` slots from the later of now, the pause's end and both GCRA arrival
    // times, spaced at the effective rate (the limit less its headroom); the token time
    // advances by the tokens asked, at most a minute of the limit. `p_settle_tokens` the
    // process booked earlier and did not use are given back: when nobody leased since its
    // last lease (the token time is still `p_tat_seen`, which that lease returned), the token
    // time moves back (never before now); otherwise this lease is charged that much less, so
    // that its slots never overlap time another process booked. Without a known limit: one
    // probe at a time (until an answer brings the limits), or all asked when the server has
    // none. It also tells the pause's and the breaker's ends, and the token time after it.
    private static let leaseFunction: PostgresQuery = """
        CREATE OR REPLACE FUNCTION pacer_quota_lease(
            p_name text, p_requests bigint, p_tokens bigint,
            p_rpm double precision, p_tpm double precision,
            p_learned_rpm double precision, p_learned_tpm double precision, p_unlimited boolean,
            p_headroom double precision, p_probe_seconds double precision, p_horizon double precision,
            p_settle_tokens bigint, p_tat_seen double precision
        ) RETURNS TABLE (
            granted integer, granted_tokens bigint, window_start double precision, spacing double precision,
            db_now double precision, paused_until double precision, rpm double precision, tpm double precision,
            breaker_until double precision, tokens_until double precision
        ) LANGUAGE plpgsql AS $$
        #variable_conflict use_variable
        DECLARE
            q pacer_quotas%ROWTYPE;
            now_s double precision := extract(epoch FROM clock_timestamp());
            eff_rpm double precision;
            eff_tpm double precision;
            start_s double precision;
            tokens_asked bigint := p_tokens;
            len_r double precision := 0;
            len_t double precision := 0;
            credit double precision := 0;
        BEGIN
            INSERT INTO pacer_quotas (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
            SELECT * INTO q FROM pacer_quotas WHERE name = p_name FOR UPDATE;
            q.learned_rpm := coalesce(p_learned_rpm, q.learned_rpm);
            q.learned_tpm := coalesce(p_learned_tpm, q.learned_tpm);
            q.unlimited := q.unlimited OR p_unlimited;
            eff_rpm := coalesce(p_rpm, q.learned_rpm);
            eff_tpm := coalesce(p_tpm, q.learned_tpm);
            db_now := now_s;
            paused_until := q.paused_until;
            breaker_until := q.breaker_until;
            rpm := eff_rpm;
            tpm := eff_tpm;
            spacing := 0;
            IF eff_tpm IS NOT NULL THEN
                credit := greatest(p_settle_tokens, 0) * 60.0 / (eff_tpm * (1 - p_headroom));
                IF credit > 0 AND p_tat_seen IS NOT NULL AND abs(q.tat_tokens - p_tat_seen) < 1e-6 THEN
                    q.tat_tokens := greatest(now_s, q.tat_tokens - credit);
                    credit := 0;
                END IF;
                tokens_asked := least(tokens_asked, ceil(eff_tpm)::bigint);
            END IF;
            granted_tokens := tokens_asked;
            IF eff_rpm IS NULL AND eff_tpm IS NULL AND NOT q.unlimited THEN
                IF q.probe_until > now_s THEN
                    granted := 0;
                    window_start := least(q.probe_until, now_s + 0.25);
                ELSE
                    q.probe_until := now_s + p_probe_seconds;
                    granted := 1;
                    window_start := greatest(now_s, q.paused_until);
                END IF;
            ELSE
                start_s := greatest(now_s, q.paused_until);
                IF eff_rpm IS NOT NULL THEN
                    start_s := greatest(start_s, q.tat_requests);
                    len_r := p_requests * 60.0 / (eff_rpm * (1 - p_headroom));
                END IF;
                IF eff_tpm IS NOT NULL THEN
                    start_s := greatest(start_s, q.tat_tokens);
                    len_t := greatest(0, tokens_asked * 60.0 / (eff_tpm * (1 - p_headroom)) - credit);
                END IF;
                IF start_s > now_s + p_horizon THEN
                    granted := 0;
                    window_start := start_s - p_horizon;
                ELSE
                    granted := p_requests;
                    window_start := start_s;
                    spacing := greatest(len_r, len_t) / greatest(p_requests, 1);
                    IF eff_rpm IS NOT NULL THEN q.tat_requests := start_s + len_r; END IF;
                    IF eff_tpm IS NOT NULL THEN q.tat_tokens := start_s + len_t; END IF;
                    IF eff_tpm IS NULL THEN granted_tokens := 9223372036854775807; END IF;
                END IF;
            END IF;
            -- Limits known: the probe is over.
            IF eff_rpm IS NOT NULL OR eff_tpm IS NOT NULL OR q.unlimited THEN q.probe_until := 0; END IF;
            UPDATE pacer_quotas SET
                tat_requests = q.tat_requests, tat_tokens = q.tat_tokens,
                learned_rpm = q.learned_rpm, learned_tpm = q.learned_tpm, unlimited = q.unlimited,
                probe_until = q.probe_until, leases = pacer_quotas.leases + 1,
                granted = pacer_quotas.granted + granted
            WHERE name = p_name;
            tokens_until := q.tat_tokens;
            RETURN NEXT;
        END
        $$
        """
}
