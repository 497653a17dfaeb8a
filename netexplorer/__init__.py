"""netexplorer: how the containers on a Docker host are wired."""

__version__ = "0.1.0"
