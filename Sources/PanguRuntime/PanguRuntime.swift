// Module PanguRuntime. See README.md for the layer map.
