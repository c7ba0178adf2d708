# Oracle for tests/server_banlogic.rs: drives fail2ban's own FailManager/Filter,
# BanManager, observer (bad ids, ban time increment), ignore list and MyTime texts
# with the sequences given as JSON requests on stdin (one per line) and prints what
# they did as JSON (one line per request).
import json, sys, logging, random, types

from fail2ban.server.mytime import MyTime
from fail2ban.server.ticket import FailTicket, BanTicket
from fail2ban.server.banmanager import BanManager
from fail2ban.server.filter import Filter
from fail2ban.server.ipdns import IPAddr
from fail2ban.server.jail import Jail
from fail2ban.server.observer import ObserverThread
from fail2ban.helpers import extractOptions
from fail2ban.tests.dummyjail import DummyJail
import fail2ban.server.jail as jailmod

class Capture(logging.Handler):
    def __init__(self):
        logging.Handler.__init__(self)
        self.lines = []
    def emit(self, rec):
        self.lines.append(rec.getMessage())

cap = Capture()
root = logging.getLogger("fail2ban")
root.addHandler(cap)
root.setLevel(logging.DEBUG)
root.propagate = False

def tinfo(t):
    d = t.getData()
    return {"fid": str(t.getID()), "time": t.getTime(), "failures": t.getAttempt(),
            "retry": float(t.getRetry()), "matches": t.getMatches(),
            "bancount": t.getBanCount(),
            "data": {k: str(v) for k, v in d.items() if k not in ("matches", "failures")}}

class FakeDB:
    def __init__(self):
        self.rows = {}
    def getBan(self, ip, jail=None, overalljails=None):
        r = self.rows.get(str(ip))
        return [r] if r else []

def fail(req):
    jail = DummyJail()
    flt = Filter(jail)
    fm = flt.failManager
    fm.setMaxRetry(req["maxretry"]); fm.setMaxTime(req["findtime"]); fm.maxMatches = req["maxmatches"]
    db = FakeDB()
    fake = types.SimpleNamespace(name="test", filter=flt, database=db,
        isAlive=lambda: True, getBanTimeExtra=lambda opt=None: True)
    steps = []
    for ev in req["events"]:
        MyTime.setTime(ev["now"])
        if ev.get("svc"):
            flt.performSvc()
        tick = FailTicket(ev["fid"], ev["t"], matches=list(ev.get("matches", [])),
                          data=dict(ev.get("data", {})))
        cap.lines = []
        attempts = fm.addFailure(tick, ev.get("count", 1))
        if attempts >= fm.getMaxRetry():
            flt.performBan(IPAddr(ev["fid"]))
        if "bad" in ev:
            b = ev["bad"]
            db.rows[ev["fid"]] = (b[0], b[1], 600)
            ObserverThread.failureFound(None, fake, tick)
        bans = []
        while jail.queue:
            bans.append(tinfo(jail.queue.pop(0)))
        steps.append({"attempts": float(attempts), "bans": bans,
                      "logs": [l for l in cap.lines if ", bad - " in l]})
    pending = {}
    for fid in list(fm._FailManager__failList.keys()):
        pending[str(fid)] = tinfo(fm._FailManager__failList[fid])
    return {"steps": steps, "size": fm.size(), "total": fm.getFailTotal(), "pending": pending}

def incr(req):
    fake = types.SimpleNamespace(_banExtra={}, database=object())
    errors = {}
    for k, v in req["opts"]:
        try:
            Jail.setBanTimeExtra(fake, k, v)
            errors[k] = None
        except Exception as e:
            errors[k] = str(e)
    out = []
    ev = fake._banExtra.get("evformula")
    for base, count, rnd in req["cases"]:
        jailmod.random.random = lambda: rnd
        try:
            r = ev(ObserverThread.BanTimeIncr(base, count))
            out.append({"repr": repr(r), "s2s": str(MyTime.seconds2str(r))})
        except Exception as e:
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    got = {k: repr(v) for k, v in fake._banExtra.items() if k != "evformula" and k != "evmultipliers"}
    return {"errors": errors, "results": out, "stored": got}

