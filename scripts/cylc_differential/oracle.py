"""Cylc's real authorisation answers, for threatcheck's `--semantics cylc` differential test.

Runs cylc-uiserver 1.7.1 / cylc-flow 8.5.4 in-process (class
`cylc.uiserver.authorise.Authorization`, imported, never copied) over
configurations taken from Cylc's own tests and docs, two known "clobber"
examples, a few malformed inputs and thousands of seeded random ones, and
writes every decision as JSON Lines for the Rust example `cylc_differential`
(scripts/cylc-differential.sh runs both).  The last line is a benchmark of
Cylc's decision cost on a 1,000-user / 200-group configuration.

A decision is what a request to a real UI server gets: the GraphQL
middleware snake-cases the field name and answers 400 unless it is in
`ALL_OPS`, then asks `is_permitted` and fails secure on any exception.

Group lookup is replaced the way Cylc's tests do it: `get_groups` in
`cylc.uiserver.authorise` is patched to return `(groups_of[user], [])` from
`GROUPS_OF`, so within one case a user always has one group set (Cylc caches
per user name, as production does with fixed OS groups).

Output is byte-identical for a given seed except the two bench timings
(`--no-timing` writes them as null so the whole file can be compared).
"""

import argparse
import ast
import copy
import importlib.util
import inspect
import json
import logging
import os
import random
import sys
import time
import types
from collections import Counter
from importlib.metadata import version
from unittest import mock

GROUPS_OF: dict = {}  # user -> groups ("group:"-prefixed) for the case being run

# Operation spellings beyond ALL_OPS: GraphQL camel case (accepted after
# snake-casing), wrong case/underscores (rejected or, like STOP, accepted),
# non-operations, and config-only words that are not operations.
ODD_OPS = [
    "ReleaseHoldPoint", "RELeaseHOLdPoint", "Release_Hold_Point", "SetGraphWindowExtent",
    "SEtGRAPhWINDOwEXTENt", "STOP", "Stop", "setVerbosity", "setHoldPoint", "set-hold-point",
    "extTrigger", "ExtTrigger", "HOLD", "Trigger", "broadCast", "no_such_permission", "edit",
    "Read", "READ", "CONTROL", "ALL", "", " stop", "!stop", "query", "mutation",
]
# Permission tokens that are not plain groups or op names; each means something
# different to expand_and_process_access_groups ("!!stop" removes stop, "!!READ"
# removes nothing, "!" removes "", wrong case grants nothing).
ODD_TOKENS = [
    "Trigger", "HOLD", "setHoldPoint", "set-hold-point", "!Stop", "!PAUSE", "", "!!stop",
    "!!READ", "!", "Read", "all", "control", "edit", "!edit", "!!ALL",
]
LONG40 = "a_very_long_user_name_of_forty_chars_xyz"
assert len(LONG40) == 40
USERS = ["bob", "carol", "dave", "erin", "john.smith", "Alice", "alice", "mary jane",
         "e@x.org", "user1", LONG40]
STRANGERS = ["zed", "Bob", "john_smith", "stranger"]
GROUPS = ["group:ops", "group:dev", "group:Domain Users", "group:ops@example.org",
          "group:a.b", "group:grp_of_svr_owners", "group:OPS", "group:"]
OWNERS = ["own1", "john.smith", "Alice", "server_owner_2", LONG40, "ops@example.org"]


def install_pytest_shim():
    """Cylc's test module imports pytest, which is not a runtime dependency.

    If pytest is absent, a stand-in records `pytest.mark.parametrize` and
    `pytest.param` exactly as pytest stores them (`func.pytestmark` holds marks
    with .name/.args; params have .values/.id), so the parameters are read the
    same way either way; nothing of the tests is run.
    """
    if importlib.util.find_spec("pytest"):
        return
    shim = types.ModuleType("pytest")
    shim.param = lambda *values, marks=(), id=None: types.SimpleNamespace(
        values=values, marks=marks, id=id)

    class MarkGenerator:
        def __getattr__(self, name):
            def make(*args, **kwargs):
                def decorate(func):
                    mark = types.SimpleNamespace(name=name, args=args, kwargs=kwargs)
                    func.pytestmark = [*getattr(func, "pytestmark", []), mark]
                    return func
                return decorate
            return make

    shim.mark = MarkGenerator()
    shim.__getattr__ = lambda name: object  # annotations such as pytest.MonkeyPatch
    sys.modules["pytest"] = shim


