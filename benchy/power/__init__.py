"""Power and energy.

config.py  a target's [power] table and a suite's [energy] duty cycle
energy.py  (t, watts) samples + the timed and idle windows → idle/active power, energy per
           inference, battery life
ppk2.py    the Nordic PPK2, a meter read on the host around each cell

Device-side sources (rapl, hwmon, pi5-pmic) are read by the worker (benchy/worker/power.py).
"""
