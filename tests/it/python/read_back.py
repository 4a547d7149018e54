"""Reads every row of a table with the DataStax python driver and prints each as one JSON line
of canonical values, so that the Rust test can compare them with the generator's: the python
driver decodes the node's bytes with its own code, not the Rust driver's.

Usage: read_back.py HOST PORT KEYSPACE TABLE
"""

import datetime
import decimal
import ipaddress
import json
import struct
import sys
import uuid

from cassandra.cluster import Cluster
from cassandra.util import Date, Duration, Time

EPOCH = datetime.datetime(1970, 1, 1)


def canon(value):
    """The canonical form the Rust test makes of a CqlValue (see `canon` in workload.rs); the
    test puts sets and maps in one order on both sides. inet is a str in this driver."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"boolean": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": struct.pack(">d", value).hex()}  # the bits, exactly
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, (bytes, bytearray)):
        return {"blob": bytes(value).hex()}
    if isinstance(value, decimal.Decimal):
        sign, digits, exponent = value.as_tuple()
        unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        return {"decimal": [str(unscaled), -exponent]}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, datetime.datetime):
        return {"timestamp": (value - EPOCH) // datetime.timedelta(milliseconds=1)}
    if isinstance(value, Date):
        return {"date": value.days_from_epoch}
    if isinstance(value, Time):
        return {"time": value.nanosecond_time}
    if isinstance(value, Duration):
        return {"duration": [value.months, value.days, value.nanoseconds]}
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return {"inet": str(value)}
    if hasattr(value, "_fields"):  # a UDT (a named tuple of the type's fields)
        return {"udt": {f: canon(getattr(value, f)) for f in value._fields}}
    if isinstance(value, tuple):
        return {"tuple": [canon(v) for v in value]}
    if hasattr(value, "items"):  # a map
        return {"map": [[canon(k), canon(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)) or type(value).__name__ == "SortedSet":
        return {"set": [canon(v) for v in value]}
    if isinstance(value, list):
        return {"list": [canon(v) for v in value]}
    raise TypeError(f"no canonical form for {type(value).__name__}: {value!r}")


def main():
    host, port, keyspace, table = sys.argv[1:5]
    cluster = Cluster([host], port=int(port))
    session = cluster.connect()
    for row in session.execute(f'SELECT * FROM "{keyspace}"."{table}"'):
        print(json.dumps({name: canon(getattr(row, name)) for name in row._fields}))
    cluster.shutdown()


if __name__ == "__main__":
    main()
