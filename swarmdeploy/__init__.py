"""swarmdeploy: render, deploy and verify production Flask-SocketIO dashboards."""

__version__ = "0.1.0"
