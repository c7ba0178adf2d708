# Oracle for tests/filter_template.rs: reads every filter of /etc/fail2ban/filter.d
# through fail2ban's own config reader, for every mode/variant listed in the shared
# regex corpus, and prints one JSON object per regex value found in the command stream:
# the raw value and the pattern fail2ban's server-side Regex class compiles.
import json, os, sys, logging
logging.disable(logging.CRITICAL)
from fail2ban.client.filterreader import FilterReader
from fail2ban.server.failregex import Regex, FailRegex, RegexException

corpus, basedir = sys.argv[1], sys.argv[2]
combos = []
if os.path.exists(corpus) and os.path.getsize(corpus):
    for line in open(corpus):
        r = json.loads(line)
        if r["kind"] not in ("failregex", "prefregex", "ignoreregex"):
            continue
        k = (r["filter"], r["mode"], r["variant"])
        if k not in combos:
            combos.append(k)
else:
    # No corpus: every shipped filter with its default options.
    for fn in sorted(os.listdir(os.path.join(basedir, "filter.d"))):
        if fn.endswith(".conf") and fn != "common.conf" and not fn.endswith("-common.conf"):
            combos.append((fn[:-5], "", ""))

def prep(cls, raw, **kw):
    try:
        return {"ok": cls(raw, **kw).getRegex()}
    except RegexException as e:
        msg = str(e)
        row = {"err": msg}
        # A compile error still shows the expanded pattern fail2ban tried to compile.
        head = "Unable to compile regular expression '"
        if msg.startswith(head):
            row["compile_error_pattern"] = msg[len(head):msg.rindex("':\n")]
        return row

# Hand-written edge cases beside the shipped filters (tag corner cases, errors).
SYNTHETIC = [
    "^Failed password",
    "   ",
    "",
    "</F-USER>x <F-USER>a</F-USER></F-USER> <HOST>",
    "((?i)a|b) (?:(?s)c) \\((?i)d) <F-ID/>",
    "<F-ALT_USER1>u</F-ALT_USER1> <F-ALT_USER>v</F-ALT_USER> <IP6> <F-user>",
    "<F-TUPLE_ID_1>x</F-TUPLE_ID_1><F-ID>y</F-ID><F-PORT>p</F-PORT> <F-PORT/> <F-CIDR/>",
    "a<SKIPLINES>b<SKIPLINES>c <ADDR>/<CIDR> <SUBNET> <DNS> <IP4> <F-ADDR/> <F-DNS/>",
    "<F-MLFID>m</F-MLFID> <F-NOFAIL> <F-MLFFORGET> <F-MLFGAINED> <F-CONTENT>.+</F-CONTENT>",
    "<<HOST>> <HOST/> </HOST> <F-ID/ > <F-\u00c9> <F-A-B>x</F-A-B> <_x-y> </F-X/>",
    "(?P<user>x) <F-ID>(?P<user2>\\S+)</F-ID>",
]
for raw in SYNTHETIC:
    for usedns in ("warn", "no"):
        for kind, cls, kw in (("addfailregex", FailRegex, {"useDns": usedns}),
                               ("addignoreregex", Regex, {"useDns": usedns})):
            row = {"filter": "<synthetic>", "mode": "", "variant": "", "kind": kind,
                   "index": 0, "usedns": usedns, "multiline": False, "raw": raw}
            row.update(prep(cls, raw, **kw))
            print(json.dumps(row))

for name, mode, variant in combos:
    opts = {}
    if mode:
        opts["mode"] = mode
    if variant:
        k, v = variant.split("=", 1)
        opts[k] = v
    fr = FilterReader(name, "j", opts, basedir=basedir)
    if not fr.read():
        continue
    fr.getOptions({})
    stream = fr.convert()
    maxlines = 1
    values = []
    for cmd in stream:
        if cmd[0] == "set" and cmd[2] == "maxlines":
            maxlines = int(cmd[3])
        if cmd[2] in ("prefregex", "addfailregex", "addignoreregex"):
            vals = cmd[3] if cmd[0] == "multi-set" else [cmd[3]]
            for i, v in enumerate(vals):
                values.append((cmd[2], i, v))
    for usedns in ("warn", "no"):
        pref = None
        for kind, i, raw in values:
            row = {"filter": name, "mode": mode, "variant": variant, "kind": kind,
                   "index": i, "usedns": usedns, "multiline": maxlines > 1, "raw": raw}
            if kind == "prefregex":
                row.update(prep(Regex, raw, useDns=usedns))
                pref = Regex(raw, useDns=usedns) if "ok" in row else None
            elif kind == "addfailregex":
                row.update(prep(FailRegex, raw, prefRegex=pref, multiline=maxlines > 1, useDns=usedns))
            else:
                row.update(prep(Regex, raw, useDns=usedns))
            print(json.dumps(row))