def incr_ticket(req):
    # incrBanTime + banFound texts for a ticket whose id was banned before.
    cap.lines = []
    db = FakeDB()
    db.rows[req["fid"]] = (req["bancount"], req["timeofban"], req["bantime"])
    class J:
        name = "test"; database = db
        def isAlive(self): return True
        def getBanTimeExtra(self, opt=None):
            return self.be if opt is None else self.be.get(opt)
    j = J()
    fake = types.SimpleNamespace(_banExtra={}, database=object())
    for k, v in req["opts"]:
        Jail.setBanTimeExtra(fake, k, v)
    j.be = fake._banExtra
    db.addBan = lambda jail, ticket: None
    t = BanTicket(req["fid"], req["time"])
    MyTime.setTime(req["now"])
    # banFound computes the new time (incrBanTime) and logs "Increase Ban".
    obs = types.SimpleNamespace(BanTimeIncr=ObserverThread.BanTimeIncr,
        add_timer=lambda *a: None,
        incrBanTime=lambda jl, b, tk: ObserverThread.incrBanTime(ObserverThread, jl, b, tk))
    ObserverThread.banFound(obs, t, j, req["base"])
    return {"bantime": repr(t.getBanTime()), "bancount": t.getBanCount(), "logs": cap.lines}

def ban(req):
    bm = BanManager()
    bm.setBanTime(req["bantime"])
    out = []
    for ev in req["events"]:
        MyTime.setTime(ev["now"])
        if ev["op"] == "add":
            t = BanTicket(ev["fid"], ev["t"])
            if ev.get("bantime") is not None:
                t.setBanTime(ev["bantime"])
            reason = {}
            ok = bm.addBanTicket(t, reason=reason)
            cur = reason.get("ticket", t)
            out.append({"added": ok, "expired": bool(reason.get("expired")),
                        "prolong": bool(reason.get("prolong")),
                        "bantime": cur.getBanTime(), "bancount": cur.getBanCount()})
        elif ev["op"] == "unban":
            lst = bm.unBanList(ev["now"], ev.get("max", 0x7fffffff))
            out.append({"unbanned": [str(t.getID()) for t in lst]})
        elif ev["op"] == "remove":
            t = bm.getTicketByID(IPAddr(ev["fid"]))
            out.append({"removed": t is not None})
        elif ev["op"] == "list":
            out.append({"list": [str(i) for i in bm.getBanList()],
                        "ordered": [str(i) for i in bm.getBanList(ordered=True)],
                        "withtime": bm.getBanList(ordered=True, withTime=True),
                        "size": bm.size(), "total": bm.getBanTotal()})
    return {"out": out}

def ignore(req):
    jail = DummyJail()
    flt = Filter(jail)
    flt.ignoreSelf = req["ignoreself"]
    adds = []
    for e in req["add"]:
        cap.lines = []
        try:
            flt.addIgnoreIP(e)
            adds.append("dup" if any("Ignore duplicate" in l for l in cap.lines) else "ok")
        except Exception as ex:
            adds.append("error")
    dels = []
    for e in req["del"]:
        try:
            flt.delIgnoreIP(e)
            dels.append(None)
        except Exception as ex:
            dels.append(str(ex))
    ent = [str(i) for i in flt.getIgnoreIP()]
    checks = []
    for ip in req["checks"]:
        cap.lines = []
        r = flt.inIgnoreIPList(ip)
        src = [l.split(" by ", 1)[1] for l in cap.lines if " Ignore " in l and " by " in l]
        checks.append(src[0] if r and src else (None if not r else "silent"))
    cache = None
    if "cache" in req:
        _, opts = extractOptions("cache[" + req["cache"] + "]")
        flt.ignoreCache = opts
        cache = flt.ignoreCache
    return {"adds": adds, "dels": dels, "entries": ent, "checks": checks, "cache": cache}

def s2s(req):
    return {"out": [str(MyTime.seconds2str(v)) for v in req["values"]],
            "t2s": [MyTime.time2str(v) for v in req.get("times", [])]}

OPS = {"fail": fail, "incr": incr, "incr_ticket": incr_ticket, "ban": ban, "ignore": ignore, "s2s": s2s}
for line in sys.stdin:
    req = json.loads(line)
    try:
        out = OPS[req["op"]](req)
    except Exception as e:
        import traceback
        out = {"oracle_error": traceback.format_exc()}
    print(json.dumps(out), flush=True)
