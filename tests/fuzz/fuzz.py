#!/usr/bin/env python3
"""make fuzz: sdlab under hostile input, kills and a full disk (issue 22).

  fuzz.py --bin SDLAB --shim KILLSHIM.so [--count N] [--seed R] [--jobs J] [--families F,...] [--kill-sample K]
          [--keep DIR]

Generates damaged .npy, IDX, JSON (a bench's meta.json), safetensors (an SAE as SAELens saves it) and
checkpoint files, bad command lines, SIGKILLs at every write boundary (through
KILLSHIM.so, tests/fuzz/killshim.c) and at random instants, and a full disk (a small tmpfs, when root), runs
SDLAB on each in a directory of its own and fails on any of:
  signal      the process died of a signal it was not sent
  hang        no exit within the time limit
  sanitizer   a report of an ASan/UBSan build (ASAN_OPTIONS/UBSAN_OPTIONS log_path, set here)
  exit        an exit status outside the rule: 2 for a wrong command line (including out-of-range values),
              1 for bad data or a failing machine, 0 for success
  message     an error that is not exactly one line, or does not name the file or flag at fault
  accepted    damaged or non-finite data accepted (exit 0), judged by an independent .npy reader written here
              from NumPy's format description (NEP 1), not by sdlab's
  leftover    a file or directory that should not be there after the command (a half-written output, a
              temporary file, a stale .partial), or an output that differs from the undisturbed run's bytes
  recovery    after a kill, rerunning the command (--resume for a checkpointed train) fails or differs

Prints one line per family (inputs, failures) and each failure with the command that reproduces it; exits 1 on
any failure.  The same --seed gives the same inputs (the random-instant kills aside: their timing is the
machine's); every case draws from its own generator, so the inputs do not depend on --jobs.
"""
import argparse
import concurrent.futures
import gzip
import json
import math
import os
import random
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

TIMEOUT = 60.0


# ---------------------------------------------------------------------------------------------------------------
# An independent .npy reader (NEP 1: magic, version, little-endian header length, a Python dict literal padded
# with spaces and a newline, then the raw data in C order), and writer.

def npy_bytes(descr, shape, payload, version=(1, 0)):
    """A .npy file: DESCR, SHAPE and the raw PAYLOAD bytes."""
    shp = "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(str(s) for s in shape) + ")"
    return npy_raw("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shp), payload, version)


def npy_raw(head, payload, version=(1, 0)):
    """A .npy file around the header text HEAD, padded as the format says."""
    lenbytes = 2 if version[0] == 1 else 4
    pre = 6 + 2 + lenbytes
    total = pre + len(head) + 1
    pad = (64 - total % 64) % 64
    h = (head + " " * pad + "\n").encode("latin1")
    fmt = "<H" if lenbytes == 2 else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(h)) + h + payload


def npy_parse(b):
    """(descr, shape, data bytes) when B is a well-formed .npy of a type sdlab reads, else None."""
    if len(b) < 10 or b[:6] != b"\x93NUMPY":
        return None
    major, minor = b[6], b[7]
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        return None
    if major == 1:
        hl, start = struct.unpack("<H", b[8:10])[0], 10
    else:
        if len(b) < 12:
            return None
        hl, start = struct.unpack("<I", b[8:12])[0], 12
    if len(b) < start + hl:
        return None
    try:
        text = b[start:start + hl].decode("latin1" if major < 3 else "utf8")
    except UnicodeDecodeError:
        return None
    d = literal(text)
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        return None
    descr, fortran, shape = d["descr"], d["fortran_order"], d["shape"]
    if fortran is not False or not isinstance(shape, tuple) or not all(type(s) is int and s >= 0 for s in shape):
        return None
    # byte order: < little, > big, = native and | not applicable (NumPy reads both as native: little here)
    if len(descr) != 3 or descr[0] not in "<>=|" or descr[1:] not in ("f4", "f8", "i4", "i8"):
        return None
    descr = (">" if descr[0] == ">" else "<") + descr[1:]
    size = int(descr[2])
    n = 1
    for s in shape:
        n *= s
    data = b[start + hl:]
    if len(data) != n * size:
        return None
    return descr, shape, data


def literal(text):
    """The Python literal in TEXT (a dict of str, bool and tuples of int), or None: a small parser, no eval."""
    s = text.strip()
    pos = [0]

    def ws():
        while pos[0] < len(s) and s[pos[0]] in " \t\n":
            pos[0] += 1

    def value():
        ws()
        if pos[0] >= len(s):
            raise ValueError
        c = s[pos[0]]
        if c in "'\"":
            end = s.index(c, pos[0] + 1)
            v = s[pos[0] + 1:end]
            pos[0] = end + 1
            return v
        if c == "(":
            pos[0] += 1
            out = []
            ws()
            while s[pos[0]] != ")":
                out.append(value())
                ws()
                if s[pos[0]] == ",":
                    pos[0] += 1
                    ws()
                elif s[pos[0]] != ")":
                    raise ValueError
            pos[0] += 1
            return tuple(out)
        if c == "{":
            pos[0] += 1
            out = {}
            ws()
            while s[pos[0]] != "}":
                k = value()
                ws()
                if s[pos[0]] != ":":
                    raise ValueError
                pos[0] += 1
                out[k] = value()
                ws()
                if s[pos[0]] == ",":
                    pos[0] += 1
                    ws()
                elif s[pos[0]] != "}":
                    raise ValueError
            pos[0] += 1
            return out
        for word, v in (("False", False), ("True", True)):
            if s.startswith(word, pos[0]):
                pos[0] += len(word)
                return v
        j = pos[0]
        while j < len(s) and (s[j].isdigit() or (j == pos[0] and s[j] == "-")):
            j += 1
        if j == pos[0] or s[pos[0]:j] == "-":
            raise ValueError
        v = int(s[pos[0]:j])
        if j < len(s) and s[j] in "Ll":
            j += 1
        pos[0] = j
        return v

    try:
        v = value()
        ws()
        return v if pos[0] == len(s) else None
    except (ValueError, IndexError):
        return None


