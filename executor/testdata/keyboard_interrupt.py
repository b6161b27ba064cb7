# Raises KeyboardInterrupt itself.
print("raising KeyboardInterrupt", flush=True)
raise KeyboardInterrupt
