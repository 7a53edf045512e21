# otel: ignore

import sqlite3

db = sqlite3.connect(":memory:")
