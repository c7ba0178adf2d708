# Oracle for tests/regex_cli.rs: runs the real fail2ban-regex entry point in-process once
# per argument list (one Python start for many runs). Reads a JSON list of argument lists
# on stdin; writes a JSON list of {"out": stdout text, "code": exit status}.
import contextlib, io, json, logging, sys

sys.argv[0] = "/usr/bin/fail2ban-regex"
from fail2ban.client import fail2banregex

jobs = json.load(sys.stdin)
results = []
logger = logging.getLogger("fail2ban")
for argv in jobs:
    buf = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buf):
        try:
            fail2banregex.exec_command_line(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except Exception:
            # an uncaught error: the real command prints a traceback and exits 1
            code = 1
    # each run adds its own stdout handler to the fail2ban logger: drop it again
    for h in list(logger.handlers):
        logger.removeHandler(h)
    results.append({"out": buf.getvalue(), "code": code})
json.dump(results, sys.stdout)
