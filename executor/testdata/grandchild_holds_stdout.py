# Forks a grandchild that keeps stdout open long after the script exits.
import subprocess, sys
p = subprocess.Popen(["sleep", "300"])
print("grandchild", p.pid, flush=True)
sys.exit(0)
