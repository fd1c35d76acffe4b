"""oic-monitor: finds news about the Organisation of Islamic Cooperation across Central Asia."""

__version__ = "0.1.0"
