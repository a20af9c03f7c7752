"""`swarmdeploy bench`: a capacity probe through the public URL.

Modules, one job each: client (one WebSocket load client and its tallies, shared with
benchmarks/socketio_load.py), procfs (CPU and memory of processes from /proc), worker (a process
running a pool of clients, driven over stdin/stdout), pool (the workers, from the probe's side),
target (what to load and whether that is allowed), instances (the local instances' processes), probe
(the steps and their thresholds), report (text and JSON).
"""
