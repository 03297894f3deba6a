"""A MongoDB wire-protocol server for tests (mockupdb on 127.0.0.1) answering like mongod 7.0.

One handler dispatches on `request.command_name`. The replies are shaped like the documented output
of MongoDB 7.0 (https://www.mongodb.com/docs/v7.0/reference/command/<command>/): the same field
names, nesting and types; each builder names its page (checked against the v7.0 manual on 2026-12-07).
A test changes what a command answers by setting `replies[name]` to a document, an `Unauthorized`
error, `HANG` (the command is never answered), or a function of the request (a reply that changes the
server: a step-down that swaps the primary). `received` records every command the code under test sent.
"""

from __future__ import annotations

import threading
from copy import deepcopy
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import Int64, ObjectId
from bson.timestamp import Timestamp
from mockupdb import MockupDB

HANG = object()
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def unauthorized(command: str, database: str = "admin") -> dict[str, Any]:
    # An error reply, 7.0 (ok 0, errmsg, code, codeName): https://www.mongodb.com/docs/v7.0/reference/error-codes/
    """What mongod answers a command the user's roles do not allow (code 13, Unauthorized)."""
    return {"ok": 0, "errmsg": f"not authorized on {database} to execute command {{ {command}: 1 }}",
            "code": 13, "codeName": "Unauthorized"}


def ts(dt: datetime) -> Timestamp:
    return Timestamp(int(dt.timestamp()), 1)


def hello(port: int, *, set_name: str | None = "rs0", primary: bool = True, hosts: list[str] | None = None,
          primary_host: str | None = None) -> dict[str, Any]:
    # hello, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/hello/
    doc: dict[str, Any] = {
        "isWritablePrimary": primary, "topologyVersion": {"processId": {"$oid": "0" * 24}, "counter": Int64(0)},
        "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
        "localTime": NOW, "logicalSessionTimeoutMinutes": 30, "connectionId": 12, "minWireVersion": 0,
        "maxWireVersion": 21, "readOnly": False, "ok": 1.0,
    }
    doc.pop("topologyVersion")  # mockupdb cannot hold an extended-JSON ObjectId here; pymongo does not need it
    if set_name:
        me = f"127.0.0.1:{port}"
        doc.update({"hosts": hosts or [me], "setName": set_name, "setVersion": 1, "secondary": not primary, "me": me,
                    "electionId": None})
        doc.pop("electionId")
        if primary or primary_host:
            doc["primary"] = me if primary else primary_host
    return doc


def build_info(version: str = "7.0.12") -> dict[str, Any]:
    # buildInfo, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/buildInfo/
    major, minor, patch = (int(x) for x in version.split("."))
    return {"version": version, "gitVersion": "0" * 40, "modules": [], "allocator": "tcmalloc",
            "javascriptEngine": "mozjs", "sysInfo": "deprecated", "versionArray": [major, minor, patch, 0],
            "bits": 64, "debug": False, "maxBsonObjectSize": 16777216, "storageEngines": ["devnull", "wiredTiger"],
            "ok": 1.0}


def connection_status(user: str = "monitor", roles: tuple[str, ...] = ("clusterMonitor",)) -> dict[str, Any]:
    # connectionStatus, 7.0
    return {"authInfo": {"authenticatedUsers": [{"user": user, "db": "admin"}],
                         "authenticatedUserRoles": [{"role": r, "db": "admin"} for r in roles]}, "ok": 1.0}


def host_info(mem_mb: int = 16000) -> dict[str, Any]:
    # hostInfo, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/hostInfo/
    return {"system": {"currentTime": NOW, "hostname": "db1:27017", "cpuAddrSize": 64, "memSizeMB": Int64(mem_mb),
                       "memLimitMB": Int64(mem_mb), "numCores": 4, "numPhysicalCores": 4, "numCpuSockets": 1,
                       "cpuArch": "x86_64", "numaEnabled": False, "numNumaNodes": 1},
            "os": {"type": "Linux", "name": "Ubuntu", "version": "22.04"}, "extra": {}, "ok": 1.0}


