# Oracle for tests/filter_template.rs: reads JSON requests on stdin, one per line, and
# answers with how fail2ban's IPAddr sees them (text form, validity, family, prefix,
# containment).
import json, sys, logging
logging.disable(logging.CRITICAL)
from fail2ban.server.ipdns import IPAddr, DNSUtils

def describe(ip):
    return {"ntoa": str(ip), "valid": ip.isValid, "family": ip.familyStr,
            "plen": ip.plen, "single": ip.isSingle}

for line in sys.stdin:
    req = json.loads(line)
    try:
        if req["op"] == "parse":
            out = describe(IPAddr(req["text"]))
        elif req["op"] == "cidr":
            out = describe(IPAddr(req["text"], req["cidr"]))
        elif req["op"] == "contains":
            out = {"contains": IPAddr(req["net"]).contains(IPAddr(req["ip"]))}
        elif req["op"] == "search":
            out = {"search": IPAddr.searchIP(req["text"])}
    except Exception as e:
        out = {"error": "%s" % e}
    print(json.dumps(out))
