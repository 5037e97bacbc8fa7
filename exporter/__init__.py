"""procexport: Procfile + formation -> init system configuration."""

__version__ = "0.1.0"
