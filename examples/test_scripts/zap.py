#!/usr/bin/env python3
"""Zap through channels on live TV, one step per channel change."""
import time

import vpt

_script_args = ["--channels:int:3", "--dwell:float:0.5"]


def main():
    args = vpt.ScriptExecutor("zap", "Zap through channels").create_argument_parser().parse_args()
    vpt.goto("live")
    for n in range(1, args.channels + 1):
        with vpt.step("Zap to channel %d" % n):
            vpt.press("CH_UP")
            time.sleep(args.dwell)
    vpt.goto("live_info")
    vpt.summary("zapped %d channels" % args.channels)


if __name__ == "__main__":
    main()
