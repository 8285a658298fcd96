"""support-router's service layer: settings, HTTP API, CLI and the app store."""
