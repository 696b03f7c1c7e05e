#!/usr/bin/env python3
"""JSON plumbing for scripts/bench/compare.sh (standard library only).

  compare_report.py record --side S --model M --threads T --rc RC --stdout F --stderr F [--note N]
      Prints one JSONL record {side, model, threads, status, note, result}: the last
      stdout line that parses as a JSON object is the result; status is "ok" only
      when the command exited 0 and printed such a line.
  compare_report.py skip --side S --model M --threads T --note N
      Prints a "skipped" record.
  compare_report.py table JSONL [--title T] [--meta K=V ...]
      Prints the Markdown comparison table for the records in JSONL.
"""

import argparse
import json
import sys


def last_json_object(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def tail(text, n=6):
    lines = [l for l in text.splitlines() if l.strip()]
    return " | ".join(lines[-n:])[-600:]


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cmd_record(a):
    out, err = read(a.stdout), read(a.stderr)
    result = last_json_object(out)
    note = a.note or ""
    if a.rc == 0 and result is not None:
        status = "ok"
        missing = [k for k in ("images_per_second", "peak_rss_mb") if k not in result]
        for k, want in (("model", a.model), ("threads", a.threads)):
            if k in result and str(result[k]) != str(want):
                note = (note + "; " if note else "") + f"result says {k}={result[k]}, asked for {want}"
        if missing:
            note = (note + "; " if note else "") + "result lacks " + ", ".join(missing)
    else:
        status = "failed"
        why = "timed out (timeout 124)" if a.rc == 124 else f"exit status {a.rc}"
        if result is None:
            why += ", no JSON object on stdout"
        detail = tail(err) or tail(out) or "no output"
        note = (note + "; " if note else "") + f"{why}: {detail}"
    rec = {"side": a.side, "model": a.model, "threads": a.threads, "status": status,
           "note": note, "result": result}
    print(json.dumps(rec))


def cmd_skip(a):
    print(json.dumps({"side": a.side, "model": a.model, "threads": a.threads, "status": "skipped",
                      "note": a.note, "result": None}))


def fmt(v, digits=0):
    if v is None:
        return "-"
    try:
        return f"{float(v):,.{digits}f}"
    except (TypeError, ValueError):
        return str(v)


def cmd_table(a):
    recs = []
    with open(a.jsonl) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    rows, order = {}, []
    for r in recs:
        key = (r["model"], int(r["threads"]))
        if key not in rows:
            rows[key] = {}
            order.append(key)
        rows[key][r["side"]] = r

    out = []
    if a.title:
        out += [f"# {a.title}", ""]
    for kv in a.meta or []:
        k, _, v = kv.partition("=")
        out.append(f"- {k}: {v}")
    out.append("- ratio: Digits img/s / TensorFlow img/s (above 1 means Digits is faster)")
    out.append("")
    out.append("| model | threads | Digits img/s | TensorFlow img/s | ratio | Digits GFLOP/s "
               "| SGEMM ceiling GFLOP/s | Digits peak RSS MB | TF peak RSS MB |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for key in order:
        d = rows[key].get("digits") or {}
        t = rows[key].get("tensorflow") or {}
        dr = d.get("result") if d.get("status") == "ok" else None
        tr = t.get("result") if t.get("status") == "ok" else None
        dips = (dr or {}).get("images_per_second")
        tips = (tr or {}).get("images_per_second")
        ratio = f"{dips / tips:.2f}x" if dips and tips else "-"
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            key[0], key[1], fmt(dips), fmt(tips), ratio,
            fmt((dr or {}).get("gflops"), 1), fmt((dr or {}).get("sgemm_gflops"), 1),
            fmt((dr or {}).get("peak_rss_mb")), fmt((tr or {}).get("peak_rss_mb"))))
        for side, r in (("Digits", d), ("TensorFlow", t)):
            if r and (r.get("status") != "ok" or r.get("note")):
                notes.append(f"- {side} {key[0]} threads={key[1]}: {r.get('status')}: {r.get('note')}")
    if notes:
        out += ["", "Notes:", ""] + notes
    tf_versions = sorted({(r["result"].get("tf_version"), r["result"].get("keras_version"))
                          for r in recs if r["side"] == "tensorflow" and r.get("result")})
    if tf_versions:
        out += ["", "TensorFlow reference: " + ", ".join(f"tensorflow {t} / keras {k}" for t, k in tf_versions)]
    print("\n".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    s = sub.add_parser("skip")
    for q in (r, s):
        q.add_argument("--side", required=True, choices=["digits", "tensorflow"])
        q.add_argument("--model", required=True)
        q.add_argument("--threads", required=True, type=int)
        q.add_argument("--note", default="")
    r.add_argument("--rc", required=True, type=int)
    r.add_argument("--stdout", required=True)
    r.add_argument("--stderr", required=True)
    t = sub.add_parser("table")
    t.add_argument("jsonl")
    t.add_argument("--title", default="")
    t.add_argument("--meta", action="append")
    a = p.parse_args()
    {"record": cmd_record, "skip": cmd_skip, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
