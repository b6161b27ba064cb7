#!/usr/bin/env python3
"""Show the channel information banner and record what vpt knows of the device."""
import vpt

_script_args = ["--node:str:live_info"]


def main():
    args = vpt.ScriptExecutor("get_info", "Read device information").create_argument_parser().parse_args()
    info = vpt.info()
    device = info["device"]
    print("device %s (%s), model %s, capabilities: %s" % (device["id"], device["name"], device["model"],
                                                         ", ".join(device["capabilities"])))
    with vpt.step("Open the information screen"):
        vpt.goto(args.node)
        vpt.screenshot("info")
    vpt.metadata(info={"device_id": device["id"], "model": device["model"], "driver": device["driver"],
                       "userinterface": info["userinterface"]})
    vpt.summary("Device %s, model %s" % (device["id"], device["model"]))


if __name__ == "__main__":
    main()