def fake_get_groups(username):
    return list(GROUPS_OF[username]), []


def param_rows(func):
    """(id, {argname: value}) for each pytest.param of a parametrized test."""
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names = [n.strip() for n in mark.args[0].split(",") if n.strip()]
        for p in mark.args[1]:
            yield p.id, dict(zip(names, p.values))


def literal_calls(module, func_name):
    """The Authorization(...) configurations (None where an argument is not a
    literal) and the users and operations a test body asks about, read from its
    source with ast, in source order (nothing is copied or run)."""
    tree = ast.parse(inspect.getsource(module))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func_name)
    confs, users, ops = [], [], []
    calls = sorted((n for n in ast.walk(fn) if isinstance(n, ast.Call)),
                   key=lambda n: (n.lineno, n.col_offset))
    for node in calls:
        if isinstance(node.func, ast.Name) and node.func.id == "Authorization":
            confs.append(tuple(literal(a) for a in node.args[:3]))
        elif isinstance(node.func, ast.Attribute) and node.func.attr in (
                "is_permitted", "_get_permitted_operations",
                "return_site_auth_defaults_for_access_user"):
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if args:
                users.append(args[0])
            if node.func.attr == "is_permitted" and len(args) > 1:
                ops.append(args[1])
    return confs, dedupe(users), dedupe(ops)


def literal(node):
    return ast.literal_eval(node) if not isinstance(node, ast.Name) else None


def dedupe(items):
    return list(dict.fromkeys(items))


def doc_example(help_text, attr):
    """The example dict after `c.CylcUIServer.<attr> = ` in a trait's help text
    (the text Cylc's docs are built from); the shortest prefix that parses."""
    start = help_text.index("{", help_text.index(f"c.CylcUIServer.{attr} ="))
    end = start
    while True:
        end = help_text.index("}", end) + 1
        try:
            return ast.literal_eval(help_text[start:end])
        except SyntaxError:
            continue


class Oracle:
    def __init__(self, authorization, to_snake_case):
        self.Authorization, self.to_snake_case = authorization, to_snake_case
        self.log = logging.getLogger("cylc-differential")
        self.log.addHandler(logging.NullHandler())
        self.log.propagate = False
        self.log.setLevel(logging.WARNING)  # Cylc logs every decision at INFO
        self.stats = Counter()

    def decide(self, auth, user, op):
        """(allowed, raised): the middleware's 400 check, then is_permitted, fail secure."""
        snake = self.to_snake_case(op)
        if snake not in auth.ALL_OPS:
            return False, False
        try:
            return bool(auth.is_permitted(user, snake)), False
        except Exception:
            return False, True

    def make(self, owner, user_conf, site):
        # deepcopy: Cylc mutates the site dict in place while merging.
        return self.Authorization(owner, copy.deepcopy(user_conf), copy.deepcopy(site), self.log)

    def run(self, cid, owner, owner_groups, site, user_conf, people, queries):
        """One case line. people: {user: groups}; queries: [(user, op)]."""
        GROUPS_OF.clear()
        GROUPS_OF.update(people)
        GROUPS_OF[owner] = owner_groups
        line = {"kind": "case", "id": cid, "owner": owner, "owner_groups": owner_groups,
                "site": dumps(site), "user": dumps(user_conf), "error": None, "queries": []}
        try:
            auth = self.make(owner, user_conf, site)
        except Exception as e:  # the Rust side must refuse such a configuration
            line["error"] = f"{type(e).__name__}: {e}"
            self.stats["cases with constructor error"] += 1
            return line, None
        for user, op in queries:
            allowed, raised = self.decide(auth, user, op)
            self.stats["decisions"] += 1
            self.stats["allowed"] += allowed
            self.stats["denied because is_permitted raised"] += raised
            line["queries"].append({"user": user, "groups": GROUPS_OF[user], "op": op,
                                    "cylc": allowed})
        self.lookup_coverage(auth, owner, {u for u, _ in queries}, user_conf)
        return line, auth

    def lookup_coverage(self, auth, owner, users, user_conf):
        """Which lookup paths the case's users took, asked of Cylc's own methods."""
        for user in sorted(users):
            if user == owner:
                self.stats["users: the owner"] += 1
                continue
            groups = GROUPS_OF[user]
            keys = set(auth.owner_dict) | set(user_conf)
            if any(g in keys for g in groups):
                self.stats["users: matched a group: key"] += 1
            if user in keys:
                self.stats["users: matched by name"] += 1
            try:
                if not auth.get_access_user_permissions_from_owner_conf(user, groups):
                    self.stats["users: fell back to site defaults"] += 1
            except Exception:
                self.stats["users: user conf lookup raised"] += 1
            try:
                auth.get_owner_site_limits_for_access_user(user, groups)
                auth.return_site_auth_defaults_for_access_user(user, groups)
            except Exception:
                self.stats["users: site lookup raised"] += 1


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False)


