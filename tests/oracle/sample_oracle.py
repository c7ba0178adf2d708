# Oracle for tests/filter_template.rs: for the given filters, runs fail2ban's own
# regex objects over the upstream sample logs (default filter options, date cut out by
# fail2ban's date detector exactly as its filter does) and prints, per annotated line,
# the regex buffer, the stream values, fail2ban's match result and the failJSON record.
import json, sys, os, logging
logging.disable(logging.CRITICAL)
from fail2ban.client.filterreader import FilterReader
from fail2ban.server.failregex import Regex, FailRegex
from fail2ban.server.datedetector import DateDetector

import fail2ban
logs = os.path.join(os.path.dirname(fail2ban.__file__), "tests", "files", "logs")

def b(buf, i):
    # character offset -> UTF-8 byte offset
    return len(buf[:i].encode("utf-8"))

def spans(m):
    buf = m.string
    out = {}
    for name, i in m.re.groupindex.items():
        s, e = m.span(i)
        out[name] = None if s < 0 else [b(buf, s), b(buf, e)]
    return [b(buf, m.start()), b(buf, m.end())], out

for name in sys.argv[1:]:
    fr = FilterReader(name, "j", {}, basedir="/etc/fail2ban")
    fr.read(); fr.getOptions({})
    stream = fr.convert()
    maxlines, pref, fails, datepattern = 1, None, [], None
    for cmd in stream:
        vals = cmd[3] if cmd[0] == "multi-set" else [cmd[3]]
        if cmd[2] == "maxlines": maxlines = int(cmd[3])
        elif cmd[2] == "prefregex": pref = cmd[3]
        elif cmd[2] == "addfailregex": fails += vals
        elif cmd[2] == "datepattern": datepattern = cmd[3]
    if maxlines != 1:
        continue
    dd = DateDetector()
    if datepattern:
        for p in filter(bool, map(str.strip, datepattern.split("\n"))):
            dd.appendTemplate(p)
    else:
        dd.addDefaultTemplate()
    pref_re = Regex(pref, useDns="warn") if pref else None
    fail_res = [FailRegex(f, prefRegex=pref_re, useDns="warn") for f in fails]
    expect = None
    for line in open(os.path.join(logs, name), encoding="utf-8", errors="replace"):
        line = line.rstrip("\r\n")
        if line.startswith("#"):
            if line.lstrip("#").lstrip().startswith("failJSON:"):
                expect = json.loads(line.split("failJSON:", 1)[1])
            continue
        if expect is None or not line:
            continue
        m = dd.matchTime(line)[0]
        if m:
            s, e = m.start(1), m.end(1)
            cut = line[:s] + line[e:]
        else:
            cut = line
        buf = cut + "\n"
        row = {"filter": name, "buffer": buf, "prefregex": pref, "failregex": fails,
               "expect": expect, "pref": None, "index": None}
        fbuf = buf
        if pref_re:
            pref_re.search([("", "", cut)])
            if pref_re.hasMatched():
                row["pref"] = spans(pref_re._matchCache)
                content = pref_re.getGroups().get("content")
                if content:
                    fbuf = content + "\n"
                    cut = content
        if not pref_re or row["pref"]:
            row["content_buffer"] = fbuf
            for i, fr_ in enumerate(fail_res):
                fr_.search([("", "", cut)])
                if fr_.hasMatched():
                    row["index"] = i
                    row["fail"] = spans(fr_._matchCache)
                    g = fr_.getGroups()
                    row["groups"] = [[k, list(v) if isinstance(v, tuple) else v] for k, v in g.items()]
                    break
        print(json.dumps(row))
        expect = None
