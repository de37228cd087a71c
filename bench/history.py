"""History pages on a big ledger: 300,000 deployments and 1,000,000 deliveries in PostgreSQL.

Creates its own database (`notifier_bench` on 127.0.0.1:5432, trust auth; dropped at the end
unless --keep), migrates it, bulk-loads it with INSERT ... SELECT generate_series (a minute
or two), then times the pages through Django's test Client — server time: URL routing,
middleware, the selectors' queries and template rendering — and prints p50/p95 per page.
Target: p95 <= 150 ms for each.

    .venv/bin/python bench/history.py [--runs 40] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = "notifier_bench"
SERVER = "postgres://postgres@127.0.0.1:5432"
DEPLOYMENTS = 300_000
APPLICATIONS = 40
TARGET_MS = 150.0


def admin_connection():
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


def database_exists() -> bool:
    with admin_connection() as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        )


def database_create() -> None:
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def database_drop() -> None:
    from django.db import connections

    connections.close_all()
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def django_setup() -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    os.environ["NOTIFIER_STORAGE"] = "orm"
    os.environ.pop("AUDIT_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifier.settings")
    os.environ.setdefault("NOTIFIER_HTTPS", "false")  # the test client speaks plain HTTP
    import django

    django.setup()


# One statement per table, all in the database: no row crosses the wire.
LOAD_DEPLOYMENTS = """
INSERT INTO notifier_deployment (deployment_id, application, deployment_group, status, creator,
    revision, create_time, start_time, complete_time, event, first_seen, updated_at)
SELECT d.deployment_id, d.application, d.deployment_group, d.status, d.creator, d.revision,
    d.create_time, d.create_time + interval '3 seconds',
    CASE WHEN d.status IN ('Succeeded', 'Failed', 'Stopped')
         THEN d.create_time + (60 + d.i %% 600) * interval '1 second' END,
    jsonb_build_object(
        'deployment_id', d.deployment_id, 'application', d.application,
        'deployment_group', d.deployment_group, 'status', d.status,
        'event', CASE d.status WHEN 'Succeeded' THEN 'succeeded' WHEN 'Failed' THEN 'failed'
                 WHEN 'Stopped' THEN 'stopped' ELSE 'started' END,
        'creator', d.creator,
        'revision', jsonb_build_object('type', 'GitHub', 'summary', left(d.revision, 12),
            'url', 'https://github.com/acme/' || d.application || '/commit/' || d.revision,
            'repository', 'acme/' || d.application, 'commit_id', d.revision),
        'create_time', to_jsonb(d.create_time),
        'start_time', to_jsonb(d.create_time + interval '3 seconds'),
        'instances', jsonb_build_object('succeeded', 4, 'failed', 0),
        'region', 'us-east-1',
        'console_url', 'https://console.aws.amazon.com/codesuite/codedeploy/deployments/'
            || d.deployment_id || '?region=us-east-1'),
    d.create_time, d.create_time + interval '5 minutes'
FROM (
    SELECT i,
        'd-' || upper(lpad(to_hex(i), 9, '0')) AS deployment_id,
        'app-' || (i %% %(apps)s) AS application,
        (ARRAY['production', 'staging', 'canary'])[1 + (i / %(apps)s) %% 3] AS deployment_group,
        CASE WHEN i <= 20 THEN 'InProgress' WHEN i %% 20 = 0 THEN 'Failed'
             WHEN i %% 50 = 1 THEN 'Stopped' ELSE 'Succeeded' END AS status,
        'user-' || (i %% 97) AS creator,
        md5(i::text) || left(md5((i + 1)::text), 8) AS revision,
        now() - i * interval '90 seconds' AS create_time
    FROM generate_series(1, %(deployments)s) AS i
) AS d
"""

TIMELINE = """
INSERT INTO notifier_statuschange (deployment_id, status, seen_at)
SELECT deployment_id, coalesce(s.status, notifier_deployment.status),
    create_time + s.n * interval '30 seconds'
FROM notifier_deployment
CROSS JOIN (VALUES (0, 'InProgress'), (1, NULL)) AS s(n, status)
WHERE s.status IS NOT NULL OR notifier_deployment.status <> 'InProgress'
ON CONFLICT DO NOTHING
"""

# Four deliveries for every third deployment, three for the others: 1,000,000 in all.
LOAD_DELIVERIES = """
INSERT INTO notifier_delivery (deployment_id, event, setup_id, kind, state, attempts,
    lease_token, next_attempt_at, last_error, payload, created_at, updated_at)