def effective(entry):
    """(defaults, limits) of an owner_dict entry as Cylc reads it (limit falls back
    to default); an empty set stands for [] (which raises), {""} for absent."""
    default = entry.get("default", "")
    return tuple(frozenset([v] if isinstance(v, str) else v)
                 for v in (default, entry.get("limit", default)))


def merge_analysis(owner, owner_groups, site, owner_dict):
    """Label what build_owner_site_auth_conf did, by walking the site config in
    its order, and compare Cylc's owner_dict with a plain union merge (what the
    docs describe). Labels only; nothing here decides a query."""
    checks = ["*", owner, *owner_groups]
    source, truthy, union, seen = {}, {}, {}, Counter()
    for okey, adict in site.items():
        if okey not in checks:
            continue
        seen["matching owner keys"] += 1
        for akey, perms in adict.items():
            eff = effective(perms)
            old = union.get(akey)
            union[akey] = eff if old is None else (old[0] | eff[0], old[1] | eff[1])
            if truthy.get(akey):
                # After update() the entry may be this very dict: merged with itself.
                seen["in-place merge" if source[akey] != okey else "self-merge after update"] += 1
                continue
            if akey in truthy:
                seen["update over an empty {} entry"] += 1
            if any(truthy.get(k) and source[k] != okey for k in adict):
                seen["update replaced an earlier entry"] += 1
            for k, v in adict.items():
                source[k], truthy[k] = okey, bool(v)
    if semantic(owner_dict.items()) != semantic(union.items(), done=True):
        seen["owner_dict differs from union merge"] += 1
    return seen


def semantic(items, done=False):
    """Per access key, what each lookup yields: None for [] (raises), else the set
    without "" (which every lookup discards)."""
    out = {}
    for key, entry in items:
        pair = entry if done else effective(entry)
        out[key] = tuple(None if not fs else fs - {""} for fs in pair)
    return out


