"""benchy's on-device worker: stdlib + numpy + the runtime, nothing else, Python >= 3.9.

It never imports benchy outside this package, pandas or rich: it is bundled into one file
(bundle.py builds a zipapp by content hash) that the local target runs and the SSH target pushes.

protocol.py   the request/reply contract, shared with the host
server.py     the fork server: one fresh child per cell, crash/timeout turned into results
measure.py    one cell in the child: load, warm up, the timed loop, memory, outputs
inputs.py     the input sets a cell cycles through, one array per input by name (dataset,
              random, zeros, ones, a value), and which outputs feed which inputs back
stopping.py   when a timed loop has measured enough (shared with the serial target)
runtimes/     tflite (LiteRT or tflite_runtime), onnxruntime: load, set inputs, invoke
facts.py      what the device is and which runtimes it has
thermal.py    SoC temperature, Raspberry Pi throttling bits, cool-down
power.py      device-side power sources (RAPL, hwmon, Pi 5 PMIC) polled during a cell
sysfs.py      reading small files under /sys (BENCHY_SYSFS points it at a recorded tree)
bundle.py     (host side) the zipapp that goes to devices
"""
