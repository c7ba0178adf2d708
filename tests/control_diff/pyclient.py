# Runs the real fail2ban-client (Debian's Python module) for many command lines in one
# process, so a long differential script does not pay Python's start-up per command.
# Protocol: one JSON list of arguments per input line; one JSON object
# {"out", "err", "code"} per output line, code as the fail2ban-client process would exit.
# The script lives beside a `fail2ban-server` (the client starts the server found in the
# directory of the running script).
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.argv[0] = os.path.join(HERE, "fail2ban-client")

from fail2ban.client.fail2banclient import Fail2banClient  # noqa: E402
from fail2ban.helpers import getLogger  # noqa: E402

# Answers go to a private copy of stdout; fds 1 and 2 become /dev/null so a server the
# client forks never writes into (or holds open) the answer pipe.
answers = os.fdopen(os.dup(1), "w")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
os.dup2(null, 2)
log = getLogger("fail2ban")

while True:
    line = sys.stdin.readline()
    if not line:
        break
    argv = [sys.argv[0]] + json.loads(line)
    out, err = io.StringIO(), io.StringIO()
    # Each client instance adds its own stderr handler: keep only the new one.
    for h in list(log.handlers):
        log.removeHandler(h)
    sys.stdout, sys.stderr = out, err
    try:
        code = 0 if Fail2banClient().start(argv) else 255
        # what the client's exit() logs before the process ends
        log.debug("Exit with code %s", code)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 255
    except Exception as e:  # a crash of the client itself: report it as output
        err.write("DRIVER EXCEPTION: %r\n" % (e,))
        code = -1
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    answers.write(json.dumps({"out": out.getvalue(), "err": err.getvalue(), "code": code}) + "\n")
    answers.flush()