class RandomConfigs:
    """Seeded random configurations aimed at every branch of the merge and lookups."""

    def __init__(self, rng, all_ops):
        self.rng, self.ops = rng, all_ops
        self.hits = Counter()  # what the generator produced, for the summary

    def token(self):
        r = self.rng.random()
        if r < 0.33:
            return self.rng.choice(["READ", "CONTROL", "ALL"])
        if r < 0.47:
            return self.rng.choice(["!READ", "!CONTROL", "!ALL"])
        if r < 0.67:
            return self.rng.choice(self.ops)
        if r < 0.82:
            return "!" + self.rng.choice(self.ops)
        return self.rng.choice(ODD_TOKENS)

    def value(self):
        r = self.rng.random()
        if r < 0.012:
            self.hits["value []"] += 1
            return []  # deliberate: Cylc raises when it reads it -> deny
        if r < 0.45:
            self.hits["value string"] += 1
            return self.token()
        self.hits["value list"] += 1
        return [self.token() for _ in range(self.rng.randint(1, 4))]

    def entry(self):
        e = self.make_entry()
        real = [k for k in e if k in ("default", "limit")]
        self.hits["entry " + ("{}" if not e else "+".join(sorted(real)) or "misspelt only")
                  + (" (+misspelt)" if real and len(real) < len(e) else "")] += 1
        return e

    def make_entry(self):
        r = self.rng.random()
        if r < 0.28:
            return {"default": self.value()}
        if r < 0.52:
            return {"limit": self.value()}
        if r < 0.82:
            keys = self.rng.sample(["default", "limit"], 2)  # both key orders
            return {k: self.value() for k in keys}
        if r < 0.92:  # misspelt keys are ignored by Cylc (sometimes beside a real one)
            e = {self.rng.choice(["defualt", "Limit", "limits", "Default"]): self.value()}
            if self.rng.random() < 0.4:
                e[self.rng.choice(["default", "limit"])] = self.value()
            return e
        return {}  # falsy: the merge takes the update() path over it

    def access_keys(self, people_pool, group_pool, owner):
        pool = ["*", "*", "*", owner] + people_pool + group_pool
        pool += [""] if self.rng.random() < 0.1 else []
        return dedupe(self.rng.choice(pool) for _ in range(self.rng.randint(1, 5)))

    def groups_for(self, pool):
        r = self.rng.random()
        if r < 0.08:
            return [""]  # as Cylc's tests do
        gs = self.rng.sample(pool, self.rng.randint(0, min(3, len(pool))))
        if r < 0.13:
            gs.insert(self.rng.randint(0, len(gs)), "")
        return gs

    def case(self):
        rng = self.rng
        owner = rng.choice(OWNERS)
        owner_groups = self.groups_for(GROUPS)
        people_pool = rng.sample(USERS, rng.randint(2, 6))
        group_pool = rng.sample(GROUPS, rng.randint(1, 4))
        matching = dedupe(["*", owner] + [g for g in owner_groups if g or rng.random() < 0.3])
        others = ["other_owner", owner.upper(), "group:nobody", "group:" + owner]
        n = rng.randint(1, 5)
        if rng.random() < 0.85:  # mostly two or more matching owner keys, so merges happen
            okeys = rng.sample(matching, min(len(matching), rng.randint(2, 3)))
        else:
            okeys = rng.sample(matching, 1)
        okeys = dedupe(okeys + rng.sample(others, max(0, n - len(okeys))))
        rng.shuffle(okeys)
        site = {}
        for okey in okeys:
            site[okey] = {a: self.entry() for a in self.access_keys(people_pool, group_pool, owner)}
        user_conf = {}
        if rng.random() > 0.2:
            for key in self.access_keys(people_pool, group_pool + owner_groups, owner):
                user_conf[key] = self.value()
        names = {k for k in list(user_conf) + [a for d in site.values() for a in d]
                 if k and k != "*" and not k.startswith("group:")}
        people = {}
        for user in sorted(names) + rng.sample(STRANGERS, 2):
            if user != owner:
                people[user] = self.groups_for(dedupe(group_pool + GROUPS[:2]))
        everyone = [owner] + list(people)
        queries = []
        for _ in range(rng.randint(100, 200)):
            op = rng.choice(self.ops) if rng.random() < 0.75 else rng.choice(ODD_OPS)
            queries.append((rng.choice(everyone), op))
        return owner, owner_groups, site, user_conf, people, queries


def full_queries(owner, people, ops):
    return [(u, op) for u in [owner, *people] for op in ops]


