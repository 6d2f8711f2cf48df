"""Mutation testing of hwsim's core models: does some test notice when the code is wrong?

Each *mutant* is one small change to one module (an AST rewrite: an arithmetic or comparison
operator swapped, a number +-1, a term of a sum dropped, ``max`` <-> ``min``, the first two
arguments of a call swapped, ``and`` <-> ``or``). A mutant is *killed* when the module's test
files fail on it (``pytest -x``, within a time limit), and *survives* when they pass. The
snapshot tests (tests/test_golden.py and every test that compares against a stored docs
table) are never run, so the score counts only tests with an independent oracle.

Bounded: at most ``--max-mutants`` per module, drawn with a fixed seed from all mutation
sites (the same sample every run for unchanged code); each mutant runs only the module's test
files (:data:`TESTS`). ``--listed`` runs instead the hand-written mutations of issue 15
(:data:`LISTED`), each of which must be killed.

    python tools/mutation.py                                  # every module in TESTS
    python tools/mutation.py --modules hwsim/sim/dram.py --max-mutants 20 --jobs 2
    python tools/mutation.py --listed
    python tools/mutation.py --json out/mutation.json         # machine-readable result

Survivors that no input can tell from the original (:data:`EQUIVALENT`, each with its reason)
are reported apart: the score is given raw and without them. Exit status 0 when the raw score
(killed / (killed + survived)) reaches ``--target`` (default 0.9) and every listed mutation is
killed, 1 otherwise. Mutants that do not import or time out
count as killed (a test run noticed) but are reported apart.
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Mutant", "TESTS", "LISTED", "EQUIVALENT", "mutants_of", "main"]

ROOT = Path(__file__).resolve().parents[1]

#: module -> the test files that exercise it (snapshot tests excluded)
TESTS = {
    "hwsim/sim/engine.py": ["tests/test_oracles.py", "tests/test_engine.py", "tests/test_aimc.py",
                            "tests/test_memory_reporting.py", "tests/test_timeline.py",
                            "tests/test_faults.py"],
    "hwsim/sim/collect.py": ["tests/test_oracles.py", "tests/test_engine.py", "tests/test_aimc.py",
                             "tests/test_memory_reporting.py"],
    "hwsim/sim/interconnect.py": ["tests/test_oracles.py", "tests/test_interconnect.py",
                                  "tests/test_dma_l2.py", "tests/test_arbitration.py",
                                  "tests/test_timeline.py"],
    "hwsim/sim/dram.py": ["tests/test_oracles.py", "tests/test_dram.py"],
    "hwsim/sim/arbitration.py": ["tests/test_oracles.py", "tests/test_arbitration.py"],
    "hwsim/sim/l1banks.py": ["tests/test_oracles.py", "tests/test_l1banks.py"],
    "hwsim/models/cores.py": ["tests/test_oracles.py", "tests/test_engine.py", "tests/test_aimc.py"],
    "hwsim/models/aimc.py": ["tests/test_oracles.py", "tests/test_aimc.py"],
    "hwsim/mapping/placement.py": ["tests/test_oracles.py", "tests/test_engine.py",
                                   "tests/test_memory_reporting.py"],
    "hwsim/mapping/tiling.py": ["tests/test_oracles.py", "tests/test_engine.py",
                                "tests/test_memory_reporting.py", "tests/test_tiler_search.py"],
    "hwsim/mapping/aimc.py": ["tests/test_oracles.py", "tests/test_aimc.py", "tests/test_packing.py"],
    "hwsim/mapping/packing.py": ["tests/test_packing.py"],
    "hwsim/mapping/replication.py": ["tests/test_replication.py"],
    "hwsim/mapping/fusion.py": ["tests/test_fusion.py"],
    "hwsim/models/ne16.py": ["tests/test_ne16.py"],
    "hwsim/report/efficiency.py": ["tests/test_oracles.py", "tests/test_aimc.py",
                                   "tests/test_end_to_end.py::test_mobilenetv2_end_to_end"],
}

#: survivors shown equivalent (no input can tell them from the original), keyed by module and
#: the mutant's description (its mutation and original line, as reported), with the reason;
#: reported apart so the score is given both raw and without them
EQUIVALENT = {
    ("hwsim/sim/interconnect.py",
     "0 -> 1: self.latency_ps = clock.cycles_to_ps(latency_cycles) if clock else 0"):
        "every channel the simulator builds (ports, links, DMA channels, engines) has a clock; "
        "only a bare Channel made in a unit test has none",
    ("hwsim/mapping/tiling.py", "12 -> 11: _memo = lru_cache(maxsize=1 << 12)"):
        "the size of a cache of a pure function: same results, only hits and misses differ",
    ("hwsim/sim/arbitration.py",
     "2 -> 3: return (ev for _, _, ev in sorted(self.heap, key=lambda e: e[:2]))"):
        "(priority, arrival number) is unique, so the third element is never compared",
    ("hwsim/sim/collect.py", '0 -> 1: top, top_ps = "", 0'):
        "the value of a layer that waited on nothing: 1 ps is below the time quantum and "
        "reported as 0 cycles (Clock.ps_to_cycles)",
    ("hwsim/sim/dram.py", "0 -> 1: self.ahead_ps = 0"):
        "read only together with ahead_t, which is None until both are set",
    ("hwsim/sim/l1banks.py",
     "1 -> 2: period = [s.period(banks) if not s.random else 1 for s in streams]"):
        "the period of a random stream is read only when looking for a repeating state, which "
        "is never done with random streams (fast() solves those in closed form)",
    ("hwsim/sim/arbitration.py", "1 -> 2: for step in range(1, k + 1):"):
        "range(1, k + 2): the extra step wraps round to the requester already tried first "
        "(range(2, k + 1), the same description, is killed by the round-robin tests)",
    ("hwsim/mapping/tiling.py", "1 -> 2: mid = (lo + hi + 1) // 2"):
        "the bisection probes any row count in (lo, hi]; the working set grows with the rows, "
        "so it finds the same largest count that fits",
}

#: snapshot tests: never counted (a docs table or a stored fingerprint is not an oracle)
SNAPSHOTS = ["tests/test_golden.py"]

#: issue 15's hand mutations: (module, code as it is, code mutated, what it breaks)
LISTED = [
    ("hwsim/sim/dram.py", "act = max(cmd, act_ps[bank] + t_ras, last_end[bank]) + t_rp",
     "act = max(cmd, last_end[bank]) + t_rp", "DRAM tRAS removed (open page)"),
    ("hwsim/sim/dram.py", "t_rp, t_ras, lat = self.t_rp, self.t_ras, self.t_rcd + self.t_cl",
     "t_rp, t_ras, lat = self.t_rp, self.t_ras, self.t_cl", "tRCD dropped, closed page multi-bank"),
    ("hwsim/sim/engine.py", "if isinstance(src, Memory) and src.read_pj_per_byte:\n"
     "                costs.append((src.name, src.read_pj_per_byte))",
     "if isinstance(src, Memory) and src.write_pj_per_byte:\n"
     "                costs.append((src.name, src.write_pj_per_byte))", "read energy taken as write"),
    ("hwsim/sim/engine.py", "if isinstance(dst, Memory) and dst.write_pj_per_byte:\n"
     "                costs.append((dst.name, dst.write_pj_per_byte))",
     "if isinstance(dst, Memory) and dst.read_pj_per_byte:\n"
     "                costs.append((dst.name, dst.read_pj_per_byte))", "write energy taken as read"),
    ("hwsim/models/cores.py",
     "return cluster.energy_pj_per_op.get(op, cluster.energy_pj_per_op.get(\"default\", 0.0))",
     "return cluster.energy_pj_per_op.get(\"default\", 0.0)", "per-op core energy replaced by the default"),
    ("hwsim/sim/engine.py", "cont = min(rest, q)", "cont = 0", "AIMC streamer waits never contention"),
    ("hwsim/mapping/placement.py", "victim = max(movable, key=lambda t: (last[t], t))",
     "victim = min(movable, key=lambda t: (last[t], t))", "live-range spill picks the soonest read"),
    ("hwsim/sim/collect.py", "ps = max(per_engine.values(), default=0)",
     "ps = min(per_engine.values(), default=0)", "program-once setup = shortest crossbar"),
    ("hwsim/sim/engine.py", "if isinstance(src, Memory) and src.read_pj_per_byte:",
     "if isinstance(src, Memory) and src.read_pj_per_byte and src.level != \"L3\":",
     "L3 read energy dropped"),
    ("hwsim/sim/collect.py", "leak_total_mw * (end - prev_end) * PJ_PER_MW_PS",
     "leak_total_mw * (end - prev_end) * PJ_PER_MW_PS * 10", "leakage units off by 10x (per layer)"),
    ("hwsim/sim/collect.py", "mw * PJ_PER_MW_PS * makespan",
     "mw * PJ_PER_MW_PS * 10 * makespan", "leakage units off by 10x (per component)"),
    ("hwsim/base/units.py", "PJ_PER_MW_PS = 1e-3", "PJ_PER_MW_PS = 1e-2", "leakage unit off by 10x"),
    ("hwsim/sim/engine.py", "round(kernel_cycles * ov)", "round(kernel_cycles * ov / 2)",
     "bank-conflict stalls halved"),
    ("hwsim/models/cores.py", "return pulp_nn.KernelWork(-(-ops // (cl.cores * thr)), math.ceil(ops / thr))",
     "return pulp_nn.KernelWork(ops // (cl.cores * thr), math.ceil(ops / thr))",
     "core cycles rounded down (table kernel model)"),
    ("hwsim/models/aimc.py", "* (xb.mvm_latency_cycles + xb.job_overhead_cycles))",
     "* (xb.mvm_latency_cycles - 1 + xb.job_overhead_cycles))", "IMA MVM one cycle short"),
    ("platforms/pulp_imc_cluster.yaml", "mvm_latency_cycles: 66", "mvm_latency_cycles: 65",
     "bundled IMA MVM one cycle short"),
    ("hwsim/models/aimc.py", "dur = xb.clock.cycles_to_ps(rows * xb.program_cycles_per_row)",
     "dur = xb.clock.cycles_to_ps(rows * xb.program_cycles_per_row // 2)",
     "programming time per row halved"),
    ("platforms/pulp_imc_cluster.yaml", "program_cycles_per_row: 16000",
     "program_cycles_per_row: 8000", "bundled programming time per row halved"),
    ("hwsim/workload/trace.py", "return self.kernel[0] * self.kernel[1] * (self.in_channels // self.groups)",
     "return self.kernel[0] * self.kernel[1] * self.in_channels",
     "depthwise MACs multiplied by the channel count"),
]
#: extra test files for the listed mutations of modules outside TESTS
LISTED_TESTS = {"platforms/pulp_imc_cluster.yaml": ["tests/test_oracles.py"],
                "hwsim/base/units.py": ["tests/test_oracles.py"],
                "hwsim/workload/trace.py": ["tests/test_onnx_import.py", "tests/test_oracles.py"]}


@dataclass
class Mutant:
    module: str
    index: int          # position among the module's mutation sites (stable for unchanged code)
    line: int
    what: str
    source: str = ""    # the mutated module (not serialised)
    outcome: str = ""   # killed | survived | timeout | error
    seconds: float = 0.0

    def row(self) -> dict:
        d = asdict(self)
        d.pop("source")
        return d


# ------------------------------------------------------------------------------------------
# Mutation operators
# ------------------------------------------------------------------------------------------
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
               ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_CMP_SWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
             ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
             ast.In: ast.NotIn, ast.NotIn: ast.In}


#: calls whose first two arguments commute (swapping them is an equivalent mutant)
_SYMMETRIC = {"max", "min", "set", "print"}


def _sites(tree) -> list:
    """Every (node path, variant) that can be mutated, in a deterministic walk order."""
    out = []
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            if type(node.op) in _BINOP_SWAP:
                out.append((node, "binop"))
            if isinstance(node.op, (ast.Add, ast.Sub)):
                out.append((node, "drop_right"))
                out.append((node, "drop_left"))
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAP:
            out.append((node, "augop"))
        elif isinstance(node, ast.Compare) and type(node.ops[0]) in _CMP_SWAP:
            out.append((node, "compare"))
        elif isinstance(node, ast.BoolOp):
            out.append((node, "boolop"))
        elif (isinstance(node, ast.Constant) and type(node.value) in (int, float)
              and id(node) not in docstrings):
            out.append((node, "plus1"))
            if node.value:
                out.append((node, "minus1"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("max", "min"):
                out.append((node, "maxmin"))
            if (len(node.args) >= 2 and node.func.id not in _SYMMETRIC
                    and not any(isinstance(a, ast.Starred) for a in node.args[:2])):
                out.append((node, "swap_args"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            out.append((node, "drop_unary"))
    return out


def _apply(node, variant, parents):
    """Mutate ``node`` in place; return (description, undo)."""
    if variant in ("binop", "augop"):
        old, new = node.op, _BINOP_SWAP[type(node.op)]()
        node.op = new
        eq = "=" if variant == "augop" else ""
        return f"{type(old).__name__}{eq} -> {type(new).__name__}{eq}", lambda: setattr(node, "op", old)
    if variant == "compare":
        old = node.ops[0]
        node.ops[0] = _CMP_SWAP[type(old)]()
        return (f"{type(old).__name__} -> {type(node.ops[0]).__name__}",
                lambda: node.ops.__setitem__(0, old))
    if variant == "boolop":
        old = node.op
        node.op = ast.Or() if isinstance(old, ast.And) else ast.And()
        return ("and -> or" if isinstance(old, ast.And) else "or -> and"), lambda: setattr(node, "op", old)
    if variant in ("plus1", "minus1"):
        old = node.value
        node.value = old + (1 if variant == "plus1" else -1)
        return f"{old!r} -> {node.value!r}", lambda: setattr(node, "value", old)
    if variant == "maxmin":
        old = node.func.id
        node.func.id = "min" if old == "max" else "max"
        return f"{old} -> {node.func.id}", lambda: setattr(node.func, "id", old)
    if variant == "swap_args":
        a = node.args
        a[0], a[1] = a[1], a[0]
        return (f"{ast.unparse(node.func)}(a, b, ...) -> (b, a, ...)",
                lambda: a.__setitem__(slice(0, 2), [a[1], a[0]]))
    # a dropped term or unary operator: the node is replaced by one of its operands
    child = {"drop_right": "left", "drop_left": "right", "drop_unary": "operand"}[variant]
    parent, field, idx = parents[id(node)]
    repl = getattr(node, child)
    if idx is None:
        setattr(parent, field, repl)
        undo = lambda: setattr(parent, field, node)  # noqa: E731
    else:
        getattr(parent, field)[idx] = repl
        undo = lambda: getattr(parent, field).__setitem__(idx, node)  # noqa: E731
    what = {"drop_right": "drop right term", "drop_left": "drop left term",
            "drop_unary": f"drop unary {type(node.op).__name__}"}[variant]
    return what, undo


def _parents(tree) -> dict:
    out = {}
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, ast.AST):
                out[id(value)] = (parent, field, None)
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, ast.AST):
                        out[id(v)] = (parent, field, i)
    return out


def mutants_of(module: str, pick=None) -> tuple:
    """The mutants of ``module`` (a path relative to the repository root): all, or those at
    the site indices in ``pick``. Returns ``(number of sites, [Mutant])``."""
    src = (ROOT / module).read_text()
    tree = ast.parse(src)
    sites = _sites(tree)
    parents = _parents(tree)
    out = []
    for i in (range(len(sites)) if pick is None else pick):
        node, variant = sites[i]
        what, undo = _apply(node, variant, parents)
        try:
            mutated = ast.unparse(tree)
        except Exception:   # an operator that cannot be rendered here: not a mutant
            mutated = None
        finally:
            undo()
        if mutated is not None:
            line = getattr(node, "lineno", 0)
            out.append(Mutant(module, i, line, f"{what}: {_line(src, line)}", mutated))
    return len(sites), out


def _line(src: str, line: int) -> str:
    lines = src.splitlines()
    return lines[line - 1].strip()[:90] if 0 < line <= len(lines) else ""


# ------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------
def _workdir() -> Path:
    """A private copy of the code and tests (never the caller's checkout)."""
    d = Path(tempfile.mkdtemp(prefix="hwsim-mut-"))
    for name in ("hwsim", "tests", "platforms", "traces", "tools", "docs"):
        shutil.copytree(ROOT / name, d / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copy(ROOT / name, d / name)
    return d


def _pytest(work: Path, tests: list, timeout: float) -> tuple:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-p", "no:randomly", "--no-header", *tests]
    for s in SNAPSHOTS:
        cmd += ["--ignore", s]
    env = dict(os.environ, PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1",
               HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "default"))
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0
    dt = time.perf_counter() - t0
    if p.returncode == 0:
        return "survived", dt
    if p.returncode in (2, 3, 4) or "ImportError" in p.stdout[-2000:] or "SyntaxError" in p.stdout[-2000:]:
        return "error", dt
    return "killed", dt


def _run_one(work: Path, m: Mutant, tests: list, timeout: float) -> Mutant:
    path = work / m.module
    orig = path.read_text()
    try:
        path.write_text(m.source)
        m.outcome, m.seconds = _pytest(work, tests, timeout)
    finally:
        path.write_text(orig)
    return m


def _pool_run(jobs: list, workers: int, timeout: float, progress=True) -> list:
    """Run ``[(mutant, tests)]`` on ``workers`` private copies of the repository."""
    dirs = [_workdir() for _ in range(max(1, workers))]
    free = list(dirs)
    done = []
    try:
        with cf.ThreadPoolExecutor(len(dirs)) as ex:
            pending = {}
            it = iter(jobs)
            while True:
                while free:
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    w = free.pop()
                    pending[ex.submit(_run_one, w, nxt[0], nxt[1], timeout)] = w
                if not pending:
                    break
                fin, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for f in fin:
                    free.append(pending.pop(f))
                    m = f.result()
                    done.append(m)
                    if progress:
                        print(f"  [{len(done)}/{len(jobs)}] {m.outcome:8s} {m.seconds:5.1f}s "
                              f"{m.module}:{m.line} {m.what}", flush=True)
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    return done


def recheck(res: list, workers: int, timeout: float) -> list:
    """Run the survivors of a saved result again (after tests were added). A survivor whose
    module changed since (its site now describes another mutation) stays a survivor."""
    jobs = []
    for m in res:
        if m.outcome != "survived":
            continue
        _, (now,) = mutants_of(m.module, [m.index]) if m.index >= 0 else (0, [None])
        if now is None or now.what != m.what:
            print(f"  stale (code changed): {m.module}:{m.line} {m.what}")
            continue
        jobs.append((now, TESTS[m.module]))
    again = {(x.module, x.index): x for x in _pool_run(jobs, workers, timeout)}
    return [again.get((m.module, m.index), m) for m in res]


def run_listed(workers: int, timeout: float) -> list:
    jobs = []
    stale = []
    for module, old, new, what in LISTED:
        src = (ROOT / module).read_text()
        if src.count(old) != 1:
            stale.append(Mutant(module, -1, 0, what, outcome="stale"))
            continue
        line = src[:src.index(old)].count("\n") + 1
        m = Mutant(module, -1, line, what, src.replace(old, new))
        jobs.append((m, LISTED_TESTS.get(module) or TESTS[module]))
    return stale + _pool_run(jobs, workers, timeout)


DOCS = ROOT / "docs" / "testing.md"
BEGIN, END = "<!-- mutation results: begin -->", "<!-- mutation results: end -->"


def _commit() -> str:
    """The checkout's commit, ``+ uncommitted changes`` when the code or tests differ from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "?"
    return head + (" + uncommitted changes" if git("status", "--porcelain", "--", "hwsim", "tests",
                                                       "platforms") else "")


def _equivalent(m: Mutant) -> str | None:
    """The documented reason a survivor is equivalent, else None."""
    return EQUIVALENT.get((m.module, m.what)) if m.outcome == "survived" else None


def scores(res: list) -> tuple:
    """``(killed, survived, equivalent, raw score, score without the equivalent survivors)``."""
    k = sum(m.outcome != "survived" for m in res)
    e = sum(_equivalent(m) is not None for m in res)
    s = len(res) - k
    return k, s, e, (k / len(res) if res else 1.0), (k / (len(res) - e) if len(res) > e else 1.0)


def write_docs(res: list, a, head: str | None = None) -> None:
    """The score table and every survivor, between the markers of docs/testing.md."""
    head = head or _commit()
    lines = [BEGIN, "",
             f"Run on commit `{head}`: `python tools/mutation.py --max-mutants {a.max_mutants} "
             f"--seed {a.seed}` (mutants sampled per module; snapshot tests not run). *Equivalent*: "
             "survivors listed in `EQUIVALENT` (tools/mutation.py) with the reason no input can "
             "tell them apart; the last column leaves them out.", "",
             "| module | mutants | killed | survived | of which equivalent | score | without equivalent |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for module in a.modules:
        rs = [m for m in res if m.module == module]
        k, sv, e, raw, net = scores(rs)
        lines.append(f"| `{module}` | {len(rs)} | {k} | {sv} | {e} | {100 * raw:.0f}% | {100 * net:.0f}% |")
    k, sv, e, raw, net = scores(res)
    lines += [f"| **total** | {len(res)} | {k} | {sv} | {e} | **{100 * raw:.0f}%** | "
              f"**{100 * net:.0f}%** |", "",
              "Survivors (module:line, mutation: original line):", ""]
    for m in res:
        if m.outcome == "survived":
            why = _equivalent(m)
            lines.append(f"- `{m.module}:{m.line}` {m.what.replace('`', chr(39))}"
                         + (f" (*equivalent*: {why})" if why else ""))
    if not sv:
        lines.append("- none")
    lines += ["", END]
    text = DOCS.read_text()
    i, j = text.index(BEGIN), text.index(END) + len(END)
    DOCS.write_text(text[:i] + "\n".join(lines) + text[j:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", nargs="*", default=list(TESTS), help="modules to mutate")
    ap.add_argument("--max-mutants", type=int, default=25, help="mutants per module (sampled)")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=2, help="mutants run in parallel")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per mutant's test run")
    ap.add_argument("--target", type=float, default=0.9, help="score needed for exit status 0")
    ap.add_argument("--listed", action="store_true", help="run issue 15's listed mutations")
    ap.add_argument("--json", help="write every mutant's outcome here")
    ap.add_argument("--write-docs", action="store_true",
                    help="replace the results section of docs/testing.md with this run's")
    ap.add_argument("--from-json", help="with --write-docs: render a saved --json result "
                    "instead of running")
    ap.add_argument("--recheck", action="store_true", help="with --from-json: run the saved "
                    "result's survivors again against the current tests (same code only)")
    a = ap.parse_args(argv)
    # a kill still removes the private copies (the pools' ``finally``)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.from_json:
        saved = json.loads(Path(a.from_json).read_text())
        res = [Mutant(**{k: v for k, v in m.items() if k in Mutant.__dataclass_fields__})
               for m in saved["mutants"]]
        a.modules = list(dict.fromkeys(m.module for m in res))
        a.max_mutants, a.seed = saved["max_mutants"], saved["seed"]
        head = saved.get("commit")
        if a.recheck:
            res = recheck(res, a.jobs, a.timeout)
            head = f"{head}, survivors rechecked on {_commit()}"
        k, _, e, score, net = scores(res)
        if a.write_docs:
            write_docs(res, a, head)
        if a.json and a.recheck:
            Path(a.json).write_text(json.dumps({"score": score, "seed": a.seed, "commit": head,
                                                "max_mutants": a.max_mutants,
                                                "mutants": [m.row() for m in res]}, indent=1))
        print(f"score {k}/{len(res)} = {score:.0%} ({net:.0%} without {e} equivalent)")
        return 0 if score >= a.target else 1
    if a.listed:
        res = run_listed(a.jobs, a.timeout)
        bad = [m for m in res if m.outcome not in ("killed", "timeout")]
        print(f"listed mutations: {len(res) - len(bad)} of {len(res)} killed")
        for m in bad:
            print(f"  NOT KILLED ({m.outcome}): {m.module}:{m.line} {m.what}")
        if a.json:
            Path(a.json).write_text(json.dumps([m.row() for m in res], indent=1))
        return 1 if bad else 0
    head = _commit()    # the code the mutants are made from (before any run)
    jobs = []
    for module in a.modules:
        if module not in TESTS:
            print(f"no test files configured for {module} (add it to TESTS in {__file__})")
            return 2
        n = len(_sites(ast.parse((ROOT / module).read_text())))
        rng = random.Random(f"{a.seed}:{module}")
        pick = sorted(rng.sample(range(n), min(a.max_mutants, n)))
        _, ms = mutants_of(module, pick)
        print(f"{module}: {n} mutation sites, running {len(ms)}", flush=True)
        jobs += [(m, TESTS[module]) for m in ms]
    base = _pool_run([(Mutant(m, -1, 0, "unmutated", (ROOT / m).read_text()), TESTS[m])
                      for m in a.modules], a.jobs, a.timeout, progress=False)
    broken = [m.module for m in base if m.outcome != "survived"]
    if broken:
        print(f"the test files of {', '.join(broken)} fail without a mutation: fix them first")
        return 2
    t0 = time.perf_counter()
    res = _pool_run(jobs, a.jobs, a.timeout)
    res.sort(key=lambda m: (m.module, m.index))
    print(f"\n{'module':34s}{'mutants':>8}{'killed':>8}{'survived':>9}{'score':>7}")
    tot_k = tot_s = 0
    for module in a.modules:
        rs = [m for m in res if m.module == module]
        k = sum(m.outcome != "survived" for m in rs)
        s = len(rs) - k
        tot_k, tot_s = tot_k + k, tot_s + s
        print(f"{module:34s}{len(rs):>8}{k:>8}{s:>9}{k / len(rs) if rs else 1:>7.0%}")
    _, _, e, score, net = scores(res)
    print(f"{'total':34s}{tot_k + tot_s:>8}{tot_k:>8}{tot_s:>9}{score:>7.0%}"
          f"   ({time.perf_counter() - t0:.0f} s, {a.jobs} jobs, seed {a.seed}); "
          f"{net:.0%} without {e} equivalent")
    print("survivors:")
    for m in res:
        if m.outcome == "survived":
            why = _equivalent(m)
            print(f"  {m.module}:{m.line} {m.what}" + (f"  [equivalent: {why}]" if why else ""))
    if a.write_docs:
        write_docs(res, a, head)
    if a.json:
        Path(a.json).write_text(json.dumps({"score": score, "seed": a.seed, "commit": head,
                                            "max_mutants": a.max_mutants,
                                            "mutants": [m.row() for m in res]}, indent=1))
    return 0 if score >= a.target else 1


if __name__ == "__main__":
    sys.exit(main())
