"""Power settings: a target's `[power]` table (which source, how often) and a suite's `[energy]`
duty cycle (battery, inference rate). Parsed here, used by the worker's sampler, the host meter
(ppk2.py) and the energy figures (energy.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchy.tomltable import Table

DEVICE_SOURCES = ("rapl", "hwmon", "pi5-pmic")
HOST_SOURCES = ("ppk2",)
SOURCE_KEYS = {
    "rapl": ("zones",),
    "hwmon": ("device", "channel", "voltage"),
    "pi5-pmic": ("command",),
    "ppk2": ("port", "serial_number", "mode", "voltage_mv"),
}


@dataclass(frozen=True)
class PowerConfig:
    source: str
    period_s: float = 0.01
    idle_s: float = 0.5
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def on_device(self) -> bool:
        return self.source in DEVICE_SOURCES

    def payload(self) -> dict[str, Any]:
        """What the worker needs: the idle window always; the source only if it reads it."""
        if not self.on_device:
            return {"idle_s": self.idle_s}
        return {
            "source": self.source,
            "period_s": self.period_s,
            "idle_s": self.idle_s,
            "options": self.options,
        }

    @classmethod
    def parse(cls, target: Table) -> PowerConfig | None:
        if "power" not in target:
            return None
        t = target.table("power")
        source = t.string("source", choices=DEVICE_SOURCES + HOST_SOURCES)
        t.only("source", "period_s", "idle_s", *SOURCE_KEYS[source])
        options: dict[str, Any] = {}
        for key in SOURCE_KEYS[source]:
            if key in t:
                value = t.data[key]
                if key == "channel" or key == "voltage_mv":
                    value = t.number(key, integer=key == "channel", minimum=1)
                elif key == "zones" or key == "command":
                    value = list(t.str_list(key))
                elif key == "mode":
                    value = t.string(key, choices=("source", "ampere"))
                else:
                    value = t.string(key)
                options[key] = value
        return cls(
            source=source,
            period_s=t.number("period_s", 0.01, minimum=0, above=True),
            idle_s=t.number("idle_s", 0.5, minimum=0, above=True),
            options=options,
        )


@dataclass(frozen=True)
class EnergySettings:
    """The suite's duty cycle: how the device will really use the model."""

    battery_mah: float
    battery_voltage: float
    inferences_per_second: float
    sleep_power_mw: float | None = None

    @classmethod
    def parse(cls, suite: Table) -> EnergySettings | None:
        if "energy" not in suite:
            return None
        t = suite.table("energy")
        t.only("battery_mah", "battery_voltage", "inferences_per_second",
               "inferences_per_minute", "sleep_power_mw")  # fmt: skip
        if ("inferences_per_second" in t) == ("inferences_per_minute" in t):
            raise t.error(
                "inferences_per_second", "give exactly one of inferences_per_second and "
                "inferences_per_minute",
            )  # fmt: skip
        rate = (
            t.number("inferences_per_second", minimum=0, above=True)
            if "inferences_per_second" in t
            else t.number("inferences_per_minute", minimum=0, above=True) / 60
        )
        return cls(
            battery_mah=t.number("battery_mah", minimum=0, above=True),
            battery_voltage=t.number("battery_voltage", minimum=0, above=True),
            inferences_per_second=rate,
            sleep_power_mw=t.number("sleep_power_mw", None, minimum=0),
        )
