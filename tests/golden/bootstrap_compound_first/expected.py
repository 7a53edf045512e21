# the module starts with a comment, then a blank line
import shop._otel as _hatch_otel
class First:
    pass