def cylc_test_cases(oracle, ta, all_ops):
    """Configurations and queries from cylc.uiserver.tests.test_authorise."""
    ops = dedupe(all_ops + ODD_OPS)
    out = []
    extra = {"user1": [""], "user2": ["group:groupA"], "user3": ["group:group1"],
             "user5": ["group:group2", "group:groupA"], "stranger": []}
    for pid, p in param_rows(ta.test_get_permitted_operations):
        people = {**extra, p["user_name"]: p["user_groups"]}
        people.pop(p["owner_name"], None)
        line, auth = oracle.run(
            f"cylc-test:test_get_permitted_operations[{pid}]", p["owner_name"],
            p["owner_groups"], ta.FAKE_SITE_CONF, ta.FAKE_USER_CONF, people,
            full_queries(p["owner_name"], people, ops))
        # Sanity: Cylc's code still gives its own tests' expected answers.
        GROUPS_OF[p["user_name"]] = p["user_groups"]
        got = oracle.make(p["owner_name"], ta.FAKE_USER_CONF, ta.FAKE_SITE_CONF) \
            .get_permitted_operations(p["user_name"])
        assert got == p["expected_operations"], (pid, got, p["expected_operations"])
        out.append(line)
    for pid, p in param_rows(ta.test_get_access_user_permissions_from_owner_conf):
        site = literal_calls(ta, "test_get_access_user_permissions_from_owner_conf")[0][0][2]
        people = {p["access_user_name"]: p["access_user_groups"], "stranger": ["group:blah"]}
        out.append(oracle.run(
            f"cylc-test:test_get_access_user_permissions_from_owner_conf[{pid}]", "some_user",
            ["group:blah"], site, p["owner_auth_conf"], people,
            full_queries("some_user", people, ops))[0])
    people = {"tim": [""], "stranger": [""]}
    out.append(oracle.run("cylc-test:test_is_permitted", "mel", [""], ta.FAKE_SITE_CONF,
                          ta.FAKE_USER_CONF, people, full_queries("mel", people, ops))[0])
    for test in ("test_case_conversion", "test_empty_configs", "test_empty_list_in_config",
                 "test_expand_and_process_access_groups"):
        confs, users, test_ops = literal_calls(ta, test)
        for i, (owner, user_conf, site) in enumerate(confs, 1):
            # Unmocked in Cylc's tests: unknown users get no groups from the OS.
            people = {u: [] for u in users + ["stranger"] if u != owner}
            suffix = f"#{i}" if len(confs) > 1 else ""
            out.append(oracle.run(f"cylc-test:{test}{suffix}", owner, [], site,
                                  user_conf, people,
                                  full_queries(owner, people, dedupe(ops + test_ops)))[0])
    return out


def doc_and_known_cases(oracle, app, all_ops):
    """Docs' example configs, the two known clobber examples, malformed inputs."""
    ops = dedupe(all_ops + ODD_OPS)
    site = doc_example(app.CylcUIServer.site_authorization.help, "site_authorization")
    user = doc_example(app.CylcUIServer.user_authorization.help, "user_authorization")
    people = {"user1": [], "userA": ["group:group_a"], "userB": ["group:group_b"],
              "userC": ["group:group2"], "stranger": [],
              "userD": ["group:group_a", "group:group_b", "group:group2"]}
    out = []
    for owner, groups in [("server_owner_1", []), ("server_owner_1", ["group:grp_of_svr_owners"]),
                          ("svr_owner_in_group", ["group:grp_of_svr_owners"]), ("plain_owner", [])]:
        for uname, uconf in [("user-example", user), ("no-user-conf", {})]:
            out.append(oracle.run(f"doc:site-example,{uname},owner={owner},groups={len(groups)}",
                                  owner, groups, site, uconf, people,
                                  full_queries(owner, people, ops))[0])
    clobbers = [  # (site, (user, op, Cylc's known answer)): update() discards merged entries
        ({"*": {"*": {"default": "READ"}},
          "own1": {"*": {"limit": "ALL"}, "bob": {"limit": "READ"}}},
         ("carol", "read", False)),
        ({"*": {"*": {"limit": ["CONTROL", "!stop"]}},
          "own1": {"*": {"default": "CONTROL", "limit": "CONTROL"}, "bob": {"limit": "READ"}}},
         ("carol", "stop", True)),
    ]
    people = {"bob": [], "carol": [], "dave": ["group:x"]}
    for i, (site, (who, op, expect)) in enumerate(clobbers, 1):
        for uname, uconf in [("", {}), ("+user-conf", {"carol": "ALL", "dave": ["READ"]})]:
            line, auth = oracle.run(f"clobber:{i}{uname}", "own1", [], site, uconf, people,
                                    full_queries("own1", people, ops))
            if not uconf:
                assert oracle.decide(auth, who, op)[0] is expect, (i, who, op)
            out.append(line)
    malformed = [  # (owner, site, user conf): values of the wrong type
        ("fake", {"fake": "config"}, {}),  # Cylc's tests' dummy site, matched: ctor raises
        ("own1", {"*": {"bob": "READ"}}, {}),  # non-dict entry, read at decision time
        ("own1", {"*": {"bob": "READ"}, "own1": {"bob": {"limit": "ALL"}}}, {}),  # merged
        ("own1", {"*": {"*": {"default": None}}}, {}),
        ("own1", {"*": {"*": {"limit": "ALL"}}}, {"*": None, "bob": 7}),
        ("own1", {"*": {"*": {"limit": "ALL"}}, "own1": {"*": None}}, {}),
        ("own1", {"*": ["READ"]}, {}),
    ]
    people = {"bob": [], "carol": []}
    for i, (owner, site, uconf) in enumerate(malformed, 1):
        out.append(oracle.run(f"malformed:{i}", owner, [], site, uconf, people,
                              full_queries(owner, people, ops))[0])
    return out


