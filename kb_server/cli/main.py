"""The `kb-server` command line."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from kb_server.cli.operator_commands import OPERATOR_COMMANDS, add_operator_commands, run_operator_command
from kb_server.runtime.logging_setup import setup_logging
from kb_server.settings import Settings, WorkerSettings, load_settings

RETRIEVAL_MODES = ("dense", "keyword", "hybrid", "all")


def _common(parser: argparse.ArgumentParser, *, listen: bool) -> None:
    parser.add_argument("--data-dir", type=Path, help="where all data lives (env KB_DATA_DIR; default ./data)")
    parser.add_argument(
        "--config", type=Path, help="a YAML config file layered over configs/default.yaml (env KB_CONFIG)"
    )
    if listen:
        parser.add_argument("--host", help="address to bind (env KB_HOST; default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="port to listen on (env KB_PORT; default 8077)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kb-server",
        description="A local, private knowledge-base server: upload files, search them, ask questions.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser(
        "up", help="start everything: embedded Redis (unless KB_REDIS_URL or KB_BROKER_URL), worker, API"
    )
    _common(up, listen=True)
    api = commands.add_parser(
        "api", help="start only the HTTP API (needs a broker: KB_BROKER_URL, KB_REDIS_URL or a running `up`)"
    )
    _common(api, listen=True)
    worker = commands.add_parser("worker", help="start only an ingestion worker")
    _common(worker, listen=False)
    worker.add_argument(
        "--concurrency",
        type=int,
        help=f"worker pool processes (env KB_WORKER__CONCURRENCY; default {WorkerSettings().concurrency})",
    )
    ask = commands.add_parser("ask", help="ask a running server a question; the answer streams, then its sources")
    _common(ask, listen=True)
    ask.add_argument(
        "--kb",
        action="append",
        help="the knowledge base to ask; repeat it or give a comma list to ask several at once "
        "(required unless --conversation names one)",
    )
    ask.add_argument(
        "--conversation",
        type=int,
        metavar="ID",
        help="ask in this server-side conversation (POST /api/conversations): after its turns, and stored in it",
    )
    ask.add_argument(
        "--no-rewrite",
        action="store_true",
        help="search a follow-up as typed, not rewritten into a standalone question",
    )
    ask.add_argument("--url", help="the server's base URL (default http://HOST:PORT from the settings)")
    ask.add_argument("--top-k", type=int, help="passages to retrieve")
    ask.add_argument("question")
    ev = commands.add_parser(
        "eval",
        help="measure retrieval (--qa: hit@k, MRR, nDCG per mode) or chat answers (--answers) against a QA file",
    )
    _common(ev, listen=True)
    ev.add_argument("--kb", required=True)
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--qa", type=Path, help='retrieval: JSON lines of {"question", "answer"}')
    source.add_argument(
        "--answers",
        type=Path,
        metavar="QA",
        help='answers: JSON lines of {"question", "answer"}, each asked through /api/chat and judged',
    )
    source.add_argument(
        "--dialogues",
        type=Path,
        metavar="FILE",
        help='follow-ups: JSON lines of {"turns": [{"question", "file", "heading"}, …]}; hit@k of turn 1, '
        "and of turn 2 as typed, rewritten with key terms and by the LLM",
    )
    ev.add_argument(
        "--mode",
        choices=[*RETRIEVAL_MODES, "generate", "quote"],
        help="retrieval: dense, keyword, hybrid or all (default); answers: generate or quote (default chat.mode)",
    )
    ev.add_argument("--tokenizer", choices=["auto", "simple"], help="retrieval: keyword tokenizer to evaluate")
    ev.add_argument("--misses", type=Path, help="retrieval: write the questions missed at rank 1 to this CSV")
    ev.add_argument(
        "--negatives",
        "--off-topic",
        dest="negatives",
        metavar="FILE",
        type=Path,
        help='JSON lines of {"question"} the KB cannot answer: how many are refused',
    )
    ev.add_argument("--threshold", type=float, help="refusal threshold (default chat.score_threshold)")
    ev.add_argument(
        "--reference",
        type=Path,
        metavar="QA",
        help='dialogues: JSON lines of {"question", "answer", "file"} holding each turn\'s answer by file and heading',
    )
    ev.add_argument("--limit", type=int, help="answers, dialogues: only the first N of each file")
    ev.add_argument("--csv", type=Path, help="answers, dialogues: write one row per question to this CSV")
    ev.add_argument("--url", help="the server's base URL (default http://HOST:PORT from the settings)")
    add_operator_commands(commands, _common)
    doctor = commands.add_parser("doctor", help="check that the catalog, segments, uploads and the broker agree")
    _common(doctor, listen=False)
    doctor.add_argument("--repair", action="store_true", help="fix what can be fixed; exit 0 if everything was")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_storage(commands)
    models = commands.add_parser("models", help="list the chat model presets: installed, verified, licence, in use")
    _common(models, listen=False)
    models.add_argument("--json", action="store_true", help="print the list as JSON")
    return parser


def _add_storage(commands: argparse._SubParsersAction) -> None:
    storage = commands.add_parser("storage", help="move the stored bytes between the data dir and the database")
    actions = storage.add_subparsers(dest="storage_command", required=True, metavar="ACTION")
    text = (
        "Copy every stored object (uploads, vector segments, keyword blocks) from the data dir into the "
        "PostgreSQL catalog (--to database), or from the catalog into the data dir (--to local). Needs "
        "database_url to be PostgreSQL. Objects already there with the same bytes are skipped, so it is safe "
        "to run again after an interruption. It never deletes the source's objects; once it is done, set "
        "storage.backend (KB_STORAGE__BACKEND) to the target on every host and restart. Run it with the "
        "workers idle: what they write meanwhile is copied by running it again."
    )
    migrate = actions.add_parser("migrate", help="copy every stored object to the other backend", description=text)
    _common(migrate, listen=False)
    migrate.add_argument("--to", required=True, choices=("database", "local"), help="where the objects go")


def _load(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": args.data_dir, "host": getattr(args, "host", None), "port": getattr(args, "port", None)}
    settings = load_settings(args.config, **overrides)
    if getattr(args, "concurrency", None):
        settings.worker.concurrency = args.concurrency
    return settings


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`kb-server models | head`): not an error worth a traceback. Point
        # stdout at /dev/null so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _load(args)
    except (ValidationError, FileNotFoundError) as exc:
        print(f"kb-server: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    if args.command in ("ask", "eval", "doctor", "models", "storage", *OPERATOR_COMMANDS):
        settings.log_level = "WARNING"
    setup_logging(settings.log_level, settings.log_format)
    if args.command == "up":
        from kb_server.runtime.supervisor import run_up

        return run_up(settings, args.config)
    if args.command == "api":
        return _run_api(settings)
    if args.command == "worker":
        return _run_worker(settings)
    if args.command == "ask":
        from kb_server.cli.ask import ask
        from kb_server.cli.search import kb_names

        if not args.kb and args.conversation is None:
            print("kb-server: ask needs --kb or --conversation", file=sys.stderr)
            return 2
        return ask(
            args.url or _local_url(settings),
            kb_names(args.kb or []),
            args.question,
            args.top_k,
            conversation_id=args.conversation,
            rewrite=not args.no_rewrite,
        )
    if args.command == "eval":
        return _run_eval(args, settings)
    if args.command == "doctor":
        from kb_server.cli.doctor import doctor_main

        return doctor_main(settings, repair=args.repair, as_json=args.json)
    if args.command == "storage":
        from kb_server.cli.storage_migrate import storage_migrate_main

        return storage_migrate_main(settings, to=args.to)
    if args.command == "models":
        from kb_server.cli.models import models_main

        return models_main(settings, as_json=args.json)
    if args.command in OPERATOR_COMMANDS:
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        return run_operator_command(args, args.url or _local_url(settings), api_key)
    return 2


def _run_eval(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url or _local_url(settings)
    if args.answers is not None:
        from kb_server.cli.eval_answers import run_answer_eval

        if args.mode in RETRIEVAL_MODES or args.tokenizer or args.misses:
            print(
                "kb-server: --answers takes --mode generate|quote; --tokenizer and --misses are for --qa",
                file=sys.stderr,
            )
            return 2
        return run_answer_eval(
            url,
            args.kb,
            args.answers,
            args.negatives,
            mode=args.mode,
            limit=args.limit,
            csv_path=args.csv,
            threshold=args.threshold,
        )
    if args.dialogues is not None:
        from kb_server.cli.eval_dialogues import run_dialogue_eval

        if args.mode or args.tokenizer or args.misses or args.negatives:
            print("kb-server: --dialogues takes --reference, --limit and --csv only", file=sys.stderr)
            return 2
        return run_dialogue_eval(url, args.kb, args.dialogues, args.reference, limit=args.limit, csv_path=args.csv)
    from kb_server.cli.eval import run_eval

    if args.mode in ("generate", "quote") or args.csv or args.limit is not None:
        print("kb-server: --mode generate|quote, --csv and --limit are for --answers", file=sys.stderr)
        return 2
    modes = ["dense", "keyword", "hybrid"] if args.mode in (None, "all") else [args.mode]
    threshold = settings.chat.score_threshold if args.threshold is None else args.threshold
    return run_eval(url, args.kb, args.qa, modes, args.tokenizer, args.misses, args.negatives, threshold)


def _local_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def _run_api(settings: Settings) -> int:
    import uvicorn

    from kb_server.api.app import create_app
    from kb_server.runtime.container import BrokerNotConfigured, build_services

    # Parsers and caches write temp files: keep them inside the data dir, never in a shared /tmp.
    tmp = settings.data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    from vectorstore import VectorStoreError

    try:
        services = build_services(settings)
    except (BrokerNotConfigured, VectorStoreError) as exc:  # no broker; a model that cannot be loaded
        print(f"kb-server: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        uvicorn.run(
            create_app(settings, services),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=5,
        )
    finally:
        services.close()
    return 0


def _run_worker(settings: Settings) -> int:
    from kb_server.runtime.container import BrokerNotConfigured, resolve_broker_url, worker_config
    from kb_server.runtime.paths import DataPaths

    paths = DataPaths(settings.data_dir)
    paths.ensure()
    try:
        broker_url = resolve_broker_url(settings, paths)
    except BrokerNotConfigured as exc:
        print(f"kb-server: {exc}", file=sys.stderr)
        return 2
    from ingestion.worker import run_worker

    run_worker(worker_config(settings, broker_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
