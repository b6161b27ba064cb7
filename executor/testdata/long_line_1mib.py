# Prints one line of 1 MiB.
import sys
sys.stdout.write("x" * (1 << 20) + "\n")
