"""The engineer's tools behind ``agikit call``, ``replay``, ``load`` and ``commands``.

- :mod:`~agikit.tools.call`: act as Asterisk for one call against a running FastAGI server and
  print the exchange, like ``curl -v``;
- :mod:`~agikit.tools.replay`: replay a recorded call (a transcript, or Asterisk's AGI debug
  log) against an app and show where it diverges;
- :mod:`~agikit.tools.load`: many concurrent calls against a FastAGI server, with a progress
  bar and a latency summary (asyncio, standard library only);
- :mod:`~agikit.tools.commands`: the AGI commands agikit knows, with dead-channel support.

Each module has a ``main(args)`` taking the parsed command line (see :mod:`agikit.cli`) and
returning the exit status. They are imported only when their command runs.
"""
