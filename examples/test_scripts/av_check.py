#!/usr/bin/env python3
"""Check the picture and sound of two screens: live TV moves and sounds;
the replay stream is stalled (frozen and silent), which vpt must see.

    vpt run av_check
"""
import vpt


def expect(name, ok, message=""):
    vpt.step(name, bool(ok), message)


def main():
    vpt.ScriptExecutor("av_check", "Picture and sound checks").create_argument_parser().parse_args()
    vpt.goto("live")
    expect("Live TV is not black", not vpt.is_black())
    expect("Live TV moves", vpt.wait_for_motion(timeout=3, region=[800, 250, 420, 236]))
    video = vpt.check_video(3)
    expect("Live TV picture is clean", video, "motion in %.0f%% of the frames" % (video.motion_ratio * 100))
    audio = vpt.check_audio(2)
    expect("Live TV sounds", audio, "%.1f dBFS, %.1f LUFS" % (audio.rms, audio.loudness["integrated"]))
    expect("The title reads Live TV", vpt.match_text("Live TV", region=[0, 0, 700, 120]))

    vpt.goto("replay")
    stalled = vpt.check_video(2.5, freeze=1)
    expect("The stalled replay is seen frozen", not stalled and stalled.frozen,
           "frozen from %s ms" % (stalled.frozen[0]["start"] if stalled.frozen else "-"))
    quiet = vpt.check_audio(1)
    expect("The stalled replay is silent", quiet.silent and quiet.rms < -100, "%.1f dBFS" % quiet.rms)
    vpt.goto("live")
    louder = vpt.wait_for_volume_change(direction="quieter", key="INFO", timeout=2)
    expect("Sound goes on across the info banner", not louder, "level %s dBFS" % louder.before)
    vpt.summary("live TV moves and sounds; the stalled replay is frozen and silent")


if __name__ == "__main__":
    main()