def npy_finite(parsed):
    descr, shape, data = parsed
    if descr[1] != "f":
        return True
    fmt = "%s%d%s" % (descr[0], len(data) // int(descr[2]), "f" if descr[2] == "4" else "d")
    return all(math.isfinite(x) for x in struct.unpack(fmt, data))


# ---------------------------------------------------------------------------------------------------------------
# Running sdlab and judging one run

class Runner:
    def __init__(self, binary, shim, logroot):
        self.bin, self.shim, self.logroot = binary, shim, logroot

    def run(self, case, argv, cwd, env_extra=None, timeout=TIMEOUT, kill_after=None):
        """Runs sdlab ARGV in CWD: (exit status or -signal, stderr text, sanitizer reports, hung)."""
        logdir = os.path.join(self.logroot, case.replace("/", "_"))
        os.makedirs(logdir, exist_ok=True)
        env = dict(os.environ)
        env.update({
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive",
            "ASAN_OPTIONS": "detect_leaks=1:verify_asan_link_order=0:log_path=%s/asan" % logdir,
            "UBSAN_OPTIONS": "print_stacktrace=1:log_path=%s/ubsan" % logdir,
            "LSAN_OPTIONS": "print_suppressions=0" + (":suppressions=%s" % os.environ["FUZZ_LSAN_SUPP"]
                                                       if os.environ.get("FUZZ_LSAN_SUPP") else ""),
        })
        if env_extra:
            env.update(env_extra)
        p = subprocess.Popen([self.bin] + argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        hung = False
        try:
            if kill_after is not None:
                try:
                    _, err = p.communicate(timeout=kill_after)
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGKILL)
                    _, err = p.communicate()
            else:
                _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            hung = True
        reports = []
        for f in sorted(os.listdir(logdir)):
            with open(os.path.join(logdir, f), errors="replace") as fh:
                reports.append(fh.read())
        shutil.rmtree(logdir, ignore_errors=True)
        return p.returncode, err.decode("utf8", "replace"), reports, hung


def listing(root):
    """Every path under ROOT, relative, directories with a trailing slash."""
    out = set()
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for x in dirs:
            out.add(os.path.normpath(os.path.join(rel, x)) + "/")
        for x in files:
            out.add(os.path.normpath(os.path.join(rel, x)))
    return out


def tree_bytes(root, rel):
    """{relative path: bytes} of the file or directory REL under ROOT (missing: None)."""
    p = os.path.join(root, rel)
    if os.path.isfile(p):
        with open(p, "rb") as f:
            return {rel: f.read()}
    if not os.path.isdir(p):
        return None
    out = {}
    for x in sorted(listing(p)):
        if not x.endswith("/"):
            with open(os.path.join(p, x), "rb") as f:
                out[os.path.join(rel, x)] = f.read()
    return out


class Case:
    """One generated input: the command, where it runs, and what the rule allows."""

    def __init__(self, family, name, argv, allowed, names=(), files=None, outputs=(), accept_ok=True, setup=None):
        self.family, self.name, self.argv = family, name, argv
        self.allowed = set(allowed)   # exit statuses the rule allows
        self.names = names            # an error must name one of these (a file or a flag)
        self.files = files or {}      # relative path -> bytes, written into the case's directory first
        self.outputs = outputs        # relative paths the command creates on success
        self.accept_ok = accept_ok    # False: the input is damaged, exit 0 is an accepted bad input
        self.setup = setup            # a function(dir) that prepares more of the directory


def named(name, err):
    """ERR names NAME: a file's path as given, or a flag with or without its dashes (--anchor-weight, anchor
    weight), in any case."""
    if name in err:
        return True
    if not name.startswith("--"):
        return False
    low = err.lower()
    return name[2:].lower() in low or name[2:].replace("-", " ").lower() in low


def judge(case, rc, err, reports, hung, before, after, fail):
    """Applies the rule to one finished run; fail(kind, detail) records a failure."""
    if hung:
        return fail("hang", "no exit within %g s" % TIMEOUT)
    if reports:
        return fail("sanitizer", reports[0][:2000])
    if rc < 0:
        return fail("signal", "killed by signal %d; stderr: %s" % (-rc, err[-500:]))
    if rc not in case.allowed:
        return fail("exit", "exit %d, the rule allows %s; stderr: %s" % (rc, sorted(case.allowed), err[-500:]))
    if rc == 0 and not case.accept_ok:
        return fail("accepted", "a damaged or non-finite input was accepted (exit 0)")
    if rc != 0:
        lines = err.rstrip("\n").split("\n")
        if len(lines) != 1 or not lines[0].strip():
            return fail("message", "%d lines of error: %s" % (len(lines), err[-800:]))
        # a run that diverged (finite data of a huge scale, a huge learning rate) is no file's or flag's fault
        if case.names and not any(named(n, err) for n in case.names) and "loss became" not in err:
            return fail("message", "the error names none of %s: %s" % (list(case.names), err.strip()))
    extra = after - before
    if rc == 0:
        extra = {x for x in extra if not any(x == o or x == o + "/" or x.startswith(o + "/") for o in case.outputs)}
    if extra:
        return fail("leftover", "left behind: %s" % sorted(extra)[:10])
    return None


# ---------------------------------------------------------------------------------------------------------------
# Fixtures: small valid inputs every family starts from, made once with the (fast) binary under test

class Fixtures:
    def __init__(self, runner, root):
        self.root = root
        fx = os.path.join(root, "fx")
        os.makedirs(fx)
        self.dir = fx

        def sd(*argv):
            rc, err, reports, hung = runner.run("fixtures", list(argv), fx)
            if rc != 0 or reports or hung:
                sys.exit("fuzz: making the fixtures failed: sdlab %s: %s %s" % (" ".join(argv), err, reports[:1]))

        sd("lrb", "--features", "6", "--dim", "4", "--samples", "64", "--sparsity", "0.5", "--interference", "0.3",
           "--seed", "1", "--out", "bench", "--quiet")
        sd("lrb", "--features", "6", "--dim", "4", "--samples", "64", "--sparsity", "0.5", "--interference", "0.3",
           "--seed", "1", "--hierarchy", "1:2", "--out", "hbench", "--quiet")
        sd("train", "--data", "bench", "--method", "topk", "--k", "2", "--latents", "8", "--epochs", "2", "--batch",
           "16", "--anchors", "2", "--codes", "--out", "run", "--quiet")
        sd("train", "--data", "bench", "--method", "topk", "--k", "2", "--latents", "8", "--epochs", "3", "--batch",
           "16", "--checkpoint-every", "4", "--stop-after", "6", "--out", "ck", "--quiet")
        self.bytes = {}
        for rel in ("run/sae_weights.safetensors", "bench/W_p.npy", "bench/x_p.npy", "bench/x.npy", "bench/meta.json",
                    "hbench/x.npy", "hbench/W_p.npy", "hbench/x_p.npy", "hbench/meta.json", "run/W_E.npy",
                    "run/W_D.npy", "run/anchors.npy", "run/codes.npy", "ck.partial/checkpoint.bin"):
            with open(os.path.join(fx, rel), "rb") as f:
                self.bytes[rel] = f.read()
        # a tiny Fashion-MNIST in IDX: 32 training and 16 test images of 28 x 28 bytes, labels 0-9
        g = random.Random(7)
        self.idx = {}
        for split, n in (("train", 32), ("t10k", 16)):
            self.idx["%s-images-idx3-ubyte" % split] = (struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) +
                                                        bytes(g.randrange(256) for _ in range(n * 784)))
            self.idx["%s-labels-idx1-ubyte" % split] = (struct.pack(">BBBBI", 0, 0, 8, 1, n) +
                                                        bytes(g.randrange(10) for _ in range(n)))


# ---------------------------------------------------------------------------------------------------------------
# Family: damaged .npy files, each read by one of sdlab's commands

