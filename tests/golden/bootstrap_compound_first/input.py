# the module starts with a comment, then a blank line

class First:
    pass
