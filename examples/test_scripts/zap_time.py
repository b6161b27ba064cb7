#!/usr/bin/env python3
"""Measure zap times on live TV: each CH_UP's black gap and the time to the
new picture, to the frame, against the gap the userinterface configures.

    vpt run zap_time -- --zaps 5
"""
import vpt

_script_args = ["--zaps:int:3", "--check_video:bool:false"]

TITLE = [0, 0, 1280, 120]  # the title bar: still once the new channel shows


def configured_gap(key):
    """The black gap of the live TV zap edge pressing key, in seconds."""
    for e in vpt.tree()["edges"]:
        keys = [a.get("key") for a in e.get("actions", [])]
        if e["from"] == "live" and e["to"] == "live" and key in keys:
            return e.get("black", 0) / 1e9
    return 0.0


def main():
    args = vpt.ScriptExecutor("zap_time", "Measure zap times").create_argument_parser().parse_args()
    vpt.goto("live")
    want = configured_gap("CH_UP")
    times = []
    for n in range(1, args.zaps + 1):
        zap = vpt.measure_zap("CH_UP", region=TITLE, stable=0.5)
        # One frame of slack: the gap is seen on the frames that show it.
        ok = bool(zap) and abs(zap.black_gap - want) <= zap.period + 0.001
        vpt.step("Zap %d: black %.3fs, picture back after %.3fs" % (n, zap.black_gap, zap.zap_time or 0), ok,
                 "configured gap %.3fs, one frame is %.3fs" % (want, zap.period))
        times.append(zap.zap_time or 0)
    vpt.metadata(zap_times=times, configured_gap=want)
    vpt.summary("%d zaps, picture back after %.3f s on average (gap %.3f s)" % (len(times), sum(times) / len(times), want))


if __name__ == "__main__":
    main()
