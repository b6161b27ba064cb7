# Waits for Ctrl-C and says so when Python raises KeyboardInterrupt.
import time, sys
print("waiting", flush=True)
try:
    time.sleep(600)
except KeyboardInterrupt:
    print("got KeyboardInterrupt", flush=True)
    sys.exit(130)
