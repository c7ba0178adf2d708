# Oracle for tests/server_actions_stock.rs: reads one JSON request on stdin
# {"confdir", "time", "tickets": [{ip, time, failures, matches, data}]}, builds every
# enabled jail's command actions from fail2ban's own config reader and stream, runs a
# fixed operation sequence with fail2ban's CommandAction while recording (not running)
# the commands, and prints {jail: {action: [[op, [script, args...]], ...]}} as JSON.
import json, sys, logging
logging.disable(logging.CRITICAL)
from fail2ban.client.configurator import Configurator
from fail2ban.server.action import CommandAction
from fail2ban.server.actions import Actions
from fail2ban.server.ticket import BanTicket
from fail2ban.server.mytime import MyTime

req = json.loads(sys.stdin.read())
MyTime.setTime(req["time"])

conf = Configurator()
conf.setBaseDir(req["confdir"])
conf.readEarly()
conf.readAll()
conf.getOptions(None)
conf.convertToProtocol(allow_no_files=True)
stream = conf.getConfigStream()

record = []
def fake_exec(realCmd, timeout=60, **kw):
    if not realCmd:
        return True
    record.append(realCmd if isinstance(realCmd, list) else [realCmd])
    return True
CommandAction.executeCmd = staticmethod(fake_exec)

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

jails = {}
for cmd in stream:
    if cmd[0] == "set" and len(cmd) >= 4 and cmd[2] == "addaction":
        j = jails.setdefault(cmd[1], (FakeJail(cmd[1]), {}))
        j[1][cmd[3]] = CommandAction(j[0], cmd[3])
    elif cmd[0] == "multi-set" and len(cmd) >= 5 and cmd[2] == "action":
        act = jails[cmd[1]][1][cmd[3]]
        for k, v in cmd[4]:
            setattr(act, k, v)
    elif cmd[0] == "set" and len(cmd) >= 6 and cmd[2] == "action":
        setattr(jails[cmd[1]][1][cmd[3]], cmd[4], cmd[5])

def ticket(t):
    bt = BanTicket(t["ip"], t["time"])
    bt.setAttempt(t["failures"])
    bt.setMatches(t["matches"])
    for k, v in t["data"].items():
        bt.setData(k, v)
    return bt

out = {}
for jname, (jail, acts) in jails.items():
    out[jname] = {}
    tickets = [ticket(t) for t in req["tickets"]]
    for aname, act in acts.items():
        res = []
        def step(op, fn, *a):
            del record[:]
            try:
                fn(*a)
                res.append([op, list(record)])
            except Exception as e:
                res.append([op + " error", list(record)])
        infos = [jail.actions._getActionInfo(t) for t in tickets]
        step("start", act.start)
        for i, ai in enumerate(infos):
            step("ban%d" % i, act.ban, ai)
        step("check", act.consistencyCheck)
        for i, ai in enumerate(infos):
            step("unban%d" % i, act.unban, jail.actions._getActionInfo(tickets[i]))
        step("reban0", act.ban, jail.actions._getActionInfo(tickets[0]))
        def flush():
            if act.actionflush:
                if act.flush():
                    return
            act.unban(jail.actions._getActionInfo(tickets[0]))
        step("flush", flush)
        step("stop", act.stop)
        out[jname][aname] = res
print(json.dumps(out))