def server_status(*, current: int = 40, available: int = 760, resident_mb: int = 2000, queue: int = 0,
                  opcounters: dict[str, int] | None = None, uptime: int = 86400) -> dict[str, Any]:
    # serverStatus, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/serverStatus/
    counters = {"insert": 100, "query": 2000, "update": 300, "delete": 10, "getmore": 50, "command": 5000}
    counters.update(opcounters or {})
    return {
        "host": "db1:27017", "version": "7.0.12", "process": "mongod", "pid": Int64(4242),
        "uptime": float(uptime), "uptimeMillis": Int64(uptime * 1000), "uptimeEstimate": Int64(uptime),
        "localTime": NOW,
        "connections": {"current": current, "available": available, "totalCreated": 1234, "active": 5,
                        "threaded": current, "exhaustIsMaster": 0, "exhaustHello": 2, "awaitingTopologyChanges": 2},
        "globalLock": {"totalTime": Int64(uptime * 1_000_000),
                       "currentQueue": {"total": queue, "readers": queue // 2, "writers": queue - queue // 2},
                       "activeClients": {"total": 3, "readers": 1, "writers": 2}},
        "mem": {"bits": 64, "resident": resident_mb, "virtual": resident_mb * 2, "supported": True},
        "network": {"bytesIn": Int64(10_000_000), "bytesOut": Int64(50_000_000), "numRequests": Int64(90000)},
        "opcounters": {k: Int64(v) for k, v in counters.items()},
        "wiredTiger": {"cache": {"bytes currently in the cache": Int64(3_000_000_000),
                                 "maximum bytes configured": Int64(8_000_000_000),
                                 "tracked dirty bytes in the cache": Int64(20_000_000)}},
        "ok": 1.0,
    }


def operation(opid: int, *, secs: int = 0, op: str = "query", ns: str = "shop.orders", waiting: bool = False,
              plan: str | None = "IXSCAN { status: 1 }", app: str = "shop-api", user: str = "app",
              command: dict | None = None) -> dict[str, Any]:
    # One currentOp.inprog entry, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/currentOp/
    doc = {
        "type": "op", "host": "db1:27017", "desc": f"conn{opid}", "connectionId": opid, "client": "10.0.0.5:51234",
        "appName": app, "clientMetadata": {"application": {"name": app}, "driver": {"name": "nodejs", "version": "6.3"}},
        "active": True, "currentOpTime": NOW.isoformat(), "effectiveUsers": [{"user": user, "db": "admin"}],
        "threaded": True, "opid": opid, "secs_running": Int64(secs), "microsecs_running": Int64(secs * 1_000_000),
        "op": op, "ns": ns, "command": command or {"find": ns.split(".", 1)[1], "filter": {"status": "open"},
                                                   "$db": ns.split(".", 1)[0]},
        "numYields": 0, "locks": {"FeatureCompatibilityVersion": "r", "Global": "r", "Database": "r",
                                   "Collection": "W" if waiting else "r"},
        "waitingForLock": waiting, "lockStats": {}, "waitingForFlowControl": False, "flowControlStats": {},
    }
    if plan:
        doc["planSummary"] = plan
    return doc


def current_op(ops: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    # currentOp, 7.0: {inprog: [...], ok}: https://www.mongodb.com/docs/v7.0/reference/command/currentOp/
    return {"inprog": ops if ops is not None else [
        operation(101, secs=2, plan="COLLSCAN"), operation(102, secs=75, op="update", waiting=True),
        operation(103, secs=0, app="dbtop", command={"currentOp": 1, "$db": "admin"}),
    ], "ok": 1.0}


def member(_id: int, port: int, state: int, optime: datetime, *, me: bool = False,
           sync_source: str = "") -> dict[str, Any]:
    # One replSetGetStatus.members entry, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/replSetGetStatus/
    state_str = {1: "PRIMARY", 2: "SECONDARY", 7: "ARBITER", 8: "(not reachable/healthy)"}[state]
    doc = {"_id": _id, "name": f"db{_id + 1}:{port}", "health": 0.0 if state == 8 else 1.0, "state": state,
           "stateStr": state_str, "uptime": 86400, "optime": {"ts": ts(optime), "t": Int64(3)},
           "optimeDate": optime.replace(tzinfo=None), "lastAppliedWallTime": optime.replace(tzinfo=None),
           "syncSourceHost": sync_source, "syncSourceId": -1 if not sync_source else 0, "infoMessage": "",
           "configVersion": 1, "configTerm": 3}
    if me:
        doc["self"] = True
    else:
        doc.update({"lastHeartbeat": NOW.replace(tzinfo=None), "lastHeartbeatRecv": NOW.replace(tzinfo=None),
                    "pingMs": Int64(1), "lastHeartbeatMessage": ""})
    return doc


def repl_status(*, lag_s: float = 3, voting: int = 3, my_state: int = 1) -> dict[str, Any]:
    # replSetGetStatus, 7.0 (votingMembersCount and writableVotingMembersCount since 4.4):
    # https://www.mongodb.com/docs/v7.0/reference/command/replSetGetStatus/
    members = [member(0, 27017, 1, NOW, me=my_state == 1),
               member(1, 27017, 2, NOW - timedelta(seconds=lag_s), me=my_state == 2, sync_source="db1:27017"),
               member(2, 27017, 2, NOW - timedelta(seconds=1), sync_source="db1:27017")][:max(voting, 1)]
    return {"set": "rs0", "date": NOW, "myState": my_state, "term": Int64(3), "syncSourceHost": "" if my_state == 1 else "db1:27017",
            "syncSourceId": -1, "heartbeatIntervalMillis": Int64(2000), "majorityVoteCount": voting // 2 + 1,
            "writeMajorityCount": voting // 2 + 1, "votingMembersCount": voting, "writableVotingMembersCount": voting,
            "members": members, "ok": 1.0}


def list_views(database: str, name_only: bool = False) -> dict[str, Any]:
    # listCollections with filter {type: "view"}, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/listCollections/
    # (nameOnly: true answers name and type only)
    views = [{"name": "open_orders", "type": "view",
              "options": {"viewOn": "orders", "pipeline": [{"$match": {"status": "open"}}]},
              "info": {"readOnly": True}}] if database == "shop" else []
    if name_only:
        views = [{"name": v["name"], "type": v["type"]} for v in views]
    return {"cursor": {"id": Int64(0), "ns": f"{database}.$cmd.listCollections", "firstBatch": views}, "ok": 1.0}


def repl_config(hosts: list[str], *, priorities: list[float] | None = None,
                hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    # replSetGetConfig, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/replSetGetConfig/
    priorities = priorities or [1.0] * len(hosts)
    return {"config": {"_id": "rs0", "version": 1, "term": 3, "protocolVersion": Int64(1),
                       "writeConcernMajorityJournalDefault": True,
                       "members": [{"_id": n, "host": host, "arbiterOnly": False, "buildIndexes": True,
                                    "hidden": host in hidden, "priority": 0.0 if host in hidden else priorities[n],
                                    "tags": {}, "secondaryDelaySecs": Int64(0), "votes": 1}
                                   for n, host in enumerate(hosts)],
                       "settings": {"chainingAllowed": True, "heartbeatIntervalMillis": 2000,
                                    "heartbeatTimeoutSecs": 10, "electionTimeoutMillis": 10000,
                                    "catchUpTimeoutMillis": -1, "catchUpTakeoverDelayMillis": 30000,
                                    "getLastErrorModes": {}, "replicaSetId": ObjectId("65a1b2c3d4e5f60718293a4b")}},
            "ok": 1.0}


def db_stats(name: str, *, fs_used: int = 40 * 2**30, fs_total: int = 100 * 2**30) -> dict[str, Any]:
    # dbStats, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/dbStats/
    return {"db": name, "collections": Int64(4), "views": Int64(1), "objects": Int64(10000), "avgObjSize": 200.0,
            "dataSize": 2_000_000.0, "storageSize": 1_000_000.0, "indexes": Int64(6), "indexSize": 300_000.0,
            "totalSize": 1_300_000.0, "scaleFactor": Int64(1), "fsUsedSize": float(fs_used),
            "fsTotalSize": float(fs_total), "ok": 1.0}


def cmdline(*, auth: bool = True, tls: str | None = "requireTLS", bind: str | None = "127.0.0.1,10.0.0.2",
            bind_all: bool = False) -> dict[str, Any]:
    # getCmdLineOpts, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/getCmdLineOpts/
    net: dict[str, Any] = {"port": 27017}
    if bind:
        net["bindIp"] = bind
    if bind_all:
        net["bindIpAll"] = True
    if tls:
        net["tls"] = {"mode": tls, "certificateKeyFile": "/etc/ssl/mongod.pem"}
    parsed: dict[str, Any] = {"config": "/etc/mongod.conf", "net": net, "replication": {"replSetName": "rs0"},
                              "storage": {"dbPath": "/var/lib/mongodb"}}
    if auth:
        parsed["security"] = {"authorization": "enabled"}
    return {"argv": ["mongod", "--config", "/etc/mongod.conf"], "parsed": parsed, "ok": 1.0}


def users_info(users: list[tuple[str, str, list[str]]] | None = None) -> dict[str, Any]:
    # usersInfo, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/usersInfo/
    users = users if users is not None else [("admin", "admin", ["root"]), ("monitor", "admin", ["clusterMonitor"]),
                                             ("app", "shop", ["readWrite"])]
    return {"users": [{"_id": f"{db}.{u}", "userId": {"$binary": "AA=="}, "user": u, "db": db,
                       "roles": [{"role": r, "db": db} for r in roles], "mechanisms": ["SCRAM-SHA-256"]}
                      for u, db, roles in users], "ok": 1.0}


def profile_entry(ns: str, millis: int, plan: str, at: datetime, nreturned: int = 5) -> dict[str, Any]:
    # A system.profile document, 7.0: https://www.mongodb.com/docs/v7.0/reference/database-profiler/
    return {"op": "query", "ns": ns, "command": {"find": ns.split(".", 1)[1], "filter": {"sku": "x"},
                                                 "$db": ns.split(".", 1)[0]},
            "keysExamined": 0, "docsExamined": 10000, "nreturned": nreturned, "queryHash": "5F5A8F3D",
            "planCacheKey": "9C3D2A1B", "locks": {}, "responseLength": 2000, "protocol": "op_msg",
            "millis": millis, "planSummary": plan, "ts": at.replace(tzinfo=None), "client": "10.0.0.5",
            "appName": "shop-api", "allUsers": [{"user": "app", "db": "shop"}], "user": "app@shop"}


def _path(doc: dict[str, Any], dotted: str) -> Any:
    for step in dotted.split("."):
        doc = doc.get(step) if isinstance(doc, dict) else None
    return doc


class MockMongo:
    """A mockupdb server answering like a mongod 7.0 replica set primary; `replies` overrides."""

    def __init__(self, *, set_name: str | None = "rs0", primary: bool = True):
        self.server = MockupDB(auto_ismaster=False, max_wire_version=21)
        self.server._address = ("127.0.0.1", 0)  # mockupdb binds "localhost" otherwise
        self.set_name = set_name
        self.primary = primary
        self.replies: dict[str, Any] = {}
        self.seen: list[str] = []
        self.received: list[dict[str, Any]] = []  # every command document but the handshakes, as received
        self.hosts: list[str] | None = None  # the set's members, when a test makes a set of several servers
        self.primary_host: str | None = None
        self.collections: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (db, collection) -> its documents
        self.release = threading.Event()
        self.profile: dict[str, list[dict]] = {}
        self.oplog = (NOW - timedelta(hours=48), NOW)

    def start(self) -> MockMongo:
        self.port = self.server.run()
        self.server.autoresponds(self._handle)
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.stop()

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def defaults(self) -> dict[str, Any]:
        # Each reply's shape and version is said where it is built; the small ones here, 7.0:
        # listDatabases with nameOnly (databases: [{name}]), ping and endSessions ({ok}), killOp
        # ({info: "attempting to kill op", ok}: https://www.mongodb.com/docs/v7.0/reference/command/killOp/),
        # replSetFreeze ({ok}: https://www.mongodb.com/docs/v7.0/reference/command/replSetFreeze/).
        return {
            "buildInfo": build_info(), "connectionStatus": connection_status(), "hostInfo": host_info(),
            "serverStatus": server_status(), "currentOp": current_op(), "replSetGetStatus": repl_status(),
            "listDatabases": {"databases": [{"name": "admin"}, {"name": "local"}, {"name": "shop"}], "ok": 1.0},
            "getCmdLineOpts": cmdline(), "usersInfo": users_info(), "ping": {"ok": 1.0},
            "endSessions": {"ok": 1.0}, "killOp": {"info": "attempting to kill op", "ok": 1.0},
            "replSetGetConfig": repl_config([f"db{n}:27017" for n in (1, 2, 3)]),
            "replSetFreeze": {"ok": 1.0},
        }

    def _handle(self, request) -> bool:
        name = request.command_name
        if name in ("ismaster", "isMaster", "hello"):
            if "maxTimeMS" in request.doc:  # sent as a command by the code under test, not a driver's handshake
                self.received.append(dict(request.doc))
            override = self.replies.get("hello")
            return request.replies(override if isinstance(override, dict) else
                                   hello(self.port, set_name=self.set_name, primary=self.primary, hosts=self.hosts,
                                         primary_host=self.primary_host))
        self.seen.append(name)
        self.received.append(dict(request.doc))
        if name in self.replies:
            reply = self.replies[name]
            if callable(reply):  # a reply that changes the server, e.g. a step-down that swaps the primary
                reply = reply(request)
        elif name == "dbStats":
            reply = db_stats(request.doc.get("$db", "admin"))
        elif name == "profile":  # profile -1, 7.0: https://www.mongodb.com/docs/v7.0/reference/command/profile/
            reply = {"was": 1 if request.doc.get("$db") in self.profile else 0, "slowms": 100, "sampleRate": 1.0,
                     "ok": 1.0}
        elif name == "find":
            reply = self._find(request)
        elif name == "listCollections":
            reply = list_views(request.doc.get("$db", "admin"), bool(request.doc.get("nameOnly")))
        else:
            reply = self.defaults().get(name, {"ok": 0, "errmsg": f"no such command: '{name}'", "code": 59,
                                               "codeName": "CommandNotFound"})
        if reply is HANG:
            self.release.wait(30)
            return True
        if name == "currentOp" and "opid" in request.doc and isinstance(reply, dict) and "inprog" in reply:
            # currentOp's filter on opid, as mongod applies it
            reply = {**reply, "inprog": [op for op in reply["inprog"] if op.get("opid") == request.doc["opid"]]}
        return request.replies(deepcopy(reply))

    def _find(self, request) -> dict[str, Any]:
        database, collection = request.doc.get("$db"), request.doc["find"]
        if (database, collection) == ("local", "oplog.rs"):
            if "oplog" in self.replies:
                return self.replies["oplog"]
            forward = list(request.doc.get("sort", {}).values()) == [1]
            at = self.oplog[0] if forward else self.oplog[1]
            docs = [{"ts": ts(at), "wall": at.replace(tzinfo=None)}]
        elif collection == "system.profile":
            docs = self.profile.get(database, [])
            since = (request.doc.get("filter") or {}).get("ts", {}).get("$gt")
            if since is not None:
                docs = [d for d in docs if d["ts"] > since.replace(tzinfo=None)]
        else:
            docs = self.collections.get((database, collection), [])
            sort = list((request.doc.get("sort") or {}).items())
            if sort:
                (key, direction), = sort
                docs = sorted([d for d in docs if _path(d, key) is not None], key=lambda d: _path(d, key),
                              reverse=direction < 0)
            docs = docs[:request.doc.get("limit") or None]
        return {"cursor": {"id": Int64(0), "ns": f"{database}.{collection}", "firstBatch": docs}, "ok": 1.0}
