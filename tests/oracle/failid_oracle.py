# Oracle for tests/filter_template.rs: JSON requests on stdin (failregex, optional
# prefregex, line, usedns, raw flag); answers with the failures fail2ban's own Filter
# finds on that single line: [[ticket id, data 'ip' or null], ...] or an error text.
import json, sys, logging
logging.disable(logging.CRITICAL)
from fail2ban.server.filter import Filter

for line in sys.stdin:
    req = json.loads(line)
    try:
        f = Filter(None)
        f.checkFindTime = False
        f.setUseDns(req["usedns"])
        f.returnRawHost = req["raw"]
        if req.get("prefregex"):
            f.prefRegex = req["prefregex"]
        f.addFailRegex(req["failregex"])
        out = []
        for _, fid, _, data in f.processLine(req["line"]):
            ip = data.get("ip")
            out.append([str(fid), None if ip is None else str(ip)])
        print(json.dumps({"failures": out}))
    except Exception as e:
        print(json.dumps({"error": "%s" % e}))
