"""The operator commands of `kb-server`, clients of a running server: `ingest`, `sync`, `kb`, `files`,
`search`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from vectorstore.settings import Preset

OPERATOR_COMMANDS = ("ingest", "sync", "kb", "files", "search")
EMBEDDING_PRESETS = get_args(Preset)
URL_HELP = "the server's base URL (default http://HOST:PORT from the settings)"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_operator_commands(commands: Any, common: Callable[..., None]) -> None:
    """Add the subcommands to `commands` (argparse subparsers); `common` adds the settings options."""

    def client_parser(parent: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        common(parser, listen=True)
        parser.add_argument("--url", help=URL_HELP)
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return parser

    ingest = client_parser(
        commands,
        "ingest",
        "upload files and directories to a running server, or have it fetch web pages (--page), and follow "
        "them until ingested",
    )
    ingest.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files, or directories to walk")
    ingest.add_argument("--kb", required=True, help="the knowledge base to add them to")
    ingest.add_argument("-r", "--recursive", action="store_true", help="walk subdirectories too")
    ingest.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only files whose path relative to the directory given matches (fnmatch; repeatable)",
    )
    ingest.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip files whose relative path matches"
    )
    ingest.add_argument("--create", action="store_true", help="create the knowledge base if it does not exist")
    ingest.add_argument("--batch", type=_positive, default=20, metavar="N", help="files per upload request (20)")
    ingest.add_argument(
        "--on-existing-name",
        choices=("replace", "keep_both"),
        default="replace",
        help="a file whose name is already in the KB (other bytes): send it as that document's next version "
        "(replace, the default) or as another document (keep_both). Files of one name in this run are kept apart",
    )
    web = ingest.add_argument_group("web pages (fetched by the server; --url names the server)")
    web.add_argument(
        "--page", action="append", default=[], metavar="URL", help="a web page to fetch into the KB (repeatable)"
    )
    web.add_argument("--depth", type=int, default=0, metavar="N", help="follow same-host links N steps (0)")
    web.add_argument("--max-pages", type=_positive, default=50, metavar="N", help="pages for the whole request (50)")
    web.add_argument("--sitemap", action="store_true", help="read each site's sitemap.xml for its pages")
    web.add_argument(
        "--refresh-s",
        type=int,
        metavar="S",
        help="the server fetches the pages again every S seconds (at least its urls.min_refresh_s, 60) and ingests "
        "only those that changed, as new versions; 0: never (default: the server's urls.refresh_s, off)",
    )

    _add_sync(commands, client_parser)

    kb = commands.add_parser("kb", help="list, create or delete the knowledge bases of a running server")
    kb_actions = kb.add_subparsers(dest="action", required=True, metavar="ACTION")
    client_parser(kb_actions, "ls", "list the knowledge bases with their file and chunk counts")
    create = client_parser(kb_actions, "create", "create a knowledge base")
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.add_argument(
        "--preset",
        choices=EMBEDDING_PRESETS,
        help="the embedder it is built and searched with, for good (default: the server's embedding.preset); "
        "minilm: English, fast; multilingual: Chinese and ~100 languages",
    )
    reembed = client_parser(
        kb_actions,
        "reembed",
        "re-embed a knowledge base with another preset, in the background: search uses the old embedder until "
        "every file is done, then the new one",
    )
    reembed.add_argument("name")
    reembed.add_argument("--preset", required=True, choices=EMBEDDING_PRESETS, help="the embedder to move it to")
    reembed.add_argument("--wait", action="store_true", help="show progress until it is done (exit 1 if it fails)")
    rm = client_parser(kb_actions, "rm", "delete a knowledge base with all its files, chunks and vectors")
    rm.add_argument("name")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    files = commands.add_parser("files", help="the files of a knowledge base on a running server")
    files_actions = files.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = client_parser(files_actions, "ls", "list a knowledge base's files with their ingestion status")
    ls.add_argument("--kb", required=True)
    ls.add_argument(
        "--status", choices=["queued", "processing", "done", "failed", "cancelled"], help="only files in this status"
    )
    cancel = client_parser(
        files_actions,
        "cancel",
        "cancel the ingestion of queued or processing files: they end `cancelled`, with no chunks or vectors",
    )
    cancel.add_argument("--kb", required=True)
    cancel.add_argument("file_ids", nargs="*", type=int, metavar="FILE_ID", help="the files to cancel")
    cancel.add_argument("--all", action="store_true", help="every queued or processing file of the KB")
    cancel.add_argument("--reason", help="shown as the files' error (default: cancelled on request)")

    search = client_parser(commands, "search", "the best passages of one knowledge base or several, with their scores")
    search.add_argument(
        "--kb",
        required=True,
        action="append",
        help="the knowledge base to search; repeat it or give a comma list to search several (results fused on score)",
    )
    search.add_argument("--top-k", type=_positive, default=5, metavar="N", help="results in all (5)")
    search.add_argument("--mode", choices=["dense", "keyword", "hybrid"], help="retriever (default search.mode)")
    search.add_argument("query")


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError("must be between 0 and 60")
    return value


def _add_sync(commands: Any, client_parser: Callable[..., argparse.ArgumentParser]) -> None:
    sync = client_parser(
        commands,
        "sync",
        "keep a knowledge base in step with a folder: send new files, changed ones as new versions, "
        "delete vanished ones (--delete); --watch follows the folder until Ctrl-C",
    )
    sync.epilog = (
        "Files are named in the KB by their path relative to DIR (notes/a.md); hidden and temporary files "
        "(~$x.docx, .swp, .part, …) and unsupported types are left out. A file whose bytes the KB already "
        "has under its name is not sent again, so an interrupted sync is resumed by running it again. "
        "--delete makes the folder the source of truth: every KB file whose name is not in it (within "
        "subfolders only with --recursive) is deleted, except pages fetched from a URL."
    )
    sync.add_argument("directory", type=Path, metavar="DIR", help="the folder to sync")
    sync.add_argument("--kb", required=True, help="the knowledge base to keep in step with it")
    sync.add_argument("-r", "--recursive", action="store_true", help="subfolders too (names keep their path)")
    sync.add_argument("--delete", action="store_true", help="delete KB files whose file left the folder")
    sync.add_argument("--watch", action="store_true", help="then follow the folder's changes until Ctrl-C")
    sync.add_argument(
        "--debounce",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="--watch: send a changed file once it has been quiet this long (1)",
    )
    sync.add_argument("--create", action="store_true", help="create the knowledge base if it does not exist")
    sync.add_argument("--batch", type=_positive, default=20, metavar="N", help="files per upload request (20)")


def run_operator_command(args: argparse.Namespace, base_url: str, api_key: str | None) -> int:
    from kb_server.cli import admin_commands
    from kb_server.cli.api_client import ApiClient

    with ApiClient(base_url, api_key) as client:
        if args.command == "ingest" and args.page:
            from kb_server.cli.ingest_web import PageOptions, run_ingest_pages

            if args.paths:
                print("kb-server: give files or --page URLs, not both", file=sys.stderr)
                return 2
            pages = PageOptions(
                args.kb, args.page, args.depth, args.max_pages, args.sitemap, args.create, args.json, args.refresh_s
            )
            return run_ingest_pages(client, pages)
        if args.command == "ingest":
            from kb_server.cli.ingest import IngestOptions, run_ingest

            if not args.paths:
                print("kb-server: give files or directories to ingest, or --page URL", file=sys.stderr)
                return 2

            options = IngestOptions(
                kb=args.kb,
                paths=args.paths,
                recursive=args.recursive,
                include=args.include,
                exclude=args.exclude,
                create=args.create,
                batch=args.batch,
                as_json=args.json,
                on_existing_name=args.on_existing_name,
            )
            return run_ingest(client, options)
        if args.command == "sync":
            from kb_server.cli.sync import SyncOptions, run_sync

            sync = SyncOptions(
                kb=args.kb,
                directory=args.directory,
                recursive=args.recursive,
                delete=args.delete,
                watch=args.watch,
                create=args.create,
                batch=args.batch,
                debounce_s=args.debounce,
                as_json=args.json,
            )
            return run_sync(client, sync)
        if args.command == "kb" and args.action == "ls":
            return admin_commands.guarded(lambda: admin_commands.list_kbs(client, args.json))
        if args.command == "kb" and args.action == "create":
            return admin_commands.guarded(
                lambda: admin_commands.create_kb(client, args.name, args.description, args.json, args.preset)
            )
        if args.command == "kb" and args.action == "reembed":
            from kb_server.cli.reembed import reembed_kb

            return admin_commands.guarded(lambda: reembed_kb(client, args.name, args.preset, args.wait, args.json))
        if args.command == "kb" and args.action == "rm":
            return admin_commands.guarded(lambda: admin_commands.delete_kb(client, args.name, args.yes, args.json))
        if args.command == "files" and args.action == "ls":
            return admin_commands.guarded(lambda: admin_commands.list_files(client, args.kb, args.status, args.json))
        if args.command == "files" and args.action == "cancel":
            return admin_commands.guarded(
                lambda: admin_commands.cancel_files(client, args.kb, args.file_ids, args.all, args.reason, args.json)
            )
        if args.command == "search":
            from kb_server.cli.search import kb_names, run_search

            names = kb_names(args.kb)
            return admin_commands.guarded(
                lambda: run_search(client, names, args.query, args.top_k, args.mode, args.json)
            )
    return 2
