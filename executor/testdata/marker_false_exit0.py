# Prints SCRIPT_SUCCESS:false, then exits 0: the marker wins.
print("SCRIPT_SUCCESS:true")
print("SCRIPT_SUCCESS:false")