def bench(oracle, all_ops, seed, repeats, timing):
    """1,000 users, 200 groups; 10,000 queries timed on one Authorization."""
    rng = random.Random(seed ^ 0xBE9C)
    styles = ["user{:04d}", "j.smith{}", "Alice{}", "ops{}@example.org", "svc_{}"]
    users = [styles[i % 5].format(i) for i in range(1000)]
    groups = [f"group:team{j:03d}" if j % 10 else f"group:Domain Users {j}" for j in range(200)]
    owner, owner_groups = "bench.owner", groups[1:4]
    people = {u: rng.sample(groups, rng.randint(1, 6)) for u in users}

    def realistic_value():
        toks = [rng.choice(["READ", "READ", "CONTROL", "ALL"])]
        toks += [rng.choice(["!", ""]) + rng.choice(all_ops) for _ in range(rng.randint(0, 3))]
        return toks[0] if len(toks) == 1 and rng.random() < 0.5 else toks

    def realistic_entry():
        kind = rng.random()
        if kind < 0.4:
            return {"default": realistic_value()}
        if kind < 0.7:
            return {"limit": realistic_value()}
        return {"default": realistic_value(), "limit": realistic_value()}

    site = {}
    for okey in ["*", groups[1], "other_owner", owner, groups[2], groups[150]]:
        keys = ["*"] + rng.sample(users, 150) + rng.sample(groups, 40)
        site[okey] = {k: realistic_entry() for k in keys}
    user_conf = {"*": ["READ"], owner: "ALL"}
    for k in rng.sample(users, 300) + rng.sample(groups, 60) + owner_groups:
        user_conf[k] = realistic_value()
    # Every user and group is mentioned somewhere: leftovers go to the site's "*"
    # block or to the user conf, alternately.
    mentioned = set(user_conf).union(*site.values())
    for i, k in enumerate(k for k in users + groups if k not in mentioned):
        if i % 2:
            user_conf[k] = realistic_value()
        else:
            site["*"][k] = realistic_entry()
    # Skewed like real use (a few active users), so the 128-user cache matters.
    active = rng.sample(users, 100)
    queries = []
    for _ in range(10_000):
        r = rng.random()
        user = owner if r < 0.01 else rng.choice(active) if r < 0.8 else rng.choice(users)
        op = rng.choice(all_ops) if rng.random() < 0.9 else rng.choice(ODD_OPS)
        queries.append((user, op))
    GROUPS_OF.clear()
    GROUPS_OF.update(people)
    GROUPS_OF[owner] = owner_groups
    decisions, warm, cold = None, None, None
    for _ in range(repeats if timing else 1):
        auth = oracle.make(owner, user_conf, site)  # fresh instance: cache starts empty
        t0 = time.perf_counter_ns()
        got = [oracle.decide(auth, u, op)[0] for u, op in queries]
        t = time.perf_counter_ns() - t0
        warm = t if warm is None else min(warm, t)
        assert decisions is None or got == decisions
        decisions, info = got, auth.get_permitted_operations.cache_info()
    for _ in range(repeats if timing else 0):
        # Cold: the lru_cache is cleared before every decision, so each one runs
        # _get_permitted_operations in full (the ~0.1 us cache_clear is included).
        clear = auth.get_permitted_operations.cache_clear
        t0 = time.perf_counter_ns()
        for u, op in queries:
            clear()
            oracle.decide(auth, u, op)
        t = time.perf_counter_ns() - t0
        cold = t if cold is None else min(cold, t)
    line = {"kind": "bench", "owner": owner, "owner_groups": owner_groups, "site": dumps(site),
            "user": dumps(user_conf),
            "queries": [{"user": u, "groups": GROUPS_OF[u], "op": op, "cylc": d}
                        for (u, op), d in zip(queries, decisions)],
            "cylc_ns_per_decision": round(warm / len(queries), 1) if timing else None,
            "cylc_ns_per_decision_cold": round(cold / len(queries), 1) if timing else None}
    return line, sum(decisions), info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--random", type=int, default=2000, help="number of random configurations")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench-repeats", type=int, default=3, help="best of N timing runs")
    ap.add_argument("--no-timing", action="store_true",
                    help="write the bench timings as null (for byte-for-byte comparisons)")
    args = ap.parse_args()
    t_start = time.perf_counter()

    install_pytest_shim()
    from graphene.utils.str_converters import to_snake_case
    import cylc.uiserver.app as app
    import cylc.uiserver.authorise as authorise
    import cylc.uiserver.tests.test_authorise as ta
    t_import = time.perf_counter() - t_start

    with mock.patch("cylc.uiserver.authorise.get_groups", new=fake_get_groups):
        all_ops = authorise.get_list_of_mutations()  # what Authorization.ALL_OPS returns
        oracle = Oracle(authorise.Authorization, to_snake_case)
        lines = cylc_test_cases(oracle, ta, all_ops)
        lines += doc_and_known_cases(oracle, app, all_ops)
        n_fixed = len(lines)
        gen = RandomConfigs(random.Random(args.seed), all_ops)
        merge = Counter()
        for i in range(args.random):
            owner, ogroups, site, uconf, people, queries = gen.case()
            line, auth = oracle.run(f"random:{args.seed}:{i:05d}", owner, ogroups, site, uconf,
                                    people, queries)
            lines.append(line)
            if auth is not None:
                seen = merge_analysis(owner, ogroups, site, auth.owner_dict)
                merge.update({k: 1 for k in seen})  # cases that hit each path
                merge["in-place merge AND update replacement"] += (
                    "in-place merge" in seen and "update replaced an earlier entry" in seen)
                merge["two or more matching owner keys"] += seen["matching owner keys"] >= 2
        t_cases = time.perf_counter() - t_start - t_import
        bench_line, bench_allowed, cache = bench(oracle, all_ops, args.seed, args.bench_repeats,
                                                 not args.no_timing)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines + [bench_line]:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)

    s = oracle.stats
    print(f"oracle: cylc-uiserver {version('cylc-uiserver')} / cylc-flow {version('cylc-flow')}, "
          f"seed {args.seed}, {len(all_ops)} operations")
    print(f"oracle: {len(lines)} cases ({n_fixed} from Cylc's tests/docs/known/malformed, "
          f"{args.random} random), {s['decisions']} decisions, {s['allowed']} allowed, "
          f"{s['cases with constructor error']} constructor errors, "
          f"{s['denied because is_permitted raised']} denied because is_permitted raised")
    print("oracle: random cases per merge path: " +
          ", ".join(f"{k} {v}" for k, v in sorted(merge.items()) if k != "matching owner keys"))
    print("oracle: random entries/values generated: " +
          ", ".join(f"{k} {v}" for k, v in sorted(gen.hits.items())))
    print("oracle: user lookups (per case and user): " +
          ", ".join(f"{k[7:]} {v}" for k, v in sorted(s.items()) if k.startswith("users: ")))
    print(f"oracle: bench {len(bench_line['queries'])} queries, {bench_allowed} allowed, "
          f"{bench_line['cylc_ns_per_decision']} ns/decision warm "
          f"(cache hits {cache.hits}, misses {cache.misses}), "
          f"{bench_line['cylc_ns_per_decision_cold']} ns/decision cold")
    print(f"oracle: import {t_import:.1f} s, cases {t_cases:.1f} s, "
          f"total {time.perf_counter() - t_start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
