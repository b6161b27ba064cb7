#!/usr/bin/env python3
"""Validate a userinterface: run every edge once, as upstream's validation.

A failed transition gets one recovery attempt (back to the entry node) and
validation goes on with the next edge. The run passes when every edge did.

    vpt run validation -- --max-iteration 5 --edges home-live,live-guide
"""
import sys

import vpt

_script_args = ["--max-iteration:int:0", "--edges:str:"]


def edge_sequence(tree):
    """Every edge once, chained where one edge starts where the last ended."""
    todo = [(e["from"], e["to"]) for e in tree["edges"]]
    order, here = [], tree["entry"]
    while todo:
        nxt = next((e for e in todo if e[0] == here), todo[0])
        todo.remove(nxt)
        order.append(nxt)
        here = nxt[1]
    return order


def main():
    parser = vpt.ScriptExecutor("validation", "Run every edge of the userinterface once").create_argument_parser()
    args = parser.parse_args()
    tree = vpt.tree(args.userinterface or args.userinterface_name)
    sequence = edge_sequence(tree)
    if args.edges:
        wanted = {tuple(e.split("-", 1)) for e in args.edges.split(",")}
        sequence = [e for e in sequence if e in wanted]
    if args.max_iteration > 0:
        sequence = sequence[: args.max_iteration]
    passed, failed, recovered = 0, [], 0
    for src, dst in sequence:
        try:
            vpt.edge(src, dst)
            passed += 1
        except vpt.VptError as e:
            failed.append("%s-%s" % (src, dst))
            print("transition %s -> %s failed: %s" % (src, dst, e.message))
            # One recovery attempt per failed transition: back to the entry node.
            try:
                vpt.goto(tree["entry"])
                recovered += 1
            except vpt.VptError as e2:
                print("recovery failed: %s" % e2.message)
    summary = "%d/%d transitions passed, %d recovered" % (passed, len(sequence), recovered)
    if failed:
        summary += "; failed: " + ", ".join(failed)
    print(summary)
    vpt.summary(summary)
    vpt.metadata(transitions=len(sequence), passed=passed, failed=failed)
    vpt.verdict(not failed and len(sequence) > 0, "failed transitions: " + ", ".join(failed) if failed else "")
    sys.exit(0 if not failed else 1)


if __name__ == "__main__":
    main()
