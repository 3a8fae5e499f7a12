"""Benchmark: the public help centre, cached and not (issue 18 acceptance 2: p95 < 50 ms cached).

    .venv/bin/python tests/load/help_centre.py [--categories 10] [--articles 50] [--runs 200]

In a throwaway database `conversa_bench_help`: one company with `--categories` categories of
`--articles` published public articles each (about 2 KB of Markdown apiece, a few internal and draft
ones among them). Through the whole middleware stack (Django's test client on the company's host,
anonymous visitor), for the home page, a category, an article and the sitemap: the first (uncached)
answer, then p50/p95/p99 of `--runs` cached answers, the SQL queries of one cached answer, and the
page's size. Then the same article right after an edit (the cache dropped) and the cost of one
periodic flush of the counted views.
"""

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import _common
from _common import say

WORDS = ("pedido envío devolución factura contraseña cuenta pago tarjeta entrega plazo cambio "
         "reembolso soporte horario tienda producto garantía").split()


def markdown(rng: random.Random, n: int) -> str:
    paragraphs = []
    for p in range(6):
        words = " ".join(rng.choice(WORDS) for _ in range(45))
        paragraphs.append(f"## Paso {p + 1}\n\n{words} **{rng.choice(WORDS)}** [link](https://example.com/{n}).")
    paragraphs.append("| a | b |\n|---|---|\n| 1 | 2 |")
    return "\n\n".join(paragraphs)


def populate(company, *, categories: int, articles: int) -> list:
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.knowledge.services import article_create, category_create

    rng = random.Random(18)
    created = []
    with schema_context(company.schema_name):
        admin = User.objects.get(role="admin")
        for c in range(categories):
            category = category_create(actor=admin, name=f"Categoría {c}", description=f"Temas {c}")
            for a in range(articles):
                status, visibility = "published", "public"
                if a % 10 == 8:
                    visibility = "internal"
                elif a % 10 == 9:
                    status = "draft"
                created.append(article_create(
                    actor=admin, category_id=category.pk, title=f"Artículo {c}-{a} {rng.choice(WORDS)}",
                    body=markdown(rng, a), status=status, visibility=visibility,
                ))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after a bulk of writes
    return created


def timed(client, path: str, runs: int) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        connection.set_schema_to_public()
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    connection.set_schema_to_public()
    return times, len(queries), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", type=int, default=10)
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of a rare search")
    _common.add_db_arguments(parser, default_db="conversa_bench_help")
    args = parser.parse_args()

    _common.prepare_database(args.server, args.db, keep=False)
    _common.configure_environment(args.server, args.db)
    static_root = Path(tempfile.mkdtemp(prefix="conversa-bench-static-", dir="/tmp"))
    tag = _common.live_environment(HUEY_IMMEDIATE="true", STATIC_ROOT=str(static_root))
    _common.setup_django(migrate=True)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.knowledge import counters, selectors
    from apps.knowledge.services import article_update

    call_command("collectstatic", interactive=False, verbosity=0)
    try:
        company = _common.bench_company("help")
        started = time.perf_counter()
        articles = populate(company, categories=args.categories, articles=args.articles)
        say(f"company {company.slug}: {len(articles)} articles in {args.categories} categories "
            f"(written in {time.perf_counter() - started:.1f} s)")
        public = [a for a in articles if a.is_on_help_centre]
        article = public[len(public) // 2]
        host = f"{company.slug}.localhost"
        client = Client(HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="es")
        pages = [
            ("home", "/help/"),
            ("category", f"/help/{article.category.slug}/"),
            ("article", f"/help/{article.category.slug}/{article.slug}"),
            ("sitemap", "/help/sitemap.xml"),
        ]
        _common.check_machine_idle()
        say("")
        say(f"{'page':<10} {'first':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'SQL':>4} {'bytes':>8}")
        for name, path in pages:
            first, _, _ = timed(client, path, 1)
            times, queries, size = timed(client, path, args.runs)
            pct = _common.percentile
            say(f"{name:<10} {first[0]:>5.1f} ms {pct(times, 50):>5.1f} ms {pct(times, 95):>5.1f} ms "
                f"{pct(times, 99):>5.1f} ms {queries:>4} {size:>8}")
        for label, q in (("search rare", "articulo 3-17"), ("search all", "devolucion")):
            search, queries, _ = timed(client, f"/help/search?q={q}", 50)
            say(f"{label:<12}{'':>6} {_common.percentile(search, 50):>5.1f} ms "
                f"{_common.percentile(search, 95):>5.1f} ms {_common.percentile(search, 99):>5.1f} ms "
                f"{queries:>4}   (not cached; accent-free {q!r})")

        with schema_context(company.schema_name):
            if args.explain:
                say(selectors.help_search("articulo 3-17")[:30].explain(analyze=True))
            admin = User.objects.get(role="admin")
            article_update(actor=admin, article=article, body=article.body + "\n\nEditado.")
        path = f"/help/{article.category.slug}/{article.slug}"
        after_edit, _, _ = timed(client, path, 1)
        body = client.get(path).content.decode()
        connection.set_schema_to_public()
        say(f"after an edit: first answer {after_edit[0]:.1f} ms, shows the edit: {'Editado.' in body}")

        with schema_context(company.schema_name):
            pending = counters.pending_views(article.pk)
            started = time.perf_counter()
            flushed = counters.views_flush()
            say(f"views counted in Redis: {flushed} (this article {pending}), flushed in "
                f"{(time.perf_counter() - started) * 1000:.1f} ms")
        say("")
        say(f"{args.runs} cached answers per page after the first; Django test client through every "
            f"middleware (tenant from Host, plan, CSP nonce put back), anonymous visitor, language es")
    finally:
        _common.flush_redis(tag)
        shutil.rmtree(static_root, ignore_errors=True)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
