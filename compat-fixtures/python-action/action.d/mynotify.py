# Tiny custom python action used only as a config fixture.
class Action(object):
    def __init__(self, jail, name, url="", timeout=3):
        self.url = url
    def start(self):
        pass
    def stop(self):
        pass
    def ban(self, aInfo):
        pass
    def unban(self, aInfo):
        pass
