#!/usr/bin/env python
# -*- coding: utf-8 -*-
if __name__ == "__main__":
    print("added_line: no free line for the import here")
