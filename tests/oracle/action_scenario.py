# Oracle for tests/server_actions_scenario.rs: runs a scenario with fail2ban's own
# Actions / CommandAction, executing the commands for real. Input (stdin, JSON):
# {"actions": [[name, [[key, value], ...]], ...], "steps": [[op, arg], ...]} with ops
# start | ban ip | unban ip | flush | stop | check | touch path | rm path.
# Output: the log records of fail2ban.actions and fail2ban.CommandAction (>= INFO) as
# JSON [[level, message], ...].
import json, os, sys, logging
from fail2ban.server.actions import Actions
from fail2ban.server.action import CommandAction
from fail2ban.server.ipdns import DNSUtils

req = json.loads(sys.stdin.read())
DNSUtils.setIPv6IsAllowed(True)

records = []
class H(logging.Handler):
    def emit(self, r):
        records.append([r.levelname, r.getMessage()])
root = logging.getLogger("fail2ban")
root.setLevel(logging.INFO)
root.addHandler(H())
root.propagate = False
for name in ("fail2ban.utils", "fail2ban.action"):
    logging.getLogger(name).setLevel(logging.CRITICAL + 1)

class FM:
    def size(self): return 0
    def getFailTotal(self): return 0
class FF:
    failManager = FM()
class FakeJail:
    database = None
    filter = FF()
    def __init__(self, name):
        self.name = name
        self.actions = Actions(self)
    def __repr__(self):
        return "Jail(%r)" % self.name

jail = FakeJail("test")
acts = jail.actions
for name, props in req["actions"]:
    acts.add(name)
    for k, v in props:
        setattr(acts[name], k, v)

for op, arg in req["steps"]:
    if op == "start":
        for name, action in acts._actions.items():
            try:
                action.start()
            except Exception as e:
                logging.getLogger("fail2ban.actions").error(
                    "Failed to start jail '%s' action '%s': %s", jail.name, name, e)
    elif op == "ban":
        acts.addBannedIP(arg)
    elif op == "unban":
        acts.removeBannedIP(arg)
    elif op == "flush":
        acts._Actions__flushBan(stop=True)
    elif op == "check":
        for action in acts._actions.values():
            action.consistencyCheck()
    elif op == "stop":
        acts.stopActions()
    elif op == "touch":
        open(arg, "a").close()
    elif op == "rm":
        os.remove(arg)
print(json.dumps(records))
