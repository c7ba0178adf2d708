# Oracle for tests/control_beautify.rs: each stdin line is a JSON request
# {"cmd": [words], "resp": "<python literal>"} or {"cmd": [...], "exc": [module, class,
# "<args literal>"]}; each answer line is JSON [printed text, beautifier-warned flag],
# from fail2ban's own client Beautifier.
import ast, importlib, json, logging, sys
from fail2ban.client.beautifier import Beautifier

warned = []
class Catch(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warned.append(record)
log = logging.getLogger("fail2ban.beautifier")
log.addHandler(Catch())
log.propagate = False

for line in sys.stdin:
    req = json.loads(line)
    b = Beautifier(req["cmd"])
    warned.clear()
    if "exc" in req:
        mod, name, args = req["exc"]
        cls = getattr(importlib.import_module(mod), name)
        out = b.beautifyError(cls(*ast.literal_eval(args)))
    else:
        out = b.beautify(ast.literal_eval(req["resp"]))
    print(json.dumps([str(out), bool(warned)]), flush=True)
