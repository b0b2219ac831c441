pytest_plugins = ["agikit.testing.asterisk.pytest_plugin"]
