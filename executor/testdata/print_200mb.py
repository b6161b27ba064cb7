# Prints 200 MB of short lines, fast.
import sys
line = "0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnopqrstuvwxyz\n"
block = line * 1000
out = sys.stdout
for _ in range(200 * 1000 * 1000 // len(block)):
    out.write(block)
