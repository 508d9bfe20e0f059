#!/usr/bin/env python3
"""Walks the official Python SDK (pyodps) through its Storage API user guide against the
maxstorage emulator, one named case per call of the guide, and reports pass/fail.

    python user_guide.py --sdk storage_api_v2 --addr 127.0.0.1:PORT \
        --access-id ID --access-key KEY [--results results.json]

`--sdk storage_api_v2` drives `odps.apis.storage_api_v2` (pyodps 0.13.1, the API the user
guide in shared/reference/ documents); `--sdk maxstorage` drives `odps.maxstorage`
(pyodps 0.13.2, its successor) through the equivalent calls.

Tables are created and filled, and committed data is verified, through the emulator's
admin API (`/admin/v1`, see emulator/README.md), never through the SDK under test.
Every case catches its own exceptions; a failing case prints a one-line reason and the
HTTP exchanges it made (what the SDK sent, what the emulator answered).
"""

import argparse
import base64
import datetime
import decimal
import email.utils
import hashlib
import hmac
import io
import json
import logging
import multiprocessing
import os
import random
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor

warnings.simplefilter("ignore")
logging.getLogger("odps").setLevel(logging.ERROR)

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

PROJECT = "pyodps_guide"
SCHEMA = "default"

# ---------------------------------------------------------------------------
# HTTP log: every request the SDK makes, for failure reports
# ---------------------------------------------------------------------------

_INTERESTING_REQ_HEADERS = (
    "content-type",
    "content-encoding",
    "accept-encoding",
    "transfer-encoding",
    "x-odps-max-storage-route-token",
    "x-odps-max-storage-write-access-token",
)


def _snippet(data, limit=400):
    if data is None:
        return ""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data)
        try:
            text = data.decode("utf-8")
            if all(c.isprintable() or c in "\r\n\t" for c in text[:limit]):
                return text[:limit] + ("…" if len(text) > limit else "")
        except UnicodeDecodeError:
            pass
        return "<%d bytes binary>" % len(data)
    return "<%s body>" % type(data).__name__


class HttpLog:
    def __init__(self):
        self.entries = []
        self.lock = threading.Lock()

    def install(self):
        import requests

        original = requests.Session.send
        log = self

        def send(session, request, **kwargs):
            url = urllib.parse.urlsplit(request.url)
            query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
            entry = {
                "method": request.method,
                "path": url.path,
                "query": query,
                "action": dict(query).get("Action", ""),
                "req_headers": {
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() in _INTERESTING_REQ_HEADERS
                },
                "req_body": _snippet(request.body),
            }
            try:
                resp = original(session, request, **kwargs)
            except Exception as e:  # noqa: BLE001
                entry["error"] = "%s: %s" % (type(e).__name__, e)
                log.add(entry)
                raise
            entry["status"] = resp.status_code
            entry["resp_headers"] = {
                k: v
                for k, v in resp.headers.items()
                if k.lower()
                in ("content-type", "content-encoding", "x-odps-max-storage-route-token")
            }
            if resp.status_code >= 300 or not kwargs.get("stream"):
                try:
                    entry["resp_body"] = _snippet(resp.content)
                except Exception as e:  # noqa: BLE001
                    entry["resp_body"] = "<unreadable: %s>" % e
            else:
                entry["resp_body"] = "<streamed>"
            log.add(entry)
            return resp

        requests.Session.send = send

    def add(self, entry):
        with self.lock:
            self.entries.append(entry)

    def mark(self):
        with self.lock:
            return len(self.entries)

    def since(self, mark):
        with self.lock:
            return list(self.entries[mark:])

    @staticmethod
    def render(entry):
        q = "&".join(
            "%s=%s" % (k, v) for k, v in entry["query"] if k not in ("curr_project",)
        )
        lines = ["%s %s?%s" % (entry["method"], entry["path"], q)]
        if entry["req_headers"]:
            lines.append("    sent headers: %s" % json.dumps(entry["req_headers"]))
        if entry["req_body"]:
            lines.append("    sent body: %s" % entry["req_body"])
        if "error" in entry:
            lines.append("    -> transport error: %s" % entry["error"])
        else:
            lines.append(
                "    -> %s %s %s"
                % (entry["status"], json.dumps(entry["resp_headers"]), entry.get("resp_body", ""))
            )
        return "\n".join(lines)


HTTP = HttpLog()

# ---------------------------------------------------------------------------
# Admin API client (legacy ODPS signature over the path)
# ---------------------------------------------------------------------------


class AdminError(Exception):
    pass


class Admin:
    def __init__(self, addr, access_id, access_key):
        self.addr, self.access_id, self.access_key = addr, access_id, access_key

    def call(self, method, path, query=None, body=b"", content_type="application/json"):
        query = list(query or [])
        date = email.utils.formatdate(time.time(), usegmt=True)
        # Canonical string (protocol/src/sign.rs): METHOD, content-md5, content-type,
        # date, x-odps-* headers (none here), then path?sorted-query.
        resource = path
        if query:
            resource += "?" + "&".join(
                k + ("=" + v if v else "") for k, v in sorted(query)
            )
        canonical = "\n".join([method, "", content_type, date, resource])
        signature = base64.b64encode(
            hmac.new(self.access_key.encode(), canonical.encode(), hashlib.sha1).digest()
        ).decode()
        url = "http://%s%s" % (self.addr, urllib.parse.quote(path))
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(
            url,
            data=body if method in ("POST", "PUT") else None,
            method=method,
            headers={
                "Content-Type": content_type,
                "Date": date,
                "Authorization": "ODPS %s:%s" % (self.access_id, signature),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise AdminError(
                "admin %s %s -> %s %s" % (method, path, e.code, _snippet(e.read(), 300))
            ) from None

    def create_table(self, name, columns, partition_columns=(), **extra):
        definition = {
            "project": PROJECT,
            "schema": SCHEMA,
            "name": name,
            "columns": [{"name": n, "type": t} for n, t in columns],
            "partition_columns": [{"name": n, "type": t} for n, t in partition_columns],
        }
        definition.update(extra)
        return json.loads(self.call("POST", "/admin/v1/tables", body=json.dumps(definition).encode()))

    def describe(self, name):
        return json.loads(self.call("GET", "/admin/v1/tables/%s/%s/%s" % (PROJECT, SCHEMA, name)))

    def insert(self, name, table, partition=None, overwrite=False):
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        query = []
        if partition:
            query.append(("partition", partition))
        if overwrite:
            query.append(("overwrite", "true"))
        return json.loads(
            self.call(
                "POST",
                "/admin/v1/tables/%s/%s/%s/rows" % (PROJECT, SCHEMA, name),
                query,
                sink.getvalue(),
                "application/vnd.apache.arrow.stream",
            )
        )

    def dump(self, name, partition=None):
        query = [("partition", partition)] if partition else []
        data = self.call("GET", "/admin/v1/tables/%s/%s/%s/rows" % (PROJECT, SCHEMA, name), query)
        return pa.ipc.open_stream(io.BytesIO(data)).read_all()

    def create_instance(self, table, **extra):
        body = {"project": PROJECT, "schema": SCHEMA, "table": table}
        body.update(extra)
        r = json.loads(self.call("POST", "/admin/v1/instances", body=json.dumps(body).encode()))
        return r["InstanceId"]


# ---------------------------------------------------------------------------
# Test data
# ---------------------------------------------------------------------------

# The guide's example table (id, name, value, partition pt) widened with one column of
# every other common type, so the exact comparison covers the type mapping.
GUIDE_COLUMNS = [
    ("id", "bigint", pa.int64()),
    ("name", "string", pa.string()),
    ("value", "double", pa.float64()),
    ("flag", "boolean", pa.bool_()),
    ("small", "int", pa.int32()),
    ("amount", "decimal(10,2)", pa.decimal128(10, 2)),
    ("day", "date", pa.date32()),
    ("ts", "timestamp", pa.timestamp("ns")),
    ("dtm", "datetime", pa.timestamp("ms")),
    ("raw", "binary", pa.binary()),
    ("tags", "array<bigint>", pa.list_(pa.int64())),
    ("attrs", "map<string,bigint>", pa.map_(pa.string(), pa.int64())),
    ("info", "struct<a:bigint,b:string>", pa.struct([("a", pa.int64()), ("b", pa.string())])),
]
GUIDE_DATA_NAMES = [c[0] for c in GUIDE_COLUMNS]
GUIDE_ALL_NAMES = GUIDE_DATA_NAMES + ["pt"]
GUIDE_ROWS = 40
P1, P2 = "20230101", "20230102"


def guide_pt(i):
    return P1 if i < 25 else P2


def guide_value(name, i):
    if name == "id":
        return i
    if name == "name":
        return None if i % 7 == 3 else "name_%d" % i
    if name == "value":
        return None if i % 11 == 5 else i * 1.5 - 7.25
    if name == "flag":
        return None if i % 13 == 4 else i % 3 == 0
    if name == "small":
        return i * 1000 - 20000
    if name == "amount":
        return decimal.Decimal(i * 137 - 2000).scaleb(-2)
    if name == "day":
        return None if i % 9 == 8 else datetime.date(2023, 1, 1) + datetime.timedelta(days=3 * i)
    if name == "ts":
        return 1672531200_000000000 + i * 86_400_123_456_789 + 789
    if name == "dtm":
        return 1672531200000 + i * 3_600_001
    if name == "raw":
        return None if i % 10 == 9 else bytes((i * j) % 256 for j in range(i % 5 + 1))
    if name == "tags":
        return None if i % 6 == 1 else list(range(i, i + i % 4))
    if name == "attrs":
        return None if i % 8 == 2 else [("k%d" % j, i * j) for j in range(i % 3)]
    if name == "info":
        return None if i % 12 == 7 else {"a": i, "b": None if i % 2 else "s%d" % i}
    if name == "pt":
        return guide_pt(i)
    raise KeyError(name)


def guide_table(ids, with_pt=True):
    arrays, names = [], []
    for name, _, typ in GUIDE_COLUMNS:
        values = [guide_value(name, i) for i in ids]
        if name in ("ts", "dtm"):
            arrays.append(pa.array(values, pa.int64()).cast(typ))
        else:
            arrays.append(pa.array(values, typ))
        names.append(name)
    if with_pt:
        arrays.append(pa.array([guide_pt(i) for i in ids], pa.string()))
        names.append("pt")
    return pa.Table.from_arrays(arrays, names=names)


PEOPLE_COLUMNS = [("id", "bigint"), ("name", "string"), ("value", "double")]
PEOPLE_SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("value", pa.float64())])


def people_batch(ids, schema=PEOPLE_SCHEMA):
    return pa.record_batch(
        [
            pa.array(ids, pa.int64()),
            pa.array(["person_%d" % i for i in ids], pa.string()),
            pa.array([i * 10.5 for i in ids], pa.float64()),
        ],
        schema=schema,
    )


def people_table(ids):
    return pa.Table.from_batches([people_batch(ids)])


