"""oic-monitor: finds news about the Organisation of Islamic Cooperation across Central Asia."""

__version__ = "0.1.0"

# Where the config is read from when --config is not given (kept here, free of imports, so
# the command line can name them in its help without loading the settings models).
DEFAULT_CONFIG = "config/monitor.toml"
CONFIG_ENV = "OIC_MONITOR_CONFIG"
