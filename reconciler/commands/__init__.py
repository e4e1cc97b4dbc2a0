"""One module per command: `add_parser(subparsers)` declares it, `run(args, session)` runs it.

`run` returns an `Outcome` and raises `ReconcilerError` for anything the user can act on;
the CLI boundary alone turns outcomes and errors into exit codes and messages.
"""
