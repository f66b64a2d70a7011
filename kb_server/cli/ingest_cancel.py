"""What `kb-server ingest` does with the files it queued when it is interrupted (Ctrl-C).

On a terminal it asks whether to cancel them; otherwise (a script, CI) it cancels nothing and
prints the command that would. Files that settled meanwhile are left as they are.
"""

from __future__ import annotations

from typing import TextIO

from kb_server.cli.api_client import ApiClient, ClientError
from kb_server.cli.terminal import is_tty

REASON = "cancelled from kb-server ingest (interrupted)"


def cancel_command(client: ApiClient, kb: str, file_ids: list[int]) -> str:
    return f"kb-server files cancel --kb {kb} --url {client.base_url} " + " ".join(str(i) for i in file_ids)


def offer_cancel(client: ApiClient, kb: str, file_ids: list[int], err: TextIO, stdin: TextIO) -> int:
    """Ask (on a terminal) whether to cancel `file_ids`; returns how many were cancelled."""
    if not file_ids:
        return 0
    many = f"{len(file_ids)} file{'' if len(file_ids) == 1 else 's'}"
    if not (is_tty(stdin) and is_tty(err)):
        print(f"kb-server: {many} queued by this run are still being ingested; to cancel them:", file=err)
        print(f"  {cancel_command(client, kb, file_ids)}", file=err)
        return 0
    err.write(f"Cancel the {many} this run queued that are not ingested yet? [y/N] ")
    err.flush()
    try:
        answer = stdin.readline().strip().lower()
    except (KeyboardInterrupt, EOFError):
        answer = ""
    if answer not in ("y", "yes"):
        print("kb-server: not cancelled; the server goes on ingesting them. To cancel them later:", file=err)
        print(f"  {cancel_command(client, kb, file_ids)}", file=err)
        return 0
    try:
        cancelled = len(client.cancel_pending(kb, REASON, file_ids))
    except ClientError as exc:
        print(f"kb-server: not cancelled: {exc}", file=err)
        return 0
    print(f"kb-server: cancelled {cancelled} of {many}; run the same command again to ingest them after all", file=err)
    return cancelled
