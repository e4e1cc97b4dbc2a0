"""`reconciler agent`: reconcile continuously, for a server, a container or a systemd unit."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.errors import UsageError


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="reconcile continuously: fetch, apply what merged and what falls due, serve /metrics",
        description=(
            "Keep this clone at the tip of its branch, apply what merged, and apply each scheduled change "
            "within seconds of its instant. Several agents on one shared store are safe: one applies, the "
            "others stand by. SIGTERM finishes the batch in flight, releases the lease and exits 0."
        ),
    )
    parser.add_argument("--remote", default="origin", help="the remote to fetch from (default: origin)")
    parser.add_argument("--branch", help="the branch to follow (default: the one checked out)")
    parser.add_argument(
        "--no-fetch", action="store_true", help="reconcile the checkout as it is; something else updates it",
    )
    parser.add_argument(
        "--interval", type=_seconds, default=60.0, metavar="SECONDS",
        help="fetch and re-check this often (default 60); scheduled changes wake the agent on time regardless",
    )
    parser.add_argument(
        "--listen", type=_address, default=("127.0.0.1", 9464), metavar="HOST:PORT",
        help="serve /metrics and /healthz here (default 127.0.0.1:9464; port 0 picks a free one)",
    )
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="one line per event: text or json")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    # Imported here: every command builds the parser, and only this one needs the agent
    # (prometheus_client and its asyncio cost every other command 40 ms).
    from reconciler.agent.events import EventLog
    from reconciler.agent.loop import Agent, AgentOptions
    from reconciler.agent.metrics import AgentMetrics, Health, serve
    from reconciler.agent.repository import Tracked

    # The command line runs a command with the collector off, for what it builds lives until
    # it ends (`cli.command_line`). The agent's cycles leave their plans behind: on again.
    gc.enable()
    if args.no_fetch and args.branch:
        raise UsageError("--branch names what to fetch; it means nothing with --no-fetch")
    tracked = None if args.no_fetch else Tracked.of(session.root, args.remote, args.branch)
    session.settings()  # a broken reconciler.toml is an error now, not a log line a minute later
    interval = dt.timedelta(seconds=args.interval)
    log = EventLog(session.stderr, args.log_format, session.world.clock)
    metrics = AgentMetrics()
    health = Health(session.world.clock, allowance=2 * interval + dt.timedelta(minutes=5))
    stop = threading.Event()
    host, port = args.listen
    try:
        server = serve(host, port, metrics, health)
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    log("listening", f"metrics on http://{host}:{server.server_port}/metrics, health on /healthz",
        port=server.server_port)

    def request_stop(number: int) -> None:
        log("stopping", f"{signal.Signals(number).name}: finishing the batch in flight")
        stop.set()

    try:
        with _signals_to(request_stop, (signal.SIGTERM, signal.SIGINT)):
            Agent(
                session, AgentOptions(tracked, interval),
                log=log, metrics=metrics, health=health, stop=stop, wait=stop.wait,
            ).run()
    finally:
        server.shutdown()
        server.server_close()
    return Outcome.DONE


@contextlib.contextmanager
def _signals_to(act: Callable[[int], None], numbers: tuple[signal.Signals, ...]) -> Iterator[None]:
    """While inside, each of the signals NUMBERS calls ACT(number) from a thread of its own.

    Not from the signal handler: a handler runs in the main thread between any two of its
    steps, perhaps while that thread holds the lock inside `threading.Event.wait` or the
    one of a stream, and taking the same lock there (`Event.set`, a log line) would hang
    the agent or break its output. The handler does nothing; Python writes the signal's
    number to the wakeup socket, and the thread here acts on it."""
    receiving, sending = socket.socketpair()
    sending.setblocking(False)
    previous_fd = signal.set_wakeup_fd(sending.fileno(), warn_on_full_buffer=False)
    previous = {number: signal.signal(number, lambda number, frame: None) for number in numbers}

    def watch() -> None:
        while received := receiving.recv(64):  # empty once `sending` is closed
            for number in received:
                if number in numbers:
                    act(number)

    watcher = threading.Thread(target=watch, name="signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(previous_fd)
        sending.close()
        watcher.join()
        receiving.close()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text} seconds is out of range: give 1 to 86400")
    return value


def _address(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]"), int(port)
