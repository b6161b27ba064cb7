# Invalid UTF-8, carriage-return progress, and a last line without newline.
import sys
out = sys.stdout.buffer
out.write(b"bad \xff\xfe utf8\n")
for i in range(3):
    out.write(b"\rprogress %d%%" % (i * 50))
out.write(b"\ndone-without-newline")