def blob_payload(seed, size):
    """Deterministic data larger than one 4096-byte CRC block: half text, half noise."""
    rnd = random.Random(seed)
    text = ("blob %d says hello; " % seed).encode() * (size // 40 + 1)
    return text[: size // 2] + rnd.randbytes(size - size // 2)


# ---------------------------------------------------------------------------
# Comparison helpers
# ---------------------------------------------------------------------------


class CheckFailed(AssertionError):
    pass


def ensure(cond, message):
    if not cond:
        raise CheckFailed(message)


def _canon(t):
    """A type with nested field names and nullability normalised."""
    if pa.types.is_map(t):
        return pa.map_(_canon(t.key_type), _canon(t.item_type))
    if pa.types.is_list(t):
        return pa.list_(_canon(t.value_type))
    if pa.types.is_large_list(t):
        return pa.large_list(_canon(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(t.field(i).name, _canon(t.field(i).type)) for i in range(t.num_fields)])
    return t


def to_table(batches, schema=None):
    batches = [b for b in batches if b is not None]
    if not batches:
        return None if schema is None else schema.empty_table()
    return pa.Table.from_batches(batches)


def assert_same_rows(actual, expected, columns=None, key="id", ordered=False, exact_names=True):
    """Exact comparison of every value of every column (types too)."""
    columns = list(columns) if columns is not None else expected.column_names
    if actual is None:
        ensure(expected.num_rows == 0, "no batches read, expected %d rows" % expected.num_rows)
        return
    if exact_names:
        ensure(
            actual.column_names == columns,
            "columns %s, expected %s" % (actual.column_names, columns),
        )
    else:
        missing = [c for c in columns if c not in actual.column_names]
        ensure(not missing, "columns %s missing from %s" % (missing, actual.column_names))
    ensure(
        actual.num_rows == expected.num_rows,
        "%d rows, expected %d (ids read: %s)"
        % (
            actual.num_rows,
            expected.num_rows,
            actual.column(key).to_pylist()[:60] if key in actual.column_names else "?",
        ),
    )
    if not ordered and key in columns:
        actual = actual.sort_by(key)
        expected = expected.sort_by(key)
    for name in columns:
        a = actual.column(name).combine_chunks()
        e = expected.column(name).combine_chunks()
        if a.type != e.type:
            ensure(
                _canon(a.type) == _canon(e.type),
                "column %r has Arrow type %s, expected %s" % (name, a.type, e.type),
            )
            a, e = a.cast(_canon(e.type)), e.cast(_canon(e.type))
        if not a.equals(e):
            for i in range(len(e)):
                if a[i] != e[i] and not (a[i].as_py() == e[i].as_py()):
                    raise CheckFailed(
                        "column %r row %d (%s=%s): got %r, expected %r"
                        % (name, i, key, expected.column(key)[i].as_py() if key in expected.column_names else i,
                           a[i].as_py(), e[i].as_py())
                    )
            raise CheckFailed("column %r differs" % name)


def assert_unique_ids(table, key="id"):
    ids = table.column(key).to_pylist() if table is not None else []
    ensure(len(ids) == len(set(ids)), "duplicate rows: %s" % sorted(i for i in set(ids) if ids.count(i) > 1))


def http_status(entries, action):
    return [e.get("status") for e in entries if e["action"] == action]


def err_line(e):
    text = "%s: %s" % (type(e).__name__, e)
    return " ".join(text.split())[:400]


def refusal(entries, action, status=None, what=""):
    """Checks that the emulator refused `action` (with `status` if given)."""
    got = http_status(entries, action)
    refused = [s for s in got if s is not None and s >= 400]
    what = (" (%s)" % what) if what else ""
    if status is None:
        ensure(refused, "the emulator accepted %s%s (answered %s); it must refuse it"
               % (action, what, got or "nothing"))
    else:
        ensure(status in refused, "the emulator answered %s%s with %s; expected %d"
               % (action, what, got or "nothing", status))


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------


class Runner:
    def __init__(self, sdk_label):
        self.sdk_label = sdk_label
        self.results = []  # (name, ok, reason, http)

    def run(self, name, fn):
        mark = HTTP.mark()
        started = time.monotonic()
        try:
            fn()
            ok, reason = True, ""
        except Exception as e:  # noqa: BLE001
            ok, reason = False, err_line(e)
            if os.environ.get("PYSDK_TRACEBACK"):
                traceback.print_exc()
        elapsed = time.monotonic() - started
        http = HTTP.since(mark)
        self.results.append((name, ok, reason, http))
        print(
            "%s %-58s %5.2fs%s" % ("PASS" if ok else "FAIL", name, elapsed, "" if ok else "  " + reason),
            flush=True,
        )

    def report(self):
        failed = [r for r in self.results if not r[1]]
        if failed:
            print("\n==== failing cases (%s): what the SDK sent, what the emulator answered ====" % self.sdk_label)
            for name, _, reason, http in failed:
                print("\n--- %s\n    reason: %s" % (name, reason))
                for e in http[-6:]:
                    print("    " + HttpLog.render(e).replace("\n", "\n    "))
        passed = len(self.results) - len(failed)
        print("\n[%s] totals: %d passed, %d failed" % (self.sdk_label, passed, len(failed)))
        return passed, len(failed)


# ---------------------------------------------------------------------------
# Shared fixture setup (admin API only)
# ---------------------------------------------------------------------------


class Fixtures:
    def __init__(self, admin):
        self.admin = admin
        self.guide = guide_table(range(GUIDE_ROWS))
        self.clustered = None
        self.incr_v1 = self.incr_v2 = None
        self.instance_id = None
        self.instance_partition_id = None
        self._counter = 0

    def setup(self):
        a = self.admin
        a.create_table(
            "guide",
            [(n, t) for n, t, _ in GUIDE_COLUMNS],
            [("pt", "string")],
        )
        # One commit per partition: two data files, so splits and versions are exercised.
        a.insert("guide", self.guide.filter(pc.equal(self.guide.column("pt"), P1)))
        a.insert("guide", self.guide.filter(pc.equal(self.guide.column("pt"), P2)))
        a.create_table(
            "clustered", [("id", "bigint"), ("name", "string")], bucket_count=4, cluster_columns=["id"]
        )
        ids = list(range(100, 140))
        self.clustered = pa.table(
            {"id": pa.array(ids, pa.int64()), "name": pa.array(["c%d" % i for i in ids], pa.string())}
        )
        a.insert("clustered", self.clustered)
        a.create_table("incr", [("id", "bigint"), ("name", "string")])
        self.incr_v1 = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": pa.array(["a", "b", "c"])})
        self.incr_v2 = pa.table({"id": pa.array([4, 5], pa.int64()), "name": pa.array(["d", "e"])})
        a.insert("incr", self.incr_v1)
        time.sleep(1.1)  # commit times are second-resolution strings in the guide
        a.insert("incr", self.incr_v2)
        self.instance_id = a.create_instance("guide")
        self.instance_partition_id = a.create_instance(
            "guide", partition="pt=%s" % P2, columns=["id", "name"]
        )

    def fresh(self, stem, columns=PEOPLE_COLUMNS, partition_columns=()):
        self._counter += 1
        name = "%s_%d" % (stem, self._counter)
        self.admin.create_table(name, columns, partition_columns)
        return name

    def guide_where(self, pred):
        ids = [i for i in range(GUIDE_ROWS) if pred(i)]
        return guide_table(ids)


BLOB_COLUMNS = [("id", "bigint"), ("data", "blob"), ("name", "string")]  # data is column 1
BLOB_PARTS = [("pt", "string")]


def _mp_read_split(args):
    """Multi-process reading (guide: "Multi-process parallel reading"): each process
    builds its own ODPS entry and client."""
    (addr, access_id, access_key, table_name, session_id, split_index) = args
    warnings.simplefilter("ignore")
    from odps import ODPS
    from odps.apis.storage_api_v2 import StorageApiArrowClient

    local_odps = ODPS(
        access_id, access_key, project=PROJECT,
        endpoint="http://%s/api" % addr, tunnel_endpoint="http://%s" % addr,
    )
    local_client = StorageApiArrowClient(local_odps, local_odps.get_table(table_name))
    reader = local_client.read_rows_arrow(session_id, split_index=split_index)
    ids = []
    while True:
        batch = reader.read()
        if batch is None:
            break
        ids.extend(batch.to_pandas()["id"].tolist())
    return ids


# ---------------------------------------------------------------------------
# odps.apis.storage_api_v2 (pyodps 0.13.1): the user guide, call by call
# ---------------------------------------------------------------------------


class StorageApiV2Suite:
    def __init__(self, args, runner, fx):
        from odps import ODPS, options

        options.retry_times = 1
        options.connect_timeout = 10
        options.read_timeout = 120
        import odps.apis.storage_api_v2 as sa

        self.sa = sa
        self.args = args
        self.r = runner
        self.fx = fx
        self.admin = fx.admin
        self.odps = ODPS(
            args.access_id,
            args.access_key,
            project=PROJECT,
            endpoint="http://%s/api" % args.addr,
            tunnel_endpoint="http://%s" % args.addr,
        )
        self.table = self.odps.get_table("guide")
        self.client = sa.StorageApiClient(self.odps, self.table)
        self.arrow_client = sa.StorageApiArrowClient(self.odps, self.table)
        self.state = {}

    # -- helpers ----------------------------------------------------------

    def client_for(self, name, raw=False):
        cls = self.sa.StorageApiClient if raw else self.sa.StorageApiArrowClient
        return cls(self.odps, self.odps.get_table(name))

    @staticmethod
    def read_batches(reader):
        batches = []
        while True:
            batch = reader.read()
            if batch is None:
                break
            batches.append(batch)
        return batches

    def read_split(self, client, session_id, split_index=None, **kw):
        return self.read_batches(client.read_rows_arrow(session_id, split_index=split_index, **kw))

    def read_session(self, client, resp, **kw):
        ensure(resp.splits_count is not None and resp.splits_count >= 1,
               "SplitsCount is %r" % resp.splits_count)
        batches = []
        for i in range(resp.splits_count):
            batches.extend(self.read_split(client, resp.session_id, i, **kw))
        return to_table(batches)

    def write_rows(self, client, session_id, stream_id, batch, **kw):
        writer = client.write_rows_arrow(session_id, stream_id=stream_id, record_count=batch.num_rows, **kw)
        writer.write(batch)
        commit_msg, success = writer.finish()
        ensure(success, "writer.finish() reported success=False")
        return writer

    def split_opts(self, mode, number=None, cross_partition=None):
        o = self.sa.SplitOptions()
        o.split_mode = getattr(self.sa.SplitOptions.SplitMode, mode)
        if number is not None:
            o.split_number = number
        if cross_partition is not None:
            o.cross_partition = cross_partition
        return o

    # -- the cases --------------------------------------------------------

    def run(self):
        c = self.r.run
        # Reading data
        c("read/create_read_session_default", self.t_create_default)
        c("read/read_rows_arrow_every_split_exact", self.t_read_all_exact)
        c("read/columns_and_partitions", self.t_columns_partitions)
        c("read/required_partition_columns", self.t_partition_columns)
        c("read/split_size_small_many_splits", self.t_split_size)
        c("read/split_parallelism_10", self.t_split_parallelism)
        c("read/split_row_offset_ranges", self.t_split_row_offset)
        c("read/split_bucket", self.t_split_bucket)
        c("read/required_bucket_ids_strings", self.t_bucket_ids_strings)
        c("read/cross_partition_false", self.t_cross_partition)
        c("read/raw_stream_ArrowReader", self.t_raw_stream)
        c("read/row_offset_row_count", self.t_row_range)
        c("read/max_batch_rows", self.t_max_batch_rows)
        c("read/max_batch_raw_size", self.t_max_batch_raw_size)
        c("read/skip_row_num", self.t_skip_rows)
        c("read/data_columns", self.t_data_columns)
        c("read/data_format_arrow_v5", self.t_data_format)
        c("read/compression_zstd", lambda: self.t_read_compressed("ZSTD"))
        c("read/compression_lz4_frame", lambda: self.t_read_compressed("LZ4_FRAME"))
        c("read/parallel_threads", self.t_parallel_threads)
        c("read/parallel_processes", self.t_parallel_processes)
        c("read/get_read_session_and_refresh", self.t_refresh)
        c("read/incremental_start_version", self.t_incremental_version)
        c("read/incremental_time_range", self.t_incremental_time)
        c("read/filter_predicate", self.t_filter)
        c("read/filter_predicate_fallback", self.t_filter_fallback)
        c("read/split_max_file_num", self.t_split_max_file_num)
        c("read/arrow_options_micro_milli", self.t_arrow_options)
        c("read/arrow_options_second_nano", self.t_arrow_options_2)
        c("read/read_partition_as_pandas", self.t_partition_pandas)
        # Preview
        c("preview/preview_table_arrow_limit", self.t_preview_limit)
        c("preview/preview_table_raw_client", self.t_preview_raw)
        c("preview/partition", self.t_preview_partition)
        c("preview/columns", self.t_preview_columns)
        # Instances
        c("instance/create_read_session_splits_count", self.t_instance_read)
        c("instance/get_read_session", self.t_instance_get)
        c("instance/partition_and_columns", self.t_instance_partition)
        c("instance/write_raises_ValueError", self.t_instance_write)
        # Writing data
        c("write/complete_workflow_dump", self.t_write_complete)
        c("write/get_write_stream_status_fields", self.t_stream_status)
        c("write/get_write_session_streams", self.t_write_session_status)
        c("write/compression_zstd", lambda: self.t_write_compressed("ZSTD"))
        c("write/compression_lz4_frame", lambda: self.t_write_compressed("LZ4_FRAME"))
        c("write/raw_stream_ArrowWriter", self.t_write_raw)
        c("write/parallel_streams", self.t_write_parallel)
        c("write/pandas_dataframe_large_string", self.t_write_pandas)
        c("write/partition_static", self.t_write_partition)
        c("write/partition_overwrite", self.t_write_overwrite)
        c("write/dynamic_partitions", self.t_write_dynamic)
        c("write/commit_stream_ids_versions", self.t_commit_stream_ids)
        c("write/abort_discards", self.t_abort)
        c("write/route_token", self.t_route_token)
        c("write/schema_mismatch_refused", self.t_write_mismatch)
        # Exactly-once
        c("exactly_once/guide_flow_create_write_stream", self.t_eo_guide_flow)
        c("exactly_once/get_write_stream_issues_token", self.t_eo_token)
        c("exactly_once/write_with_offset", self.t_eo_write)
        c("exactly_once/retry_same_offset_not_duplicated", self.t_eo_retry)
        c("exactly_once/wrong_offset_refused", self.t_eo_wrong_offset)
        c("exactly_once/wrong_access_token_refused", self.t_eo_bad_token)
        c("exactly_once/resume_next_offset", self.t_eo_next)
        c("exactly_once/commit_dump_once", self.t_eo_commit)
        # Blobs
        c("blob/setup_session", self.t_blob_setup)
        c("blob/write_blob_stream", lambda: self.t_blob_stream("UNCOMPRESSED"))
        c("blob/write_blob_stream_zstd", lambda: self.t_blob_stream("ZSTD"))
        c("blob/write_blob_stream_lz4", lambda: self.t_blob_stream("LZ4_FRAME"))
        c("blob/write_blob_batch_checksums", self.t_blob_batch)
        c("blob/batch_md5_mismatch_refused", self.t_blob_checksum)
        c("blob/read_blobs_iterator", self.t_blob_read_iter)
        c("blob/read_blobs_stream", self.t_blob_read_stream)
        c("blob/read_single_blob", self.t_blob_read_single)
        c("blob/read_blobs_zstd", lambda: self.t_blob_read_compressed("ZSTD"))
        c("blob/read_blobs_lz4_frame", lambda: self.t_blob_read_compressed("LZ4_FRAME"))
        c("blob/guide_complete_example", self.t_blob_guide_example)
        c("blob/rows_with_references_round_trip", self.t_blob_rows)
        c("blob/upload_into_non_blob_column_refused", self.t_blob_wrong_column)
        c("blob/non_reference_value_refused", self.t_blob_bad_reference)
        # Errors
        c("error/parallelism_split_number_0_refused", self.t_parallelism_zero)
        c("error/unknown_table", self.t_unknown_table)
        c("error/bad_credentials", self.t_bad_credentials)
        c("error/unknown_read_session", self.t_unknown_session)
        c("error/unknown_column", self.t_unknown_column)
        c("setup/tunnel_endpoint_discovery", self.t_discovery)

    # Reading -------------------------------------------------------------

    def t_create_default(self):
        resp = self.arrow_client.create_read_session()
        ensure(resp.session_id, "no session_id")
        ensure(resp.splits_count and resp.splits_count >= 1, "splits_count %r" % resp.splits_count)
        ensure(resp.record_count == GUIDE_ROWS, "record_count %r, expected %d" % (resp.record_count, GUIDE_ROWS))
        ensure(resp.session_status == self.sa.SessionStatus.NORMAL, "session_status %r" % resp.session_status)
        ensure(isinstance(resp.expiration_time, int) and resp.expiration_time > time.time() * 1000,
               "expiration_time %r is not a future epoch-ms" % resp.expiration_time)
        names = [col.name for col in resp.data_schema.data_columns]
        ensure(names == GUIDE_DATA_NAMES, "DataSchema.DataColumns %s" % names)
        parts = [col.name for col in resp.data_schema.partition_columns]
        ensure(parts == ["pt"], "DataSchema.PartitionColumns %s" % parts)
        self.state["default_session"] = resp

    def t_read_all_exact(self):
        resp = self.state.get("default_session") or self.arrow_client.create_read_session()
        actual = self.read_session(self.arrow_client, resp)
        assert_same_rows(actual, self.fx.guide, GUIDE_ALL_NAMES)
        # Every batch as pandas, as the guide does.
        df = actual.to_pandas()
        ensure(len(df) == GUIDE_ROWS, "to_pandas gave %d rows" % len(df))

    def t_columns_partitions(self):
        resp = self.arrow_client.create_read_session(
            required_data_columns=["id", "name", "value"],
            required_partitions=["pt=%s" % P1],
        )
        ensure(resp.record_count == 25, "record_count %r, expected 25" % resp.record_count)
        actual = self.read_session(self.arrow_client, resp)
        expected = self.fx.guide_where(lambda i: guide_pt(i) == P1)
        ensure(actual.column_names[:3] == ["id", "name", "value"], "columns %s" % actual.column_names)
        ensure(set(actual.column_names) <= {"id", "name", "value", "pt"}, "columns %s" % actual.column_names)
        assert_same_rows(actual, expected, ["id", "name", "value"], exact_names=False)

    def t_partition_columns(self):
        resp = self.arrow_client.create_read_session(required_partition_columns=["pt"])
        actual = self.read_session(self.arrow_client, resp)
        assert_same_rows(actual, self.fx.guide, GUIDE_ALL_NAMES)

    def t_split_size(self):
        resp = self.arrow_client.create_read_session(split_options=self.split_opts("SIZE", 1024))
        ensure(resp.splits_count > 1, "SplitNumber 1024 bytes over ~40 rows gave %r splits" % resp.splits_count)
        actual = self.read_session(self.arrow_client, resp)
        assert_unique_ids(actual)
        assert_same_rows(actual, self.fx.guide, GUIDE_ALL_NAMES)
        self.state["many_splits"] = resp

    def t_split_parallelism(self):
        resp = self.arrow_client.create_read_session(
            required_data_columns=["id", "name"],
            split_options=self.split_opts("PARALLELISM", 10),
        )
        ensure(resp.splits_count == 10, "PARALLELISM 10 over 40 rows gave %r splits" % resp.splits_count)
        counts = []
        batches = []
        for i in range(resp.splits_count):
            got = self.read_split(self.arrow_client, resp.session_id, i)
            counts.append(sum(b.num_rows for b in got))
            batches.extend(got)
        ensure(all(n > 0 for n in counts), "rows per split %s: an empty split" % counts)
        assert_same_rows(to_table(batches), self.fx.guide, ["id", "name"], exact_names=False)

    def t_split_row_offset(self):
        resp = self.arrow_client.create_read_session(split_options=self.split_opts("ROW_OFFSET", 8))
        ensure(resp.record_count == GUIDE_ROWS, "record_count %r" % resp.record_count)
        batches, sizes = [], []
        for offset in range(0, resp.record_count, 8):
            got = self.read_split(self.arrow_client, resp.session_id, row_offset=offset, row_count=8)
            sizes.append(sum(b.num_rows for b in got))
            batches.extend(got)
        ensure(sizes == [8] * 5, "rows per range %s, expected 5 x 8" % sizes)
        actual = to_table(batches)
        assert_unique_ids(actual)
        assert_same_rows(actual, self.fx.guide, GUIDE_ALL_NAMES)

    def bucket_rows(self):
        """Bucket id -> ids, from a Bucket-mode session over every bucket."""
        if "buckets" in self.state:
            return self.state["buckets"]
        client = self.client_for("clustered")
        resp = client.create_read_session(split_options=self.split_opts("BUCKET"))
        ensure(resp.splits_count == 4, "Bucket mode over 4 buckets gave %r splits" % resp.splits_count)
        bucket_ids = resp.split_bucket_id
        ensure(isinstance(bucket_ids, list) and len(bucket_ids) == 4,
               "SplitBucketId %r, expected one bucket id per split" % bucket_ids)
        buckets = {}
        for i in range(resp.splits_count):
            t = to_table(self.read_split(client, resp.session_id, i))
            buckets[int(bucket_ids[i])] = t.column("id").to_pylist() if t is not None else []
        self.state["buckets"] = buckets
        return buckets

    def t_split_bucket(self):
        buckets = self.bucket_rows()
        all_ids = sorted(i for ids in buckets.values() for i in ids)
        ensure(all_ids == list(range(100, 140)), "the buckets hold %s" % all_ids)
        ensure(sorted(buckets) == [0, 1, 2, 3], "bucket ids %s" % sorted(buckets))

    def t_bucket_ids_strings(self):
        client = self.client_for("clustered")
        # Exactly as the guide: bucket ids as strings.
        resp = client.create_read_session(required_bucket_ids=["0", "1"])
        actual = self.read_session(client, resp)
        buckets = self.bucket_rows()
        expected_ids = sorted(buckets[0] + buckets[1])
        got = sorted(actual.column("id").to_pylist()) if actual is not None else []
        ensure(got == expected_ids, "buckets 0,1 gave ids %s, expected %s" % (got, expected_ids))

    def t_cross_partition(self):
        resp = self.arrow_client.create_read_session(
            split_options=self.split_opts("SIZE", 1 << 30, cross_partition=False)
        )
        ensure(resp.splits_count == 2, "2 partitions with CrossPartition false gave %r splits" % resp.splits_count)
        seen = []
        for i in range(resp.splits_count):
            t = to_table(self.read_split(self.arrow_client, resp.session_id, i))
            pts = set(t.column("pt").to_pylist())
            ensure(len(pts) == 1, "split %d mixes partitions %s" % (i, pts))
            seen.extend(t.column("id").to_pylist())
        ensure(sorted(seen) == list(range(GUIDE_ROWS)), "ids %s" % sorted(seen))

    def t_raw_stream(self):
        resp = self.client.create_read_session()
        batches = []
        for i in range(resp.splits_count):
            reader = self.client.read_rows_stream(resp.session_id, split_index=i)
            arrow_reader = self.sa.ArrowReader(reader)
            batches.extend(self.read_batches(arrow_reader))
            ensure(arrow_reader.get_status() == self.sa.Status.OK, "status %r" % arrow_reader.get_status())
            ensure(arrow_reader.get_request_id(), "no request id after the read")
        assert_same_rows(to_table(batches), self.fx.guide, GUIDE_ALL_NAMES)

    def _split0(self):
        resp = self.arrow_client.create_read_session()
        full = to_table(self.read_split(self.arrow_client, resp.session_id, 0))
        ensure(full is not None and full.num_rows >= 10, "split 0 too small")
        return resp, full

    def t_row_range(self):
        resp, full = self._split0()
        got = to_table(self.read_split(self.arrow_client, resp.session_id, 0, row_offset=2, row_count=5))
        assert_same_rows(got, full.slice(2, 5), GUIDE_ALL_NAMES, ordered=True)

    def t_max_batch_rows(self):
        resp, full = self._split0()
        batches = self.read_split(self.arrow_client, resp.session_id, 0, max_batch_rows=3)
        sizes = [b.num_rows for b in batches]
        ensure(all(s <= 3 for s in sizes), "batch sizes %s exceed 3" % sizes)
        assert_same_rows(to_table(batches), full, GUIDE_ALL_NAMES, ordered=True)

    def t_max_batch_raw_size(self):
        resp, full = self._split0()
        batches = self.read_split(self.arrow_client, resp.session_id, 0, max_batch_raw_size=8 * 1024 * 1024)
        assert_same_rows(to_table(batches), full, GUIDE_ALL_NAMES, ordered=True)
        small = self.read_split(self.arrow_client, resp.session_id, 0, max_batch_raw_size=200)
        ensure(len(small) > 1, "max_batch_raw_size=200 still gave %d batch(es)" % len(small))
        assert_same_rows(to_table(small), full, GUIDE_ALL_NAMES, ordered=True)

    def t_skip_rows(self):
        resp, full = self._split0()
        got = to_table(self.read_split(self.arrow_client, resp.session_id, 0, skip_row_num=3))
        assert_same_rows(got, full.slice(3), GUIDE_ALL_NAMES, ordered=True)

    def t_data_columns(self):
        resp, full = self._split0()
        got = to_table(self.read_split(self.arrow_client, resp.session_id, 0, data_columns=["id", "name"]))
        assert_same_rows(got, full, ["id", "name"], ordered=True)

    def t_data_format(self):
        resp, full = self._split0()
        fmt = self.sa.DataFormat()
        fmt.type, fmt.version = "Arrow", "V5"
        got = to_table(self.read_split(self.arrow_client, resp.session_id, 0, data_format=fmt))
        assert_same_rows(got, full, GUIDE_ALL_NAMES, ordered=True)

    def t_read_compressed(self, algo):
        resp = self.arrow_client.create_read_session()
        got = self.read_session(self.arrow_client, resp, compression=getattr(self.sa.Compression, algo))
        assert_same_rows(got, self.fx.guide, GUIDE_ALL_NAMES)

    def t_parallel_threads(self):
        resp = self.arrow_client.create_read_session(split_options=self.split_opts("SIZE", 1024))
        ensure(resp.splits_count > 1, "%r splits" % resp.splits_count)

        def read_split(split_index):
            batches = self.read_split(self.arrow_client, resp.session_id, split_index)
            return pa.concat_batches(batches) if batches else None

        with ThreadPoolExecutor(max_workers=resp.splits_count) as pool:
            futures = [pool.submit(read_split, i) for i in range(resp.splits_count)]
            results = [f.result() for f in futures]
        assert_same_rows(to_table(results), self.fx.guide, GUIDE_ALL_NAMES)

    def t_parallel_processes(self):
        resp = self.arrow_client.create_read_session(split_options=self.split_opts("SIZE", 1024))
        ctx = multiprocessing.get_context("spawn")
        jobs = [
            (self.args.addr, self.args.access_id, self.args.access_key, "guide", resp.session_id, i)
            for i in range(resp.splits_count)
        ]
        with ctx.Pool(processes=min(resp.splits_count, 4)) as pool:
            results = pool.map_async(_mp_read_split, jobs).get(timeout=120)
        ids = sorted(i for r in results for i in r)
        ensure(ids == list(range(GUIDE_ROWS)), "processes read ids %s" % ids)

    def t_refresh(self):
        resp = self.arrow_client.create_read_session()
        status = self.arrow_client.get_read_session(resp.session_id)
        ensure(status.session_id == resp.session_id, "session_id %r" % status.session_id)
        ensure(status.session_status == self.sa.SessionStatus.NORMAL, "status %r" % status.session_status)
        ensure(status.splits_count == resp.splits_count and status.record_count == resp.record_count,
               "get_read_session: splits %r records %r" % (status.splits_count, status.record_count))
        refreshed = self.arrow_client.get_read_session(resp.session_id, refresh=True)
        ensure(refreshed.session_status == self.sa.SessionStatus.NORMAL, "status %r" % refreshed.session_status)
        ensure(refreshed.expiration_time >= status.expiration_time,
               "refresh moved expiration_time back: %r < %r" % (refreshed.expiration_time, status.expiration_time))

    def t_incremental_version(self):
        client = self.client_for("incr")
        described = self.admin.describe("incr")
        opts = self.sa.IncrementalReadOptions()
        opts.start_version = described["Version"] - 1
        resp = client.create_read_session(incremental_read=True, incremental_read_options=opts)
        ensure(resp.latest_version == described["Version"],
               "latest_version %r, expected %r" % (resp.latest_version, described["Version"]))
        assert_same_rows(self.read_session(client, resp), self.fx.incr_v2)

    def t_incremental_time(self):
        client = self.client_for("incr")
        opts = self.sa.IncrementalReadOptions()
        now = datetime.datetime.now(datetime.timezone.utc)
        opts.start_time_stamp = (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
        opts.end_time_stamp = (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
        resp = client.create_read_session(incremental_read=True, incremental_read_options=opts)
        assert_same_rows(self.read_session(client, resp), pa.concat_tables([self.fx.incr_v1, self.fx.incr_v2]))
        # The guide's own range (2023-01-01 .. 2023-01-02) holds no commit.
        opts2 = self.sa.IncrementalReadOptions()
        opts2.start_time_stamp = "2023-01-01 00:00:00"
        opts2.end_time_stamp = "2023-01-02 00:00:00"
        resp2 = client.create_read_session(incremental_read=True, incremental_read_options=opts2)
        ensure(resp2.record_count == 0, "a 2023 range gave record_count %r" % resp2.record_count)

    def t_filter(self):
        resp = self.arrow_client.create_read_session(filter_predicate="id > 10 AND name = 'name_12'")
        assert_same_rows(self.read_session(self.arrow_client, resp), self.fx.guide_where(lambda i: i == 12),
                         GUIDE_ALL_NAMES)
        resp = self.arrow_client.create_read_session(filter_predicate="(id < 3 OR id >= 38) AND pt <> '20230101'")
        assert_same_rows(self.read_session(self.arrow_client, resp), self.fx.guide_where(lambda i: i >= 38),
                         GUIDE_ALL_NAMES)

    def t_filter_fallback(self):
        resp = self.arrow_client.create_read_session(filter_predicate="id > 35", filter_predicate_fallback=True)
        assert_same_rows(self.read_session(self.arrow_client, resp), self.fx.guide_where(lambda i: i > 35),
                         GUIDE_ALL_NAMES)

    def t_split_max_file_num(self):
        resp = self.arrow_client.create_read_session(split_max_file_num=1000)
        assert_same_rows(self.read_session(self.arrow_client, resp), self.fx.guide, GUIDE_ALL_NAMES)

    def _arrow_units(self, ts_unit, dt_unit, ts_arrow, dt_arrow):
        opts = self.sa.ArrowOptions()
        opts.timestamp_unit = getattr(self.sa.ArrowOptions.TimestampUnit, ts_unit)
        opts.date_time_unit = getattr(self.sa.ArrowOptions.TimestampUnit, dt_unit)
        resp = self.arrow_client.create_read_session(
            required_data_columns=["id", "ts", "dtm"], arrow_options=opts
        )
        got = self.read_session(self.arrow_client, resp)
        e = self.fx.guide
        expected = pa.table({
            "id": e.column("id"),
            "ts": pc.cast(e.column("ts"), pa.timestamp(ts_arrow), safe=False),
            "dtm": pc.cast(e.column("dtm"), pa.timestamp(dt_arrow), safe=False),
        })
        assert_same_rows(got, expected, ["id", "ts", "dtm"], exact_names=False)

    def t_arrow_options(self):
        self._arrow_units("MICRO", "MILLI", "us", "ms")

    def t_arrow_options_2(self):
        self._arrow_units("SECOND", "NANO", "s", "ns")

    def t_partition_pandas(self):
        resp = self.arrow_client.create_read_session(required_partitions=["pt=%s" % P2])
        batches = []
        for split_index in range(resp.splits_count):
            batches.extend(self.read_split(self.arrow_client, resp.session_id, split_index))
        df = pa.concat_batches(batches).to_pandas() if batches else None
        ensure(df is not None and sorted(df["id"].tolist()) == list(range(25, 40)),
               "ids %s" % (None if df is None else sorted(df["id"].tolist())))
        assert_same_rows(to_table(batches), self.fx.guide_where(lambda i: guide_pt(i) == P2), GUIDE_ALL_NAMES)

    # Preview -------------------------------------------------------------

    def _check_preview(self, batches, limit, pred=lambda i: True, columns=None):
        got = to_table(batches)
        ensure(got is not None and 0 < got.num_rows <= limit, "preview gave %s rows (limit %d)"
               % (None if got is None else got.num_rows, limit))
        ids = got.column("id").to_pylist()
        ensure(all(pred(i) for i in ids), "preview rows %s outside the selection" % ids)
        expected = self.fx.guide_where(lambda i: i in set(ids))
        assert_same_rows(got, expected, columns or GUIDE_ALL_NAMES, exact_names=columns is not None)

    def t_preview_limit(self):
        reader = self.arrow_client.preview_table_arrow(limit=10)
        batch = reader.read()
        ensure(batch is not None, "no batch")
        batch.to_pandas()
        self._check_preview([batch] + self.read_batches(reader), 10)

    def t_preview_raw(self):
        stream_reader = self.client.preview_table(limit=10)
        arrow_reader = self.sa.ArrowReader(stream_reader)
        self._check_preview(self.read_batches(arrow_reader), 10)

    def t_preview_partition(self):
        reader = self.arrow_client.preview_table_arrow(limit=10, partition="pt=%s" % P2)
        self._check_preview(self.read_batches(reader), 10, lambda i: guide_pt(i) == P2)

    def t_preview_columns(self):
        reader = self.arrow_client.preview_table_arrow(limit=10, columns=["id", "name"])
        self._check_preview(self.read_batches(reader), 10, columns=["id", "name"])

    # Instances -----------------------------------------------------------

    def instance_client(self, instance_id):
        instance = self.odps.get_instance(instance_id)
        return self.sa.StorageApiArrowClient(self.odps, instance)

    def t_instance_read(self):
        instance_client = self.instance_client(self.fx.instance_id)
        read_resp = instance_client.create_read_session()
        ensure(read_resp.session_id, "no session id (DownloadID)")
        ensure(read_resp.record_count == GUIDE_ROWS, "record_count %r" % read_resp.record_count)
        ensure(isinstance(read_resp.splits_count, int) and read_resp.splits_count >= 1,
               "splits_count %r: the guide loops over range(read_resp.splits_count)" % read_resp.splits_count)
        batches = []
        for split_index in range(read_resp.splits_count):
            reader = instance_client.read_rows_arrow(read_resp.session_id, split_index=split_index)
            while True:
                batch = reader.read()
                if batch is None:
                    break
                batch.to_pandas()
                batches.append(batch)
        assert_same_rows(to_table(batches), self.fx.guide, GUIDE_ALL_NAMES, exact_names=False)
        self.state["instance_session"] = read_resp

    def t_instance_get(self):
        instance_client = self.instance_client(self.fx.instance_id)
        read_resp = self.state.get("instance_session") or instance_client.create_read_session()
        got = instance_client.get_read_session(read_resp.session_id)
        ensure(got.session_id == read_resp.session_id, "session_id %r" % got.session_id)
        ensure(got.record_count == GUIDE_ROWS, "record_count %r" % got.record_count)

    def t_instance_partition(self):
        instance_client = self.instance_client(self.fx.instance_partition_id)
        read_resp = instance_client.create_read_session()
        ensure(isinstance(read_resp.splits_count, int), "splits_count %r" % read_resp.splits_count)
        batches = []
        for i in range(read_resp.splits_count):
            batches.extend(self.read_split(instance_client, read_resp.session_id, i))
        assert_same_rows(to_table(batches), self.fx.guide_where(lambda i: guide_pt(i) == P2), ["id", "name"])

    def t_instance_write(self):
        instance_client = self.instance_client(self.fx.instance_id)
        try:
            instance_client.create_write_session()
        except ValueError:
            return
        raise CheckFailed("create_write_session on an instance client did not raise ValueError")

    # Writing -------------------------------------------------------------

    def t_write_complete(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        write_resp = arrow_client.create_write_session()
        session_id = write_resp.session_id
        ensure(session_id, "no session id")
        stream_resp = arrow_client.create_write_stream(session_id, stream_id=0)
        ensure(stream_resp.data_schema, "create_write_stream returned no TableSchema")
        schema = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string()), pa.field("value", pa.float64())])
        batch = pa.record_batch([
            pa.array([1, 2, 3]), pa.array(["Alice", "Bob", "Carol"]), pa.array([100.0, 200.0, 150.0]),
        ], schema=schema)
        writer = arrow_client.write_rows_arrow(session_id, stream_id=0, record_count=3)
        writer.write(batch)
        commit_msg, success = writer.finish()
        ensure(success, "finish() success=False")
        ensure(writer.get_request_id(), "no request id")
        ensure(self.admin.dump(name).num_rows == 0, "rows visible before commit")
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        assert_same_rows(self.admin.dump(name), pa.Table.from_batches([batch]))

    def t_stream_status(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        self.write_rows(arrow_client, session_id, 0, people_batch([1, 2, 3]))
        stream_status = arrow_client.get_write_stream(session_id, stream_id=0, stream_version=0)
        problems = []
        if stream_status.status is None:
            problems.append("Status missing")
        if stream_status.record_count != 3:
            problems.append("RecordCount %r (expected 3)" % stream_status.record_count)
        if not (isinstance(stream_status.byte_size, int) and stream_status.byte_size > 0):
            problems.append("ByteSize %r (expected > 0)" % stream_status.byte_size)
        ensure(not problems, "get_write_stream: " + "; ".join(problems)
               + " — the SDK reads the PascalCase keys Status/RecordCount/ByteSize")
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        assert_same_rows(self.admin.dump(name), people_table([1, 2, 3]))

    def t_write_session_status(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        arrow_client.create_write_stream(session_id, stream_id=1)
        status = arrow_client.get_write_session(session_id)
        ensure(status.streams, "get_write_session: streams %r" % status.streams)
        text = json.dumps(status.streams)
        ensure('"0"' in text and '"1"' in text, "streams %s do not list streams 0 and 1" % text)
        arrow_client.abort_write_session(session_id)

    def t_write_compressed(self, algo):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        ids = list(range(100))
        self.write_rows(arrow_client, session_id, 0, people_batch(ids), compression=getattr(self.sa.Compression, algo))
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        assert_same_rows(self.admin.dump(name), people_table(ids))

    def t_write_raw(self):
        name = self.fx.fresh("people")
        client = self.client_for(name, raw=True)
        write_resp = client.create_write_session()
        session_id = write_resp.session_id
        client.create_write_stream(session_id, stream_id=0)
        stream_writer = client.write_rows_stream(session_id, stream_id=0, record_count=3)
        arrow_writer = self.sa.ArrowWriter(stream_writer, self.sa.Compression.UNCOMPRESSED)
        batch = people_batch([7, 8, 9])
        arrow_writer.write(batch)
        commit_msg, success = arrow_writer.finish()
        ensure(success, "finish() success=False")
        client.close_write_stream(session_id, stream_id=0)
        client.commit_write_session(session_id)
        assert_same_rows(self.admin.dump(name), people_table([7, 8, 9]))

    def t_write_parallel(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        batch_data = [people_batch(list(range(k * 10, k * 10 + 10))) for k in range(3)]

        def write_stream(stream_id, data_batch):
            arrow_client.create_write_stream(session_id, stream_id=stream_id)
            writer = arrow_client.write_rows_arrow(session_id, stream_id=stream_id, record_count=len(data_batch))
            writer.write(data_batch)
            _, success = writer.finish()
            ensure(success, "stream %d: finish() success=False" % stream_id)
            arrow_client.close_write_stream(session_id, stream_id=stream_id)

        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(write_stream, i, batch_data[i]) for i in range(3)]
            [f.result() for f in futures]
        arrow_client.commit_write_session(session_id)
        assert_same_rows(self.admin.dump(name), people_table(list(range(30))))

    def t_write_pandas(self):
        import pandas as pd

        name = self.fx.fresh("people")
        df = pd.DataFrame({"id": [1, 2, 3], "name": ["Alice", "Bob", "Carol"], "value": [100.0, 200.0, 150.0]})
        batch = pa.RecordBatch.from_pandas(df)
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        writer = arrow_client.write_rows_arrow(session_id, stream_id=0, record_count=len(df))
        writer.write(batch)
        _, success = writer.finish()
        ensure(success, "finish() success=False (batch schema: %s)" % batch.schema.types)
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        expected = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": pa.array(["Alice", "Bob", "Carol"]),
                             "value": pa.array([100.0, 200.0, 150.0])})
        assert_same_rows(self.admin.dump(name), expected)

    def _part_table(self):
        return self.fx.fresh("people_pt", PEOPLE_COLUMNS, [("pt", "string")])

    def t_write_partition(self):
        name = self._part_table()
        arrow_client = self.client_for(name)
        write_resp = arrow_client.create_write_session(partial_partition_spec="pt=%s" % P1)
        session_id = write_resp.session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        self.write_rows(arrow_client, session_id, 0, people_batch([1, 2]))
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        dumped = self.admin.dump(name)
        assert_same_rows(dumped, people_table([1, 2]).append_column("pt", pa.array([P1, P1])))
        self.state["part_table"] = name

    def t_write_overwrite(self):
        name = self.state.get("part_table") or self._part_table()
        self.admin.insert(name, people_table([50]).append_column("pt", pa.array([P2])))
        arrow_client = self.client_for(name)
        write_resp = arrow_client.create_write_session(partial_partition_spec="pt=%s" % P1, flags={"overwrite": True})
        session_id = write_resp.session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        self.write_rows(arrow_client, session_id, 0, people_batch([10, 11, 12]))
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        expected = people_table([10, 11, 12, 50]).append_column("pt", pa.array([P1, P1, P1, P2]))
        assert_same_rows(self.admin.dump(name), expected)

    def t_write_dynamic(self):
        name = self._part_table()
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        batch = people_batch([1, 2, 3, 4])
        batch = pa.RecordBatch.from_arrays(
            list(batch.columns) + [pa.array(["a", "b", "a", "c"])], names=["id", "name", "value", "pt"]
        )
        self.write_rows(arrow_client, session_id, 0, batch)
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        assert_same_rows(self.admin.dump(name), pa.Table.from_batches([batch]))
        parts = self.admin.describe(name)["Partitions"]
        ensure(parts == ["pt=a", "pt=b", "pt=c"], "partitions %s" % parts)

    def t_commit_stream_ids(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        for sid, ids in (("0", [1, 2]), ("1", [3])):
            arrow_client.create_write_stream(session_id, stream_id=sid)
            self.write_rows(arrow_client, session_id, sid, people_batch(ids))
            arrow_client.close_write_stream(session_id, stream_id=sid)
        arrow_client.commit_write_session(session_id, stream_ids=["0", "1"], stream_versions=[0, 0])
        assert_same_rows(self.admin.dump(name), people_table([1, 2, 3]))

    def t_abort(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        self.write_rows(arrow_client, session_id, 0, people_batch([1, 2]))
        arrow_client.abort_write_session(session_id)
        ensure(self.admin.dump(name).num_rows == 0, "rows visible after abort")
        mark = HTTP.mark()
        try:
            arrow_client.commit_write_session(session_id)
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableCommitWriteSession")
        ensure(self.admin.dump(name).num_rows == 0, "rows visible after commit of an aborted session")

    def t_route_token(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        write_resp = arrow_client.create_write_session()
        token = arrow_client.route_token
        ensure(token, "no route token stored after create_write_session")
        ensure(write_resp.route_token == token, "response route_token %r" % write_resp.route_token)
        session_id = write_resp.session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        self.write_rows(arrow_client, session_id, 0, people_batch([5]))
        arrow_client.close_write_stream(session_id, stream_id=0)
        mark = HTTP.mark()
        arrow_client.commit_write_session(session_id, route_token=token)
        sent = [e["req_headers"].get("x-odps-max-storage-route-token") for e in HTTP.since(mark)]
        ensure(token in sent, "commit did not carry the route token")
        assert_same_rows(self.admin.dump(name), people_table([5]))

    def t_write_mismatch(self):
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        session_id = arrow_client.create_write_session().session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        mark = HTTP.mark()
        try:
            writer = arrow_client.write_rows_arrow(session_id, stream_id=0, record_count=1)
            writer.write(pa.record_batch([pa.array([1])], names=["nope"]))
            writer.finish()
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableWrite", 400)

    # Exactly-once --------------------------------------------------------

    def t_eo_guide_flow(self):
        """The guide's Exactly-Once section, literally: create_write_stream's access_token
        (None with this SDK, which cannot ask for exactly-once there) passed to the write."""
        name = self.fx.fresh("people")
        arrow_client = self.client_for(name)
        write_resp = arrow_client.create_write_session()
        session_id = write_resp.session_id
        stream_resp = arrow_client.create_write_stream(session_id, stream_id=0)
        access_token = stream_resp.access_token
        batch = people_batch([1, 2, 3])
        writer = arrow_client.write_rows_arrow(session_id, stream_id=0, record_count=3, access_token=access_token)
        writer.write(batch)
        _, success = writer.finish()
        ensure(success, "finish() success=False")
        writer.get_write_stream_response()
        stream_status = arrow_client.get_write_stream(session_id, stream_id=0, stream_version=0)
        ensure(stream_status is not None, "no stream status")
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        assert_same_rows(self.admin.dump(name), people_table([1, 2, 3]))

    def _eo(self):
        if "eo" not in self.state:
            name = self.fx.fresh("people_eo")
            client = self.client_for(name)
            session_id = client.create_write_session().session_id
            client.create_write_stream(session_id, stream_id=1)
            self.state["eo"] = {"name": name, "client": client, "sid": session_id, "token": None}
        return self.state["eo"]

    def t_eo_token(self):
        eo = self._eo()
        status = eo["client"].get_write_stream(eo["sid"], stream_id=1, stream_version=0, exactly_once_mode=True)
        ensure(status.access_token, "get_write_stream(exactly_once_mode=True) returned no AccessToken")
        ensure(status.row_offset == 0, "RowOffset %r, expected 0" % status.row_offset)
        eo["token"] = status.access_token

    def _eo_write(self, ids, row_offset, token=None):
        eo = self._eo()
        writer = eo["client"].write_rows_arrow(
            eo["sid"], stream_id=1, record_count=len(ids), row_offset=row_offset,
            access_token=token if token is not None else eo["token"],
        )
        writer.write(people_batch(ids))
        _, success = writer.finish()
        return writer, success

    def t_eo_write(self):
        eo = self._eo()
        ensure(eo["token"], "no access token (see get_write_stream_issues_token)")
        writer, success = self._eo_write([1, 2, 3], 0)
        ensure(success, "finish() success=False")
        resp = writer.get_write_stream_response()
        ensure(resp is not None and resp.exactly_once_row_offset == 3,
               "ExactlyOnceRowOffset %r, expected 3" % (resp and resp.exactly_once_row_offset))

    def t_eo_retry(self):
        eo = self._eo()
        mark = HTTP.mark()
        try:
            self._eo_write([1, 2, 3], 0)  # the same write again: idempotent or refused
        except Exception:  # noqa: BLE001
            pass
        status = eo["client"].get_write_stream(eo["sid"], stream_id=1, stream_version=0, exactly_once_mode=True)
        ensure(status.row_offset == 3, "after a retried write RowOffset is %r, expected 3 (stored twice?)"
               % status.row_offset)
        ensure(HTTP.since(mark), "nothing sent")

    def t_eo_wrong_offset(self):
        eo = self._eo()
        mark = HTTP.mark()
        try:
            _, success = self._eo_write([90, 91], 7)
        except Exception:  # noqa: BLE001
            success = False
        ensure(not success, "a write at RowOffset 7 (next is 3) was accepted")
        refusal(HTTP.since(mark), "TableWrite")

    def t_eo_bad_token(self):
        eo = self._eo()
        mark = HTTP.mark()
        try:
            _, success = self._eo_write([92], 3, token="eo-not-the-token")
        except Exception:  # noqa: BLE001
            success = False
        ensure(not success, "a write with a wrong access token was accepted")
        refusal(HTTP.since(mark), "TableWrite")

    def t_eo_next(self):
        eo = self._eo()
        status = eo["client"].get_write_stream(eo["sid"], stream_id=1, stream_version=0, exactly_once_mode=True)
        ensure(status.row_offset == 3, "RowOffset %r before the second write, expected 3" % status.row_offset)
        token = status.access_token or eo["token"]
        writer, success = self._eo_write([4, 5, 6], status.row_offset, token)
        ensure(success, "finish() success=False")
        resp = writer.get_write_stream_response()
        ensure(resp is not None and resp.exactly_once_row_offset == 6,
               "ExactlyOnceRowOffset %r, expected 6" % (resp and resp.exactly_once_row_offset))

    def t_eo_commit(self):
        eo = self._eo()
        eo["client"].close_write_stream(eo["sid"], stream_id=1)
        eo["client"].commit_write_session(eo["sid"])
        dumped = self.admin.dump(eo["name"])
        assert_unique_ids(dumped)
        assert_same_rows(dumped, people_table([1, 2, 3, 4, 5, 6]))

    # Blobs ---------------------------------------------------------------

    def t_blob_setup(self):
        name = self.fx.fresh("blobs", BLOB_COLUMNS, BLOB_PARTS)
        arrow_client = self.client_for(name)
        write_resp = arrow_client.create_write_session(partial_partition_spec="pt=%s" % P1)
        session_id = write_resp.session_id
        stream_resp = arrow_client.create_write_stream(session_id, stream_id=0)
        schema = self.sa.parse_write_schema(stream_resp.data_schema)
        ensure(schema is not None, "create_write_stream returned no TableSchema")
        blob_ids = schema.find_all_blob_column_ids()
        ensure(blob_ids == {"data": 1}, "blob column ids from TableSchema: %s, expected {'data': 1}" % blob_ids)
        self.state["blob"] = {"name": name, "client": arrow_client, "sid": session_id, "refs": []}

    def _blob(self):
        ensure("blob" in self.state, "blob setup failed")
        return self.state["blob"]

    def t_blob_stream(self, algo):
        b = self._blob()
        data = blob_payload(len(b["refs"]) + 1, 20000)
        kw = {} if algo == "UNCOMPRESSED" else {"compression": getattr(self.sa.Compression, algo)}
        blob_writer = b["client"].write_blob_stream(b["sid"], stream_id=0, partition_values=["pt=%s" % P1], **kw)
        blob_writer.write(data)
        response = blob_writer.finish()
        ensure(response is not None and response.blob_reference, "no blob_reference")
        ensure(response.size in (None, len(data)), "Size %r, expected %d" % (response.size, len(data)))
        b["refs"].append((response.blob_reference, data, None))

    def t_blob_batch(self):
        b = self._blob()
        items = [
            self.sa.BlobWriteItem(data=blob_payload(10, 9000), partition_values=["pt=%s" % P1], column_index=1,
                                  mime_type="image/png", checksum_type=self.sa.ChecksumType.MD5,
                                  distribution_key="key1"),
            self.sa.BlobWriteItem(data=blob_payload(11, 5000), partition_values=["pt=%s" % P1], column_index=1,
                                  checksum_type=self.sa.ChecksumType.CRC32),
            self.sa.BlobWriteItem(data=b"blob data 3", partition_values=["pt=%s" % P1], column_index=1),
        ]
        response = b["client"].write_blob_batch(items, session_id=b["sid"], stream_id=0)
        refs = response.blob_references
        ensure(isinstance(refs, list) and len(refs) == 3, "blob_references %r" % refs)
        for ref, item in zip(refs, items):
            b["refs"].append((ref, item.data, item.mime_type))

    def t_blob_checksum(self):
        b = self._blob()
        bad = self.sa.BlobWriteItem(data=b"corrupt", partition_values=["pt=%s" % P1], column_index=1,
                                    checksum_type=self.sa.ChecksumType.MD5)
        orig = bad.write_frame_to

        def corrupt_frame(stream, chunk_size=256 * 1024):
            buf = io.BytesIO()
            orig(buf, chunk_size)
            stream.write(buf.getvalue().replace(hashlib.md5(b"corrupt").hexdigest().encode(), b"0" * 32))

        bad.write_frame_to = corrupt_frame
        mark = HTTP.mark()
        try:
            b["client"].write_blob_batch([bad], session_id=b["sid"], stream_id=0)
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableWriteBlob", 400)

    def _check_blob_records(self, records, expected):
        ensure(len(records) == len(expected), "%d blobs read, expected %d" % (len(records), len(expected)))
        for k, ((data, mime), (_, want, want_mime)) in enumerate(zip(records, expected)):
            ensure(data == want, "blob %d: %d bytes read, expected %d (first difference at %s)"
                   % (k, len(data), len(want), next((i for i in range(min(len(data), len(want)))
                                                     if data[i] != want[i]), min(len(data), len(want)))))
            if want_mime:
                ensure(mime == want_mime, "blob %d: MIME type %r, expected %r" % (k, mime, want_mime))

    def t_blob_read_iter(self):
        b = self._blob()
        ensure(len(b["refs"]) >= 2, "nothing uploaded")
        iterator = b["client"].read_blobs(blob_references=[r for r, _, _ in b["refs"]])
        records = [(rec.data, rec.mime_type) for rec in iterator]
        self._check_blob_records(records, b["refs"])

    def t_blob_read_stream(self):
        b = self._blob()
        ensure(len(b["refs"]) >= 2, "nothing uploaded")
        stream_reader = b["client"].read_blobs(blob_references=[r for r, _, _ in b["refs"]], stream=True)
        records, current, mime = [], [], None
        while stream_reader is not None:
            chunk = stream_reader.read(4096)
            if not chunk:
                records.append((b"".join(current), stream_reader.mime_type))
                current = []
                stream_reader = stream_reader.next()
            else:
                current.append(chunk)
        self._check_blob_records(records, b["refs"])

    def t_blob_read_single(self):
        b = self._blob()
        ensure(b["refs"], "nothing uploaded")
        ref, data, _ = b["refs"][0]
        records = [(rec.data, rec.mime_type) for rec in b["client"].read_blobs(blob_references=[ref])]
        self._check_blob_records(records, [(ref, data, None)])

    def t_blob_read_compressed(self, algo):
        b = self._blob()
        ensure(len(b["refs"]) >= 2, "nothing uploaded")
        iterator = b["client"].read_blobs(
            blob_references=[r for r, _, _ in b["refs"]], compression=getattr(self.sa.Compression, algo)
        )
        records = [(rec.data, rec.mime_type) for rec in iterator]
        self._check_blob_records(records, b["refs"])
        ref, data, _ = b["refs"][0]
        single = [(rec.data, rec.mime_type) for rec in b["client"].read_blobs(
            blob_references=[ref], compression=getattr(self.sa.Compression, algo))]
        self._check_blob_records(single, [(ref, data, None)])

    def t_blob_guide_example(self):
        name = self.fx.fresh("blob_table", BLOB_COLUMNS, BLOB_PARTS)
        arrow_client = self.client_for(name)
        write_resp = arrow_client.create_write_session()
        session_id = write_resp.session_id
        arrow_client.create_write_stream(session_id, stream_id=0)
        items = [
            self.sa.BlobWriteItem(data=b"hello world", partition_values=["pt=test"]),
            self.sa.BlobWriteItem(data=b"foo bar", partition_values=["pt=test"]),
        ]
        write_resp = arrow_client.write_blob_batch(items, session_id=session_id, stream_id=0)
        blob_refs = write_resp.blob_references
        arrow_client.close_write_stream(session_id, stream_id=0)
        arrow_client.commit_write_session(session_id)
        iterator = arrow_client.read_blobs(blob_references=blob_refs)
        got = [rec.data for rec in iterator]
        ensure(got == [b"hello world", b"foo bar"], "read back %r" % got)

    def t_blob_rows(self):
        b = self._blob()
        ensure(len(b["refs"]) >= 2, "nothing uploaded")
        refs = [base64.b64decode(r) for r, _, _ in b["refs"]]
        n = len(refs)
        batch = pa.record_batch(
            [pa.array(range(n), pa.int64()), pa.array(refs, pa.binary()), pa.array(["row%d" % i for i in range(n)])],
            names=["id", "data", "name"],
        )
        b["client"].create_write_stream(b["sid"], stream_id=1)
        self.write_rows(b["client"], b["sid"], 1, batch)
        b["client"].close_write_stream(b["sid"], stream_id=0)
        b["client"].close_write_stream(b["sid"], stream_id=1)
        b["client"].commit_write_session(b["sid"])
        dumped = self.admin.dump(b["name"])
        ensure(dumped.num_rows == n, "%d rows committed, expected %d" % (dumped.num_rows, n))
        # Read the table back through the SDK, then the blobs its references name.
        client = b["client"]
        resp = client.create_read_session()
        table = self.read_session(client, resp).sort_by("id")
        col = table.column("data").to_pylist()
        records = [(rec.data, rec.mime_type) for rec in client.read_blobs(blob_references=col)]
        self._check_blob_records(records, b["refs"])

    def t_blob_wrong_column(self):
        name = self.fx.fresh("blobs_wc", BLOB_COLUMNS, BLOB_PARTS)
        client = self.client_for(name)
        session_id = client.create_write_session(partial_partition_spec="pt=%s" % P1).session_id
        client.create_write_stream(session_id, stream_id=0)
        b = {"client": client, "sid": session_id}
        mark = HTTP.mark()
        try:
            w = b["client"].write_blob_stream(b["sid"], stream_id=0, partition_values=["pt=%s" % P1], column_index=2)
            w.write(b"not for a string column")
            w.finish()
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableWriteBlob", 400, "single upload, ColumnIndex 2 = string column")
        mark = HTTP.mark()
        try:
            b["client"].write_blob_batch(
                [self.sa.BlobWriteItem(data=b"x", partition_values=["pt=%s" % P1], column_index=0)],
                session_id=b["sid"], stream_id=0,
            )
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableWriteBlob", 400, "Mode=Batch, item ColumnIndex 0 = bigint column")

    def t_blob_bad_reference(self):
        name = self.fx.fresh("blobs_bad", BLOB_COLUMNS, BLOB_PARTS)
        client = self.client_for(name)
        session_id = client.create_write_session(partial_partition_spec="pt=%s" % P1).session_id
        client.create_write_stream(session_id, stream_id=0)
        batch = pa.record_batch(
            [pa.array([1], pa.int64()), pa.array([b"this is not a blob reference"], pa.binary()), pa.array(["x"])],
            names=["id", "data", "name"],
        )
        mark = HTTP.mark()
        try:
            writer = client.write_rows_arrow(session_id, stream_id=0, record_count=1)
            writer.write(batch)
            writer.finish()
            client.close_write_stream(session_id, stream_id=0)
            client.commit_write_session(session_id)
        except Exception:  # noqa: BLE001
            pass
        entries = HTTP.since(mark)
        ensure(self.admin.dump(name).num_rows == 0, "a row whose blob column is not a blob reference was committed")
        refusal(entries, "TableWrite", 400)

    # Errors --------------------------------------------------------------

    def t_parallelism_zero(self):
        mark = HTTP.mark()
        try:
            self.arrow_client.create_read_session(split_options=self.split_opts("PARALLELISM", 0))
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableCreateReadSession", 400)

    def t_unknown_table(self):
        client = self.client_for("no_such_table")
        try:
            client.create_read_session()
        except Exception as e:  # noqa: BLE001
            from odps.errors import ODPSError

            ensure(isinstance(e, ODPSError), "raised %s, not an ODPSError" % type(e).__name__)
            ensure(getattr(e, "status_code", None) == 404, "status %r, expected 404" % getattr(e, "status_code", None))
            ensure("no_such_table" in str(e), "the error does not name the table: %s" % err_line(e))
            ensure("NoSuchTable" in (getattr(e, "code", "") or "") + type(e).__name__,
                   "error code %r" % getattr(e, "code", None))
            return
        raise CheckFailed("reading an unknown table did not raise")

    def t_bad_credentials(self):
        from odps import ODPS
        from odps.errors import ODPSError

        bad = ODPS(self.args.access_id, "not-the-secret", project=PROJECT,
                   endpoint="http://%s/api" % self.args.addr, tunnel_endpoint="http://%s" % self.args.addr)
        client = self.sa.StorageApiArrowClient(bad, bad.get_table("guide"))
        try:
            client.create_read_session()
        except ODPSError as e:
            ensure(getattr(e, "status_code", None) in (401, 403), "status %r" % getattr(e, "status_code", None))
            return
        raise CheckFailed("a request signed with the wrong secret was accepted")

    def t_unknown_session(self):
        try:
            self.arrow_client.get_read_session("no-such-session")
        except Exception as e:  # noqa: BLE001
            ensure(getattr(e, "status_code", None) == 404, "status %r: %s" % (getattr(e, "status_code", None), err_line(e)))
            return
        raise CheckFailed("get_read_session of an unknown session did not raise")

    def t_unknown_column(self):
        mark = HTTP.mark()
        try:
            self.arrow_client.create_read_session(required_data_columns=["no_such_column"])
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableCreateReadSession", 400)

    def t_discovery(self):
        from odps import ODPS

        o = ODPS(self.args.access_id, self.args.access_key, project=PROJECT, endpoint="http://%s/api" % self.args.addr)
        client = self.sa.StorageApiArrowClient(o, o.get_table("guide"))
        resp = client.create_read_session()
        ensure(resp.record_count == GUIDE_ROWS, "record_count %r" % resp.record_count)


# ---------------------------------------------------------------------------
# odps.maxstorage (pyodps 0.13.2): the same walk through its API
# ---------------------------------------------------------------------------


class MaxStorageSuite:
    def __init__(self, args, runner, fx):
        from odps import ODPS, options

        options.retry_times = 1
        options.connect_timeout = 10
        options.read_timeout = 120
        import odps.maxstorage as ms
        from odps.tunnel.io.stream import CompressOption

        self.ms = ms
        self.CompressOption = CompressOption
        self.args = args
        self.r = runner
        self.fx = fx
        self.admin = fx.admin
        self.odps = ODPS(
            args.access_id, args.access_key, project=PROJECT,
            endpoint="http://%s/api" % args.addr, tunnel_endpoint="http://%s" % args.addr,
        )
        self.client = ms.MaxStorageClient(self.odps)
        self.state = {}

    def co(self, algo):
        A = self.CompressOption.CompressAlgorithm
        return self.CompressOption(compress_algo={"zstd": A.ODPS_ZSTD, "lz4": A.ODPS_LZ4}[algo])

    def table(self, name):
        return self.odps.get_table(name)

    @staticmethod
    def read_reader(reader):
        batches = []
        while True:
            b = reader.read()
            if b is None:
                break
            batches.append(b)
        reader.close()
        return batches

    def read_session(self, session, **kw):
        batches = []
        for split in session.splits:
            batches.extend(self.read_reader(session.open_arrow_reader(split, **kw)))
        return to_table(batches)

    def run(self):
        c = self.r.run
        c("read/create_table_read_session_default", self.t_create_default)
        c("read/open_arrow_reader_every_split_exact", self.t_read_all)
        c("read/columns_partitions_partition_columns", self.t_columns_partitions)
        c("read/bucket_ids_ints", self.t_bucket_ids)
        c("read/split_size_small_many_splits", self.t_split_size)
        c("read/split_row_offset_row_range_splits", self.t_row_offset)
        c("read/split_parallelism_10 (stub)", self.t_parallelism_stub)
        c("read/split_bucket (stub)", self.t_bucket_stub)
        c("read/max_batch_rows_skip_data_columns", self.t_reader_options)
        c("read/compression_zstd", lambda: self.t_read_compressed("zstd"))
        c("read/compression_lz4_frame", lambda: self.t_read_compressed("lz4"))
        c("read/reload_session_by_id", self.t_reload)
        c("read/incremental_from_version", self.t_incremental)
        c("read/incremental_time_range", self.t_incremental_time)
        c("read/filter_predicate", self.t_filter)
        c("read/arrow_options_micro", self.t_arrow_options)
        c("read/get_as_record_reader", self.t_record_reader)
        c("preview/limit", self.t_preview)
        c("preview/partition_columns", self.t_preview_partition)
        c("instance/create_instance_read_session", self.t_instance)
        c("instance/partition_and_columns", self.t_instance_partition)
        c("write/open_arrow_writer_commit_dump", self.t_write)
        c("write/stream_status_fields (stub)", self.t_stream_status)
        c("write/compression_zstd", lambda: self.t_write_compressed("zstd"))
        c("write/compression_lz4_frame", lambda: self.t_write_compressed("lz4"))
        c("write/flush_async_two_requests", self.t_flush_async)
        c("write/pandas_dataframe_large_string", self.t_write_pandas)
        c("write/partition_static", self.t_write_partition)
        c("write/partition_overwrite", self.t_write_overwrite)
        c("write/dynamic_partitions", self.t_write_dynamic)
        c("write/reload_session_by_id_commit_stream_ids", self.t_reload_write)
        c("write/get_as_record_writer", self.t_record_writer)
        c("write/abort_discards", self.t_abort)
        c("exactly_once/create_stream_token_and_offsets", self.t_eo)
        c("exactly_once/resume_via_get_write_stream", self.t_eo_resume)
        c("exactly_once/retry_same_offset_not_duplicated", self.t_eo_retry)
        c("exactly_once/wrong_offset_refused", self.t_eo_wrong_offset)
        c("exactly_once/commit_dump_once", self.t_eo_commit)
        c("blob/setup_writer_write_schema", self.t_blob_setup)
        c("blob/write_blob_stream", lambda: self.t_blob_stream(None))
        c("blob/write_blob_stream_zstd", lambda: self.t_blob_stream("zstd"))
        c("blob/write_blob_stream_lz4", lambda: self.t_blob_stream("lz4"))
        c("blob/write_blob_batch_checksums", self.t_blob_batch)
        c("blob/read_blobs_iterator", self.t_blob_read)
        c("blob/read_blobs_stream", self.t_blob_read_stream)
        c("blob/read_blob_single", self.t_blob_single)
        c("blob/read_blobs_zstd", lambda: self.t_blob_read_compressed("zstd"))
        c("blob/read_blobs_lz4_frame", lambda: self.t_blob_read_compressed("lz4"))
        c("blob/auto_upload_blobs_round_trip", self.t_blob_auto_upload)
        c("blob/upload_into_non_blob_column_refused", self.t_blob_wrong_column)
        c("blob/non_reference_value_refused", self.t_blob_bad_reference)
        c("error/parallelism_split_number_0_refused", self.t_parallelism_zero)
        c("error/unknown_table", self.t_unknown_table)
        c("error/bad_credentials", self.t_bad_credentials)
        c("error/unknown_read_session", self.t_unknown_session)

    def opts(self, mode, number=None, cross_partition=True):
        o = self.ms.SplitOptions(split_mode=getattr(self.ms.SplitMode, mode), cross_partition=cross_partition)
        if number is not None:
            o.split_number = number
        return o

    # Reading -------------------------------------------------------------

    def t_create_default(self):
        s = self.client.create_table_read_session(self.table("guide"))
        ensure(s.id, "no id")
        ensure(s.record_count == GUIDE_ROWS, "record_count %r" % s.record_count)
        ensure(len(s.splits) >= 1, "no splits")
        ensure(s.expiration_time and s.expiration_time > time.time() * 1000, "expiration_time %r" % s.expiration_time)
        ensure([c.name for c in s.table_schema.columns] == GUIDE_ALL_NAMES,
               "schema columns %s" % [c.name for c in s.table_schema.columns])
        self.state["default"] = s

    def t_read_all(self):
        s = self.state.get("default") or self.client.create_table_read_session(self.table("guide"))
        assert_same_rows(self.read_session(s), self.fx.guide, GUIDE_ALL_NAMES)

    def t_columns_partitions(self):
        s = self.client.create_table_read_session(
            "guide", columns=["id", "name"], partition_columns=["pt"], partitions=["pt=%s" % P1]
        )
        ensure(s.record_count == 25, "record_count %r" % s.record_count)
        assert_same_rows(self.read_session(s), self.fx.guide_where(lambda i: guide_pt(i) == P1), ["id", "name", "pt"])

    def bucket_rows(self):
        if "buckets" in self.state:
            return self.state["buckets"]
        from odps.maxstorage.models.identifier import TableIdentifier
        from odps.maxstorage.models.requests import CreateTableReadSessionRequest

        tid = TableIdentifier(PROJECT, "clustered", SCHEMA)
        resp = self.client.stub.create_table_read_session(
            tid, CreateTableReadSessionRequest(split_options=self.opts("BUCKET")))
        ensure(resp.splits_count == 4, "Bucket mode gave %r splits" % resp.splits_count)
        ensure(resp.split_bucket_id and len(resp.split_bucket_id) == 4, "SplitBucketId %r" % resp.split_bucket_id)
        buckets = {}
        for i in range(resp.splits_count):
            t = self._stub_read(tid, resp, i)
            buckets[int(resp.split_bucket_id[i])] = t.column("id").to_pylist() if t is not None else []
        self.state["buckets"] = buckets
        return buckets

    def _stub_read(self, tid, resp, index):
        from odps.maxstorage.models.requests import CreateTableReadStreamRequest
        from odps.maxstorage.read.table_session import IndexedInputSplit

        raw = self.client.stub.create_table_read_stream(
            tid, IndexedInputSplit(resp.session_id, index), CreateTableReadStreamRequest(), resp.route_token)
        return to_table(self.read_reader(self.ms.ArrowReader(raw, schema=None)))

    def t_bucket_ids(self):
        s = self.client.create_table_read_session("clustered", bucket_ids=[0, 1])
        got = self.read_session(s)
        buckets = self.bucket_rows()
        want = sorted(buckets[0] + buckets[1])
        ids = sorted(got.column("id").to_pylist()) if got is not None else []
        ensure(ids == want, "bucket_ids [0, 1] gave %s, expected %s" % (ids, want))

    def t_split_size(self):
        s = self.client.create_table_read_session("guide", split_options=self.opts("SIZE", 1024))
        ensure(len(s.splits) > 1, "%d splits" % len(s.splits))
        got = self.read_session(s)
        assert_unique_ids(got)
        assert_same_rows(got, self.fx.guide, GUIDE_ALL_NAMES)

    def t_row_offset(self):
        s = self.client.create_table_read_session("guide", split_options=self.opts("ROW_OFFSET", 8))
        ensure([(sp.offset, sp.length) for sp in s.splits] == [(o, 8) for o in range(0, 40, 8)],
               "row ranges %s" % [(sp.offset, sp.length) for sp in s.splits])
        sizes = []
        batches = []
        for sp in s.splits:
            got = self.read_reader(s.open_arrow_reader(sp))
            sizes.append(sum(b.num_rows for b in got))
            batches.extend(got)
        ensure(sizes == [8] * 5, "rows per range %s" % sizes)
        assert_same_rows(to_table(batches), self.fx.guide, GUIDE_ALL_NAMES)

    def t_parallelism_stub(self):
        from odps.maxstorage.models.identifier import TableIdentifier
        from odps.maxstorage.models.requests import CreateTableReadSessionRequest

        tid = TableIdentifier(PROJECT, "guide", SCHEMA)
        resp = self.client.stub.create_table_read_session(
            tid, CreateTableReadSessionRequest(split_options=self.opts("PARALLELISM", 10)))
        ensure(resp.splits_count == 10, "%r splits" % resp.splits_count)
        tables = [self._stub_read(tid, resp, i) for i in range(resp.splits_count)]
        ensure(all(t.num_rows > 0 for t in tables), "rows per split %s" % [t.num_rows for t in tables])
        assert_same_rows(pa.concat_tables(tables), self.fx.guide, GUIDE_ALL_NAMES)

    def t_bucket_stub(self):
        buckets = self.bucket_rows()
        ensure(sorted(i for v in buckets.values() for i in v) == list(range(100, 140)), "buckets %s" % buckets)

    def t_reader_options(self):
        s = self.client.create_table_read_session("guide")
        full = to_table(self.read_reader(s.open_arrow_reader(s.splits[0])))
        batches = self.read_reader(s.open_arrow_reader(s.splits[0], max_batch_rows=3, skip_row_num=2,
                                                       data_columns=["id"]))
        ensure(all(b.num_rows <= 3 for b in batches), "batch sizes %s" % [b.num_rows for b in batches])
        assert_same_rows(to_table(batches), full.slice(2), ["id"], ordered=True)

    def t_read_compressed(self, algo):
        s = self.client.create_table_read_session("guide")
        mark = HTTP.mark()
        got = self.read_session(s, compress_option=self.co(algo))
        assert_same_rows(got, self.fx.guide, GUIDE_ALL_NAMES)
        encodings = [e.get("resp_headers", {}).get("Content-Encoding") or e.get("resp_headers", {}).get(
            "content-encoding") for e in HTTP.since(mark) if e["action"] == "TableRead"]
        want = {"zstd": "zstd", "lz4": "x-lz4-frame"}[algo]
        ensure(encodings and all(x == want for x in encodings),
               "TableRead answered with Content-Encoding %s; this SDK expects the whole body %s-compressed"
               % (encodings, want))

    def t_reload(self):
        s = self.client.create_table_read_session("guide")
        again = self.client.create_table_read_session("guide", session_id=s.id)
        ensure(again.id == s.id and again.record_count == GUIDE_ROWS, "reloaded %r / %r" % (again.id, again.record_count))
        assert_same_rows(self.read_session(again), self.fx.guide, GUIDE_ALL_NAMES)

    def t_incremental(self):
        version = self.admin.describe("incr")["Version"]
        s = self.client.create_table_read_session(
            "incr", incremental_read_enabled=True,
            incremental_read_options=self.ms.IncrementalReadOptions(from_=version - 1))
        ensure(s.latest_version == version, "latest_version %r, expected %r" % (s.latest_version, version))
        assert_same_rows(self.read_session(s), self.fx.incr_v2)

    def t_incremental_time(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        s = self.client.create_table_read_session(
            "incr", incremental_read_enabled=True,
            incremental_read_options=self.ms.IncrementalReadOptions(
                from_=(now - datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
                to=(now + datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")))
        assert_same_rows(self.read_session(s), pa.concat_tables([self.fx.incr_v1, self.fx.incr_v2]))

    def t_filter(self):
        s = self.client.create_table_read_session("guide", filter_predicate="id > 10 AND name = 'name_12'",
                                                  filter_predicate_fallback=True, split_max_file_num=1000)
        assert_same_rows(self.read_session(s), self.fx.guide_where(lambda i: i == 12), GUIDE_ALL_NAMES)

    def t_arrow_options(self):
        s = self.client.create_table_read_session(
            "guide", columns=["id", "ts", "dtm"], arrow_options={"TimestampUnit": "micro", "DatetimeUnit": "milli"})
        e = self.fx.guide
        expected = pa.table({"id": e.column("id"),
                             "ts": pc.cast(e.column("ts"), pa.timestamp("us"), safe=False),
                             "dtm": e.column("dtm")})
        assert_same_rows(self.read_session(s), expected, ["id", "ts", "dtm"], exact_names=False)

    def t_record_reader(self):
        s = self.client.create_table_read_session("guide", columns=["id", "name", "value"])
        ids = []
        for sp in s.splits:
            for record in s.open_arrow_reader(sp).get_as_record_reader():
                ids.append((record["id"], record["name"]))
        ensure(sorted(ids) == [(i, guide_value("name", i)) for i in range(GUIDE_ROWS)], "records %s" % sorted(ids)[:5])

    # Preview -------------------------------------------------------------

    def t_preview(self):
        got = to_table(self.read_reader(self.client.preview_table("guide", limit=5)))
        ensure(got is not None and 0 < got.num_rows <= 5, "rows %s" % (got and got.num_rows))
        ids = got.column("id").to_pylist()
        assert_same_rows(got, self.fx.guide_where(lambda i: i in set(ids)), GUIDE_ALL_NAMES, exact_names=False)

    def t_preview_partition(self):
        got = to_table(self.read_reader(
            self.client.preview_table("guide", partition_spec="pt=%s" % P2, columns=["id", "name"], limit=3)))
        ensure(got is not None and 0 < got.num_rows <= 3, "rows %s" % (got and got.num_rows))
        ids = got.column("id").to_pylist()
        ensure(all(guide_pt(i) == P2 for i in ids), "ids %s outside the partition" % ids)
        assert_same_rows(got, self.fx.guide_where(lambda i: i in set(ids)), ["id", "name"])

    # Instances -----------------------------------------------------------

    def t_instance(self):
        s = self.client.create_instance_read_session(self.fx.instance_id)
        ensure(s.id, "no DownloadID")
        ensure(s.record_count == GUIDE_ROWS, "record_count %r" % s.record_count)
        ensure([c.name for c in s.table_schema.columns][:3] == ["id", "name", "value"],
               "TableSchema columns %s" % [c.name for c in s.table_schema.columns])
        got = to_table(self.read_reader(s.open_arrow_reader(task_name="AnonymousSQLTask")))
        assert_same_rows(got, self.fx.guide, GUIDE_ALL_NAMES, exact_names=False)
        part = to_table(self.read_reader(s.open_arrow_reader(offset=5, count=10, task_name="AnonymousSQLTask")))
        assert_same_rows(part, self.fx.guide.slice(5, 10), GUIDE_ALL_NAMES, exact_names=False, ordered=True)

    def t_instance_partition(self):
        s = self.client.create_instance_read_session(self.fx.instance_partition_id)
        got = to_table(self.read_reader(s.open_arrow_reader(task_name="AnonymousSQLTask")))
        assert_same_rows(got, self.fx.guide_where(lambda i: guide_pt(i) == P2), ["id", "name"])

    # Writing -------------------------------------------------------------

    def _write(self, name, batches, stream_id="0", commit=True, session=None, **kw):
        ws = session or self.client.create_table_write_session(self.table(name))
        w = ws.open_arrow_writer(stream_id, **kw)
        for b in batches:
            w.write_batch(b)
        w.close()
        if commit:
            ws.commit()
        return ws

    def t_write(self):
        name = self.fx.fresh("people")
        ws = self.client.create_table_write_session(self.table(name))
        ensure(ws.id and ws.route_token, "session id %r route token %r" % (ws.id, ws.route_token))
        w = ws.open_arrow_writer("0")
        w.write_batch(people_batch([1, 2, 3]))
        w.write_batch(pa.Table.from_batches([people_batch([4])]))
        w.close()
        ensure(self.admin.dump(name).num_rows == 0, "rows visible before commit")
        ws.commit()
        assert_same_rows(self.admin.dump(name), people_table([1, 2, 3, 4]))

    def t_stream_status(self):
        from odps.maxstorage.models.identifier import TableIdentifier
        from odps.maxstorage.models.requests import GetWriteStreamRequest

        name = self.fx.fresh("people")
        ws = self.client.create_table_write_session(name)
        w = ws.open_arrow_writer("0")
        w.write_batch(people_batch([1, 2, 3]))
        w.flush()
        resp = self.client.stub.get_write_stream(
            TableIdentifier(PROJECT, name), GetWriteStreamRequest(session_id=ws.id, stream_id="0", stream_version=1),
            ws.route_token, ws.write_mode)
        ensure(resp.status is not None, "no status")
        ensure(resp.record_count == 3, "recordCount %r, expected 3" % resp.record_count)
        w.close()
        ws.commit()

    def t_write_compressed(self, algo):
        name = self.fx.fresh("people")
        ids = list(range(100))
        self._write(name, [people_batch(ids)], compress_option=self.co(algo))
        assert_same_rows(self.admin.dump(name), people_table(ids))

    def t_flush_async(self):
        name = self.fx.fresh("people")
        ws = self.client.create_table_write_session(name)
        w = ws.open_arrow_writer("0")
        w.write_batch(people_batch([1, 2, 3]))
        w.flush_async().result()
        w.write_batch(people_batch([4, 5, 6]))
        w.flush()
        w.close()
        ws.commit()
        assert_same_rows(self.admin.dump(name), people_table([1, 2, 3, 4, 5, 6]))

    def t_write_pandas(self):
        import pandas as pd

        name = self.fx.fresh("people")
        df = pd.DataFrame({"id": [1, 2, 3], "name": ["Alice", "Bob", "Carol"], "value": [100.0, 200.0, 150.0]})
        self._write(name, [pa.RecordBatch.from_pandas(df)])
        expected = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["Alice", "Bob", "Carol"],
                             "value": [100.0, 200.0, 150.0]})
        assert_same_rows(self.admin.dump(name), expected)

    def t_write_partition(self):
        name = self.fx.fresh("people_pt", PEOPLE_COLUMNS, [("pt", "string")])
        ws = self.client.create_table_write_session(name, partition_spec="pt=%s" % P1)
        self._write(name, [people_batch([1, 2])], session=ws)
        assert_same_rows(self.admin.dump(name), people_table([1, 2]).append_column("pt", pa.array([P1, P1])))
        self.state["part_table"] = name

    def t_write_overwrite(self):
        name = self.state.get("part_table") or self.fx.fresh("people_pt", PEOPLE_COLUMNS, [("pt", "string")])
        self.admin.insert(name, people_table([50]).append_column("pt", pa.array([P2])))
        ws = self.client.create_table_write_session(name, partition_spec="pt=%s" % P1, overwrite=True,
                                                    enable_schema_evolution=True)
        self._write(name, [people_batch([10, 11])], session=ws)
        expected = people_table([10, 11, 50]).append_column("pt", pa.array([P1, P1, P2]))
        assert_same_rows(self.admin.dump(name), expected)

    def t_write_dynamic(self):
        name = self.fx.fresh("people_pt", PEOPLE_COLUMNS, [("pt", "string")])
        b = people_batch([1, 2, 3])
        b = pa.RecordBatch.from_arrays(list(b.columns) + [pa.array(["x", "y", "x"])],
                                       names=["id", "name", "value", "pt"])
        self._write(name, [b])
        assert_same_rows(self.admin.dump(name), pa.Table.from_batches([b]))

    def t_reload_write(self):
        name = self.fx.fresh("people")
        ws = self.client.create_table_write_session(name)
        again = self.client.create_table_write_session(name, session_id=ws.id)
        ensure(again.id == ws.id, "reloaded id %r" % again.id)
        self._write(name, [people_batch([1])], stream_id="0", session=again, commit=False)
        self._write(name, [people_batch([2])], stream_id="1", session=again, commit=False)
        again.commit(stream_ids=["0", "1"], stream_versions=[1, 1])
        assert_same_rows(self.admin.dump(name), people_table([1, 2]))

    def t_record_writer(self):
        name = self.fx.fresh("people")
        ws = self.client.create_table_write_session(name)
        w = ws.open_arrow_writer("0")
        rw = w.get_as_record_writer()
        for i in (1, 2):
            rw.write([i, "person_%d" % i, i * 10.5])
        rw.close()
        w.close()
        ws.commit()
        assert_same_rows(self.admin.dump(name), people_table([1, 2]))

    def t_abort(self):
        name = self.fx.fresh("people")
        ws = self.client.create_table_write_session(name)
        self._write(name, [people_batch([1])], session=ws, commit=False)
        ws.abort()
        ensure(self.admin.dump(name).num_rows == 0, "rows after abort")

    # Exactly-once --------------------------------------------------------

    def _eo_state(self):
        if "eo" not in self.state:
            name = self.fx.fresh("people_eo")
            ws = self.client.create_table_write_session(name)
            self.state["eo"] = {"name": name, "ws": ws}
        return self.state["eo"]

    def t_eo(self):
        eo = self._eo_state()
        w = eo["ws"].open_arrow_writer("3", exactly_once_mode=True)
        ensure(w._access_token, "no AccessToken from create_write_stream(ExactlyOnceMode)")
        w.write_batch(people_batch([1, 2, 3]))
        w.flush()
        ensure(w._row_offset == 3, "ExactlyOnceRowOffset %r after 3 rows" % w._row_offset)
        eo["token"] = w._access_token
        eo["writer"] = w

    def t_eo_resume(self):
        eo = self._eo_state()
        w = eo["ws"].open_arrow_writer("3", exactly_once_mode=True, resume=True)
        ensure(w._row_offset == 3, "resumed RowOffset %r, expected 3" % w._row_offset)
        ensure(w._access_token, "no AccessToken on resume")
        w.write_batch(people_batch([4, 5, 6]))
        w.flush()
        ensure(w._row_offset == 6, "RowOffset %r after 6 rows" % w._row_offset)
        eo["writer"] = w

    def _raw_write(self, eo, ids, offset, token):
        from odps.maxstorage.models.identifier import TableIdentifier

        sink = io.BytesIO()
        b = people_batch(ids)
        with pa.ipc.new_stream(sink, b.schema) as wr:
            wr.write_batch(b)
        return self.client.stub.write_table(
            TableIdentifier(PROJECT, eo["name"]), eo["ws"].id, "3", 1, len(ids), sink.getvalue(),
            eo["ws"].route_token, row_offset=offset, access_token=token)

    def t_eo_retry(self):
        eo = self._eo_state()
        ensure(eo.get("token"), "no token")
        try:
            self._raw_write(eo, [4, 5, 6], 3, eo["token"])  # a retry of the second write
        except Exception:  # noqa: BLE001
            pass
        from odps.maxstorage.models.identifier import TableIdentifier
        from odps.maxstorage.models.requests import GetWriteStreamRequest

        status = self.client.stub.get_write_stream(
            TableIdentifier(PROJECT, eo["name"]),
            GetWriteStreamRequest(session_id=eo["ws"].id, stream_id="3", stream_version=1, exactly_once_mode=True),
            eo["ws"].route_token, eo["ws"].write_mode)
        ensure(status.row_offset == 6, "after a retried write RowOffset is %r, expected 6 (stored twice?)"
               % status.row_offset)

    def t_eo_wrong_offset(self):
        eo = self._eo_state()
        mark = HTTP.mark()
        try:
            self._raw_write(eo, [90], 17, eo.get("token"))
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableWrite")

    def t_eo_commit(self):
        eo = self._eo_state()
        eo["writer"].close()
        eo["ws"].commit()
        dumped = self.admin.dump(eo["name"])
        assert_unique_ids(dumped)
        assert_same_rows(dumped, people_table([1, 2, 3, 4, 5, 6]))

    # Blobs ---------------------------------------------------------------

    def t_blob_setup(self):
        name = self.fx.fresh("blobs", BLOB_COLUMNS, BLOB_PARTS)
        ws = self.client.create_table_write_session(name, partition_spec="pt=%s" % P1)
        w = ws.open_arrow_writer("0")
        col = w.write_schema.resolve_blob_column_name(None)
        ensure(tuple(col) == ("data", 1), "blob column %s, expected ('data', 1)" % (col,))
        self.state["blob"] = {"name": name, "ws": ws, "w": w, "refs": []}

    def _blob(self):
        ensure("blob" in self.state, "blob setup failed")
        return self.state["blob"]

    def t_blob_stream(self, algo):
        b = self._blob()
        data = blob_payload(len(b["refs"]) + 1, 20000)
        kw = {} if algo is None else {"compress_option": self.co(algo)}
        bw = b["w"].write_blob_stream(column_name="data", partition_spec="pt=%s" % P1, **kw)
        bw.write(data)
        r = bw.finish()
        ensure(r.blob_reference, "no reference")
        b["refs"].append((r.blob_reference, data, None))

    def t_blob_batch(self):
        b = self._blob()
        C = self.ms.BlobWriteItem.ChecksumType
        items = [
            b["w"].build_blob_write_item(blob_payload(20, 9000), column_name="data", partition_spec="pt=%s" % P1,
                                         mime_type="image/png", checksum_type=C.MD5, distribution_key="k1"),
            b["w"].build_blob_write_item(blob_payload(21, 5000), column_name="data", partition_spec="pt=%s" % P1,
                                         checksum_type=C.CRC32),
            b["w"].build_blob_write_item(b"tiny", column_name="data", partition_spec="pt=%s" % P1),
        ]
        r = b["w"].write_blob_batch(items)
        ensure(len(r.blob_references) == 3, "references %r" % r.blob_references)
        for ref, item in zip(r.blob_references, items):
            b["refs"].append((ref, item.data, item.mime_type))

    def _check(self, records, expected):
        ensure(len(records) == len(expected), "%d blobs read, expected %d" % (len(records), len(expected)))
        for k, (rec, (_, want, mime)) in enumerate(zip(records, expected)):
            ensure(rec.data == want, "blob %d: %d bytes, expected %d" % (k, len(rec.data), len(want)))
            if mime:
                ensure(rec.mime_type == mime, "blob %d: MIME %r, expected %r" % (k, rec.mime_type, mime))

    def t_blob_read(self):
        b = self._blob()
        ensure(len(b["refs"]) >= 2, "nothing uploaded")
        bm = self.client.open_blob_manager()
        self._check(list(bm.read_blobs([r for r, _, _ in b["refs"]])), b["refs"])

    def t_blob_read_stream(self):
        b = self._blob()
        ensure(len(b["refs"]) >= 2, "nothing uploaded")
        reader = self.client.open_blob_manager().read_blobs([r for r, _, _ in b["refs"]], stream=True)
        got, cur = [], []
        while reader is not None:
            chunk = reader.read(4096)
            if not chunk:
                got.append(b"".join(cur))
                cur = []
                reader = reader.next()
            else:
                cur.append(chunk)
        ensure(got == [d for _, d, _ in b["refs"]], "streamed blobs differ (sizes %s)" % [len(g) for g in got])

    def t_blob_single(self):
        b = self._blob()
        ensure(b["refs"], "nothing uploaded")
        ref, data, _ = b["refs"][0]
        ensure(self.client.open_blob_manager().read_blob(ref).read() == data, "single blob differs")

    def t_blob_read_compressed(self, algo):
        b = self._blob()
        ensure(len(b["refs"]) >= 2, "nothing uploaded")
        bm = self.client.open_blob_manager()
        self._check(list(bm.read_blobs([r for r, _, _ in b["refs"]], compress_option=self.co(algo))), b["refs"])
        ref, data, _ = b["refs"][0]
        ensure(bm.read_blob(ref, compress_option=self.co(algo)).read() == data, "single compressed blob differs")

    def t_blob_auto_upload(self):
        b = self._blob()
        datas = [blob_payload(30, 6000), b"second blob"]
        w = b["ws"].open_arrow_writer("9", auto_upload_blobs=True)
        batch = pa.record_batch([pa.array([1, 2], pa.int64()), pa.array(datas, pa.binary()), pa.array(["a", "b"])],
                                names=["id", "data", "name"])
        w.write_batch(batch)
        w.close()
        b["w"].close()
        b["ws"].commit()
        dumped = self.admin.dump(b["name"]).sort_by("id")
        ensure(dumped.num_rows == 2, "%d rows committed" % dumped.num_rows)
        s = self.client.create_table_read_session(b["name"])
        refs = self.read_session(s).sort_by("id").column("data").to_pylist()
        got = [rec.data for rec in self.client.open_blob_manager().read_blobs(refs)]
        ensure(got == datas, "auto-uploaded blobs read back differ")

    def t_blob_wrong_column(self):
        name = self.fx.fresh("blobs_wc", BLOB_COLUMNS, BLOB_PARTS)
        ws = self.client.create_table_write_session(name, partition_spec="pt=%s" % P1)
        w = ws.open_arrow_writer("0")
        params = {"SessionId": ws.id, "StreamId": "0", "StreamVersion": "1",
                  "PartitionValues": "pt=%s" % P1, "ColumnIndex": "2"}
        from odps.maxstorage.models.identifier import TableIdentifier

        mark = HTTP.mark()
        try:
            self.client.stub.table_write_blob(TableIdentifier(PROJECT, name), params, b"into a string column")
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableWriteBlob", 400, "single upload, ColumnIndex 2 = string column")
        mark = HTTP.mark()
        try:
            w.write_blob_batch([self.ms.BlobWriteItem(b"into a bigint column", column_id=0,
                                                      partition_values=["pt=%s" % P1])])
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableWriteBlob", 400, "Mode=Batch, item ColumnIndex 0 = bigint column")
        w.close()

    def t_blob_bad_reference(self):
        name = self.fx.fresh("blobs_bad", BLOB_COLUMNS, BLOB_PARTS)
        ws = self.client.create_table_write_session(name, partition_spec="pt=%s" % P1)
        batch = pa.record_batch([pa.array([1], pa.int64()), pa.array([b"not a blob reference"], pa.binary()),
                                 pa.array(["x"])], names=["id", "data", "name"])
        mark = HTTP.mark()
        try:
            self._write(name, [batch], session=ws)
        except Exception:  # noqa: BLE001
            pass
        entries = HTTP.since(mark)
        ensure(self.admin.dump(name).num_rows == 0, "a row whose blob column is not a blob reference was committed")
        refusal(entries, "TableWrite", 400)

    # Errors --------------------------------------------------------------

    def t_parallelism_zero(self):
        from odps.maxstorage.models.identifier import TableIdentifier
        from odps.maxstorage.models.requests import CreateTableReadSessionRequest

        mark = HTTP.mark()
        try:
            self.client.stub.create_table_read_session(
                TableIdentifier(PROJECT, "guide", SCHEMA),
                CreateTableReadSessionRequest(split_options=self.opts("PARALLELISM", 0)))
        except Exception:  # noqa: BLE001
            pass
        refusal(HTTP.since(mark), "TableCreateReadSession", 400)

    def t_unknown_table(self):
        from odps.errors import ODPSError

        try:
            self.client.create_table_read_session("no_such_table")
        except ODPSError as e:
            ensure(getattr(e, "status_code", None) == 404, "status %r" % getattr(e, "status_code", None))
            ensure("no_such_table" in str(e), "error does not name the table: %s" % err_line(e))
            return
        raise CheckFailed("no error")

    def t_bad_credentials(self):
        from odps import ODPS
        from odps.errors import ODPSError

        bad = ODPS(self.args.access_id, "wrong", project=PROJECT, endpoint="http://%s/api" % self.args.addr,
                   tunnel_endpoint="http://%s" % self.args.addr)
        try:
            self.ms.MaxStorageClient(bad).create_table_read_session("guide")
        except ODPSError as e:
            ensure(getattr(e, "status_code", None) in (401, 403), "status %r" % getattr(e, "status_code", None))
            return
        raise CheckFailed("a request signed with the wrong secret was accepted")

    def t_unknown_session(self):
        from odps.errors import ODPSError

        try:
            self.client.create_table_read_session("guide", session_id="no-such-session")
        except ODPSError as e:
            ensure(getattr(e, "status_code", None) == 404, "status %r" % getattr(e, "status_code", None))
            return
        raise CheckFailed("no error")


# ---------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdk", choices=["storage_api_v2", "maxstorage"], required=True)
    parser.add_argument("--addr", required=True, help="host:port of the emulator")
    parser.add_argument("--access-id", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--results", help="write {passed, failed, cases} as JSON here")
    args = parser.parse_args()

    import odps

    label = "pyodps %s %s" % (odps.__version__, args.sdk)
    print("==== %s against the emulator at %s ====" % (label, args.addr), flush=True)
    HTTP.install()
    runner = Runner(label)
    fx = Fixtures(Admin(args.addr, args.access_id, args.access_key))
    setup_ok = []
    runner.run("setup/admin_tables_rows_instances", lambda: (fx.setup(), setup_ok.append(True)))
    if setup_ok:
        suite_cls = StorageApiV2Suite if args.sdk == "storage_api_v2" else MaxStorageSuite
        suite = None
        try:
            suite = suite_cls(args, runner, fx)
        except Exception as e:  # noqa: BLE001
            runner.run("setup/sdk_client", lambda: (_ for _ in ()).throw(e))
        if suite is not None:
            suite.run()
    passed, failed = runner.report()
    if args.results:
        with open(args.results, "w") as f:
            json.dump({"sdk": label, "passed": passed, "failed": failed,
                       "cases": [{"name": n, "ok": ok, "reason": r} for n, ok, r, _ in runner.results]}, f, indent=1)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
