"""The smallest vpt script: print, take a screenshot, go somewhere."""
import vpt

print("hello from", vpt.info()["device"]["name"])
vpt.screenshot("hello")
vpt.goto("guide")
