// Module PanguTestSupport. See README.md for the layer map.
