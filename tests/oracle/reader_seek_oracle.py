# Oracle for tests/server_reader.rs: fail2ban's own initial seek (FileFilter.seekToTime
# with the default date detector) on the given log. Prints, per start time given, the
# byte position fail2ban would start reading at. Run with TZ=UTC.
import sys, logging
logging.disable(logging.CRITICAL)
from fail2ban.server.filter import FileFilter, FileContainer
from fail2ban.server.datedetector import DateDetector

flt = FileFilter(None)
flt.dateDetector = DateDetector()
flt.dateDetector.addDefaultTemplate()
path = sys.argv[1]
for since in sys.argv[2:]:
    log = FileContainer(path, 'UTF-8')
    flt.seekToTime(log, float(since))
    print(log.getPos())