SELECT d.deployment_id,
    CASE WHEN k IN (1, 4) THEN 'started' ELSE (d.event ->> 'event') END,
    CASE WHEN k IN (1, 2) THEN s.setup_a ELSE s.setup_b END,
    'newrelic',
    x.state, CASE x.state WHEN 'dead' THEN 6 WHEN 'pending' THEN 0 ELSE 1 END,
    '', NULL,
    CASE x.state WHEN 'failed' THEN 'New Relic has no application named ''web'': check the '
        || 'application name in this setup'
        WHEN 'dead' THEN 'New Relic had a server error (502) (gave up after 6 attempts)'
        ELSE '' END,
    jsonb_build_object('deployment_id', d.deployment_id, 'application', d.application,
        'deployment_group', d.deployment_group, 'status', d.status,
        'event', CASE WHEN k IN (1, 4) THEN 'started' ELSE (d.event ->> 'event') END),
    d.create_time + interval '1 second', d.create_time + k * interval '2 seconds'
FROM notifier_deployment AS d
JOIN bench_setups AS s ON s.application = d.application
CROSS JOIN generate_series(1, 4) AS k
CROSS JOIN LATERAL (SELECT CASE
    WHEN abs(hashtext(d.deployment_id || k)) % 1000 < 25 THEN 'failed'
    WHEN abs(hashtext(d.deployment_id || k)) % 1000 BETWEEN 25 AND 29 THEN 'dead'
    WHEN abs(hashtext(d.deployment_id || k)) % 1000 BETWEEN 30 AND 31 THEN 'pending'
    ELSE 'delivered' END AS state) AS x
WHERE (k < 4 OR ('x' || lpad(substr(d.deployment_id, 3), 16, '0'))::bit(64)::bigint % 3 = 0)
  AND (k = 1 OR d.status <> 'InProgress' OR k = 4)
"""

ATTEMPTS = """
INSERT INTO notifier_deliveryattempt (delivery_id, number, state, started_at, latency_ms,
    response_status, error, detail)
SELECT id, 1, state, updated_at, 80 + (id % 400),
    CASE state WHEN 'delivered' THEN 201 WHEN 'dead' THEN 502 ELSE 200 END,
    last_error, CASE state WHEN 'delivered' THEN 'marker ' || id || ' on application 7' ELSE '' END
