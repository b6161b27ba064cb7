# Sleeps far past any test timeout.
import time
print("sleeping", flush=True)
time.sleep(600)