NPY_CONSUMERS = {
    # name: (argv with {F} for the damaged file, the fixture it replaces, files the case needs)
    "tsv": (["tsv", "{F}"], "bench/W_p.npy"),
    "eval-truth": (["eval", "--truth", "{F}", "--encoder", "run/W_E.npy"], "bench/W_p.npy"),
    "eval-encoder": (["eval", "--truth", "bench/W_p.npy", "--encoder", "{F}"], "run/W_E.npy"),
    "eval-decoder": (["eval", "--truth", "bench/W_p.npy", "--encoder", "run/W_E.npy", "--decoder", "{F}"],
                     "run/W_D.npy"),
    "eval-exclude": (["eval", "--truth", "bench/W_p.npy", "--encoder", "run/W_E.npy", "--exclude", "{F}"],
                     "run/anchors.npy"),
    "eval-data": (["eval", "--truth", "bench/W_p.npy", "--encoder", "run/W_E.npy", "--decoder", "run/W_D.npy",
                   "--activation", "topk:2", "--data", "{F}"], "bench/x_p.npy"),
    "train-file": (["train", "--data", "{F}", "--method", "topk", "--k", "2", "--latents", "8", "--epochs", "1",
                    "--batch", "16", "--out", "out", "--quiet"], "bench/x_p.npy"),
    "train-dir": (["train", "--data", "bench", "--method", "topk", "--k", "2", "--latents", "8", "--epochs", "1",
                   "--batch", "16", "--out", "out", "--quiet"], "bench/x_p.npy"),
    "train-truth": (["train", "--data", "bench", "--method", "relu", "--latents", "8", "--epochs", "1", "--batch",
                     "16", "--anchors", "2", "--out", "out", "--quiet"], "bench/W_p.npy"),
    "construct": (["construct", "thm33", "--truth", "{F}", "--latents", "8", "--activation", "relu", "--out", "out"],
                  "bench/W_p.npy"),
    "patterns": (["patterns", "--truth", "{F}", "--latents", "2", "--activation", "relu", "--max", "20000"],
                 "bench/W_p.npy"),
    "absorption": (["absorption", "--bench", "hbench", "--hierarchy", "1:2", "--codes", "{F}"], "run/codes.npy"),
    "absorption-x": (["absorption", "--bench", "hbench", "--hierarchy", "1:2", "--construct"], "hbench/x.npy"),
}
HEADER_VARIANTS = [
    "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
    "{'descr': '%s', 'fortran_order': True, 'shape': %s, }",
    "{'fortran_order': False, 'shape': %s, 'descr': '%s'}",
]
DESCRS = ["<f4", "<f8", "<i4", "<i8", ">f4", ">f8", "|u1", "<f2", "<c8", "|O", "<U4", "float32", "", "<f16", "|b1"]


