from reconciler.cli import command_line

command_line()