FROM notifier_delivery WHERE state <> 'pending'
"""


def load() -> dict[str, int]:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection

    from channels.newrelic import NewRelicSetup
    from registrations.models import Registration

    call_command("migrate", verbosity=0)
    team = Group.objects.create(name="bench")
    User.objects.create_user("bench", password="bench-password-123").groups.add(team)
    setups = []
    for n in range(APPLICATIONS):
        registration = Registration.objects.create(
            codedeploy_application_name=f"app-{n}", team=team
        )
        first, second = (
            NewRelicSetup.objects.create(registration=registration, application_name=f"web-{n}-{k}")
            for k in (1, 2)
        )
        setups.append((registration.codedeploy_application_name, first.pk, second.pk))
    with connection.cursor() as cursor:
        steps = [
            ("deployments", LOAD_DEPLOYMENTS, {"apps": APPLICATIONS, "deployments": DEPLOYMENTS}),
            ("timeline", TIMELINE, None),
            ("deliveries", LOAD_DELIVERIES, None),
            ("attempts", ATTEMPTS, None),
        ]
        cursor.execute(
            "CREATE TEMP TABLE bench_setups (application text, setup_a bigint, setup_b bigint)"
        )
        cursor.executemany("INSERT INTO bench_setups VALUES (%s, %s, %s)", setups)
        for name, sql, params in steps:
            began = time.monotonic()
            cursor.execute(sql, params)
            print(f"  loaded {name}: {cursor.rowcount:,} rows in {time.monotonic() - began:.1f} s")
        cursor.execute("ANALYZE")
        counts = {}
        for table in ("deployment", "delivery", "deliveryattempt", "statuschange"):
            cursor.execute(f"SELECT count(*) FROM notifier_{table}")
            counts[table] = cursor.fetchone()[0]
    return counts


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))]


def time_pages(runs: int) -> list[tuple[str, float, float, int]]:
    from django.contrib.auth.models import User
    from django.test import Client

    from notifier import history
    from notifier.models import Deployment

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username="bench"))
    rng = random.Random(5)
    newest = Deployment.objects.order_by("-create_time", "-deployment_id")
    deep_cursors = []
    for offset in (150_000, 200_000, 250_000, 290_000):
        row = newest.values_list("create_time", "deployment_id")[offset]
        deep_cursors.append(history.cursor_encode(*row))
    ids = list(
        Deployment.objects.filter(status__in=["Failed", "Succeeded"]).values_list(
            "deployment_id", flat=True
        )[:: DEPLOYMENTS // 500]
    )
    revisions = list(
        Deployment.objects.filter(deployment_id__in=ids[:50]).values_list("revision", flat=True)
    )
    cases = {
        "list, first page, unfiltered": lambda: "/",
        "list, filtered by application": lambda: f"/?application=app-{rng.randrange(APPLICATIONS)}",
        "list, filtered by outcome (failed)": lambda: "/?outcome=failed",
        "list, filtered by outcome (gave up)": lambda: "/?outcome=dead",
        "list, filtered by status (Failed)": lambda: "/?status=Failed",
        "list, a deep page (keyset)": lambda: f"/?before={rng.choice(deep_cursors)}",
        "list, deep page of an application": lambda: (
            f"/?application=app-{rng.randrange(APPLICATIONS)}&before={rng.choice(deep_cursors)}"
        ),
        "list, search by revision (one match)": lambda: (
            f"/?q={revisions[rng.randrange(len(revisions))][5:17]}"
        ),
        "list, search by deployment id": lambda: f"/?q={rng.choice(ids).lower()}",
        "deployment page": lambda: f"/deployments/{rng.choice(ids)}/",
        "application page": lambda: f"/applications/app-{rng.randrange(APPLICATIONS)}/",
        "dashboard (30 days, 80 setups)": lambda: "/dashboard/",
    }
    results = []
    for name, url in cases.items():
        for _ in range(3):  # warm the connection, caches and templates
            client.get(url())
        timings = []
        for _ in range(runs):
            target = url()
            began = time.perf_counter()
            response = client.get(target)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (target, response.status_code)
        results.append((name, statistics.median(timings), percentile(timings, 0.95), runs))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE} database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database")
    args, _ = parser.parse_known_args()

    from tests.support.services import port_open

    if not port_open("127.0.0.1", 5432):
        print("PostgreSQL is not running on 127.0.0.1:5432; start it to run this benchmark.")
        return 1
    reuse = args.reuse and database_exists()
    if not reuse:
        database_create()
    django_setup()
    try:
        if not reuse:
            print(f"loading {DATABASE} ...", flush=True)
            began = time.monotonic()
            counts = load()
            print(
                f"  {counts['deployment']:,} deployments, {counts['delivery']:,} deliveries, "
                f"{counts['deliveryattempt']:,} attempts in {time.monotonic() - began:.0f} s"
            )
        else:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)  # the code may have moved on since
        load_before = os.getloadavg()[0]
        results = time_pages(args.runs)
        load_after = os.getloadavg()[0]
    finally:
        if not args.keep:
            database_drop()
    print(f"\n{'page':40} {'p50 ms':>8} {'p95 ms':>8}  (server time, {args.runs} requests each)")
    print(
        f"(1-minute load average {load_before:.1f} before, {load_after:.1f} after, "
        f"on {os.cpu_count()} CPUs)"
    )
    missed = []
    for name, p50, p95, _ in results:
        flag = "" if p95 <= TARGET_MS else f"  > {TARGET_MS:g} ms target"
        if name.startswith("dashboard"):
            flag = "  (no target: aggregates a month)" if flag else ""
        print(f"{name:40} {p50:8.1f} {p95:8.1f}{flag}")
        if flag and not name.startswith("dashboard"):
            missed.append(name)
    verdict = "met" if not missed else "MISSED for " + ", ".join(missed)
    print(f"\ntarget p95 <= {TARGET_MS:g} ms: {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