def npy_mutant(g, base):
    """A damaged copy of the .npy BASE and the mutation's name."""
    parsed = npy_parse(base)
    descr, shape, data = parsed
    kind = g.choice(["flip", "flip", "header", "header", "syntax", "truncate", "append", "nonfinite", "nonfinite",
                     "magic", "empty", "version", "hlen", "shape-overflow"])
    b = bytearray(base)
    if kind == "flip":
        for _ in range(g.randint(1, 8)):
            i = g.randrange(len(b))
            b[i] ^= 1 << g.randrange(8)
    elif kind == "header":
        v = g.randrange(6)
        d = g.choice(DESCRS) if v in (0, 1) else descr
        if v == 2:
            shp = g.choice(["()", "(0,)", "(%d,)" % len(data), "(1, 1, 1, 1, 1, 1, 1, 1, 1)", "(-1, 4)",
                            "(%d, %d)" % (2 ** 62, 2 ** 62), "(3.5, 2)", "('a',)",
                            "(%d, %d)" % (shape[0] + 1, shape[-1]),
                            "(%d, 0)" % shape[0], "(0, %d)" % shape[-1]])
        else:
            shp = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        tmpl = g.choice(HEADER_VARIANTS)
        head = tmpl % ((shp, d) if tmpl.startswith("{'fortran") else (d, shp))
        if v == 3:
            head = head.replace("'shape'", "'shape_'")
        if v == 4:
            head = head.replace(", }", ", 'extra': 1, }")
        b = bytearray(npy_raw(head, data))
    elif kind == "syntax":
        hl = struct.unpack("<H", base[8:10])[0]
        for _ in range(g.randint(1, 4)):
            i = 10 + g.randrange(hl)
            b[i] = ord(g.choice("{}()[],:' \"\\\n\x00x9-"))
    elif kind == "truncate":
        b = b[:g.randrange(len(b))]
    elif kind == "append":
        b += bytes(g.randrange(256) for _ in range(g.randint(1, 64)))
    elif kind == "nonfinite" and descr[1] == "f":
        size = int(descr[2])
        i = len(base) - len(data) + size * g.randrange(len(data) // size)
        x = g.choice([float("nan"), float("inf"), -float("inf")])
        b[i:i + size] = struct.pack("<f" if size == 4 else "<d", x)
    elif kind == "nonfinite":  # an integer array: an index out of every range instead
        size = int(descr[2])
        i = len(base) - len(data) + size * g.randrange(len(data) // size)
        b[i:i + size] = struct.pack("<i" if size == 4 else "<q", g.choice([-1, 2 ** 31 - 1, -2 ** 31]))
    elif kind == "magic":
        b[g.randrange(6)] ^= 0xFF
    elif kind == "empty":
        b = bytearray()
    elif kind == "version":
        b[6], b[7] = g.choice([(2, 0), (3, 0), (0, 0), (9, 9), (1, 1)])
    elif kind == "hlen":
        b[8:10] = struct.pack("<H", g.randrange(65536))
    elif kind == "shape-overflow":
        b = bytearray(npy_raw("{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }" %
                              (descr, g.choice([2 ** 31, 2 ** 40, 2 ** 62, 2 ** 63 - 1, 2 ** 64 + 3]), 4), data))
    return bytes(b), kind


def npy_cases(fx, g, n, start):
    cases = []
    names = sorted(NPY_CONSUMERS)
    for i in range(n):
        cg = random.Random(g.random())
        consumer = names[i % len(names)]
        argv, target = NPY_CONSUMERS[consumer]
        damaged, kind = npy_mutant(cg, fx.bytes[target])
        parsed = npy_parse(damaged)
        ok = parsed is not None and npy_finite(parsed)
        if parsed is not None and consumer == "eval-exclude" and parsed[0][1] == "i":
            vals = struct.unpack("%s%d%s" % (parsed[0][0], len(parsed[2]) // int(parsed[0][2]),
                                             "i" if parsed[0][2] == "4" else "q"), parsed[2])
            ok = ok and all(0 <= v < 6 for v in vals)
        if "{F}" in argv:
            path = "in.npy"
            files = {path: damaged}
            argv = [a.replace("{F}", path) for a in argv]
        else:
            path = target
            files = {target: damaged}
        outputs = ("out",) if "out" in argv else ()
        cases.append(Case("npy", "npy-%d-%s-%s" % (start + i, consumer, kind), argv, {0, 1} if ok else {1},
                          names=(path,), files=files, outputs=outputs, accept_ok=ok))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Family: damaged IDX files (gzip-compressed or not), read by sdlab mlp train

def idx_valid(files):
    """Whether the four files (name -> bytes; NAME.gz gzip-compressed) are a Fashion-MNIST sdlab must accept:
    IDX (magic 0 0 0x08 then the dimension count, big-endian extents, the bytes), images N x 28 x 28, labels N
    bytes in 0-9 per split."""
    arrays = {}
    for name, b in files.items():
        if name.endswith(".gz"):
            try:
                b = gzip.decompress(b)
            except (OSError, EOFError, ValueError, zlib.error):
                return False
            name = name[:-3]
        if len(b) < 4 or b[0] != 0 or b[1] != 0 or b[2] != 8 or not 1 <= b[3] <= 4 or len(b) < 4 + 4 * b[3]:
            return False
        dims = struct.unpack(">%dI" % b[3], b[4:4 + 4 * b[3]])
        n = 1
        for d in dims:
            n *= d
        if 0 in dims or len(b) != 4 + 4 * b[3] + n:
            return False
        arrays[os.path.basename(name)] = (dims, b[4 + 4 * b[3]:])
    for split in ("train", "t10k"):
        img, lab = arrays["%s-images-idx3-ubyte" % split], arrays["%s-labels-idx1-ubyte" % split]
        if len(img[0]) != 3 or img[0][1:] != (28, 28) or len(lab[0]) != 1 or lab[0][0] != img[0][0]:
            return False
        if any(x > 9 for x in lab[1]):
            return False
    return True


def idx_cases(fx, g, n, start):
    cases = []
    names = sorted(fx.idx)
    for i in range(n):
        cg = random.Random(g.random())
        target = names[i % len(names)]
        b = bytearray(fx.idx[target])
        kind = cg.choice(["flip", "header", "truncate", "append", "label", "dims", "gzip", "gzip-damage", "empty"])
        if kind == "flip":
            for _ in range(cg.randint(1, 6)):
                j = cg.randrange(min(len(b), 64))
                b[j] ^= 1 << cg.randrange(8)
        elif kind == "header":
            b[cg.randrange(4)] = cg.randrange(256)
        elif kind == "truncate":
            b = b[:cg.randrange(len(b))]
        elif kind == "append":
            b += bytes(cg.randrange(256) for _ in range(cg.randint(1, 16)))
        elif kind == "label":
            if "labels" in target:
                b[8 + cg.randrange(len(b) - 8)] = cg.randrange(10, 256)
            else:
                b[16 + cg.randrange(len(b) - 16)] ^= 0xFF  # pixel values: any byte is a valid pixel
        elif kind == "dims":
            nd = b[3]
            j = 4 + 4 * cg.randrange(nd)
            b[j:j + 4] = struct.pack(">I", cg.choice([0, 1, 27, 29, 2 ** 31, 2 ** 32 - 1, 33, 15]))
        elif kind == "gzip":
            b = bytearray(gzip.compress(bytes(b), mtime=0))
        elif kind == "gzip-damage":
            z = bytearray(gzip.compress(bytes(b), mtime=0))
            j = cg.randrange(len(z))
            z[j] ^= 1 << cg.randrange(8)
            b = z
        elif kind == "empty":
            b = bytearray()
        files = {"fm/" + k: v for k, v in fx.idx.items() if k != target}
        gz = kind.startswith("gzip")
        path = "fm/" + target + (".gz" if gz else "")
        files[path] = bytes(b)
        ok = idx_valid(files)
        argv = ["mlp", "train", "--data", "fm", "--hidden", "4", "--epochs", "1", "--batch", "16", "--out", "out",
                "--quiet"]
        cases.append(Case("idx", "idx-%d-%s-%s" % (start + i, target[:5] + target[6:11], kind), argv,
                          {0, 1} if ok else {1}, names=(path,), files=files, outputs=("out",), accept_ok=ok))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Family: a damaged bench record (meta.json), read back by sdlab absorption

def json_strict(b):
    """The JSON value in B under the rules sdlab reads by (RFC 8259, UTF-8, no duplicate keys, no NaN or
    Infinity literals), or None."""
    def pairs(kv):
        d = {}
        for k, v in kv:
            if k in d:
                raise ValueError("duplicate key")
            d[k] = v
        return d

    def bad_constant(c):
        raise ValueError(c)
    try:
        return json.loads(b.decode("utf8"), object_pairs_hook=pairs, parse_constant=bad_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def same_json(a, b):
    """Equal JSON values, an integer never equal to a real (6 and 6.0 differ: a count written as a real is damage)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b


def json_cases(fx, g, n, start):
    cases = []
    base = fx.bytes["hbench/meta.json"]
    ref = json_strict(base)
    for i in range(n):
        cg = random.Random(g.random())
        b = bytearray(base)
        kind = cg.choice(["flip", "truncate", "delete", "insert", "duplicate", "hierarchy", "parent", "features",
                          "type", "empty", "deep", "huge", "utf8"])
        if kind == "flip":
            j = cg.randrange(len(b))
            b[j] ^= 1 << cg.randrange(8)
        elif kind == "truncate":
            b = b[:cg.randrange(len(b))]
        elif kind == "delete":
            j = cg.randrange(len(b))
            del b[j]
        elif kind == "insert":
            j = cg.randrange(len(b) + 1)
            b[j:j] = cg.choice([b",", b"}", b"]", b"\"", b":", b"\\", b"\x00", b"null", b"{", b"[", b"1"])
        elif kind == "duplicate":
            b = bytearray(base.replace(b'"iterations"', b'"iterations": 1, "iterations"', 1))
        elif kind == "hierarchy":
            b = bytearray(base.replace(b'"hierarchy": "1:2"', b'"hierarchy": %s' % cg.choice(
                [b'"2:1"', b'"1:3"', b'"0:2"', b'"1:"', b'"x"', b'null', b'12', b'"1:2:3"', b'"1:2 "', b'[1, 2]',
                 b'"99999999999999999999:1"']), 1))
        elif kind == "parent":
            b = bytearray(base.replace(b'"parent_of": [-1, 0, 0,', b'"parent_of": [-1, 0, %s,' % cg.choice(
                [b"1", b"-1", b"0.5", b"null", b'"0"', b"1e3"]), 1))
        elif kind == "features":
            b = bytearray(base.replace(b'"features": 6', b'"features": %s' % cg.choice(
                [b"5", b"7", b"6.0", b"-6", b'"6"', b"null", b"1e999"]), 1))
        elif kind == "type":
            b = bytearray(base.replace(b'"parameters": {', b'"parameters": %s, "was": {' % cg.choice(
                [b"null", b"[]", b"1", b'"x"']), 1))
        elif kind == "empty":
            b = bytearray()
        elif kind == "deep":
            depth = cg.choice([100, 5000, 100000])
            b = bytearray(b"[" * depth + b"]" * depth)
        elif kind == "huge":
            b = bytearray(base.replace(b'"iterations": ', b'"iterations": 1e999, "iterations_": ', 1))
        elif kind == "utf8":
            b = bytearray(base.replace(b'"generator": "', b'"generator": "\xff\xfe', 1))
        parsed = json_strict(bytes(b))
        allowed = {1} if parsed is None else {0} if same_json(parsed, ref) else {0, 1}
        cases.append(Case("json", "json-%d-%s" % (start + i, kind),
                          ["absorption", "--bench", "hbench", "--codes", "run/codes.npy"], allowed,
                          names=("hbench/meta.json",), files={"hbench/meta.json": bytes(b)},
                          accept_ok=parsed is not None))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Family: a damaged safetensors file (SAELens' sae_weights.safetensors), read by sdlab eval --sae

def st_parse(b):
    """{name: (shape, float32 values)} of W_enc and W_dec in B under the safetensors specification (8-byte
    little-endian header length, a JSON object header, each tensor's dtype, shape and data_offsets within the
    data), with the dtypes sdlab reads (F32, F64, BF16) and finite float32 values; None otherwise."""
    if len(b) < 8:
        return None
    hl = struct.unpack("<Q", b[:8])[0]
    if hl > len(b) - 8 or hl > 100000000:
        return None
    head = json_strict(b[8:8 + hl])
    if not isinstance(head, dict):
        return None
    data, out = b[8 + hl:], {}
    for name in ("W_enc", "W_dec"):
        t = head.get(name)
        if not isinstance(t, dict):
            return None
        dt, sh, of = t.get("dtype"), t.get("shape"), t.get("data_offsets")
        size = {"F32": 4, "F64": 8, "BF16": 2}.get(dt) if isinstance(dt, str) else None
        if size is None or not isinstance(sh, list) or len(sh) != 2 or not all(type(x) is int and x > 0 for x in sh):
            return None
        if not isinstance(of, list) or len(of) != 2 or not all(type(x) is int for x in of) or not 0 <= of[0] <= of[1]:
            return None
        n = sh[0] * sh[1]
        if of[1] - of[0] != n * size or of[1] > len(data):
            return None
        raw = data[of[0]:of[1]]
        if size == 2:
            vals = struct.unpack("<%df" % n, b"".join(b"\0\0" + raw[2 * i:2 * i + 2] for i in range(n)))
        else:
            vals = struct.unpack("<%d%s" % (n, "f" if size == 4 else "d"), raw)
        try:
            vals = struct.unpack("<%df" % n, struct.pack("<%df" % n, *vals))  # as float32
        except OverflowError:
            return None
        if not all(math.isfinite(v) for v in vals):
            return None
        out[name] = (tuple(sh), vals)
    return out


def st_cases(fx, g, n, start):
    cases = []
    base = fx.bytes["run/sae_weights.safetensors"]
    ref = st_parse(base)
    hl = struct.unpack("<Q", base[:8])[0]
    for i in range(n):
        cg = random.Random(g.random())
        b = bytearray(base)
        kind = cg.choice(["flip-header", "flip-data", "truncate", "append", "hlen", "dtype", "shape", "offsets",
                          "missing", "duplicate", "nonfinite", "empty"])
        if kind == "flip-header":
            j = 8 + cg.randrange(hl)
            b[j] ^= 1 << cg.randrange(8)
        elif kind == "flip-data":
            for _ in range(cg.randint(1, 4)):
                j = 8 + hl + cg.randrange(len(b) - 8 - hl)
                b[j] ^= 1 << cg.randrange(8)
        elif kind == "truncate":
            b = b[:cg.randrange(len(b))]
        elif kind == "append":
            b += bytes(cg.randrange(256) for _ in range(cg.randint(1, 64)))
        elif kind == "hlen":
            b[:8] = struct.pack("<Q", cg.choice([0, 1, hl - 8, hl + 8, len(b), 2 ** 63, 2 ** 64 - 1, 100000001]))
        elif kind in ("dtype", "shape", "offsets", "missing", "duplicate"):
            head = json.loads(bytes(b[8:8 + hl]))
            name = cg.choice(["W_enc", "W_dec"])
            if kind == "dtype":
                head[name]["dtype"] = cg.choice(["F16", "I32", "BF16", "F64", "f32", "", None, 4])
            elif kind == "shape":
                head[name]["shape"] = cg.choice([[], [0, 4], [4], [8, 4, 1], [-1, 4], [2 ** 62, 2 ** 62], ["4", 8],
                                                  list(reversed(head[name]["shape"]))])
            elif kind == "offsets":
                o = head[name]["data_offsets"]
                head[name]["data_offsets"] = cg.choice([[o[1], o[0]], [o[0], o[1] + 4], [o[0] + 4, o[1] + 4],
                                                        [-4, o[1]],
                                                        [o[0]], [o[0], 2 ** 64], "0"])
            elif kind == "missing":
                del head[name]
            text = json.dumps(head)
            if kind == "duplicate":
                text = text.replace('"%s"' % name, '"%s": {}, "%s"' % (name, name), 1)
            h = text.encode() + b" " * (-len(text) % 8)
            b = bytearray(struct.pack("<Q", len(h)) + h + base[8 + hl:])
        elif kind == "nonfinite":
            j = 8 + hl + 4 * cg.randrange((len(b) - 8 - hl) // 4)
            b[j:j + 4] = struct.pack("<f", cg.choice([float("nan"), float("inf"), -float("inf")]))
        elif kind == "empty":
            b = bytearray()
        parsed = st_parse(bytes(b))
        allowed = {1} if parsed is None else {0} if parsed == ref else {0, 1}
        cases.append(Case("safetensors", "st-%d-%s" % (start + i, kind),
                          ["eval", "--truth", "bench/W_p.npy", "--sae", "run"], allowed,
                          names=("run/sae_weights.safetensors", "run"),
                          files={"run/sae_weights.safetensors": bytes(b)}, accept_ok=parsed is not None))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Family: damaged checkpoints, resumed

def ckpt_cases(fx, g, n, start, reference):
    cases = []
    base = fx.bytes["ck.partial/checkpoint.bin"]
    for i in range(n):
        cg = random.Random(g.random())
        b = bytearray(base)
        kind = cg.choice(["flip", "flip", "header", "truncate", "append", "zero", "data"])
        files = {}
        if kind == "flip":
            for _ in range(cg.randint(1, 4)):
                j = cg.randrange(len(b))
                b[j] ^= 1 << cg.randrange(8)
        elif kind == "header":
            j = cg.randrange(min(64, len(b)))
            b[j] = cg.randrange(256)
        elif kind == "truncate":
            b = b[:cg.randrange(len(b))]
        elif kind == "append":
            b += bytes(cg.randrange(256) for _ in range(cg.randint(1, 32)))
        elif kind == "zero":
            j = cg.randrange(len(b))
            b[j:j + cg.randint(1, 64)] = bytes(min(64, len(b) - j))
        elif kind == "data":  # the data the run was made from changes under it (a shorter x_p.npy)
            d, shape, data = npy_parse(fx.bytes["bench/x_p.npy"])
            rows = cg.randint(1, shape[0] - 1)
            files["bench/x_p.npy"] = npy_bytes(d, (rows, shape[1]), data[:rows * shape[1] * int(d[2])])
        same = bytes(b) == base and kind != "data"
        files["ck.partial/checkpoint.bin"] = bytes(b)
        case = Case("checkpoint", "ckpt-%d-%s" % (start + i, kind), ["train", "--resume", "ck"],
                    {0} if same else {0, 1}, names=("ck", "bench/x_p.npy"), files=files, outputs=("ck",))
        case.reference = reference if not same else None
        case.must_match = True  # exit 0 only with the undisturbed run's bytes
        cases.append(case)
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Family: bad command lines

INT_BAD = ["abc", "", "1.5", "1e999", "nan", "inf", "99999999999999999999999", "5x", " ", "0x", "-"]
FLOAT_BAD = ["abc", "", "nan", "inf", "-inf", "1e999", "-1e999", "1.0.0", "5x", " ", "-"]
MAYBE = ["-1", "0", "1e-400", "-0", "+3", "0x10", "2147483648", "1e308", "-1e308"]
# options whose legal values set the amount of work (a huge --trials is a long run, not a bug)
WORK = {"--trials", "--epochs", "--steps", "--starts", "--sgd-runs", "--lrb-iter", "--samples", "--max", "--bnb-nodes",
        "--stop-after", "--checkpoint-every", "--warmup"}

# command: (valid argv, {option: type}) with type int, float, enum or path
PARAM_COMMANDS = {
    "lrb": (["lrb", "--features", "6", "--dim", "4", "--samples", "16", "--sparsity", "0.5", "--interference", "0.3",
             "--seed", "1", "--out", "out", "--quiet"],
            {"--features": "int", "--dim": "int", "--samples": "int", "--sparsity": "float", "--interference": "float",
             "--seed": "int", "--cmin": "float", "--beta": "float", "--cmax": "float", "--target": "enum",
             "--sources": "int", "--target-dim": "int", "--hierarchy": "enum", "--dtype": "enum",
             "--lrb-eps": "float", "--lrb-lambda": "float", "--lrb-eta": "float", "--lrb-iter": "int"}),
    "eval": (["eval", "--truth", "bench/W_p.npy", "--encoder", "run/W_E.npy", "--decoder", "run/W_D.npy"],
             {"--tau": "float", "--activation": "enum", "--truth": "path", "--encoder": "path", "--decoder": "path",
              "--exclude": "path", "--data": "path"}),
    "train": (["train", "--data", "bench", "--method", "topk", "--k", "2", "--latents", "8", "--epochs", "1",
               "--batch", "16", "--out", "out", "--quiet"],
              {"--latents": "int", "--k": "int", "--epochs": "int", "--batch": "int", "--lr": "float",
               "--warmup": "int", "--decay": "enum", "--clip": "float", "--optimizer": "enum", "--seed": "int",
               "--threads": "int", "--checkpoint-every": "int", "--converge": "float", "--anchors": "int",
               "--anchor-weight": "float", "--method": "enum", "--data": "path", "--top": "int",
               "--stop-after": "int", "--resample-at": "int"}),
    "train-relu": (["train", "--data", "bench", "--method", "relu", "--l1", "0.1", "--latents", "8", "--epochs", "1",
                    "--batch", "16", "--out", "out", "--quiet"], {"--l1": "float"}),
    "train-jumprelu": (["train", "--data", "bench", "--method", "jumprelu", "--latents", "8", "--epochs", "1",
                        "--batch", "16", "--out", "out", "--quiet"],
                       {"--theta": "float", "--bandwidth": "float", "--l0": "float"}),
    "train-matryoshka": (["train", "--data", "bench", "--method", "matryoshka", "--ks", "1,2", "--lambdas", "1,1",
                          "--latents", "8", "--epochs", "1", "--batch", "16", "--out", "out", "--quiet"],
                         {"--ks": "enum", "--lambdas": "enum"}),
    "construct": (["construct", "thm33", "--truth", "bench/W_p.npy", "--latents", "8", "--activation", "relu",
                   "--out", "out"], {"--latents": "int", "--activation": "enum", "--md": "float"}),
    "patterns": (["patterns", "--truth", "bench/W_p.npy", "--latents", "2", "--activation", "relu"],
                 {"--latents": "int", "--activation": "enum", "--max": "int"}),
    "check": (["check", "--trials", "1", "--quiet"], {"--trials": "int", "--seed": "int"}),
    "landscape": (["landscape", "--features", "2", "--dim", "2", "--seed", "1", "--latents", "1", "--activation",
                   "relu", "--sgd-runs", "1", "--steps", "50", "--out", "out", "--quiet"],
                  {"--features": "int", "--dim": "int", "--seed": "int", "--latents": "int", "--activation": "enum",
                   "--sgd-runs": "int", "--starts": "int", "--steps": "int", "--lr": "float", "--tol": "float",
                   "--md": "float", "--bnb-nodes": "int", "--interference": "float"}),
    "tsv": (["tsv", "bench/W_p.npy"], {"--rows": "int"}),
    "atlas": (["atlas", "--features", "3", "--dim", "2", "--latents", "2", "--activation", "relu", "--seeds", "1:1",
               "--sgd-runs", "2", "--steps", "50", "--out", "out", "--quiet"],
              {"--features": "int", "--dim": "int", "--latents": "int", "--activation": "enum", "--seeds": "enum",
               "--sgd-runs": "int", "--interference": "float", "--anchors": "int", "--threads": "int"}),
    "export": (["export", "run", "--format", "saelens", "--out", "out"],
               {"--format": "enum", "--dtype": "enum", "--hook-layer": "int"}),
    "absorption": (["absorption", "--bench", "hbench", "--hierarchy", "1:2", "--codes", "run/codes.npy"],
                   {"--tau": "float", "--hierarchy": "enum", "--codes": "path"}),
    "mlp": (["mlp", "train", "--data", "fm", "--hidden", "4", "--epochs", "1", "--batch", "16", "--out", "out",
             "--quiet"], {"--hidden": "enum", "--epochs": "int", "--batch": "int", "--lr": "float", "--seed": "int",
                          "--threads": "int"}),
}
ENUM_OK = {"--seeds": ("0:0",)}  # members of ENUM_BAD that an option accepts
ENUM_BAD = ["", "bogus", "relu:", "topk:", "topk:-1", "topk:abc", "1:", ":2", "0:0", "1,,2", "nan", "jumprelu:nan",
            "4:4:4", ",", "1,x"]


def set_option(argv, opt, value):
    out = list(argv)
    if opt in out:
        out[out.index(opt) + 1] = value
    else:
        out += [opt, value]
    return out


def param_cases(fx, g, n, start):
    cases = []
    names = sorted(PARAM_COMMANDS)
    for i in range(n):
        cg = random.Random(g.random())
        cmd = names[i % len(names)]
        base, opts = PARAM_COMMANDS[cmd]
        kind = cg.choice(["bad", "bad", "bad", "maybe", "unknown", "missing-value", "drop", "dup", "stray"])
        opt = cg.choice(sorted(opts))
        allowed, names_ = {2}, (opt,)
        if kind == "bad":
            t = opts[opt]
            value = cg.choice(INT_BAD if t == "int" else FLOAT_BAD if t == "float" else ENUM_BAD if t == "enum"
                              else ["", "missing.npy", "/", "/dev/null", "/proc/self/mem", "."])
            argv = set_option(base, opt, value)
            if t == "path":
                allowed, names_ = {1, 2}, (opt, value) if value else (opt,)
            elif t == "enum" and value in ENUM_OK.get(opt, ()):
                allowed = {0, 1, 2}  # legal for this option (atlas --seeds 0:0 is seed 0 alone)
            elif t == "enum" and value in ("0:0",):
                allowed = {1, 2}
        elif kind == "maybe":
            # values that may be legal; the largest only where they cannot mean hours of legitimate work
            value = cg.choice([v for v in MAYBE if opt not in WORK or v not in ("2147483648", "1e308")])
            if opts[opt] not in ("int", "float"):
                value = "bogus"
            argv = set_option(base, opt, value)
            allowed, names_ = {0, 1, 2}, (opt, value)
        elif kind == "unknown":
            argv = base + ["--bogus-option", "1"]
            names_ = ("--bogus-option",)
        elif kind == "missing-value":
            argv = base + [opt]
        elif kind == "drop":
            flags = [a for a in base[1:] if a.startswith("--") and a != "--quiet"]
            if not flags:
                continue
            f = cg.choice(flags)
            j = base.index(f)
            argv = base[:j] + base[j + 2:]
            allowed, names_ = {0, 1, 2}, (f,)
        elif kind == "dup":
            argv = base + [base[1], base[2]] if len(base) > 2 and base[1].startswith("--") else base + ["--quiet"]
            allowed, names_ = {0, 2}, ()
        else:  # a stray positional argument
            argv = base + ["stray"]
            names_ = ("stray",)
        outputs = ("out",) if "out" in argv else ()
        cases.append(Case("params", "param-%d-%s-%s-%s" % (start + i, cmd, kind, opt), argv, allowed, names=names_,
                          outputs=outputs, setup=with_idx if cmd == "mlp" else None))
    return cases


def with_idx(d, fx):
    os.makedirs(os.path.join(d, "fm"), exist_ok=True)
    for k, v in fx.idx.items():
        with open(os.path.join(d, "fm", k), "wb") as f:
            f.write(v)


# ---------------------------------------------------------------------------------------------------------------
# Family: SIGKILL before every write boundary (killshim), then recovery

KILL_COMMANDS = {
    # name: (argv, outputs, recovery argv or None: rerun the command itself)
    "lrb": (["lrb", "--features", "6", "--dim", "4", "--samples", "64", "--sparsity", "0.5", "--interference",
             "0.3", "--seed", "1", "--out", "out", "--quiet", "--force"], ("out",), None),
    "train": (["train", "--data", "bench", "--method", "topk", "--k", "2", "--latents", "8", "--epochs", "3",
               "--batch", "16", "--checkpoint-every", "4", "--out", "out", "--quiet", "--force"], ("out",),
              ["train", "--resume", "out", "--quiet"]),
    "eval": (["eval", "--truth", "bench/W_p.npy", "--encoder", "run/W_E.npy", "--decoder", "run/W_D.npy", "--out",
              "e.json", "--sweep", "e.tsv"], ("e.json", "e.tsv"), None),
    "tsv": (["tsv", "bench/W_p.npy", "--out", "t.tsv"], ("t.tsv",), None),
    "construct": (["construct", "thm33", "--truth", "bench/W_p.npy", "--latents", "8", "--activation", "relu",
                   "--out", "out", "--force"], ("out",), None),
    "absorption": (["absorption", "--bench", "hbench", "--hierarchy", "1:2", "--construct", "--out", "a.json",
                    "--rates", "a.tsv", "--encoder-out", "a.npy"], ("a.json", "a.tsv", "a.npy"), None),
    "check": (["check", "--trials", "1", "--quiet", "--report", "c.md"], ("c.md",), None),
    "mlp": (["mlp", "train", "--data", "fm", "--hidden", "4", "--epochs", "1", "--batch", "16", "--out", "out",
             "--quiet", "--force"], ("out",), None),
}


def populate(d, fx, files=None):
    """The case directory: the fixtures' inputs (bench, hbench, run, ck), then FILES over them."""
    for sub in ("bench", "hbench", "run"):
        shutil.copytree(os.path.join(fx.dir, sub), os.path.join(d, sub))
    shutil.copytree(os.path.join(fx.dir, "ck.partial"), os.path.join(d, "ck.partial"))
    for k, v in (files or {}).items():
        p = os.path.join(d, k)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(v)


class Harness:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="sdlab-fuzz-", dir=args.keep)
        self.runner = Runner(os.path.abspath(args.bin), os.path.abspath(args.shim) if args.shim else None,
                             os.path.join(self.work, "logs"))
        self.fx = Fixtures(self.runner, self.work)
        self.references = {}

    def case_dir(self, name):
        d = os.path.join(self.work, "cases", name)
        os.makedirs(d)
        populate(d, self.fx)
        with_idx(d, self.fx)
        return d

    def reference(self, name):
        """The undisturbed run of kill command NAME: {path: bytes} of its outputs and the boundary count."""
        if name in self.references:
            return self.references[name]
        argv, outputs, _ = KILL_COMMANDS[name]
        d = self.case_dir("ref-" + name)
        cnt = os.path.join(d, "..", "count-" + name)
        rc, err, reports, hung = self.runner.run("ref-" + name, argv, d, {"LD_PRELOAD": self.runner.shim,
                                                                            "KILLSHIM_COUNT": cnt})
        if rc != 0 or reports or hung:
            sys.exit("fuzz: the undisturbed %s failed: %s %s" % (name, err, reports[:1]))
        with open(cnt) as f:
            count = int(f.read())
        out = {}
        for o in outputs:
            out.update(tree_bytes(d, o))
        self.references[name] = (out, count)
        shutil.rmtree(d)
        return self.references[name]

    # one case of a file or parameter family
    def run_case(self, case):
        fails = []
        d = os.path.join(self.work, "cases", case.name)
        os.makedirs(d)
        populate(d, self.fx, case.files)
        if case.setup:
            case.setup(d, self.fx)
        before = listing(d)
        rc, err, reports, hung = self.runner.run(case.name, case.argv, d)
        after = listing(d)
        fail = lambda kind, detail: fails.append((case, kind, detail))
        judge(case, rc, err, reports, hung, before, after, fail)
        if not fails and rc == 0 and getattr(case, "must_match", False) and case.reference is not None:
            got = {}
            for o in case.outputs:
                got.update(tree_bytes(d, o) or {})
            if got != case.reference:
                fail("accepted", "exit 0, but the outputs differ from the undisturbed run's")
        shutil.rmtree(d, ignore_errors=True)
        return fails

    # one kill at boundary N (or at a random instant, N = None and delay given) of kill command NAME
    def run_kill(self, name, n, delay=None):
        argv, outputs, resume = KILL_COMMANDS[name]
        ref, _ = self.reference(name)
        cname = "kill-%s-%s" % (name, n if n is not None else "t%.3f" % delay)
        case = Case("kill", cname, argv, {0}, outputs=outputs)
        fails = []
        fail = lambda kind, detail: fails.append((case, kind, detail))
        d = self.case_dir(cname)
        before = listing(d)
        env = {"LD_PRELOAD": self.runner.shim, "KILLSHIM_AT": str(n)} if n is not None else None
        rc, err, reports, hung = self.runner.run(cname, argv, d, env, kill_after=delay)
        # a kill that lands in LeakSanitizer's own exit-time check leaves only its tracer's complaint about the dying
        # threads (seen once in 600 kills on a loaded machine): that is the harness's kill, not sdlab
        reports = [r for r in reports
                   if not all("Unable to get registers from thread" in ln for ln in r.strip().splitlines())]
        if reports:
            fail("sanitizer", reports[0][:2000])
        elif hung:
            fail("hang", "no exit")
        elif rc not in (0, -signal.SIGKILL):
            fail("exit", "exit %d after a kill; stderr %s" % (rc, err[-300:]))
        # no visible output may be half-written: each is absent or whole (the train run directory: whole)
        for o in outputs:
            got = tree_bytes(d, o)
            want = {k: v for k, v in ref.items() if k == o or k.startswith(o + "/")}
            if got is not None and got != want:
                fail("leftover", "after the kill, %s is visible but differs from the undisturbed run's" % o)
        # recovery: resume when a checkpoint is there, else rerun the command
        if resume and os.path.exists(os.path.join(d, "out.partial", "checkpoint.bin")) and \
                not os.path.exists(os.path.join(d, "out")):
            rargv = resume
        else:
            rargv = argv
        rc2, err2, reports2, hung2 = self.runner.run(cname + "-recover", rargv, d)
        if reports2 or hung2 or rc2 != 0:
            fail("recovery", "%s after the kill: exit %s, %s%s" % (" ".join(rargv), rc2, err2.strip()[-300:],
                                                                  reports2[0][:1500] if reports2 else ""))
        else:
            got = {}
            for o in outputs:
                got.update(tree_bytes(d, o) or {})
            if got != ref:
                diff = sorted(set(got) ^ set(ref)) or [k for k in ref if got.get(k) != ref[k]]
                fail("recovery", "recovered outputs differ from the undisturbed run's: %s" % diff[:5])
            extra = {x for x in listing(d) - before
                     if not any(x == o or x == o + "/" or x.startswith(o + "/") for o in outputs)}
            if extra:
                fail("leftover", "after recovery: %s" % sorted(extra)[:10])
        shutil.rmtree(d, ignore_errors=True)
        return fails

    # the full disk: outputs into a tmpfs of SIZE bytes
    def run_disk(self, name, size):
        argv, outputs, _ = KILL_COMMANDS[name]
        ref, _ = self.reference(name)
        cname = "disk-%s-%d" % (name, size)
        case = Case("disk", cname, argv, {0, 1}, outputs=outputs)
        fails = []
        fail = lambda kind, detail: fails.append((case, kind, detail))
        d = self.case_dir(cname)
        mnt = os.path.join(d, "disk")
        os.makedirs(mnt)
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", mnt],
                           stderr=subprocess.DEVNULL) != 0:
            shutil.rmtree(d)
            return None
        try:
            dargv = [("disk/" + a if a in outputs else a) for a in argv]
            # inputs stay outside; the outputs go to the small disk
            rc, err, reports, hung = self.runner.run(cname, dargv, d)
            case.names = tuple("disk/" + o for o in outputs)
            after = listing(mnt)
            if rc == 0:
                got = {}
                for o in outputs:
                    got.update({k[len("disk/"):]: v for k, v in (tree_bytes(d, "disk/" + o) or {}).items()})
                if got != ref:
                    fail("accepted", "exit 0 on a full disk, but the outputs are not the undisturbed run's")
                judge(case, rc, err, reports, hung, set(), {x for x in after if not any(
                    x == o or x.startswith(o + "/") for o in outputs)}, fail)
            else:
                # a trained run whose outputs did not fit stays resumable (its checkpoint kept), and says so
                if rc == 1 and "--resume" in err and os.path.exists(os.path.join(mnt, "out.partial", "checkpoint.bin")):
                    after = {x for x in after if not x.startswith("out.partial/")}
                judge(case, rc, err, reports, hung, set(), after, fail)
        finally:
            subprocess.call(["umount", mnt])
            shutil.rmtree(d, ignore_errors=True)
        return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--count", type=int, default=5000, help="generated inputs over all families (about)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--kill-sample", type=int, default=0, help="kill at K boundaries of each command, not all")
    ap.add_argument("--families", default="npy,idx,json,safetensors,checkpoint,params,kill,instant,disk")
    ap.add_argument("--keep", default=None, help="work in this directory (kept on failure)")
    args = ap.parse_args()
    fams = args.families.split(",")
    h = Harness(args)
    g = random.Random(args.seed)
    t0 = time.time()
    # the share of each family in --count
    share = {"npy": 0.34, "idx": 0.09, "json": 0.07, "safetensors": 0.08, "checkpoint": 0.09, "params": 0.21,
             "instant": 0.02}
    tasks = []  # (family, callable)

    def add(fam, cases):
        tasks.extend((fam, (lambda c: lambda: h.run_case(c))(c)) for c in cases)

    for fam, make in (("npy", npy_cases), ("idx", idx_cases), ("json", json_cases), ("safetensors", st_cases)):
        if fam in fams:
            add(fam, make(h.fx, g, int(args.count * share[fam]), 0))
    if "checkpoint" in fams:
        # the undisturbed resume of the fixture checkpoint, for the exit-0 comparison
        d = h.case_dir("ref-resume")
        rc, err, reports, hung = h.runner.run("ref-resume", ["train", "--resume", "ck"], d)
        if rc != 0 or reports:
            sys.exit("fuzz: the undisturbed resume failed: %s" % err)
        ref = tree_bytes(d, "ck")
        shutil.rmtree(d)
        add("checkpoint", ckpt_cases(h.fx, g, int(args.count * share["checkpoint"]), 0, ref))
    if "params" in fams:
        add("params", param_cases(h.fx, g, int(args.count * share["params"]), 0))
    if {"kill", "instant", "disk"} & set(fams):
        for name in sorted(KILL_COMMANDS):  # the undisturbed runs, once, before any worker needs them
            h.reference(name)
    if "kill" in fams:
        # every boundary of every command, or (--kill-sample K) K evenly spaced ones of each
        for name in sorted(KILL_COMMANDS):
            _, count = h.reference(name)
            per = args.kill_sample or count
            ns = range(1, count + 1) if count <= per else sorted({1 + (j * (count - 1)) // max(1, per - 1)
                                                                  for j in range(per)})
            tasks += [("kill", (lambda nm, k: lambda: h.run_kill(nm, k))(name, k)) for k in ns]
    if "instant" in fams:
        for j in range(int(args.count * share["instant"])):
            name = ("train", "lrb", "mlp")[j % 3]
            delay = random.Random(g.random()).uniform(0.0, 0.6)
            tasks += [("instant", (lambda nm, dl: lambda: h.run_kill(nm, None, dl))(name, delay))]
    if "disk" in fams and os.geteuid() == 0:
        for name in ("lrb", "train", "eval", "tsv", "construct", "absorption", "mlp", "check"):
            for size in (4096, 16384, 65536, 262144):
                tasks += [("disk", (lambda nm, s: lambda: h.run_disk(nm, s))(name, size))]
    counts, failures, skipped = {}, [], 0
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        futs = {ex.submit(fn): fam for fam, fn in tasks}
        for f in concurrent.futures.as_completed(futs):
            fam = futs[f]
            r = f.result()
            done += 1
            if r is None:
                skipped += 1
                continue
            counts[fam] = counts.get(fam, 0) + 1
            failures += r
            if sys.stderr.isatty():
                sys.stderr.write("\rfuzz: %d/%d inputs, %d failures" % (done, len(tasks), len(failures)))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    by_kind = {}
    for case, kind, detail in failures:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    for case, kind, detail in sorted(failures, key=lambda x: x[0].name)[:200]:
        print("FAIL %s [%s] %s\n  sdlab %s" % (case.name, kind, detail.strip().replace("\n", "\n  "),
                                              " ".join(shlex.quote(a) for a in case.argv)))
    total = sum(counts.values())
    families = ", ".join("%s %d" % (k, counts[k]) for k in sorted(counts))
    print("fuzz: %d inputs (%s)%s in %.0f s, seed %d" % (total, families,
                                                      ", %d disk cases skipped (no tmpfs)" % skipped if skipped else "",
                                                      time.time() - t0, args.seed))
    print("fuzz: %d failures: %d crashes (signal), %d sanitizer reports, %d hangs, %d wrong exit statuses, "
          "%d messages, %d accepted bad inputs, %d leftovers, %d failed recoveries" % (
              len(failures), by_kind.get("signal", 0), by_kind.get("sanitizer", 0), by_kind.get("hang", 0),
              by_kind.get("exit", 0), by_kind.get("message", 0), by_kind.get("accepted", 0),
              by_kind.get("leftover", 0), by_kind.get("recovery", 0)))
    if failures and args.keep:
        print("fuzz: work directory kept: %s" % h.work)
    else:
        shutil.rmtree(h.work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
